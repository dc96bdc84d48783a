"""Immutable record classes, cheap to define.

``@record`` gives what ``@dataclass(frozen=True, slots=True)`` gives the event and message
classes (an ``__init__`` from the annotated fields, ``__repr__``, ``__eq__``, ``__hash__``,
``__match_args__``, no attribute assignment after construction, ``__slots__``, pickling),
at a tenth of the cost per class: ``dataclasses`` imports ``inspect`` and runs half a dozen
``exec`` per class, which made up a third of ``dicomul echo``'s whole-process time. One
``exec`` per class here (``__init__``, which fills the slots with one compiled call);
the other methods are shared.

    @record(kw_only=True, hidden=("extra",))
    class Message:
        message_id: int
        status: int = 0
        extra: Mapping[int, Any] = Factory(dict)   # a fresh dict per instance

``hidden`` fields are left out of ``repr`` and ``hash`` (but compared by ``==``). Fields
of a record base class come first, in their order. Annotations are read as strings
(``from __future__ import annotations``); ``ClassVar[...]`` ones are not fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

from dicomul._recordc import set_fields

__all__ = ["REQUIRED", "Factory", "FrozenInstanceError", "record", "fields", "replace"]

T = TypeVar("T", bound=type)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The "default" of a field that has none (see :func:`fields`).
REQUIRED: Any = _Required()
_NO_DEFAULT = REQUIRED


class FrozenInstanceError(AttributeError):
    """Raised on assigning to or deleting a field of a record."""


class Factory:
    """A field default made anew for each instance: ``Factory(dict)``."""

    __slots__ = ("make",)

    def __init__(self, default_factory: Callable[[], Any]) -> None:
        self.make = default_factory


def fields(cls: type) -> dict[str, Any]:
    """``{name: default}`` of a record class, in field order; the default is a value, a
    :class:`Factory`, or :data:`REQUIRED`."""
    return dict(cls.__record_fields__)  # type: ignore[attr-defined]


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of the record ``obj`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {n: getattr(obj, n) for n in obj.__record_fields__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_shown__)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, n) == getattr(other, n) for n in self.__record_fields__)


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self.__record_shown__))


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in self.__record_fields__)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for name, value in zip(self.__record_fields__, state, strict=True):
        object.__setattr__(self, name, value)


def _own_fields(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if "ClassVar" in str(annotation):
            continue
        out[name] = cls.__dict__.get(name, _NO_DEFAULT)
    return out


def _make_init(names: dict[str, Any], kw_only: bool) -> Callable[..., None]:
    params, body, env = [], [], {"_fill": set_fields, "_NO": _NO_DEFAULT}
    for i, (name, default) in enumerate(names.items()):
        if default is _NO_DEFAULT:
            params.append(name)
        elif isinstance(default, Factory):
            params.append(f"{name}=_NO")
            env[f"_f{i}"] = default.make
            body.append(f"    if {name} is _NO: {name} = _f{i}()")
        else:
            params.append(f"{name}=_d{i}")
            env[f"_d{i}"] = default
    env["_names"] = tuple(names)
    if names:  # one compiled call sets every slot (dicomul._recordc)
        body.append(f"    _fill(self, _names, ({', '.join(names)},))")
    star = "*, " if kw_only and params else ""
    src = f"def __init__(self, {star}{', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(src, env)  # noqa: S102 -- built from identifiers of our own classes only
    return env["__init__"]  # type: ignore[no-any-return]


@dataclass_transform(frozen_default=True, field_specifiers=(Factory,))
def record(cls: T | None = None, *, kw_only: bool = False, hidden: tuple[str, ...] = ()) -> Any:
    """Make ``cls`` an immutable record (see the module docstring); ``@record`` or
    ``@record(kw_only=True, hidden=(...))``."""

    def wrap(cls: T) -> T:
        inherited: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited.update(getattr(base, "__record_fields__", {}))
        own = _own_fields(cls)
        all_fields = {**inherited, **own}
        if not kw_only:
            seen_default = False
            for name, default in all_fields.items():
                if default is _NO_DEFAULT and seen_default:
                    raise TypeError(f"{cls.__name__}.{name}: a required field after a default")
                seen_default = seen_default or default is not _NO_DEFAULT
        ns = {k: v for k, v in cls.__dict__.items() if k not in own}
        ns.pop("__dict__", None)
        ns.pop("__weakref__", None)
        base_hidden = getattr(cls, "__record_hidden__", ())
        hide = frozenset(hidden) | frozenset(base_hidden)
        ns.update(
            __slots__=tuple(n for n in own if n not in inherited),
            __record_fields__=all_fields,
            __record_hidden__=hide,
            __record_shown__=tuple(n for n in all_fields if n not in hide),
            __match_args__=() if kw_only else tuple(all_fields),
            __init__=_make_init(all_fields, kw_only),
            __repr__=_repr,
            __eq__=_eq,
            __hash__=_hash,
            __setattr__=_frozen_setattr,
            __delattr__=_frozen_delattr,
            __getstate__=_getstate,
            __setstate__=_setstate,
        )
        new = type(cls)(cls.__name__, cls.__bases__, ns)
        new.__qualname__ = cls.__qualname__
        new.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
        return new  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)
