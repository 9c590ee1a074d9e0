/*
 * HTTP/2 streams: the bounded stream table, the per-connection field store,
 * and header-block decoding into it.
 *
 * The store keeps, for every tracked stream, what its item will need, as
 * records appended in arrival order:
 *
 *     | slot u8 | kind u8 | nlen u16 | vlen u16 | name bytes | value bytes |
 *
 * (kinds K_* in http2_internal.h; body records have nlen 0 and grow in place
 * while they are the store's last record). Emitting a stream walks the store
 * for its slot and then squeezes its records out; both are at most
 * KC_HTTP2_STORE_SIZE bytes of work, once per item.
 */
#include <string.h>

#include "http2_internal.h"

#define REC_HDR 6u

struct h2_stream *h2_stream_find(struct kc_http2_flow *f, uint32_t sid)
{
	if (sid == 0)
		return NULL;
	for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++)
		if (f->streams[i].id == sid)
			return &f->streams[i];
	return NULL;
}

static struct h2_stream *free_slot(struct kc_http2_flow *f)
{
	for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++)
		if (f->streams[i].id == 0)
			return &f->streams[i];
	return NULL;
}

struct h2_stream *h2_stream_new(struct kc_http2_flow *f, uint32_t sid,
				const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
				struct kc_http2_stats *st)
{
	struct h2_stream *s = free_slot(f);

	if (s == NULL) {
		/* A stream the client cancelled only waits for in-flight
		 * response frames; a new stream needs its slot more. */
		struct h2_stream *victim = NULL;

		for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++) {
			struct h2_stream *v = &f->streams[i];

			if ((v->flags & S_RESET_C) && (victim == NULL || v->id < victim->id))
				victim = v;
		}
		if (victim != NULL) {
			h2_stream_maybe_finish(f, victim, 1, info, emit, ctx, st);
			s = free_slot(f);
		}
	}
	if (s == NULL) {
		st->streams_overflow++;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->id = sid;
	s->grpc_status = -1;
	/* A side given up after a gap will never show this stream's frames. */
	if (f->dir[KC_DIR_C2S].phase == PH_DEAD)
		s->flags |= S_GAP_REQ;
	if (f->dir[KC_DIR_S2C].phase == PH_DEAD)
		s->flags |= S_GAP_RESP;
	if (s->flags & (S_GAP_REQ | S_GAP_RESP))
		st->streams_gap++;
	return s;
}

static unsigned slot_of(const struct kc_http2_flow *f, const struct h2_stream *s)
{
	return (unsigned)(s - f->streams);
}

static void rec_read(const uint8_t *r, uint8_t *slot, uint8_t *kind, uint16_t *nlen,
		     uint16_t *vlen)
{
	*slot = r[0];
	*kind = r[1];
	memcpy(nlen, r + 2, 2);
	memcpy(vlen, r + 4, 2);
}

int h2_store_put(struct kc_http2_flow *f, struct h2_stream *s, uint8_t kind,
		 const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
		 struct kc_http2_stats *st)
{
	size_t need = REC_HDR + nlen + vlen;
	uint8_t *r;
	uint16_t n16 = (uint16_t)nlen, v16 = (uint16_t)vlen;

	if (need > KC_HTTP2_STORE_SIZE - f->store_used) {
		s->flags |= S_TRUNC;
		st->store_full++;
		return -ENOSPC;
	}
	r = f->store + f->store_used;
	r[0] = (uint8_t)slot_of(f, s);
	r[1] = kind;
	memcpy(r + 2, &n16, 2);
	memcpy(r + 4, &v16, 2);
	if (nlen > 0)
		memcpy(r + REC_HDR, name, nlen);
	if (vlen > 0)
		memcpy(r + REC_HDR + nlen, value, vlen);
	f->last_rec = f->store_used;
	f->store_used += (uint32_t)need;
	return 0;
}

void h2_store_body(struct kc_http2_flow *f, struct h2_stream *s, int resp,
		   const uint8_t *data, size_t n, struct kc_http2_stats *st)
{
	uint16_t *kept = resp ? &s->resp_kept : &s->req_kept;
	uint8_t kind = resp ? K_RESP_BODY : K_REQ_BODY;
	size_t want, room;

	if (resp)
		s->resp_body += (int64_t)n;
	else
		s->req_body += (int64_t)n;
	/* After a gap on this side the prefix would have a hole in it. */
	if (s->flags & (resp ? S_GAP_RESP : S_GAP_REQ))
		return;
	want = KC_MIN(n, (size_t)KC_ITEM_BODY_PREFIX - *kept);
	if (want == 0)
		return; /* beyond the prefix: counted in the body size only */
	room = KC_HTTP2_STORE_SIZE - KC_HTTP2_STORE_HDR_RESERVE;
	room = f->store_used >= room ? 0 : room - f->store_used;
	if (f->last_rec != NO_REC) {
		uint8_t *r = f->store + f->last_rec;
		uint8_t rslot, rkind;
		uint16_t nlen, vlen;

		rec_read(r, &rslot, &rkind, &nlen, &vlen);
		if (rslot == slot_of(f, s) && rkind == kind) {
			/* grow the last record in place */
			size_t add = KC_MIN(want, room);

			if (add < want) {
				s->flags |= S_TRUNC;
				st->store_full++;
			}
			if (add == 0)
				return;
			memcpy(f->store + f->store_used, data, add);
			f->store_used += (uint32_t)add;
			vlen = (uint16_t)(vlen + add);
			memcpy(r + 4, &vlen, 2);
			*kept = (uint16_t)(*kept + add);
			return;
		}
	}
	if (room <= REC_HDR) {
		s->flags |= S_TRUNC;
		st->store_full++;
		return;
	}
	if (want > room - REC_HDR) {
		want = room - REC_HDR;
		s->flags |= S_TRUNC;
		st->store_full++;
	}
	if (h2_store_put(f, s, kind, NULL, 0, data, want, st) == 0)
		*kept = (uint16_t)(*kept + want);
}

/* Drop every record of stream @p s from the store. */
static void store_remove(struct kc_http2_flow *f, const struct h2_stream *s)
{
	uint32_t rd = 0, wr = 0;
	unsigned slot = slot_of(f, s);

	f->last_rec = NO_REC;
	while (rd + REC_HDR <= f->store_used) {
		uint8_t rslot, kind;
		uint16_t nlen, vlen;
		uint32_t sz;

		rec_read(f->store + rd, &rslot, &kind, &nlen, &vlen);
		sz = REC_HDR + (uint32_t)nlen + vlen;
		if (rslot != slot) {
			if (wr != rd)
				memmove(f->store + wr, f->store + rd, sz);
			f->last_rec = wr;
			wr += sz;
		}
		rd += sz;
	}
	f->store_used = wr;
}

void h2_stream_free(struct kc_http2_flow *f, struct h2_stream *s)
{
	store_remove(f, s);
	s->id = 0;
}

/* Header-block decoding into the store. */
struct decode_ctx {
	struct kc_http2_flow *f;
	struct h2_stream *s;
	int resp;
	int skip;   /* an informational (1xx) response block: not kept */
	struct kc_http2_stats *st;
};

static int ieq(const uint8_t *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)lit[i])
			return 0;
	}
	return 1;
}

static int parse_small_int(const uint8_t *v, size_t len, int32_t max, int32_t *out)
{
	int32_t x = 0;

	if (len == 0 || len > 9)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (v[i] - '0');
	}
	if (x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

static int on_field(void *arg, const uint8_t *name, size_t nlen, const uint8_t *value,
		    size_t vlen, unsigned flags)
{
	struct decode_ctx *c = arg;
	struct h2_stream *s = c->s;
	int32_t v;

	if (s == NULL || c->skip)
		return 0;
	if (flags & KC_HPACK_F_TRUNCATED)
		s->flags |= S_TRUNC;
	if (c->resp && ieq(name, nlen, ":status")) {
		if (parse_small_int(value, vlen, 999, &v) == 0) {
			/* RFC 9113 8.1: 1xx blocks precede the final response;
			 * the item keeps the final one only. */
			if (v >= 100 && v < 200 && v != 101) {
				c->skip = 1;
				return 0;
			}
			s->status = (int16_t)v;
		}
	} else if (ieq(name, nlen, "content-type")) {
		if (vlen >= 16 && memcmp(value, "application/grpc", 16) == 0)
			s->flags |= S_GRPC;
	} else if (c->resp && ieq(name, nlen, "grpc-status")) {
		if (parse_small_int(value, vlen, 1000000, &v) == 0)
			s->grpc_status = v;
	}
	(void)h2_store_put(c->f, s, c->resp ? K_RESP_HDR : K_REQ_HDR, name, nlen, value,
			   vlen, c->st);
	return 0;
}

int h2_decode_block(struct kc_http2_flow *f, int dir, struct h2_stream *s, int resp,
		    const uint8_t *blk, size_t len, struct kc_http2_stats *st)
{
	struct decode_ctx c = { .f = f, .s = s, .resp = resp, .st = st };
	int rc;

	rc = kc_hpack_decode(&f->dir[dir].hpack, blk, len, on_field, &c);
	if (rc == -ENOENT) {
		/* Decodable except for references into dynamic entries from
		 * before a mid-stream join: the stream's fields are incomplete,
		 * so it gives no item (do not guess). */
		st->hpack_unknown_refs++;
		if (s != NULL)
			s->flags |= S_UNKNOWN;
		return 0;
	}
	if (rc != 0) {
		st->hpack_errors++;
		return -EINVAL;
	}
	return 0;
}

void h2_apply_settings(struct kc_http2_flow *f, int dir, const uint8_t *p, size_t len)
{
	/* RFC 9113 6.5.1: 6-byte parameters; unknown identifiers are ignored. */
	for (size_t i = 0; i + 6 <= len; i += 6) {
		uint16_t id = (uint16_t)((p[i] << 8) | p[i + 1]);
		uint32_t val = ((uint32_t)p[i + 2] << 24) | ((uint32_t)p[i + 3] << 16) |
			       ((uint32_t)p[i + 4] << 8) | p[i + 5];

		/* The sender's HEADER_TABLE_SIZE bounds the table the peer's
		 * encoder uses, i.e. the blocks sent the other way. */
		if (id == SETTINGS_HEADER_TABLE_SIZE)
			kc_hpack_dec_set_limit(&f->dir[!dir].hpack, val);
		/* 6.5.2 MAX_FRAME_SIZE (0x5): bounds the frames the peer
		 * sends; only the resync check uses it, so keep the largest
		 * (an old, larger value may still be in flight). */
		if (id == 0x5 && val >= KC_HTTP2_DEFAULT_MAX_FRAME && val <= 0xffffffu &&
		    val > f->dir[!dir].max_frame)
			f->dir[!dir].max_frame = val;
	}
}
