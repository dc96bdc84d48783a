"""dicomul._record: the immutable record classes the events and DIMSE messages are made of
(what @dataclass(frozen=True, slots=True) gave them, without its import-time cost)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from dicomul._record import REQUIRED, Factory, FrozenInstanceError, fields, record


@record
class Point:
    """A positional record."""

    x: int
    y: int = 0
    label: str = ""
    kind: ClassVar[str] = "point"  # not a field


@record(kw_only=True, hidden=("extra",))
class Base:
    message_id: int
    status: int = 0
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True)
class Child(Base):
    count: int | None = None


@record
class Empty:
    pass


def test_init_defaults_and_fields() -> None:
    p = Point(1)
    assert (p.x, p.y, p.label) == (1, 0, "")
    assert Point(1, 2, "a") == Point(x=1, y=2, label="a")
    assert fields(Point) == {"x": REQUIRED, "y": 0, "label": ""}
    assert Point.kind == "point" and Point.__match_args__ == ("x", "y", "label")
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, "a", 4)  # type: ignore[call-arg]


def test_kw_only_inheritance_and_factory() -> None:
    c = Child(message_id=7, count=3)
    assert list(fields(Child)) == ["message_id", "status", "extra", "count"]
    assert (c.message_id, c.status, c.count, c.extra) == (7, 0, 3, {})
    assert Child(message_id=1).extra is not Child(message_id=1).extra  # a fresh dict each
    with pytest.raises(TypeError):
        Child(7)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Child()  # type: ignore[call-arg]


def test_repr_eq_hash() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, label='')"
    assert repr(Base(message_id=1, extra={5: b"x"})) == "Base(message_id=1, status=0)"
    assert repr(Empty()) == "Empty()" and Empty() == Empty()
    assert Point(1) == Point(1) and Point(1) != Point(2)
    assert Base(message_id=1) != Child(message_id=1)  # another class is never equal
    assert Point(1).__eq__((1, 0, "")) is NotImplemented
    # hidden fields are compared but not hashed (a dict value is unhashable)
    assert Base(message_id=1, extra={1: 2}) != Base(message_id=1)
    assert hash(Base(message_id=1, extra={1: 2})) == hash(Base(message_id=1))
    assert len({Point(1), Point(1), Point(2)}) == 2


def test_frozen_and_slotted() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.x  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__") and Point.__slots__ == ("x", "y", "label")
    assert Child.__slots__ == ("count",)  # the base's fields live in the base's slots


def test_pickle_and_copy() -> None:
    c = Child(message_id=7, extra={1: "a"}, count=2)
    for other in (pickle.loads(pickle.dumps(c)), copy.copy(c), copy.deepcopy(c)):
        assert other == c and type(other) is Child


def test_match() -> None:
    match Point(3, 4):
        case Point(3, y):
            assert y == 4
        case _:
            pytest.fail("no match")


def test_required_after_default_is_refused() -> None:
    with pytest.raises(TypeError, match="required field after a default"):

        @record
        class Bad:
            a: int = 0
            b: int
