/**
 * @file
 * Per-flow TLS: record framing up to the hello of each direction, pairing of
 * the two hellos into one item, close and timeout.
 */
#include <string.h>

#include "tls_internal.h"

enum { REC_CCS = 20, REC_ALERT = 21, REC_HANDSHAKE = 22 };
enum { HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2 };

size_t kc_tls_flow_size(void)
{
	return sizeof(struct kc_tls_flow);
}

void kc_tls_flow_init(struct kc_tls_flow *f)
{
	memset(f, 0, sizeof(*f));
}

bool kc_tls_flow_done(const struct kc_tls_flow *f)
{
	return f->dir_state[KC_DIR_C2S] != KC_TLS_WANT_HELLO &&
	       f->dir_state[KC_DIR_S2C] != KC_TLS_WANT_HELLO;
}

/* SSLv2 CLIENT-HELLO (RFC 6101 E.1, RFC 5246 E.2): 2-byte length with the
 * top bit set, msg_type 1, version 0x0002 or 0x03xx. */
static bool is_sslv2_hello(const uint8_t *d, size_t len)
{
	return len >= 5 && (d[0] & 0x80) && d[2] == 1 &&
	       ((d[3] == 0 && d[4] == 2) || d[3] == 3);
}

bool kc_tls_probe(const uint8_t *d, size_t len)
{
	if (len < 5)
		return false;
	if (is_sslv2_hello(d, len))
		return true;
	size_t rl = ((size_t)d[3] << 8) | d[4];

	if (d[0] != REC_HANDSHAKE || d[1] != 3 || d[2] > 4 || rl == 0 || rl > KC_TLS_MAX_RECORD)
		return false;
	return len < 6 || d[5] == HS_CLIENT_HELLO || d[5] == HS_SERVER_HELLO;
}

static void emit_item(struct kc_tls_flow *f, bool lone, const struct kc_flow_info *info,
		      kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st)
{
	struct kc_item it;
	struct kc_item_tls *t = &it.u.tls;

	kc_item_reset(&it, KC_ITEM_TLS);
	kc_item_set_flow(&it, info);
	it.index = f->index++;
	if (f->have_ch) {
		it.flags |= KC_ITEM_F_REQUEST;
		it.ts_us = f->ch_ts_us;
		it.req_size = f->ch_size;
		t->client_version = f->client_version;
		kc_item_put(&it, f->sni, f->sni_len, &t->sni);
		t->n_versions = f->n_versions;
		memcpy(t->offered_versions, f->versions, sizeof(t->offered_versions));
		for (unsigned i = 0; i < f->n_alpn; i++)
			kc_item_put(&it, f->alpn_buf + f->alpn_off[i], f->alpn_len[i], &t->alpn[i]);
		t->n_alpn = f->n_alpn;
	}
	if (f->have_sh) {
		it.flags |= KC_ITEM_F_RESPONSE;
		it.resp_ts_us = f->sh_ts_us;
		it.resp_size = f->sh_size;
		if (!f->have_ch)
			it.ts_us = f->sh_ts_us;
		t->server_version = f->server_version;
		t->cipher_suite = f->cipher_suite;
		kc_item_put(&it, f->alpn_chosen, f->alpn_chosen_len, &t->alpn_chosen);
	}
	if (f->truncated)
		it.flags |= KC_ITEM_F_TRUNCATED;
	if (lone) {
		it.flags |= KC_ITEM_F_TIMEOUT;
		st->items_timeout++;
	}
	f->emitted = 1;
	st->items++;
	emit(ctx, &it);
}

/* Emit when both hellos are in, or when neither side can still deliver the
 * missing one (given up) and there is something to report. */
static void maybe_emit(struct kc_tls_flow *f, const struct kc_flow_info *info,
		       kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st)
{
	if (f->emitted || (!f->have_ch && !f->have_sh))
		return;
	if (f->have_ch && f->have_sh)
		emit_item(f, false, info, emit, ctx, st);
	else if (kc_tls_flow_done(f))
		emit_item(f, true, info, emit, ctx, st);
}

static struct kc_parse_res res(uint8_t status, size_t consumed, size_t needed)
{
	struct kc_parse_res r = { status, (uint32_t)consumed, (uint32_t)needed };

	return r;
}

/* Forget a half-parsed hello so a malformed one reports nothing. */
static void clear_side(struct kc_tls_flow *f, enum kc_dir dir)
{
	if (dir == KC_DIR_C2S) {
		f->client_version = 0;
		f->n_versions = 0;
		f->n_alpn = 0;
		f->alpn_used = 0;
		f->sni_len = 0;
	} else {
		f->server_version = 0;
		f->cipher_suite = 0;
		f->alpn_chosen_len = 0;
	}
}

/*
 * The handshake message starting in the record at @p off: wait until all of
 * it is present, then parse it in place. Returns the feed result.
 */
static struct kc_parse_res hello_at(struct kc_tls_flow *f, enum kc_dir dir, const uint8_t *d,
				    size_t len, size_t off, uint64_t ts_us,
				    const struct kc_flow_info *info, kc_item_emit_fn emit,
				    void *ctx, struct kc_tls_stats *st)
{
	struct tls_rd r, probe;
	uint8_t want = dir == KC_DIR_C2S ? HS_CLIENT_HELLO : HS_SERVER_HELLO;

	tls_rd_init(&r, d, len, off);
	uint8_t type = tls_rd_u8(&r);
	uint32_t mlen = tls_rd_u24(&r);

	if (r.err == RD_SHORT)
		return res(KC_PARSE_NEED_MORE, off, r.need);
	if (r.err != RD_OK) {
		st->bad_hs_framing++;
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_OK, len, 0);
	}
	if (type != want) {
		/* The first handshake message of a direction must be its hello. */
		st->unexpected++;
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_ERROR, off, 0);
	}
	if (mlen > KC_TLS_MAX_HS_MSG) {
		st->hs_too_big++;
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_OK, len, 0);
	}
	r.vlen = 4 + (size_t)mlen;
	probe = r;
	tls_rd_skip(&probe, mlen);
	if (probe.err == RD_SHORT) {
		/* Hint: the rest of this message plus one record header. */
		size_t missing = r.vlen - probe.vpos;

		if (len - off >= KC_TLS_MAX_PRESENTED) {
			st->hs_too_big++;
			f->dir_state[dir] = KC_TLS_GAVE_UP;
			maybe_emit(f, info, emit, ctx, st);
			return res(KC_PARSE_OK, len, 0);
		}
		return res(KC_PARSE_NEED_MORE, off, KC_MAX(probe.need, missing));
	}
	if (probe.err != RD_OK) {
		st->bad_hs_framing++;
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_OK, len, 0);
	}

	if (dir == KC_DIR_C2S) {
		tls_parse_client_hello(&r, f, st);
	} else {
		bool hrr = false;

		tls_parse_server_hello(&r, f, &hrr);
		if (hrr && r.err == RD_OK)
			st->hrr++;
	}
	if (r.err != RD_OK) {
		st->bad_hello++;
		clear_side(f, dir);
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_OK, len, 0);
	}
	if (dir == KC_DIR_C2S) {
		st->client_hellos++;
		f->have_ch = 1;
		f->ch_ts_us = ts_us;
		f->ch_size = 4 + mlen;
	} else {
		st->server_hellos++;
		f->have_sh = 1;
		f->sh_ts_us = ts_us;
		f->sh_size = 4 + mlen;
	}
	f->dir_state[dir] = KC_TLS_HELLO_DONE;
	maybe_emit(f, info, emit, ctx, st);
	return res(KC_PARSE_OK, len, 0);
}

struct kc_parse_res kc_tls_feed(struct kc_tls_flow *f, enum kc_dir dir, const uint8_t *d,
				size_t len, uint64_t ts_us, const struct kc_flow_info *info,
				kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st)
{
	size_t off = 0;

	if (f->dir_state[dir] != KC_TLS_WANT_HELLO)
		return res(KC_PARSE_OK, len, 0);
	if (dir == KC_DIR_C2S && is_sslv2_hello(d, len)) {
		st->sslv2_hello++;
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		return res(KC_PARSE_ERROR, 0, 0);
	}
	for (;;) {
		if (len - off < 5)
			return res(KC_PARSE_NEED_MORE, off, 5 - (len - off));
		uint8_t type = d[off];
		size_t rl = ((size_t)d[off + 3] << 8) | d[off + 4];

		if (d[off + 1] != 3 || type < REC_CCS || type > 24 || rl > KC_TLS_MAX_RECORD) {
			st->not_tls++;
			f->dir_state[dir] = KC_TLS_GAVE_UP;
			maybe_emit(f, info, emit, ctx, st);
			return res(KC_PARSE_ERROR, off, 0);
		}
		switch (type) {
		case REC_CCS:
			/* Middlebox-compatibility ChangeCipherSpec (RFC 8446 D.4)
			 * can precede a retried ClientHello: step over it. */
			if (len - off < 5 + rl)
				return res(KC_PARSE_NEED_MORE, off, 5 + rl - (len - off));
			off += 5 + rl;
			continue;
		case REC_HANDSHAKE:
			return hello_at(f, dir, d, len, off, ts_us, info, emit, ctx, st);
		case REC_ALERT:
			st->alert_before_hello++;
			break;
		default:
			st->unexpected++;
			break;
		}
		f->dir_state[dir] = KC_TLS_GAVE_UP;
		maybe_emit(f, info, emit, ctx, st);
		return res(KC_PARSE_OK, len, 0);
	}
}

unsigned kc_tls_flow_expire(struct kc_tls_flow *f, uint64_t now_us, uint64_t timeout_us,
			    const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
			    struct kc_tls_stats *st)
{
	uint64_t t;

	if (f->emitted || (!f->have_ch && !f->have_sh))
		return 0;
	t = f->have_ch ? f->ch_ts_us : f->sh_ts_us;
	if (t + timeout_us > now_us)
		return 0;
	emit_item(f, true, info, emit, ctx, st);
	return 1;
}

unsigned kc_tls_flow_close(struct kc_tls_flow *f, const struct kc_flow_info *info,
			   kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st)
{
	if (f->emitted || (!f->have_ch && !f->have_sh))
		return 0;
	emit_item(f, true, info, emit, ctx, st);
	return 1;
}
