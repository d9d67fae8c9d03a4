"""Names: look-alikes, invisible characters, scripts and reserved names (UTS #39), through the hub
and through the functions of ``names`` and the generated ``unicode_tables``."""

from __future__ import annotations

import unicodedata

import pytest

from tcpchat.core import events as ev
from tcpchat.core import unicode_tables
from tcpchat.core.limits import RESERVED_NAMES
from tcpchat.core.names import (
    ReservedNames,
    fold,
    is_invisible,
    look_keys,
    name_key,
    name_problem,
    scripts_of,
    skeleton,
)
from tcpchat.core.rooms import room_problem
from tcpchat.core.session import State
from tests.core.test_hub import Chat, only


@pytest.fixture
def chat() -> Chat:
    """alice and bob are online."""
    chat = Chat()
    chat.join("alice")
    chat.join("bob")
    chat.drain()
    return chat


def refusal(chat: Chat, name: str) -> ev.Error:
    """Try ``name`` on a new connection; the one error it gets (it must get a new prompt too)."""
    s = chat.connect()
    chat.take(s)
    chat.line(s, name)
    events = chat.take(s)
    assert s.state is State.NAME, events
    assert isinstance(events[-1], ev.Prompt) and events[-1].field == "name"
    (error,) = only(events, ev.Error)
    assert isinstance(error, ev.Error)
    return error


# --- the look-alikes of issue 11, finding 4 ---------------------------------------------------

IMPOSTORS = [
    # whole-script and Latin look-alikes of alice and bob
    ("аӏісе", "name_taken"),  # Cyrillic a, palochka, i, es, ie
    ("ɑlice", "name_taken"),  # Latin alpha
    ("alıce", "name_taken"),  # dotless i
    ("AIice", "name_taken"),  # capital i for l
    ("a1ice", "name_taken"),  # digit one for l
    ("ALICE", "name_taken"),
    ("ａｌｉｃｅ", "name_taken"),  # full-width
    ("ВОВ", "name_taken"),  # Cyrillic capitals
    ("вов", "name_taken"),  # Cyrillic ve is a small capital B
    ("ΒΟΒ", "name_taken"),  # Greek capitals
    # invisible additions and fillers
    ("alice\u034f", "name_invalid"),  # combining grapheme joiner
    ("alice\ufe0f", "name_invalid"),  # variation selector
    ("alice\U000e0100", "name_invalid"),  # variation selector supplement
    ("ali\u200dce", "name_invalid"),  # zero width joiner
    ("al\u00adice", "name_invalid"),  # soft hyphen
    ("\u3164", "name_invalid"),  # Hangul filler, a letter that draws nothing
    ("\u115f\u1160", "name_invalid"),
    ("\uffa0", "name_invalid"),
    ("\u2800", "name_invalid"),  # braille blank
    ("alice\u2800", "name_invalid"),
    ("alicé\u0301", "name_invalid"),  # a second acute accent on the same e
    ("ali\u0307ce", "name_invalid"),  # a dot on the i's dot
    ("alı\u0307ce", "name_invalid"),  # a dot on a dotless i
    ("alice\u0301\u0341", "name_invalid"),  # acute accent and acute tone mark, one on the other
    # mixes with other scripts
    ("аlice", "name_invalid"),  # Cyrillic a
    ("bօb", "name_invalid"),  # Armenian oh
    ("bⲟb", "name_invalid"),  # Coptic o
    ("Ꭺlice", "name_invalid"),  # Cherokee A
    # reserved names in disguise
    ("ꜱᴇʀᴠᴇʀ", "name_reserved"),  # small capitals
    ("ʀᴏᴏᴛ", "name_reserved"),
    ("server.", "name_reserved"),
    ("_root", "name_reserved"),
    ("root_", "name_reserved"),
    ("tcp_chat", "name_reserved"),
    ("r00t", "name_reserved"),
    ("ΑΙΙ", "name_reserved"),  # Greek alpha, iota, iota: "All"
    ("МЕ", "name_reserved"),  # Cyrillic em, ie
    ("ѕеrvеr", "name_invalid"),  # Cyrillic dze and ie among Latin letters
]


@pytest.mark.parametrize(("name", "code"), IMPOSTORS)
def test_look_alikes_of_online_and_reserved_names_are_refused(
    chat: Chat, name: str, code: str
) -> None:
    assert refusal(chat, name).code == code


def test_leading_dash_is_refused_and_reserved_names_stay_reserved(chat: Chat) -> None:
    assert refusal(chat, "-root").code == "name_invalid"  # names start with a letter, digit, _
    for name in sorted(RESERVED_NAMES):
        assert refusal(chat, name.upper()).code == "name_reserved"


def test_a_look_alike_is_told_whom_it_looks_like(chat: Chat) -> None:
    error = refusal(chat, "аӏісе")
    assert error.text == (
        'The name "аӏісе" looks too much like "alice", who is online. Choose another one.'
    )


def test_the_same_name_in_another_case_is_simply_taken(chat: Chat) -> None:
    assert refusal(chat, "Alice").text == 'The name "Alice" is taken. Choose another one.'


def test_refusals_say_what_is_wrong(chat: Chat) -> None:
    assert refusal(chat, "alice\u034f").text == "A name may not contain invisible characters."
    assert "one script" in refusal(chat, "bօb").text
    assert refusal(chat, "ꜱᴇʀᴠᴇʀ").text == (
        'The name "ꜱᴇʀᴠᴇʀ" looks like the reserved name "server". Choose another one.'
    )
    assert refusal(chat, "Server").text == 'The name "Server" is reserved. Choose another one.'


def test_greek_rho_reads_as_p_so_poot_is_the_name_it_mimics() -> None:
    """The finding's Greek "ΡΟΟΤ" is rho, omicron, omicron, tau: it reads "POOT", not "ROOT"."""
    assert name_problem("ΡΟΟΤ") is None
    assert name_key("POOT") in look_keys("ΡΟΟΤ")
    chat = Chat()
    chat.join("poot")
    assert refusal(chat, "ΡΟΟΤ").code == "name_taken"


def test_a_look_alike_may_join_once_the_real_one_has_left(chat: Chat) -> None:
    chat.line(chat.users["alice"], "/quit")
    chat.join("аӏісе")


def test_a_rename_frees_the_old_look_and_takes_the_new(chat: Chat) -> None:
    alice, bob = chat.users["alice"], chat.users["bob"]
    chat.line(alice, "/nick alicia")
    chat.join("ɑlice")
    chat.drain()
    chat.line(bob, "/nick аlicia")  # Cyrillic a among Latin letters
    assert [e.code for e in only(chat.take(bob), ev.Error)] == ["name_invalid"]  # type: ignore[attr-defined]
    chat.line(bob, "/nick ALICIA")
    assert [e.code for e in only(chat.take(bob), ev.Error)] == ["name_taken"]  # type: ignore[attr-defined]
    chat.line(bob, "/nick \u0410\u04c0\u0406\u0421\u0406\u0410")  # Cyrillic capitals only
    assert [e.code for e in only(chat.take(bob), ev.Error)] == ["name_taken"]  # type: ignore[attr-defined]


def test_renaming_to_your_own_name_in_another_case_or_look_is_allowed(chat: Chat) -> None:
    alice = chat.users["alice"]
    chat.line(alice, "/nick Alice")
    assert kinds_of(chat.take(alice)) == ["Renamed"]
    chat.line(alice, "/nick AIice")
    assert kinds_of(chat.take(alice)) == ["Renamed"]


def kinds_of(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_whisper_to_a_look_alike_spelling_reaches_the_real_user(chat: Chat) -> None:
    alice, bob = chat.users["alice"], chat.users["bob"]
    chat.line(bob, "/w аӏісе hi")
    (message,) = chat.take(alice)
    assert isinstance(message, ev.Message) and message.to == "alice"


# --- welcome names -----------------------------------------------------------------------------

WELCOME = [
    "Мария",
    "Анна",
    "Борис",
    "Ελένη",
    "Σωκράτης",
    "José",
    "Zoë",
    "Łukasz",
    "Ørjan",
    "Nguyễn",
    "İpek",
    "Çağrı",
    "Þór",
    "محمد",
    "محمد١٢",
    "دوست",
    "דוד",
    "राम",
    "अनिल_42",
    "田中太郎",
    "たなか",
    "タナカ",
    "山田さくら",
    "李雷",
    "王小明",
    "ㄅㄆ李",
    "김민수",
    "田中Taro",
    "Kim민수",
    "Արամ",
    "ქეთი",
    "สมชาย",
    "ⲡⲓⲣⲱⲙⲓ",  # Coptic alone is one script
    "a.b-c_9",
    "bob2",
    "_",
]


@pytest.mark.parametrize("name", WELCOME)
def test_names_in_many_scripts_are_accepted(name: str) -> None:
    chat = Chat()
    assert chat.join(name).name == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("name", WELCOME)
def test_keys_are_case_insensitive_in_every_script(name: str) -> None:
    assert name_key(name.upper()) == name_key(name.lower()) == name_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "Алиса田中",  # Cyrillic with Han: only Latin may join Han
        "Ελena",
        "Мariа",
        "abc١",  # Arabic-Indic digit in a Latin name
        "Ελληνικά日本",
        "שלוםعرب",
    ],
)
def test_names_mixing_scripts_are_refused(name: str) -> None:
    problem = name_problem(name)
    assert problem is not None and problem[0] == "name_invalid" and "one script" in problem[1]


def test_digits_of_two_systems_are_refused_one_system_is_fine() -> None:
    assert name_problem("1١") == ("name_invalid", "A name uses digits of one kind only.")
    assert name_problem("١٢") is None
    assert name_problem("agent007") is None


def test_a_pile_of_marks_is_refused() -> None:
    problem = name_problem("a\u0300\u0301\u0302\u0303\u0304")
    assert problem is not None and "marks" in problem[1]
    assert name_problem("Nguyễn") is None  # e with two marks


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bob\u20dd\u20dd", "may not repeat a mark"),  # a circle drawn twice is one circle
        ("bob\u20dd\u20de\u20df\u20e0\u20e3", "at most 4 marks"),  # five enclosing ones
    ],
)
def test_enclosing_marks_count_as_marks(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None and problem[0] == "name_invalid" and why in problem[1], problem
    assert name_problem("bob\u20dd") is None
    # Another node of a version before this rule accepted it: its user is still shown here.
    assert name_problem(name, trusted=True) is None


@pytest.mark.parametrize(
    ("room", "why"),
    [
        ("#i\u0307nfo", 'A room name may not put a dot above "i"'),  # beside #info
        ("#o\u0308\u0308ps", "A room name may not repeat a mark"),  # beside #öps
        ("#o\u0336\u0336\u0336ps", "A room name may not repeat a mark"),
        ("#z" + "\u0300\u0301\u0302\u0303\u0304\u0305" * 5, "at most 4 marks"),
    ],
)
def test_room_names_follow_the_mark_rules_of_names(room: str, why: str) -> None:
    problem = room_problem(room)
    assert problem is not None and problem[0] == "room_invalid" and why in problem[1], problem
    assert room_problem("#öps") is None and room_problem("#Nguyễn") is None
    assert room_problem(room, trusted=True) is None  # accepted by a node of an older version


# --- keys --------------------------------------------------------------------------------------


def test_the_case_variants_and_look_alikes_of_alice_share_its_key() -> None:
    for name in ["Alice", "ALICE", "аlice", "ɑlice", "alıce", "аӏісе", "ａｌｉｃｅ"]:
        assert name_key(name) == name_key("alice"), name


def test_shapes_lost_by_case_folding_are_caught_by_the_look_key() -> None:
    assert name_key("AIice") != name_key("alice")
    assert name_key("alice") in look_keys("AIice")
    assert name_key("anna") in look_keys("ΑΝΝΑ")


def test_names_a_person_tells_apart_do_not_clash() -> None:
    def clash(a: str, b: str) -> bool:
        return bool(set(look_keys(a)) & set(look_keys(b)))

    assert not clash("Вера", "Vera")
    assert not clash("Тома", "Toma")
    assert not clash("Dan", "clan")
    assert not clash("alice", "alicia")
    assert not clash("Борис", "Boris")
    assert not clash("Ian", "Jan")
    assert clash("Анна", "АННА") and clash("Αννα", "ΑΝΝΑ")
    assert clash("Тор", "Top") and clash("ВОВ", "BOB")
    # The price, documented in names.py: these look alike in many fonts.
    assert clash("AI", "Al") and clash("Ian", "lan")


def test_skeleton_follows_uts39() -> None:
    assert skeleton("аӏісе") == "alice"
    assert skeleton("AIice") == "Alice"  # case-sensitive: the key folds case first
    assert skeleton("m") == "rn"
    assert skeleton("0") == "O"
    assert skeleton("é") == "e\u0301"  # NFD
    assert skeleton("ꜱᴇʀᴠᴇʀ") == "server"  # tcp-chat's small-capital rule


def test_fold_is_the_plain_case_insensitive_form() -> None:
    assert fold("ＡＬＩＣＥ") == fold("Alice") == "alice"
    assert fold("Straße") == "strasse"


def test_unassigned_and_odd_code_points_neither_crash_nor_pass() -> None:
    for ch in ["\u0378", "\U0010ffff", "\ue000", "\ud800", "\x00", "\U0001e030"]:
        name_key(ch)
        look_keys("a" + ch)
        problem = name_problem("a" + ch)
        assert problem is not None and problem[0] == "name_invalid", repr(ch)


# --- the generated tables ----------------------------------------------------------------------


def test_tables_say_where_they_come_from() -> None:
    assert unicode_tables.UNICODE_VERSION == "15.0.0"
    assert unicode_tables.CONFUSABLES_VERSION == "18.0.0"
    assert "Generated" in (unicode_tables.__doc__ or "")


def test_tables_know_the_scripts() -> None:
    assert scripts_of("a") == {"Latn"}
    assert scripts_of("а") == {"Cyrl"}
    assert scripts_of("ο") == {"Grek"}
    assert scripts_of("օ") == {"Armn"}
    assert scripts_of("ⲟ") == {"Copt"}
    assert scripts_of("ߊ") == {"Nkoo"}
    assert scripts_of("漢") == {"Hani", "Hanb", "Jpan", "Kore"}
    assert scripts_of("か") == {"Hira", "Jpan"}
    assert scripts_of("ー") == {"Hira", "Kana", "Jpan"}  # Script_Extensions, not Script
    assert scripts_of("한") == {"Hang", "Kore"}
    assert scripts_of("1") is None and scripts_of("_") is None and scripts_of("\u0301") is None
    assert scripts_of("\u0378") == {"Zzzz"}  # unassigned
    assert scripts_of("\U0001e030") == {"Cyrl"}  # new in Unicode 15.0


def test_tables_know_the_confusables() -> None:
    for impostor, real in [
        ("ɑ", "a"),
        ("ı", "i"),
        ("ӏ", "l"),  # palochka: "i" before confusables.txt 14
        ("і", "i"),
        ("о", "o"),
        ("ο", "o"),
        ("օ", "o"),
        ("ⲟ", "o"),
        ("Ρ", "P"),
        ("1", "l"),
        ("I", "l"),
        ("ᴇ", "e"),
        ("в", "b"),  # via the small capital ʙ
    ]:
        assert skeleton(impostor) == real, impostor


def test_tables_know_the_invisible_characters() -> None:
    for ch in "\u034f\u00ad\u200b\u200c\u200d\u2060\ufe00\ufe0f\ufeff\u115f\u1160\u3164\uffa0":
        assert is_invisible(ch), f"U+{ord(ch):04X}"
    for ch in "\U000e0001\U000e0100\u2800":
        assert is_invisible(ch), f"U+{ord(ch):04X}"
    for ch in "a1_ ай漢\u0301":
        assert not is_invisible(ch), f"U+{ord(ch):04X}"


def test_the_servers_name_is_reserved_with_its_look_alikes_where_it_is_the_servers() -> None:
    """The hub reserves its server's name (``--server-name``) as it reserves "server"."""
    reserved = ReservedNames([*RESERVED_NAMES, "vm"])
    assert name_problem("VM", reserved) == (
        "name_reserved",
        'The name "VM" is reserved. Choose another one.',
    )
    assert name_problem("v-m", reserved) == (
        "name_reserved",
        'The name "v-m" looks like the reserved name "vm". Choose another one.',
    )
    assert name_problem("server.", reserved) is not None
    assert name_problem("vm") is None  # elsewhere, vm is anybody's
    assert name_problem("vmware", reserved) is None
    assert ReservedNames(["", "vm"]).find("__") is None  # no name given reserves nothing
