/*
 * lib/tls unit tests on built hellos: fields, fragmentation over records and
 * segments at every split point, HRR, alerts, SSLv2, bounds, malformed input.
 */
#include <netinet/in.h>

#include "kc_tls.h"
#include "test_common.h"

struct buf {
	uint8_t b[200000];
	size_t n;
};

static void u8(struct buf *m, uint8_t v)
{
	m->b[m->n++] = v;
}

static void u16(struct buf *m, uint16_t v)
{
	u8(m, (uint8_t)(v >> 8));
	u8(m, (uint8_t)v);
}

static void raw(struct buf *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* Patch a 16-bit length at @p at to cover everything after it. */
static void len16(struct buf *m, size_t at)
{
	size_t l = m->n - at - 2;

	m->b[at] = (uint8_t)(l >> 8);
	m->b[at + 1] = (uint8_t)l;
}

static size_t open16(struct buf *m)
{
	size_t at = m->n;

	u16(m, 0);
	return at;
}

/* Handshake message body (type + 24-bit length + body) of a ClientHello. */
static void client_hello(struct buf *m, const char *sni, bool ech)
{
	size_t hs = m->n, at, ext, e, l;

	u8(m, 1);
	u8(m, 0);
	u16(m, 0);                 /* length patched below */
	u16(m, 0x0303);            /* legacy_version */
	for (int i = 0; i < 32; i++)
		u8(m, (uint8_t)i);
	u8(m, 32);                 /* session id */
	for (int i = 0; i < 32; i++)
		u8(m, 0xee);
	at = open16(m);            /* cipher suites */
	u16(m, 0x1a1a);
	u16(m, 0x1301);
	u16(m, 0x1302);
	len16(m, at);
	u8(m, 1);
	u8(m, 0);                  /* null compression */
	ext = open16(m);
	u16(m, 0x0a0a);            /* GREASE extension */
	u16(m, 0);
	if (sni != NULL) {
		u16(m, 0);
		e = open16(m);
		l = open16(m);
		u8(m, 0);
		u16(m, (uint16_t)strlen(sni));
		raw(m, sni, strlen(sni));
		len16(m, l);
		len16(m, e);
	}
	u16(m, 16);                /* ALPN: GREASE, h2, http/1.1 */
	e = open16(m);
	l = open16(m);
	u8(m, 2);
	raw(m, "\x3a\x3a", 2);
	u8(m, 2);
	raw(m, "h2", 2);
	u8(m, 8);
	raw(m, "http/1.1", 8);
	len16(m, l);
	len16(m, e);
	u16(m, 43);                /* supported_versions */
	e = open16(m);
	u8(m, 6);
	u16(m, 0x7a7a);
	u16(m, 0x0304);
	u16(m, 0x0303);
	len16(m, e);
	if (ech) {
		u16(m, 0xfe0d);
		e = open16(m);
		raw(m, "\x00\x00\x01\x00\x01", 5);
		len16(m, e);
	}
	len16(m, ext);
	size_t body = m->n - hs - 4;

	m->b[hs + 1] = (uint8_t)(body >> 16);
	m->b[hs + 2] = (uint8_t)(body >> 8);
	m->b[hs + 3] = (uint8_t)body;
}

static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* ServerHello: TLS 1.3 (supported_versions) or 1.2 with ALPN @p alpn. */
static void server_hello(struct buf *m, bool tls13, const char *alpn, bool hrr)
{
	size_t hs = m->n, ext, e, l;

	u8(m, 2);
	u8(m, 0);
	u16(m, 0);
	u16(m, 0x0303);
	if (hrr)
		raw(m, hrr_random, 32);
	else
		for (int i = 0; i < 32; i++)
			u8(m, 0x55);
	u8(m, 0);
	u16(m, tls13 ? 0x1301 : 0xc02f);
	u8(m, 0);
	ext = open16(m);
	if (tls13) {
		u16(m, 43);
		u16(m, 2);
		u16(m, 0x0304);
	}
	if (alpn != NULL) {
		u16(m, 16);
		e = open16(m);
		l = open16(m);
		u8(m, (uint8_t)strlen(alpn));
		raw(m, alpn, strlen(alpn));
		len16(m, l);
		len16(m, e);
	}
	len16(m, ext);
	size_t body = m->n - hs - 4;

	m->b[hs + 2] = (uint8_t)(body >> 8);
	m->b[hs + 3] = (uint8_t)body;
}

/* Wrap @p hs into handshake records of at most @p frag bytes of payload. */
static void records(struct buf *out, const struct buf *hs, size_t frag, uint8_t type)
{
	for (size_t off = 0; off < hs->n; off += frag) {
		size_t n = KC_MIN(frag, hs->n - off);

		u8(out, type);
		u16(out, 0x0301);
		u16(out, (uint16_t)n);
		raw(out, hs->b + off, n);
	}
}

static struct kc_flow_info flow_info(void)
{
	struct kc_flow_info fi;

	memset(&fi, 0, sizeof(fi));
	fi.stream_id = 5;
	fi.family = 6;
	fi.l4 = IPPROTO_TCP;
	fi.src_port = 50000;
	fi.dst_port = 443;
	fi.src_ip[15] = 1;
	fi.dst_ip[15] = 2;
	return fi;
}

/* Dispatcher stand-in for one direction. */
struct stream {
	uint8_t buf[200000];
	size_t len;
	unsigned errors;
	struct kc_parse_res last;
};

static void feed(struct stream *s, struct kc_tls_flow *f, enum kc_dir dir, const uint8_t *d,
		 size_t n, uint64_t ts, struct capture *cap, struct kc_tls_stats *st)
{
	struct kc_flow_info fi = flow_info();

	memcpy(s->buf + s->len, d, n);
	s->len += n;
	s->last = kc_tls_feed(f, dir, s->buf, s->len, ts, &fi, cap_emit, cap, st);
	if (s->last.status == KC_PARSE_ERROR)
		s->errors++;
	memmove(s->buf, s->buf + s->last.consumed, s->len - s->last.consumed);
	s->len -= s->last.consumed;
}

static void check_full_item(const struct kc_item *it, bool ech_sni)
{
	const struct kc_item_tls *t = &it->u.tls;

	CHECK_EQ(it->proto, KC_ITEM_TLS);
	CHECK_EQ(it->flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	CHECK_EQ(it->stream_id, 5);
	CHECK_EQ(it->family, 6);
	CHECK_EQ(it->dst_port, 443);
	CHECK_STR(it, t->sni, ech_sni ? "public.example" : "www.example.com");
	CHECK_EQ(t->client_version, 0x0303);
	CHECK_EQ(t->n_versions, 2);
	CHECK_EQ(t->offered_versions[0], 0x0304);
	CHECK_EQ(t->offered_versions[1], 0x0303);
	CHECK_EQ(t->n_alpn, 2);
	CHECK_STR(it, t->alpn[0], "h2");
	CHECK_STR(it, t->alpn[1], "http/1.1");
	CHECK_EQ(t->server_version, 0x0304);
	CHECK_EQ(t->cipher_suite, 0x1301);
	CHECK_EQ(t->alpn_chosen.len, 0);
}

static void test_basic(void)
{
	struct buf ch = { .n = 0 }, sh = { .n = 0 };
	static struct buf c2s, s2c;
	static struct stream sc, ss;
	static struct capture cap;
	struct kc_tls_flow f;
	struct kc_tls_stats st = { 0 };

	client_hello(&ch, "www.example.com", false);
	server_hello(&sh, true, NULL, false);
	c2s.n = s2c.n = 0;
	records(&c2s, &ch, 16384, 22);
	records(&s2c, &sh, 16384, 22);
	raw(&s2c, "\x14\x03\x03\x00\x01\x01", 6); /* CCS after the hello */
	raw(&s2c, "\x17\x03\x03\x00\x03\xaa\xbb\xcc", 8);
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 100, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(sc.len, 0);
	CHECK_EQ(cap.n, 0);
	CHECK(!kc_tls_flow_done(&f));
	feed(&ss, &f, KC_DIR_S2C, s2c.b, s2c.n, 150, &cap, &st);
	CHECK_EQ(ss.last.status, KC_PARSE_OK);
	CHECK_EQ(ss.len, 0);
	CHECK(kc_tls_flow_done(&f));
	CHECK_EQ(cap.n, 1);
	check_full_item(&cap.items[0], false);
	CHECK_EQ(cap.items[0].ts_us, 100);
	CHECK_EQ(cap.items[0].resp_ts_us, 150);
	CHECK_EQ(cap.items[0].req_size, ch.n);
	CHECK_EQ(cap.items[0].resp_size, sh.n);
	CHECK_EQ(st.client_hellos, 1);
	CHECK_EQ(st.server_hellos, 1);
	CHECK_EQ(st.items, 1);
	/* Later bytes are swallowed; close emits nothing more. */
	feed(&sc, &f, KC_DIR_C2S, (const uint8_t *)"\x17\x03\x03\x00\x01\x00", 6, 200, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(sc.len, 0);
	struct kc_flow_info fi = flow_info();

	CHECK_EQ(kc_tls_flow_close(&f, &fi, cap_emit, &cap, &st), 0);
	CHECK_EQ(cap.n, 1);
}

/* Hello in 7-byte records and in one record, each direction cut at every
 * point into two segments, and fed byte by byte. */
static void test_splits(void)
{
	struct buf ch = { .n = 0 }, sh = { .n = 0 };
	static struct buf c2s_small, c2s_one, s2c;
	static struct stream sc, ss;
	static struct capture cap;
	unsigned bad = 0;

	client_hello(&ch, "www.example.com", false);
	server_hello(&sh, true, NULL, false);
	c2s_small.n = c2s_one.n = s2c.n = 0;
	records(&c2s_small, &ch, 7, 22);
	records(&c2s_one, &ch, 16384, 22);
	records(&s2c, &sh, 16384, 22);
	const struct buf *inputs[2] = { &c2s_small, &c2s_one };

	for (int v = 0; v < 2; v++) {
		const struct buf *c2s = inputs[v];

		for (size_t k = 0; k <= c2s->n; k++) {
			struct kc_tls_flow f;
			struct kc_tls_stats st = { 0 };
			size_t ks = k % (s2c.n + 1);

			memset(&cap, 0, sizeof(cap));
			memset(&sc, 0, sizeof(sc));
			memset(&ss, 0, sizeof(ss));
			kc_tls_flow_init(&f);
			feed(&sc, &f, KC_DIR_C2S, c2s->b, k, 1, &cap, &st);
			if (k < c2s->n && sc.last.status != KC_PARSE_NEED_MORE)
				bad++;
			if (k < c2s->n && sc.last.needed == 0)
				bad++;
			feed(&sc, &f, KC_DIR_C2S, c2s->b + k, c2s->n - k, 2, &cap, &st);
			feed(&ss, &f, KC_DIR_S2C, s2c.b, ks, 3, &cap, &st);
			feed(&ss, &f, KC_DIR_S2C, s2c.b + ks, s2c.n - ks, 4, &cap, &st);
			if (cap.n != 1 || sc.errors || ss.errors || sc.len || ss.len ||
			    cap.items[0].u.tls.sni.len != 15 || cap.items[0].u.tls.n_alpn != 2 ||
			    cap.items[0].u.tls.cipher_suite != 0x1301 ||
			    cap.items[0].ts_us != (k == c2s->n ? 1u : 2u))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);

	/* Byte by byte, small records. */
	struct kc_tls_flow f;
	struct kc_tls_stats st = { 0 };

	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	kc_tls_flow_init(&f);
	for (size_t i = 0; i < c2s_small.n; i++)
		feed(&sc, &f, KC_DIR_C2S, c2s_small.b + i, 1, 1, &cap, &st);
	for (size_t i = 0; i < s2c.n; i++)
		feed(&ss, &f, KC_DIR_S2C, s2c.b + i, 1, 2, &cap, &st);
	CHECK_EQ(cap.n, 1);
	check_full_item(&cap.items[0], false);
}

static void test_variants(void)
{
	static struct buf ch, sh, c2s, s2c;
	static struct stream sc, ss;
	static struct capture cap;
	struct kc_flow_info fi = flow_info();
	struct kc_tls_flow f;
	struct kc_tls_stats st;

	/* TLS 1.2 ServerHello with a chosen ALPN; CCS before the ClientHello;
	 * ECH in the ClientHello (outer SNI reported). */
	memset(&st, 0, sizeof(st));
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	ch.n = sh.n = c2s.n = s2c.n = 0;
	client_hello(&ch, "public.example", true);
	server_hello(&sh, false, "h2", false);
	raw(&c2s, "\x14\x03\x01\x00\x01\x01", 6);
	records(&c2s, &ch, 100, 22);
	records(&s2c, &sh, 16384, 22);
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	feed(&ss, &f, KC_DIR_S2C, s2c.b, s2c.n, 2, &cap, &st);
	CHECK_EQ(cap.n, 1);
	CHECK_STR(&cap.items[0], cap.items[0].u.tls.sni, "public.example");
	CHECK_EQ(st.ech, 1);
	CHECK_EQ(cap.items[0].u.tls.server_version, 0x0303);
	CHECK_EQ(cap.items[0].u.tls.cipher_suite, 0xc02f);
	CHECK_STR(&cap.items[0], cap.items[0].u.tls.alpn_chosen, "h2");

	/* ServerHello first (directions are fed independently), then the
	 * ClientHello: one item, emitted when the second hello arrives. */
	memset(&st, 0, sizeof(st));
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	kc_tls_flow_init(&f);
	feed(&ss, &f, KC_DIR_S2C, s2c.b, s2c.n, 2, &cap, &st);
	CHECK_EQ(cap.n, 0);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(cap.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);

	/* HelloRetryRequest counts as the ServerHello. */
	memset(&st, 0, sizeof(st));
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	sh.n = s2c.n = 0;
	server_hello(&sh, true, NULL, true);
	records(&s2c, &sh, 16384, 22);
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	feed(&ss, &f, KC_DIR_S2C, s2c.b, s2c.n, 2, &cap, &st);
	CHECK_EQ(st.hrr, 1);
	CHECK_EQ(cap.n, 1);

	/* Alert instead of a ServerHello: lone ClientHello item at once. */
	memset(&st, 0, sizeof(st));
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	memset(&ss, 0, sizeof(ss));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	feed(&ss, &f, KC_DIR_S2C, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, 2, &cap,
	     &st);
	CHECK_EQ(ss.last.status, KC_PARSE_OK);
	CHECK_EQ(st.alert_before_hello, 1);
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(cap.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK(kc_tls_flow_done(&f));

	/* No ServerHello at all: expire, then close does nothing more. */
	memset(&st, 0, sizeof(st));
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1000, &cap, &st);
	CHECK_EQ(kc_tls_flow_expire(&f, 1500, 1000, &fi, cap_emit, &cap, &st), 0);
	CHECK_EQ(kc_tls_flow_expire(&f, 2000, 1000, &fi, cap_emit, &cap, &st), 1);
	CHECK_EQ(kc_tls_flow_close(&f, &fi, cap_emit, &cap, &st), 0);
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(cap.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK_EQ(st.items_timeout, 1);

	/* Close with only the ClientHello. */
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1000, &cap, &st);
	CHECK_EQ(kc_tls_flow_close(&f, &fi, cap_emit, &cap, &st), 1);
	CHECK_EQ(cap.n, 1);
	CHECK_STR(&cap.items[0], cap.items[0].u.tls.sni, "public.example");
}

static void test_bad_input(void)
{
	static struct buf ch, c2s;
	static struct stream sc;
	static struct capture cap;
	struct kc_tls_flow f;
	struct kc_tls_stats st;
	/* SSLv2-compatible ClientHello header (RFC 5246 E.2). */
	static const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00,
				      0x10 };
	static const uint8_t http[] = "GET / HTTP/1.1\r\n\r\n";

	CHECK(kc_tls_probe(v2, sizeof(v2)));
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, v2, sizeof(v2), 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_ERROR);
	CHECK_EQ(st.sslv2_hello, 1);

	CHECK(!kc_tls_probe(http, sizeof(http) - 1));
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, http, sizeof(http) - 1, 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_ERROR);
	CHECK_EQ(st.not_tls, 1);

	/* Hello claiming more than KC_TLS_MAX_HS_MSG. */
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, (const uint8_t *)"\x16\x03\x01\x00\x04\x01\x01\x00\x01", 9, 1,
	     &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(sc.len, 0);
	CHECK_EQ(st.hs_too_big, 1);

	/* A 40000-byte hello cut into 1-byte records: incomplete when
	 * KC_TLS_MAX_PRESENTED bytes are held, so given up. */
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	ch.n = c2s.n = 0;
	raw(&ch, "\x01\x00\x9c\x40", 4);
	memset(ch.b + 4, 0, 15000);
	ch.n += 15000;
	records(&c2s, &ch, 1, 22);
	CHECK(c2s.n >= KC_TLS_MAX_PRESENTED);
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, KC_TLS_MAX_PRESENTED - 1, 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_NEED_MORE);
	CHECK_EQ(st.hs_too_big, 0);
	feed(&sc, &f, KC_DIR_C2S, c2s.b + KC_TLS_MAX_PRESENTED - 1, 1, 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(sc.len, 0);
	CHECK_EQ(st.hs_too_big, 1);

	/* First handshake message is not a ClientHello. */
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, (const uint8_t *)"\x16\x03\x01\x00\x04\x0b\x00\x00\x00", 9, 1,
	     &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_ERROR);
	CHECK_EQ(st.unexpected, 1);

	/* Application data interleaved in a fragmented hello. */
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	ch.n = c2s.n = 0;
	client_hello(&ch, "x.example", false);
	records(&c2s, &ch, 50, 22);
	memmove(c2s.b + 55 + 8, c2s.b + 55, c2s.n - 55);
	memcpy(c2s.b + 55, "\x17\x03\x03\x00\x03\x01\x02\x03", 8);
	c2s.n += 8;
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(st.bad_hs_framing, 1);
	CHECK(f.dir_state[KC_DIR_C2S] == KC_TLS_GAVE_UP);

	/* SNI list length larger than its extension: malformed, nothing kept. */
	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	memset(&cap, 0, sizeof(cap));
	ch.n = c2s.n = 0;
	client_hello(&ch, "y.example", false);
	/* SNI ext follows the 4-byte GREASE ext: find "\x00\x00" type then len. */
	{
		size_t ext_start = 4 + 2 + 32 + 1 + 32 + 2 + 6 + 2 + 2 + 4;
		size_t sni_list = ext_start + 4;

		CHECK_EQ(ch.b[ext_start], 0);
		CHECK_EQ(ch.b[ext_start + 1], 0);
		ch.b[sni_list + 1] = (uint8_t)(ch.b[sni_list + 1] + 40);
	}
	records(&c2s, &ch, 16384, 22);
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	CHECK_EQ(sc.last.status, KC_PARSE_OK);
	CHECK_EQ(st.bad_hello, 1);
	CHECK_EQ(st.client_hellos, 0);
	CHECK_EQ(f.sni_len, 0);

	/* Probe. */
	CHECK(kc_tls_probe((const uint8_t *)"\x16\x03\x01\x02\x00\x01", 6));
	CHECK(kc_tls_probe((const uint8_t *)"\x16\x03\x03\x00\x7a\x02", 6));
	CHECK(!kc_tls_probe((const uint8_t *)"\x16\x03\x01\x02\x00\x0b", 6));
	CHECK(!kc_tls_probe((const uint8_t *)"\x17\x03\x03\x00\x10\x00", 6));
	CHECK(!kc_tls_probe((const uint8_t *)"\x16\x03\x01", 3));
}

/* Many ALPN names and versions: kept up to the item's limits, counted. */
static void test_limits(void)
{
	static struct buf ch, c2s;
	static struct stream sc;
	static struct capture cap;
	struct kc_tls_flow f;
	struct kc_tls_stats st = { 0 };
	size_t hs, ext, e, l;
	struct kc_flow_info fi = flow_info();

	ch.n = c2s.n = 0;
	hs = ch.n;
	u8(&ch, 1);
	u8(&ch, 0);
	u16(&ch, 0);
	u16(&ch, 0x0303);
	for (int i = 0; i < 32; i++)
		u8(&ch, 0);
	u8(&ch, 0);
	u16(&ch, 2);
	u16(&ch, 0x1301);
	u8(&ch, 1);
	u8(&ch, 0);
	ext = open16(&ch);
	u16(&ch, 16);
	e = open16(&ch);
	l = open16(&ch);
	for (int i = 0; i < 12; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%02d", i);
		u8(&ch, 3);
		raw(&ch, name, 3);
	}
	len16(&ch, l);
	len16(&ch, e);
	u16(&ch, 43);
	e = open16(&ch);
	u8(&ch, 20);
	for (int i = 0; i < 10; i++)
		u16(&ch, (uint16_t)(0x0300 + i));
	len16(&ch, e);
	len16(&ch, ext);
	ch.b[hs + 2] = (uint8_t)((ch.n - 4) >> 8);
	ch.b[hs + 3] = (uint8_t)(ch.n - 4);
	records(&c2s, &ch, 16384, 22);
	memset(&cap, 0, sizeof(cap));
	memset(&sc, 0, sizeof(sc));
	kc_tls_flow_init(&f);
	feed(&sc, &f, KC_DIR_C2S, c2s.b, c2s.n, 1, &cap, &st);
	CHECK_EQ(st.client_hellos, 1);
	CHECK_EQ(kc_tls_flow_close(&f, &fi, cap_emit, &cap, &st), 1);
	const struct kc_item *it = &cap.items[0];

	CHECK_EQ(it->u.tls.n_alpn, KC_ITEM_MAX_ALPN);
	CHECK_STR(it, it->u.tls.alpn[7], "p07");
	CHECK_EQ(it->u.tls.n_versions, 8);
	CHECK_EQ(it->u.tls.offered_versions[7], 0x0307);
	CHECK(it->flags & KC_ITEM_F_TRUNCATED);
	CHECK_EQ(st.truncated, 4 + 2);
	CHECK_EQ(it->u.tls.sni.len, 0);
}

int main(void)
{
	test_basic();
	test_splits();
	test_variants();
	test_bad_input();
	test_limits();
	return t_report();
}
