/*
 * Plain-C test of csrc/ul_cmd.c (no Python): every status of the command set scanner, the
 * spans it returns, and every truncation of a valid command set. `make -C tests/c test`.
 * Prints "N passed, M failed"; exits non-zero if anything failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ul_cmd.h"

#include "check.h"

static size_t put_elem(uint8_t *p, uint16_t g, uint16_t e, uint32_t len, const char *value) {
    p[0] = g & 0xFF; p[1] = g >> 8; p[2] = e & 0xFF; p[3] = e >> 8;
    p[4] = len & 0xFF; p[5] = (len >> 8) & 0xFF; p[6] = (len >> 16) & 0xFF; p[7] = len >> 24;
    if (value)
        memcpy(p + 8, value, len);
    return 8 + (value ? len : 0);
}

/* A command set: (0000,0000) then the body; returns the total length. */
static size_t command(uint8_t *p, const uint8_t *body, size_t body_len) {
    put_elem(p, 0, 0, 4, NULL);
    p[8] = body_len & 0xFF; p[9] = (body_len >> 8) & 0xFF; p[10] = 0; p[11] = 0;
    memcpy(p + 12, body, body_len);
    return 12 + body_len;
}

/* Scan all of buf; the status of the first fault, or the count of elements (>= 0). */
static int scan(const uint8_t *buf, size_t n, ul_cmd_elem *last) {
    uint32_t gl;
    int rc = ul_cmd_begin(buf, n, &gl);
    if (rc < 0)
        return rc;
    size_t pos = 12;
    uint16_t prev = 0;
    int count = 0;
    while ((rc = ul_cmd_next(buf, n, &pos, &prev, last)) == 1)
        count++;
    return rc < 0 ? rc : count;
}

int main(void) {
    uint8_t body[256], buf[300];
    ul_cmd_elem el;
    size_t b = 0;
    b += put_elem(body + b, 0, 0x0002, 6, "1.2.3\0");
    b += put_elem(body + b, 0, 0x0100, 2, "\x30\x00");
    b += put_elem(body + b, 0, 0x0110, 2, "\x07\x00");
    b += put_elem(body + b, 0, 0x0800, 2, "\x01\x01");
    size_t n = command(buf, body, b);

    CHECK(scan(buf, n, &el) == 4);
    CHECK(el.elem == 0x0800 && el.length == 2 && el.offset == n - 10);
    {   /* the spans, one by one */
        size_t pos = 12;
        uint16_t prev = 0;
        CHECK(ul_cmd_next(buf, n, &pos, &prev, &el) == 1);
        CHECK(el.group == 0 && el.elem == 2 && el.length == 6 && el.offset == 12);
        CHECK(memcmp(buf + el.offset + 8, "1.2.3", 5) == 0);
        CHECK(pos == 26 && prev == 2);
    }
    /* every truncation is a fault, never a read past the end (ASan watches) */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *copy = (uint8_t *)malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        CHECK(scan(copy, cut, &el) < 0);
        free(copy);
    }
    /* and so is an element cut inside a group length that agrees with it */
    uint8_t t[40];
    size_t tn = command(t, (const uint8_t *)"\x00\x00\x10\x01\x02\x00", 6);
    CHECK(scan(t, tn, &el) == UL_CMD_TRUNCATED && el.offset == 12);

    uint8_t bad[64];
    size_t bn = command(bad, body, b);
    bad[4] = 2;  /* (0000,0000) with length 2 */
    CHECK(scan(bad, bn, &el) == UL_CMD_BAD_FIRST);
    bn = command(bad, body, b);
    bad[8] = (uint8_t)(b + 1);
    CHECK(scan(bad, bn, &el) == UL_CMD_ODD_GROUP_LEN);
    bad[8] = (uint8_t)(b + 2);
    CHECK(scan(bad, bn, &el) == UL_CMD_GROUP_LEN);

    uint8_t e2[64];
    size_t en;
    en = put_elem(e2, 8, 0x0110, 2, "\x01\x00");
    n = command(bad, e2, en);
    CHECK(scan(bad, n, &el) == UL_CMD_NOT_GROUP_0 && el.group == 8 && el.elem == 0x0110);
    en = put_elem(e2, 0, 0x0110, 2, "\x01\x00");
    en += put_elem(e2 + en, 0, 0x0110, 2, "\x01\x00");
    n = command(bad, e2, en);
    CHECK(scan(bad, n, &el) == UL_CMD_NOT_ASCENDING && el.offset == 22);
    en = put_elem(e2, 0, 0x0110, 0xFFFFFFFFu, NULL);
    memcpy(e2 + en, "\x01\x00", 2);
    n = command(bad, e2, en + 2);
    CHECK(scan(bad, n, &el) == UL_CMD_PAST_END && el.length == 0xFFFFFFFFu);
    en = put_elem(e2, 0, 0x0002, 3, "1.2");
    e2[en++] = 0;
    n = command(bad, e2, en);
    CHECK(scan(bad, n, &el) == UL_CMD_ODD_LENGTH && el.length == 3);
    n = command(bad, e2, 0);
    CHECK(scan(bad, n, &el) == 0);  /* only the group length */

    return report();
}
