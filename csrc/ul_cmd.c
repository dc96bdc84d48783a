/* ul_cmd.c - DIMSE command set scanning; see ul_cmd.h. */
#include "ul_cmd.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int ul_cmd_begin(const uint8_t *buf, size_t n, uint32_t *group_length) {
    if (n < 12)
        return UL_CMD_SHORT;
    if (rd16(buf) != 0 || rd16(buf + 2) != 0 || rd32(buf + 4) != 4)
        return UL_CMD_BAD_FIRST;
    *group_length = rd32(buf + 8);
    if (*group_length & 1)
        return UL_CMD_ODD_GROUP_LEN;
    if ((uint64_t)*group_length != (uint64_t)(n - 12))
        return UL_CMD_GROUP_LEN;
    return 0;
}

int ul_cmd_next(const uint8_t *buf, size_t n, size_t *pos, uint16_t *prev, ul_cmd_elem *out) {
    size_t off = *pos;
    if (off >= n)
        return 0;
    out->offset = off;
    out->group = 0;
    out->elem = 0;
    out->length = 0;
    if (n - off < 8)
        return UL_CMD_TRUNCATED;
    out->group = rd16(buf + off);
    out->elem = rd16(buf + off + 2);
    out->length = rd32(buf + off + 4);
    if (out->group != 0)
        return UL_CMD_NOT_GROUP_0;
    if (out->elem <= *prev)
        return UL_CMD_NOT_ASCENDING;
    if ((uint64_t)out->length > (uint64_t)(n - off - 8))
        return UL_CMD_PAST_END;
    if (out->length & 1)
        return UL_CMD_ODD_LENGTH;
    *pos = off + 8 + out->length;
    *prev = out->elem;
    return 1;
}
