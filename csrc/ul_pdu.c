/* ul_pdu.c - PS3.8 PDU framing, decoding and encoding.
 *
 * Theory of operation
 * -------------------
 * A DICOM UL byte stream is a sequence of PDUs, each a 6-byte header (type, reserved,
 * big-endian 32-bit length) and `length` bytes (PS3.8 9.3.1). ul_frame() looks at the head of
 * a stream and says how long the first PDU is once its header has arrived, refusing a
 * declared length above the caller's maximum before anyone allocates for it.
 *
 * Decoders never copy and never allocate: they validate every length against the end of its
 * enclosing field *before* reading what it covers, and report what they found as spans
 * (offset, length) into the caller's buffer, stored in caller-provided arrays with explicit
 * capacities (running out is UL_E_LIMIT, never an overflow). Items of unknown type are
 * skipped (PS3.8 9.3.1); user-information sub-items are listed as spans of every type and
 * decoded one by one by the typed sub-item decoders, so unknown ones survive as raw spans.
 * Reserved fields are never tested.
 *
 * Encoders are two-pass: ul_size_associate() computes the exact size (and rejects anything
 * that does not fit a length field), the caller allocates once, ul_encode_associate()
 * writes. Fields are written in the order of PS3.8 Tables 9-11 (RQ) and 9-17 (AC); user
 * information sub-items in the order the caller lists them.
 *
 * All big-endian loads and stores go through ld16/ld32/st16/st32: no pointer casts.
 */
#include "ul.h"

#include <string.h>

static uint16_t ld16(const uint8_t *p) { return (uint16_t)((uint16_t)p[0] << 8 | p[1]); }

static uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void st16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void st32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int fail(ul_err *err, int code, size_t offset) {
    if (err) {
        err->code = code;
        err->offset = offset;
    }
    return code;
}

static ul_span span(size_t off, size_t len) {
    ul_span s;
    s.off = (uint32_t)off;
    s.len = (uint32_t)len;
    return s;
}

/* ---- framing (PS3.8 9.3.1) ---------------------------------------------------------- */

int64_t ul_frame(const uint8_t *buf, size_t n, uint32_t max_length, uint8_t *pdu_type,
                 uint32_t *length) {
    if (n == 0) return 0;
    if (buf[0] < UL_PDU_ASSOCIATE_RQ || buf[0] > UL_PDU_ABORT) return UL_E_UNKNOWN_PDU;
    if (n < UL_HEADER_LEN) return 0;
    uint32_t len = ld32(buf + 2);
    *pdu_type = buf[0];
    *length = len;
    if (len > max_length || len > UL_MAX_DECODE_LENGTH) return UL_E_TOO_LARGE;
    uint64_t total = (uint64_t)UL_HEADER_LEN + len;
    if ((uint64_t)n < total) return 0;
    return (int64_t)total;
}

/* Checks the header of a whole PDU of type `type` in buf[0..n) and returns its end offset
 * (6 + length) in *end. */
static int pdu_bounds(const uint8_t *buf, size_t n, uint8_t type, size_t *end, ul_err *err) {
    if (n < UL_HEADER_LEN) return fail(err, UL_E_TRUNCATED, n);
    if (buf[0] != type) return fail(err, UL_E_WRONG_TYPE, 0);
    uint64_t total = (uint64_t)UL_HEADER_LEN + ld32(buf + 2);
    if (total > (uint64_t)n) return fail(err, UL_E_TRUNCATED, 2);
    *end = (size_t)total;
    return UL_OK;
}

/* ---- A-ASSOCIATE-RQ/AC (Tables 9-11..9-20) ------------------------------------------ */

/* Walks the sub-items of a presentation context item (20H: Table 9-13; 21H: Table 9-18)
 * whose sub-items occupy buf[pos..end). */
static int decode_pc(const uint8_t *buf, size_t item, size_t end, uint8_t kind, ul_assoc *a,
                     ul_err *err) {
    if (a->n_pcs >= a->pcs_cap) return fail(err, UL_E_LIMIT, item);
    if (end - item < 8) return fail(err, UL_E_BAD_LENGTH, item + 2);
    ul_pc *pc = &a->pcs[a->n_pcs];
    memset(pc, 0, sizeof *pc);
    pc->id = buf[item + 4];
    pc->result = kind == UL_ITEM_PC_AC ? buf[item + 6] : 0;
    pc->ts_first = a->n_ts;
    size_t pos = item + 8;
    while (pos < end) {
        if (end - pos < 4) return fail(err, UL_E_TRUNCATED, pos);
        size_t len = ld16(buf + pos + 2);
        if (end - pos - 4 < len) return fail(err, UL_E_TRUNCATED, pos + 2);
        uint8_t t = buf[pos];
        if (t == UL_ITEM_ABSTRACT && kind == UL_ITEM_PC_RQ) {
            if (pc->has_abstract) return fail(err, UL_E_DUPLICATE, pos);
            pc->has_abstract = 1;
            pc->abstract = span(pos + 4, len);
        } else if (t == UL_ITEM_TRANSFER) {
            if (a->n_ts >= a->ts_cap) return fail(err, UL_E_LIMIT, pos);
            a->ts[a->n_ts++] = span(pos + 4, len);
            pc->ts_count++;
        }
        pos += 4 + len;
    }
    if (kind == UL_ITEM_PC_RQ && !pc->has_abstract) return fail(err, UL_E_MISSING, item);
    if (pc->ts_count == 0 && (kind == UL_ITEM_PC_RQ || pc->result == 0))
        return fail(err, UL_E_MISSING, item);
    a->n_pcs++;
    return UL_OK;
}

static int decode_user_info(const uint8_t *buf, size_t pos, size_t end, ul_assoc *a,
                            ul_err *err) {
    while (pos < end) {
        if (end - pos < 4) return fail(err, UL_E_TRUNCATED, pos);
        size_t len = ld16(buf + pos + 2);
        if (end - pos - 4 < len) return fail(err, UL_E_TRUNCATED, pos + 2);
        if (a->n_user >= a->user_cap) return fail(err, UL_E_LIMIT, pos);
        a->user[a->n_user].type = buf[pos];
        a->user[a->n_user].value = span(pos + 4, len);
        a->n_user++;
        pos += 4 + len;
    }
    return UL_OK;
}

int ul_decode_associate(const uint8_t *buf, size_t n, ul_assoc *a, ul_err *err) {
    if (n < 1 || (buf[0] != UL_PDU_ASSOCIATE_RQ && buf[0] != UL_PDU_ASSOCIATE_AC))
        return fail(err, UL_E_WRONG_TYPE, 0);
    size_t end;
    int rc = pdu_bounds(buf, n, buf[0], &end, err);
    if (rc) return rc;
    if (end < UL_HEADER_LEN + UL_FIXED_RQAC_LEN) return fail(err, UL_E_BAD_LENGTH, 2);
    a->pdu_type = buf[0];
    a->version = ld16(buf + 6);
    a->called = span(10, 16);
    a->calling = span(26, 16);
    a->app_context = span(0, 0);
    a->n_pcs = a->n_ts = a->n_user = 0;
    uint8_t pc_kind = buf[0] == UL_PDU_ASSOCIATE_RQ ? UL_ITEM_PC_RQ : UL_ITEM_PC_AC;
    int have_app = 0, have_user = 0;
    size_t pos = UL_HEADER_LEN + UL_FIXED_RQAC_LEN;
    while (pos < end) {
        if (end - pos < 4) return fail(err, UL_E_TRUNCATED, pos);
        size_t len = ld16(buf + pos + 2);
        if (end - pos - 4 < len) return fail(err, UL_E_TRUNCATED, pos + 2);
        uint8_t t = buf[pos];
        if (t == UL_ITEM_APP_CONTEXT) {
            if (have_app) return fail(err, UL_E_DUPLICATE, pos);
            have_app = 1;
            a->app_context = span(pos + 4, len);
        } else if (t == pc_kind) {
            rc = decode_pc(buf, pos, pos + 4 + len, pc_kind, a, err);
            if (rc) return rc;
        } else if (t == UL_ITEM_USER_INFO) {
            if (have_user) return fail(err, UL_E_DUPLICATE, pos);
            have_user = 1;
            rc = decode_user_info(buf, pos + 4, pos + 4 + len, a, err);
            if (rc) return rc;
        } /* any other item type is skipped (PS3.8 9.3.1) */
        pos += 4 + len;
    }
    size_t items = UL_HEADER_LEN + UL_FIXED_RQAC_LEN;
    if (!have_app || a->n_pcs == 0 || !have_user) return fail(err, UL_E_MISSING, items);
    return UL_OK;
}

/* ---- user-information sub-items (PS3.8 D.1, PS3.7 D.3.3) ---------------------------- */

int ul_decode_u32(const uint8_t *buf, ul_span v, uint32_t *out, ul_err *err) {
    if (v.len != 4) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    *out = ld32(buf + v.off);
    return UL_OK;
}

int ul_decode_async(const uint8_t *buf, ul_span v, uint16_t *invoked, uint16_t *performed,
                    ul_err *err) {
    if (v.len != 4) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    *invoked = ld16(buf + v.off);
    *performed = ld16(buf + v.off + 2);
    return UL_OK;
}

/* Reads a 2-byte length and the bytes it covers at buf[*pos], within [*pos, end). */
static int take16(const uint8_t *buf, size_t *pos, size_t end, ul_span *out, ul_err *err) {
    if (end - *pos < 2) return fail(err, UL_E_TRUNCATED, *pos);
    size_t len = ld16(buf + *pos);
    if (end - *pos - 2 < len) return fail(err, UL_E_TRUNCATED, *pos);
    *out = span(*pos + 2, len);
    *pos += 2 + len;
    return UL_OK;
}

int ul_decode_role(const uint8_t *buf, ul_span v, ul_span *uid, uint8_t *scu, uint8_t *scp,
                   ul_err *err) {
    size_t pos = v.off, end = (size_t)v.off + v.len;
    int rc = take16(buf, &pos, end, uid, err);
    if (rc) return rc;
    if (end - pos != 2) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    *scu = buf[pos];
    *scp = buf[pos + 1];
    return UL_OK;
}

int ul_decode_ext_neg(const uint8_t *buf, ul_span v, ul_span *uid, ul_span *info,
                      ul_err *err) {
    size_t pos = v.off, end = (size_t)v.off + v.len;
    int rc = take16(buf, &pos, end, uid, err);
    if (rc) return rc;
    *info = span(pos, end - pos);
    return UL_OK;
}

int ul_decode_common_ext(const uint8_t *buf, ul_span v, ul_span *sop, ul_span *service,
                         ul_span *rel, uint32_t rel_cap, uint32_t *n_rel, ul_err *err) {
    size_t pos = v.off, end = (size_t)v.off + v.len;
    ul_span list;
    int rc = take16(buf, &pos, end, sop, err);
    if (!rc) rc = take16(buf, &pos, end, service, err);
    if (!rc) rc = take16(buf, &pos, end, &list, err);
    if (rc) return rc;
    if (pos != end) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    *n_rel = 0;
    pos = list.off;
    end = (size_t)list.off + list.len;
    while (pos < end) {
        if (*n_rel >= rel_cap) return fail(err, UL_E_LIMIT, pos);
        rc = take16(buf, &pos, end, &rel[*n_rel], err);
        if (rc) return rc;
        (*n_rel)++;
    }
    return UL_OK;
}

int ul_decode_user_id_rq(const uint8_t *buf, ul_span v, uint8_t *id_type, uint8_t *positive,
                         ul_span *primary, ul_span *secondary, ul_err *err) {
    size_t pos = v.off, end = (size_t)v.off + v.len;
    if (v.len < 2) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    *id_type = buf[pos];
    *positive = buf[pos + 1];
    pos += 2;
    int rc = take16(buf, &pos, end, primary, err);
    if (!rc) rc = take16(buf, &pos, end, secondary, err);
    if (rc) return rc;
    if (pos != end) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    return UL_OK;
}

int ul_decode_user_id_ac(const uint8_t *buf, ul_span v, ul_span *response, ul_err *err) {
    size_t pos = v.off, end = (size_t)v.off + v.len;
    int rc = take16(buf, &pos, end, response, err);
    if (rc) return rc;
    if (pos != end) return fail(err, UL_E_BAD_LENGTH, v.off - 2);
    return UL_OK;
}

/* ---- encoding of RQ/AC --------------------------------------------------------------- */

/* Value length of a user-information sub-item, or -1 when a part exceeds its field. */
static int64_t uitem_value_len(const ul_uitem_enc *u) {
    uint64_t len;
    if (u->raw) return u->a.n;
    switch (u->type) {
    case UL_SUB_MAX_LENGTH:
    case UL_SUB_ASYNC_OPS:
        return 4;
    case UL_SUB_ROLE:
        if (u->a.n > 0xFFFF) return -1;
        return 2 + (int64_t)u->a.n + 2;
    case UL_SUB_EXT_NEG:
        if (u->a.n > 0xFFFF) return -1;
        return 2 + (int64_t)u->a.n + u->b.n;
    case UL_SUB_COMMON_EXT_NEG: {
        uint64_t rel = 0;
        for (uint32_t i = 0; i < u->n_list; i++) {
            if (u->list[i].n > 0xFFFF) return -1;
            rel += 2 + (uint64_t)u->list[i].n;
        }
        if (u->a.n > 0xFFFF || u->b.n > 0xFFFF || rel > 0xFFFF) return -1;
        len = 6 + (uint64_t)u->a.n + u->b.n + rel;
        return (int64_t)len;
    }
    case UL_SUB_USER_ID_RQ:
        if (u->a.n > 0xFFFF || u->b.n > 0xFFFF) return -1;
        return 6 + (int64_t)u->a.n + u->b.n;
    case UL_SUB_USER_ID_AC:
        if (u->a.n > 0xFFFF) return -1;
        return 2 + (int64_t)u->a.n;
    default:
        return u->a.n;
    }
}

static int64_t pc_item_len(const ul_assoc_enc *a, const ul_pc_enc *pc) {
    uint64_t len = 4;
    if (a->pdu_type == UL_PDU_ASSOCIATE_RQ) {
        if (pc->abstract.n > 0xFFFF) return -1;
        len += 4 + (uint64_t)pc->abstract.n;
        for (uint32_t i = 0; i < pc->n_ts; i++) {
            if (pc->ts[i].n > 0xFFFF) return -1;
            len += 4 + (uint64_t)pc->ts[i].n;
        }
    } else {
        uint32_t ts = pc->n_ts ? pc->ts[0].n : 0;
        if (ts > 0xFFFF) return -1;
        len += 4 + (uint64_t)ts;
    }
    return len > 0xFFFF ? -1 : (int64_t)len;
}

static int64_t user_item_len(const ul_assoc_enc *a) {
    uint64_t len = 0;
    for (uint32_t i = 0; i < a->n_user; i++) {
        int64_t v = uitem_value_len(&a->user[i]);
        if (v < 0 || v > 0xFFFF) return -1;
        len += 4 + (uint64_t)v;
    }
    return len > 0xFFFF ? -1 : (int64_t)len;
}

int64_t ul_size_associate(const ul_assoc_enc *a) {
    if (a->pdu_type != UL_PDU_ASSOCIATE_RQ && a->pdu_type != UL_PDU_ASSOCIATE_AC)
        return UL_E_ARG;
    if (a->called.n > 16 || a->calling.n > 16 || a->app_context.n > 0xFFFF) return UL_E_ARG;
    uint64_t total = UL_HEADER_LEN + UL_FIXED_RQAC_LEN + 4 + (uint64_t)a->app_context.n;
    for (uint32_t i = 0; i < a->n_pcs; i++) {
        int64_t l = pc_item_len(a, &a->pcs[i]);
        if (l < 0) return UL_E_ARG;
        total += 4 + (uint64_t)l;
    }
    int64_t u = user_item_len(a);
    if (u < 0) return UL_E_ARG;
    total += 4 + (uint64_t)u;
    if (total - UL_HEADER_LEN > UL_MAX_PDU_LENGTH) return UL_E_ARG;
    return (int64_t)total;
}

static uint8_t *put_item(uint8_t *p, uint8_t type, uint8_t reserved, uint32_t len) {
    p[0] = type;
    p[1] = reserved;
    st16(p + 2, len);
    return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, ul_bytes b) {
    if (b.n) memcpy(p, b.p, b.n);
    return p + b.n;
}

static uint8_t *put_lv16(uint8_t *p, ul_bytes b) {
    st16(p, b.n);
    return put_bytes(p + 2, b);
}

static uint8_t *put_ae(uint8_t *p, ul_bytes ae) {
    memset(p, ' ', 16);
    if (ae.n) memcpy(p, ae.p, ae.n);
    return p + 16;
}

static uint8_t *put_uitem(uint8_t *p, const ul_uitem_enc *u) {
    uint32_t vlen = (uint32_t)uitem_value_len(u);
    uint8_t reserved = (!u->raw && u->type == UL_SUB_COMMON_EXT_NEG) ? u->b0 : 0;
    p = put_item(p, u->type, reserved, vlen);
    if (u->raw) return put_bytes(p, u->a);
    switch (u->type) {
    case UL_SUB_MAX_LENGTH:
    case UL_SUB_ASYNC_OPS:
        st32(p, u->u32);
        return p + 4;
    case UL_SUB_ROLE:
        p = put_lv16(p, u->a);
        p[0] = u->b0;
        p[1] = u->b1;
        return p + 2;
    case UL_SUB_EXT_NEG:
        p = put_lv16(p, u->a);
        return put_bytes(p, u->b);
    case UL_SUB_COMMON_EXT_NEG: {
        p = put_lv16(p, u->a);
        p = put_lv16(p, u->b);
        uint32_t rel = 0;
        for (uint32_t i = 0; i < u->n_list; i++) rel += 2 + u->list[i].n;
        st16(p, rel);
        p += 2;
        for (uint32_t i = 0; i < u->n_list; i++) p = put_lv16(p, u->list[i]);
        return p;
    }
    case UL_SUB_USER_ID_RQ:
        p[0] = u->b0;
        p[1] = u->b1;
        p = put_lv16(p + 2, u->a);
        return put_lv16(p, u->b);
    case UL_SUB_USER_ID_AC:
        return put_lv16(p, u->a);
    default:
        return put_bytes(p, u->a);
    }
}

int64_t ul_encode_associate(const ul_assoc_enc *a, uint8_t *out, size_t cap) {
    int64_t total = ul_size_associate(a);
    if (total < 0) return total;
    if ((uint64_t)total > cap) return UL_E_BUFFER;
    uint8_t *p = out;
    /* fixed part: Table 9-11 (RQ) / 9-17 (AC) */
    ul_pdu_header(p, a->pdu_type, (uint32_t)(total - UL_HEADER_LEN));
    st16(p + 6, a->version);
    st16(p + 8, 0);
    put_ae(p + 10, a->called);
    put_ae(p + 26, a->calling);
    memset(p + 42, 0, 32);
    p += UL_HEADER_LEN + UL_FIXED_RQAC_LEN;
    p = put_item(p, UL_ITEM_APP_CONTEXT, 0, a->app_context.n);
    p = put_bytes(p, a->app_context);
    for (uint32_t i = 0; i < a->n_pcs; i++) {
        const ul_pc_enc *pc = &a->pcs[i];
        int rq = a->pdu_type == UL_PDU_ASSOCIATE_RQ;
        p = put_item(p, rq ? UL_ITEM_PC_RQ : UL_ITEM_PC_AC, 0, (uint32_t)pc_item_len(a, pc));
        p[0] = pc->id;
        p[1] = 0;
        p[2] = rq ? 0 : pc->result;
        p[3] = 0;
        p += 4;
        if (rq) {
            p = put_item(p, UL_ITEM_ABSTRACT, 0, pc->abstract.n);
            p = put_bytes(p, pc->abstract);
            for (uint32_t t = 0; t < pc->n_ts; t++) {
                p = put_item(p, UL_ITEM_TRANSFER, 0, pc->ts[t].n);
                p = put_bytes(p, pc->ts[t]);
            }
        } else {
            ul_bytes ts = {NULL, 0};
            if (pc->n_ts) ts = pc->ts[0];
            p = put_item(p, UL_ITEM_TRANSFER, 0, ts.n);
            p = put_bytes(p, ts);
        }
    }
    p = put_item(p, UL_ITEM_USER_INFO, 0, (uint32_t)user_item_len(a));
    for (uint32_t i = 0; i < a->n_user; i++) p = put_uitem(p, &a->user[i]);
    return (int64_t)(p - out);
}

/* ---- RJ, RELEASE-RQ/RP, ABORT (Tables 9-21, 9-24, 9-25, 9-26) ----------------------- */

int ul_decode_short(const uint8_t *buf, size_t n, uint8_t *a, uint8_t *b, uint8_t *c,
                    ul_err *err) {
    if (n < 1) return fail(err, UL_E_TRUNCATED, 0);
    uint8_t t = buf[0];
    if (t != UL_PDU_ASSOCIATE_RJ && t != UL_PDU_RELEASE_RQ && t != UL_PDU_RELEASE_RP &&
        t != UL_PDU_ABORT)
        return fail(err, UL_E_WRONG_TYPE, 0);
    size_t end;
    int rc = pdu_bounds(buf, n, t, &end, err);
    if (rc) return rc;
    if (end != UL_HEADER_LEN + 4) return fail(err, UL_E_BAD_LENGTH, 2);
    *a = *b = *c = 0;
    if (t == UL_PDU_ASSOCIATE_RJ) *a = buf[7];
    if (t == UL_PDU_ASSOCIATE_RJ || t == UL_PDU_ABORT) {
        *b = buf[8];
        *c = buf[9];
    }
    return UL_OK;
}

int ul_encode_short(uint8_t pdu_type, uint8_t a, uint8_t b, uint8_t c, uint8_t out[10]) {
    if (pdu_type != UL_PDU_ASSOCIATE_RJ && pdu_type != UL_PDU_RELEASE_RQ &&
        pdu_type != UL_PDU_RELEASE_RP && pdu_type != UL_PDU_ABORT)
        return UL_E_ARG;
    ul_pdu_header(out, pdu_type, 4);
    memset(out + 6, 0, 4);
    if (pdu_type == UL_PDU_ASSOCIATE_RJ) out[7] = a;
    if (pdu_type == UL_PDU_ASSOCIATE_RJ || pdu_type == UL_PDU_ABORT) {
        out[8] = b;
        out[9] = c;
    }
    return 10;
}

/* ---- P-DATA-TF (Tables 9-22, 9-23; Annex E) ----------------------------------------- */

int ul_pdv_next(const uint8_t *buf, size_t n, size_t *pos, ul_pdv *out, ul_err *err) {
    size_t end;
    int rc = pdu_bounds(buf, n, UL_PDU_P_DATA_TF, &end, err);
    if (rc) return rc;
    size_t p = *pos < UL_HEADER_LEN ? UL_HEADER_LEN : *pos;
    if (p >= end) return p == UL_HEADER_LEN ? fail(err, UL_E_MISSING, UL_HEADER_LEN) : 0;
    if (end - p < 4) return fail(err, UL_E_TRUNCATED, p);
    uint32_t len = ld32(buf + p);
    if (len < 2) return fail(err, UL_E_BAD_LENGTH, p);
    if ((uint64_t)(end - p - 4) < len) return fail(err, UL_E_TRUNCATED, p);
    out->pc_id = buf[p + 4];
    out->control = buf[p + 5];
    out->data = span(p + 6, len - 2);
    *pos = p + 4 + len;
    return 1;
}

uint32_t ul_fragment_size(uint32_t peer_max_length) {
    if (peer_max_length == 0) return 0xFFFFFFF8u;
    if (peer_max_length < 8) return 0;
    return (peer_max_length - 6) & ~1u;
}

uint64_t ul_fragment_count(uint64_t len, uint32_t frag) {
    if (len == 0 || frag == 0) return 1;
    return len / frag + (len % frag != 0);
}

int ul_pdu_header(uint8_t out[6], uint8_t pdu_type, uint32_t length) {
    out[0] = pdu_type;
    out[1] = 0;
    st32(out + 2, length);
    return UL_HEADER_LEN;
}

int ul_pdv_header(uint8_t out[6], uint8_t pc_id, uint8_t control, uint32_t frag_len) {
    if (frag_len > 0xFFFFFFFDu) return UL_E_ARG;
    st32(out, frag_len + 2);
    out[4] = pc_id;
    out[5] = control;
    return 6;
}

int ul_pdata_header(uint8_t out[12], uint8_t pc_id, uint8_t control, uint32_t frag_len) {
    if (frag_len > 0xFFFFFFF9u) return UL_E_ARG;
    ul_pdu_header(out, UL_PDU_P_DATA_TF, frag_len + 6);
    ul_pdv_header(out + 6, pc_id, control, frag_len);
    return UL_PDATA_HEADER_LEN;
}
