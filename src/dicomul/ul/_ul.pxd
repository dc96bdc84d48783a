# A verbatim mirror of csrc/ul.h for Cython: declarations only, nothing else.
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "ul.h" nogil:
    enum:
        UL_OK
        UL_E_TRUNCATED
        UL_E_TOO_LARGE
        UL_E_UNKNOWN_PDU
        UL_E_BAD_LENGTH
        UL_E_MISSING
        UL_E_DUPLICATE
        UL_E_LIMIT
        UL_E_BUFFER
        UL_E_ARG
        UL_E_WRONG_TYPE

    ctypedef struct ul_err:
        int code
        size_t offset

    enum:
        UL_PDU_ASSOCIATE_RQ
        UL_PDU_ASSOCIATE_AC
        UL_PDU_ASSOCIATE_RJ
        UL_PDU_P_DATA_TF
        UL_PDU_RELEASE_RQ
        UL_PDU_RELEASE_RP
        UL_PDU_ABORT

    enum:
        UL_ITEM_APP_CONTEXT
        UL_ITEM_PC_RQ
        UL_ITEM_PC_AC
        UL_ITEM_ABSTRACT
        UL_ITEM_TRANSFER
        UL_ITEM_USER_INFO
        UL_SUB_MAX_LENGTH
        UL_SUB_IMPL_CLASS
        UL_SUB_ASYNC_OPS
        UL_SUB_ROLE
        UL_SUB_IMPL_VERSION
        UL_SUB_EXT_NEG
        UL_SUB_COMMON_EXT_NEG
        UL_SUB_USER_ID_RQ
        UL_SUB_USER_ID_AC

    enum:
        UL_HEADER_LEN
        UL_PDATA_HEADER_LEN
        UL_FIXED_RQAC_LEN
        UL_MAX_PDU_LENGTH

    ctypedef struct ul_span:
        uint32_t off
        uint32_t len

    int64_t ul_frame(const uint8_t *buf, size_t n, uint32_t max_length, uint8_t *pdu_type,
                     uint32_t *length)

    ctypedef struct ul_pc:
        uint8_t id
        uint8_t result
        uint8_t has_abstract
        ul_span abstract
        uint32_t ts_first
        uint32_t ts_count

    ctypedef struct ul_item:
        uint8_t type
        ul_span value

    ctypedef struct ul_assoc:
        ul_pc *pcs
        uint32_t pcs_cap
        ul_span *ts
        uint32_t ts_cap
        ul_item *user
        uint32_t user_cap
        uint8_t pdu_type
        uint16_t version
        ul_span called
        ul_span calling
        ul_span app_context
        uint32_t n_pcs
        uint32_t n_ts
        uint32_t n_user

    int ul_decode_associate(const uint8_t *buf, size_t n, ul_assoc *a, ul_err *err)
    int ul_decode_u32(const uint8_t *buf, ul_span v, uint32_t *out, ul_err *err)
    int ul_decode_async(const uint8_t *buf, ul_span v, uint16_t *invoked, uint16_t *performed,
                        ul_err *err)
    int ul_decode_role(const uint8_t *buf, ul_span v, ul_span *uid, uint8_t *scu, uint8_t *scp,
                       ul_err *err)
    int ul_decode_ext_neg(const uint8_t *buf, ul_span v, ul_span *uid, ul_span *info,
                          ul_err *err)
    int ul_decode_common_ext(const uint8_t *buf, ul_span v, ul_span *sop, ul_span *service,
                             ul_span *rel, uint32_t rel_cap, uint32_t *n_rel, ul_err *err)
    int ul_decode_user_id_rq(const uint8_t *buf, ul_span v, uint8_t *id_type, uint8_t *positive,
                             ul_span *primary, ul_span *secondary, ul_err *err)
    int ul_decode_user_id_ac(const uint8_t *buf, ul_span v, ul_span *response, ul_err *err)

    ctypedef struct ul_bytes:
        const uint8_t *p
        uint32_t n

    ctypedef struct ul_pc_enc:
        uint8_t id
        uint8_t result
        ul_bytes abstract
        const ul_bytes *ts
        uint32_t n_ts

    ctypedef struct ul_uitem_enc:
        uint8_t type
        uint8_t raw
        uint8_t b0
        uint8_t b1
        uint32_t u32
        ul_bytes a
        ul_bytes b
        const ul_bytes *list
        uint32_t n_list

    ctypedef struct ul_assoc_enc:
        uint8_t pdu_type
        uint16_t version
        ul_bytes called
        ul_bytes calling
        ul_bytes app_context
        const ul_pc_enc *pcs
        uint32_t n_pcs
        const ul_uitem_enc *user
        uint32_t n_user

    int64_t ul_size_associate(const ul_assoc_enc *a)
    int64_t ul_encode_associate(const ul_assoc_enc *a, uint8_t *out, size_t cap)

    int ul_decode_short(const uint8_t *buf, size_t n, uint8_t *a, uint8_t *b, uint8_t *c,
                        ul_err *err)
    int ul_encode_short(uint8_t pdu_type, uint8_t a, uint8_t b, uint8_t c, uint8_t *out)

    ctypedef struct ul_pdv:
        uint8_t pc_id
        uint8_t control
        ul_span data

    int ul_pdv_next(const uint8_t *buf, size_t n, size_t *pos, ul_pdv *out, ul_err *err)
    uint32_t ul_fragment_size(uint32_t peer_max_length)
    uint64_t ul_fragment_count(uint64_t len, uint32_t frag)
    int ul_pdata_header(uint8_t *out, uint8_t pc_id, uint8_t control, uint32_t frag_len)
    int ul_pdv_header(uint8_t *out, uint8_t pc_id, uint8_t control, uint32_t frag_len)
    int ul_pdu_header(uint8_t *out, uint8_t pdu_type, uint32_t length)
