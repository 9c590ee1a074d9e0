/**
 * @file
 * Private helpers shared by the DNS dissector's files.
 */
#ifndef KC_DNS_INTERNAL_H
#define KC_DNS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kc_dns.h"

/** Longest rendered name: 255 wire octets, each possibly "\DDD". */
#define DNS_NAME_TEXT_MAX (4 * KC_DNS_MAX_NAME_WIRE + 4)
/** Longest rendered RDATA kept; longer text is cut and the item truncated. */
#define DNS_RDATA_TEXT_MAX 1024

/** Outcome of decoding one (possibly compressed) name. */
enum dns_name_rc {
	DNS_NAME_OK = 0,
	DNS_NAME_TRUNCATED,  /**< ran past the message end */
	DNS_NAME_BAD_LABEL,  /**< label type 01 or 10 */
	DNS_NAME_BAD_PTR,    /**< pointer not strictly backwards */
	DNS_NAME_PTR_HOPS,   /**< too many pointers */
	DNS_NAME_TOO_LONG,   /**< over 255 octets; *pos is still set past it */
};

/**
 * Decode the name at *pos of @p msg. On success *pos is just past the name
 * where it started (past the first pointer when compressed) and @p out holds
 * the text (not NUL-terminated), *out_len its length (at most @p cap bytes;
 * longer text is cut, which callers avoid by passing DNS_NAME_TEXT_MAX).
 * @p out may be NULL to validate only.
 */
enum dns_name_rc dns_name_decode(const uint8_t *msg, size_t len, size_t *pos, char *out,
				 size_t cap, size_t *out_len);

/**
 * Resync check at @p d (a TCP length prefix, then a message), of which
 * @p avail bytes are present. 1: plausible message start; 0: not one;
 * -1: too few bytes present to judge.
 */
int dns_resync_candidate(const uint8_t *d, size_t avail);

/** Count a name fault in @p st (NULL allowed). */
void dns_count_name_fault(struct kc_dns_stats *st, enum dns_name_rc rc);

static inline uint16_t dns_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t dns_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif /* KC_DNS_INTERNAL_H */
