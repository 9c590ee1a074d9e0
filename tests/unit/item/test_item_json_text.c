/*
 * kc_item_to_json() (the direct text writer, item_json_text.c) against its
 * reference kc_item_to_json_cjson() (the cJSON tree printed by cJSON): the
 * same bytes for every item. Items are built for every protocol from hostile
 * strings (quotes, backslashes, every control byte, NUL inside, invalid and
 * overlong UTF-8, surrogates, code points above U+10FFFF, cut sequences),
 * empty and arena-sized values, repeated header, cookie and query names
 * (including names that differ only after a NUL or in invalid bytes, which
 * the tree merges as C strings), numbers at the 2^53 and type limits, counts
 * beyond their tables; then raw random bytes as items (as the fuzz target).
 * Also: the writer never writes past cap, fails with -ENOSPC exactly when
 * the text and its NUL do not fit, and its text parses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item.h"
#include "kc_item_json.h"
#include "kct.h"

/* Large enough for any item: at most 96 headers + 72 cookies and query
 * parameters, each at most 6 * 8 KiB escaped, is under 9 MiB. */
#define OUT_CAP (16u << 20)

static char *ref_buf, *got_buf;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: repeatable, no libc state */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static unsigned rn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

/* Pieces strings are made of. */
static const char *const pieces[] = {
	"a", "Z", "0", " ", "/", "//", "=", "&", ",", ";", ":", "\"", "\\", "\\\"", "\\u0000",
	"\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "\x0b",
	"\xc3\xa9",         /* U+00E9 */
	"\xe2\x82\xac",     /* U+20AC */
	"\xf0\x9f\x98\x80", /* U+1F600 */
	"\xef\xbf\xbd",     /* U+FFFD itself */
	"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", /* overlong */
	"\xed\xa0\x80", "\xed\xbf\xbf",                                            /* surrogates */
	"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
	"\xc3", "\xe2\x82", "\xf0\x9f\x98",                                        /* cut */
	"HTTP/", "HTTP/1.1", "HTTP/2.0", "Content-Encoding", "Location", "gzip",
	"example.com", "/api/v1/items", "?q=1", "%41", "+",
};

/* Append a random string to the arena; NUL bytes are added by length. */
static struct kc_str rand_str(struct kc_item *it)
{
	char b[1200];
	size_t n = 0;
	unsigned k = rn(8);
	struct kc_str v = { 0, 0 };

	if (k == 0)
		return v; /* absent */
	if (k == 1) {
		/* one long run of a single hostile byte */
		size_t len = 1 + rn(sizeof(b) - 1);

		memset(b, (int)"\"\\\x01\x80\xff a\x00"[rn(8)], len);
		n = len;
	} else {
		unsigned parts = 1 + rn(k == 7 ? 60 : 6);

		for (unsigned i = 0; i < parts; i++) {
			const char *p = pieces[rn(sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(p);

			if (rn(12) == 0 && n < sizeof(b))
				b[n++] = '\0';
			if (n + pl > sizeof(b))
				break;
			memcpy(b + n, p, pl);
			n += pl;
		}
	}
	if (kc_item_put(it, b, n, &v) != 0)
		v = (struct kc_str){ 0, 0 };
	return v;
}

/* A view with random bounds, often out of the arena (the renderers clamp). */
static struct kc_str wild_view(void)
{
	return (struct kc_str){ (uint16_t)rnd(), (uint16_t)rnd() };
}

static struct kc_str any_str(struct kc_item *it)
{
	return rn(25) == 0 ? wild_view() : rand_str(it);
}

static const char *const hnames[] = {
	"Content-Type", "Content-Encoding", "Location", "Set-Cookie", "X-A", "x-a", "",
	"X-\"Q\"", "X-\\", "\xff", "\xfe", "A\x00" "b", "A\x00" "c", ":path", "Host",
};

/* A name from a small pool, so repeats are frequent. */
static struct kc_str rand_name(struct kc_item *it)
{
	unsigned k = rn(sizeof(hnames) / sizeof(hnames[0]) + 2);
	struct kc_str v = { 0, 0 };

	if (k >= sizeof(hnames) / sizeof(hnames[0]))
		return any_str(it);
	if (k == 11 || k == 12)
		kc_item_put(it, hnames[k], 3, &v); /* NUL inside */
	else
		kc_item_put(it, hnames[k], strlen(hnames[k]), &v);
	return v;
}

static void rand_kv(struct kc_item *it, struct kc_kv *kv, uint8_t *n, unsigned max)
{
	*n = (uint8_t)rn(rn(4) == 0 ? max + 3 : 6);
	for (unsigned i = 0; i < KC_MIN((unsigned)*n, max); i++) {
		kv[i].name = rand_name(it);
		kv[i].value = any_str(it);
	}
}

static int64_t rand_i64(void)
{
	static const int64_t edge[] = {
		0, 1, -1, 9007199254740991ll, 9007199254740992ll, 9007199254740993ll,
		-9007199254740992ll, -9007199254740993ll, INT64_MAX, INT64_MIN, 2147483647,
		-2147483647 - 1, 12345678901234567ll,
	};

	switch (rn(3)) {
	case 0: return edge[rn(sizeof(edge) / sizeof(edge[0]))];
	case 1: return (int64_t)rnd();
	default: return (int64_t)rn(100000);
	}
}

static void rand_common(struct kc_item *it)
{
	static const uint64_t ts[] = {
		0, 1, 999999, 1000000, 1700000000123456ull, 1700000000100000ull,
		1700000000000001ull, UINT64_MAX, 1ull << 53, 253402300799999999ull,
	};

	it->stream_id = rn(2) ? rnd() : rn(100);
	it->index = (uint32_t)(rn(2) ? rnd() : rn(10));
	it->flags = (uint16_t)rn(128);
	it->l4 = rn(3) == 0 ? 17 : (rn(2) ? 6 : (uint8_t)rnd());
	it->family = rn(3) == 0 ? 6 : (rn(2) ? 4 : (uint8_t)rnd());
	it->worker = (uint8_t)rnd();
	it->src_port = (uint16_t)rnd();
	it->dst_port = rn(2) ? 80 : (uint16_t)rnd();
	for (unsigned i = 0; i < 16; i++) {
		it->src_ip[i] = rn(3) ? 0 : (uint8_t)rnd();
		it->dst_ip[i] = (uint8_t)rnd();
	}
	it->ts_us = rn(2) ? ts[rn(sizeof(ts) / sizeof(ts[0]))] : 1600000000000000ull + rnd() % (1ull << 40);
	it->resp_ts_us = rn(3) == 0 ? 0 : (rn(2) ? it->ts_us + rn(5000000) : rnd());
	it->req_size = (uint64_t)rand_i64();
	it->resp_size = (uint64_t)rand_i64();
}

static void rand_http(struct kc_item *it)
{
	struct kc_item_http *h = &it->u.http;
	static const char *const versions[] = { "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/",
						"HTTP/1.1\x00x", "HTTP/\xff\"", "1.1",
						"HTTP/0123456789012345678901234567890123456789" };
	unsigned v = rn(sizeof(versions) / sizeof(versions[0]) + 1);

	h->method = any_str(it);
	h->url = any_str(it);
	if (rn(2)) {
		kc_item_put(it, "/a//b/\xff/c/", 11, &h->path);
	} else {
		h->path = any_str(it);
	}
	if (v < sizeof(versions) / sizeof(versions[0]))
		kc_item_put(it, versions[v], v == 4 ? 10 : strlen(versions[v]), &h->version);
	else
		h->version = any_str(it);
	h->host = any_str(it);
	h->status_text = any_str(it);
	h->status = (int32_t)(rn(2) ? 200 + rn(400) : rand_i64());
	h->req_headers_size = (int32_t)rand_i64();
	h->resp_headers_size = (int32_t)rand_i64();
	h->req_body_size = rand_i64();
	h->resp_body_size = rand_i64();
	h->req_mime = any_str(it);
	h->resp_mime = any_str(it);
	h->req_body = any_str(it);
	h->resp_body = any_str(it);
	h->grpc_service = any_str(it);
	h->grpc_method = any_str(it);
	h->grpc_status = rn(2) ? -1 : (int32_t)rand_i64();
	rand_kv(it, h->req_headers, &h->n_req_headers, KC_ITEM_MAX_HEADERS);
	rand_kv(it, h->resp_headers, &h->n_resp_headers, KC_ITEM_MAX_HEADERS);
	rand_kv(it, h->req_cookies, &h->n_req_cookies, KC_ITEM_MAX_PARAMS);
	rand_kv(it, h->resp_cookies, &h->n_resp_cookies, KC_ITEM_MAX_PARAMS);
	rand_kv(it, h->query, &h->n_query, KC_ITEM_MAX_PARAMS);
}

static void rand_dns(struct kc_item *it)
{
	struct kc_item_dns *d = &it->u.dns;
	static const uint16_t types[] = { 1, 28, 5, 12, 2, 15, 6, 33, 256, 41, 16, 99, 65535, 0 };

	d->opcode = (uint8_t)(rn(2) ? rn(6) : rnd());
	d->rcode = (uint8_t)(rn(2) ? rn(6) : rnd());
	d->n_questions = (uint8_t)rn(rn(4) == 0 ? 255 : 4);
	d->n_answers = (uint8_t)rn(rn(4) == 0 ? 255 : 8);
	d->n_authorities = (uint8_t)rn(6);
	d->n_additionals = (uint8_t)rn(6);
	for (unsigned i = 0; i < KC_ITEM_MAX_DNS_Q; i++) {
		d->questions[i].name = any_str(it);
		d->questions[i].type = rn(2) ? types[rn(14)] : (uint16_t)rnd();
		d->questions[i].class_ = rn(2) ? 1 : (uint16_t)rnd();
	}
	for (unsigned i = 0; i < KC_ITEM_MAX_DNS_RR; i++) {
		struct kc_dns_rr *rr = &d->rrs[i];

		rr->name = any_str(it);
		rr->data = any_str(it);
		rr->ttl = rn(2) ? (uint32_t)rnd() : UINT32_MAX;
		rr->type = rn(4) ? types[rn(14)] : (uint16_t)rnd();
		rr->class_ = rn(2) ? 1 : (uint16_t)rnd();
	}
}

static void rand_tls(struct kc_item *it)
{
	struct kc_item_tls *t = &it->u.tls;
	static const uint16_t vers[] = { 0x0304, 0x0303, 0x0302, 0x0301, 0x0300, 0x0a0a, 0x7f1c, 0 };
	static const uint16_t cs[] = { 0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8, 0x0a0a, 0xffff };

	t->sni = any_str(it);
	t->client_version = rn(2) ? vers[rn(8)] : (uint16_t)rnd();
	t->server_version = rn(2) ? vers[rn(8)] : (uint16_t)rnd();
	t->cipher_suite = rn(2) ? cs[rn(8)] : (uint16_t)rnd();
	t->n_alpn = (uint8_t)rn(rn(4) == 0 ? 255 : 4);
	t->n_versions = (uint8_t)rn(rn(4) == 0 ? 255 : 5);
	for (unsigned i = 0; i < 8; i++)
		t->offered_versions[i] = rn(2) ? vers[rn(8)] : (uint16_t)rnd();
	for (unsigned i = 0; i < KC_ITEM_MAX_ALPN; i++)
		t->alpn[i] = any_str(it);
	t->alpn_chosen = any_str(it);
}

static void rand_item(struct kc_item *it)
{
	unsigned p = rn(KC_ITEM_PROTO_MAX + 2); /* one unknown value too */

	kc_item_reset(it, p <= KC_ITEM_PROTO_MAX ? (enum kc_item_proto)p : KC_ITEM_HTTP);
	if (p > KC_ITEM_PROTO_MAX)
		it->proto = (uint8_t)(KC_ITEM_PROTO_MAX + rn(200));
	/* arena bytes beyond arena_used are rendered by wild views: not zero */
	for (unsigned i = 0; i < 64; i++)
		it->arena[rn(KC_ITEM_ARENA_SIZE)] = (char)rnd();
	rand_common(it);
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC:
		rand_http(it);
		break;
	case KC_ITEM_DNS:
		rand_dns(it);
		break;
	case KC_ITEM_TLS:
		rand_tls(it);
		break;
	default:
		break;
	}
}

/* Render both ways; 1 when identical. */
static int same(const struct kc_item *it, const char *what, unsigned n)
{
	size_t rl = 0, gl = 0;
	int rr = kc_item_to_json_cjson(it, ref_buf, OUT_CAP, &rl);
	int gr = kc_item_to_json(it, got_buf, OUT_CAP, &gl);

	if (rr == 0 && gr == 0 && rl == gl && memcmp(ref_buf, got_buf, rl + 1) == 0)
		return 1;
	fprintf(stderr, "%s #%u: ref %d (%zu bytes), text %d (%zu bytes)\n", what, n, rr, rl, gr, gl);
	if (rr == 0 && gr == 0) {
		size_t k = 0;

		while (k < rl && k < gl && ref_buf[k] == got_buf[k])
			k++;
		fprintf(stderr, "  first difference at byte %zu:\n  ref:  %.120s\n  text: %.120s\n", k,
			ref_buf + (k > 40 ? k - 40 : 0), got_buf + (k > 40 ? k - 40 : 0));
	}
	return 0;
}

/* Every cap below the length fails without writing past it; length + 1
 * fits. @p stride samples the caps below (0: only cap == length). */
static int caps_ok(const struct kc_item *it, size_t len, size_t stride)
{
	static char small[1 << 16];
	size_t l2 = 0;

	for (size_t cap = stride ? 0 : len; cap <= len && cap + 64 <= sizeof(small);
	     cap += stride ? stride : 1) {
		memset(small, 0x5a, cap + 64);
		if (kc_item_to_json(it, small, cap, NULL) != -ENOSPC)
			return 0;
		for (size_t k = cap; k < cap + 64; k++)
			if (small[k] != 0x5a)
				return 0;
	}
	if (len + 1 <= sizeof(small)) {
		if (kc_item_to_json(it, small, len + 1, &l2) != 0 || l2 != len ||
		    memcmp(small, got_buf, len + 1) != 0)
			return 0;
	}
	return 1;
}

static void test_random_items(unsigned n)
{
	static struct kc_item it;
	unsigned bad = 0, caps_bad = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len;

		rand_item(&it);
		if (!same(&it, "built item", i)) {
			bad++;
			continue;
		}
		len = strlen(got_buf);
		if (!caps_ok(&it, len, i % 16 ? 0 : len < 3000 ? 1 : len / 997 + 1))
			caps_bad++;
		if (i % 64 == 0) {
			cJSON *back = cJSON_Parse(got_buf);

			CHECK(back != NULL);
			cJSON_Delete(back);
		}
	}
	CHECK(bad == 0);
	CHECK(caps_bad == 0);
}

/* Raw bytes as the item, as fuzz_item_json.c does. */
static void test_raw_items(unsigned n)
{
	static struct kc_item it;
	unsigned bad = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t *w = (uint64_t *)(void *)&it;

		for (size_t k = 0; k < offsetof(struct kc_item, arena) / 8; k++)
			w[k] = rn(3) ? rnd() : rnd() & 0x000f000f000f000full;
		for (size_t k = 0; k < 256; k++)
			it.arena[rn(KC_ITEM_ARENA_SIZE)] = (char)rnd();
		it.proto = (uint8_t)(it.proto % (KC_ITEM_PROTO_MAX + 1));
		bad += !same(&it, "raw item", i);
	}
	CHECK(bad == 0);
}

/* Hand-made cases whose answer is known, not only equal to the reference. */
static void test_known(void)
{
	static struct kc_item it;
	struct kc_item_http *h = &it.u.http;
	static const char val[] = "a\"b\\c\x01\x1f\x7f\xff\xc3\xa9\n";
	size_t len = 0;

	kc_item_reset(&it, KC_ITEM_HTTP);
	it.l4 = 6;
	it.family = 4;
	it.flags = KC_ITEM_F_REQUEST;
	it.ts_us = 1700000000120000ull;
	kc_item_put(&it, val, sizeof(val) - 1, &h->method);
	kc_item_put(&it, "k", 1, &h->query[0].name);
	kc_item_put(&it, "1", 1, &h->query[0].value);
	kc_item_put(&it, "k\x00x", 3, &h->query[1].name); /* "k" as a C string */
	kc_item_put(&it, "2", 1, &h->query[1].value);
	h->n_query = 2;
	CHECK(same(&it, "known", 0));
	CHECK(kc_item_to_json(&it, got_buf, OUT_CAP, &len) == 0);
	CHECK(strstr(got_buf, "\"method\":\"a\\\"b\\\\c\\u0001\\u001f\x7f\xef\xbf\xbd\xc3\xa9\\n\"") != NULL);
	CHECK(strstr(got_buf, "\"queryString\":{\"k\":[\"1\",\"2\"]}") != NULL);
	CHECK(strstr(got_buf, "\"startTime\":\"2023-11-14T22:13:20.12Z\"") != NULL);
	CHECK(len == strlen(got_buf));

	/* A value cut at its NUL; an arena-sized value. */
	kc_item_reset(&it, KC_ITEM_TLS);
	it.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	kc_item_put(&it, "ab\x00" "cd", 5, &it.u.tls.sni);
	CHECK(same(&it, "nul", 0));
	CHECK(strstr(got_buf, "\"serverName\":\"ab\"") != NULL);
	kc_item_reset(&it, KC_ITEM_HTTP);
	it.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	memset(it.arena, '\x01', KC_ITEM_ARENA_SIZE);
	h->url = (struct kc_str){ 0, KC_ITEM_ARENA_SIZE };
	h->resp_body = (struct kc_str){ 0, KC_ITEM_ARENA_SIZE };
	for (unsigned i = 0; i < KC_ITEM_MAX_HEADERS; i++) {
		h->req_headers[i].name = (struct kc_str){ 0, KC_ITEM_ARENA_SIZE };
		h->req_headers[i].value = (struct kc_str){ 0, KC_ITEM_ARENA_SIZE };
	}
	h->n_req_headers = KC_ITEM_MAX_HEADERS;
	CHECK(same(&it, "max", 0));
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4000;

	ref_buf = malloc(OUT_CAP);
	got_buf = malloc(OUT_CAP);
	if (ref_buf == NULL || got_buf == NULL)
		return 1;
	test_known();
	test_random_items(n);
	test_raw_items(n);
	free(ref_buf);
	free(got_buf);
	return kct_done("test_item_json_text");
}
