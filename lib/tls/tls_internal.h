/**
 * @file
 * Private to lib/tls: a reader that walks one handshake message across the
 * records that carry it, in place (no copy of stream bytes).
 *
 *   data: |hdr5|payload......|hdr5|payload...|hdr5|payload.....|
 *               ^pos     ^rec_end
 *   the message is the concatenation of the payloads; vpos counts bytes of
 *   the message read so far, vlen is its length (4-byte header included).
 */
#ifndef KC_TLS_INTERNAL_H
#define KC_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_tls.h"

enum tls_rd_err {
	RD_OK = 0,
	RD_SHORT,  /**< presented bytes end before the message does */
	RD_FRAMING,/**< a record that cannot carry handshake bytes */
	RD_OVER,   /**< a length field points past the message: malformed */
};

struct tls_rd {
	const uint8_t *d;
	size_t len;     /**< bytes presented */
	size_t pos;     /**< next byte to read in d */
	size_t rec_end; /**< end of the current record's payload in d */
	size_t vpos;    /**< bytes of the message read */
	size_t vlen;    /**< message length (header included) */
	size_t need;    /**< with RD_SHORT: bytes missing for the current record */
	uint8_t err;    /**< enum tls_rd_err; sticky */
};

/** Start a reader at the record header at @p off of @p d. */
void tls_rd_init(struct tls_rd *r, const uint8_t *d, size_t len, size_t off);
uint8_t tls_rd_u8(struct tls_rd *r);
uint16_t tls_rd_u16(struct tls_rd *r);
uint32_t tls_rd_u24(struct tls_rd *r);
void tls_rd_skip(struct tls_rd *r, size_t n);
/** Read @p n bytes, keeping the first @p keep of them in @p dst. */
void tls_rd_copy(struct tls_rd *r, void *dst, size_t n, size_t keep);

/** Parse the body of a ClientHello (header already read) into @p f. */
void tls_parse_client_hello(struct tls_rd *r, struct kc_tls_flow *f, struct kc_tls_stats *st);
/** Parse the body of a ServerHello into @p f; sets *hrr for a
 *  HelloRetryRequest. */
void tls_parse_server_hello(struct tls_rd *r, struct kc_tls_flow *f, bool *hrr);

/** RFC 8701: GREASE values are 0x?A?A with both bytes equal. */
static inline bool tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

#endif /* KC_TLS_INTERNAL_H */
