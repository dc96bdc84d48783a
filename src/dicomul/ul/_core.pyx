# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The binding of csrc/ (ul.h): buffers in, spans out, spans turned into Python objects.

Glue only: every byte is parsed and every length checked in C. This module owns the C
structs for one call, accepts any contiguous buffer, builds Python objects from spans once
per call, and maps each C status to an exception in one place (_raise).
"""

from cpython.bytearray cimport PyByteArray_FromStringAndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from dicomul.ul._ul cimport *

from dicomul.errors import ProtocolError

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    bint PyUnicode_IS_ASCII(object s)

# Limits on what one A-ASSOCIATE-RQ/AC may hold (DESIGN.md 1.8: bounded everything).
MAX_PRESENTATION_CONTEXTS = 256
MAX_TRANSFER_SYNTAXES = 4096
MAX_USER_ITEMS = 512
MAX_RELATED_UIDS = 256
#: Default maximum PDU length accepted by a reader (the PDU length field).
DEFAULT_MAX_PDU_LENGTH = 4 * 1024 * 1024

# A-ABORT reasons (PS3.8 Table 9-26) for each C status, and a phrase for the message.
cdef dict _REASONS = {
    UL_E_TRUNCATED: (6, "a length runs past the end of its field"),
    UL_E_TOO_LARGE: (6, "PDU length exceeds the maximum accepted"),
    UL_E_UNKNOWN_PDU: (1, "unrecognized PDU type"),
    UL_E_BAD_LENGTH: (6, "wrong length for a fixed-size field"),
    UL_E_MISSING: (4, "a mandatory item is missing"),
    UL_E_DUPLICATE: (5, "an item that may appear once appears again"),
    UL_E_LIMIT: (6, "more items than dicomul accepts in one PDU"),
    UL_E_WRONG_TYPE: (2, "not the PDU type expected here"),
    UL_E_ARG: (0, "a value does not fit its field"),
    UL_E_BUFFER: (0, "output buffer too small"),
}


cdef int _raise(int code, size_t offset, str what) except -1:
    """The one map from a C status to an exception."""
    if code == UL_E_ARG or code == UL_E_BUFFER:
        raise ValueError(f"{what}: {_REASONS[code][1]}")
    reason, text = _REASONS.get(code, (0, f"error {code}"))
    raise ProtocolError(
        f"{what}: {text} (at byte {offset})", abort_source=2, abort_reason=reason, offset=offset
    )


# ---- spans -> str -------------------------------------------------------------------------

cdef inline str _latin1(const uint8_t *p, Py_ssize_t n):
    return PyUnicode_DecodeLatin1(<const char *>p, n, NULL)


cdef inline str _uid(const uint8_t *base, ul_span s):
    """A UID value: trailing NUL or space padding removed (PS3.8 9.3.2.x, PS3.5 9.1)."""
    cdef const uint8_t *p = base + s.off
    cdef Py_ssize_t n = s.len
    while n > 0 and (p[n - 1] == 0 or p[n - 1] == 32):
        n -= 1
    return _latin1(p, n)


cdef inline str _ae(const uint8_t *base, ul_span s):
    """An AE title without its padding (leading and trailing spaces are not significant)."""
    cdef const uint8_t *p = base + s.off
    cdef Py_ssize_t a = 0, n = s.len
    while n > 0 and (p[n - 1] == 0 or p[n - 1] == 32):
        n -= 1
    while a < n and p[a] == 32:
        a += 1
    return _latin1(p + a, n - a)


cdef struct _UidCache:
    const uint8_t *p[16]
    uint32_t n[16]
    int count


cdef inline str _cached_uid(const uint8_t *base, ul_span s, _UidCache *c, list strs):
    """_uid() with a tiny per-call cache: transfer syntaxes repeat in every context."""
    cdef int i
    cdef const uint8_t *p = base + s.off
    for i in range(c.count):
        if c.n[i] == s.len and memcmp(c.p[i], p, s.len) == 0:
            return <str>strs[i]
    cdef str u = _uid(base, s)
    if c.count < 16:
        c.p[c.count] = p
        c.n[c.count] = s.len
        c.count += 1
        strs.append(u)
    return u


cdef inline bytes _bytes(const uint8_t *base, ul_span s):
    return PyBytes_FromStringAndSize(<const char *>base + s.off, s.len)


# ---- A-ASSOCIATE-RQ / -AC ---------------------------------------------------------------

cdef object _user_item(const uint8_t *b, ul_item *it, ul_span *rel):
    """One user-information sub-item as the tuple documented in decode_associate()."""
    cdef ul_err err
    cdef int rc = 0
    cdef uint32_t u32, n_rel, i
    cdef uint16_t inv, perf
    cdef uint8_t x, y
    cdef ul_span s1, s2
    cdef int t = it.type
    if t == UL_SUB_MAX_LENGTH:
        rc = ul_decode_u32(b, it.value, &u32, &err)
        if rc == 0:
            return (t, u32)
    elif t == UL_SUB_IMPL_CLASS:
        return (t, _uid(b, it.value))
    elif t == UL_SUB_ASYNC_OPS:
        rc = ul_decode_async(b, it.value, &inv, &perf, &err)
        if rc == 0:
            return (t, inv, perf)
    elif t == UL_SUB_ROLE:
        rc = ul_decode_role(b, it.value, &s1, &x, &y, &err)
        if rc == 0:
            return (t, _uid(b, s1), x, y)
    elif t == UL_SUB_IMPL_VERSION:
        return (t, _ae(b, it.value))
    elif t == UL_SUB_EXT_NEG:
        rc = ul_decode_ext_neg(b, it.value, &s1, &s2, &err)
        if rc == 0:
            return (t, _uid(b, s1), _bytes(b, s2))
    elif t == UL_SUB_COMMON_EXT_NEG:
        rc = ul_decode_common_ext(b, it.value, &s1, &s2, rel, 256, &n_rel, &err)
        if rc == 0:
            return (t, _uid(b, s1), _uid(b, s2), [_uid(b, rel[i]) for i in range(n_rel)])
    elif t == UL_SUB_USER_ID_RQ:
        rc = ul_decode_user_id_rq(b, it.value, &x, &y, &s1, &s2, &err)
        if rc == 0:
            return (t, x, y, _bytes(b, s1), _bytes(b, s2))
    elif t == UL_SUB_USER_ID_AC:
        rc = ul_decode_user_id_ac(b, it.value, &s1, &err)
        if rc == 0:
            return (t, _bytes(b, s1))
    else:
        return (t, _bytes(b, it.value))
    _raise(rc, err.offset, f"user information sub-item {t:02X}H")


def decode_associate(data):
    """Decode one whole A-ASSOCIATE-RQ or -AC PDU (header included, nothing after it).

    Returns ``(pdu_type, version, called, calling, app_context, pcs, user)``: AE titles
    without padding; ``pcs`` a list of ``[id, result, abstract_syntax or None,
    [transfer syntaxes]]`` in wire order; ``user`` a list of tuples, one per user-information
    sub-item in wire order: ``(0x51, max_length)``, ``(0x52, uid)``, ``(0x53, invoked,
    performed)``, ``(0x54, sop_class_uid, scu_role, scp_role)``, ``(0x55, name)``,
    ``(0x56, sop_class_uid, app_info)``, ``(0x57, sop_class_uid, service_class_uid,
    [related uids])``, ``(0x58, type, positive_response, primary, secondary)``,
    ``(0x59, server_response)``, and ``(type, raw_value)`` for any other type.
    Raises ProtocolError (with the A-ABORT reason and byte offset) on malformed input.
    """
    cdef const uint8_t[::1] view = data
    cdef size_t n = view.shape[0]
    if n < UL_HEADER_LEN:
        _raise(UL_E_TRUNCATED, n, "A-ASSOCIATE PDU")
    cdef const uint8_t *b = &view[0]
    cdef uint64_t declared = UL_HEADER_LEN + (<uint64_t>b[2] << 24 | <uint64_t>b[3] << 16
                                              | <uint64_t>b[4] << 8 | b[5])
    if declared < n:
        _raise(UL_E_BAD_LENGTH, declared, "A-ASSOCIATE PDU followed by extra bytes")
    # Arrays sized by what the PDU can hold at most, capped by the limits above.
    cdef size_t items = n // 4 + 1
    cdef ul_assoc a
    a.pcs_cap = <uint32_t>min(items // 2, MAX_PRESENTATION_CONTEXTS)
    a.ts_cap = <uint32_t>min(items, MAX_TRANSFER_SYNTAXES)
    a.user_cap = <uint32_t>min(items, MAX_USER_ITEMS)
    cdef void *mem = PyMem_Malloc(a.pcs_cap * sizeof(ul_pc) + a.ts_cap * sizeof(ul_span)
                                  + a.user_cap * sizeof(ul_item)
                                  + MAX_RELATED_UIDS * sizeof(ul_span))
    if mem == NULL:
        raise MemoryError()
    a.pcs = <ul_pc *>mem
    a.ts = <ul_span *>(a.pcs + a.pcs_cap)
    a.user = <ul_item *>(a.ts + a.ts_cap)
    cdef ul_span *rel = <ul_span *>(a.user + a.user_cap)
    cdef ul_err err
    cdef uint32_t i, k
    cdef ul_pc *pc
    cdef list pcs, ts, user
    cdef _UidCache cache
    cdef list cache_strs = []
    cache.count = 0
    try:
        rc = ul_decode_associate(b, n, &a, &err)
        if rc != UL_OK:
            _raise(rc, err.offset, "A-ASSOCIATE PDU")
        pcs = []
        for i in range(a.n_pcs):
            pc = &a.pcs[i]
            ts = []
            for k in range(pc.ts_first, pc.ts_first + pc.ts_count):
                ts.append(_cached_uid(b, a.ts[k], &cache, cache_strs))
            pcs.append([pc.id, pc.result,
                        _uid(b, pc.abstract) if pc.has_abstract else None, ts])
        user = [_user_item(b, &a.user[i], rel) for i in range(a.n_user)]
        return (a.pdu_type, a.version, _ae(b, a.called), _ae(b, a.calling),
                _uid(b, a.app_context), pcs, user)
    finally:
        PyMem_Free(mem)


cdef int _set(ul_bytes *out, object v, list keep) except -1:
    """Point out at the bytes of v: an ASCII str (no copy) or a bytes-like object."""
    cdef Py_ssize_t n
    if isinstance(v, str):
        if not PyUnicode_IS_ASCII(v):
            raise ValueError(f"{v!r} is not ASCII")
        out.p = <const uint8_t *>PyUnicode_AsUTF8AndSize(v, &n)
    else:
        if not isinstance(v, bytes):
            v = bytes(v)
            keep.append(v)
        n = len(<bytes>v)
        out.p = <const uint8_t *>PyBytes_AS_STRING(v)
    if n > 0xFFFFFFFF:
        raise ValueError("value too long")
    out.n = <uint32_t>n
    return 0


cdef inline bint _is_common_ext(tuple item):
    """A typed 57H item: (0x57, sop_class_uid, service_class_uid, [related uids])."""
    return len(item) == 4 and item[0] == UL_SUB_COMMON_EXT_NEG


cdef int _set_uitem(ul_uitem_enc *u, tuple item, ul_bytes *lists, uint32_t *n_lists,
                    uint32_t lists_cap, list keep) except -1:
    cdef int t = item[0]
    u.type = <uint8_t>t
    u.raw = 0
    u.b0 = u.b1 = 0
    u.u32 = 0
    u.a.p = u.b.p = NULL
    u.a.n = u.b.n = 0
    u.list = NULL
    u.n_list = 0
    if not 0 <= t <= 255:
        raise ValueError(f"user information item type {t} out of range")
    # (type, bytes) is raw, except (0x59, response), whose typed form has that same shape.
    if len(item) == 2 and not isinstance(item[1], (str, int)) and t != UL_SUB_USER_ID_AC:
        u.raw = 1
        _set(&u.a, item[1], keep)
    elif t == UL_SUB_MAX_LENGTH:
        u.u32 = item[1]
    elif t == UL_SUB_IMPL_CLASS or t == UL_SUB_IMPL_VERSION:
        _set(&u.a, item[1], keep)
    elif t == UL_SUB_ASYNC_OPS:
        u.u32 = (<uint32_t>(<uint16_t>item[1]) << 16) | <uint16_t>item[2]
    elif t == UL_SUB_ROLE:
        _set(&u.a, item[1], keep)
        u.b0 = item[2]
        u.b1 = item[3]
    elif t == UL_SUB_EXT_NEG:
        _set(&u.a, item[1], keep)
        _set(&u.b, item[2], keep)
    elif _is_common_ext(item):
        _set(&u.a, item[1], keep)
        _set(&u.b, item[2], keep)
        u.list = lists + n_lists[0]
        if len(item[3]) > MAX_RELATED_UIDS:
            raise ValueError("too many related general SOP classes")
        for uid in item[3]:
            if n_lists[0] >= lists_cap:  # cannot happen: counted with _is_common_ext
                raise ValueError("related general SOP classes changed while encoding")
            _set(&lists[n_lists[0]], uid, keep)
            n_lists[0] += 1
            u.n_list += 1
    elif t == UL_SUB_USER_ID_RQ:
        u.b0 = item[1]
        u.b1 = item[2]
        _set(&u.a, item[3], keep)
        _set(&u.b, item[4], keep)
    elif t == UL_SUB_USER_ID_AC:
        _set(&u.a, item[1], keep)
    else:
        raise ValueError(f"user information item {item!r}: expected (type, bytes)")
    return 0


def encode_associate(int pdu_type, int version, called, calling, app_context, list pcs,
                     list user):
    """Encode an A-ASSOCIATE-RQ (pdu_type 1) or -AC (2) PDU; the inverse of decode_associate.

    Takes the same shapes decode_associate returns. A ``(type, bytes)`` user item is written
    raw whatever its type, except ``(0x59, server_response)``, which gets its length field. AE titles are space-padded to 16 bytes. Raises ValueError when a
    value does not fit its length field.
    """
    if pdu_type != UL_PDU_ASSOCIATE_RQ and pdu_type != UL_PDU_ASSOCIATE_AC:
        raise ValueError(f"pdu_type {pdu_type} is not an A-ASSOCIATE-RQ or -AC")
    if not 0 <= version <= 0xFFFF:
        raise ValueError(f"protocol version {version} out of range")
    cdef uint32_t n_pcs = len(pcs), n_user = len(user)
    cdef uint32_t n_ts = 0, n_lists = 0, i, k
    for pc in pcs:
        n_ts += len(pc[3])
    for item in user:
        if _is_common_ext(tuple(item)):
            n_lists += len(item[3])
    cdef void *mem = PyMem_Malloc(n_pcs * sizeof(ul_pc_enc) + n_ts * sizeof(ul_bytes)
                                  + n_user * sizeof(ul_uitem_enc)
                                  + (n_lists + 1) * sizeof(ul_bytes) + 1)
    if mem == NULL:
        raise MemoryError()
    cdef ul_assoc_enc a
    cdef ul_pc_enc *pe = <ul_pc_enc *>mem
    cdef ul_bytes *te = <ul_bytes *>(pe + n_pcs)
    cdef ul_uitem_enc *ue = <ul_uitem_enc *>(te + n_ts)
    cdef ul_bytes *le = <ul_bytes *>(ue + n_user)
    cdef uint32_t used_lists = 0
    cdef list keep = []
    cdef list ts
    cdef int64_t size
    cdef bytes out
    try:
        a.pdu_type = <uint8_t>pdu_type
        a.version = <uint16_t>version
        _set(&a.called, called, keep)
        _set(&a.calling, calling, keep)
        _set(&a.app_context, app_context, keep)
        a.pcs = pe
        a.n_pcs = n_pcs
        a.user = ue
        a.n_user = n_user
        for i in range(n_pcs):
            pc = pcs[i]
            pid = pc[0]
            res = pc[1]
            if not 0 <= pid <= 255 or not 0 <= res <= 255:
                raise ValueError(f"presentation context {pc!r}: ID/result out of range")
            pe[i].id = <uint8_t>pid
            pe[i].result = <uint8_t>res
            pe[i].abstract.p = NULL
            pe[i].abstract.n = 0
            if pc[2] is not None:
                _set(&pe[i].abstract, pc[2], keep)
            ts = pc[3]
            pe[i].ts = te
            pe[i].n_ts = len(ts)
            for k in range(pe[i].n_ts):
                _set(&te[k], ts[k], keep)
            te += pe[i].n_ts
        for i in range(n_user):
            _set_uitem(&ue[i], tuple(user[i]), le, &used_lists, n_lists, keep)
        size = ul_size_associate(&a)
        if size < 0:
            _raise(<int>size, 0, "A-ASSOCIATE PDU")
        out = PyBytes_FromStringAndSize(NULL, size)
        size = ul_encode_associate(&a, <uint8_t *>PyBytes_AS_STRING(out), size)
        if size < 0:
            _raise(<int>size, 0, "A-ASSOCIATE PDU")
        return out
    finally:
        PyMem_Free(mem)


# ---- A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT --------------------------------------------

cdef bytes _short(uint8_t t, uint8_t a, uint8_t b, uint8_t c):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 10)
    ul_encode_short(t, a, b, c, <uint8_t *>PyBytes_AS_STRING(out))
    return out


cdef inline uint8_t _byte(int v, str name) except? 0:
    if not 0 <= v <= 255:
        raise ValueError(f"{name} {v} is not a byte value")
    return <uint8_t>v


cdef class AssociateReject:
    """An A-ASSOCIATE-RJ PDU (PS3.8 Table 9-21): result, source and reason/diagnostic.

    Values are taken as they come (a received PDU is never refused for an unusual code);
    dicomul.ul.constants.validate_reject checks a combination before sending.
    """

    pdu_type = UL_PDU_ASSOCIATE_RJ
    cdef readonly int result, source, reason

    def __init__(self, int result, int source, int reason):
        self.result = _byte(result, "result")
        self.source = _byte(source, "source")
        self.reason = _byte(reason, "reason")

    def encode(self) -> bytes:
        return _short(UL_PDU_ASSOCIATE_RJ, self.result, self.source, self.reason)

    def __eq__(self, other):
        if not isinstance(other, AssociateReject):
            return NotImplemented
        return (self.result, self.source, self.reason) == (
            (<AssociateReject>other).result, (<AssociateReject>other).source,
            (<AssociateReject>other).reason)

    def __hash__(self):
        return hash((3, self.result, self.source, self.reason))

    def __repr__(self):
        return f"AssociateReject(result={self.result}, source={self.source}, reason={self.reason})"


cdef class ReleaseRQ:
    """An A-RELEASE-RQ PDU (PS3.8 Table 9-24)."""

    pdu_type = UL_PDU_RELEASE_RQ

    def encode(self) -> bytes:
        return _short(UL_PDU_RELEASE_RQ, 0, 0, 0)

    def __eq__(self, other):
        return isinstance(other, ReleaseRQ) or NotImplemented

    def __hash__(self):
        return 5

    def __repr__(self):
        return "ReleaseRQ()"


cdef class ReleaseRP:
    """An A-RELEASE-RP PDU (PS3.8 Table 9-25)."""

    pdu_type = UL_PDU_RELEASE_RP

    def encode(self) -> bytes:
        return _short(UL_PDU_RELEASE_RP, 0, 0, 0)

    def __eq__(self, other):
        return isinstance(other, ReleaseRP) or NotImplemented

    def __hash__(self):
        return 6

    def __repr__(self):
        return "ReleaseRP()"


cdef class Abort:
    """An A-ABORT PDU (PS3.8 Table 9-26): source (0 user, 2 provider) and reason."""

    pdu_type = UL_PDU_ABORT
    cdef readonly int source, reason

    def __init__(self, int source=0, int reason=0):
        self.source = _byte(source, "source")
        self.reason = _byte(reason, "reason")

    def encode(self) -> bytes:
        return _short(UL_PDU_ABORT, 0, self.source, self.reason)

    def __eq__(self, other):
        if not isinstance(other, Abort):
            return NotImplemented
        return (self.source, self.reason) == ((<Abort>other).source, (<Abort>other).reason)

    def __hash__(self):
        return hash((7, self.source, self.reason))

    def __repr__(self):
        return f"Abort(source={self.source}, reason={self.reason})"


def decode_short(data):
    """Decode a whole A-ASSOCIATE-RJ, A-RELEASE-RQ/RP or A-ABORT PDU (10 bytes)."""
    cdef const uint8_t[::1] view = data
    cdef size_t n = view.shape[0]
    cdef uint8_t a, b, c
    cdef ul_err err
    if n == 0:
        _raise(UL_E_TRUNCATED, 0, "PDU")
    cdef int rc = ul_decode_short(&view[0], n, &a, &b, &c, &err)
    if rc == UL_OK and n != 10:
        rc = UL_E_BAD_LENGTH
        err.offset = 10
    if rc != UL_OK:
        _raise(rc, err.offset, "PDU")
    cdef uint8_t t = view[0]
    if t == UL_PDU_ASSOCIATE_RJ:
        return AssociateReject(a, b, c)
    if t == UL_PDU_RELEASE_RQ:
        return ReleaseRQ()
    if t == UL_PDU_RELEASE_RP:
        return ReleaseRP()
    return Abort(b, c)


# ---- P-DATA-TF ------------------------------------------------------------------------

cdef class PDV:
    """One presentation data value item (PS3.8 Table 9-23, Annex E.2).

    ``data`` is the fragment, a memoryview into the received PDU (no copy) or the buffer
    given; ``control`` the message control header byte (bit 0 command, bit 1 last; bits 2-7
    are kept but never interpreted).
    """

    cdef readonly int context_id, control
    cdef readonly object data

    def __init__(self, int context_id, int control, data):
        self.context_id = _byte(context_id, "presentation context ID")
        self.control = _byte(control, "message control header")
        self.data = memoryview(data).cast("B")

    @staticmethod
    def make(int context_id, bint is_command, bint is_last, data):
        """A PDV from its flags: ``PDV.make(1, True, True, command_bytes)``."""
        return PDV(context_id, (1 if is_command else 0) | (2 if is_last else 0), data)

    @property
    def is_command(self) -> bool:
        return bool(self.control & 1)

    @property
    def is_last(self) -> bool:
        return bool(self.control & 2)

    def __eq__(self, other):
        if not isinstance(other, PDV):
            return NotImplemented
        cdef PDV o = <PDV>other
        return (self.context_id == o.context_id and self.control == o.control
                and self.data == o.data)

    def __hash__(self):
        return hash((self.context_id, self.control, bytes(self.data)))

    def __repr__(self):
        return (f"PDV(context_id={self.context_id}, is_command={self.is_command}, "
                f"is_last={self.is_last}, {len(self.data)} bytes)")


cdef class PDataTF:
    """A P-DATA-TF PDU (PS3.8 Table 9-22): a list of PDVs."""

    pdu_type = UL_PDU_P_DATA_TF
    cdef readonly list pdvs

    def __init__(self, pdvs):
        self.pdvs = list(pdvs)
        for p in self.pdvs:
            if not isinstance(p, PDV):
                raise TypeError(f"{p!r} is not a PDV")

    def encode(self) -> bytes:
        return encode_pdata([(p.context_id, p.control, p.data) for p in self.pdvs])

    def __eq__(self, other):
        if not isinstance(other, PDataTF):
            return NotImplemented
        return self.pdvs == (<PDataTF>other).pdvs

    def __hash__(self):
        return hash(tuple(self.pdvs))

    def __repr__(self):
        return f"PDataTF({self.pdvs!r})"


cdef PDataTF _pdata_from(const uint8_t *p, size_t n, object mv, size_t off):
    """Decode the P-DATA-TF PDU at p[0..n); mv is a byte memoryview with mv[off] == p[0],
    from which the PDV payloads are sliced (no copy)."""
    cdef size_t pos = 0
    cdef ul_pdv pdv
    cdef ul_err err
    cdef int rc
    cdef PDV v
    cdef list pdvs = []
    while True:
        rc = ul_pdv_next(p, n, &pos, &pdv, &err)
        if rc == 0:
            break
        if rc < 0:
            _raise(rc, err.offset, "P-DATA-TF PDU")
        v = PDV.__new__(PDV)
        v.context_id = pdv.pc_id
        v.control = pdv.control
        v.data = mv[off + pdv.data.off:off + pdv.data.off + pdv.data.len]
        pdvs.append(v)
    if pos != n:
        _raise(UL_E_BAD_LENGTH, pos, "P-DATA-TF PDU followed by extra bytes")
    cdef PDataTF out = PDataTF.__new__(PDataTF)
    out.pdvs = pdvs
    return out


def decode_pdata(data):
    """Decode a whole P-DATA-TF PDU; PDV data are memoryviews into ``data``."""
    cdef const uint8_t[::1] view = data
    if view.shape[0] == 0:
        _raise(UL_E_TRUNCATED, 0, "P-DATA-TF PDU")
    return _pdata_from(&view[0], view.shape[0], memoryview(data).cast("B"), 0)


def encode_pdata(pdvs) -> bytes:
    """Encode one P-DATA-TF PDU holding ``pdvs``: an iterable of (context_id, control, data)."""
    cdef list items = list(pdvs)
    cdef list views = []
    cdef uint64_t total = 0
    for cid, ctl, d in items:
        _byte(cid, "presentation context ID")
        _byte(ctl, "message control header")
        v = memoryview(d).cast("B")
        views.append(v)
        total += 6 + len(v)
    if total > UL_MAX_PDU_LENGTH:
        raise ValueError("P-DATA-TF PDU too long")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 6 + total)
    cdef uint8_t *p = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t[::1] src
    cdef uint32_t flen
    ul_pdu_header(p, UL_PDU_P_DATA_TF, <uint32_t>total)
    p += 6
    for i in range(len(items)):
        src = views[i]
        flen = <uint32_t>src.shape[0]
        p += ul_pdv_header(p, items[i][0], items[i][1], flen)
        if flen:
            memcpy(p, &src[0], flen)
        p += flen
    return out


def whole_command(PDataTF pdu not None):
    """``(context_id, command bytes)`` when ``pdu`` holds exactly one PDV that is a whole
    command set (command and last bits set): the usual small message, or the command of
    a message whose data set follows, handled in one step. None otherwise. Nothing is
    judged here, and whether a data set follows is not read (the layer above decides):
    the reassembler applies PS3.8 Annex E."""
    if len(pdu.pdvs) != 1:
        return None
    cdef PDV pdv = <PDV?>pdu.pdvs[0]
    if pdv.control & 3 != 3:
        return None
    return (pdv.context_id, bytes(pdv.data))


def fragment_size(uint32_t peer_max_length) -> int:
    """The largest PDV fragment for a peer maximum length (0 = unlimited): see ul.h."""
    return ul_fragment_size(peer_max_length)


def fragment(int context_id, bint is_command, data, uint32_t peer_max_length, bint last=True):
    """Split one message part (command set or data set) into P-DATA-TF PDUs, one PDV each.

    Returns a flat list ``[header, fragment, header, fragment, ...]`` ready for
    ``socket.sendmsg``: each header is 12 bytes (PDU header + PDV header), each fragment a
    memoryview into ``data`` (never copied). Fragments are at most ``peer_max_length - 6``
    bytes, rounded down to even (Annex E.1); the last one carries the "last" bit unless
    ``last`` is False (more of the same message part follows in a later call).
    """
    _byte(context_id, "presentation context ID")
    cdef uint32_t frag = ul_fragment_size(peer_max_length)
    if frag == 0:
        raise ValueError(f"peer maximum length {peer_max_length} is too small for P-DATA")
    mv = memoryview(data).cast("B")
    cdef uint64_t total = len(mv), off = 0
    cdef uint64_t count = ul_fragment_count(total, frag)
    cdef uint32_t flen
    cdef uint8_t base = 1 if is_command else 0
    cdef list out = []
    cdef bytes hdr
    cdef uint64_t k
    for k in range(count):
        flen = <uint32_t>(frag if total - off > frag else total - off)
        hdr = PyBytes_FromStringAndSize(NULL, 12)
        ul_pdata_header(<uint8_t *>PyBytes_AS_STRING(hdr), <uint8_t>context_id,
                        base | (2 if last and k == count - 1 else 0), flen)
        out.append(hdr)
        out.append(mv[off:off + flen])
        off += flen
    return out


cdef object _decode_pdu(object raw, object decode_associate):
    cdef const uint8_t[::1] view = raw
    cdef uint8_t t = view[0]
    if t == UL_PDU_P_DATA_TF:
        return decode_pdata(raw)
    if t == UL_PDU_ASSOCIATE_RQ or t == UL_PDU_ASSOCIATE_AC:
        return decode_associate(raw)
    return decode_short(raw)


# ---- framing ----------------------------------------------------------------------------

cdef class Framer:
    """Cuts a byte stream into whole PDUs (PS3.8 9.3.1), copying each PDU's bytes once.

    ``feed(chunk)`` takes any bytes-like chunk and returns the list of PDUs completed by it,
    each a bytes-like object holding header and body: a PDU of 1 KiB or more that lies whole
    inside an immutable ``bytes`` chunk is a memoryview into it (no copy); any other is
    copied once. With ``decode`` set, each PDU is decoded first: P-DATA-TF, A-ASSOCIATE-RJ,
    A-RELEASE-RQ/RP and A-ABORT here, A-ASSOCIATE-RQ/AC by calling ``decode(raw)``; with
    ``errors_inline`` a PDU that frames but does not decode is returned as its
    ProtocolError, in its place, and framing goes on (the stream is still in step).
    A header that declares more than
    ``max_pdu_length`` (or a P-DATA-TF header more than ``max_pdata_length``, when that is
    not 0: the maximum length this side announced) is refused before anything is allocated
    for it; an unknown PDU type is refused at its first byte. After an error the framer stays failed: every later
    feed raises the same ProtocolError.
    """

    cdef public uint32_t max_pdu_length  # may be changed between feeds
    cdef public uint32_t max_pdata_length  # P-DATA-TF limit when nonzero (our max length)
    cdef bytearray _head      # up to 5 bytes of a header not yet complete
    cdef bytearray _pdu       # a PDU being filled (and _tail bytes more, see recv_buffer)
    cdef Py_ssize_t _pdu_len  # its length, header included
    cdef Py_ssize_t _filled
    cdef Py_ssize_t _tail     # room after a PDU for the next one's header (decoding only)
    cdef object _error
    cdef object _decode
    cdef bint _inline
    cdef bytearray _scratch   # where recv_buffer() points between PDUs
    cdef bint _into_pdu       # the last recv_buffer() was the PDU being filled
    cdef bint _last_large     # the last PDU completed was large: read headers alone
    cdef Py_ssize_t _large    # large: at least this long (the last recv_buffer() size)

    def __init__(self, uint32_t max_pdu_length=DEFAULT_MAX_PDU_LENGTH, decode=None,
                 bint errors_inline=False):
        self.max_pdu_length = max_pdu_length
        self.max_pdata_length = 0
        self._decode = decode
        self._inline = errors_inline
        self._head = bytearray()
        self._pdu = None
        self._pdu_len = 0
        self._filled = 0
        # A decoded PDU is handed on as views of its buffer, which may be longer; a raw
        # one is the buffer itself, so it has no room after it.
        self._tail = 6 if decode is not None else 0
        self._error = None
        self._scratch = None
        self._into_pdu = False
        self._last_large = False
        self._large = 32768

    def recv_buffer(self, Py_ssize_t size=262144, bytearray scratch=None):
        """A writable buffer for ``socket.recv_into``; then call ``received(n)``.

        While a PDU of at least ``size`` bytes is being filled, this is the rest of that
        PDU itself, so its bytes go from the kernel straight to their place (no copy in
        user space), and room for the next PDU's header after it (so that one read per PDU
        of a long data set takes its body and the next header; those 6 bytes are copied
        out). The rest of a smaller PDU is read into the scratch buffer with whatever
        follows it (copied out: cheaper than one read per small PDU); between PDUs it
        is a reusable scratch buffer of ``size`` bytes, or only its first 6 bytes after a
        large PDU (so that the next large PDU's body is not read into scratch and copied
        out, but read straight into its own buffer).

        ``scratch``: a bytearray of at least ``size`` bytes to use as the scratch buffer
        instead of one of the framer's own. Nothing in it outlives ``received()``, so the
        connections served by one thread may share one (a large one costs no memory per
        connection)."""
        self._large = max(size, 32768)
        if self._pdu is not None and self._pdu_len >= size:
            self._into_pdu = True
            return memoryview(self._pdu)[self._filled:self._pdu_len + self._tail]
        self._into_pdu = False
        if scratch is not None and len(scratch) >= size:
            self._scratch = scratch
        elif self._scratch is None or len(self._scratch) != size:
            self._scratch = bytearray(size)
        if self._last_large and self._pdu is None and not len(self._head):
            return memoryview(self._scratch)[:6]
        return memoryview(self._scratch)[:size]

    def received(self, Py_ssize_t n):
        """``n`` bytes were written into the last ``recv_buffer()``: return the PDUs they
        complete, as ``feed()`` does."""
        if self._error is not None:
            raise self._error
        cdef list out = []
        cdef Py_ssize_t extra
        cdef unsigned char *src
        if n <= 0:
            return out
        if self._into_pdu:
            self._into_pdu = False
            if self._pdu is None or n > self._pdu_len + self._tail - self._filled:
                raise ValueError("received() does not match the last recv_buffer()")
            self._filled += n
            extra = self._filled - self._pdu_len
            rest = None
            if extra > 0:  # the start of the next PDU came after this one's end
                src = self._pdu
                rest = PyBytes_FromStringAndSize(<const char *>src + self._pdu_len, extra)
                self._filled = self._pdu_len
            try:
                self._complete(out)
                if rest is not None:
                    self._feed(rest, out)
            except ProtocolError as e:
                self._error = e
                if not out:
                    raise
            return out
        if self._scratch is None or n > len(self._scratch):
            raise ValueError("received() does not match the last recv_buffer()")
        # scratch is reused: whatever must outlive this call is copied out by _feed
        return self.feed(memoryview(self._scratch)[:n])

    @property
    def buffered(self) -> int:
        """Bytes held of a PDU not yet complete."""
        return self._filled if self._pdu is not None else len(self._head)

    @property
    def missing(self) -> int:
        """Bytes still to come of the PDU being filled (0: between PDUs, or its header
        not yet whole): what the peer must send whatever else it does."""
        return self._pdu_len - self._filled if self._pdu is not None else 0

    @property
    def error(self):
        """The ProtocolError that stopped this framer, or None."""
        return self._error

    def feed(self, data):
        """Take a chunk; return the PDUs it completes. PDUs completed before bad bytes are
        returned first and the error is kept (``error``) and raised by the next call; with
        no PDU to return, the error is raised at once."""
        if self._error is not None:
            raise self._error
        cdef list out = []
        try:
            self._feed(data, out)
        except ProtocolError as e:
            self._error = e
            if not out:
                raise
        return out

    cdef int _feed(self, data, list out) except -1:
        cdef const uint8_t[::1] view = data
        cdef size_t n = view.shape[0], pos = 0, take
        cdef const uint8_t *b
        cdef uint8_t t
        cdef uint32_t length
        cdef int64_t total
        cdef unsigned char *dst
        cdef const char *hb
        whole = None
        if n == 0:
            return 0
        b = &view[0]
        while pos < n:
            if self._pdu is not None:  # filling a PDU that began in an earlier chunk
                take = min(<size_t>(self._pdu_len - self._filled), n - pos)
                dst = self._pdu
                memcpy(dst + self._filled, b + pos, take)
                self._filled += take
                pos += take
                self._complete(out)
                continue
            if len(self._head):  # completing a header split across chunks
                take = min(<size_t>(6 - len(self._head)), n - pos)
                self._head += PyBytes_FromStringAndSize(<const char *>b + pos, take)
                pos += take
                if len(self._head) < 6:
                    break
                hb = self._head
                total = self._frame(<const uint8_t *>hb, 6, &t, &length)
                if total < 0:
                    _raise(<int>total, 0, "PDU stream")
                self._start(<const uint8_t *>hb, 6, length)
                self._head = bytearray()
                self._complete(out)  # a PDU of length 0 is whole with its header
                continue
            total = self._frame(b + pos, n - pos, &t, &length)
            if total < 0:
                _raise(<int>total, 0, "PDU stream")
            if total > 0:  # a whole PDU inside this chunk
                self._last_large = total >= self._large
                if total >= 1024 and type(data) is bytes:  # immutable: share, don't copy
                    if whole is None:
                        whole = memoryview(data)
                    self._emit(out, b + pos, total, whole, pos)
                else:
                    self._emit_owned(out, PyBytes_FromStringAndSize(<const char *>b + pos, total),
                                     total)
                pos += <size_t>total
            elif n - pos < 6:
                self._head = bytearray(b[pos:n])  # ul_frame checked the type byte already
                pos = n
            else:
                self._start(b + pos, n - pos, length)
                pos = n
        return 0

    cdef int _complete(self, list out) except -1:
        """Hands on the PDU being filled if it is whole."""
        if self._pdu is not None and self._filled == self._pdu_len:
            raw = self._pdu
            self._pdu = None
            self._last_large = self._filled >= self._large
            self._emit_owned(out, raw, self._pdu_len)
        return 0

    cdef int64_t _frame(self, const uint8_t *p, size_t n, uint8_t *t, uint32_t *length):
        """ul_frame() plus the P-DATA-TF limit (checked once the header is complete)."""
        cdef int64_t total = ul_frame(p, n, self.max_pdu_length, t, length)
        if (total >= 0 and n >= 6 and t[0] == UL_PDU_P_DATA_TF and self.max_pdata_length
                and length[0] > self.max_pdata_length):
            return UL_E_TOO_LARGE
        return total

    cdef int _emit_owned(self, list out, object raw, Py_ssize_t n) except -1:
        """Hands on the PDU held in the first ``n`` bytes of its own bytes/bytearray
        object (a decoded one may be followed by room for the next header: its views
        stop at ``n``; a raw one is the object itself, never longer)."""
        cdef const uint8_t[::1] v
        if self._decode is None:
            out.append(raw)
            return 0
        v = raw
        return self._emit(out, &v[0], n, memoryview(raw), 0)

    cdef int _emit(self, list out, const uint8_t *p, size_t n, object mv, size_t off) except -1:
        """Hands on the PDU at p[0..n), decoded when the framer decodes; mv is a byte
        memoryview with mv[off] == p[0]."""
        if self._decode is None:
            out.append(mv[off:off + n])
            return 0
        try:
            if p[0] == UL_PDU_P_DATA_TF:
                out.append(_pdata_from(p, n, mv, off))
            else:
                out.append(_decode_pdu(mv[off:off + n], self._decode))
        except ProtocolError as e:
            if not self._inline:
                raise
            out.append(e)
        return 0

    cdef int _start(self, const uint8_t *p, size_t avail, uint32_t length) except -1:
        """Allocates the whole PDU (its size already checked) and copies what is here."""
        # PyByteArray_FromStringAndSize(NULL, n) does not zero the memory (bytearray(n)
        # would, for every PDU): every byte is written before the PDU is handed on.
        self._pdu_len = 6 + <Py_ssize_t>length
        self._pdu = PyByteArray_FromStringAndSize(NULL, self._pdu_len + self._tail)
        cdef unsigned char *dst = self._pdu
        memcpy(dst, p, avail)
        self._filled = avail
        return 0
