"""The telnet filter, fed byte literals: what reaches the decoder, what is answered."""

from __future__ import annotations

import pytest

from tcpchat.core.framing import LineDecoder
from tcpchat.core.limits import TELNET_SUBNEGOTIATION_MAX_BYTES
from tcpchat.core.telnet import AYT_REPLY, TELNET_COMMANDS_PER_LINE, TelnetFilter

IAC, DONT, DO, WONT, WILL, SB, SE = b"\xff", b"\xfe", b"\xfd", b"\xfc", b"\xfb", b"\xfa", b"\xf0"
IP, AYT, EL, EC, AO, NOP = b"\xf4", b"\xf6", b"\xf8", b"\xf7", b"\xf5", b"\xf1"
TM, ECHO, SGA, NAWS, TTYPE = b"\x06", b"\x01", b"\x03", b"\x1f", b"\x18"
BINARY, SUSP, BRK = b"\x00", b"\xed", b"\xf3"
OFFER = IAC + DO + BINARY  # sent once, at a client's first telnet command


def run(*reads: bytes) -> tuple[list[object], bytes, TelnetFilter]:
    """Feed ``reads`` through a filter and a decoder as the server does: the lines, the replies."""
    telnet, decoder = TelnetFilter(), LineDecoder()
    lines: list[object] = []
    replies = b""
    for data in reads:
        clean = telnet.feed(data)
        if telnet.pending:
            answer, discard = telnet.take()
            replies += answer
            if discard:
                decoder.discard()
        lines += decoder.feed(clean)
    return lines, replies, telnet


def test_plain_bytes_pass_through_untouched_and_as_the_same_object() -> None:
    data = b"hello\n"
    assert TelnetFilter().feed(data) is data


def test_crlf_stays_one_line_end() -> None:
    data = b"a\r\nb\r\n"
    assert TelnetFilter().feed(data) is data  # left to the decoder, with no copy
    assert run(data)[:2] == (["a", "b"], b"")


def test_cr_nul_and_lone_cr_end_lines() -> None:
    assert run(b"one\r\x00two\rthree\r\n")[0] == ["one", "two", "three"]


def test_cr_at_the_end_of_a_read_ends_the_line_now_and_its_lf_is_not_a_second_end() -> None:
    lines, _, _ = run(b"abc\r", b"\ndef\r", b"\x00ghi\n")
    assert lines == ["abc", "def", "ghi"]


def test_cr_at_the_end_of_a_read_then_text_is_a_line_end_too() -> None:
    assert run(b"abc\r", b"def\n")[0] == ["abc", "def"]


def test_options_are_refused_and_never_reach_the_line() -> None:
    lines, replies, telnet = run(
        IAC + DO + ECHO + IAC + WILL + NAWS + b"ann" + IAC + DO + SGA + b"\n"
    )
    assert lines == ["ann"]
    assert replies == OFFER + IAC + WONT + ECHO + IAC + DONT + NAWS + IAC + WONT + SGA
    assert telnet.seen


def test_wont_and_dont_are_not_answered_so_no_loop_starts() -> None:
    assert run(IAC + WONT + ECHO + IAC + DONT + SGA + b"x\n")[:2] == (["x"], OFFER)


def test_do_timing_mark_is_answered_with_will() -> None:
    assert run(IAC + DO + TM)[1] == OFFER + IAC + WILL + TM


def test_interrupt_discards_the_line_being_typed_across_reads() -> None:
    """Ctrl+C in telnet: IAC IP IAC DO TIMING-MARK; the line typed so far is dropped."""
    lines, replies, _ = run(b"done\nhalf a li", b"ne" + IAC + IP + IAC + DO + TM, b"next\n")
    assert lines == ["done", "next"]
    assert replies == OFFER + IAC + WILL + TM


@pytest.mark.parametrize("command", [IP, AO, EL, EC])
def test_erase_and_abort_commands_drop_the_partial_line(command: bytes) -> None:
    assert run(b"typo" + IAC + command + b"fixed\n")[0] == ["fixed"]


def test_are_you_there_is_answered_in_the_servers_voice() -> None:
    lines, replies, _ = run(b"hel" + IAC + AYT + b"lo\n")
    assert (lines, replies) == (["hello"], OFFER + AYT_REPLY)
    assert AYT_REPLY.startswith(b"*** ") and AYT_REPLY.endswith(b"\n")


def test_sequences_split_across_reads_are_handled() -> None:
    lines, replies, _ = run(b"a" + IAC, DO, ECHO + b"b" + IAC, IAC + b"\n")
    assert replies == OFFER + IAC + WONT + ECHO
    # IAC IAC is a literal 0xFF (RFC 854), which is not UTF-8: the line is refused, not mangled.
    assert [type(x).__name__ for x in lines] == ["InvalidUtf8"]


def test_subnegotiation_is_skipped_whole_even_split() -> None:
    sub = IAC + SB + TTYPE + b"\x00XTERM" + IAC + IAC + b"more"
    lines, replies, _ = run(b"bo" + sub[:5], sub[5:] + IAC, SE + b"b\n")
    assert (lines, replies) == (["bob"], OFFER)


def test_a_subnegotiation_without_end_is_cut_at_the_limit_and_what_follows_is_data() -> None:
    """Its first TELNET_SUBNEGOTIATION_MAX_BYTES bytes are skipped, the rest is data again:
    in the same read (lines after it were lost with it once) as in the next."""
    junk = TTYPE + b"x" * (TELNET_SUBNEGOTIATION_MAX_BYTES - 1)
    lines, _, _ = run(IAC + SB + junk + b"yz\r\nafter\r\n")
    assert lines == ["yz", "after"]
    lines, _, _ = run(IAC + SB + junk[:100], junk[100:] + b"yz", b"\nafter\n")
    assert lines == ["yz", "after"]
    lines, _, _ = run(IAC + SB + junk, IAC + SE + b"bob\n")  # at the limit, then its end
    assert lines == ["bob"]
    # An escaped 0xFF (IAC IAC) counts too: one at the limit ends it, nothing is read twice.
    lines, _, _ = run(IAC + SB + junk + IAC + IAC + b"ab\nafter\n")
    assert lines == ["ab", "after"]
    lines, _, _ = run(IAC + SB + (IAC + IAC) * TELNET_SUBNEGOTIATION_MAX_BYTES, b"cd\n")
    assert lines == ["cd"]


def test_nop_and_unknown_commands_are_dropped() -> None:
    assert run(b"a" + IAC + NOP + b"b" + IAC + b"\x10" + b"c\n")[:2] == (["abc"], OFFER)


def test_utf8_text_is_never_touched() -> None:
    text = "Привет, мир — ☃\n".encode()
    assert TelnetFilter().feed(text) is text


def test_the_clients_binary_is_asked_for_once_and_agreed_without_a_loop() -> None:
    """A telnet client outside binary mode can turn a letter's byte into a command; asked to
    send binary at its first command, it keeps the top bits. A request is answered only when it
    changes what is agreed (RFC 1143). Ours is refused: telnet would show our LF as a staircase."""
    # The client's answer to our DO is not answered; its DO gets WONT, as any option's does.
    _, replies, _ = run(IAC + IP + IAC + WILL + BINARY + IAC + DO + BINARY, IAC + WILL + BINARY)
    assert replies == OFFER + IAC + WONT + BINARY
    # telnet asks first: our offer is the answer to its WILL; a WONT later is confirmed.
    _, replies, _ = run(IAC + WILL + BINARY, IAC + WONT + BINARY, IAC + WILL + BINARY)
    assert replies == OFFER + IAC + DONT + BINARY + IAC + DO + BINARY
    # Refused: nothing to answer, and nothing asked again.
    _, replies, _ = run(IAC + WONT + BINARY + IAC + IP + IAC + WONT + BINARY)
    assert replies == OFFER


@pytest.mark.parametrize(
    ("letter", "command"),
    [("у", IP), ("я", AO), ("К", SUSP), ("М", BRK), ("ѕ", EL), ("ф", b"\xec"), ("є", AYT)],
)
def test_a_command_inside_a_utf8_letter_is_the_byte_telnet_turned_into_it(
    letter: str, command: bytes
) -> None:
    """inetutils telnet, outside binary mode, sends у (D1 83) as D1 IAC IP IAC DO TIMING-MARK:
    0x83 without its top bit is Ctrl+C. Where a UTF-8 sequence lacks a byte no key was pressed:
    the letter comes back whole, in one read or split after its first byte."""
    encoded = letter.encode()
    assert len(encoded) == 2
    sent = encoded[:1] + IAC + command + IAC + DO + TM
    for reads in ([b"ok " + sent + b" ok\r\n"], [b"ok " + sent[:1], sent[1:] + b" ok\r\n"]):
        lines, replies, _ = run(*reads)
        assert lines == [f"ok {letter} ok"]
        assert replies == OFFER + IAC + WILL + TM


def test_a_command_after_a_whole_letter_still_means_what_it_says() -> None:
    """Ctrl+C after "привет" (a whole sequence last) drops the line; so does one after a
    three-byte character, or where a read ended with a whole one."""
    assert run("привет".encode() + IAC + IP + b"next\n")[0] == ["next"]
    assert run("☃".encode(), IAC + IP + b"next\n")[0] == ["next"]
    assert run(b"abc\xd1", b"\x83" + IAC + EL + b"x\n")[0] == ["x"]


def test_a_run_of_commands_with_no_line_between_is_counted_as_a_flood() -> None:
    """Commands form no line, so nothing else charges them: past TELNET_COMMANDS_PER_LINE in a
    row (no line end between) the run counts once in ``floods``, which the server takes as a
    bad line. A line end, in the same read or another, starts the count again."""
    telnet = TelnetFilter()
    telnet.feed((IAC + NOP) * TELNET_COMMANDS_PER_LINE)
    assert telnet.floods == 0
    telnet.feed(IAC + NOP)
    assert telnet.floods == 1
    assert telnet.feed((IAC + NOP) * (TELNET_COMMANDS_PER_LINE * 3) + b"rest\n") == b""
    assert telnet.floods == 2  # the rest of the read past a flood is dropped
    for _ in range(3):
        telnet.feed((IAC + AYT) * 1000)
    answers = telnet.take()[0]  # at most a run's answers a read
    assert telnet.floods == 5 and answers.count(AYT_REPLY) == 3 * TELNET_COMMANDS_PER_LINE
    quiet = TelnetFilter()
    for _ in range(10):  # a person's Ctrl+C between lines, in a read of its own or not
        quiet.feed((IAC + IP + IAC + DO + TM) * 10)
        quiet.feed(b"hello\r\n")
        quiet.feed(IAC + AYT + b"x\n" + (IAC + NOP) * 20 + b"y\r\x00")
    assert quiet.floods == 0


def test_letters_taken_back_are_no_flood_nor_lost_after_a_read_of_commands_alone() -> None:
    """A telnet that sends every у as D1 IAC IP IAC DO TIMING-MARK (it refused binary, or the
    letters came before the answer): a long line of them is a line, not a flood. And a lead
    byte, then a read of commands alone, then the command that stands for its second byte:
    still taken back."""
    telnet = TelnetFilter()
    typed = b"\xd1" + IAC + IP + IAC + DO + TM  # у
    lines, replies, _ = run(b"ok " + typed * 100 + b"\r\n")
    assert lines == ["ok " + "у" * 100]
    assert replies == OFFER + (IAC + WILL + TM) * 100
    assert telnet.feed(b"\xd1") == b"\xd1"
    assert telnet.feed(IAC + NOP) == b""
    assert telnet.feed(IAC + IP + b"\n") == b"\x83\n"
    assert telnet.floods == 0
