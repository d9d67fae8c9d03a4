"""The input line without a terminal: keys to edits, the line to a row."""

from __future__ import annotations

import random

from tcpchat.client.keys import Paste
from tcpchat.client.lineedit import (
    CHANGED,
    EOF,
    INTERRUPT,
    PASTE,
    SUBMIT,
    LineEditor,
    clip,
)
from tcpchat.core.text import text_width


def test_editing_keys_work_like_readline() -> None:
    e = LineEditor()
    for c in "hello world":
        e.press(c)
    assert (e.text, e.cursor) == ("hello world", 11)
    e.press("ctrl-w")
    assert (e.text, e.cursor) == ("hello ", 6)
    e.press("ctrl-y")
    e.press("ctrl-a")
    e.press("alt-f")
    assert e.cursor == 5
    e.press("ctrl-k")
    assert e.text == "hello"
    e.press("ctrl-u")
    assert e.text == ""
    e.press("ctrl-y")
    assert e.text == "hello"
    e.press("left")
    e.press("backspace")
    assert (e.text, e.cursor) == ("helo", 3)
    e.press("ctrl-t")
    assert e.text == "heol"


def test_enter_submits_and_remembers_and_ctrl_d_on_empty_is_eof() -> None:
    e = LineEditor()
    for c in "hi":
        e.press(c)
    assert e.press("enter") == SUBMIT
    assert e.take() == "hi"
    assert e.text == ""
    assert e.history == ["hi"]
    assert e.press("ctrl-d") == EOF
    assert e.press("ctrl-c") == INTERRUPT


def test_history_up_and_down_keeps_the_draft() -> None:
    e = LineEditor(["first", "second"])
    for c in "dra":
        e.press(c)
    e.press("up")
    assert e.text == "second"
    e.press("up")
    assert e.text == "first"
    assert e.press("up") is None
    e.press("down")
    e.press("down")
    assert e.text == "dra"


def test_lines_starting_with_a_space_and_repeats_stay_out_of_history() -> None:
    e = LineEditor()
    for line in ["a", "a", " secret", "b"]:
        e.set(line)
        e.take()
    assert e.history == ["a", "b"]


def test_reverse_search_finds_older_lines() -> None:
    e = LineEditor(["/w bob hello", "something else", "/w carol hi"])
    e.press("ctrl-r")
    for c in "/w":
        e.press(c)
    assert e.text == "/w carol hi"
    e.press("ctrl-r")
    assert e.text == "/w bob hello"
    assert e.press("enter") == SUBMIT
    assert e.searching is None


def test_a_search_that_finds_nothing_says_so_and_keeps_the_last_match() -> None:
    """As bash's "failing reverse-i-search": the UX review saw no sign that nothing matched."""
    e = LineEditor(["/w bob hello", "something else"])
    e.press("ctrl-r")
    e.press("b")
    assert (e.text, e.search_failed) == ("/w bob hello", False)
    for c in "zz":
        e.press(c)
    assert (e.text, e.searching, e.search_failed) == ("/w bob hello", "bzz", True)
    e.press("backspace")
    e.press("backspace")
    assert e.search_failed is False
    e.press("ctrl-g")
    e.press("ctrl-r")  # a new search starts hopeful
    assert e.search_failed is False


def test_tab_completes_and_cycles() -> None:
    e = LineEditor(completer=lambda line, cursor: (0, ["bob: ", "bobby: "]))
    e.press("b")
    e.press("tab")
    assert e.text == "bob: "
    e.press("tab")
    assert e.text == "bobby: "
    e.press("tab")
    assert e.text == "bob: "


def test_a_paste_of_lines_keeps_the_last_unfinished_one_in_the_line() -> None:
    e = LineEditor()
    e.press("x")
    assert e.press(Paste("one\ntwo\nthree")) == PASTE
    assert e.take_paste() == ["xone", "two"]
    assert (e.text, e.cursor) == ("three", 5)
    assert e.press(Paste("no newline")) == CHANGED
    assert e.text == "threeno newline"


def test_pasted_control_characters_are_dropped() -> None:
    e = LineEditor()
    e.press(Paste("a\x1b[2Jb\tc"))
    assert e.text == "a[2Jb c"


def test_typed_text_loses_what_the_server_would_neutralise() -> None:
    """The editor drops the characters the server replaces (core.text.neutralise): C1 controls,
    bidi overrides and line separators, not only C0."""
    e = LineEditor()
    e.press(Paste("a\x9b2Jb\u202ec\u2028d"))
    assert e.text == "a2Jbcd"


def test_view_scrolls_to_keep_the_cursor_visible_with_wide_characters() -> None:
    e = LineEditor()
    e.set("中文" * 20)  # 80 columns
    shown, col = e.view(20)
    assert text_width(shown) <= 20
    assert col <= 19
    assert e.text.endswith(shown)
    e.press("home")
    shown, col = e.view(20)
    assert (shown[:2], col) == ("中文", 0)


def test_text_width_counts_wide_and_combining_characters() -> None:
    assert text_width("abc") == 3
    assert text_width("中文") == 4
    assert text_width("e\u0301") == 1
    assert text_width("Привет") == 6


def test_the_row_scrolls_to_the_first_character_from_which_the_cursor_fits() -> None:
    """The scroll was found one character at a time from where it stood, each step measuring
    the text up to the cursor again: End on 8,000 pasted characters took 10 s, the client deaf
    meanwhile (a review in tmux). It is found walking back from the cursor now; the row is the
    same as before. The character under the cursor fits whole."""
    rng = random.Random(15)
    alphabet = "ab漢字\u0301é😀 "
    for _ in range(500):
        editor = LineEditor()
        editor.set("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))
        for _ in range(5):
            editor.cursor, width = rng.randint(0, len(editor.text)), rng.randint(1, 30)
            before = editor._scroll
            shown, column = editor.view(width)
            under = editor.text[editor.cursor : editor._next(editor.cursor)]
            fits = max(width - max(text_width(under), 1), 0)  # the cursor's character shows
            if text_width(editor.text) < width:
                assert editor._scroll == 0
            else:
                start = editor._scroll
                assert text_width(editor.text[start : editor.cursor]) <= fits
                assert (
                    start <= before
                    or start == 0
                    or (text_width(editor.text[start - 1 : editor.cursor]) > fits)
                )  # the first that fits, when it had to move on
            assert column == text_width(editor.text[editor._scroll : editor.cursor])
    editor = LineEditor()
    editor.set("x" * 20_000)
    assert editor.view(80) == ("x" * 79, 79)  # End: the last 79 and the cursor after them


def test_clip_keeps_what_fits_in_the_columns() -> None:
    assert clip("漢字abc", 3) == "漢"
    assert clip("abc", 10) == "abc"
    assert clip("e\u0301x", 1) == "e\u0301"


def test_marks_without_a_combining_class_and_format_characters_take_no_column() -> None:
    """Thai vowels and Devanagari's vowel signs are marks (Mn) with no combining class: each was
    counted a column, and Home on ``สวัสดี ok`` put the cursor two columns into the prompt."""
    assert text_width("สวัสดี") == 4  # ส ว ั ส ด ี: two vowels above
    assert text_width("नमस्ते") == 4  # the virama and the vowel sign e
    assert text_width("1\u20e3") == 1  # an enclosing keycap
    assert text_width("a\u2060b\u200e\u200fc") == 3  # word joiner, direction marks
    assert text_width("\u1100\u1161\u11a8") == 2  # a decomposed Hangul syllable
    assert text_width("soft\u00adhyphen") == 11  # drawn where it is, a column
    assert text_width("ः") == 1  # a spacing mark (Mc) takes its column
    assert text_width("\u2764\ufe0f") == 2  # many terminals draw an emoji so selected wide
    e = LineEditor()
    e.set("สวัสดี ok")
    assert e.view(40) == ("สวัสดี ok", 7)
    e.press("home")
    assert e.view(40) == ("สวัสดี ok", 0)


def test_the_cursor_steps_over_a_letter_and_its_marks_together() -> None:
    """A decomposed é is two characters and one column: Left and Right took one at a time, so
    every other press left the cursor where it was on the screen, Backspace took the accent off
    the letter and Delete left it on the letter before."""
    e = LineEditor()
    e.set("re\u0301sume\u0301")  # résumé, decomposed (as macOS gives file names)
    e.press("left")
    assert e.cursor == 6  # before the é, in one press
    for _ in range(3):
        e.press("left")
    assert e.cursor == 3  # before the s
    e.press("left")
    assert e.cursor == 1  # before the é
    e.press("right")
    assert e.cursor == 3
    e.press("backspace")
    assert (e.text, e.cursor) == ("rsume\u0301", 1)
    e.press("end")
    e.press("backspace")
    assert e.text == "rsum"
    e.set("cafe\u0301 ok", 3)
    e.press("delete")
    assert (e.text, e.cursor) == ("caf ok", 3)
    e.set("ab\u0301", 3)
    e.press("ctrl-t")  # the last two change places, the accent with its letter
    assert (e.text, e.cursor) == ("b\u0301a", 3)
    e.set("สวัสดี", 0)
    for cursor in (1, 3, 4, 6):  # ส ว|ั ส ด|ี : four columns, four steps
        e.press("right")
        assert e.cursor == cursor
    e.set("a\u2764\ufe0f")  # the emoji presentation selector goes with its character too
    e.press("left")
    assert e.cursor == 1
    e.press("right")
    e.press("backspace")
    assert e.text == "a"


def test_word_moves_keep_accents_and_vowel_signs_in_their_word() -> None:
    """Marks are not ``isalnum``: Alt+B stopped inside ``résumé`` (decomposed) and inside every
    Hindi word with a vowel sign, and Alt+Backspace left ``ré`` behind."""
    e = LineEditor()
    e.set("my re\u0301sume\u0301")
    e.press("alt-b")
    assert e.cursor == 3
    e.press("alt-f")
    assert e.cursor == len(e.text)
    e.press("alt-backspace")
    assert e.text == "my "
    e.set("नमस्कार दुनिया")
    e.press("alt-b")
    assert e.text[e.cursor :] == "दुनिया"
    e.press("alt-b")
    assert e.cursor == 0


def test_a_wide_character_under_the_cursor_shows_at_the_end_of_the_row() -> None:
    """Right along ``a中中中...``: with the 35 columns before the cursor filling all but one of
    the row's 72, the 中 under the cursor did not fit and was left out, the cursor on an empty
    cell at the row's end, where a letter typed went before a character nobody could see."""
    e = LineEditor()
    e.set("a" + "中" * 50, 0)
    e.view(72)
    for _ in range(36):
        e.press("right")
        shown, column = e.view(72)
        assert text_width(shown) <= 72
        before = len(clip(shown, column))  # the characters left of the cursor
        assert shown[before : before + 1] == "中"


def test_a_row_scrolled_on_a_narrow_window_fills_a_wider_one() -> None:
    """A line typed, the window made narrow and then wide again: the row kept the scroll of the
    narrow window and showed the last few letters, as if the rest were gone."""
    e = LineEditor()
    line = " ".join(f"word{i}" for i in range(20))  # 119 columns
    e.set(line)
    assert e.view(72) == (line[-71:], 71)
    assert e.view(4) == (line[-3:], 3)
    assert e.view(72) == (line[-71:], 71)
    e.press("left")
    e.press("left")
    assert e.view(4) == (line[-5:-1], 3)
    assert e.view(72) == (line[-72:], 70)
    e.set("中文" * 40, 0)  # from the start: what follows fills it
    e.view(72)
    e.press("end")
    assert e.view(5) == ("中文", 4)
    assert e.view(72) == ("文" + "中文" * 17, 70)
