"""End-to-end: the input row of the real ``tcp-client`` in tmux through resizes, wide and
combining characters, and terminals of a few cells. The screens and their helpers are those of
``test_client_tmux.py``.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import termios
from typing import Any, Callable
from unicodedata import normalize

import pytest

from tcpchat.client.lineedit import clip
from tcpchat.client.render import wrap
from tcpchat.core.text import text_width
from tests.conftest import ServerProcess
from tests.e2e import test_client_tmux
from tests.e2e.test_client_tmux import INDENT, Screen, joined

screen = test_client_tmux.screen  # the fixture that starts a client in tmux

WORDS = " ".join(f"w{i:02}" for i in range(1, 23))  # 88 columns, each word found once
TYPED = re.compile(r"w\d\d")


def visible(scr: Screen) -> list[str]:
    """The rows of the screen as it shows now (no scrollback), trailing blanks removed."""
    return [row.rstrip() for row in scr.run("capture-pane", "-t", "t", "-p").split("\n")]


def showing(scr: Screen, text: str) -> Callable[[], bool]:
    """A wait's condition: the screen as it shows now has ``text`` on a row."""
    return lambda: any(text in row for row in visible(scr))


def at_column(scr: Screen, column: int) -> Callable[[], bool]:
    """A wait's condition: the cursor is in ``column``."""
    return lambda: scr.cursor()[0] == column


def above_the_input_row(scr: Screen, text: str, just: bool = False) -> bool:
    """Whether ``text`` ends a row above the cursor's (``just``: the row just above it)."""
    rows = visible(scr)
    _, y = scr.cursor()
    return any(row.endswith(text) for row in rows[y - 1 if just else 0 : y])


def one_input_row(scr: Screen, ending: str, typed_text: re.Pattern[str] = TYPED) -> bool:
    """Whether the screen shows the line being typed (``typed_text`` finds it) on one row only,
    the cursor's, ending with ``ending`` (no stale copy of it anywhere, above or below)."""
    rows = visible(scr)
    typed = [y for y, row in enumerate(rows) if typed_text.search(row) and "<alice>" not in row]
    _, y = scr.cursor()
    return typed == [y] and rows[y].startswith("alice> ") and rows[y].endswith(ending)


@pytest.mark.parametrize("keys", [(), ("Home",), ("M-b",) * 11], ids=["end", "home", "middle"])
def test_after_any_resize_one_input_row_shows_under_the_messages(
    server: ServerProcess, connect: Any, screen: Any, keys: tuple[str, ...]
) -> None:
    """A long line typed on a wide window, the window made narrower: the terminal wraps the old
    input row into several rows, and only the cursor's was erased, a stale copy of the line left
    above (or below) the new one (the known defect). After each resize, and after a message
    arriving then, the line shows once."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    bob.send("before the resize\n")
    alice.wait(r"<bob> before the resize$")
    alice.type(WORDS)
    alice.wait(lambda: alice.input_row() == "alice> " + WORDS)
    if keys:
        alice.keys(*keys)
    ending = "w22" if not keys else ""
    sizes = [(40, 30), (120, 30), (30, 30), (100, 10), (100, 30), (50, 12), (100, 30)]
    for n, (columns, rows) in enumerate(sizes):
        alice.run("resize-window", "-t", "t", "-x", str(columns), "-y", str(rows))
        alice.wait(lambda: one_input_row(alice, ending))
        bob.send(f"after resize {n}\n")
        alice.wait(showing(alice, f"<bob> after resize {n}"))
        alice.wait(lambda: one_input_row(alice, ending))
        # Above the input row. (A wait: tmux may tell the client of a new size a while after
        # taking it, and the screen painted again then may come between reading the screen and
        # reading the cursor.)
        said = f"<bob> after resize {n}"
        alice.wait(lambda said=said: above_the_input_row(alice, said))
        # None in the scrollback either, where a resize may bring it back.
        assert sum(row.startswith("alice>") for row in alice.rows()) == 1
    assert "<bob> before the resize" in alice.text()
    alice.keys("End", "Enter")
    assert bob.expect(r"^<alice>") == "<alice> " + WORDS


def test_a_line_of_chinese_shows_once_after_the_window_narrows(
    server: ServerProcess, screen: Any
) -> None:
    """A terminal wrapping a row again puts a wide character that does not fit at a row's end on
    the next row: counted by columns alone, the first row of ``alice> 王小明...`` stayed above
    the new input row."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    for _ in range(2):  # rows enough to put the input row at the bottom, as in a chat going on
        alice.type("/help")
        alice.keys("Enter")
    alice.wait(lambda: alice.cursor()[1] == test_client_tmux.ROWS - 1)
    line = "王小明" * 12
    alice.type(line)
    alice.wait(lambda: alice.input_row() == "alice> " + line)
    chinese = re.compile("[王小明]")
    for columns in (40, 100, 20, 16, 100, 14):
        alice.run("resize-window", "-t", "t", "-x", str(columns))
        alice.wait(lambda: one_input_row(alice, "明", chinese))
    assert sum(row.startswith("alice>") for row in alice.rows()) == 1


def test_the_cursor_stays_on_its_letter_in_thai_and_hindi(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """Thai vowels and Devanagari vowel signs take no column, but the client counted one each:
    Home on ``สวัสดี ok`` put the cursor on the ``e`` of ``alice>``, two columns left of the
    line, and every key typed after that went where the cursor was not."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("สวัสดี ok")
    alice.wait(lambda: alice.input_row() == "alice> สวัสดี ok")
    alice.wait(lambda: alice.cursor()[0] == len("alice> ") + 4 + 3)
    alice.keys("Home")
    alice.wait(lambda: alice.cursor()[0] == len("alice> "))
    bob.send("नमस्ते\n")  # a redraw for a message keeps it there
    alice.wait(r"<bob> नमस्ते$")
    assert alice.cursor()[0] == len("alice> ")
    alice.type("X")
    alice.wait(lambda: alice.input_row() == "alice> Xสวัสดี ok")
    assert alice.cursor()[0] == len("alice> X")
    alice.keys("Enter")
    assert bob.expect(r"^<alice>") == "<alice> Xสวัสดี ok"


def test_left_right_and_backspace_take_a_letter_with_its_accent(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """A decomposed ``é`` (e and U+0301, as macOS gives file names) is two characters in one
    column: every other Left left the cursor where it was, Backspace took the accent off the
    letter, and a letter typed between them wore the accent instead."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("re\u0301sume\u0301")
    end = len("alice> resume")  # a column a letter
    alice.wait(lambda: alice.cursor()[0] == end)
    for column in range(end - 1, len("alice> ") - 1, -1):
        alice.keys("Left")  # one column each press
        alice.wait(at_column(alice, column))
    alice.keys("Right", "Right")
    alice.wait(lambda: alice.cursor()[0] == len("alice> re"))
    alice.keys("BSpace")
    alice.wait(lambda: normalize("NFC", alice.input_row()) == "alice> rsum\u00e9")
    alice.keys("End", "BSpace", "Enter")
    assert bob.expect(r"^<alice>") == "<alice> rsum"


def test_the_wide_character_under_the_cursor_shows_at_the_end_of_the_row(
    server: ServerProcess, screen: Any
) -> None:
    """Right along ``a中中中...`` on 80 columns: at the row's end the 中 under the cursor was
    left out, the cursor on an empty cell, where what was typed went before a character nobody
    could see."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("resize-window", "-t", "t", "-x", "80")  # 72 columns for the line
    alice.type("a" + "中" * 50)
    alice.wait(lambda: alice.input_row().endswith("中"))
    alice.keys("Home")
    alice.wait(at_column(alice, len("alice> ")))
    alice.keys(*["Right"] * 36)
    # After k presses the cursor is in column 2k + 6, until the row scrolls at the 36th.
    alice.wait(lambda: alice.cursor()[0] >= 2 * 36 + 5)
    row, (column, _) = alice.input_row(), alice.cursor()
    assert text_width(row) <= 79
    assert text_width(row) >= column + 2  # the 中 under the cursor, whole
    assert row[len(clip(row, column)) :].startswith("中")


def test_a_long_line_fills_the_input_row_again_once_the_window_is_wide_again(
    server: ServerProcess, screen: Any
) -> None:
    """Made narrow, then wide again, the input row kept the narrow window's scroll: a few letters
    of a long line showed on a wide row, as if the rest were gone."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    line = " ".join(f"word{i}" for i in range(20))  # 119 columns
    alice.type(line)
    alice.wait(lambda: alice.input_row() == "alice> " + line[-91:])
    alice.run("resize-window", "-t", "t", "-x", "12")
    alice.wait(lambda: alice.input_row() == "ali…> rd19")
    alice.run("resize-window", "-t", "t", "-x", str(test_client_tmux.COLUMNS))
    alice.wait(lambda: alice.input_row() == "alice> " + line[-91:])


def test_a_terminal_of_four_columns_shows_the_line_and_its_cursor_on_one_row(
    server: ServerProcess, screen: Any
) -> None:
    """At 4 columns the cut prompt ``a…> `` and the line wrapped onto two rows, the cursor on
    the second wherever its letter was; the line now goes first, the prompt left out."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("resize-window", "-t", "t", "-x", "4", "-y", "8")
    alice.type("abcdef")
    alice.wait(lambda: alice.input_row() == "ef")
    assert alice.cursor()[0] == 2
    alice.keys("Home")
    alice.wait(lambda: alice.input_row() == "abc" and alice.cursor()[0] == 0)
    alice.run("resize-window", "-t", "t", "-x", "10", "-y", "3")
    alice.wait(lambda: alice.input_row() == "al…> abcd" and alice.cursor()[0] == 5)


FORGED = re.compile(r"^\d\d:\d\d <bob>")
STAMP = re.compile(r"^\d\d:\d\d ")
BAIT = "lol,-look-at-this-thing."  # after "HH:MM <mallory> ", 40 columns in all
HIDDEN = "<bob> my new password is hunter2"


def test_a_narrower_window_shows_no_row_of_a_message_at_the_left_edge(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """A message sized to fill one row at 80 columns: at 40 the terminal wrapped that row again
    itself, and its rest, ``10:02 <bob> my new password is hunter2``, started a row at the left
    edge as if bob had said it (a UX review; bob never spoke). The client paints the screen
    again at every new size, its rows wrapped to it with the hanging indent."""
    mallory = connect("mallory")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("resize-window", "-t", "t", "-x", "80")
    alice.wait(lambda: alice.input_row() == "alice>")
    mallory.send(f"{BAIT}10:02 {HIDDEN}\n")
    said = re.compile(rf"^\d\d:\d\d <mallory> {re.escape(BAIT)}10:02 {re.escape(HIDDEN)}$")
    alice.wait(lambda: any(said.match(row) for row in visible(alice)))
    line = next(row for row in visible(alice) if said.match(row))
    alice.type("half typed")
    alice.wait(lambda: alice.input_row() == "alice> half typed")
    for columns in (40, 30, 60, test_client_tmux.COLUMNS):
        alice.run("resize-window", "-t", "t", "-x", str(columns))
        # The line as the client wraps it (the last column left free), its rows one under another.
        wrapped = wrap(line, columns - 1)
        alice.wait(lambda rows=wrapped: showing_rows(visible(alice), rows))
        alice.wait(lambda: one_input_row(alice, "half typed", re.compile("half typed")))
        rows = visible(alice)[: alice.cursor()[1]]
        assert [row for row in rows if FORGED.match(row)] == []
        # Above the input row, each row is a line's first (a time stamp) or indented.
        assert all(not row or STAMP.match(row) or row.startswith(INDENT) for row in rows), rows
    assert wrap(line, 39)[-1] == INDENT + HIDDEN  # at 40 columns, indented on a row of its own


def showing_rows(rows: list[str], wanted: list[str]) -> bool:
    """Whether ``wanted`` are rows of ``rows``, one under another."""
    return any(rows[i : i + len(wanted)] == wanted for i in range(len(rows)))


def test_a_half_typed_line_shows_once_after_the_window_narrows_again_and_again(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """Narrowed to a window lower than the rows the terminal wrapped the input row into, the
    first of them went to the scrollback, out of the client's reach; the window made taller,
    the terminal brought it back: a stale ``alice> w01 w02 ...`` over the new input row. The
    client paints the screen again at every new size."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    for n in range(3):
        bob.send(f"before {n}\n")  # a row at every width here
        alice.wait(rf"<bob> before {n}$")
    alice.type(WORDS)
    alice.wait(lambda: alice.input_row() == "alice> " + WORDS)
    alice.keys("Home")
    sizes = [(90, 30), (60, 2), (50, 30), (40, 3), (36, 24), (30, 2), (24, 30)]
    for columns, rows in sizes:
        alice.run("resize-window", "-t", "t", "-x", str(columns), "-y", str(rows))
        # Painted again: the last message just above the input row, that shows once.
        alice.wait(lambda: above_the_input_row(alice, "<bob> before 2", just=True))
        alice.wait(lambda: one_input_row(alice, ""))
    bob.send("after\n")
    alice.wait(showing(alice, "<bob> after"))
    alice.wait(lambda: one_input_row(alice, ""))
    alice.keys("Enter")
    assert bob.expect(r"^<alice>") == "<alice> " + WORDS


def test_a_window_made_lower_and_then_taller_again_loses_no_line(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """A review: a window made lower, then taller again, was painted with only the lines the
    lower one had shown, erasing the rows tmux had meanwhile brought back from its scrollback
    (taking them out of it): the first lines were gone from the screen and the scrollback."""
    senders = [connect(name) for name in ("bob", "carol", "dave")]
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    said = []
    for n in range(21):  # 7 lines each, within a sender's flood burst
        sender = senders[n % 3]
        sender.send(f"numbered {n}\n")
        said.append(f"numbered {n}")
        alice.wait(showing(alice, said[-1]))
    # Once the pty has the new size, a line: the client got its SIGWINCH before the line, and
    # the line shows after the repaint that asks for. (tmux may resize the pty a while after
    # taking the size itself: two resizes the client never saw apart would test nothing.)
    alice.run("resize-window", "-t", "t", "-y", "8")
    alice.wait(lambda: pty_rows(alice) == 8)
    senders[1].send("at 8 rows\n")
    alice.wait(lambda: above_the_input_row(alice, "<carol> at 8 rows", True))
    alice.run("resize-window", "-t", "t", "-y", str(test_client_tmux.ROWS))
    alice.wait(lambda: pty_rows(alice) == test_client_tmux.ROWS)
    senders[2].send("at 30 rows\n")
    alice.wait(lambda: above_the_input_row(alice, "<dave> at 30 rows", True))
    text = alice.text()
    assert [line for line in said if line not in text] == []


def pty_rows(scr: Screen) -> int:
    """The rows of the client's terminal as the kernel has them (what the client reads at its
    SIGWINCH), not as tmux does."""
    path = scr.run("display-message", "-p", "-t", "t", "#{pane_tty}").strip()
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    try:
        rows: int = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))[0]
    finally:
        os.close(fd)
    return rows
