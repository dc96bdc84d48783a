/*
 * libFuzzer harness over csrc/ul_pdu.c (no Python). See fuzz/README.md.
 *
 * Every input goes through ul_frame (several maxima), is cut into PDUs as a stream, and each
 * PDU (copied into an exactly-sized buffer, so ASan sees any overread) and the whole input go
 * through ul_decode_associate (small and larger capacities), every typed sub-item decoder on
 * every user-information sub-item, ul_decode_short and a ul_pdv_next loop. Contract checks
 * abort() on violation:
 *   - returned spans lie inside the buffer; error offsets lie inside it too;
 *   - ul_frame agrees with its own header and is consistent on prefixes;
 *   - a decode with small capacities succeeds iff the large one does and the counts fit;
 *   - round trip: an RQ/AC that decodes is re-encoded from its spans (typed sub-items through
 *     the typed encoder when their decoder accepts them, raw otherwise), decoded again with
 *     identical results, and re-encoded again to identical bytes;
 *   - short PDUs re-encode to the same significant bytes; PDV headers re-encode identically.
 *
 * Built with -DFUZZ_PDU_MAIN it is a plain program that replays files given as arguments
 * (used by `make -C tests/c test` over fuzz/corpus, and to reproduce a crash without clang).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                      \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: contract violated: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

enum { SMALL_PCS = 4, SMALL_TS = 8, SMALL_USER = 8 };
enum { BIG_PCS = 128, BIG_TS = 256, BIG_USER = 128, MAX_REL = 16 };

typedef struct {
    ul_pc pcs[BIG_PCS];
    ul_span ts[BIG_TS];
    ul_item user[BIG_USER];
    ul_assoc a;
    ul_err err;
} dec;

static int decode(dec *d, const uint8_t *buf, size_t n, uint32_t pcs, uint32_t ts,
                  uint32_t user) {
    memset(&d->a, 0, sizeof d->a);
    d->a.pcs = d->pcs;
    d->a.pcs_cap = pcs;
    d->a.ts = d->ts;
    d->a.ts_cap = ts;
    d->a.user = d->user;
    d->a.user_cap = user;
    d->err.code = 0;
    d->err.offset = 0;
    int rc = ul_decode_associate(buf, n, &d->a, &d->err);
    if (rc != UL_OK) {
        REQUIRE(rc < 0 && d->err.code == rc && d->err.offset <= n);
    }
    return rc;
}

static void span_in(ul_span s, size_t lo, size_t hi) {
    REQUIRE((size_t)s.off >= lo && (size_t)s.off + s.len <= hi);
}

static int span_same(const uint8_t *b1, ul_span s1, const uint8_t *b2, ul_span s2) {
    return s1.len == s2.len && (s1.len == 0 || memcmp(b1 + s1.off, b2 + s2.off, s1.len) == 0);
}

/* The structural contract of a successful decode. */
static void check_assoc(const uint8_t *buf, size_t n, const dec *d) {
    const ul_assoc *a = &d->a;
    size_t end = 6 + ((size_t)buf[2] << 24 | (size_t)buf[3] << 16 | (size_t)buf[4] << 8 | buf[5]);
    REQUIRE(end <= n && end >= 74);
    REQUIRE(a->pdu_type == buf[0] && (a->pdu_type == 1 || a->pdu_type == 2));
    REQUIRE(a->called.off == 10 && a->called.len == 16);
    REQUIRE(a->calling.off == 26 && a->calling.len == 16);
    span_in(a->app_context, 78, end);
    REQUIRE(a->n_pcs >= 1 && a->n_pcs <= a->pcs_cap);
    REQUIRE(a->n_ts <= a->ts_cap && a->n_user <= a->user_cap);
    uint32_t next_ts = 0;
    for (uint32_t i = 0; i < a->n_pcs; i++) {
        const ul_pc *pc = &a->pcs[i];
        REQUIRE(pc->ts_first == next_ts && pc->ts_first + pc->ts_count <= a->n_ts);
        next_ts += pc->ts_count;
        if (a->pdu_type == 1) {
            REQUIRE(pc->has_abstract && pc->ts_count >= 1 && pc->result == 0);
            span_in(pc->abstract, 74, end);
        } else {
            REQUIRE(!pc->has_abstract);
            REQUIRE(pc->ts_count >= 1 || pc->result != 0);
        }
    }
    REQUIRE(next_ts == a->n_ts);
    for (uint32_t i = 0; i < a->n_ts; i++) span_in(a->ts[i], 74, end);
    for (uint32_t i = 0; i < a->n_user; i++) span_in(a->user[i].value, 82, end);
}

/* Runs every typed decoder on one sub-item value; fills a typed encoding when the decoder of
 * its own type accepts it (returns 1), else leaves it raw (returns 0). */
static int typed_item(const uint8_t *buf, const ul_item *it, ul_uitem_enc *u, ul_bytes *lists,
                      uint32_t *n_lists) {
    ul_span v = it->value, s1, s2, rel[MAX_REL];
    size_t lo = v.off, hi = (size_t)v.off + v.len;
    ul_err err;
    uint32_t u32, n_rel;
    uint16_t inv, perf;
    uint8_t x, y;
    int ok[10] = {0};

    ok[1] = ul_decode_u32(buf, v, &u32, &err) == UL_OK;
    REQUIRE(ok[1] == (v.len == 4));
    ok[3] = ul_decode_async(buf, v, &inv, &perf, &err) == UL_OK;
    REQUIRE(ok[3] == (v.len == 4));
    if (ul_decode_role(buf, v, &s1, &x, &y, &err) == UL_OK) {
        span_in(s1, lo, hi);
        REQUIRE(s1.len + 4 == v.len);
        ok[4] = it->type == UL_SUB_ROLE;
        if (ok[4]) {
            u->a.p = buf + s1.off;
            u->a.n = s1.len;
            u->b0 = x;
            u->b1 = y;
        }
    } else {
        REQUIRE(err.offset <= hi);
    }
    if (ul_decode_ext_neg(buf, v, &s1, &s2, &err) == UL_OK) {
        span_in(s1, lo, hi);
        span_in(s2, lo, hi);
        REQUIRE(s2.off + s2.len == hi);
        ok[6] = it->type == UL_SUB_EXT_NEG;
        if (ok[6]) {
            u->a.p = buf + s1.off;
            u->a.n = s1.len;
            u->b.p = buf + s2.off;
            u->b.n = s2.len;
        }
    }
    /* small capacity first (LIMIT path), then the real one */
    (void)ul_decode_common_ext(buf, v, &s1, &s2, rel, 1, &n_rel, &err);
    if (ul_decode_common_ext(buf, v, &s1, &s2, rel, MAX_REL, &n_rel, &err) == UL_OK) {
        span_in(s1, lo, hi);
        span_in(s2, lo, hi);
        REQUIRE(n_rel <= MAX_REL);
        for (uint32_t i = 0; i < n_rel; i++) span_in(rel[i], lo, hi);
        ok[7] = it->type == UL_SUB_COMMON_EXT_NEG;
        if (ok[7]) {
            u->a.p = buf + s1.off;
            u->a.n = s1.len;
            u->b.p = buf + s2.off;
            u->b.n = s2.len;
            u->b0 = buf[v.off - 3]; /* sub-item version: byte 2 of the sub-item */
            u->list = lists + *n_lists;
            u->n_list = n_rel;
            for (uint32_t i = 0; i < n_rel; i++) {
                lists[*n_lists].p = buf + rel[i].off;
                lists[*n_lists].n = rel[i].len;
                (*n_lists)++;
            }
        }
    }
    if (ul_decode_user_id_rq(buf, v, &x, &y, &s1, &s2, &err) == UL_OK) {
        span_in(s1, lo, hi);
        span_in(s2, lo, hi);
        REQUIRE(s1.len + s2.len + 6 == v.len);
        ok[8] = it->type == UL_SUB_USER_ID_RQ;
        if (ok[8]) {
            u->b0 = x;
            u->b1 = y;
            u->a.p = buf + s1.off;
            u->a.n = s1.len;
            u->b.p = buf + s2.off;
            u->b.n = s2.len;
        }
    }
    if (ul_decode_user_id_ac(buf, v, &s1, &err) == UL_OK) {
        span_in(s1, lo, hi);
        REQUIRE(s1.len + 2 == v.len);
        ok[9] = it->type == UL_SUB_USER_ID_AC;
        if (ok[9]) {
            u->a.p = buf + s1.off;
            u->a.n = s1.len;
        }
    }
    switch (it->type) {
    case UL_SUB_MAX_LENGTH:
        if (!ok[1]) return 0;
        u->u32 = u32;
        return 1;
    case UL_SUB_ASYNC_OPS:
        if (!ok[3]) return 0;
        u->u32 = (uint32_t)inv << 16 | perf;
        return 1;
    case UL_SUB_IMPL_CLASS:
    case UL_SUB_IMPL_VERSION:
        u->a.p = buf + v.off;
        u->a.n = v.len;
        return 1;
    case UL_SUB_ROLE:
        return ok[4];
    case UL_SUB_EXT_NEG:
        return ok[6];
    case UL_SUB_COMMON_EXT_NEG:
        return ok[7];
    case UL_SUB_USER_ID_RQ:
        return ok[8];
    case UL_SUB_USER_ID_AC:
        return ok[9];
    default:
        return 0;
    }
}

/* Builds the encoder input from a decode (spans into buf). */
typedef struct {
    ul_pc_enc pcs[BIG_PCS];
    ul_bytes ts[BIG_TS];
    ul_uitem_enc user[BIG_USER];
    ul_bytes lists[BIG_USER * MAX_REL];
    ul_assoc_enc a;
} enc;

static ul_bytes bytes_of(const uint8_t *buf, ul_span s) {
    ul_bytes b;
    b.p = buf + s.off;
    b.n = s.len;
    return b;
}

static void to_enc(const uint8_t *buf, const dec *d, enc *e) {
    const ul_assoc *a = &d->a;
    uint32_t n_lists = 0;
    memset(&e->a, 0, sizeof e->a);
    e->a.pdu_type = a->pdu_type;
    e->a.version = a->version;
    e->a.called = bytes_of(buf, a->called);
    e->a.calling = bytes_of(buf, a->calling);
    e->a.app_context = bytes_of(buf, a->app_context);
    for (uint32_t i = 0; i < a->n_ts; i++) e->ts[i] = bytes_of(buf, a->ts[i]);
    for (uint32_t i = 0; i < a->n_pcs; i++) {
        const ul_pc *pc = &a->pcs[i];
        ul_pc_enc *pe = &e->pcs[i];
        pe->id = pc->id;
        pe->result = pc->result;
        pe->abstract.p = NULL;
        pe->abstract.n = 0;
        if (pc->has_abstract) pe->abstract = bytes_of(buf, pc->abstract);
        pe->ts = e->ts + pc->ts_first;
        pe->n_ts = pc->ts_count;
    }
    for (uint32_t i = 0; i < a->n_user; i++) {
        ul_uitem_enc *u = &e->user[i];
        memset(u, 0, sizeof *u);
        u->type = a->user[i].type;
        if (!typed_item(buf, &a->user[i], u, e->lists, &n_lists)) {
            memset(u, 0, sizeof *u);
            u->type = a->user[i].type;
            u->raw = 1;
            u->a = bytes_of(buf, a->user[i].value);
        }
    }
    e->a.pcs = e->pcs;
    e->a.n_pcs = a->n_pcs;
    e->a.user = e->user;
    e->a.n_user = a->n_user;
}

static uint8_t *encode(const enc *e, size_t *n) {
    int64_t size = ul_size_associate(&e->a);
    REQUIRE(size >= 74 + 4 && (uint64_t)size <= (uint64_t)0xFFFFFFFFu + 6);
    uint8_t *out = malloc((size_t)size);
    REQUIRE(out != NULL);
    if (size > 0) REQUIRE(ul_encode_associate(&e->a, out, (size_t)size - 1) == UL_E_BUFFER);
    REQUIRE(ul_encode_associate(&e->a, out, (size_t)size) == size);
    *n = (size_t)size;
    return out;
}

/* Compares a decode of the re-encoded PDU (d2 over b2) with the original (d1 over b1). */
static void same_assoc(const uint8_t *b1, const dec *d1, const uint8_t *b2, const dec *d2) {
    const ul_assoc *x = &d1->a, *y = &d2->a;
    REQUIRE(x->pdu_type == y->pdu_type && x->version == y->version);
    REQUIRE(span_same(b1, x->called, b2, y->called));
    REQUIRE(span_same(b1, x->calling, b2, y->calling));
    REQUIRE(span_same(b1, x->app_context, b2, y->app_context));
    REQUIRE(x->n_pcs == y->n_pcs && x->n_user == y->n_user);
    for (uint32_t i = 0; i < x->n_pcs; i++) {
        const ul_pc *p = &x->pcs[i], *q = &y->pcs[i];
        REQUIRE(p->id == q->id && p->result == q->result && p->has_abstract == q->has_abstract);
        if (p->has_abstract) REQUIRE(span_same(b1, p->abstract, b2, q->abstract));
        if (x->pdu_type == UL_PDU_ASSOCIATE_RQ) {
            REQUIRE(p->ts_count == q->ts_count);
            for (uint32_t k = 0; k < p->ts_count; k++)
                REQUIRE(span_same(b1, x->ts[p->ts_first + k], b2, y->ts[q->ts_first + k]));
        } else {
            /* the AC encoder writes exactly one 40H item: the first TS, or an empty one */
            REQUIRE(q->ts_count == 1);
            ul_span want = {0, 0};
            if (p->ts_count) want = x->ts[p->ts_first];
            REQUIRE(span_same(b1, want, b2, y->ts[q->ts_first]));
        }
    }
    for (uint32_t i = 0; i < x->n_user; i++) {
        REQUIRE(x->user[i].type == y->user[i].type);
        REQUIRE(span_same(b1, x->user[i].value, b2, y->user[i].value));
    }
}

static void round_trip(const uint8_t *buf, const dec *d1) {
    static enc e1, e2;
    static dec d2, d3;
    size_t n2, n3;
    to_enc(buf, d1, &e1);
    uint8_t *b2 = encode(&e1, &n2);
    REQUIRE(decode(&d2, b2, n2, BIG_PCS, BIG_TS, BIG_USER) == UL_OK);
    check_assoc(b2, n2, &d2);
    same_assoc(buf, d1, b2, &d2);
    /* a second round is a fixed point, byte for byte */
    to_enc(b2, &d2, &e2);
    uint8_t *b3 = encode(&e2, &n3);
    REQUIRE(n3 == n2 && memcmp(b2, b3, n2) == 0);
    REQUIRE(decode(&d3, b3, n3, BIG_PCS, BIG_TS, BIG_USER) == UL_OK);
    free(b3);
    free(b2);
}

static void one_assoc(const uint8_t *buf, size_t n) {
    static dec small, big;
    int rs = decode(&small, buf, n, SMALL_PCS, SMALL_TS, SMALL_USER);
    int rb = decode(&big, buf, n, BIG_PCS, BIG_TS, BIG_USER);
    if (rs == UL_OK) {
        check_assoc(buf, n, &small);
        REQUIRE(rb == UL_OK);
        REQUIRE(small.a.n_pcs == big.a.n_pcs && small.a.n_ts == big.a.n_ts &&
                small.a.n_user == big.a.n_user);
    }
    if (rb == UL_OK) {
        check_assoc(buf, n, &big);
        if (big.a.n_pcs <= SMALL_PCS && big.a.n_ts <= SMALL_TS && big.a.n_user <= SMALL_USER)
            REQUIRE(rs == UL_OK);
        else
            REQUIRE(rs == UL_E_LIMIT);
        round_trip(buf, &big);
    } else if (rb != UL_E_LIMIT) {
        /* with less room the same error, unless a capacity runs out before it */
        REQUIRE(rs == rb || rs == UL_E_LIMIT);
    }
}

static void one_short(const uint8_t *buf, size_t n) {
    uint8_t a = 0xEE, b = 0xEE, c = 0xEE, out[10];
    ul_err err = {0, 0};
    int rc = ul_decode_short(buf, n, &a, &b, &c, &err);
    if (rc != UL_OK) {
        REQUIRE(rc < 0 && err.code == rc && err.offset <= n);
        return;
    }
    REQUIRE(n >= 10 && buf[2] == 0 && buf[3] == 0 && buf[4] == 0 && buf[5] == 4);
    REQUIRE(ul_encode_short(buf[0], a, b, c, out) == 10);
    REQUIRE(out[0] == buf[0] && memcmp(out + 2, buf + 2, 4) == 0);
    switch (buf[0]) {
    case UL_PDU_ASSOCIATE_RJ:
        REQUIRE(out[7] == buf[7] && out[8] == buf[8] && out[9] == buf[9]);
        break;
    case UL_PDU_ABORT:
        REQUIRE(a == 0 && out[8] == buf[8] && out[9] == buf[9]);
        break;
    default:
        REQUIRE(a == 0 && b == 0 && c == 0);
    }
}

static void one_pdata(const uint8_t *buf, size_t n) {
    size_t pos = 0, prev = 0;
    uint64_t count = 0;
    for (;;) {
        ul_pdv p;
        ul_err err = {0, 0};
        int rc = ul_pdv_next(buf, n, &pos, &p, &err);
        if (rc == 0) {
            REQUIRE(count > 0 && pos == 6 + (size_t)((uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 |
                                                      (uint32_t)buf[4] << 8 | buf[5]));
            return;
        }
        if (rc < 0) {
            REQUIRE(err.code == rc && err.offset <= n);
            return;
        }
        REQUIRE(rc == 1 && pos > prev && pos <= n);
        REQUIRE(p.data.off >= 12 && (size_t)p.data.off + p.data.len == pos);
        uint8_t h[6];
        REQUIRE(ul_pdv_header(h, p.pc_id, p.control, p.data.len) == 6);
        REQUIRE(memcmp(h, buf + p.data.off - 6, 6) == 0);
        prev = pos;
        count++;
    }
}

static void one_pdu(const uint8_t *buf, size_t n) {
    one_assoc(buf, n);
    one_short(buf, n);
    one_pdata(buf, n);
}

/* Exactly-sized copy so that any read past n is an ASan error. */
static void one_pdu_exact(const uint8_t *p, size_t n) {
    uint8_t *base = malloc(n ? n : 1);
    REQUIRE(base != NULL);
    if (n) memcpy(base, p, n);
    one_pdu(n ? base : base + 1, n);
    free(base);
}

static void frame_checks(const uint8_t *data, size_t size) {
    static const uint32_t maxima[] = {0, 4, 16, 74, 4096, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (unsigned i = 0; i < sizeof maxima / sizeof *maxima; i++) {
        uint8_t t = 0;
        uint32_t len = 0;
        int64_t r = ul_frame(data, size, maxima[i], &t, &len);
        if (size == 0) {
            REQUIRE(r == 0);
            continue;
        }
        if (data[0] < 1 || data[0] > 7) {
            REQUIRE(r == UL_E_UNKNOWN_PDU);
            continue;
        }
        if (size < 6) {
            REQUIRE(r == 0);
            continue;
        }
        uint32_t hl = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
                      (uint32_t)data[4] << 8 | data[5];
        REQUIRE(t == data[0] && len == hl);
        if (hl > maxima[i]) {
            REQUIRE(r == UL_E_TOO_LARGE);
        } else if ((uint64_t)size < 6 + (uint64_t)hl) {
            REQUIRE(r == 0);
        } else {
            REQUIRE(r == (int64_t)6 + hl);
            REQUIRE(ul_frame(data, (size_t)r - 1, maxima[i], &t, &len) == 0);
        }
    }
}

static void fragment_checks(const uint8_t *data, size_t size) {
    if (size < 4) return;
    uint32_t m = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                 data[3];
    uint32_t f = ul_fragment_size(m);
    REQUIRE(f % 2 == 0);
    if (m == 0) REQUIRE(f == 0xFFFFFFF8u);
    else if (m < 8) REQUIRE(f == 0);
    else REQUIRE((uint64_t)f + 6 <= m && (uint64_t)f + 8 > m);
    uint64_t len = size * (uint64_t)(data[4 % size] + 1);
    if (f) {
        uint64_t c = ul_fragment_count(len, f);
        REQUIRE(c >= 1 && (c - 1) * (uint64_t)f < (len ? len : 1) && c * (uint64_t)f >= len);
        uint8_t h[12];
        REQUIRE(ul_pdata_header(h, data[1], data[2], f) == 12);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    frame_checks(data, size);
    fragment_checks(data, size);
    /* the input as one buffer */
    one_pdu_exact(data, size);
    /* the input as a stream of PDUs */
    size_t pos = 0;
    while (pos < size) {
        uint8_t t;
        uint32_t len;
        int64_t r = ul_frame(data + pos, size - pos, UL_MAX_PDU_LENGTH, &t, &len);
        if (r <= 0) break;
        if (pos > 0 || (size_t)r < size) one_pdu_exact(data + pos, (size_t)r);
        pos += (size_t)r;
    }
    return 0;
}

#ifdef FUZZ_PDU_MAIN
int main(int argc, char **argv) {
    int done = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy) return 2;
        if (n) memcpy(copy, buf, n);
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
        done++;
    }
    printf("fuzz_pdu replay: %d inputs, 0 failed\n", done);
    return 0;
}
#endif
