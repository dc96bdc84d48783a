/* ul_cmd.h - scanning a DIMSE command set (PS3.7 6.3.1, Annex E): group 0000 elements in
 * Implicit VR Little Endian, Command Group Length first, ascending element numbers.
 *
 * Portable C11, no Python, no globals, no allocation. The scanner finds and checks element
 * boundaries and returns spans; what the values mean (VRs, their lengths) is the caller's.
 */
#ifndef DICOMUL_UL_CMD_H
#define DICOMUL_UL_CMD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    UL_CMD_SHORT = -1,          /* fewer than 12 bytes: no room for (0000,0000)              */
    UL_CMD_BAD_FIRST = -2,      /* the first element is not (0000,0000) with length 4       */
    UL_CMD_ODD_GROUP_LEN = -3,  /* Command Group Length is odd                              */
    UL_CMD_GROUP_LEN = -4,      /* Command Group Length != the bytes after it               */
    UL_CMD_TRUNCATED = -5,      /* fewer than 8 bytes left for an element header            */
    UL_CMD_NOT_GROUP_0 = -6,    /* an element outside group 0000                            */
    UL_CMD_NOT_ASCENDING = -7,  /* an element number not above the one before it           */
    UL_CMD_PAST_END = -8,       /* a value length runs past the end                         */
    UL_CMD_ODD_LENGTH = -9      /* an odd value length                                      */
};

typedef struct {
    uint16_t group;   /* as read (0000 unless the status is UL_CMD_NOT_GROUP_0)            */
    uint16_t elem;    /* element number                                                    */
    uint32_t length;  /* value length                                                      */
    size_t offset;    /* of the element's 8-byte header; the value starts 8 bytes later    */
} ul_cmd_elem;

/* ul_cmd_begin: check the (0000,0000) UL element of the n-byte command set at buf and that
 * its value (the Command Group Length, stored in *group_length) is even and equals n - 12.
 * Returns 0, or a UL_CMD_* status. Scanning continues at offset 12. */
int ul_cmd_begin(const uint8_t *buf, size_t n, uint32_t *group_length);

/* ul_cmd_next: the element at *pos (start at 12, *prev at 0). Returns 1 with *out filled
 * and *pos, *prev advanced; 0 at the end; or a UL_CMD_* status with *out describing the
 * offending element as far as it could be read (out->offset is its header's offset). */
int ul_cmd_next(const uint8_t *buf, size_t n, size_t *pos, uint16_t *prev, ul_cmd_elem *out);

#ifdef __cplusplus
}
#endif

#endif /* DICOMUL_UL_CMD_H */
