"""Every limit and default of tcp-chat in one place, each with the reason for its value.

The server reads these as defaults; the ones an operator may want to change have a flag
(see ``config.py``). Tests import them instead of repeating numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
# The original chat listened on 54321; keeping it lets old habits and firewall rules work.
DEFAULT_PORT = 54321
DEFAULT_LOG_DIR = "logs"
# What one log record may quote of a user's text (a message with --log-text): an ordinary message
# whole (most are under 200 characters), a 4 KB paste cut, so one record costs at most about 1 KB
# of log. Raw lines at DEBUG are not cut: that level is for debugging and the budget bounds it.
LOG_TEXT_MAX_CHARS = 1000
# What a record may quote of a string that merely echoes a user's input (an error text such as
# "Unknown command: /NAME"): the fixed part of every error and a 32-character name fit; anything
# longer is junk worth no more disk.
LOG_ECHO_MAX_CHARS = 200
# Log volume budget per client address, a token bucket in bytes of log: an attacker has one
# address, up to MAX_CONNECTIONS_PER_IP connections and may reconnect in a loop. The burst lets a
# crowd behind one NAT join at once (64 KiB is about 600 ordinary records); the rate, about 80
# ordinary records a second, logs 20 people behind one address talking fast, and keeps one address
# under 20 KB/s of log (the target of issue 11) with room for the summary lines. Past it, that
# address's records are counted instead of written, and one summary line per
# LOG_SUPPRESSED_REPORT_S says how many.
LOG_BUDGET_BURST_BYTES = 64 * 1024
LOG_BUDGET_RATE_BYTES_PER_S = 8 * 1024
LOG_SUPPRESSED_REPORT_S = 10.0
# The log file rotates within a run at LOG_MAX_BYTES, keeping LOG_BACKUPS older files: 60 MiB a
# start at most, days of a busy chat at INFO. At start, earlier starts' files go past the newest
# LOG_KEEP_STARTS starts (this one's included) or LOG_KEEP_BYTES (three full starts), so a restart
# loop cannot fill /var/log either: 240 MiB in all, within the smallest /var/log partitions.
LOG_MAX_BYTES, LOG_BACKUPS = 10 * 1024 * 1024, 5
LOG_KEEP_STARTS, LOG_KEEP_BYTES = 10, 3 * (LOG_BACKUPS + 1) * LOG_MAX_BYTES

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

# A quit reason is cut to this many characters where /quit is parsed: it is shown to everyone in
# the leave notice and written to the log. ergo caps quit and kick reasons at 390 bytes (QUITLEN,
# KICKLEN); the same number here means a reason that fits IRC fits tcp-chat unchanged.
MAX_QUIT_REASON_CHARS = 390

NAME_MIN_CHARS = 1
# RFC 2812 allowed 9, ergo allows 32, ssh-chat 16: 32 fits real names in any script.
NAME_MAX_CHARS = 32
# Names nobody may take: the server's words, and IRC's service nicks (an IRC client may send
# "PRIVMSG NickServ :IDENTIFY password" by itself on connecting, to whoever holds that name).
RESERVED_NAMES = frozenset(
    "server system all everyone here admin root nobody tcp-chat tcpchat me you".split()
    + "nickserv chanserv memoserv operserv hostserv botserv global services".split()
)
# --- rooms -------------------------------------------------------------------------------------
# The room everyone joins on registration: a client that knows no rooms lives there, as before.
LOBBY = "#lobby"
# --- the IRC listener ----------------------------------------------------------------------------
# Lines an IRC client may send before it is registered (CAP, PASS, NICK, USER and retries): a
# client registers in under ten; the handshake timeout bounds the time, this bounds the lines.
IRC_HANDSHAKE_LINES = 64
# "#" and 31 more: IRC's CHANNELLEN is 50 on most networks, ergo's 64; a room name is typed and
# shown in every prompt, so it gets the same length as a chat name.
ROOM_NAME_MAX_CHARS = 32
# ergo's CHANLIMIT default is 100, Libera's 250 for bouncers; a person in a terminal follows a
# handful, and each room a user is in is one more notice per quit: 20 is plenty and bounded.
MAX_ROOMS_PER_USER = 20
# Rooms that exist at once (a room is forgotten when its last member leaves; in a cluster, those
# this node's users are in). Each costs a few hundred bytes and a line of /rooms; 1,000 covers a
# big company, and one address holds at most MAX_CONNECTIONS_PER_IP * MAX_ROOMS_PER_USER = 400.
MAX_ROOMS = 1000
# ergo's TOPICLEN is 390 like its QUITLEN: a topic fits one line of every client.
MAX_TOPIC_CHARS = 390
# Above this many members a room's join and leave notices are gathered into one line a second:
# below it one line per join is what people read; above it they are what makes a join storm
# quadratic (ngircd took 120 s for 3,830 joins into one channel here). They are gathered until the
# hub's next sweep (SWEEP_INTERVAL_S): one line a second per room.
BIG_ROOM_MEMBERS = 200
# Names listed in one gathered notice in text mode ("... and 34 more"), and in JSON, where a bot
# that needs every member asks with /users ROOM.
CROWD_NAMES_TEXT = 10
CROWD_NAMES_JSON = 100
# Names listed to someone who joins a room ("12 users here: ..."): the rest are counted. The
# first to join are listed, so a join costs the same in a room of 10 or 10,000.
ROOM_NAMES_SHOWN = 50

# Names listed to someone who registers ("5 users online: ..."): a bigger chat lists the first
# ones and counts the rest, so that N registrations do not send N² names (10,000 users would
# otherwise be sent 50 million names as they arrive). A chat of this size or less lists everyone.
REGISTERED_NAMES_SHOWN = 200

# --- history (what the hub asks of the store) ----------------------------------------------------
# Most messages one /history or a replay returns: a screenful or three, one write of a few KB.
HISTORY_PAGE_MAX = 100
# What /search returns at most: the newest matches, a screenful.
SEARCH_RESULTS_MAX = 20
# A search is a few words, not a paragraph; longer queries cost the store more and find nothing.
SEARCH_QUERY_MAX_CHARS = 100

# Refused names before the server gives up: enough for a person, too few for a name scanner.
MAX_NAME_ATTEMPTS = 10
# A few typos are human; a stream of unknown commands is a confused bot.
MAX_UNKNOWN_COMMANDS = 20
# Wrong passwords before disconnect, as sshd's default of a few tries.
MAX_PASSWORD_ATTEMPTS = 3

# Password guessing, counted per origin (an IPv4 address or an IPv6 /64) across reconnects: the
# first 3 wrong passwords in a row are a person's typos; after the n-th one beyond those the next
# is not compared for 2**(n-1) s (at most 60 s), and after 10 the origin's new connections are
# refused for 15 minutes; records of origins quiet for an hour are forgotten. A guesser gets ten
# tries in about 20 minutes instead of thousands a second (fail2ban: 5 tries, a 10-minute ban).
PASSWORD_FREE_TRIES = 3
PASSWORD_BACKOFF_S = 1.0
PASSWORD_BACKOFF_MAX_S = 60.0
PASSWORD_BAN_AFTER = 10
PASSWORD_BAN_S = 900.0
PASSWORD_FORGET_S = 3600.0
# Origins remembered at most (about 200 bytes each; the oldest forgotten first), here and above.
PASSWORD_GUARD_ORIGINS = 10000

# A session the server ends for abuse (flooding, bad lines, unknown commands, refused names, a
# send queue it never read) costs its address a pause before the next connection is taken: 1 s,
# doubling with each such end up to 60 s, forgiven after 10 quiet minutes. A flooder that
# reconnects in a loop is then refused at accept, which costs almost nothing, instead of being
# served a greeting and read until it floods again (ergo throttles connections per IP alike).
ABUSE_PENALTY_S = 1.0
ABUSE_PENALTY_MAX_S = 60.0
ABUSE_FORGET_S = 600.0
# TLS handshakes in progress at once, from everyone: asyncio holds about 256 KiB for each (64 MiB
# in all). When all are taken the oldest, a silent one (a real one lasts ms), is cut short.
MAX_TLS_HANDSHAKES = 256
# Names registered per origin (each tells everyone a join and later a leave; in a cluster, a claim
# and two log entries): as many at once as it may hold connections, at least 30 (an office's
# reconnect), then that many again over 15 s (2 a second by default; ergo throttles too).
ARRIVALS_BURST = 30
ARRIVALS_REFILL_S = 15.0

# Flood control, a token bucket per session; a burst of 10 lets a person paste a short snippet
# (ergo: 5 lines, then 2 a second; ssh-chat 3 per 3 s).
FLOOD_BURST = 10
FLOOD_RATE_PER_S = 2.0
# Lines refused in a row (without the bucket refilling) before the flooder is disconnected.
FLOOD_MAX_REFUSED = 20
# What a line costs in tokens of that bucket: every line costs something; one cheap to answer (a
# ping, a pong, a blank line) a quarter: 40 of them in a burst, 8 a second sustained.
FLOOD_CHEAP_LINE_COST = 0.25
# A line that reads the history store or lists every room (/history, /search, /rooms) costs more.
FLOOD_LOOKUP_COST = 2.0

# What the transport may hold for one client beyond what the kernel took (its high-water mark):
# past this the connection is paused and its lines wait in its outbox instead, where the lines of
# a broadcast are one bytes object shared by every recipient, while the transport keeps a copy of
# its own for each. ergo drops clients over 96 KiB; 64 KiB is asyncio's own default, about 250
# ordinary lines on top of the kernel's 512 KiB, and 200 clients that never read cost 13 MiB.
MAX_OUTBOX_BYTES = 64 * 1024
# Between two flushes lines are queued before the kernel is offered any; once a burst (many
# senders at once) queues this many times MAX_OUTBOX_BYTES for one client, or the shared queue of
# broadcasts could hold that much, it is written out early instead of waiting for the flush.
OUTBOX_BURST_FACTOR = 4
# A client is dropped for "send queue exceeded" only when it stays behind: its connection stays
# paused (the kernel and the transport full) this long without draining. A reader that reads
# empties even a burst of megabytes within milliseconds on a LAN, and a link that cannot take the
# kernel's buffer in 2 s cannot follow a busy chat anyway; a client that does not read at all is
# gone 2 s after it filled its buffers.
SEND_STALL_S = 2.0
# While a client is paused its lines wait in its outbox (mostly bytes shared with every other
# recipient, so this costs little). Past this many times MAX_OUTBOX_BYTES (4 MiB) waiting, it is
# dropped at once instead of after SEND_STALL_S: more than a chat produces in 2 s, so memory stays
# bounded whatever the traffic.
OUTBOX_HOLD_FACTOR = 64
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
# A telnet subnegotiation (SB ... SE) is skipped whole; we refuse every option, so a client has
# no reason to send one at all, and the ones telnets send unasked (terminal type, window size,
# environment) are under a few hundred bytes. Past this many bytes with no SE the peer is not
# speaking telnet, and what follows is taken as data again (and refused as a line if it is junk).
TELNET_SUBNEGOTIATION_MAX_BYTES = 1024
# The 1.0 client sends a line with no line end. A connection that never sent a line end and has
# sent bytes without one is taken for a 1.0 client after this much silence. A line-framed client
# never pauses mid-line that long: nc and telnet write a line and its end at once, and a line the
# network splits is completed within a round trip, or a retransmission after Linux's minimum
# retransmission timeout of 200 ms. Under a second, so the 1.0 user's name is answered about as
# fast as a person notices; after that each of its reads is a line at once.
LEGACY_SILENCE_S = 0.8
# How often the server looks for timed-out sessions; the timeouts above are precise to this.
SWEEP_INTERVAL_S = 1.0

# Connection limits: ergo allows 16 per IP; 20 covers a small office behind one NAT. 5000 in all
# stays well under the default 1024-soft / 524288-hard file limit raised at start
# (server/app.py).
MAX_CONNECTIONS = 5000
MAX_CONNECTIONS_PER_IP = 20

# Connections from one IPv6 host count together by this prefix: a host, or a customer of a
# provider, usually gets a whole /64, so one attacker could otherwise pick a new address for every
# connection (ergo and Synapse group IPv6 by /64 the same way).
IPV6_ORIGIN_PREFIX = 64
# A TLS handshake must be done within this long. It is counted in at accept (before the
# handshake) against the connection limits; a few seconds are plenty even over a slow link, while
# asyncio's default of 60 s let each silent connection hold about 256 KiB for a minute.
TLS_HANDSHAKE_TIMEOUT_S = 10.0
# Open files kept free for the log, TLS files and the interpreter: when the connections come this
# close to the open-file limit the listeners pause and new connections wait in the kernel's
# backlog, instead of failing accept() in a loop.
FD_RESERVE = 32
# After a failed accept() (out of files or memory) the listener rests this long; such failures
# are logged at most once per ACCEPT_ERROR_LOG_INTERVAL_S, with a count.
ACCEPT_PAUSE_S = 1.0
ACCEPT_ERROR_LOG_INTERVAL_S = 10.0
# Refused connections are logged at most once a second, with a count: a storm costs the log one
# line a second.
REFUSAL_LOG_INTERVAL_S = 1.0

# Connections accepted (or refused) in one turn of the event loop before the others get theirs:
# draining the whole backlog of 4096 at once held every chat line back for 60 ms in a storm of
# silent connections; 128 a turn still takes a crowd of joins in a few turns (asyncio itself
# takes 100, uvloop one).
ACCEPT_BATCH = 128

# Connections the kernel may hold for us before we accept them (capped by net.core.somaxconn):
# a connection storm or a crowd joining at once waits there instead of being refused.
LISTEN_BACKLOG = 4096

# --port 0 on several addresses: each takes the free port the first one got, which another
# program may hold on one of the others; a few tries with a fresh port make that all but certain
# to pass, and still end at once when something else is wrong.
SAME_PORT_TRIES = 5

# On SIGINT/SIGTERM queued lines are flushed for at most this long, so the stop stays under 2 s.
SHUTDOWN_FLUSH_S = 1.0

# --- history (server/store.py) ---------------------------------------------------------------

# Where the history database lives when --data-dir is not given: beside a checkout, as the logs
# are; the RPM's server.conf sets /var/lib/tcp-chat (systemd's StateDirectory=).
DEFAULT_DATA_DIR = "data"
# Messages of a room replayed to whoever joins it: ssh-chat replays 20 lines, devzat 16; 20 is
# about a screen of context without scrolling the joiner's own prompt away.
HISTORY_REPLAY = 20
# The most --history-replay takes. A replay is queued at once for the joiner: 100 lines of at
# most MAX_LINE_BYTES (up to six times that as escaped JSON) stay under what a client may have
# waiting before it is dropped (MAX_OUTBOX_BYTES x OUTBOX_HOLD_FACTOR, 4 MiB), so a replay can
# never get the joiner disconnected; more than 100 lines is a log to read, not a chat to join.
HISTORY_REPLAY_MAX = 100
# Messages kept at most (--history-max-rows; 0: no cap), the oldest pruned first. The replay and
# /search targets were measured with a million messages (docs/BENCHMARKS.md): a cap that keeps
# them true, and still months of a busy chat (10,000 messages a day for 100 days).
HISTORY_MAX_ROWS = 1_000_000
# Bytes the history database may fill (--history-max-mb, in MiB; 0: no cap), oldest pruned first:
# a row of chat is about 170 bytes, one of MAX_LINE_BYTES about 12 KB with its search index, so a
# million of those are 12 GB on every node of a cluster (hours of one address at the flood
# limit). 1 GiB holds a million rows of chat (the row cap bites first), ~80,000 of the longest.
HISTORY_MAX_BYTES = 1 << 30
# Days a message is kept (--history-days); 0 keeps them until a cap above pushes them out.
HISTORY_DAYS = 0
# Group commit: the writer thread waits this long after the first message of a batch, or until
# HISTORY_BATCH_ROWS are waiting, then writes them all in one transaction. One row per commit
# runs at about 33,000 rows/s here, 100 rows per commit at about 170,000 rows/s (WAL, synchronous
# NORMAL); 5 ms is under a hundredth of the server's busiest second, and a kill -9 loses at most
# the messages of that batch (see server/store.py).
HISTORY_COMMIT_INTERVAL_S = 0.005
HISTORY_BATCH_ROWS = 1000
# Messages that may wait for the writer before new ones are dropped (counted, one WARNING), in
# rows and in characters of text: a stalled disk (or one at the byte cap, slower with long lines)
# must not grow the memory without bound. 100,000 ordinary messages are about 30 MB.
HISTORY_MAX_PENDING_ROWS, HISTORY_MAX_PENDING_CHARS = 100_000, 32_000_000
# Retention deletes at most this many rows per transaction, between the writes of new messages,
# so that pruning a big backlog never holds the writer (and the database) for long.
HISTORY_PRUNE_CHUNK_ROWS = 2000
# How often retention looks for rows past --history-days or --history-max-rows when nothing else
# made it look (the row cap passed by a full chunk, or the byte cap passed, is pruned at once).
HISTORY_PRUNE_INTERVAL_S = 60.0
# After a failed write (disk full, I/O error) messages are dropped without trying for this long,
# then the next batch tries again: one ERROR per outage instead of one per batch.
HISTORY_RETRY_S = 30.0
# Words of a /search that count (the rest are ignored): every word must match, so more words
# only narrow the result, and each costs the index one more lookup.
HISTORY_SEARCH_MAX_WORDS = 8
# The search index is written behind the messages, in transactions of its own: once this many
# messages wait for it, or the oldest has waited HISTORY_INDEX_LAG_S. Each FTS5 transaction
# writes a new segment, which costs about what indexing a hundred rows does: in the 5 ms batches
# of a busy chat that doubled the writer's work, in batches of 1000 it is a tenth. Until indexed,
# /search compares a message's words in Python: of one room, at most about 1000 messages, usually
# a few (1000 of 4 KB took 2 s: a search stops at store_search.SEARCH_DEADLINE_S).
HISTORY_INDEX_ROWS = 1000
HISTORY_INDEX_LAG_S = 1.0
# Without FTS5, /search reads at most this many of the room's newest messages: about 30 ms on
# the event loop's thread here (docs/BENCHMARKS.md), the most a search may hold everyone else's
# messages back.
HISTORY_LIKE_SCAN_ROWS = 50_000
# On SIGTERM the writer gets this long to write what is pending: within systemd's
# TimeoutStopSec=15s with room for the rest of the shutdown.
HISTORY_CLOSE_WAIT_S = 10.0

# --- the client (tcp-client) -----------------------------------------------------------------

# How long the client waits for the server to accept the connection or to answer the handshake:
# a server on a LAN answers in milliseconds, one across the world in well under a second; 10 s
# leaves room for a loaded server without hanging a script (pipe mode's goodbye: pipe.py).
HANDSHAKE_WAIT_S = 10.0
# How long the client waits for the server's first line (a tcp-chat 2 server sends its welcome at
# once, before reading anything) before deciding it is not talking to tcp-chat 2: a server that
# answers at all answers within milliseconds, and a person should learn of a wrong port at once.
GREETING_WAIT_S = 2.0
# How long the interactive client waits for the server's goodbye after /quit before closing
# anyway: the goodbye is one line, and a person who asked to leave should not wait for long.
QUIT_WAIT_S = 3.0
# How long closing a connection may wait for the transport (a TLS close_notify): never worth more
# than a second of the user's time, the connection is done either way.
CLOSE_WAIT_S = 1.0
# The client's read buffer for one line from the server: an event holds at most a line of
# MAX_LINE_BYTES of user text, which JSON escaping can make six times longer (\u0000 for each
# byte), plus the fields around it; 1 MiB is well above that, and a line beyond it ends the
# connection instead of growing memory.
CLIENT_READ_LIMIT_BYTES = 1 << 20
# Reconnect delays: the first try after this long, then doubling (1, 2, 4 ... s), never more than
# BACKOFF_MAX_S, so a server that restarts is found again at once and one that stays down costs
# a try every half minute.
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# A paste of more lines than this asks before sending: a few lines are a person's multi-line
# message, more are likely a mistake (the wrong clipboard), and they would all go to everyone.
PASTE_ASK_LINES = 3
# Lines of input history kept in memory and in the history file: months of a person's typing at
# about 100 bytes a line, 100 KB of file.
HISTORY_LIMIT = 1000
# The history file grows by appends (each line as it is entered) up to this size, then is cut back
# to its last HISTORY_LIMIT lines: twice the 100 KB those lines take, so the file is rewritten
# about once every thousand lines, not on every one.
HISTORY_FILE_MAX_BYTES = 200_000
# A lone ESC byte from the terminal is the Esc key unless the rest of a sequence follows within
# this long: terminals send a sequence in one write, so even over ssh the rest arrives within a
# few milliseconds, while 50 ms is too short for a person to notice.
ESC_WAIT_S = 0.05
# More line ends than this in one read from a terminal that does not bracket pastes is taken as a
# paste (and may ask before sending), not as typing: a person cannot press Enter three times
# between two reads.
TYPED_LINES_PER_READ = 2
# Private messages whose ``delivered`` the client remembers, to name the one an ``undelivered``
# event reports: the server reports it within SEND_STALL_S of the delivered, when the client has
# sent at most FLOOD_BURST + SEND_STALL_S * FLOOD_RATE_PER_S (14) lines more; 1000 leaves room for
# a server with much higher flood limits and costs about 100 KB.
UNDELIVERED_MEMORY = 1000
# The client paces its lines by the server's flood limits (from its welcome; these defaults, the
# server's own, for a server that does not say), each line its cost, keeping this many lines of
# the burst in hand for a /pong it sends unpaced and for lines the network bunches up on the way.
PACER_HEADROOM_LINES = 1

# --- cluster (docs/CLUSTER.md; core/cluster.py, server/cluster/) ------------------------------

# A node's lease: not renewed this long, the node is taken for dead (its names freed, its users
# gone). The issue asks for leaves within lease + 2 s, and a busy second must not reap a live
# node: 5 s, renewed every third of it (one renewal may be lost and the next late a second).
CLUSTER_LEASE_S = 5.0
CLUSTER_RENEW_S = CLUSTER_LEASE_S / 3
# Entries the shared log keeps (XADD MAXLEN ~): what a node cut off from Redis can still catch up
# on. 100,000 entries of about 150 bytes is 15 MB of Redis memory, and 100 s of chat at 1,000
# messages/s (the load), far longer than a reconnect takes.
CLUSTER_LOG_ENTRIES = 100_000
# Rooms whose last topic Redis keeps for nodes that join later (tcpchat:topics): ten nodes'
# worth of MAX_ROOMS; past it the room whose topic was set longest ago is forgotten there.
CLUSTER_TOPICS = 10 * MAX_ROOMS
CLUSTER_INBOX_ENTRIES = 10_000  # private messages a node's inbox keeps: the log's reasoning
# A dead node's inbox (megabytes of Redis's memory at worst) is kept this long, in case it only
# stalled and comes back; then Redis lets it go: node names seen once hold nothing for ever.
CLUSTER_GONE_INBOX_S = 3600
# Private messages a dead node never handled that its reap answers "not delivered" (those sent
# to its users within its lease, after it died): one script's work and one burst of answers.
CLUSTER_REAP_BOUNCES = 1000
# How long a node's inbox read mark outlives its last renewal (RENEW keeps it; a run of an older
# version, which does not, lets it go): long enough for a reaper that comes late.
CLUSTER_MARK_S = 60.0
CLUSTER_READ_COUNT = 1000  # entries an XREAD returns at most: a catch-up goes in slices
# Reconnecting to Redis: after 0.1 s, doubling to 5 s (a lease: by then the node is reaped).
CLUSTER_RETRY_FIRST_S, CLUSTER_RETRY_MAX_S = 0.1, 5.0
# How long a command through the client (a lease's renewal) waits: redis-py < 8 waits for ever.
CLUSTER_COMMAND_TIMEOUT_S = CLUSTER_LEASE_S
# Ids reserved for the messages a node numbers itself while its link is down: 100,000 is 100 s
# of the load on one node (past them ids could meet the cluster's). Reserved when the link
# comes up, and at most every 5 s once the cluster said something after the block (a message of
# it sorts before what was said after it), so ids grow 20,000 a second at most.
CLUSTER_OUTAGE_IDS, CLUSTER_RESERVE_EVERY_S = 100_000, 5.0
# Instructions waiting for Redis (a pause, a slow link) before a new message is refused ("not
# sent"): 20,000 rides out a pause of 20 s at the issue's 1,000 messages/s in a few MB. Presence
# changes queued past it while the link is down are dropped; the node joins again instead.
CLUSTER_MAX_PENDING = 20_000
CLUSTER_TICK_S = 1.0  # the link's timer wakes at least this often: renewals, reaping
CLUSTER_STALL_S = 1.0  # an answer this late: Redis stalled (no reaping for a while: lease.py)
# Lines held for the cluster's answer (server/held.py): looked at each second, read anyway after
# 2 s (Redis stalled); past a flood burst and its refusals (30) they are read at once.
HELD_RECHECK_S, HELD_MAX_S, HELD_MAX_LINES = 1.0, 2.0, 32


@dataclass(frozen=True)
class HubLimits:
    """The hub's share of these limits, as one value: the server builds it from its
    configuration (which an operator may have changed), tests from whatever they check."""

    password: str | None = None
    max_line: int = MAX_LINE_BYTES
    flood_burst: float = FLOOD_BURST
    flood_rate: float = FLOOD_RATE_PER_S
    flood_max_refused: int = FLOOD_MAX_REFUSED
    max_bad_lines: int = MAX_BAD_LINES
    max_unknown: int = MAX_UNKNOWN_COMMANDS
    max_name_tries: int = MAX_NAME_ATTEMPTS
    max_password_tries: int = MAX_PASSWORD_ATTEMPTS
    arrivals: int = 0  # names an origin may register at once (0: none; the server's: 30 up)
    handshake_timeout: float = HANDSHAKE_TIMEOUT_S
    ping_interval: float = PING_INTERVAL_S
    ping_timeout: float = PING_TIMEOUT_S
    big_room: int = BIG_ROOM_MEMBERS
    history_replay: int = HISTORY_REPLAY
    max_rooms: int = MAX_ROOMS
    max_rooms_per_user: int = MAX_ROOMS_PER_USER
