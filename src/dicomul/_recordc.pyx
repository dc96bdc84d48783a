# cython: language_level=3
"""The compiled half of dicomul._record: fill a record's slots in one call.

A record's ``__setattr__`` refuses assignment (records are immutable), so its generated
``__init__`` must go around it; ``object.__setattr__`` once per field cost a third of
building a small event. This sets every field with the generic slot setter, which is what
``object.__setattr__`` ends in, without a Python call per field.
"""

from cpython.object cimport PyObject_GenericSetAttr
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE


def set_fields(object obj, tuple names, tuple values):
    """Set ``obj.<names[i]> = values[i]`` past a refusing ``__setattr__`` (the tuples
    are of one length: the generated __init__ builds both)."""
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(names)
    if PyTuple_GET_SIZE(values) != n:
        raise ValueError("set_fields: names and values differ in length")
    for i in range(n):
        PyObject_GenericSetAttr(
            obj, <object>PyTuple_GET_ITEM(names, i), <object>PyTuple_GET_ITEM(values, i)
        )
