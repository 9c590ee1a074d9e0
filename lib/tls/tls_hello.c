/**
 * @file
 * ClientHello and ServerHello bodies (RFC 8446 4.1.2, 4.1.3; RFC 5246 7.4.1),
 * read through the cross-record reader, and the extensions we report:
 * server_name (RFC 6066 3), ALPN (RFC 7301 3.1), supported_versions
 * (RFC 8446 4.2.1), encrypted_client_hello (presence only).
 */
#include <string.h>

#include "tls_internal.h"

enum {
	EXT_SERVER_NAME = 0,
	EXT_ALPN = 16,
	EXT_SUPPORTED_VERSIONS = 43,
	EXT_ECH = 0xfe0d,
};

/* ---- reader ---- */

void tls_rd_init(struct tls_rd *r, const uint8_t *d, size_t len, size_t off)
{
	memset(r, 0, sizeof(*r));
	r->d = d;
	r->len = len;
	r->pos = off;
	r->rec_end = off;
	r->vlen = 4;
}

/* Make at least one byte of the message readable at r->pos, stepping over
 * record headers. RFC 8446 5.1: handshake messages may be fragmented over
 * records but not interleaved with other record types, and zero-length
 * handshake fragments are not allowed. */
static bool rd_avail(struct tls_rd *r)
{
	if (r->err != RD_OK)
		return false;
	while (r->pos == r->rec_end) {
		size_t h = r->rec_end;

		if (h + 5 > r->len) {
			r->err = RD_SHORT;
			r->need = h + 5 - r->len;
			return false;
		}
		size_t rl = ((size_t)r->d[h + 3] << 8) | r->d[h + 4];

		if (r->d[h] != 22 || r->d[h + 1] != 3 || rl == 0 || rl > KC_TLS_MAX_RECORD) {
			r->err = RD_FRAMING;
			return false;
		}
		r->pos = h + 5;
		r->rec_end = r->pos + rl;
	}
	if (r->pos >= r->len) {
		r->err = RD_SHORT;
		r->need = r->rec_end - r->len;
		return false;
	}
	return true;
}

static bool rd_room(struct tls_rd *r, size_t n)
{
	if (r->err != RD_OK)
		return false;
	if (r->vpos + n > r->vlen) {
		r->err = RD_OVER;
		return false;
	}
	return true;
}

uint8_t tls_rd_u8(struct tls_rd *r)
{
	if (!rd_room(r, 1) || !rd_avail(r))
		return 0;
	r->vpos++;
	return r->d[r->pos++];
}

uint16_t tls_rd_u16(struct tls_rd *r)
{
	uint16_t hi = tls_rd_u8(r);

	return (uint16_t)((hi << 8) | tls_rd_u8(r));
}

uint32_t tls_rd_u24(struct tls_rd *r)
{
	uint32_t hi = tls_rd_u16(r);

	return (hi << 8) | tls_rd_u8(r);
}

void tls_rd_copy(struct tls_rd *r, void *dst, size_t n, size_t keep)
{
	uint8_t *out = dst;
	size_t done = 0;

	if (!rd_room(r, n))
		return;
	while (done < n) {
		if (!rd_avail(r))
			return;
		size_t k = KC_MIN(n - done, KC_MIN(r->rec_end, r->len) - r->pos);

		if (done < keep && out != NULL)
			memcpy(out + done, r->d + r->pos, KC_MIN(k, keep - done));
		r->pos += k;
		r->vpos += k;
		done += k;
	}
}

void tls_rd_skip(struct tls_rd *r, size_t n)
{
	tls_rd_copy(r, NULL, n, 0);
}

/* Skip to @p end (a message offset) after an extension was read; reading past
 * it means the extension's inner lengths lied. */
static void rd_seek(struct tls_rd *r, size_t end)
{
	if (r->err != RD_OK)
		return;
	if (r->vpos > end) {
		r->err = RD_OVER;
		return;
	}
	tls_rd_skip(r, end - r->vpos);
}

/* ---- ClientHello ---- */

static void ext_sni(struct tls_rd *r, size_t e_end, struct kc_tls_flow *f,
		    struct kc_tls_stats *st)
{
	size_t list_end = r->vpos + 2;

	list_end += tls_rd_u16(r);
	if (list_end > e_end) {
		r->err = RD_OVER;
		return;
	}
	while (r->err == RD_OK && r->vpos + 3 <= list_end) {
		uint8_t type = tls_rd_u8(r);
		size_t n = tls_rd_u16(r);

		if (r->vpos + n > list_end) {
			r->err = RD_OVER;
			return;
		}
		/* RFC 6066 3: at most one name per type; only host_name (0) exists. */
		if (type == 0 && f->sni_len == 0 && n > 0) {
			size_t keep = KC_MIN(n, (size_t)KC_TLS_NAME_KEEP);

			tls_rd_copy(r, f->sni, n, keep);
			f->sni_len = (uint8_t)keep;
			if (keep < n) {
				f->truncated = 1;
				st->truncated++;
			}
		} else {
			tls_rd_skip(r, n);
		}
	}
}

static void ext_alpn_offered(struct tls_rd *r, size_t e_end, struct kc_tls_flow *f,
			     struct kc_tls_stats *st)
{
	size_t list_end = r->vpos + 2;

	list_end += tls_rd_u16(r);
	if (list_end > e_end) {
		r->err = RD_OVER;
		return;
	}
	while (r->err == RD_OK && r->vpos < list_end) {
		size_t n = tls_rd_u8(r);

		if (n == 0 || r->vpos + n > list_end) {
			r->err = RD_OVER; /* RFC 7301 3.1: empty names are not allowed */
			return;
		}
		if (f->n_alpn >= KC_ITEM_MAX_ALPN || f->alpn_used + n > KC_TLS_ALPN_KEEP) {
			f->truncated = 1;
			st->truncated++;
			tls_rd_skip(r, n);
			continue;
		}
		char *dst = f->alpn_buf + f->alpn_used;

		tls_rd_copy(r, dst, n, n);
		if (n == 2 && tls_is_grease((uint16_t)(((uint8_t)dst[0] << 8) | (uint8_t)dst[1])))
			continue;
		f->alpn_off[f->n_alpn] = f->alpn_used;
		f->alpn_len[f->n_alpn] = (uint8_t)n;
		f->n_alpn++;
		f->alpn_used = (uint16_t)(f->alpn_used + n);
	}
}

static void ext_versions_offered(struct tls_rd *r, size_t e_end, struct kc_tls_flow *f,
				 struct kc_tls_stats *st)
{
	size_t n = tls_rd_u8(r);

	if (r->vpos + n > e_end || (n & 1)) {
		r->err = RD_OVER;
		return;
	}
	for (size_t i = 0; i < n / 2 && r->err == RD_OK; i++) {
		uint16_t v = tls_rd_u16(r);

		if (tls_is_grease(v))
			continue;
		if (f->n_versions >= KC_ARRAY_SIZE(f->versions)) {
			f->truncated = 1;
			st->truncated++;
			continue;
		}
		f->versions[f->n_versions++] = v;
	}
}

void tls_parse_client_hello(struct tls_rd *r, struct kc_tls_flow *f, struct kc_tls_stats *st)
{
	f->client_version = tls_rd_u16(r);
	tls_rd_skip(r, 32);                 /* random */
	size_t sid = tls_rd_u8(r);

	if (sid > 32 && r->err == RD_OK)
		r->err = RD_OVER;
	tls_rd_skip(r, sid);
	tls_rd_skip(r, tls_rd_u16(r));      /* cipher_suites */
	tls_rd_skip(r, tls_rd_u8(r));       /* legacy_compression_methods */
	if (r->err != RD_OK || r->vpos == r->vlen)
		return; /* TLS <= 1.2 may end here: no extensions */

	size_t ext_end = r->vpos + 2;

	ext_end += tls_rd_u16(r);
	if (ext_end > r->vlen && r->err == RD_OK)
		r->err = RD_OVER;
	while (r->err == RD_OK && r->vpos + 4 <= ext_end) {
		uint16_t type = tls_rd_u16(r);
		size_t e_end = r->vpos + 2;

		e_end += tls_rd_u16(r);
		if (e_end > ext_end) {
			r->err = RD_OVER;
			break;
		}
		switch (type) {
		case EXT_SERVER_NAME:
			if (e_end > r->vpos) /* empty in a ServerHello-style echo */
				ext_sni(r, e_end, f, st);
			break;
		case EXT_ALPN:
			ext_alpn_offered(r, e_end, f, st);
			break;
		case EXT_SUPPORTED_VERSIONS:
			ext_versions_offered(r, e_end, f, st);
			break;
		case EXT_ECH:
			st->ech++;
			break;
		default:
			break;
		}
		rd_seek(r, e_end);
	}
}

/* ---- ServerHello ---- */

/* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello whose random is
 * SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

void tls_parse_server_hello(struct tls_rd *r, struct kc_tls_flow *f, bool *hrr)
{
	uint8_t random[32];

	f->server_version = tls_rd_u16(r);
	tls_rd_copy(r, random, sizeof(random), sizeof(random));
	*hrr = r->err == RD_OK && memcmp(random, hrr_random, sizeof(random)) == 0;
	size_t sid = tls_rd_u8(r);

	if (sid > 32 && r->err == RD_OK)
		r->err = RD_OVER;
	tls_rd_skip(r, sid);
	f->cipher_suite = tls_rd_u16(r);
	tls_rd_skip(r, 1);                  /* legacy_compression_method */
	if (r->err != RD_OK || r->vpos == r->vlen)
		return;

	size_t ext_end = r->vpos + 2;

	ext_end += tls_rd_u16(r);
	if (ext_end > r->vlen && r->err == RD_OK)
		r->err = RD_OVER;
	while (r->err == RD_OK && r->vpos + 4 <= ext_end) {
		uint16_t type = tls_rd_u16(r);
		size_t e_end = r->vpos + 2;

		e_end += tls_rd_u16(r);
		if (e_end > ext_end) {
			r->err = RD_OVER;
			break;
		}
		if (type == EXT_SUPPORTED_VERSIONS && e_end - r->vpos == 2) {
			/* RFC 8446 4.2.1: the selected version, which overrides
			 * legacy_version (fixed at 0x0303 for 1.3). */
			f->server_version = tls_rd_u16(r);
		} else if (type == EXT_ALPN && e_end - r->vpos >= 3) {
			/* RFC 7301 3.1: exactly one name in the server's list. */
			tls_rd_skip(r, 2);
			size_t n = tls_rd_u8(r);

			if (r->vpos + n > e_end) {
				r->err = RD_OVER;
				break;
			}
			tls_rd_copy(r, f->alpn_chosen, n, KC_MIN(n, (size_t)KC_TLS_NAME_KEEP));
			f->alpn_chosen_len = (uint8_t)KC_MIN(n, (size_t)KC_TLS_NAME_KEEP);
		}
		rd_seek(r, e_end);
	}
}
