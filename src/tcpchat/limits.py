"""Every limit and default of tcp-chat in one place, each with the reason for its value.

The server reads these as defaults; the ones an operator may want to change have a flag
(see ``config.py``). Tests import them instead of repeating numbers.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
# The original chat listened on 54321; keeping it lets old habits and firewall rules work.
DEFAULT_PORT = 54321
DEFAULT_LOG_DIR = "logs"

# IRC allows 512 bytes (RFC 1459 2.3), ssh-chat 1024 characters, devzat 5120 bytes. 4 KiB holds a
# long paragraph of Cyrillic (2 bytes a letter) while keeping a session's read buffer small.
MAX_LINE_BYTES = 4096
# Runs of blank characters (spaces, and everything else that moves the cursor but shows nothing)
# in what a client sends are cut to this many. Unbounded padding pushes the text after it to the
# start of the next row of a terminal that wraps the line itself (nc, telnet): "lol" + 67 spaces +
# "<alice> my password is ..." shows, in 80 columns, a row that passes for a line from alice.
# Eight still holds an indent of two levels, a tab stop, or two spaces after a full stop, and is at
# most 16 columns (wide blanks take two), a fifth of the narrowest common terminal (80): text can
# reach the start of a row only behind a row of visible filler.
MAX_BLANK_RUN = 8
# A client that keeps sending over-long or non-UTF-8 lines is broken or hostile: ten chances,
# then goodbye. A line that never ends counts once more for every MAX_LINE_BYTES.
MAX_BAD_LINES = 10

NAME_MIN_CHARS = 1
# RFC 2812 allowed 9, ergo allows 32, ssh-chat 16: 32 fits real names in any script.
NAME_MAX_CHARS = 32
RESERVED_NAMES = frozenset(
    {
        "server",
        "system",
        "all",
        "everyone",
        "here",
        "admin",
        "root",
        "nobody",
        "tcp-chat",
        "tcpchat",
        "me",
        "you",
    }
)
# Refused names before the server gives up: enough for a person, too few for a name scanner.
MAX_NAME_ATTEMPTS = 10
# A few typos are human; a stream of unknown commands is a confused bot.
MAX_UNKNOWN_COMMANDS = 20
# Wrong passwords before disconnect, as sshd's default of a few tries.
MAX_PASSWORD_ATTEMPTS = 3

# Flood control, a token bucket per session. ergo lets 5 lines through, then 2 per second;
# ssh-chat 3 lines per 3 s. A burst of 10 lets a person paste a short snippet.
FLOOD_BURST = 10
FLOOD_RATE_PER_S = 2.0
# Lines refused in a row (without the bucket refilling) before the flooder is disconnected.
FLOOD_MAX_REFUSED = 20

# Outbox (send queue) per session in bytes: what the kernel would not take because the client
# does not read. ergo drops clients over 96 KiB; 256 KiB is about 1000 ordinary lines, room for a
# client that stalls for a second under a burst, while 10,000 stuck readers cost at most 2.5 GiB.
MAX_OUTBOX_BYTES = 256 * 1024
# Between two flushes lines are queued before the kernel is offered any; a burst (many senders at
# once) may queue this many times MAX_OUTBOX_BYTES for one client before it is dropped, and the
# shared queue of broadcasts is written out early once it could hold that much. Queued lines are
# shared between recipients until the write, so this costs little memory.
OUTBOX_BURST_FACTOR = 4
# Writes to clients happen at most this often while messages keep coming (the first one after a
# quiet spell goes out at once). Every write is a system call per recipient: at 1,000 messages a
# second to 100 users, writing each message on its own is 100,000 calls a second and took 80-90 %
# of a core; with 2 ms between writes, 53-61 %, for 0.5-1 ms more median latency, which nobody
# reading a chat can see.
FLUSH_INTERVAL_S = 0.002
# The kernel's send buffer per client socket (Linux doubles the value set). Left alone, Linux
# grows it up to tcp_wmem's maximum (4 MiB by default) for a client that does not read, so the
# outbox limit would only start counting after 4 MiB of kernel memory per stuck client. 256 KiB
# still holds about a thousand chat lines in flight to a client that does read.
SOCKET_SNDBUF_BYTES = 256 * 1024

# A connection must choose a name within this long (ssh-chat and IRC servers use 30-60 s).
HANDSHAKE_TIMEOUT_S = 30.0
# JSON-mode sessions silent this long get a ping (ergo pings after 90 s, miniircd 90 s)...
PING_INTERVAL_S = 60.0
# ...and are dropped when still silent this much later (ergo drops at 150 s in all).
PING_TIMEOUT_S = 30.0
# Text-mode sessions (nc, telnet) never see pings; TCP keep-alive finds dead peers instead:
# first probe after 60 s idle, then every 15 s, dead after 4 unanswered probes (about 2 minutes).
TCP_KEEPIDLE_S = 60
TCP_KEEPINTVL_S = 15
TCP_KEEPCNT = 4
# How often the server looks for timed-out sessions; the timeouts above are precise to this.
SWEEP_INTERVAL_S = 1.0

# Connection limits: ergo allows 16 per IP; 20 covers a small office behind one NAT. 5000 in all
# stays well under the default 1024-soft / 524288-hard file limit raised at start (see server.py).
MAX_CONNECTIONS = 5000
MAX_CONNECTIONS_PER_IP = 20

# Connections the kernel may hold for us before we accept them (capped by net.core.somaxconn):
# a connection storm or a crowd joining at once waits there instead of being refused.
LISTEN_BACKLOG = 4096

# On SIGINT/SIGTERM queued lines are flushed for at most this long, so the stop stays under 2 s.
SHUTDOWN_FLUSH_S = 1.0
