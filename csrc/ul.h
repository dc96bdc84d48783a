/* ul.h - the public header of dicomul's C core: PS3.8 PDU framing, decode and encode.
 *
 * Portable C11, no Python, no globals, no I/O, no clock, no allocation. Every function works
 * on caller-owned buffers and structs. Decoders return spans (offset + length into the
 * caller's buffer) rather than copies; encoders write into a caller buffer whose size they
 * first tell the caller.
 *
 * Return contract used throughout:
 *   >= 0  success (a count of bytes, or 0/1 as documented);
 *   <  0  a UL_E* error code; where a ul_err is passed, it receives the code and the byte
 *         offset (from the start of the buffer given) at which decoding failed.
 */
#ifndef DICOMUL_UL_H
#define DICOMUL_UL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes --------------------------------------------------------------------- */
enum {
    UL_OK = 0,
    UL_E_TRUNCATED = -1,    /* a length runs past the end of its enclosing field          */
    UL_E_TOO_LARGE = -2,    /* a PDU header declares more than the configured maximum     */
    UL_E_UNKNOWN_PDU = -3,  /* PDU type byte not 01H..07H                                 */
    UL_E_BAD_LENGTH = -4,   /* a fixed-size PDU/item/sub-item has the wrong length        */
    UL_E_MISSING = -5,      /* a mandatory item is absent (10H, 20H/21H, 30H, 40H, 50H)   */
    UL_E_DUPLICATE = -6,    /* an item that may appear once appears twice                 */
    UL_E_LIMIT = -7,        /* more items than the caller's arrays hold                   */
    UL_E_BUFFER = -8,       /* encode: the output buffer is too small                     */
    UL_E_ARG = -9,          /* encode: an argument is out of range (length > field size)  */
    UL_E_WRONG_TYPE = -10   /* the PDU is not of the type this decoder handles            */
};

typedef struct {
    int code;      /* one of the UL_E* codes, 0 when no error            */
    size_t offset; /* offset from the start of the decoded buffer        */
} ul_err;

/* PDU types, PS3.8 Table 9-10 events Evt3..Evt16 come from these. */
enum {
    UL_PDU_ASSOCIATE_RQ = 0x01,
    UL_PDU_ASSOCIATE_AC = 0x02,
    UL_PDU_ASSOCIATE_RJ = 0x03,
    UL_PDU_P_DATA_TF = 0x04,
    UL_PDU_RELEASE_RQ = 0x05,
    UL_PDU_RELEASE_RP = 0x06,
    UL_PDU_ABORT = 0x07
};

/* Item and sub-item types, PS3.8 9.3.2/9.3.3 and Annex D, PS3.7 D.3.3. */
enum {
    UL_ITEM_APP_CONTEXT = 0x10,
    UL_ITEM_PC_RQ = 0x20,
    UL_ITEM_PC_AC = 0x21,
    UL_ITEM_ABSTRACT = 0x30,
    UL_ITEM_TRANSFER = 0x40,
    UL_ITEM_USER_INFO = 0x50,
    UL_SUB_MAX_LENGTH = 0x51,
    UL_SUB_IMPL_CLASS = 0x52,
    UL_SUB_ASYNC_OPS = 0x53,
    UL_SUB_ROLE = 0x54,
    UL_SUB_IMPL_VERSION = 0x55,
    UL_SUB_EXT_NEG = 0x56,
    UL_SUB_COMMON_EXT_NEG = 0x57,
    UL_SUB_USER_ID_RQ = 0x58,
    UL_SUB_USER_ID_AC = 0x59
};

#define UL_HEADER_LEN 6u           /* PDU header: type, reserved, 4-byte length          */
#define UL_PDATA_HEADER_LEN 12u    /* P-DATA-TF header + one PDV item header            */
#define UL_FIXED_RQAC_LEN 68u      /* RQ/AC variable part before the first item          */
#define UL_MAX_PDU_LENGTH 0xFFFFFFFFu
/* The largest PDU length ul_frame accepts whatever the caller's maximum: spans are 32-bit
 * offsets from the start of the PDU, so header + body must stay below 2^32. */
#define UL_MAX_DECODE_LENGTH (0xFFFFFFFFu - 16u)

/* A span: bytes [off, off + len) of the buffer passed to the decoder. */
typedef struct {
    uint32_t off;
    uint32_t len;
} ul_span;

/* ---- framing -------------------------------------------------------------------------- */

/* ul_frame: look at the start of a byte stream for one PDU.
 * Returns the whole PDU size (6 + length) when buf holds at least that many bytes,
 * 0 when more bytes are needed (fewer than 6, or the body is incomplete),
 * UL_E_UNKNOWN_PDU when the first byte is not 01H..07H (as soon as 1 byte is there),
 * UL_E_TOO_LARGE when the declared length exceeds max_length (as soon as the header is
 * there, so nothing is allocated for it; also above UL_MAX_DECODE_LENGTH). *pdu_type and *length are set whenever the
 * header is complete. */
int64_t ul_frame(const uint8_t *buf, size_t n, uint32_t max_length, uint8_t *pdu_type,
                 uint32_t *length);

/* ---- A-ASSOCIATE-RQ / -AC (PS3.8 Tables 9-11..9-20) ------------------------------------ */

typedef struct {
    uint8_t id;         /* presentation context ID (byte 5)                        */
    uint8_t result;     /* AC: result/reason (byte 7); RQ: 0                        */
    uint8_t has_abstract;
    ul_span abstract;   /* RQ: abstract syntax UID (item 30H value)                */
    uint32_t ts_first;  /* index of its first transfer syntax in ul_assoc.ts        */
    uint32_t ts_count;  /* RQ: >= 1; AC: PS3.8 says exactly 1 (absent allowed when
                         * result != 0); more are tolerated and listed, the first one is
                         * the accepted transfer syntax */
} ul_pc;

typedef struct {
    uint8_t type;  /* sub-item type                     */
    ul_span value; /* the value after the 4-byte header */
} ul_item;

typedef struct {
    /* caller-provided arrays and their capacities */
    ul_pc *pcs;
    uint32_t pcs_cap;
    ul_span *ts;
    uint32_t ts_cap;
    ul_item *user;
    uint32_t user_cap;
    /* filled by ul_decode_associate */
    uint8_t pdu_type;
    uint16_t version;
    ul_span called;   /* 16 bytes, padding included */
    ul_span calling;  /* 16 bytes, padding included */
    ul_span app_context;
    uint32_t n_pcs;
    uint32_t n_ts;
    uint32_t n_user;
} ul_assoc;

/* ul_decode_associate: decode one whole A-ASSOCIATE-RQ or -AC PDU (header included) of
 * exactly n bytes. Items of unknown type are skipped (PS3.8 9.3.1); user-information
 * sub-items of every type are listed in a->user as spans, in wire order; reserved fields are
 * not tested. Returns UL_OK or a UL_E* code with err set. */
int ul_decode_associate(const uint8_t *buf, size_t n, ul_assoc *a, ul_err *err);

/* Typed user-information sub-item decoders. Each takes the whole PDU buffer and the span of
 * the sub-item's value and validates its layout (PS3.7 D.3.3); they return UL_OK or a UL_E*
 * code with err->offset at the failing byte. */
int ul_decode_u32(const uint8_t *buf, ul_span v, uint32_t *out, ul_err *err);          /* 51H */
int ul_decode_async(const uint8_t *buf, ul_span v, uint16_t *invoked, uint16_t *performed,
                    ul_err *err);                                                       /* 53H */
int ul_decode_role(const uint8_t *buf, ul_span v, ul_span *uid, uint8_t *scu, uint8_t *scp,
                   ul_err *err);                                                        /* 54H */
int ul_decode_ext_neg(const uint8_t *buf, ul_span v, ul_span *uid, ul_span *info,
                      ul_err *err);                                                     /* 56H */
/* 57H: related UIDs go to rel[0..*n_rel), at most rel_cap of them (else UL_E_LIMIT). */
int ul_decode_common_ext(const uint8_t *buf, ul_span v, ul_span *sop, ul_span *service,
                         ul_span *rel, uint32_t rel_cap, uint32_t *n_rel, ul_err *err);
int ul_decode_user_id_rq(const uint8_t *buf, ul_span v, uint8_t *id_type, uint8_t *positive,
                         ul_span *primary, ul_span *secondary, ul_err *err);           /* 58H */
int ul_decode_user_id_ac(const uint8_t *buf, ul_span v, ul_span *response, ul_err *err); /* 59H */

/* ---- encoding of RQ/AC --------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    uint32_t n;
} ul_bytes;

/* One presentation context to encode. RQ: abstract + ts[0..n_ts); AC: result + ts[0] (an AC
 * with n_ts == 0 encodes an empty 40H item). */
typedef struct {
    uint8_t id;
    uint8_t result;
    ul_bytes abstract;
    const ul_bytes *ts;
    uint32_t n_ts;
} ul_pc_enc;

/* One user-information sub-item to encode. `raw` = 1 writes `a` as the value whatever the
 * type. Otherwise by type: 51H u32; 52H/55H a; 53H u32 = invoked << 16 | performed;
 * 54H a = UID, b0 = SCU role, b1 = SCP role; 56H a = UID, b = application info;
 * 57H a = SOP class UID, b = service class UID, list[0..n_list) = related general SOP
 * classes (b0 = sub-item version); 58H b0 = identity type, b1 = positive response requested,
 * a = primary field, b = secondary field; 59H a = server response; other types: a. */
typedef struct {
    uint8_t type;
    uint8_t raw;
    uint8_t b0, b1;
    uint32_t u32;
    ul_bytes a, b;
    const ul_bytes *list;
    uint32_t n_list;
} ul_uitem_enc;

typedef struct {
    uint8_t pdu_type;   /* UL_PDU_ASSOCIATE_RQ or _AC */
    uint16_t version;
    ul_bytes called;    /* <= 16 bytes, space-padded on the wire */
    ul_bytes calling;
    ul_bytes app_context;
    const ul_pc_enc *pcs;
    uint32_t n_pcs;
    const ul_uitem_enc *user;
    uint32_t n_user;
} ul_assoc_enc;

/* Size in bytes of the encoded PDU, header included, or a UL_E_ARG when a field does not
 * fit its length field (an item over 65535 bytes, a PDU over 2^32-1, an AE over 16). */
int64_t ul_size_associate(const ul_assoc_enc *a);
/* Writes the PDU into out (cap bytes). Returns the bytes written or UL_E_BUFFER/UL_E_ARG. */
int64_t ul_encode_associate(const ul_assoc_enc *a, uint8_t *out, size_t cap);

/* ---- fixed-size PDUs: A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT (Tables 9-21, 9-24..9-26) */

/* Decodes bytes 7..10 of a 10-byte RJ/ABORT PDU into the three significant bytes
 * (RJ: result, source, reason; ABORT: byte 8 is reserved so *a = 0, source, reason).
 * RELEASE-RQ/RP are accepted with *a = *b = *c = 0. Returns UL_OK or UL_E_BAD_LENGTH /
 * UL_E_WRONG_TYPE / UL_E_TRUNCATED. */
int ul_decode_short(const uint8_t *buf, size_t n, uint8_t *a, uint8_t *b, uint8_t *c,
                    ul_err *err);
/* Writes a 10-byte RJ (a=result, b=source, c=reason), RELEASE-RQ/RP (a,b,c ignored) or
 * ABORT (b=source, c=reason) PDU into out[10]. Returns 10 or UL_E_ARG for another type. */
int ul_encode_short(uint8_t pdu_type, uint8_t a, uint8_t b, uint8_t c, uint8_t out[10]);

/* ---- P-DATA-TF (Table 9-22, 9-23, Annex E) ------------------------------------------ */

typedef struct {
    uint8_t pc_id;
    uint8_t control; /* message control header: bit 0 command, bit 1 last */
    ul_span data;    /* the fragment */
} ul_pdv;

/* ul_pdv_next: iterate the PDV items of a P-DATA-TF PDU. buf/n is the whole PDU, *pos starts
 * at 0 (meaning "after the header") and is advanced. Returns 1 with *out filled, 0 at the
 * end, or UL_E_TRUNCATED / UL_E_BAD_LENGTH (a PDV shorter than 2 bytes) with err set.
 * A P-DATA-TF with no PDV at all is reported as UL_E_MISSING on the first call. */
int ul_pdv_next(const uint8_t *buf, size_t n, size_t *pos, ul_pdv *out, ul_err *err);

/* Largest fragment for a peer maximum length (the P-DATA-TF PDU length field; 0 = no
 * limit): max - 6, rounded down to even (fragments have even length, Annex E.1); at most
 * 0xFFFFFFF8 when unlimited; 0 when max_length is between 1 and 7 (too small for any data). */
uint32_t ul_fragment_size(uint32_t peer_max_length);

/* Number of PDUs a payload of len bytes needs at fragment size frag (>= 1 for len 0). */
uint64_t ul_fragment_count(uint64_t len, uint32_t frag);

/* Writes the 12-byte header of a P-DATA-TF PDU carrying one PDV of frag_len bytes:
 * PDU type 04H, length 6 + frag_len, PDV length 2 + frag_len, PC ID, control byte.
 * Returns 12 or UL_E_ARG when frag_len > 0xFFFFFFF9. */
int ul_pdata_header(uint8_t out[12], uint8_t pc_id, uint8_t control, uint32_t frag_len);

/* Writes the 6-byte header of one PDV item (length 2 + frag_len, PC ID, control byte).
 * Returns 6 or UL_E_ARG when frag_len > 0xFFFFFFFD. */
int ul_pdv_header(uint8_t out[6], uint8_t pc_id, uint8_t control, uint32_t frag_len);

/* Writes the 6-byte PDU header; returns 6. */
int ul_pdu_header(uint8_t out[6], uint8_t pdu_type, uint32_t length);

#ifdef __cplusplus
}
#endif
#endif /* DICOMUL_UL_H */
