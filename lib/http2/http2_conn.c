/*
 * HTTP/2 connection start: the client preface probe, the frame-plausibility
 * probe used for mid-stream joins, flow initialisation in caller memory, and
 * the h2c Upgrade hand-over (RFC 7540 3.2: the HTTP/1.1 request becomes
 * stream 1, HTTP2-Settings is the client's first SETTINGS).
 */
#include <string.h>

#include "http2_internal.h"

static_assert(sizeof(struct kc_http2_flow) <= KC_HTTP2_FLOW_MAX_SIZE,
	      "HTTP/2 flow state must stay within KC_HTTP2_FLOW_MAX_SIZE");

static const uint8_t preface[KC_HTTP2_PREFACE_LEN + 1] = KC_HTTP2_PREFACE;

enum kc_http2_probe_res kc_http2_probe(const uint8_t *data, size_t len)
{
	size_t n = KC_MIN(len, (size_t)KC_HTTP2_PREFACE_LEN);

	if (memcmp(data, preface, n) != 0)
		return KC_HTTP2_PROBE_NO;
	return n == KC_HTTP2_PREFACE_LEN ? KC_HTTP2_PROBE_YES : KC_HTTP2_PROBE_NEED_MORE;
}

/* Is this frame header possible in a valid connection (RFC 9113 6.x rules
 * on stream 0, fixed lengths and defined flags)? */
int h2_frame_plausible(const uint8_t *h)
{
	uint32_t len = rd24(h);
	uint8_t type = h[3], flags = h[4];
	uint32_t sid = rd31(h + 5);

	if (h[5] & 0x80u)
		return 0; /* reserved bit: senders leave it unset */
	if (len > 16384u * 4u)
		return 0; /* far past the default SETTINGS_MAX_FRAME_SIZE */
	switch (type) {
	case FT_DATA:
		return sid != 0 && !(flags & ~(FF_END_STREAM | FF_PADDED));
	case FT_HEADERS:
		return sid != 0 &&
		       !(flags & ~(FF_END_STREAM | FF_END_HEADERS | FF_PADDED | FF_PRIORITY));
	case FT_PRIORITY:
		return sid != 0 && len == 5 && flags == 0;
	case FT_RST_STREAM:
		return sid != 0 && len == 4 && flags == 0;
	case FT_SETTINGS:
		return sid == 0 && len % 6 == 0 && !(flags & ~FF_ACK) &&
		       (!(flags & FF_ACK) || len == 0);
	case FT_PUSH_PROMISE:
		return sid != 0 && len >= 4 && !(flags & ~(FF_END_HEADERS | FF_PADDED));
	case FT_PING:
		return sid == 0 && len == 8 && !(flags & ~FF_ACK);
	case FT_GOAWAY:
		return sid == 0 && len >= 8 && flags == 0;
	case FT_WINDOW_UPDATE:
		return len == 4 && flags == 0;
	case FT_CONTINUATION:
		return sid != 0 && !(flags & ~FF_END_HEADERS);
	default:
		return 0;
	}
}

int h2_frame_resync_ok(struct kc_http2_flow *f, const uint8_t *h, int dir)
{
	uint8_t type = h[3];
	uint32_t sid = rd31(h + 5);
	/* Each stream opened in the hole took a HEADERS frame there; more than
	 * a table's worth of new streams at once is not believable. */
	uint32_t new_max = f->max_c2s_sid + 2u * KC_HTTP2_MAX_STREAMS;
	int tracked;

	if (!h2_frame_plausible(h) || rd24(h) > f->dir[dir].max_frame)
		return 0;
	if (sid == 0)
		return type != FT_CONTINUATION;
	tracked = h2_stream_find(f, sid) != NULL;
	switch (type) {
	case FT_CONTINUATION:
		return 0; /* its block's start is lost */
	case FT_DATA:
	case FT_PUSH_PROMISE:
		/* Data needs an open stream; a stream we do not track gives
		 * no item anyway, so nothing is lost by skipping its frames. */
		return tracked && (type == FT_DATA || (dir == KC_DIR_S2C && (sid & 1u)));
	case FT_HEADERS:
		if (tracked)
			return 1;
		/* A new stream: the client's (odd, above those seen) or a
		 * response that overtook its request (see header_block). */
		return (sid & 1u) && sid > f->max_c2s_sid && sid <= new_max;
	default:
		/* PRIORITY, RST_STREAM, WINDOW_UPDATE may name closed streams. */
		return tracked || sid <= new_max;
	}
}

enum kc_http2_probe_res kc_http2_probe_frames(const uint8_t *data, size_t len)
{
	size_t off = 0;
	unsigned whole = 0;

	while (whole < 2) {
		uint32_t flen;

		if (len - off < FRAME_HDR_LEN)
			break;
		if (!h2_frame_plausible(data + off))
			return KC_HTTP2_PROBE_NO;
		flen = rd24(data + off);
		if (len - off - FRAME_HDR_LEN < flen)
			break;
		off += FRAME_HDR_LEN + flen;
		whole++;
		if (off == len)
			return KC_HTTP2_PROBE_YES;
	}
	return whole >= 2 ? KC_HTTP2_PROBE_YES : KC_HTTP2_PROBE_NEED_MORE;
}

size_t kc_http2_flow_size(void)
{
	return sizeof(struct kc_http2_flow);
}

struct kc_http2_flow *kc_http2_flow_init(void *mem, size_t len, enum kc_http2_mode mode,
					 struct kc_http2_stats *stats)
{
	struct kc_http2_flow *f = mem;

	if (mem == NULL || len < sizeof(*f) || ((uintptr_t)mem & 7u) != 0 ||
	    (unsigned)mode > KC_HTTP2_MODE_MIDSTREAM) {
		errno = EINVAL;
		return NULL;
	}
	/* Only the state, not the buffers: they are dead until written. */
	memset(f, 0, offsetof(struct kc_http2_flow, hb));
	f->mode = (uint8_t)mode;
	f->hb_owner = 0xff;
	f->last_rec = NO_REC;
	for (int d = 0; d < 2; d++) {
		kc_hpack_dec_init(&f->dir[d].hpack, KC_HPACK_DEFAULT_TABLE_SIZE);
		f->dir[d].phase = PH_SYNC;
		f->dir[d].max_frame = KC_HTTP2_DEFAULT_MAX_FRAME;
	}
	if (mode == KC_HTTP2_MODE_MIDSTREAM) {
		kc_hpack_dec_set_partial(&f->dir[KC_DIR_C2S].hpack);
		kc_hpack_dec_set_partial(&f->dir[KC_DIR_S2C].hpack);
		f->joined = 1;
		if (stats != NULL)
			stats->midstream_joins++;
	} else {
		f->dir[KC_DIR_C2S].phase = PH_PREFACE;
	}
	return f;
}

/* base64url without padding (RFC 7540 3.2.1 HTTP2-Settings); also accepts
 * the standard alphabet and '=' padding. @return bytes written, -1 bad. */
static int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-' || c == '+')
			v = 62;
		else if (c == '_' || c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)n;
}

static int str_ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return 0;
	}
	return 1;
}

struct kc_http2_flow *kc_http2_flow_init_upgrade(void *mem, size_t len,
						 const struct kc_item *req,
						 struct kc_http2_stats *stats)
{
	struct kc_http2_stats dummy;
	struct kc_http2_stats *st = stats != NULL ? stats : &dummy;
	struct kc_http2_flow *f = kc_http2_flow_init(mem, len, KC_HTTP2_MODE_UPGRADE, stats);
	struct h2_stream *s;

	if (f == NULL)
		return NULL;
	st->upgrades++;
	/* RFC 7540 3.2: "The HTTP/1.1 request that is sent prior to upgrade
	 * is assigned a stream identifier of 1 ... half-closed (local)". */
	s = h2_stream_new(f, 1, NULL, NULL, NULL, st);
	f->max_c2s_sid = 1;
	if (s == NULL)
		return f; /* cannot happen: the table is empty */
	s->flags |= S_REQ_END;
	if (req != NULL && (req->flags & KC_ITEM_F_REQUEST)) {
		const struct kc_item_http *h = &req->u.http;

		s->flags |= S_REQ_HDR;
		s->req_ts = req->ts_us;
		s->req_size = req->req_size;
		(void)h2_store_put(f, s, K_REQ_METHOD, NULL, 0,
				   (const uint8_t *)kc_item_str(req, h->method), h->method.len, st);
		(void)h2_store_put(f, s, K_REQ_URL, NULL, 0,
				   (const uint8_t *)kc_item_str(req, h->url), h->url.len, st);
		(void)h2_store_put(f, s, K_REQ_HOST, NULL, 0,
				   (const uint8_t *)kc_item_str(req, h->host), h->host.len, st);
		if (h->req_mime.len > 0) {
			(void)h2_store_put(f, s, K_REQ_MIME, NULL, 0,
					   (const uint8_t *)kc_item_str(req, h->req_mime),
					   h->req_mime.len, st);
			if (h->req_mime.len >= 16 &&
			    memcmp(kc_item_str(req, h->req_mime), "application/grpc", 16) == 0)
				s->flags |= S_GRPC;
		}
		for (unsigned i = 0; i < h->n_req_headers && i < KC_ITEM_MAX_HEADERS; i++) {
			const struct kc_kv *kv = &h->req_headers[i];
			const char *name = kc_item_str(req, kv->name);
			const char *value = kc_item_str(req, kv->value);

			(void)h2_store_put(f, s, K_REQ_HDR, (const uint8_t *)name, kv->name.len,
					   (const uint8_t *)value, kv->value.len, st);
			if (str_ieq(name, kv->name.len, "http2-settings")) {
				uint8_t set[256];
				int n = b64url_decode(value, kv->value.len, set, sizeof(set));

				if (n > 0)
					h2_apply_settings(f, KC_DIR_C2S, set, (size_t)n);
			}
		}
		if (h->req_body.len > 0) {
			h2_store_body(f, s, 0, (const uint8_t *)kc_item_str(req, h->req_body),
				      h->req_body.len, st);
		}
		s->req_body = h->req_body_size > 0 ? h->req_body_size : (int64_t)s->req_kept;
	}
	return f;
}
