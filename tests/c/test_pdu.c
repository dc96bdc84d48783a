/*
 * Plain-C tests of csrc/ul_pdu.c (no Python): every function declared in ul.h.
 *
 *   make -C tests/c test        (builds with -fsanitize=address,undefined and runs)
 *
 * Vectors are written by hand from PS3.8 Tables 9-11..9-26 and PS3.7 Annex D.3.3 in a small
 * notation: hex byte pairs, whitespace ignored, 'text' for literal ASCII. Every decoder is
 * run on an exactly-sized heap copy of its input, so ASan flags any read past the end.
 * Prints "N passed, M failed" as the last line; exits non-zero if anything failed.
 *
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ul.h"

#include "check.h"

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        if (va_ == vb_) {                                                                  \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: FAILED: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
                    #a, #b, va_, vb_);                                                     \
        }                                                                                  \
    } while (0)

#define CHECK_EQU(a, b)                                                                    \
    do {                                                                                   \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);   \
        if (va_ == vb_) {                                                                  \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: FAILED: %s == %s (%#llx != %#llx)\n", __FILE__,        \
                    __LINE__, #a, #b, va_, vb_);                                           \
        }                                                                                  \
    } while (0)

/* ---- helpers ------------------------------------------------------------------------ */

#define Z16 "00000000000000000000000000000000"
#define Z32 Z16 Z16

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses the vector notation into out (at most cap bytes); returns the byte count. */
static size_t hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\n') {
            s++;
        } else if (*s == '\'') {
            for (s++; *s && *s != '\''; s++) {
                if (n >= cap) abort();
                out[n++] = (uint8_t)*s;
            }
            if (*s) s++;
        } else {
            int hi = hexval(s[0]), lo = s[1] ? hexval(s[1]) : -1;
            if (hi < 0 || lo < 0 || n >= cap) {
                fprintf(stderr, "bad vector near \"%.10s\"\n", s);
                abort();
            }
            out[n++] = (uint8_t)(hi << 4 | lo);
            s += 2;
        }
    }
    return n;
}

/* An exactly-sized heap copy: reading p[n] is an ASan error, also for n == 0. */
typedef struct {
    uint8_t *base;
    uint8_t *p;
} exact;

static exact exact_copy(const uint8_t *src, size_t n) {
    exact e;
    e.base = malloc(n ? n : 1);
    if (!e.base) abort();
    e.p = n ? e.base : e.base + 1;
    if (n) memcpy(e.base, src, n);
    return e;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int span_is(const uint8_t *buf, ul_span s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && memcmp(buf + s.off, text, n) == 0;
}

static int span_eq(ul_span s, uint32_t off, uint32_t len) { return s.off == off && s.len == len; }

/* Decoder state with caller-chosen capacities (at most the array sizes). */
typedef struct {
    ul_pc pcs[64];
    ul_span ts[128];
    ul_item user[64];
    ul_assoc a;
    ul_err err;
} dec;

static int decode_caps(dec *d, const uint8_t *buf, size_t n, uint32_t pcs_cap, uint32_t ts_cap,
                       uint32_t user_cap) {
    memset(d, 0, sizeof *d);
    d->a.pcs = d->pcs;
    d->a.pcs_cap = pcs_cap;
    d->a.ts = d->ts;
    d->a.ts_cap = ts_cap;
    d->a.user = d->user;
    d->a.user_cap = user_cap;
    d->err.code = 12345;
    exact e = exact_copy(buf, n);
    int rc = ul_decode_associate(e.p, n, &d->a, &d->err);
    free(e.base);
    /* The contract: an error is reported in err, at an offset inside the buffer. */
    if (rc != UL_OK) {
        CHECK_EQ(d->err.code, rc);
        CHECK(d->err.offset <= n);
    }
    return rc;
}

static int decode(dec *d, const uint8_t *buf, size_t n) { return decode_caps(d, buf, n, 64, 128, 64); }

/* ---- vectors ------------------------------------------------------------------------ */

/* A-ASSOCIATE-RQ (Table 9-11): one PC (9-13) with abstract (9-14) and one TS (9-15), user
 * information (9-16) holding only a maximum length (D.1). PDU length 68 + 25 + 50 + 12. */
static const char RQ_MIN[] =
    "01 00 0000009B 0001 0000 'CALLED          ' 'CALLING         '" Z32
    "10 00 0015 '1.2.840.10008.3.1.1.1'"
    "20 00 002E 01 00 00 00"
    "  30 00 0011 '1.2.840.10008.1.1'"
    "  40 00 0011 '1.2.840.10008.1.2'"
    "50 00 0008 51 00 0004 00004000";

/* A-ASSOCIATE-AC (Table 9-17): PC 1 accepted (9-18) with TS (9-19); PC 3 rejected with result
 * 4 (transfer syntaxes not supported) and an empty TS item; user information (9-20). */
static const char AC_MIN[] =
    "02 00 00000092 0001 0000 'CALLED          ' 'CALLING         '" Z32
    "10 00 0015 '1.2.840.10008.3.1.1.1'"
    "21 00 0019 01 00 00 00 40 00 0011 '1.2.840.10008.1.2'"
    "21 00 0008 03 00 04 00 40 00 0000"
    "50 00 0008 51 00 0004 00004000";

/* P-DATA-TF (Table 9-22) with three PDVs (Table 9-23, Annex E.2). */
static const char PDATA3[] =
    "04 00 00000018"
    "00000004 01 03 AABB"
    "00000002 03 00"
    "00000006 05 02 01020304";

/* ---- a builder for bigger hand-made PDUs --------------------------------------------- */

typedef struct {
    uint8_t d[4096];
    size_t n;
} bld;

static void b8(bld *b, unsigned v) {
    if (b->n >= sizeof b->d) abort();
    b->d[b->n++] = (uint8_t)v;
}
static void b16(bld *b, unsigned v) {
    b8(b, v >> 8);
    b8(b, v);
}
static void bstr(bld *b, const char *s) {
    while (*s) b8(b, (uint8_t)*s++);
}
static void bzero_(bld *b, size_t k) {
    while (k--) b8(b, 0);
}
/* Starts an item (type, reserved, 2-byte length patched by bclose); returns its offset. */
static size_t bopen(bld *b, unsigned type) {
    size_t at = b->n;
    b8(b, type);
    b8(b, 0);
    b16(b, 0);
    return at;
}
static void bclose(bld *b, size_t at) {
    size_t len = b->n - at - 4;
    b->d[at + 2] = (uint8_t)(len >> 8);
    b->d[at + 3] = (uint8_t)len;
}
/* PDU header and the fixed part of Table 9-11/9-17. */
static void bpdu(bld *b, unsigned type) {
    b->n = 0;
    b8(b, type);
    b8(b, 0);
    b16(b, 0);
    b16(b, 0);
    b16(b, 1);
    b16(b, 0);
    bstr(b, "ANY-SCP         ");
    bstr(b, "  ECHOSCU       ");
    bzero_(b, 32);
}
static void bend(bld *b) { put32(b->d + 2, (uint32_t)(b->n - 6)); }
/* A sub-item: 2-byte length + text. */
static void blv(bld *b, const char *s) {
    b16(b, (unsigned)strlen(s));
    bstr(b, s);
}

/* Offsets recorded while building the rich RQ. */
typedef struct {
    size_t app, pc1, abs1, ts1a, ts1b, pc3, abs3, ts3a, ts3b;
    size_t u[10];
} rich_off;

#define UID_VERIFY "1.2.840.10008.1.1"
#define UID_CT "1.2.840.10008.5.1.4.1.1.2"
#define TS_IMPLICIT "1.2.840.10008.1.2"
#define TS_EXPLICIT "1.2.840.10008.1.2.1"
#define APP_CTX "1.2.840.10008.3.1.1.1"

/* Variants of the rich RQ (flags). */
enum {
    V_NO_APP = 1 << 0,
    V_DUP_APP = 1 << 1,
    V_NO_PC = 1 << 2,
    V_NO_USER = 1 << 3,
    V_DUP_USER = 1 << 4,
    V_PC_NO_ABS = 1 << 5,
    V_PC_NO_TS = 1 << 6,
    V_PC_DUP_ABS = 1 << 7,
    V_PC_SHORT = 1 << 8
};

/* Rich A-ASSOCIATE-RQ: unknown items at every level, two PCs with sub-items in unusual order,
 * and every user-information sub-item 51H..59H plus an unknown 7EH. */
static void build_rq(bld *b, rich_off *o, unsigned v) {
    size_t at, at2;
    bpdu(b, 0x01);
    if (!(v & V_NO_APP)) {
        o->app = bopen(b, 0x10);
        bstr(b, APP_CTX);
        bclose(b, o->app);
    }
    if (v & V_DUP_APP) {
        at = bopen(b, 0x10);
        bstr(b, APP_CTX);
        bclose(b, at);
    }
    at = bopen(b, 0x15); /* unknown item type: skipped (9.3.1) */
    bstr(b, "abc");
    bclose(b, at);
    if (!(v & V_NO_PC)) {
        o->pc1 = bopen(b, 0x20);
        b8(b, 1);
        bzero_(b, 3);
        if (!(v & V_PC_NO_ABS)) {
            o->abs1 = bopen(b, 0x30);
            bstr(b, UID_VERIFY);
            bclose(b, o->abs1);
        }
        if (v & V_PC_DUP_ABS) {
            at2 = bopen(b, 0x30);
            bstr(b, UID_VERIFY);
            bclose(b, at2);
        }
        at2 = bopen(b, 0x35); /* unknown sub-item inside a PC: skipped */
        b16(b, 0xBEEF);
        bclose(b, at2);
        if (!(v & V_PC_NO_TS)) {
            o->ts1a = bopen(b, 0x40);
            bstr(b, TS_IMPLICIT);
            bclose(b, o->ts1a);
            o->ts1b = bopen(b, 0x40);
            bstr(b, TS_EXPLICIT);
            bclose(b, o->ts1b);
        }
        bclose(b, o->pc1);
        at = bopen(b, 0x21); /* an AC-only item inside an RQ: unknown here, skipped */
        b8(b, 9);
        bzero_(b, 3);
        bclose(b, at);
        o->pc3 = bopen(b, 0x20); /* TS before the abstract syntax: order is not relied on */
        b8(b, 3);
        b8(b, 0xFF); /* reserved bytes are not tested */
        b8(b, 0xFF);
        b8(b, 0xFF);
        o->ts3a = bopen(b, 0x40);
        bstr(b, TS_EXPLICIT);
        bclose(b, o->ts3a);
        o->abs3 = bopen(b, 0x30);
        bstr(b, UID_CT);
        bclose(b, o->abs3);
        o->ts3b = bopen(b, 0x40);
        bstr(b, TS_IMPLICIT);
        bclose(b, o->ts3b);
        bclose(b, o->pc3);
    }
    if (v & V_PC_SHORT) {
        at = bopen(b, 0x20); /* a PC item of 2 bytes: shorter than its fixed part */
        b8(b, 5);
        b8(b, 0);
        bclose(b, at);
    }
    if (!(v & V_NO_USER)) {
        at = bopen(b, 0x50);
        o->u[0] = bopen(b, 0x51); /* D.1 maximum length */
        b16(b, 0);
        b16(b, 0x4000);
        bclose(b, o->u[0]);
        o->u[1] = bopen(b, 0x52); /* D.3.3.2 implementation class UID */
        bstr(b, "1.2.826.0.1.3680043.9.1");
        bclose(b, o->u[1]);
        o->u[2] = bopen(b, 0x53); /* D.3.3.3 async window: invoked 5, performed 3 */
        b16(b, 5);
        b16(b, 3);
        bclose(b, o->u[2]);
        o->u[3] = bopen(b, 0x54); /* D.3.3.4 role: SCU byte, then SCP byte */
        blv(b, UID_CT);
        b8(b, 1);
        b8(b, 0);
        bclose(b, o->u[3]);
        o->u[4] = bopen(b, 0x55); /* D.3.3.2 implementation version name */
        bstr(b, "DICOMUL_01");
        bclose(b, o->u[4]);
        o->u[5] = bopen(b, 0x56); /* D.3.3.5 SOP class extended negotiation */
        blv(b, "1.2.840.10008.5.1.4.1.2.1.1");
        b8(b, 1);
        b8(b, 0);
        b8(b, 1);
        bclose(b, o->u[5]);
        o->u[6] = bopen(b, 0x57); /* D.3.3.6 common extended negotiation, version 00 */
        blv(b, UID_CT);
        blv(b, "1.2.840.10008.4.2");
        b16(b, 2 + 27 + 2 + 27);
        blv(b, "1.2.840.10008.5.1.4.1.1.2.1");
        blv(b, "1.2.840.10008.5.1.4.1.1.2.2");
        bclose(b, o->u[6]);
        o->u[7] = bopen(b, 0x58); /* D.3.3.7 user identity: username + passcode */
        b8(b, 2);
        b8(b, 1);
        blv(b, "alice");
        blv(b, "secret");
        bclose(b, o->u[7]);
        o->u[8] = bopen(b, 0x7E); /* unknown sub-item: listed raw, in wire order */
        bstr(b, "xyz");
        bclose(b, o->u[8]);
        o->u[9] = bopen(b, 0x59); /* D.3.3.7 server response */
        blv(b, "token");
        bclose(b, o->u[9]);
        bclose(b, at);
    }
    if (v & V_DUP_USER) {
        at = bopen(b, 0x50);
        bclose(b, at);
    }
    at = bopen(b, 0x60); /* unknown item after the user information: skipped */
    bclose(b, at);
    bend(b);
}

/* Rich A-ASSOCIATE-AC: results 0..4 (Table 9-18), with and without TS items. */
typedef struct {
    size_t pc[5], ts[5], u[4];
} rich_ac_off;

static void build_ac(bld *b, rich_ac_off *o) {
    size_t at;
    bpdu(b, 0x02);
    at = bopen(b, 0x10);
    bstr(b, APP_CTX);
    bclose(b, at);
    for (unsigned i = 0; i < 5; i++) {
        o->pc[i] = bopen(b, 0x21);
        b8(b, 1 + 2 * i);
        b8(b, 0);
        b8(b, i); /* result/reason */
        b8(b, 0);
        if (i == 1) { /* an abstract syntax item is not part of 21H: skipped */
            size_t a2 = bopen(b, 0x30);
            bstr(b, UID_VERIFY);
            bclose(b, a2);
        }
        o->ts[i] = 0;
        if (i != 2) { /* result 2: TS item absent (not significant when result != 0) */
            o->ts[i] = bopen(b, 0x40);
            if (i != 3) bstr(b, i == 4 ? TS_EXPLICIT : TS_IMPLICIT);
            bclose(b, o->ts[i]);
        }
        bclose(b, o->pc[i]);
    }
    at = bopen(b, 0x50);
    o->u[0] = bopen(b, 0x51);
    b16(b, 0);
    b16(b, 0);
    bclose(b, o->u[0]);
    o->u[1] = bopen(b, 0x52);
    bstr(b, "1.2.3.4");
    bclose(b, o->u[1]);
    o->u[2] = bopen(b, 0x55);
    bstr(b, "OTHER");
    bclose(b, o->u[2]);
    o->u[3] = bopen(b, 0x59);
    blv(b, "srv-response");
    bclose(b, o->u[3]);
    bclose(b, at);
    bend(b);
}

/* ---- ul_frame ----------------------------------------------------------------------- */

static void test_frame(void) {
    uint8_t v[512];
    size_t n = hex(RQ_MIN, v, sizeof v);
    uint8_t t;
    uint32_t len;

    CHECK_EQ(n, 161);
    /* need more at every prefix length, with type and length reported once the header is in */
    for (size_t k = 0; k < n; k++) {
        exact e = exact_copy(v, k);
        t = 0xEE;
        len = 0xDEADBEEF;
        CHECK_EQ(ul_frame(e.p, k, 0xFFFFFFFFu, &t, &len), 0);
        if (k >= 6) {
            CHECK_EQ(t, 0x01);
            CHECK_EQU(len, 155);
        }
        free(e.base);
    }
    {
        exact e = exact_copy(v, n);
        CHECK_EQ(ul_frame(e.p, n, 0xFFFFFFFFu, &t, &len), 161);
        CHECK_EQ(ul_frame(e.p, n, 155, &t, &len), 161); /* length == max is accepted */
        free(e.base);
    }
    /* trailing bytes: only the first PDU is framed */
    {
        uint8_t two[20];
        size_t m = hex("05 00 00000004 00000000 06 00 00000004 0000", two, sizeof two);
        CHECK_EQ(ul_frame(two, m, 100, &t, &len), 10);
        CHECK_EQ(ul_frame(two + 10, m - 10, 100, &t, &len), 0);
        CHECK_EQ(t, 0x06);
    }
    /* every PDU type is known; anything else is refused at byte 0 */
    for (unsigned ty = 0; ty < 256; ty++) {
        uint8_t h[6] = {(uint8_t)ty, 0, 0, 0, 0, 4};
        for (size_t k = 1; k <= 6; k++) {
            exact e = exact_copy(h, k);
            int64_t r = ul_frame(e.p, k, 100, &t, &len);
            if (ty >= 1 && ty <= 7)
                CHECK_EQ(r, 0);
            else
                CHECK_EQ(r, UL_E_UNKNOWN_PDU);
            free(e.base);
        }
    }
    {
        exact e = exact_copy(v, 0);
        CHECK_EQ(ul_frame(e.p, 0, 100, &t, &len), 0);
        free(e.base);
    }
    /* too large: refused as soon as the 6-byte header is there */
    {
        uint8_t h[6];
        hex("04 00 00000065", h, 6);
        CHECK_EQ(ul_frame(h, 5, 100, &t, &len), 0);
        t = 0;
        len = 0;
        CHECK_EQ(ul_frame(h, 6, 100, &t, &len), UL_E_TOO_LARGE);
        CHECK_EQ(t, 4);
        CHECK_EQU(len, 101);
        CHECK_EQ(ul_frame(h, 6, 101, &t, &len), 0);
        CHECK_EQ(ul_frame(h, 6, 0, &t, &len), UL_E_TOO_LARGE);
        hex("04 00 00000000", h, 6);
        CHECK_EQ(ul_frame(h, 6, 0, &t, &len), 6); /* a header-only PDU fits max 0 */
    }
    /* lengths up to UL_MAX_DECODE_LENGTH: no 32-bit overflow of 6 + length; above it
     * (spans are 32-bit offsets) refused whatever the caller's maximum. ul_frame reads
     * only the header, so a 6-byte buffer stands for the longer stream here. */
    {
        uint8_t h[6];
        hex("04 00 FFFFFFFF", h, 6);
        CHECK_EQ(ul_frame(h, 6, 0xFFFFFFFFu, &t, &len), UL_E_TOO_LARGE);
        CHECK_EQU(len, 0xFFFFFFFFu);
        hex("04 00 FFFFFFEF", h, 6);
        CHECK_EQ(ul_frame(h, 6, 0xFFFFFFFFu, &t, &len), 0);
        CHECK_EQU(len, UL_MAX_DECODE_LENGTH);
        CHECK_EQ(ul_frame(h, 6, UL_MAX_DECODE_LENGTH - 1, &t, &len), UL_E_TOO_LARGE);
        if (sizeof(size_t) > 4) {
            size_t big = (size_t)((uint64_t)6 + UL_MAX_DECODE_LENGTH);
            CHECK_EQ(ul_frame(h, big - 1, 0xFFFFFFFFu, &t, &len), 0);
            CHECK_EQ(ul_frame(h, big, 0xFFFFFFFFu, &t, &len), (int64_t)big);
        }
        hex("01 00 80000000", h, 6);
        CHECK_EQ(ul_frame(h, 6, 0x7FFFFFFFu, &t, &len), UL_E_TOO_LARGE);
        CHECK_EQU(len, 0x80000000u);
    }
}

/* ---- ul_decode_associate: hand-written vectors -------------------------------------- */

static void test_rq_min(void) {
    uint8_t v[512];
    size_t n = hex(RQ_MIN, v, sizeof v);
    dec d;
    CHECK_EQ(n, 161);
    CHECK_EQ(decode(&d, v, n), UL_OK);
    CHECK_EQ(d.a.pdu_type, 0x01);
    CHECK_EQ(d.a.version, 1);
    CHECK(span_eq(d.a.called, 10, 16) && span_is(v, d.a.called, "CALLED          "));
    CHECK(span_eq(d.a.calling, 26, 16) && span_is(v, d.a.calling, "CALLING         "));
    CHECK(span_eq(d.a.app_context, 78, 21) && span_is(v, d.a.app_context, APP_CTX));
    CHECK_EQ(d.a.n_pcs, 1);
    CHECK_EQ(d.pcs[0].id, 1);
    CHECK_EQ(d.pcs[0].result, 0);
    CHECK_EQ(d.pcs[0].has_abstract, 1);
    CHECK(span_eq(d.pcs[0].abstract, 111, 17) && span_is(v, d.pcs[0].abstract, UID_VERIFY));
    CHECK_EQ(d.pcs[0].ts_first, 0);
    CHECK_EQ(d.pcs[0].ts_count, 1);
    CHECK_EQ(d.a.n_ts, 1);
    CHECK(span_eq(d.ts[0], 132, 17) && span_is(v, d.ts[0], TS_IMPLICIT));
    CHECK_EQ(d.a.n_user, 1);
    CHECK_EQ(d.user[0].type, 0x51);
    CHECK(span_eq(d.user[0].value, 157, 4));
    {
        uint32_t m = 0;
        CHECK_EQ(ul_decode_u32(v, d.user[0].value, &m, &d.err), UL_OK);
        CHECK_EQU(m, 0x4000);
    }
    /* the protocol version is reported, not tested (only bit 0 matters, 9.3.2) */
    v[6] = 0x80;
    v[7] = 0x03;
    CHECK_EQ(decode(&d, v, n), UL_OK);
    CHECK_EQ(d.a.version, 0x8003);
    /* reserved fields are not tested */
    v[1] = 0xFF;
    v[8] = 0xFF;
    v[50] = 0x55;
    v[100] = 0x77; /* reserved byte of the app context item */
    CHECK_EQ(decode(&d, v, n), UL_OK);
    /* trailing bytes after the declared length are not part of the PDU */
    {
        uint8_t w[520];
        memcpy(w, v, n);
        memset(w + n, 0x07, 8);
        CHECK_EQ(decode(&d, w, n + 8), UL_OK);
        CHECK_EQ(d.a.n_user, 1);
    }
}

static void test_ac_min(void) {
    uint8_t v[512];
    size_t n = hex(AC_MIN, v, sizeof v);
    dec d;
    CHECK_EQ(n, 152);
    CHECK_EQ(decode(&d, v, n), UL_OK);
    CHECK_EQ(d.a.pdu_type, 0x02);
    CHECK(span_eq(d.a.called, 10, 16) && span_eq(d.a.calling, 26, 16));
    CHECK(span_eq(d.a.app_context, 78, 21));
    CHECK_EQ(d.a.n_pcs, 2);
    CHECK_EQ(d.pcs[0].id, 1);
    CHECK_EQ(d.pcs[0].result, 0);
    CHECK_EQ(d.pcs[0].has_abstract, 0);
    CHECK_EQ(d.pcs[0].ts_count, 1);
    CHECK(span_eq(d.ts[d.pcs[0].ts_first], 111, 17));
    CHECK(span_is(v, d.ts[d.pcs[0].ts_first], TS_IMPLICIT));
    CHECK_EQ(d.pcs[1].id, 3);
    CHECK_EQ(d.pcs[1].result, 4);
    CHECK_EQ(d.pcs[1].ts_count, 1);
    CHECK(span_eq(d.ts[d.pcs[1].ts_first], 140, 0));
    CHECK_EQ(d.a.n_user, 1);
    CHECK(d.user[0].type == 0x51 && span_eq(d.user[0].value, 148, 4));
}

static void test_rq_rich(void) {
    bld b;
    rich_off o;
    dec d;
    build_rq(&b, &o, 0);
    CHECK_EQ(decode(&d, b.d, b.n), UL_OK);
    CHECK_EQ(d.a.pdu_type, 1);
    CHECK(span_is(b.d, d.a.calling, "  ECHOSCU       "));
    CHECK(span_eq(d.a.app_context, (uint32_t)o.app + 4, 21));
    /* the unknown 15H, 21H and 60H items are skipped; the 35H sub-item too */
    CHECK_EQ(d.a.n_pcs, 2);
    CHECK_EQ(d.a.n_ts, 4);
    CHECK_EQ(d.pcs[0].id, 1);
    CHECK(span_eq(d.pcs[0].abstract, (uint32_t)o.abs1 + 4, 17));
    CHECK_EQ(d.pcs[0].ts_count, 2);
    CHECK(span_eq(d.ts[d.pcs[0].ts_first], (uint32_t)o.ts1a + 4, 17));
    CHECK(span_eq(d.ts[d.pcs[0].ts_first + 1], (uint32_t)o.ts1b + 4, 19));
    CHECK_EQ(d.pcs[1].id, 3);
    CHECK_EQ(d.pcs[1].result, 0); /* RQ: 0 whatever the reserved byte holds */
    CHECK(span_eq(d.pcs[1].abstract, (uint32_t)o.abs3 + 4, 25));
    CHECK(span_is(b.d, d.pcs[1].abstract, UID_CT));
    CHECK_EQ(d.pcs[1].ts_first, 2);
    CHECK_EQ(d.pcs[1].ts_count, 2);
    CHECK(span_is(b.d, d.ts[2], TS_EXPLICIT) && span_is(b.d, d.ts[3], TS_IMPLICIT));
    static const uint8_t types[10] = {0x51, 0x52, 0x53, 0x54, 0x55,
                                      0x56, 0x57, 0x58, 0x7E, 0x59};
    CHECK_EQ(d.a.n_user, 10);
    for (unsigned i = 0; i < 10 && i < d.a.n_user; i++) {
        size_t len = (size_t)b.d[o.u[i] + 2] << 8 | b.d[o.u[i] + 3];
        CHECK_EQ(d.user[i].type, types[i]);
        CHECK(span_eq(d.user[i].value, (uint32_t)o.u[i] + 4, (uint32_t)len));
    }
    if (d.a.n_user != 10) return;
    /* each typed decoder on its sub-item */
    ul_err err;
    uint32_t u32;
    uint16_t inv, perf;
    uint8_t x, y;
    ul_span s1, s2, rel[4];
    uint32_t n_rel;
    CHECK_EQ(ul_decode_u32(b.d, d.user[0].value, &u32, &err), UL_OK);
    CHECK_EQU(u32, 0x4000);
    CHECK(span_is(b.d, d.user[1].value, "1.2.826.0.1.3680043.9.1"));
    CHECK_EQ(ul_decode_async(b.d, d.user[2].value, &inv, &perf, &err), UL_OK);
    CHECK(inv == 5 && perf == 3);
    CHECK_EQ(ul_decode_role(b.d, d.user[3].value, &s1, &x, &y, &err), UL_OK);
    CHECK(span_is(b.d, s1, UID_CT) && x == 1 && y == 0);
    CHECK(span_is(b.d, d.user[4].value, "DICOMUL_01"));
    CHECK_EQ(ul_decode_ext_neg(b.d, d.user[5].value, &s1, &s2, &err), UL_OK);
    CHECK(span_is(b.d, s1, "1.2.840.10008.5.1.4.1.2.1.1"));
    CHECK(s2.len == 3 && memcmp(b.d + s2.off, "\x01\x00\x01", 3) == 0);
    CHECK_EQ(ul_decode_common_ext(b.d, d.user[6].value, &s1, &s2, rel, 4, &n_rel, &err), UL_OK);
    CHECK(span_is(b.d, s1, UID_CT) && span_is(b.d, s2, "1.2.840.10008.4.2"));
    CHECK_EQ(n_rel, 2);
    CHECK(span_is(b.d, rel[0], "1.2.840.10008.5.1.4.1.1.2.1"));
    CHECK(span_is(b.d, rel[1], "1.2.840.10008.5.1.4.1.1.2.2"));
    CHECK_EQ(ul_decode_user_id_rq(b.d, d.user[7].value, &x, &y, &s1, &s2, &err), UL_OK);
    CHECK(x == 2 && y == 1 && span_is(b.d, s1, "alice") && span_is(b.d, s2, "secret"));
    CHECK(span_is(b.d, d.user[8].value, "xyz"));
    CHECK_EQ(ul_decode_user_id_ac(b.d, d.user[9].value, &s1, &err), UL_OK);
    CHECK(span_is(b.d, s1, "token"));
}

static void test_ac_rich(void) {
    bld b;
    rich_ac_off o;
    dec d;
    build_ac(&b, &o);
    CHECK_EQ(decode(&d, b.d, b.n), UL_OK);
    CHECK_EQ(d.a.pdu_type, 2);
    CHECK_EQ(d.a.n_pcs, 5);
    for (unsigned i = 0; i < 5 && i < d.a.n_pcs; i++) {
        CHECK_EQ(d.pcs[i].id, 1 + 2 * i);
        CHECK_EQ(d.pcs[i].result, i);
        CHECK_EQ(d.pcs[i].has_abstract, 0);
        CHECK_EQ(d.pcs[i].ts_count, i == 2 ? 0 : 1);
        if (d.pcs[i].ts_count)
            CHECK(span_eq(d.ts[d.pcs[i].ts_first], (uint32_t)o.ts[i] + 4,
                          i == 3 ? 0 : (i == 4 ? 19 : 17)));
    }
    CHECK_EQ(d.a.n_ts, 4);
    CHECK_EQ(d.a.n_user, 4);
    ul_span s;
    ul_err err;
    CHECK_EQ(ul_decode_user_id_ac(b.d, d.user[3].value, &s, &err), UL_OK);
    CHECK(span_is(b.d, s, "srv-response"));
    /* a result 0 context must carry its transfer syntax */
    b.d[o.pc[2] + 6] = 0;
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    CHECK_EQ(d.err.offset, o.pc[2]);
}

static void test_assoc_errors(void) {
    bld b;
    rich_off o;
    dec d;
    uint8_t v[512];
    size_t n;

    build_rq(&b, &o, V_NO_APP);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    CHECK_EQ(d.err.offset, 74);
    build_rq(&b, &o, V_NO_PC);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    build_rq(&b, &o, V_NO_USER);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    build_rq(&b, &o, V_PC_NO_ABS);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    CHECK_EQ(d.err.offset, o.pc1);
    build_rq(&b, &o, V_PC_NO_TS);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_MISSING);
    CHECK_EQ(d.err.offset, o.pc1);
    build_rq(&b, &o, V_DUP_APP);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_DUPLICATE);
    CHECK_EQ(d.err.offset, o.app + 25);
    build_rq(&b, &o, V_DUP_USER);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_DUPLICATE);
    build_rq(&b, &o, V_PC_DUP_ABS);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_DUPLICATE);
    CHECK_EQ(d.err.offset, o.abs1 + 21);
    build_rq(&b, &o, V_PC_SHORT);
    CHECK_EQ(decode(&d, b.d, b.n), UL_E_BAD_LENGTH);

    /* not an RQ/AC, or nothing at all */
    n = hex("03 00 00000004 00 01 01 01", v, sizeof v);
    CHECK_EQ(decode(&d, v, n), UL_E_WRONG_TYPE);
    CHECK_EQ(decode(&d, v, 0), UL_E_WRONG_TYPE);
    n = hex("04 00 00000000", v, sizeof v);
    CHECK_EQ(decode(&d, v, n), UL_E_WRONG_TYPE);
    /* shorter than the fixed part */
    n = hex("01 00 00000043 0001 0000", v, sizeof v);
    memset(v + n, 0x20, 67 - 4);
    CHECK_EQ(decode(&d, v, 6 + 67), UL_E_BAD_LENGTH);
    CHECK_EQ(d.err.offset, 2);
    /* declared length past the end */
    n = hex(RQ_MIN, v, sizeof v);
    put32(v + 2, 156);
    CHECK_EQ(decode(&d, v, n), UL_E_TRUNCATED);
    CHECK_EQ(d.err.offset, 2);
    /* an item length past the end of the PDU: user-information 50H at 149 */
    n = hex(RQ_MIN, v, sizeof v);
    v[152] = 9;
    CHECK_EQ(decode(&d, v, n), UL_E_TRUNCATED);
    CHECK_EQ(d.err.offset, 151);
    /* a sub-item length past the end of its item: 51H inside 50H */
    n = hex(RQ_MIN, v, sizeof v);
    v[156] = 5;
    CHECK_EQ(decode(&d, v, n), UL_E_TRUNCATED);
    /* a PC sub-item length past the end of the PC item (but inside the PDU) */
    n = hex(RQ_MIN, v, sizeof v);
    v[131] = 0x12; /* TS item length 18 > 17 left in the PC */
    CHECK_EQ(decode(&d, v, n), UL_E_TRUNCATED);
    /* an item of maximal length 0xFFFF in a short PDU */
    n = hex(RQ_MIN, v, sizeof v);
    v[76] = 0xFF;
    v[77] = 0xFF;
    CHECK_EQ(decode(&d, v, n), UL_E_TRUNCATED);
}

/* Every prefix of a valid PDU is an error, both as is (header length past the end) and with
 * the header length patched to match; nothing is read out of bounds. */
static void truncations(const uint8_t *v, size_t n) {
    dec d;
    uint8_t w[4096];
    for (size_t k = 0; k < n; k++) {
        CHECK(decode(&d, v, k) < 0);
        if (k >= 6) {
            memcpy(w, v, k);
            put32(w + 2, (uint32_t)(k - 6));
            CHECK(decode(&d, w, k) < 0);
        }
    }
    CHECK_EQ(decode(&d, v, n), UL_OK);
}

static void test_truncations(void) {
    uint8_t v[512];
    size_t n;
    bld b;
    rich_off o;
    rich_ac_off oa;
    n = hex(RQ_MIN, v, sizeof v);
    truncations(v, n);
    n = hex(AC_MIN, v, sizeof v);
    truncations(v, n);
    build_rq(&b, &o, 0);
    b.n -= 4; /* without the trailing empty 60H item: user information is last */
    bend(&b);
    truncations(b.d, b.n);
    build_ac(&b, &oa);
    truncations(b.d, b.n);
}

static void test_limits(void) {
    bld b;
    rich_off o;
    dec d;
    build_rq(&b, &o, 0);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 2, 4, 10), UL_OK);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 1, 4, 10), UL_E_LIMIT);
    CHECK_EQ(d.err.offset, o.pc3);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 0, 4, 10), UL_E_LIMIT);
    CHECK_EQ(d.err.offset, o.pc1);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 2, 3, 10), UL_E_LIMIT);
    CHECK_EQ(d.err.offset, o.ts3b);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 2, 0, 10), UL_E_LIMIT);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 2, 4, 9), UL_E_LIMIT);
    CHECK_EQ(d.err.offset, o.u[9]);
    CHECK_EQ(decode_caps(&d, b.d, b.n, 2, 4, 0), UL_E_LIMIT);
    CHECK_EQ(d.err.offset, o.u[0]);
}

/* ---- typed sub-item decoders, valid and malformed ----------------------------------- */

/* Runs a typed decoder on a sub-item value placed at the very end of an exact buffer with a
 * 4-byte item header in front, so any overread is caught. */
typedef struct {
    exact e;
    ul_span v;
} subv;

static subv sub(const char *value_vec) {
    uint8_t tmp[512];
    size_t n = hex(value_vec, tmp + 4, sizeof tmp - 4);
    tmp[0] = 0x5F;
    tmp[1] = 0;
    tmp[2] = (uint8_t)(n >> 8);
    tmp[3] = (uint8_t)n;
    subv s;
    s.e = exact_copy(tmp, n + 4);
    s.v.off = 4;
    s.v.len = (uint32_t)n;
    return s;
}

static void test_subitems(void) {
    ul_err err;
    uint32_t u32 = 0;
    uint16_t inv = 0, perf = 0;
    uint8_t x = 0, y = 0;
    ul_span s1, s2, rel[3];
    uint32_t n_rel = 99;
    subv s;

    /* 51H maximum length (D.1): exactly 4 bytes */
    s = sub("0000FFFF");
    CHECK_EQ(ul_decode_u32(s.e.p, s.v, &u32, &err), UL_OK);
    CHECK_EQU(u32, 0xFFFF);
    free(s.e.base);
    s = sub("FFFFFFFF");
    CHECK_EQ(ul_decode_u32(s.e.p, s.v, &u32, &err), UL_OK);
    CHECK_EQU(u32, 0xFFFFFFFFu);
    free(s.e.base);
    const char *bad4[] = {"", "00", "000040", "0000400000", "00004000000000"};
    for (unsigned i = 0; i < 5; i++) {
        s = sub(bad4[i]);
        err.code = 0;
        CHECK_EQ(ul_decode_u32(s.e.p, s.v, &u32, &err), UL_E_BAD_LENGTH);
        CHECK(err.code == UL_E_BAD_LENGTH && err.offset == 2);
        CHECK_EQ(ul_decode_async(s.e.p, s.v, &inv, &perf, &err), UL_E_BAD_LENGTH);
        free(s.e.base);
    }
    /* 53H asynchronous operations window (D.3.3.3) */
    s = sub("0000 FFFF");
    CHECK_EQ(ul_decode_async(s.e.p, s.v, &inv, &perf, &err), UL_OK);
    CHECK(inv == 0 && perf == 0xFFFF);
    free(s.e.base);

    /* 54H role selection (D.3.3.4): UID length, UID, SCU role, SCP role */
    s = sub("0003 '1.2' 00 01");
    CHECK_EQ(ul_decode_role(s.e.p, s.v, &s1, &x, &y, &err), UL_OK);
    CHECK(span_eq(s1, 6, 3) && x == 0 && y == 1);
    free(s.e.base);
    s = sub("0000 01 01"); /* empty UID: layout is valid, policy is elsewhere */
    CHECK_EQ(ul_decode_role(s.e.p, s.v, &s1, &x, &y, &err), UL_OK);
    CHECK(s1.len == 0 && x == 1 && y == 1);
    free(s.e.base);
    const char *bad_role[] = {"", "00", "0003 '1.2'", "0003 '1.2' 01", "0003 '1.2' 010100",
                              "0004 '1.2'", "FFFF '1.2' 0101", "0005 '1.2' 01"};
    const int bad_role_rc[] = {UL_E_TRUNCATED, UL_E_TRUNCATED, UL_E_BAD_LENGTH,
                               UL_E_BAD_LENGTH, UL_E_BAD_LENGTH, UL_E_TRUNCATED,
                               UL_E_TRUNCATED, UL_E_TRUNCATED};
    for (unsigned i = 0; i < sizeof bad_role / sizeof *bad_role; i++) {
        s = sub(bad_role[i]);
        err.code = 0;
        int rc = ul_decode_role(s.e.p, s.v, &s1, &x, &y, &err);
        CHECK_EQ(rc, bad_role_rc[i]);
        CHECK(err.code == rc && err.offset <= 4 + s.v.len);
        free(s.e.base);
    }

    /* 56H SOP class extended negotiation (D.3.3.5): UID, then application info (any) */
    s = sub("0003 '1.2' 01 02 03");
    CHECK_EQ(ul_decode_ext_neg(s.e.p, s.v, &s1, &s2, &err), UL_OK);
    CHECK(span_eq(s1, 6, 3) && span_eq(s2, 9, 3));
    free(s.e.base);
    s = sub("0003 '1.2'");
    CHECK_EQ(ul_decode_ext_neg(s.e.p, s.v, &s1, &s2, &err), UL_OK);
    CHECK(span_eq(s2, 9, 0));
    free(s.e.base);
    const char *bad_ext[] = {"", "00", "0004 '1.2'", "FFFF"};
    for (unsigned i = 0; i < 4; i++) {
        s = sub(bad_ext[i]);
        CHECK_EQ(ul_decode_ext_neg(s.e.p, s.v, &s1, &s2, &err), UL_E_TRUNCATED);
        free(s.e.base);
    }

    /* 57H common extended negotiation (D.3.3.6): SOP, service, related list */
    s = sub("0003 '1.2' 0003 '1.3' 000A 0003 '1.4' 0003 '1.5'");
    CHECK_EQ(ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 3, &n_rel, &err), UL_OK);
    CHECK(span_eq(s1, 6, 3) && span_eq(s2, 11, 3));
    CHECK_EQ(n_rel, 2);
    CHECK(span_eq(rel[0], 18, 3) && span_eq(rel[1], 23, 3));
    CHECK_EQ(ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 2, &n_rel, &err), UL_OK);
    err.code = 0;
    CHECK_EQ(ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 1, &n_rel, &err), UL_E_LIMIT);
    CHECK(err.code == UL_E_LIMIT && err.offset == 21);
    CHECK_EQ(ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 0, &n_rel, &err), UL_E_LIMIT);
    free(s.e.base);
    s = sub("0003 '1.2' 0003 '1.3' 0000"); /* no related classes */
    CHECK_EQ(ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 0, &n_rel, &err), UL_OK);
    CHECK_EQ(n_rel, 0);
    free(s.e.base);
    const char *bad_common[] = {
        "",
        "0003 '1.2'",
        "0003 '1.2' 0003 '1.3'",
        "0003 '1.2' 0003 '1.3' 00",
        "0003 '1.2' 0003 '1.3' 000B 0003 '1.4' 0003 '1.5'", /* list past the end    */
        "0003 '1.2' 0003 '1.3' 0009 0003 '1.4' 0003 '1.'",  /* last entry cut short */
        "0003 '1.2' 0003 '1.3' 0006 0003 '1.4' 00",         /* entry is 1 byte long */
        "0003 '1.2' 0003 '1.3' 0005 0003 '1.4' 00",         /* trailing byte        */
        "0003 '1.2' 0003 '1.3' 0000 00",                    /* trailing byte        */
        "0009 '1.2' 0003 '1.3' 0000",
    };
    const int bad_common_rc[] = {UL_E_TRUNCATED, UL_E_TRUNCATED, UL_E_TRUNCATED,
                                 UL_E_TRUNCATED, UL_E_TRUNCATED, UL_E_TRUNCATED,
                                 UL_E_TRUNCATED, UL_E_BAD_LENGTH, UL_E_BAD_LENGTH,
                                 UL_E_TRUNCATED};
    for (unsigned i = 0; i < sizeof bad_common / sizeof *bad_common; i++) {
        s = sub(bad_common[i]);
        err.code = 0;
        int rc = ul_decode_common_ext(s.e.p, s.v, &s1, &s2, rel, 3, &n_rel, &err);
        CHECK_EQ(rc, bad_common_rc[i]);
        CHECK(err.code == rc && err.offset <= 4 + s.v.len);
        free(s.e.base);
    }

    /* 58H user identity RQ (D.3.3.7): type, positive response, primary, secondary */
    s = sub("01 00 0004 'user' 0000");
    CHECK_EQ(ul_decode_user_id_rq(s.e.p, s.v, &x, &y, &s1, &s2, &err), UL_OK);
    CHECK(x == 1 && y == 0 && span_eq(s1, 8, 4) && span_eq(s2, 14, 0));
    free(s.e.base);
    s = sub("02 01 0001 'u' 0002 'pw'");
    CHECK_EQ(ul_decode_user_id_rq(s.e.p, s.v, &x, &y, &s1, &s2, &err), UL_OK);
    CHECK(x == 2 && y == 1 && span_eq(s1, 8, 1) && span_eq(s2, 11, 2));
    free(s.e.base);
    const char *bad_uid[] = {"", "01", "01 00", "01 00 0004 'user'", "01 00 0004 'user' 00",
                             "01 00 0005 'user' 0000", "01 00 0004 'user' 0001",
                             "01 00 0004 'user' 0000 00"};
    const int bad_uid_rc[] = {UL_E_BAD_LENGTH, UL_E_BAD_LENGTH, UL_E_TRUNCATED,
                              UL_E_TRUNCATED, UL_E_TRUNCATED, UL_E_TRUNCATED,
                              UL_E_TRUNCATED, UL_E_BAD_LENGTH};
    for (unsigned i = 0; i < sizeof bad_uid / sizeof *bad_uid; i++) {
        s = sub(bad_uid[i]);
        err.code = 0;
        int rc = ul_decode_user_id_rq(s.e.p, s.v, &x, &y, &s1, &s2, &err);
        CHECK_EQ(rc, bad_uid_rc[i]);
        CHECK(err.code == rc && err.offset <= 4 + s.v.len);
        free(s.e.base);
    }

    /* 59H user identity AC: server response */
    s = sub("0003 'abc'");
    CHECK_EQ(ul_decode_user_id_ac(s.e.p, s.v, &s1, &err), UL_OK);
    CHECK(span_eq(s1, 6, 3));
    free(s.e.base);
    s = sub("0000");
    CHECK_EQ(ul_decode_user_id_ac(s.e.p, s.v, &s1, &err), UL_OK);
    CHECK(span_eq(s1, 6, 0));
    free(s.e.base);
    const char *bad_idac[] = {"", "00", "0004 'abc'", "0003 'abc' 00", "FFFF"};
    const int bad_idac_rc[] = {UL_E_TRUNCATED, UL_E_TRUNCATED, UL_E_TRUNCATED,
                               UL_E_BAD_LENGTH, UL_E_TRUNCATED};
    for (unsigned i = 0; i < sizeof bad_idac / sizeof *bad_idac; i++) {
        s = sub(bad_idac[i]);
        err.code = 0;
        int rc = ul_decode_user_id_ac(s.e.p, s.v, &s1, &err);
        CHECK_EQ(rc, bad_idac_rc[i]);
        CHECK(err.code == rc && err.offset <= 4 + s.v.len);
        free(s.e.base);
    }

    /* the typed decoders on every prefix of valid values: an error, never an overread */
    const char *valid[] = {"0003 '1.2' 00 01", "0003 '1.2' 0003 '1.3' 000A 0003 '1.4' 0003 '1.5'",
                           "02 01 0001 'u' 0002 'pw'", "0003 'abc'"};
    for (unsigned i = 0; i < 4; i++) {
        subv full = sub(valid[i]);
        for (uint32_t k = 0; k < full.v.len; k++) {
            subv p;
            p.e = exact_copy(full.e.p, 4 + k);
            p.v.off = 4;
            p.v.len = k;
            int rc = i == 0   ? ul_decode_role(p.e.p, p.v, &s1, &x, &y, &err)
                     : i == 1 ? ul_decode_common_ext(p.e.p, p.v, &s1, &s2, rel, 3, &n_rel, &err)
                     : i == 2 ? ul_decode_user_id_rq(p.e.p, p.v, &x, &y, &s1, &s2, &err)
                              : ul_decode_user_id_ac(p.e.p, p.v, &s1, &err);
            CHECK(rc < 0);
            free(p.e.base);
        }
        free(full.e.base);
    }
}

/* ---- encoding ------------------------------------------------------------------------ */

static ul_bytes B(const char *s) {
    ul_bytes b;
    b.p = (const uint8_t *)s;
    b.n = (uint32_t)strlen(s);
    return b;
}

static ul_uitem_enc U(uint8_t type) {
    ul_uitem_enc u;
    memset(&u, 0, sizeof u);
    u.type = type;
    return u;
}

static void test_encode_vectors(void) {
    uint8_t want[512], out[512];
    size_t n;
    ul_assoc_enc a;
    ul_bytes ts1 = B(TS_IMPLICIT);
    ul_pc_enc pcs[2];
    ul_uitem_enc user[1];

    /* the RQ vector, byte for byte */
    memset(&a, 0, sizeof a);
    memset(pcs, 0, sizeof pcs);
    a.pdu_type = 1;
    a.version = 1;
    a.called = B("CALLED");
    a.calling = B("CALLING");
    a.app_context = B(APP_CTX);
    pcs[0].id = 1;
    pcs[0].abstract = B(UID_VERIFY);
    pcs[0].ts = &ts1;
    pcs[0].n_ts = 1;
    a.pcs = pcs;
    a.n_pcs = 1;
    user[0] = U(0x51);
    user[0].u32 = 0x4000;
    a.user = user;
    a.n_user = 1;
    n = hex(RQ_MIN, want, sizeof want);
    CHECK_EQ(ul_size_associate(&a), (int64_t)n);
    memset(out, 0xA5, sizeof out);
    CHECK_EQ(ul_encode_associate(&a, out, n), (int64_t)n);
    CHECK(memcmp(out, want, n) == 0);
    CHECK_EQ(out[n], 0xA5); /* nothing written past the PDU */
    CHECK_EQ(ul_encode_associate(&a, out, n - 1), UL_E_BUFFER);
    CHECK_EQ(ul_encode_associate(&a, out, 0), UL_E_BUFFER);
    CHECK_EQ(ul_encode_associate(&a, out, sizeof out), (int64_t)n);

    /* the AC vector: a context with no TS gets an empty 40H item */
    a.pdu_type = 2;
    pcs[0].abstract = B("ignored in an AC");
    pcs[1].id = 3;
    pcs[1].result = 4;
    a.n_pcs = 2;
    n = hex(AC_MIN, want, sizeof want);
    CHECK_EQ(ul_size_associate(&a), (int64_t)n);
    CHECK_EQ(ul_encode_associate(&a, out, sizeof out), (int64_t)n);
    CHECK(memcmp(out, want, n) == 0);
    /* AC with several TS given: only the first one is written */
    {
        ul_bytes two[2] = {B(TS_IMPLICIT), B(TS_EXPLICIT)};
        pcs[0].ts = two;
        pcs[0].n_ts = 2;
        CHECK_EQ(ul_encode_associate(&a, out, sizeof out), (int64_t)n);
        CHECK(memcmp(out, want, n) == 0);
    }
}

/* Typed user-information sub-items on the wire (PS3.7 D.3.3), byte for byte, and back. */
static void test_encode_user_items(void) {
    ul_bytes rel[2] = {B("1.2.5"), B("1.2.6")};
    ul_uitem_enc u[11];
    u[0] = U(0x51);
    u[0].u32 = 0x4000;
    u[1] = U(0x52);
    u[1].a = B("1.2.3.4");
    u[2] = U(0x53);
    u[2].u32 = 5u << 16 | 3u;
    u[3] = U(0x54);
    u[3].a = B("1.2.3.4.5.6");
    u[3].b0 = 1;
    u[3].b1 = 0;
    u[4] = U(0x55);
    u[4].a = B("DCMUL1");
    u[5] = U(0x56);
    u[5].a = B("1.2.3");
    u[5].b.p = (const uint8_t *)"\x01\x00\x01";
    u[5].b.n = 3;
    u[6] = U(0x57);
    u[6].b0 = 0x00;
    u[6].a = B("1.2.3");
    u[6].b = B("1.2.4");
    u[6].list = rel;
    u[6].n_list = 2;
    u[7] = U(0x58);
    u[7].b0 = 2;
    u[7].b1 = 1;
    u[7].a = B("alice");
    u[7].b = B("secret");
    u[8] = U(0x59);
    u[8].a = B("ok");
    u[9] = U(0x7E);
    u[9].a = B("xyz");
    u[10] = U(0x51); /* raw: written as given whatever the type */
    u[10].raw = 1;
    u[10].a = B("abc");
    static const char want_vec[] =
        "51 00 0004 00004000"
        "52 00 0007 '1.2.3.4'"
        "53 00 0004 0005 0003"
        "54 00 000F 000B '1.2.3.4.5.6' 01 00"
        "55 00 0006 'DCMUL1'"
        "56 00 000A 0005 '1.2.3' 010001"
        "57 00 001E 0005 '1.2.3' 0005 '1.2.4' 000E 0005 '1.2.5' 0005 '1.2.6'"
        "58 00 0011 02 01 0005 'alice' 0006 'secret'"
        "59 00 0004 0002 'ok'"
        "7E 00 0003 'xyz'"
        "51 00 0003 'abc'";
    uint8_t want[512], out[1024];
    size_t wn = hex(want_vec, want, sizeof want);

    ul_assoc_enc a;
    memset(&a, 0, sizeof a);
    a.pdu_type = 1;
    a.user = u;
    a.n_user = 11;
    int64_t n = ul_size_associate(&a);
    CHECK_EQ(n, 6 + 68 + 4 + 4 + (int64_t)wn);
    CHECK_EQ(ul_encode_associate(&a, out, sizeof out), n);
    CHECK(out[78] == 0x50 && ((size_t)out[80] << 8 | out[81]) == wn);
    CHECK(memcmp(out + 82, want, wn) == 0);
    /* 57H sub-item version (b0) goes to the reserved byte */
    u[6].b0 = 0x07;
    CHECK_EQ(ul_encode_associate(&a, out, sizeof out), n);
    CHECK_EQ(out[82 + 8 + 11 + 8 + 19 + 10 + 14 + 1], 0x07);

    /* decode it back (with a PC so the decoder accepts it) */
    ul_bytes ts = B(TS_IMPLICIT);
    ul_pc_enc pc;
    memset(&pc, 0, sizeof pc);
    pc.id = 1;
    pc.abstract = B(UID_VERIFY);
    pc.ts = &ts;
    pc.n_ts = 1;
    a.pcs = &pc;
    a.n_pcs = 1;
    a.app_context = B(APP_CTX);
    a.called = B("A");
    a.calling = B("0123456789ABCDEF"); /* exactly 16: no padding */
    n = ul_encode_associate(&a, out, sizeof out);
    CHECK(n > 0);
    dec d;
    CHECK_EQ(decode(&d, out, (size_t)n), UL_OK);
    CHECK(span_is(out, d.a.called, "A               "));
    CHECK(span_is(out, d.a.calling, "0123456789ABCDEF"));
    CHECK_EQ(d.a.n_user, 11);
    if (d.a.n_user == 11) {
        ul_err err;
        uint32_t v32;
        uint16_t i1, i2;
        uint8_t x, y;
        ul_span s1, s2, r[2];
        uint32_t nr;
        CHECK(ul_decode_u32(out, d.user[0].value, &v32, &err) == 0 && v32 == 0x4000);
        CHECK(ul_decode_async(out, d.user[2].value, &i1, &i2, &err) == 0 && i1 == 5 && i2 == 3);
        CHECK(ul_decode_role(out, d.user[3].value, &s1, &x, &y, &err) == 0 &&
              span_is(out, s1, "1.2.3.4.5.6") && x == 1 && y == 0);
        CHECK(ul_decode_ext_neg(out, d.user[5].value, &s1, &s2, &err) == 0 && s2.len == 3);
        CHECK(ul_decode_common_ext(out, d.user[6].value, &s1, &s2, r, 2, &nr, &err) == 0 &&
              nr == 2 && span_is(out, r[1], "1.2.6"));
        CHECK(ul_decode_user_id_rq(out, d.user[7].value, &x, &y, &s1, &s2, &err) == 0 &&
              x == 2 && y == 1 && span_is(out, s2, "secret"));
        CHECK(ul_decode_user_id_ac(out, d.user[8].value, &s1, &err) == 0 &&
              span_is(out, s1, "ok"));
        CHECK(d.user[10].type == 0x51 && span_is(out, d.user[10].value, "abc"));
        CHECK_EQ(ul_decode_u32(out, d.user[10].value, &v32, &err), UL_E_BAD_LENGTH);
    }
}

static void test_encode_limits(void) {
    static uint8_t big[0x10010];
    static uint8_t out[0x30000];
    ul_bytes ts = B(TS_IMPLICIT);
    ul_pc_enc pc;
    ul_uitem_enc u;
    ul_assoc_enc a;
    memset(big, '1', sizeof big);
    memset(&pc, 0, sizeof pc);
    pc.id = 1;
    pc.abstract = B(UID_VERIFY);
    pc.ts = &ts;
    pc.n_ts = 1;
    u = U(0x51);
    memset(&a, 0, sizeof a);
    a.pdu_type = 1;
    a.app_context = B(APP_CTX);
    a.pcs = &pc;
    a.n_pcs = 1;
    a.user = &u;
    a.n_user = 1;
    int64_t base = ul_size_associate(&a);
    CHECK(base > 0);

#define EXPECT_ARG()                                                                       \
    do {                                                                                   \
        CHECK_EQ(ul_size_associate(&a), UL_E_ARG);                                         \
        CHECK_EQ(ul_encode_associate(&a, out, sizeof out), UL_E_ARG);                      \
    } while (0)
#define EXPECT_OK()                                                                        \
    do {                                                                                   \
        int64_t sz_ = ul_size_associate(&a);                                               \
        CHECK(sz_ > 0);                                                                    \
        CHECK_EQ(ul_encode_associate(&a, out, sizeof out), sz_);                           \
    } while (0)

    a.pdu_type = 3;
    EXPECT_ARG();
    a.pdu_type = 0;
    EXPECT_ARG();
    a.pdu_type = 1;
    a.called.p = big;
    a.called.n = 17;
    EXPECT_ARG();
    a.called.n = 16;
    EXPECT_OK();
    a.calling.p = big;
    a.calling.n = 17;
    EXPECT_ARG();
    a.calling.n = 0;
    a.app_context.p = big;
    a.app_context.n = 0x10000;
    EXPECT_ARG();
    a.app_context.n = 0xFFFF;
    EXPECT_OK();
    a.app_context = B(APP_CTX);
    pc.abstract.p = big;
    pc.abstract.n = 0x10000;
    EXPECT_ARG();
    pc.abstract.n = 0xFFFF - 8 - 4 - 17; /* PC item exactly 0xFFFF */
    EXPECT_OK();
    pc.abstract.n = 0xFFFF - 8 - 4 - 17 + 1;
    EXPECT_ARG();
    pc.abstract = B(UID_VERIFY);
    ts.p = big;
    ts.n = 0x10000;
    EXPECT_ARG();
    a.pdu_type = 2; /* AC: the TS item alone */
    EXPECT_ARG();
    ts.n = 0xFFFF - 8;
    EXPECT_OK();
    ts.n = 0xFFFF - 7;
    EXPECT_ARG();
    a.pdu_type = 1;
    ts = B(TS_IMPLICIT);
    /* user items: each length field */
    u = U(0x7E);
    u.a.p = big;
    u.a.n = 0xFFFF - 4; /* user info item exactly 0xFFFF */
    EXPECT_OK();
    u.a.n = 0xFFFF - 3;
    EXPECT_ARG();
    u.raw = 1;
    EXPECT_ARG();
    u = U(0x54);
    u.a.p = big;
    u.a.n = 0xFFFB; /* 2 + 0xFFFB + 2 = 0xFFFF: the sub-item fits, the 50H item does not */
    EXPECT_ARG();
    u.a.n = 0xFFFF - 8;
    EXPECT_OK();
    u = U(0x56);
    u.a.p = big;
    u.a.n = 0x10000;
    EXPECT_ARG();
    u = U(0x57);
    {
        ul_bytes l[2];
        l[0].p = big;
        l[0].n = 0x8000;
        l[1] = l[0];
        u.list = l;
        u.n_list = 2; /* related list 0x10004 > 0xFFFF */
        EXPECT_ARG();
        u.n_list = 1;
        u.a = B("1");
        u.b = B("2");
        EXPECT_OK();
        l[0].n = 0x10000;
        EXPECT_ARG();
    }
    u = U(0x58);
    u.a.p = big;
    u.a.n = 0x10000;
    EXPECT_ARG();
    u.a.n = 0;
    u.b.p = big;
    u.b.n = 0x10000;
    EXPECT_ARG();
    u = U(0x59);
    u.a.p = big;
    u.a.n = 0x10000;
    EXPECT_ARG();
    /* several items whose sum overflows the 50H length */
    {
        ul_uitem_enc two[2];
        two[0] = U(0x7E);
        two[0].a.p = big;
        two[0].a.n = 0x8000;
        two[1] = two[0];
        a.user = two;
        a.n_user = 2;
        EXPECT_ARG();
        a.user = &u;
        a.n_user = 1;
    }
#undef EXPECT_ARG
#undef EXPECT_OK
}

/* ---- RJ, RELEASE-RQ/RP, ABORT ------------------------------------------------------- */

static int short_dec(const char *vec, uint8_t *a, uint8_t *b, uint8_t *c, ul_err *err) {
    uint8_t v[32];
    size_t n = hex(vec, v, sizeof v);
    exact e = exact_copy(v, n);
    int rc = ul_decode_short(e.p, n, a, b, c, err);
    free(e.base);
    return rc;
}

static void test_short(void) {
    uint8_t a = 9, b = 9, c = 9, out[10], want[16];
    ul_err err;
    CHECK_EQ(short_dec("05 00 00000004 00000000", &a, &b, &c, &err), UL_OK);
    CHECK(a == 0 && b == 0 && c == 0);
    a = b = c = 9;
    CHECK_EQ(short_dec("06 00 00000004 00000000", &a, &b, &c, &err), UL_OK);
    CHECK(a == 0 && b == 0 && c == 0);
    /* reserved bytes are not tested and not reported */
    CHECK_EQ(short_dec("05 FF 00000004 FFFFFFFF", &a, &b, &c, &err), UL_OK);
    CHECK(a == 0 && b == 0 && c == 0);
    CHECK_EQ(short_dec("07 00 00000004 00 00 02 06", &a, &b, &c, &err), UL_OK);
    CHECK(a == 0 && b == 2 && c == 6);
    CHECK_EQ(short_dec("07 00 00000004 11 22 00 00", &a, &b, &c, &err), UL_OK);
    CHECK(a == 0 && b == 0 && c == 0);
    CHECK_EQ(short_dec("03 00 00000004 00 01 02 03", &a, &b, &c, &err), UL_OK);
    CHECK(a == 1 && b == 2 && c == 3);
    CHECK_EQ(short_dec("03 00 00000004 00 02 03 02", &a, &b, &c, &err), UL_OK);
    CHECK(a == 2 && b == 3 && c == 2);
    /* wrong lengths */
    err.code = 0;
    CHECK_EQ(short_dec("05 00 00000005 00000000 00", &a, &b, &c, &err), UL_E_BAD_LENGTH);
    CHECK(err.code == UL_E_BAD_LENGTH && err.offset == 2);
    CHECK_EQ(short_dec("05 00 00000003 000000", &a, &b, &c, &err), UL_E_BAD_LENGTH);
    CHECK_EQ(short_dec("07 00 00000000", &a, &b, &c, &err), UL_E_BAD_LENGTH);
    CHECK_EQ(short_dec("07 00 FFFFFFFF 00000000", &a, &b, &c, &err), UL_E_TRUNCATED);
    /* wrong types */
    const char *wrong[] = {"01 00 00000004 00000000", "02 00 00000004 00000000",
                           "04 00 00000004 00000000", "08 00 00000004 00000000",
                           "00 00 00000004 00000000", "FF"};
    for (unsigned i = 0; i < 6; i++) {
        err.code = 0;
        CHECK_EQ(short_dec(wrong[i], &a, &b, &c, &err), UL_E_WRONG_TYPE);
        CHECK(err.code == UL_E_WRONG_TYPE && err.offset == 0);
    }
    /* every truncation of every short PDU */
    const char *vecs[] = {"03 00 00000004 00 01 02 03", "05 00 00000004 00000000",
                          "06 00 00000004 00000000", "07 00 00000004 00 00 02 06"};
    for (unsigned i = 0; i < 4; i++) {
        uint8_t v[10];
        hex(vecs[i], v, sizeof v);
        for (size_t k = 0; k < 10; k++) {
            exact e = exact_copy(v, k);
            err.code = 0;
            int rc = ul_decode_short(e.p, k, &a, &b, &c, &err);
            CHECK_EQ(rc, UL_E_TRUNCATED);
            CHECK(err.code == rc && err.offset <= k);
            free(e.base);
        }
        /* trailing bytes beyond the declared length are not part of the PDU */
        uint8_t w[12];
        memcpy(w, v, 10);
        w[10] = w[11] = 0xEE;
        exact e = exact_copy(w, 12);
        CHECK_EQ(ul_decode_short(e.p, 12, &a, &b, &c, &err), UL_OK);
        free(e.base);
    }
    /* encoding: the vectors of PS3.8 Tables 9-21, 9-24, 9-25, 9-26 */
    struct {
        uint8_t type, a, b, c;
        const char *vec;
    } enc[] = {
        {0x03, 1, 2, 3, "03 00 00000004 00 01 02 03"},
        {0x05, 7, 8, 9, "05 00 00000004 00000000"}, /* a, b, c ignored */
        {0x06, 7, 8, 9, "06 00 00000004 00000000"},
        {0x07, 7, 2, 1, "07 00 00000004 00 00 02 01"}, /* a ignored: byte 8 is reserved */
        {0x07, 0, 0, 0, "07 00 00000004 00 00 00 00"},
    };
    for (unsigned i = 0; i < sizeof enc / sizeof *enc; i++) {
        memset(out, 0xA5, sizeof out);
        hex(enc[i].vec, want, sizeof want);
        CHECK_EQ(ul_encode_short(enc[i].type, enc[i].a, enc[i].b, enc[i].c, out), 10);
        CHECK(memcmp(out, want, 10) == 0);
        /* and back */
        exact e = exact_copy(out, 10);
        CHECK_EQ(ul_decode_short(e.p, 10, &a, &b, &c, &err), UL_OK);
        free(e.base);
    }
    for (unsigned t = 0; t < 256; t++) {
        if (t == 3 || (t >= 5 && t <= 7)) continue;
        CHECK_EQ(ul_encode_short((uint8_t)t, 0, 0, 0, out), UL_E_ARG);
    }
}

/* ---- P-DATA-TF ---------------------------------------------------------------------- */

/* Iterates all PDVs of buf[0..n) (exact copy); returns the last ul_pdv_next result. */
static int pdv_all(const uint8_t *v, size_t n, ul_pdv *out, int cap, int *count, ul_err *err) {
    exact e = exact_copy(v, n);
    size_t pos = 0, last = 0;
    int rc;
    *count = 0;
    for (;;) {
        ul_pdv p;
        rc = ul_pdv_next(e.p, n, &pos, &p, err);
        if (rc != 1) break;
        CHECK(pos > last && pos <= n);
        last = pos;
        CHECK((size_t)p.data.off + p.data.len <= n);
        if (*count < cap) out[*count] = p;
        (*count)++;
        if (*count > 100000) abort();
    }
    free(e.base);
    return rc;
}

static void test_pdata(void) {
    uint8_t v[128];
    size_t n = hex(PDATA3, v, sizeof v);
    ul_pdv p[8];
    int count;
    ul_err err;

    CHECK_EQ(n, 30);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), 0);
    CHECK_EQ(count, 3);
    CHECK(p[0].pc_id == 1 && p[0].control == 3 && span_eq(p[0].data, 12, 2));
    CHECK(p[1].pc_id == 3 && p[1].control == 0 && span_eq(p[1].data, 20, 0));
    CHECK(p[2].pc_id == 5 && p[2].control == 2 && span_eq(p[2].data, 26, 4));
    /* after the end, 0 again */
    {
        size_t pos = n;
        ul_pdv q;
        CHECK_EQ(ul_pdv_next(v, n, &pos, &q, &err), 0);
        CHECK_EQ(pos, n);
    }
    /* an empty P-DATA-TF is reported as missing PDVs */
    n = hex("04 00 00000000", v, sizeof v);
    err.code = 0;
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_MISSING);
    CHECK(err.code == UL_E_MISSING && err.offset == 6 && count == 0);
    /* PDV length < 2 */
    n = hex("04 00 00000005 00000001 01", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_BAD_LENGTH);
    CHECK(err.offset == 6);
    n = hex("04 00 00000004 00000000", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_BAD_LENGTH);
    n = hex("04 00 0000000C 00000002 01 03 00000000 0000", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_BAD_LENGTH);
    CHECK(count == 1 && err.offset == 12);
    /* truncated PDV: its length runs past the PDU */
    n = hex("04 00 00000008 00000005 01 03 AABB", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_TRUNCATED);
    n = hex("04 00 00000008 FFFFFFFF 01 03 AABB", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_TRUNCATED);
    /* 1..3 bytes left after a PDV: not even a PDV length */
    for (unsigned extra = 1; extra <= 3; extra++) {
        uint8_t w[32];
        size_t m = hex("04 00 00000000 00000002 01 02", w, sizeof w);
        memset(w + m, 0, extra);
        put32(w + 2, (uint32_t)(m - 6 + extra));
        CHECK_EQ(pdv_all(w, m + extra, p, 8, &count, &err), UL_E_TRUNCATED);
        CHECK(count == 1 && err.offset == m);
    }
    /* the PDU header length past the end of the buffer */
    n = hex(PDATA3, v, sizeof v);
    CHECK_EQ(pdv_all(v, n - 1, p, 8, &count, &err), UL_E_TRUNCATED);
    CHECK_EQ(count, 0);
    /* every prefix, as is and with the length patched */
    for (size_t k = 0; k < n; k++) {
        CHECK(pdv_all(v, k, p, 8, &count, &err) < 0);
        if (k >= 6) {
            uint8_t w[64];
            memcpy(w, v, k);
            put32(w + 2, (uint32_t)(k - 6));
            int rc = pdv_all(w, k, p, 8, &count, &err);
            if (k == 6)
                CHECK_EQ(rc, UL_E_MISSING);
            else if (k == 14 || k == 20)
                CHECK(rc == 0 && count == (k == 14 ? 1 : 2));
            else
                CHECK(rc == UL_E_TRUNCATED);
        }
    }
    /* not a P-DATA-TF */
    n = hex("05 00 00000004 00000000", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), UL_E_WRONG_TYPE);
    /* trailing bytes beyond the declared length are not PDVs */
    n = hex("04 00 00000006 00000002 01 02 DEADBEEF", v, sizeof v);
    CHECK_EQ(pdv_all(v, n, p, 8, &count, &err), 0);
    CHECK_EQ(count, 1);
    /* a position inside the header means "start" */
    n = hex(PDATA3, v, sizeof v);
    {
        size_t pos = 3;
        ul_pdv q;
        CHECK_EQ(ul_pdv_next(v, n, &pos, &q, &err), 1);
        CHECK(q.pc_id == 1 && pos == 14);
    }
}

static void test_fragments(void) {
    CHECK_EQU(ul_fragment_size(0), 0xFFFFFFF8u);
    for (uint32_t m = 1; m <= 7; m++) CHECK_EQU(ul_fragment_size(m), 0);
    CHECK_EQU(ul_fragment_size(8), 2);
    CHECK_EQU(ul_fragment_size(9), 2);
    CHECK_EQU(ul_fragment_size(10), 4);
    CHECK_EQU(ul_fragment_size(11), 4);
    CHECK_EQU(ul_fragment_size(16384), 16378);
    CHECK_EQU(ul_fragment_size(16385), 16378);
    CHECK_EQU(ul_fragment_size(46726), 46720);
    CHECK_EQU(ul_fragment_size(0xFFFFFFFFu), 0xFFFFFFF8u);
    CHECK_EQU(ul_fragment_size(0xFFFFFFFEu), 0xFFFFFFF8u);
    for (uint32_t m = 8; m < 5000; m++) {
        uint32_t f = ul_fragment_size(m);
        CHECK(f % 2 == 0 && f + 6 <= m && f + 8 > m);
    }

    CHECK_EQU(ul_fragment_count(0, 2), 1);
    CHECK_EQU(ul_fragment_count(0, 0xFFFFFFF8u), 1);
    CHECK_EQU(ul_fragment_count(1, 2), 1);
    CHECK_EQU(ul_fragment_count(2, 2), 1);
    CHECK_EQU(ul_fragment_count(3, 2), 2);
    CHECK_EQU(ul_fragment_count(16378, 16378), 1);
    CHECK_EQU(ul_fragment_count(16379, 16378), 2);
    CHECK_EQU(ul_fragment_count(100000, 16378), 7);
    CHECK_EQU(ul_fragment_count(0x100000000ull, 0xFFFFFFF8u), 2);
    CHECK_EQU(ul_fragment_count((uint64_t)1 << 62, 2), (uint64_t)1 << 61);
    /* no wrap-around for len close to 2^64 */
    CHECK_EQU(ul_fragment_count(UINT64_MAX, 2), (UINT64_MAX >> 1) + 1);
    CHECK_EQU(ul_fragment_count(UINT64_MAX - 1, 0xFFFFFFF8u), 0x100000009ull);

    uint8_t out[16], want[16];
    memset(out, 0xA5, sizeof out);
    CHECK_EQ(ul_pdata_header(out, 1, 3, 100), 12);
    hex("04 00 0000006A 00000066 01 03", want, sizeof want);
    CHECK(memcmp(out, want, 12) == 0 && out[12] == 0xA5);
    CHECK_EQ(ul_pdata_header(out, 0xFF, 0, 0), 12);
    hex("04 00 00000006 00000002 FF 00", want, sizeof want);
    CHECK(memcmp(out, want, 12) == 0);
    CHECK_EQ(ul_pdata_header(out, 7, 2, 0xFFFFFFF9u), 12);
    hex("04 00 FFFFFFFF FFFFFFFB 07 02", want, sizeof want);
    CHECK(memcmp(out, want, 12) == 0);
    CHECK_EQ(ul_pdata_header(out, 7, 2, 0xFFFFFFFAu), UL_E_ARG);
    CHECK_EQ(ul_pdata_header(out, 7, 2, 0xFFFFFFFFu), UL_E_ARG);

    memset(out, 0xA5, sizeof out);
    CHECK_EQ(ul_pdv_header(out, 3, 1, 10), 6);
    hex("0000000C 03 01", want, sizeof want);
    CHECK(memcmp(out, want, 6) == 0 && out[6] == 0xA5);
    CHECK_EQ(ul_pdv_header(out, 3, 1, 0xFFFFFFFDu), 6);
    CHECK_EQU(get32(out), 0xFFFFFFFFu);
    CHECK_EQ(ul_pdv_header(out, 3, 1, 0xFFFFFFFEu), UL_E_ARG);

    CHECK_EQ(ul_pdu_header(out, 5, 4), 6);
    hex("05 00 00000004", want, sizeof want);
    CHECK(memcmp(out, want, 6) == 0);

    /* a header from ul_pdata_header + fragment decodes as one PDV */
    {
        uint8_t pdu[12 + 4];
        ul_pdv q;
        size_t pos = 0;
        ul_err err;
        ul_pdata_header(pdu, 9, 2, 4);
        memcpy(pdu + 12, "\x01\x02\x03\x04", 4);
        CHECK_EQ(ul_pdv_next(pdu, sizeof pdu, &pos, &q, &err), 1);
        CHECK(q.pc_id == 9 && q.control == 2 && span_eq(q.data, 12, 4) && pos == 16);
        CHECK_EQ(ul_pdv_next(pdu, sizeof pdu, &pos, &q, &err), 0);
    }
}

int main(void) {
    test_frame();
    test_rq_min();
    test_ac_min();
    test_rq_rich();
    test_ac_rich();
    test_assoc_errors();
    test_truncations();
    test_limits();
    test_subitems();
    test_encode_vectors();
    test_encode_user_items();
    test_encode_limits();
    test_short();
    test_pdata();
    test_fragments();
    return report();
}
