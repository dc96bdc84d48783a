# cython: language_level=3
"""Compiled DIMSE command set codec (PS3.7 6.3.1, Annex E): the hot part of
:mod:`dicomul.dimse._codec`, which owns the element tables and the error messages.

Both functions report bad input as values, not exceptions: the Python layer turns a fault
tuple into a DIMSEError / TypeError / ValueError with its message, so the messages live
in one place.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.object cimport PyObject_GenericSetAttr
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from dicomul.dimse._ul_cmd cimport (
    ul_cmd_begin,
    ul_cmd_elem,
    ul_cmd_next,
)

# Value kinds, the same numbers as _dimse_codec's: US, UL, UI, AE, LO, AT, RAW; and the two
# layout-only kinds of DIMSEMessage.encode: the Command Field and the Command Data Set Type
# from has_dataset.

cdef enum:
    K_US = 0
    K_UL = 1
    K_UI = 2
    K_AE = 3
    K_LO = 4
    K_AT = 5
    K_RAW = 6
    K_FIELD = -1
    K_DATASET_TYPE = -2

# Value faults found here (the scanner's own are the negative UL_CMD_* codes).
cdef enum:
    F_US_LENGTH = 1
    F_UL_LENGTH = 2
    F_AT_LENGTH = 3
    F_NOT_ASCII = 4

# Encode faults: (index, code, detail).
cdef enum:
    E_TYPE = 1       # wrong Python type for the VR
    E_RANGE = 2      # an integer outside the VR's range
    E_UID = 3        # not a UID
    E_TEXT = 4       # not valid AE / LO text
    E_TAG = 5        # an AT value that is not a 32-bit tag (detail: the value)
    E_ODD_RAW = 6    # raw bytes of odd length
    E_RETIRED = 7    # a retired/unknown element given as something other than bytes
    E_REQUIRED = 8   # a required field is None or ""


cdef inline bint _ascii(const uint8_t *p, size_t n) noexcept:
    cdef size_t i
    for i in range(n):
        if p[i] >= 0x80:
            return False
    return True


def scan_command(bytes data, dict kinds):
    """Decode a command set into ``{element: value}`` ((0000,0000) included), or return
    a fault tuple ``(code, offset, group, element, previous element, length)``.

    ``kinds`` maps element numbers to value kinds (absent: raw bytes)."""
    cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef size_t n = len(data), pos = 12, start
    cdef uint32_t group_length
    cdef uint16_t prev = 0
    cdef ul_cmd_elem el
    cdef int rc = ul_cmd_begin(p, n, &group_length)
    cdef int kind
    cdef uint32_t i
    cdef dict out
    if rc < 0:
        return (rc, 0, 0, 0, 0, 0)
    out = {0: group_length}
    while True:
        rc = ul_cmd_next(p, n, &pos, &prev, &el)
        if rc == 0:
            return out
        if rc < 0:
            return (rc, el.offset, el.group, el.elem, prev, el.length)
        start = el.offset + 8
        k = kinds.get(el.elem)
        kind = K_RAW if k is None else <int>k
        if kind == K_US:
            if el.length != 2:
                return (F_US_LENGTH, el.offset, 0, el.elem, prev, el.length)
            value = p[start] | p[start + 1] << 8
        elif kind == K_UL:
            if el.length != 4:
                return (F_UL_LENGTH, el.offset, 0, el.elem, prev, el.length)
            value = (<uint32_t>p[start] | <uint32_t>p[start + 1] << 8
                     | <uint32_t>p[start + 2] << 16 | <uint32_t>p[start + 3] << 24)
        elif kind == K_UI or kind == K_AE or kind == K_LO:
            if not _ascii(p + start, el.length):
                return (F_NOT_ASCII, start, 0, el.elem, prev, el.length)
            text = (p + start)[:el.length].decode("ascii")
            value = text.rstrip("\0 ") if kind == K_UI else text.strip(" \0")
        elif kind == K_AT:
            if el.length & 3:
                return (F_AT_LENGTH, el.offset, 0, el.elem, prev, el.length)
            value = tuple([
                (<uint32_t>p[start + i] | <uint32_t>p[start + i + 1] << 8) << 16
                | <uint32_t>p[start + i + 2] | <uint32_t>p[start + i + 3] << 8
                for i in range(0, el.length, 4)
            ])
        else:
            value = data[start:start + el.length]
        out[el.elem] = value


cdef int _dataset_type(const uint8_t *v, size_t n) noexcept:
    """The (0000,0800) value, or -1: a lenient walk (no group length check), so that a
    command set the strict decoder refuses still gets its message delimited; the DIMSE
    layer reports it when the message is complete."""
    cdef size_t off = 0
    cdef uint32_t tag, length
    while off + 8 <= n:
        tag = (<uint32_t>v[off] | <uint32_t>v[off + 1] << 8 | <uint32_t>v[off + 2] << 16
               | <uint32_t>v[off + 3] << 24)
        length = (<uint32_t>v[off + 4] | <uint32_t>v[off + 5] << 8 | <uint32_t>v[off + 6] << 16
                  | <uint32_t>v[off + 7] << 24)
        if tag == 0x08000000:  # (0000,0800): group 0000 element 0800, little endian
            if length >= 2 and off + 10 <= n:
                return v[off + 8] | v[off + 9] << 8
            return -1
        if length > n - off - 8:
            return -1
        off += 8 + length
    return -1


cdef int _dataset_type_of(object command) except -2:
    cdef const uint8_t[::1] v
    if type(command) is bytes:  # the usual case: no buffer acquisition
        return _dataset_type(<const uint8_t *>PyBytes_AS_STRING(command), len(<bytes>command))
    v = command
    if v.shape[0] == 0:
        return -1
    return _dataset_type(&v[0], v.shape[0])


def command_dataset_type(command) -> int:
    """(0000,0800) CommandDataSetType of an Implicit VR Little Endian command set, or -1
    when absent or unreadable. 0x0101 means no data set follows (PS3.7 E.1)."""
    return _dataset_type_of(command)


def command_has_dataset(command) -> bool:
    """Whether a command set (any bytes-like, Implicit VR Little Endian) says a data set
    follows: its (0000,0800) CommandDataSetType is present and not 0101H (PS3.7 E.1).
    Never raises for the bytes' content; this is the predicate a Connection is given."""
    cdef int dst = _dataset_type_of(command)
    return dst != -1 and dst != 0x0101


cdef inline void _put16(uint8_t *p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF


cdef inline void _put32(uint8_t *p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = (v >> 24) & 0xFF


cdef inline bint _is_uid(const uint8_t *p, size_t n) noexcept:
    cdef size_t i
    if n > 64:
        return False
    for i in range(n):
        if not (p[i] == 0x2E or 0x30 <= p[i] <= 0x39):
            return False
    return True


cdef inline bint _is_text(const uint8_t *p, size_t n) noexcept:
    cdef size_t i
    for i in range(n):
        if p[i] < 0x20 or p[i] > 0x7E or p[i] == 0x5C:
            return False
    return True


def encode_command_set(elems, kinds, values, required, bint raw_ok):
    """Encode a command set from parallel sequences: ascending element numbers (without
    (0000,0000)), their kinds, their values (None: element omitted) and required flags.
    ``raw_ok``: a bytes-like value is written as it is, whatever the kind.

    Returns the bytes, with the Command Group Length first, or a fault tuple
    ``(index, code, detail)``."""
    cdef Py_ssize_t count = len(elems), i
    cdef list prepared = [None] * count
    cdef uint64_t body = 0
    cdef int kind
    cdef bytes raw
    cdef const uint8_t *rp
    for i in range(count):
        value = values[i]
        kind = kinds[i]
        if kind == K_DATASET_TYPE:  # from has_dataset: any truth value, None is False
            prepared[i] = 0x0001 if value else 0x0101
            body += 10
            continue
        if required[i] and (value is None or (isinstance(value, str) and not value)):
            return (i, E_REQUIRED, None)
        if value is None:
            continue
        if kind == K_FIELD:
            kind = K_US
        if raw_ok and isinstance(value, (bytes, bytearray, memoryview)):
            kind = K_RAW
        if kind == K_US or kind == K_UL:
            if not isinstance(value, int):
                return (i, E_TYPE, type(value).__name__)
            if value < 0 or value > (0xFFFF if kind == K_US else 0xFFFFFFFF):
                return (i, E_RANGE, value)
            prepared[i] = value
            body += 10 if kind == K_US else 12
        elif kind == K_UI or kind == K_AE or kind == K_LO:
            if not isinstance(value, str):
                return (i, E_TYPE, type(value).__name__)
            raw = (<str>value).encode("ascii", "replace")
            rp = <const uint8_t *>PyBytes_AS_STRING(raw)
            if kind == K_UI:
                if not _is_uid(rp, len(raw)):
                    return (i, E_UID, value)
            elif (len(raw) > (16 if kind == K_AE else 64) or not (<str>value).isascii()
                  or not _is_text(rp, len(raw))):
                return (i, E_TEXT, value)
            prepared[i] = raw
            body += 8 + len(raw) + (len(raw) & 1)
        elif kind == K_AT:
            tags = (value,) if isinstance(value, int) else tuple(value)
            for t in tags:
                if not isinstance(t, int) or t < 0 or t > 0xFFFFFFFF:
                    return (i, E_TAG, t)
            prepared[i] = tags
            body += 8 + 4 * len(tags)
        else:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                return (i, E_RETIRED, type(value).__name__)
            raw = bytes(value)
            if len(raw) & 1:
                return (i, E_ODD_RAW, len(raw))
            prepared[i] = raw
            body += 8 + len(raw)
    if body > 0xFFFFFFFF:
        raise ValueError("command set too long")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 12 + body)
    cdef uint8_t *w = <uint8_t *>PyBytes_AS_STRING(out)
    cdef uint32_t elem, vlen
    _put32(w, 0)
    _put32(w + 4, 4)
    _put32(w + 8, <uint32_t>body)
    w += 12
    for i in range(count):
        item = prepared[i]
        if item is None:
            continue
        elem = elems[i]
        _put16(w, 0)
        _put16(w + 2, elem)
        if isinstance(item, int):
            kind = kinds[i]
            if kind == K_UL:
                _put32(w + 4, 4)
                _put32(w + 8, <uint32_t>item)
                w += 12
            else:
                _put32(w + 4, 2)
                _put16(w + 8, <uint32_t>item)
                w += 10
        elif isinstance(item, tuple):
            _put32(w + 4, 4 * len(item))
            w += 8
            for t in item:
                _put16(w, <uint32_t>(t >> 16))
                _put16(w + 2, <uint32_t>(t & 0xFFFF))
                w += 4
        else:
            raw = <bytes>item
            vlen = <uint32_t>len(raw)
            kind = kinds[i]
            if vlen & 1:  # text: UI pads with NUL, AE and LO with a space
                _put32(w + 4, vlen + 1)
                memcpy(w + 8, PyBytes_AS_STRING(raw), vlen)
                w[8 + vlen] = 0 if kind == K_UI else 0x20
                w += 9 + vlen
            else:
                _put32(w + 4, vlen)
                if vlen:
                    memcpy(w + 8, PyBytes_AS_STRING(raw), vlen)
                w += 8 + vlen
    return out


def build_message(type cls, dict command, tuple fields):
    """The message object of class ``cls`` for a decoded ``command`` (as scan_command
    gives it), which it empties of what it uses. ``fields``: ``(element, name,
    required)`` per field of the message's layout, in layout order. Absent optional
    fields become None (so decode -> encode writes back what was received); the rest of
    ``command`` becomes ``extra``. Returns the message, or the element (an int) of the
    first required field that is missing or empty (0x0800 when the Command Data Set Type
    is missing), for the caller to report.

    Fills the record's slots as its __init__ would (dicomul._recordc), without building
    keyword arguments for it.
    """
    cdef object obj = object.__new__(cls)
    cdef object value
    cdef tuple item
    for item in fields:
        value = command.pop(item[0], None)
        if item[2] and (value is None or value == ""):
            return item[0]
        PyObject_GenericSetAttr(obj, item[1], value)
    command.pop(0x0000, None)
    command.pop(0x0100, None)
    value = command.pop(0x0800, None)
    if value is None:
        return 0x0800
    PyObject_GenericSetAttr(obj, "has_dataset", value != 0x0101)  # NO_DATASET
    PyObject_GenericSetAttr(obj, "extra", command if command else {})
    return obj
