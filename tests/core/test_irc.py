"""The IRC adapter, sans I/O: IRC lines into the hub through ``IrcClient``, the hub's events out
as IRC lines through ``IrcFormat``; no sockets, no event loop."""

from __future__ import annotations

from tcpchat.core import codes
from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.hub import Hub
from tcpchat.core.irc import CloseLink, IrcClient, Routed, Step
from tcpchat.core.irc_queries import IrcNetwork
from tcpchat.core.irc_render import IrcFormat, Renderer, irc_mode
from tcpchat.core.irc_wire import parse_message, split_text, strip_formatting, user_text
from tcpchat.core.limits import IRC_HANDSHAKE_LINES, HubLimits
from tcpchat.core.output import ToAll, ToSessions
from tcpchat.core.session import State

NOW = 1_000_000.0


class Harness:
    """IRC clients and native sessions on one hub; what each IRC client was sent, as text."""

    def __init__(self, password: str | None = None, server_name: str = "irc.test") -> None:
        limits = HubLimits(password=password, flood_burst=1000, flood_rate=1000)
        self.hub = Hub(limits, server_name=server_name)
        self.network = IrcNetwork(server_name, NOW)
        self.render = Renderer(self.network.format)

    def irc(self) -> IrcClient:
        session, _ = self.hub.connect("127.0.0.1:1", NOW, mode=codes.IRC)
        return IrcClient(self.network, self.hub, session)

    def send(self, client: IrcClient, *lines: str) -> str:
        """What ``client`` is sent in answer to ``lines`` (to it alone; broadcasts aside)."""
        out: list[bytes] = []
        for text in lines:
            out += self._own(client, client.receive(text, NOW))
        return b"".join(out).decode()

    def _own(self, client: IrcClient, steps: list[Step]) -> list[bytes]:
        session = client.session
        mine: list[bytes] = []
        for step in steps:
            if isinstance(step, bytes):
                mine.append(step)
            elif isinstance(step, CloseLink):
                mine.append(f"<close {step.reason}>\r\n".encode())
            elif isinstance(step, Routed):
                for item in step.out:
                    if isinstance(item, ToSessions) and session in item.to:
                        mine.append(self.render(item.event, session.mode, False, session.name))
        return mine

    def registered(self, nick: str) -> IrcClient:
        client = self.irc()
        self.send(client, f"NICK {nick}", f"USER {nick} 0 * :Real")
        assert client.session.state is State.ACTIVE
        return client


def test_parse_message_reads_tags_source_verb_and_trailing() -> None:
    message = parse_message("@time=x :nick!u@h privmsg #ops :hello there")
    assert message is not None
    assert (message.verb, message.params, message.tags) == (
        "PRIVMSG",
        ("#ops", "hello there"),
        "time=x",
    )
    assert parse_message("   ") is None


def test_formatting_codes_are_stripped_and_other_controls_neutralised() -> None:
    assert strip_formatting("\x02bold\x02 \x0304,12red\x03 \x1ditalic\x0f") == "bold red italic"
    assert user_text("ring\x07 \x1b[2J") == "ring\ufffd \ufffd[2J"


def test_split_text_cuts_between_characters_within_the_room() -> None:
    pieces = split_text("é" * 300, 101)
    assert all(len(piece.encode()) <= 101 for piece in pieces)
    assert "".join(pieces) == "é" * 300


def test_registration_sends_the_welcome_then_the_join_of_lobby() -> None:
    h = Harness()
    client = h.irc()
    answer = h.send(client, "CAP LS 302", "NICK ivy", "USER ivy 0 * :Ivy")
    assert "001" not in answer  # CAP LS holds registration until CAP END
    answer = h.send(client, "CAP END")
    assert answer.startswith(":irc.test 001 ivy :Welcome")
    assert ":ivy!~u@irc.test JOIN #lobby\r\n:irc.test 353 ivy = #lobby ivy\r\n" in answer
    assert client.session.name == "ivy"


def test_a_taken_nick_is_433_and_a_bad_one_432() -> None:
    h = Harness()
    h.registered("ivy")
    client = h.irc()
    assert h.send(client, "NICK IVY").startswith(":irc.test 433 * IVY ")
    assert h.send(client, "NICK #x").startswith(":irc.test 432 * #x ")


def test_wrong_password_is_464_error_and_close() -> None:
    h = Harness(password="sesame")
    client = h.irc()
    answer = h.send(client, "PASS nope", "NICK ivy", "USER ivy 0 * :Ivy")
    assert ":irc.test 464 * :Password incorrect" in answer
    assert "ERROR :Closing link: Bad password" in answer
    assert answer.endswith(f"<close {codes.WRONG_PASSWORD}>\r\n")


def test_a_password_not_compared_while_the_address_waits_is_not_called_wrong() -> None:
    """The review: after four wrong passwords from the address, the right one was answered
    "464 Password incorrect" although it was never compared."""
    h = Harness(password="sesame")
    for _ in range(4):  # three free wrong tries, then one that makes the next wait 1 s
        h.send(h.irc(), "PASS nope", "NICK ivy", "USER ivy 0 * :Ivy")
    answer = h.send(h.irc(), "PASS sesame", "NICK ivy", "USER ivy 0 * :Ivy")
    assert "464" not in answer and "Password incorrect" not in answer
    assert "wait 1 s before the next try" in answer
    assert answer.endswith(f"<close {codes.PASSWORD_UNCHECKED}>\r\n")


def test_privmsg_to_a_channel_is_the_hubs_say_in_that_room() -> None:
    h = Harness()
    ivy, joe = h.registered("ivy"), h.registered("joe")
    h.send(ivy, "JOIN #ops")
    h.send(joe, "JOIN #ops")
    steps = ivy.receive("PRIVMSG #ops :\x02hi\x02 all", NOW)
    routed = [item for step in steps if isinstance(step, Routed) for item in step.out]
    message = next(i.event for i in routed if isinstance(i, ToSessions) and i.skip is not None)
    assert isinstance(message, ev.Message)
    assert (message.sender, message.text, message.room) == ("ivy", "hi all", "#ops")
    line = h.render(message, irc_mode(set()))
    assert line == b":ivy!~u@irc.test PRIVMSG #ops :hi all\r\n"


def test_privmsg_errors_are_numerics_and_notice_errors_are_silent() -> None:
    h = Harness()
    ivy = h.registered("ivy")
    assert h.send(ivy, "PRIVMSG nobody :x").startswith(":irc.test 401 ivy nobody ")
    assert h.send(ivy, "PRIVMSG #nowhere :x").startswith(":irc.test 403 ivy #nowhere ")
    assert h.send(ivy, "PRIVMSG #lobby :").startswith(":irc.test 412 ivy ")
    for invisible in ("\u200b\u200b", "\x01ACTION \u200b\x01", "\u3164"):  # quick way too
        assert h.send(ivy, f"PRIVMSG #lobby :{invisible}").startswith(":irc.test 412 ivy ")
    assert h.send(ivy, "NOTICE nobody :x") == ""
    assert h.send(ivy, "PRIVMSG #lobby :" + "x" * 600).startswith(":irc.test 417 ivy ")
    # Tags: 8191 bytes at most, the '@' and the space after them included (IRCv3).
    tags = "@+x=" + "y" * (8191 - 5) + " "
    assert h.send(ivy, tags + "PRIVMSG #lobby :hi") == ""
    assert h.send(ivy, "@+" + tags[1:] + "PRIVMSG #lobby :hi").startswith(":irc.test 417 ivy ")


def test_echo_message_renders_the_delivered_event_as_the_senders_privmsg() -> None:
    fmt = IrcFormat("irc.test")
    delivered = ev.Delivered(NOW, 7, None, True, "waves", 2, 1, "#ops")
    assert fmt.render(delivered, irc_mode(set()), "ivy") == b""
    echoed = fmt.render(delivered, irc_mode({"echo-message"}), "ivy")
    assert echoed == b":ivy!~u@irc.test PRIVMSG #ops :\x01ACTION waves\x01\r\n"


def test_server_time_and_msgid_tags_come_with_their_capabilities() -> None:
    fmt = IrcFormat("irc.test")
    message = ev.Message(NOW, 42, "ann", None, False, "hi")
    tagged = fmt.render(message, irc_mode({"server-time", "message-tags"}))
    assert tagged.startswith(b"@time=1970-01-12T13:46:40.000Z;msgid=42 :ann!~u@irc.test PRIVMSG")


def test_a_native_whisper_reaches_an_irc_user_as_privmsg_to_its_nick() -> None:
    fmt = IrcFormat("irc.test")
    whisper = ev.Message(NOW, 3, "ann", "ivy", False, "psst")
    assert fmt.render(whisper, codes.IRC) == b":ann!~u@irc.test PRIVMSG ivy :psst\r\n"


def test_leaving_is_part_or_quit_with_the_reason() -> None:
    fmt = IrcFormat("irc.test")
    part = ev.Left(NOW, "ann", codes.part_reason("lunch"), 2, "#ops")
    assert fmt.render(part, codes.IRC) == b":ann!~u@irc.test PART #ops :lunch\r\n"
    quit_ = ev.Left(NOW, "ann", codes.quit_reason("bye now"), 2)
    assert fmt.render(quit_, codes.IRC) == b":ann!~u@irc.test QUIT :Quit: bye now\r\n"


def test_a_long_native_message_becomes_lines_of_at_most_512_bytes() -> None:
    fmt = IrcFormat("irc.test")
    message = ev.Message(NOW, 1, "ann", None, False, "word " * 800)
    lines = fmt.render(message, codes.IRC).split(b"\r\n")[:-1]
    assert len(lines) > 1 and all(len(line) + 2 <= 512 for line in lines)


def test_a_topic_or_a_reason_in_four_byte_characters_is_cut_to_512_bytes() -> None:
    """390 characters (a topic's most, TOPICLEN) can be 1,560 bytes: the line is cut between
    two characters, as IRC clients and libraries expect at most 512 bytes (tags aside)."""
    fmt = IrcFormat("irc.test")
    wide = "\U0001f600" * 390
    for event in (
        ev.Left(NOW, "ann", codes.part_reason(wide), 2, "#ops"),
        ev.Left(NOW, "ann", codes.quit_reason(wide), 2),
        ev.Topic(NOW, "#ops", wide, "ann"),
    ):
        data = fmt.render(event, irc_mode({"server-time", "message-tags"}))
        assert data.endswith(b"\r\n") and data.count(b"\r\n") == 1
        body = data.split(b" ", 1)[1] if data.startswith(b"@") else data
        assert 500 < len(body) <= 512, (event, len(body))
        body.decode("utf-8")  # whole characters only
    rpl_topic = fmt.reply("332", "ivy", "#ops", wide)  # on JOIN, and in LIST (322)
    assert 500 < len(rpl_topic) <= 512 and rpl_topic.endswith(b"\r\n")


def test_a_message_to_oneself_comes_back_whole_an_action_as_an_action() -> None:
    harness = Harness()
    ivy = harness.registered("ivy")
    echo = harness.send(ivy, "PRIVMSG ivy :" + "x" * 497)  # a 512-byte line
    lines = echo.split("\r\n")[:-1]
    assert len(lines) == 2 and all(len(line.encode()) + 2 <= 512 for line in lines)
    assert "".join(line.rsplit(" :", 1)[1] for line in lines) == "x" * 497
    action = harness.send(ivy, "PRIVMSG ivy :\x01ACTION waves\x01")
    assert action.endswith("PRIVMSG ivy :\x01ACTION waves\x01\r\n")


def test_irc_users_start_in_lobby_where_natives_see_them() -> None:
    h = Harness()
    native, _ = h.hub.connect("127.0.0.1:2", NOW)
    h.hub.handle(native, cmd.Say("ann"), NOW)
    client = h.irc()
    steps = client.receive("NICK ivy", NOW) + client.receive("USER ivy 0 * :Ivy", NOW)
    routed = [item for step in steps if isinstance(step, Routed) for item in step.out]
    joins = [i.event for i in routed if isinstance(i, ToAll)]
    assert joins == [ev.Joined(NOW, "ivy", 2)]


def test_every_line_costs_its_share_of_the_flood_allowance_even_one_answered_here() -> None:
    """Lines the IRC side answers without the hub (a PRIVMSG to oneself or to nobody, a PART
    or TOPIC of no channel, a JOIN of a bad name) are charged as the hub charges its own, so a
    loop of them is slowed down and then disconnected like any other flood."""
    harness = Harness()
    harness.hub.config = HubLimits(flood_burst=3, flood_rate=0.001, flood_max_refused=2)
    for text in ("PRIVMSG ivy :me", "PRIVMSG nobody :x", "PART #nope", "TOPIC #nope :x", "JOIN x"):
        ivy = harness.registered("ivy")
        answers = [harness.send(ivy, text) for _ in range(6)]
        assert "Slow down" in answers[3], (text, answers)
        assert answers[5].endswith("<close flooding>\r\n"), (text, answers)
        harness.send(ivy, "QUIT")


def test_lines_with_no_command_cost_what_blank_lines_do_and_count_before_registration() -> None:
    """An empty line, spaces, a source or tags with no command: free once, so one connection
    kept the server busy with them for as long as it liked (an abuse review: 100 % CPU). Now a
    quarter of a line each, as a native blank line; before registration, one of the 64."""
    for text in ("", "   ", ":ivy", "@a=b", "@" + "x" * 8000):
        harness = Harness()
        ivy = harness.registered("ivy")
        harness.hub.config = HubLimits(flood_burst=1, flood_rate=0.001, flood_max_refused=2)
        ivy.session.tokens = 1.0
        answers = [harness.send(ivy, text) for _ in range(7)]
        assert answers[:4] == ["", "", "", ""], (text, answers)
        assert "Slow down" in answers[4], (text, answers)
        assert answers[6].endswith("<close flooding>\r\n"), (text, answers)
    fresh = Harness()
    early = fresh.irc()
    answers = [fresh.send(early, "") for _ in range(IRC_HANDSHAKE_LINES + 1)]
    assert answers[-2] == ""
    assert answers[-1].endswith("<close flooding>\r\n")


def test_list_names_each_channel_once_however_often_it_is_asked_for() -> None:
    """``LIST #ops,#OPS,#ops,...`` answered each with the row of #ops, topic and all: a line
    of 510 bytes drew 82 KB (an abuse review). Now each channel once, at most MAX_TARGETS."""
    harness = Harness()
    ivy = harness.registered("ivy")
    harness.send(ivy, "JOIN #ops", "TOPIC #ops :" + "t" * 300)
    answer = harness.send(ivy, "LIST " + ",".join(["#ops", "#OPS", "#lobby"] * 25))
    rows = [row for row in answer.split("\r\n") if " 322 " in row]
    assert [row.split()[3] for row in rows] == ["#ops", "#lobby"]
    for first in (1, 6):  # ten rooms, all there
        harness.send(ivy, "JOIN " + ",".join(f"#r{n}" for n in range(first, first + 5)))
    answer = harness.send(ivy, "LIST " + ",".join(f"#r{n}" for n in range(1, 11)))
    rows = [row.split()[3] for row in answer.split("\r\n") if " 322 " in row]
    assert rows == [f"#r{n}" for n in range(1, 9)]  # TARGMAX, then one 407 after the end
    assert answer.endswith(
        ":irc.test 407 ivy #r9 :Too many targets: only the first 8 were taken\r\n"
    )


def test_a_topics_setter_is_given_as_a_mask() -> None:
    """333 names who set the topic as ``nick!~u@host``, as the masks of every user are."""
    harness = Harness()
    ivy, ann = harness.registered("ivy"), harness.registered("ann")
    harness.send(ivy, "JOIN #ops", "TOPIC #ops :deploys")
    joined = harness.send(ann, "JOIN #ops")
    assert ":irc.test 333 ann #ops ivy!~u@irc.test " in joined


def test_repeated_and_empty_targets_are_answered_once_and_never_with_an_empty_word() -> None:
    """``NAMES #lobby,#lobby,...`` would multiply one line's answer; an empty target would be an
    empty middle word in the numeric (``401 nick  :No such nick``), which a parser misreads."""
    chat = Harness()
    ann = chat.registered("ann")
    names = chat.send(ann, "NAMES " + ",".join(["#lobby"] * 70))
    assert names.count(" 366 ") == 1 and names.count(" 353 ") == 1
    for line in ("PRIVMSG ,, :x", "NAMES ,,"):
        answer = chat.send(ann, line)
        assert answer and "  " not in answer, (line, answer)
    assert " 411 " in chat.send(ann, "PRIVMSG ,, :x")


def test_irc_service_nicks_are_reserved() -> None:
    """An IRC client may send "PRIVMSG NickServ :IDENTIFY password" on its own when it connects:
    nobody may hold that name to collect it."""
    chat = Harness()
    for nick in ("NickServ", "chanserv", "Global"):
        assert " 432 " in chat.send(chat.irc(), f"NICK {nick}", "USER u 0 * :Real"), nick


def test_lusers_counts_irc_users_as_invisible_and_the_others_as_users() -> None:
    """IRC users are ``+i`` (``221``); native users have no user modes anywhere, so they are
    visible: 251 splits the total as ergo does (users = total - invisible), kept as users come,
    rename and go."""
    h = Harness()
    ivy, joe = h.registered("ivy"), h.registered("joe")
    ann, _ = h.hub.connect("127.0.0.1:2", NOW)
    h.hub.handle(ann, cmd.Say("ann"), NOW)
    bot, _ = h.hub.connect("127.0.0.1:3", NOW, mode=codes.JSON)
    h.hub.handle(bot, cmd.Say("bot"), NOW)
    assert h.send(ivy, "MODE ivy") == ":irc.test 221 ivy +i\r\n"
    assert h.send(ivy, "LUSERS") == (
        ":irc.test 251 ivy :There are 2 users and 2 invisible on 1 servers\r\n"
        ":irc.test 254 ivy 1 :channels formed\r\n"
        ":irc.test 255 ivy :I have 4 clients and 0 servers\r\n"
    )
    h.send(joe, "NICK joey")
    assert " 251 ivy :There are 2 users and 2 invisible " in h.send(ivy, "LUSERS")
    h.send(joe, "QUIT")
    h.hub.handle(bot, cmd.Quit(), NOW)
    assert " 251 ivy :There are 1 users and 1 invisible " in h.send(ivy, "LUSERS")
    welcome = h.send(h.irc(), "NICK kim", "USER kim 0 * :Kim")
    assert ":irc.test 251 kim :There are 1 users and 2 invisible on 1 servers\r\n" in welcome


def _tags(line: str) -> dict[str, str]:
    message = parse_message(line)
    assert message is not None and message.tags, line
    return dict(tag.split("=", 1) for tag in message.tags.split(";"))


def test_the_join_of_lobby_at_registration_has_its_time_as_every_join() -> None:
    """Under server-time every JOIN carries ``@time``; the one registration makes (#lobby) did
    not (a newcomer's review, in irssi)."""
    h = Harness()
    ivy = h.irc()
    welcome = h.send(ivy, "CAP REQ :server-time", "NICK ivy", "USER ivy 0 * :Ivy", "CAP END")
    assert "@time=1970-01-12T13:46:40.000Z :ivy!~u@irc.test JOIN #lobby\r\n" in welcome
    joined = h.send(ivy, "JOIN #ops")
    assert joined.startswith("@time=1970-01-12T13:46:40.000Z :ivy!~u@irc.test JOIN #ops\r\n")
    plain = h.irc()
    welcome = h.send(plain, "NICK ann", "USER ann 0 * :Ann")
    assert "\r\n:ann!~u@irc.test JOIN #lobby\r\n" in welcome


def test_a_message_to_oneself_carries_the_tags_of_any_delivered_privmsg() -> None:
    """With server-time and message-tags, a PRIVMSG (or NOTICE, or ACTION) to one's own nick has
    ``@time`` and ``@msgid`` as a PRIVMSG from someone else has; a msgid of its own each time."""
    h = Harness()
    ivy = h.irc()
    h.send(ivy, "CAP REQ :server-time message-tags", "NICK ivy", "USER ivy 0 * :Ivy", "CAP END")
    joe = h.registered("joe")
    joes = [
        item.event
        for step in joe.receive("PRIVMSG ivy :hi", NOW)
        if isinstance(step, Routed)
        for item in step.out
        if isinstance(item, ToSessions) and item.to == (ivy.session,)
    ]
    from_joe = h.render(joes[0], ivy.session.mode, False, "ivy").decode()
    assert from_joe.startswith("@time=1970-01-12T13:46:40.000Z;msgid=")
    mine = h.send(ivy, "PRIVMSG ivy :hi")
    tags = _tags(mine)
    msgid = tags["msgid"]
    head = f"@time=1970-01-12T13:46:40.000Z;msgid={msgid}"
    assert mine == f"{head} :ivy!~u@irc.test PRIVMSG ivy :hi\r\n"
    assert tags.keys() == _tags(from_joe).keys() and msgid != _tags(from_joe)["msgid"]
    assert _tags(h.send(ivy, "PRIVMSG ivy :hi"))["msgid"] != msgid
    notice = h.send(ivy, "NOTICE ivy :note")
    assert notice.startswith("@time=") and notice.endswith(" :ivy!~u@irc.test NOTICE ivy :note\r\n")
    action = h.send(ivy, "PRIVMSG ivy :\x01ACTION waves\x01")
    assert _tags(action)["msgid"] and action.endswith("PRIVMSG ivy :\x01ACTION waves\x01\r\n")


def test_with_echo_message_a_message_to_oneself_comes_as_received_and_as_echoed() -> None:
    """As ergo does: the recipient's copy, then the sender's echo, with the same tags (a client
    with message-tags sees one msgid twice); without echo-message the one copy received."""
    h = Harness()
    ivy = h.irc()
    caps = "CAP REQ :echo-message server-time message-tags"
    h.send(ivy, caps, "NICK ivy", "USER ivy 0 * :Ivy", "CAP END")
    answer = h.send(ivy, "PRIVMSG ivy :hi")
    lines = answer.split("\r\n")[:-1]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].endswith(" :ivy!~u@irc.test PRIVMSG ivy :hi") and _tags(lines[0])["msgid"]
    plain = h.registered("joe")
    h.send(plain, "CAP REQ echo-message")
    assert h.send(plain, "NOTICE joe :note") == ":joe!~u@irc.test NOTICE joe :note\r\n" * 2
    h.send(plain, "CAP REQ -echo-message")
    assert h.send(plain, "NOTICE joe :note") == ":joe!~u@irc.test NOTICE joe :note\r\n"
