"""``quick_init``: a frozen dataclass made faster is the same record as the plain one."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from tcpchat.core import cluster, commands, events, output
from tcpchat.core.records import quick_init


@dataclass(frozen=True)
class Plain:
    time: float
    text: str
    room: str | None = None
    seen: bool = False


@quick_init
@dataclass(frozen=True)
class Quick:
    time: float
    text: str
    room: str | None = None
    seen: bool = False


def test_a_quick_record_is_the_plain_one_in_every_way_but_its_init() -> None:
    plain, quick = Plain(1.5, "hi", seen=True), Quick(1.5, "hi", seen=True)
    assert vars(quick) == vars(plain) == {"time": 1.5, "text": "hi", "room": None, "seen": True}
    assert repr(quick) == repr(plain).replace("Plain", "Quick")
    assert quick == Quick(1.5, "hi", None, True) and quick != Quick(1.5, "hi")
    assert hash(quick) == hash(Quick(1.5, "hi", seen=True))
    assert dataclasses.replace(quick, room="#ops") == Quick(1.5, "hi", "#ops", True)
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quick(1.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick(1.5, "hi", colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "cls",
    [
        events.Message,
        events.Delivered,
        output.ToAll,
        output.ToSessions,
        output.Publish,
        cluster.Said,
        cluster.Whispered,
        commands.Say,
        commands.Whisper,
        commands.Action,
    ],
)
def test_each_quick_record_takes_the_parameters_of_its_dataclass(cls: type) -> None:
    """The parameters the dataclass declares, in order, with the same defaults."""
    params = list(inspect.signature(cls).parameters.values())
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert "_record" in cls.__init__.__code__.co_varnames  # made by quick_init
    declared = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in declared]
    for param, declared_field in zip(params, declared):
        expected = declared_field.default
        if expected is dataclasses.MISSING:
            assert param.default is inspect.Parameter.empty
        else:
            assert param.default == expected


def test_what_quick_init_cannot_make_the_same_is_refused_at_import() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class Computed:
        a: int
        b: int = field(default=0, init=False)

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, Factory, Computed, Checked, int):
        with pytest.raises(TypeError):
            quick_init(cls)
