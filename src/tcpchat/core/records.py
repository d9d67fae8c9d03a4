"""Frozen dataclasses that are quick to make, for the records a message makes on its way.

``dataclass(frozen=True)`` gives a class an ``__init__`` that sets each field through
``object.__setattr__``, since the class refuses plain assignment: about 0.15 µs a field on the
benchmark machine, 1.3 µs for an event of eight fields. A room message makes five or six such
records (the command, the message, its confirmation, the instructions that carry them; in a
cluster its log entry and the instruction to append it): 10-12 % of what a message costs a
server in all. ``quick_init`` gives such a class an ``__init__`` that writes the fields into the
new instance's ``__dict__`` instead: the same instance, equal, hashed and shown the same, still
frozen to assignment, made in about a third of the time (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give ``cls``, a frozen dataclass whose fields all come from ``__init__``, with plain
    defaults or none, a faster ``__init__`` with the same parameters (applied over
    ``@dataclass(frozen=True)``, which type checkers read). Anything past that is a TypeError
    at import, not a record made wrong."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with a __dict__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__")
    fields = dataclasses.fields(cast(Any, cls))
    if any(field.name == "_record" for field in fields):
        raise TypeError(f"{cls.__name__} has a field named _record")
    names: list[str] = []
    defaults: dict[str, Any] = {}
    for field in fields:
        plain = field.init and field.default_factory is dataclasses.MISSING
        if not plain or getattr(field, "kw_only", False) is True:
            raise TypeError(f"{cls.__name__}.{field.name} is not a plain field")
        if field.default is not dataclasses.MISSING:
            defaults[f"_default_{field.name}"] = field.default
            names.append(f"{field.name}=_default_{field.name}")
        else:
            names.append(field.name)
    body = "".join(f"\n    _record[{field.name!r}] = {field.name}" for field in fields)
    source = f"def __init__(self, {', '.join(names)}):\n    _record = self.__dict__{body}\n"
    made: dict[str, Any] = {}
    exec(source, defaults, made)  # (as dataclasses makes its own: one function per class)
    init = made["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]  # (checkers keep the dataclass's)
    return cls
