# A verbatim mirror of csrc/ul_cmd.h for Cython: declarations only, nothing else.
from libc.stdint cimport uint8_t, uint16_t, uint32_t


cdef extern from "ul_cmd.h" nogil:
    enum:
        UL_CMD_SHORT
        UL_CMD_BAD_FIRST
        UL_CMD_ODD_GROUP_LEN
        UL_CMD_GROUP_LEN
        UL_CMD_TRUNCATED
        UL_CMD_NOT_GROUP_0
        UL_CMD_NOT_ASCENDING
        UL_CMD_PAST_END
        UL_CMD_ODD_LENGTH

    ctypedef struct ul_cmd_elem:
        uint16_t group
        uint16_t elem
        uint32_t length
        size_t offset

    int ul_cmd_begin(const uint8_t *buf, size_t n, uint32_t *group_length)
    int ul_cmd_next(const uint8_t *buf, size_t n, size_t *pos, uint16_t *prev,
                    ul_cmd_elem *out)
