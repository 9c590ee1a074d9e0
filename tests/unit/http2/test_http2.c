/*
 * HTTP/2 dissector tests on synthetic connections: exact items for plain
 * requests, interleaved concurrent streams, HPACK state across streams
 * (RFC 7541 C.4/C.6 blocks), CONTINUATION, padding, trailers, gRPC unary,
 * streaming and trailers-only, RST_STREAM, PUSH_PROMISE, mid-stream joins,
 * Upgrade, limits, HPACK errors, and every split point of a connection.
 */
#include "h2_test_util.h"
#include "http2_internal.h" /* white-box checks of the HPACK state */

#include <zlib.h>

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi * 16 + v);
			hi = -1;
		}
	}
	return n;
}

static void req_block(struct buf *b, const char *method, const char *path, const char *auth)
{
	hp_lit(b, ":method", method);
	hp_idx(b, 6); /* :scheme http */
	hp_lit(b, ":path", path);
	hp_lit(b, ":authority", auth);
}

/* A GET with query and cookies, a 200 with a body: every item field. */
static void test_simple(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	const struct kc_item *it;
	const struct kc_item_http *h;

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	req_block(&blk, "GET", "/a/b?x=1&y=hello%20world&x=2&flag", "example.com:8080");
	hp_lit(&blk, "user-agent", "test/1.0");
	hp_lit(&blk, "cookie", "a=1; b=two");
	hp_lit(&blk, "cookie", "c=3");
	hp_lit(&blk, "x-custom-header", "v");
	headers(&c, 1, 1, &blk);
	frame(&s, 0x4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6); /* SETTINGS max streams 100 */
	frame(&s, 0x4, 0x1, 0, NULL, 0);                     /* SETTINGS ACK */
	blk.len = 0;
	hp_idx(&blk, 8); /* :status 200 */
	hp_lit(&blk, "content-type", "text/plain");
	hp_lit(&blk, "set-cookie", "sid=abc; Path=/; HttpOnly");
	headers(&s, 1, 0, &blk);
	data(&s, 1, 0, "hello ");
	data(&s, 1, 1, "world");
	pump_feed(&p, 0, c.p, c.len, 1000);
	CHECK(p.sink.n == 0);
	pump_feed(&p, 1, s.p, s.len, 3500);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 1);
	it = &p.sink.items[0];
	h = &it->u.http;
	CHECK(it->proto == KC_ITEM_HTTP2);
	CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
	CHECK(it->stream_id == 77 && it->src_port == 40000 && it->dst_port == 80);
	CHECK(it->index == 0);
	CHECK(it->ts_us == 1000 && it->resp_ts_us == 3500);
	CHECK(strcmp(V(it, h->method), "GET") == 0);
	CHECK(strcmp(V(it, h->url), "/a/b?x=1&y=hello%20world&x=2&flag") == 0);
	CHECK(strcmp(V(it, h->path), "/a/b") == 0);
	CHECK(strcmp(V(it, h->host), "example.com:8080") == 0);
	CHECK(strcmp(V(it, h->version), "HTTP/2.0") == 0);
	CHECK(h->status == 200);
	CHECK(strcmp(V(it, h->status_text), "OK") == 0);
	CHECK(h->h2_stream_id == 1);
	CHECK(h->n_req_headers == 8);
	CHECK(strcmp(V(it, h->req_headers[0].name), ":method") == 0);
	CHECK(strcmp(V(it, h->req_headers[1].name), ":scheme") == 0);
	CHECK(strcmp(V(it, h->req_headers[1].value), "http") == 0);
	CHECK(strcmp(H(it, 0, ":path"), "/a/b?x=1&y=hello%20world&x=2&flag") == 0);
	CHECK(strcmp(H(it, 0, "User-Agent"), "test/1.0") == 0);
	CHECK(strcmp(H(it, 0, "X-Custom-Header"), "v") == 0);
	CHECK(strcmp(V(it, h->req_headers[5].name), "Cookie") == 0);
	CHECK(strcmp(V(it, h->req_headers[6].name), "Cookie") == 0);
	CHECK(h->n_req_cookies == 3);
	CHECK(strcmp(V(it, h->req_cookies[0].name), "a") == 0);
	CHECK(strcmp(V(it, h->req_cookies[0].value), "1") == 0);
	CHECK(strcmp(V(it, h->req_cookies[1].name), "b") == 0);
	CHECK(strcmp(V(it, h->req_cookies[1].value), "two") == 0);
	CHECK(strcmp(V(it, h->req_cookies[2].name), "c") == 0);
	CHECK(h->n_query == 4);
	CHECK(strcmp(V(it, h->query[0].name), "x") == 0 && strcmp(V(it, h->query[0].value), "1") == 0);
	CHECK(strcmp(V(it, h->query[1].value), "hello world") == 0);
	CHECK(strcmp(V(it, h->query[2].name), "x") == 0 && strcmp(V(it, h->query[2].value), "2") == 0);
	CHECK(strcmp(V(it, h->query[3].name), "flag") == 0 && h->query[3].value.len == 0);
	CHECK(h->n_resp_headers == 3);
	CHECK(strcmp(H(it, 1, ":status"), "200") == 0);
	CHECK(strcmp(H(it, 1, "Content-Type"), "text/plain") == 0);
	CHECK(strcmp(V(it, h->resp_mime), "text/plain") == 0);
	CHECK(h->req_mime.len == 0);
	CHECK(h->n_resp_cookies == 1);
	CHECK(strcmp(V(it, h->resp_cookies[0].name), "sid") == 0);
	CHECK(strcmp(V(it, h->resp_cookies[0].value), "abc") == 0);
	CHECK(strcmp(V(it, h->resp_body), "hello world") == 0);
	CHECK(h->resp_body_size == 11);
	CHECK(h->req_body_size == 0);
	CHECK(h->req_body.len == 0);
	CHECK(h->req_headers_size == -1 && h->resp_headers_size == -1);
	CHECK(h->grpc_status == -1);
	/* frame bytes: request HEADERS; response HEADERS + 2 DATA */
	CHECK(it->req_size == c.len - KC_HTTP2_PREFACE_LEN - 9);
	CHECK(it->resp_size == s.len - 9 - 6 - 9);
	CHECK(p.st.items == 1 && p.st.frames_settings == 3 && p.st.frames_data == 2);
	CHECK(p.st.hpack_errors == 0 && p.st.protocol_errors == 0);
	pump_close(&p);
	CHECK(p.sink.n == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* Ten streams, requests first, responses and DATA interleaved in reverse. */
static void test_interleaved(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	const unsigned n = 10;
	char path[32], body[64];

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	for (unsigned i = 0; i < n; i++) {
		blk.len = 0;
		snprintf(path, sizeof(path), "/r/%u", i);
		req_block(&blk, "POST", path, "h");
		headers(&c, 1 + 2 * i, 0, &blk);
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "req-body-%u", i);
		data(&c, 1 + 2 * i, 1, body);
	}
	for (unsigned i = n; i-- > 0;) {
		blk.len = 0;
		hp_lit_iname(&blk, 8, i % 2 ? "201" : "202");
		headers(&s, 1 + 2 * i, 0, &blk);
	}
	/* first half of each body, all streams, then second halves */
	for (unsigned i = n; i-- > 0;) {
		snprintf(body, sizeof(body), "resp-%u-", i);
		data(&s, 1 + 2 * i, 0, body);
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "end-%u", i);
		data(&s, 1 + 2 * i, 1, body);
	}
	pump_feed(&p, 0, c.p, c.len, 10);
	pump_feed(&p, 1, s.p, s.len, 20);
	CHECK(p.error == 0);
	CHECK(p.sink.n == n);
	for (unsigned i = 0; i < n && i < p.sink.n; i++) {
		const struct kc_item *it = &p.sink.items[i];
		const struct kc_item_http *h = &it->u.http;
		char exp[64];

		CHECK(h->h2_stream_id == 1 + 2 * i); /* finished in stream order */
		CHECK(it->index == i);
		snprintf(exp, sizeof(exp), "/r/%u", i);
		CHECK(strcmp(V(it, h->path), exp) == 0);
		snprintf(exp, sizeof(exp), "req-body-%u", i);
		CHECK(strcmp(V(it, h->req_body), exp) == 0);
		CHECK(h->req_body_size == (int64_t)strlen(exp));
		snprintf(exp, sizeof(exp), "resp-%u-end-%u", i, i);
		CHECK(strcmp(V(it, h->resp_body), exp) == 0);
		CHECK(h->status == (i % 2 ? 201 : 202));
		CHECK(strcmp(V(it, h->status_text), i % 2 ? "Created" : "Accepted") == 0);
		CHECK(strcmp(V(it, h->method), "POST") == 0);
	}
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* RFC 7541 C.4 request blocks and C.6 response blocks carried by HEADERS:
 * Huffman strings and dynamic-table references across streams. C.6 needs
 * the client's SETTINGS_HEADER_TABLE_SIZE 256 and the encoder at 256. */
static void test_hpack_across_streams(void)
{
	static const char *reqs[3] = {
		"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		"8286 84be 5886 a8eb 1064 9cbf",
		"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
	};
	static const char *resps[3] = {
		"3f e1 01 4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
		"2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
		"4883 640e ffc1 c0bf",
		"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
		"77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
		"9587 3160 65c0 03ed 4ee5 b106 3d50 07",
	};
	struct pump p;
	struct buf c = { 0 }, s = { 0 };
	uint8_t tmp[512];

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	buf_put(&c, KC_HTTP2_PREFACE, KC_HTTP2_PREFACE_LEN);
	frame(&c, 0x4, 0, 0, "\x00\x01\x00\x00\x01\x00", 6); /* HEADER_TABLE_SIZE 256 */
	frame(&s, 0x4, 0, 0, NULL, 0);
	for (int i = 0; i < 3; i++) {
		size_t n = unhex(reqs[i], tmp);

		frame(&c, 0x1, 0x5, 1 + 2 * (uint32_t)i, tmp, n);
		n = unhex(resps[i], tmp);
		frame(&s, 0x1, 0x5, 1 + 2 * (uint32_t)i, tmp, n);
	}
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 3);
	if (p.sink.n == 3) {
		const struct kc_item *a = &p.sink.items[0], *b = &p.sink.items[1],
				     *d = &p.sink.items[2];

		CHECK(strcmp(V(a, a->u.http.host), "www.example.com") == 0);
		CHECK(strcmp(V(b, b->u.http.host), "www.example.com") == 0);
		CHECK(strcmp(H(b, 0, "Cache-Control"), "no-cache") == 0);
		CHECK(strcmp(V(d, d->u.http.path), "/index.html") == 0);
		CHECK(strcmp(H(d, 0, ":scheme"), "https") == 0);
		CHECK(strcmp(H(d, 0, "Custom-Key"), "custom-value") == 0);
		CHECK(a->u.http.status == 302 && b->u.http.status == 307 && d->u.http.status == 200);
		CHECK(strcmp(V(a, a->u.http.status_text), "Found") == 0);
		CHECK(strcmp(H(b, 1, "Location"), "https://www.example.com") == 0);
		CHECK(strcmp(H(d, 1, "Date"), "Mon, 21 Oct 2013 20:13:22 GMT") == 0);
		CHECK(strcmp(H(d, 1, "Content-Encoding"), "gzip") == 0);
		CHECK(d->u.http.n_resp_cookies == 1);
		CHECK(strcmp(V(d, d->u.http.resp_cookies[0].value), "ASDJKHQKBZXOQWEOPIUAXQWEOIU") == 0);
	}
	CHECK(p.st.hpack_errors == 0);
	CHECK(p.f->dir[1].hpack.max_size == 256);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
}

/* HEADERS split over two CONTINUATIONs, padded HEADERS with priority,
 * padded DATA, and an empty DATA with END_STREAM. */
static void test_continuation_padding(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 }, pl = { 0 };
	const struct kc_item *it;
	size_t reqblk;

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	req_block(&blk, "PUT", "/cont", "host.example");
	hp_inc(&blk, "x-long", "0123456789abcdefghijklmnopqrstuvwxyz");
	reqblk = blk.len;
	/* split the block in three pieces */
	frame(&c, 0x1, 0x0, 1, blk.p, 10);
	frame(&c, 0x9, 0x0, 1, blk.p + 10, 15);
	frame(&c, 0x9, 0x4, 1, blk.p + 25, blk.len - 25);
	/* padded DATA: pad length 5 */
	buf_u8(&pl, 5);
	buf_put(&pl, "payload", 7);
	buf_put(&pl, "\0\0\0\0\0", 5);
	frame(&c, 0x0, 0x8, 1, pl.p, pl.len);
	frame(&c, 0x0, 0x1, 1, NULL, 0);
	/* response: PADDED|PRIORITY|END_HEADERS HEADERS, pad 3 */
	blk.len = 0;
	hp_idx(&blk, 9); /* 204 */
	pl.len = 0;
	buf_u8(&pl, 3);
	buf_put(&pl, "\x80\x00\x00\x03\x10", 5); /* exclusive dep on 3, weight 16 */
	buf_put(&pl, blk.p, 1);                  /* only the :status field */
	buf_put(&pl, "\0\0\0", 3);
	frame(&s, 0x1, 0x1 | 0x4 | 0x8 | 0x20, 1, pl.p, pl.len);
	pump_feed(&p, 0, c.p, c.len, 5);
	pump_feed(&p, 1, s.p, s.len, 6);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 1);
	it = &p.sink.items[0];
	CHECK(strcmp(V(it, it->u.http.method), "PUT") == 0);
	CHECK(strcmp(H(it, 0, "X-Long"), "0123456789abcdefghijklmnopqrstuvwxyz") == 0);
	CHECK(strcmp(V(it, it->u.http.req_body), "payload") == 0);
	CHECK(it->u.http.req_body_size == 7);
	CHECK(it->u.http.status == 204);
	CHECK(it->u.http.n_resp_headers == 1);
	CHECK(p.st.frames_continuation == 2);
	CHECK(it->req_size == 9 * 5 + reqblk + 13);
	CHECK(p.f->dir[0].hpack.count == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
	buf_free(&pl);
}

static void grpc_req(struct buf *blk, const char *path)
{
	blk->len = 0;
	hp_idx(blk, 3); /* POST */
	hp_idx(blk, 6);
	hp_lit(blk, ":path", path);
	hp_lit(blk, ":authority", "localhost:50051");
	hp_lit(blk, "content-type", "application/grpc");
	hp_lit(blk, "te", "trailers");
}

/* gRPC unary with trailers, server streaming, trailers-only error. */
static void test_grpc(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	static const char msg1[] = "\x00\x00\x00\x00\x03\x0a\x01x";

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	/* stream 1: unary */
	grpc_req(&blk, "/greet.GreetService/Greet");
	headers(&c, 1, 0, &blk);
	frame(&c, 0x0, 0x1, 1, msg1, 8);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-type", "application/grpc+proto");
	headers(&s, 1, 0, &blk);
	frame(&s, 0x0, 0x0, 1, msg1, 8);
	blk.len = 0;
	hp_lit(&blk, "grpc-status", "0");
	hp_lit(&blk, "grpc-message", "");
	headers(&s, 1, 1, &blk);
	/* stream 3: server streaming, 3 messages */
	grpc_req(&blk, "/greet.GreetService/GreetManyTimes");
	headers(&c, 3, 0, &blk);
	frame(&c, 0x0, 0x1, 3, msg1, 8);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-type", "application/grpc");
	headers(&s, 3, 0, &blk);
	for (int i = 0; i < 3; i++)
		frame(&s, 0x0, 0x0, 3, msg1, 8);
	blk.len = 0;
	hp_lit(&blk, "grpc-status", "0");
	headers(&s, 3, 1, &blk);
	/* stream 5: trailers-only UNIMPLEMENTED */
	grpc_req(&blk, "/pkg.v1.Svc/Nope");
	headers(&c, 5, 0, &blk);
	frame(&c, 0x0, 0x1, 5, msg1, 8);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-type", "application/grpc");
	hp_lit(&blk, "grpc-status", "12");
	hp_lit(&blk, "grpc-message", "unknown method Nope");
	headers(&s, 5, 1, &blk);
	pump_feed(&p, 0, c.p, c.len, 100);
	pump_feed(&p, 1, s.p, s.len, 200);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 3);
	if (p.sink.n == 3) {
		const struct kc_item *a = &p.sink.items[0], *b = &p.sink.items[1],
				     *d = &p.sink.items[2];

		CHECK(a->proto == KC_ITEM_GRPC && b->proto == KC_ITEM_GRPC && d->proto == KC_ITEM_GRPC);
		CHECK(strcmp(V(a, a->u.http.grpc_service), "greet.GreetService") == 0);
		CHECK(strcmp(V(a, a->u.http.grpc_method), "Greet") == 0);
		CHECK(a->u.http.grpc_status == 0);
		CHECK(a->u.http.n_resp_headers == 4); /* :status, content-type, 2 trailers */
		CHECK(strcmp(V(a, a->u.http.resp_headers[2].name), "Grpc-Status") == 0);
		CHECK(strcmp(H(a, 1, "Grpc-Message"), "") == 0);
		CHECK(a->u.http.resp_body.len == 8 && memcmp(kc_item_str(a, a->u.http.resp_body), msg1, 8) == 0);
		CHECK(strcmp(V(a, a->u.http.req_mime), "application/grpc") == 0);
		CHECK(strcmp(V(a, a->u.http.resp_mime), "application/grpc+proto") == 0);
		CHECK(strcmp(V(b, b->u.http.grpc_method), "GreetManyTimes") == 0);
		CHECK(b->u.http.resp_body_size == 24 && b->u.http.resp_body.len == 24);
		CHECK(b->u.http.grpc_status == 0);
		CHECK(strcmp(V(d, d->u.http.grpc_service), "pkg.v1.Svc") == 0);
		CHECK(strcmp(V(d, d->u.http.grpc_method), "Nope") == 0);
		CHECK(d->u.http.grpc_status == 12);
		CHECK(d->u.http.status == 200);
		CHECK(d->u.http.resp_body_size == 0);
		CHECK(strcmp(H(d, 1, "Grpc-Message"), "unknown method Nope") == 0);
	}
	CHECK(p.st.items_grpc == 3);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* A client RST_STREAM (cancel) waits for the server's in-flight frames; a
 * server RST_STREAM ends the stream at once. Close flushes the rest, the
 * unfinished one with KC_ITEM_F_TIMEOUT. */
static void test_rst_and_close(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	req_block(&blk, "GET", "/cancelled", "h");
	headers(&c, 1, 1, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/slow", "h");
	headers(&c, 3, 1, &blk);
	blk.len = 0;
	req_block(&blk, "POST", "/refused", "h");
	headers(&c, 5, 0, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/crossed", "h");
	headers(&c, 7, 1, &blk);
	frame(&c, 0x3, 0, 1, "\x00\x00\x00\x08", 4); /* client CANCEL, no response */
	frame(&c, 0x3, 0, 7, "\x00\x00\x00\x08", 4); /* client CANCEL, response crossing */
	blk.len = 0;
	hp_idx(&blk, 8);
	headers(&s, 3, 0, &blk);
	data(&s, 3, 0, "partial");
	frame(&s, 0x3, 0, 5, "\x00\x00\x00\x07", 4); /* server REFUSED_STREAM */
	headers(&s, 7, 0, &blk);
	data(&s, 7, 1, "late");
	frame(&s, 0x6, 0, 0, "12345678", 8);           /* PING */
	frame(&s, 0x8, 0, 0, "\x00\x00\x10\x00", 4);   /* WINDOW_UPDATE */
	frame(&s, 0xfa, 0x3, 0, "unknown", 7);          /* unknown type */
	frame(&s, 0x7, 0, 0, "\x00\x00\x00\x03\x00\x00\x00\x00", 8); /* GOAWAY */
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.sink.n == 0);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 2);
	if (p.sink.n == 2) {
		const struct kc_item *a = &p.sink.items[0], *b = &p.sink.items[1];

		CHECK(a->u.http.h2_stream_id == 5);
		CHECK(a->flags == KC_ITEM_F_REQUEST);
		CHECK(strcmp(V(a, a->u.http.path), "/refused") == 0);
		CHECK(b->u.http.h2_stream_id == 7);
		CHECK(b->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
		CHECK(b->u.http.status == 200);
		CHECK(strcmp(V(b, b->u.http.resp_body), "late") == 0);
	}
	pump_close(&p);
	CHECK(p.sink.n == 4);
	if (p.sink.n == 4) {
		const struct kc_item *a = &p.sink.items[2], *b = &p.sink.items[3];

		CHECK(a->u.http.h2_stream_id == 1);
		CHECK(a->flags == KC_ITEM_F_REQUEST); /* ended by reset: no timeout */
		CHECK(strcmp(V(a, a->u.http.path), "/cancelled") == 0);
		CHECK(a->u.http.status == 0);
		CHECK(b->u.http.h2_stream_id == 3);
		CHECK(b->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE | KC_ITEM_F_TIMEOUT));
		CHECK(strcmp(V(b, b->u.http.resp_body), "partial") == 0);
	}
	CHECK(p.st.rst_streams == 3 && p.st.frames_ping == 1 && p.st.frames_window_update == 1);
	CHECK(p.st.frames_unknown == 1 && p.st.goaways == 1 && p.st.items_timeout == 1);
	pump_free(&p);

	/* 32 cancelled streams fill the table: a new stream evicts the lowest */
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	c.len = 0;
	preface(&c);
	for (uint32_t i = 0; i < 33; i++) {
		blk.len = 0;
		req_block(&blk, "GET", "/c", "h");
		headers(&c, 1 + 2 * i, 1, &blk);
		if (i < 32)
			frame(&c, 0x3, 0, 1 + 2 * i, "\x00\x00\x00\x08", 4);
	}
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.sink.n == 1 && p.st.streams_overflow == 0);
	CHECK(p.sink.n == 1 && p.sink.items[0].u.http.h2_stream_id == 1);
	pump_close(&p);
	CHECK(p.sink.n == 33);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* An informational 100 response before the final one is not kept. */
static void test_continue(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	req_block(&blk, "POST", "/upload", "h");
	hp_lit(&blk, "expect", "100-continue");
	headers(&c, 1, 0, &blk);
	data(&c, 1, 1, "file");
	blk.len = 0;
	hp_lit_iname(&blk, 8, "100");
	headers(&s, 1, 0, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "server", "x");
	headers(&s, 1, 1, &blk);
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.sink.n == 1);
	if (p.sink.n == 1) {
		const struct kc_item *it = &p.sink.items[0];

		CHECK(it->u.http.status == 200);
		CHECK(it->u.http.n_resp_headers == 2);
		CHECK(strcmp(H(it, 1, ":status"), "200") == 0);
		CHECK(strcmp(H(it, 1, "Server"), "x") == 0);
		CHECK(strcmp(H(it, 0, "Expect"), "100-continue") == 0);
		CHECK(strcmp(V(it, it->u.http.req_body), "file") == 0);
	}
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

static size_t zcompress(const char *in, size_t len, uint8_t *out, size_t cap, int gzip)
{
	z_stream zs;
	size_t n;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

/* gzip and deflate bodies are kept decoded; a prefix that does not decode
 * whole is flagged; an undecodable one is kept as sent. */
static void test_encoded_bodies(void)
{
	static const char text[] = "{\"answer\": 42, \"text\": \"hello hello hello hello\"}";
	static char big[20000];
	static uint8_t z[30000];
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	size_t zn;

	uint32_t lcg = 1;
	size_t zn_gzip_text;

	for (size_t i = 0; i < sizeof(big) - 1; i++) {
		lcg = lcg * 1103515245u + 12345u;
		big[i] = (char)('a' + (lcg >> 16) % 26);
	}
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	/* stream 1: deflate (zlib) request body, gzip response in 3 DATA frames */
	req_block(&blk, "POST", "/z", "h");
	hp_lit(&blk, "content-encoding", "deflate");
	headers(&c, 1, 0, &blk);
	zn = zcompress(text, strlen(text), z, sizeof(z), 0);
	frame(&c, 0x0, 0x1, 1, z, zn);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-encoding", "gzip");
	headers(&s, 1, 0, &blk);
	zn = zcompress(text, strlen(text), z, sizeof(z), 1);
	zn_gzip_text = zn;
	frame(&s, 0x0, 0, 1, z, 10);
	frame(&s, 0x0, 0, 1, z + 10, 5);
	frame(&s, 0x0, 0x1, 1, z + 15, zn - 15);
	/* stream 3: a large gzip body: only a prefix decodes */
	blk.len = 0;
	req_block(&blk, "GET", "/big", "h");
	headers(&c, 3, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-encoding", "gzip");
	headers(&s, 3, 0, &blk);
	zn = zcompress(big, sizeof(big) - 1, z, sizeof(z), 1);
	CHECK(zn > KC_ITEM_BODY_PREFIX);
	frame(&s, 0x0, 0x1, 3, z, zn);
	/* stream 5: "gzip" that is not */
	blk.len = 0;
	req_block(&blk, "GET", "/bad", "h");
	headers(&c, 5, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_lit(&blk, "content-encoding", "gzip");
	headers(&s, 5, 0, &blk);
	data(&s, 5, 1, "not gzip at all");
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 3);
	if (p.sink.n == 3) {
		const struct kc_item *a = &p.sink.items[0], *b = &p.sink.items[1],
				     *d = &p.sink.items[2];

		CHECK(strcmp(V(a, a->u.http.req_body), text) == 0);
		CHECK(strcmp(V(a, a->u.http.resp_body), text) == 0);
		CHECK(a->u.http.resp_body_size == (int64_t)zn_gzip_text); /* on the wire */
		CHECK(!(a->flags & (KC_ITEM_F_REQ_BODY_TRUNC | KC_ITEM_F_RESP_BODY_TRUNC)));
		CHECK(b->u.http.resp_body.len == KC_ITEM_BODY_PREFIX);
		CHECK(memcmp(kc_item_str(b, b->u.http.resp_body), big, KC_ITEM_BODY_PREFIX) == 0);
		CHECK(b->flags & KC_ITEM_F_RESP_BODY_TRUNC);
		CHECK(b->u.http.resp_body_size == (int64_t)zn);
		CHECK(strcmp(V(d, d->u.http.resp_body), "not gzip at all") == 0);
	}
	CHECK(p.st.bodies_decoded == 3 && p.st.body_decode_errors == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* PUSH_PROMISE: the promised request comes from the server's block. */
static void test_push(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 }, pl = { 0 };

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	req_block(&blk, "GET", "/index.html", "h");
	headers(&c, 1, 1, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/style.css", "h");
	buf_put(&pl, "\x00\x00\x00\x02", 4);
	buf_put(&pl, blk.p, blk.len);
	frame(&s, 0x5, 0x4, 1, pl.p, pl.len);
	blk.len = 0;
	hp_idx(&blk, 8);
	headers(&s, 1, 0, &blk);
	data(&s, 1, 1, "<html>");
	headers(&s, 2, 0, &blk);
	data(&s, 2, 1, "body{}");
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 2);
	if (p.sink.n == 2) {
		const struct kc_item *b = &p.sink.items[1];

		CHECK(b->u.http.h2_stream_id == 2);
		CHECK(strcmp(V(b, b->u.http.path), "/style.css") == 0);
		CHECK(strcmp(V(b, b->u.http.resp_body), "body{}") == 0);
		CHECK(b->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
	}
	CHECK(p.st.push_promises == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
	buf_free(&pl);
}

/* Joined mid-way: no preface. A block using only static/literal fields
 * gives an item; one referring to older dynamic entries does not. */
static void test_midstream(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	req_block(&blk, "GET", "/known", "h");
	hp_inc(&blk, "x-new", "1");
	headers(&c, 101, 1, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/unknown", "h");
	hp_idx(&blk, 63); /* dynamic index 2: from before the join */
	headers(&c, 103, 1, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/ours", "h");
	hp_idx(&blk, 62); /* x-new, inserted after the join: known */
	headers(&c, 105, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	for (uint32_t sid = 101; sid <= 105; sid += 2) {
		headers(&s, sid, 0, &blk);
		data(&s, sid, 1, "ok");
	}
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.st.midstream_joins == 1);
	CHECK(p.st.hpack_unknown_refs == 1);
	CHECK(p.sink.n == 2);
	if (p.sink.n == 2) {
		CHECK(strcmp(V(&p.sink.items[0], p.sink.items[0].u.http.path), "/known") == 0);
		CHECK(strcmp(V(&p.sink.items[1], p.sink.items[1].u.http.path), "/ours") == 0);
		CHECK(strcmp(H(&p.sink.items[1], 0, "X-New"), "1") == 0);
		CHECK(p.sink.items[1].u.http.status == 200);
	}
	pump_free(&p);

	/* MIDSTREAM mode given by the dispatcher; the server side joined too */
	pump_init(&p, KC_HTTP2_MODE_MIDSTREAM);
	CHECK(p.st.midstream_joins == 1);
	pump_feed(&p, 1, s.p, s.len, 2);      /* responses of unknown streams */
	CHECK(p.sink.n == 0 && p.st.frames_untracked >= 3);
	pump_free(&p);

	/* MIDSTREAM with the server side joined inside a frame: that side is
	 * refused (not parsed as garbage), the client side goes on */
	pump_init(&p, KC_HTTP2_MODE_MIDSTREAM);
	pump_feed(&p, 1, (const uint8_t *)"tail of some DATA payload......", 31, 2);
	CHECK(p.error == 1 && p.st.protocol_errors == 1);
	p.error = 0;
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.error == 0);
	pump_close(&p);
	CHECK(p.sink.n == 2); /* /known and /ours, request only, timed out */
	if (p.sink.n == 2)
		CHECK(p.sink.items[0].flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT));
	pump_free(&p);

	/* not HTTP/2 at all */
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	pump_feed(&p, 0, (const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 1);
	CHECK(p.error == 1 && p.st.protocol_errors == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* Upgrade: stream 1's request comes from the HTTP/1 item. */
static void test_upgrade(void)
{
	struct kc_item *req = calloc(1, sizeof(*req));
	struct kc_http2_stats st = { 0 };
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	struct pump p;
	void *mem;

	kc_item_reset(req, KC_ITEM_HTTP);
	req->flags = KC_ITEM_F_REQUEST;
	req->ts_us = 42;
	req->req_size = 150;
	(void)kc_item_put(req, "GET", 3, &req->u.http.method);
	(void)kc_item_put(req, "/file?range=1", 13, &req->u.http.url);
	req->u.http.path = (struct kc_str){ req->u.http.url.off, 5 };
	(void)kc_item_put(req, "127.0.0.1:8080", 14, &req->u.http.host);
	(void)kc_item_put(req, "Host", 4, &req->u.http.req_headers[0].name);
	(void)kc_item_put(req, "127.0.0.1:8080", 14, &req->u.http.req_headers[0].value);
	(void)kc_item_put(req, "Upgrade", 7, &req->u.http.req_headers[1].name);
	(void)kc_item_put(req, "h2c", 3, &req->u.http.req_headers[1].value);
	(void)kc_item_put(req, "Http2-Settings", 14, &req->u.http.req_headers[2].name);
	/* HEADER_TABLE_SIZE 8192: base64url of 00 01 00 00 20 00 */
	(void)kc_item_put(req, "AAEAACAA", 8, &req->u.http.req_headers[2].value);
	req->u.http.n_req_headers = 3;

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	mem = p.mem;
	p.f = kc_http2_flow_init_upgrade(mem, kc_http2_flow_size(), req, &st);
	CHECK(p.f != NULL && st.upgrades == 1);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	hp_int(&blk, 0x20, 5, 8192); /* allowed only thanks to HTTP2-Settings */
	hp_idx(&blk, 10);            /* 206 */
	hp_lit(&blk, "content-type", "text/plain; charset=utf-8");
	headers(&s, 1, 0, &blk);
	data(&s, 1, 1, "partial body");
	pump_feed(&p, 0, c.p, c.len, 50);
	pump_feed(&p, 1, s.p, s.len, 60);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 1);
	if (p.sink.n == 1) {
		const struct kc_item *it = &p.sink.items[0];

		CHECK(it->proto == KC_ITEM_HTTP2);
		CHECK(it->u.http.h2_stream_id == 1);
		CHECK(strcmp(V(it, it->u.http.method), "GET") == 0);
		CHECK(strcmp(V(it, it->u.http.url), "/file?range=1") == 0);
		CHECK(strcmp(V(it, it->u.http.path), "/file") == 0);
		CHECK(strcmp(V(it, it->u.http.host), "127.0.0.1:8080") == 0);
		CHECK(strcmp(H(it, 0, "Upgrade"), "h2c") == 0);
		CHECK(it->u.http.n_req_headers == 3);
		CHECK(it->u.http.n_query == 1);
		CHECK(it->u.http.status == 206);
		CHECK(strcmp(V(it, it->u.http.status_text), "Partial Content") == 0);
		CHECK(strcmp(V(it, it->u.http.resp_mime), "text/plain; charset=utf-8") == 0);
		CHECK(strcmp(V(it, it->u.http.resp_body), "partial body") == 0);
		CHECK(it->ts_us == 42 && it->resp_ts_us == 60 && it->req_size == 150);
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
	}
	CHECK(p.st.hpack_errors == 0);
	pump_free(&p);
	free(req);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* 33 concurrent streams: one overflows. A large DATA frame fed in small
 * pieces keeps only the prefix. */
static void test_limits(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	static char big[16384 + 1];

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	for (uint32_t i = 0; i < 33; i++) {
		blk.len = 0;
		req_block(&blk, "GET", "/", "h");
		headers(&c, 1 + 2 * i, 1, &blk);
	}
	memset(big, 'b', 16384);
	for (uint32_t i = 0; i < 33; i++) {
		blk.len = 0;
		hp_idx(&blk, 8);
		headers(&s, 1 + 2 * i, 0, &blk);
		frame(&s, 0x0, i == 0 ? 0 : 1, 1 + 2 * i, big, i == 0 ? 16384 : 10);
	}
	frame(&s, 0x0, 1, 1, big, 16384);
	pump_feed(&p, 0, c.p, c.len, 1);
	for (size_t off = 0; off < s.len; off += 1000)
		pump_feed(&p, 1, s.p + off, KC_MIN((size_t)1000, s.len - off), 2);
	CHECK(p.error == 0);
	CHECK(p.st.streams_overflow == 1);
	CHECK(p.sink.n == 32);
	/* the pending buffer never had to hold a whole DATA frame */
	CHECK(p.pend[1].cap <= 4096);
	if (p.sink.n == 32) {
		const struct kc_item *it = &p.sink.items[31]; /* stream 1 ends last */

		CHECK(it->u.http.h2_stream_id == 1);
		CHECK(it->u.http.resp_body_size == 32768);
		CHECK(it->u.http.resp_body.len == KC_ITEM_BODY_PREFIX);
		CHECK(it->flags & KC_ITEM_F_RESP_BODY_TRUNC);
	}
	CHECK(p.st.frames_untracked >= 2);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* The field store is shared: when it is full, fields are dropped and the
 * items flagged; a split header block beyond the assembly buffer loses the
 * HPACK state. */
static void test_store_and_hb_limits(void)
{
	struct pump p;
	struct buf c = { 0 }, s = { 0 }, blk = { 0 };
	static char big[3001];
	unsigned truncated = 0;

	memset(big, 'v', 1000);
	big[1000] = '\0';
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	for (uint32_t i = 0; i < 10; i++) {
		blk.len = 0;
		req_block(&blk, "GET", "/big", "h");
		hp_lit(&blk, "x-big", big);
		headers(&c, 1 + 2 * i, 1, &blk);
	}
	blk.len = 0;
	hp_idx(&blk, 8);
	for (uint32_t i = 0; i < 10; i++)
		headers(&s, 1 + 2 * i, 1, &blk);
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.error == 0);
	CHECK(p.sink.n == 10);
	for (unsigned i = 0; i < p.sink.n && i < 10; i++) {
		const struct kc_item *it = &p.sink.items[i];

		if (it->flags & KC_ITEM_F_TRUNCATED) {
			truncated++;
			CHECK(strcmp(H(it, 0, "X-Big"), "") == 0);
		} else {
			CHECK(strlen(H(it, 0, "X-Big")) == 1000);
		}
		CHECK(it->u.http.status == 200);
	}
	/* 8 KiB hold seven 1 KiB headers with the pseudo-headers */
	CHECK(truncated == 3);
	CHECK(p.st.store_full == 3 && p.st.items_truncated == 3);
	pump_free(&p);

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	c.len = 0;
	preface(&c);
	memset(big, 'w', 3000);
	big[3000] = '\0';
	blk.len = 0;
	req_block(&blk, "GET", "/huge", "h");
	hp_lit(&blk, "x-huge", big);
	hp_lit(&blk, "x-huge2", big);
	frame(&c, 0x1, 0x0, 1, blk.p, 3000);
	frame(&c, 0x9, 0x4, 1, blk.p + 3000, blk.len - 3000);
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.error == 1 && p.st.hb_overflow == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
}

/* A malformed block loses the HPACK state: error, no more items. */
static void test_hpack_error(void)
{
	struct pump p;
	struct buf c = { 0 }, blk = { 0 };

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	preface(&c);
	req_block(&blk, "GET", "/one", "h");
	headers(&c, 1, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 70); /* past the table */
	headers(&c, 3, 1, &blk);
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.error == 1);
	CHECK(p.st.hpack_errors == 1);
	CHECK(p.st.items_suppressed == 1); /* stream 1 was waiting */
	pump_close(&p);
	CHECK(p.sink.n == 0);
	{
		struct kc_parse_res r = kc_http2_feed(p.f, KC_DIR_S2C, (const uint8_t *)"x", 1, 0,
						      NULL, NULL, NULL, &p.st);

		CHECK(r.status == KC_PARSE_ERROR);
	}
	pump_free(&p);

	/* a frame other than CONTINUATION inside a split block */
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	c.len = 0;
	preface(&c);
	blk.len = 0;
	req_block(&blk, "GET", "/one", "h");
	frame(&c, 0x1, 0x0, 1, blk.p, 4);
	frame(&c, 0x8, 0, 0, "\x00\x00\x10\x00", 4);
	pump_feed(&p, 0, c.p, c.len, 1);
	CHECK(p.error == 1 && p.st.protocol_errors == 1);
	pump_free(&p);
	buf_free(&c);
	buf_free(&blk);
}

/* Items of a connection as text, to compare runs. */
static void items_digest(const struct sink *sk, struct buf *out)
{
	char line[512];

	for (unsigned i = 0; i < sk->n && i < MAX_ITEMS; i++) {
		const struct kc_item *it = &sk->items[i];
		const struct kc_item_http *h = &it->u.http;
		int n = snprintf(line, sizeof(line), "%u|%u|%s|%s|%d|%s|%s|%d|%u|%u|%llu|%llu\n",
				 h->h2_stream_id, it->proto, V(it, h->method), V(it, h->url),
				 h->status, V(it, h->req_body), V(it, h->resp_body), h->grpc_status,
				 h->n_req_headers, h->n_resp_headers,
				 (unsigned long long)it->req_size, (unsigned long long)it->resp_size);

		buf_put(out, line, (size_t)n);
	}
}

/* The same connection split at every byte boundary gives the same items. */
static void test_every_split(void)
{
	struct buf c = { 0 }, s = { 0 }, blk = { 0 }, ref = { 0 }, got = { 0 }, pl = { 0 };
	struct pump p;
	int all_same = 1;

	preface(&c);
	frame(&s, 0x4, 0, 0, NULL, 0);
	grpc_req(&blk, "/a.B/C");
	hp_inc(&blk, "x-trace", "abcdef");
	frame(&c, 0x1, 0x0, 1, blk.p, 7);
	frame(&c, 0x9, 0x4, 1, blk.p + 7, blk.len - 7);
	buf_u8(&pl, 2);
	buf_put(&pl, "\x00\x00\x00\x00\x02hi", 7);
	buf_put(&pl, "\0\0", 2);
	frame(&c, 0x0, 0x8 | 0x1, 1, pl.p, pl.len);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_inc(&blk, "content-type", "application/grpc");
	headers(&s, 1, 0, &blk);
	frame(&s, 0x0, 0, 1, "\x00\x00\x00\x00\x03" "abc", 8);
	blk.len = 0;
	hp_lit(&blk, "grpc-status", "0");
	headers(&s, 1, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 3);
	hp_idx(&blk, 6);
	hp_lit(&blk, ":path", "/second");
	hp_idx(&blk, 62); /* x-trace */
	headers(&c, 3, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	hp_idx(&blk, 62); /* content-type from the s2c table */
	headers(&s, 3, 0, &blk);
	data(&s, 3, 1, "second-body");

	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	pump_feed(&p, 0, c.p, c.len, 1);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.sink.n == 2);
	items_digest(&p.sink, &ref);
	pump_free(&p);
	for (int dir = 0; dir < 2; dir++) {
		const struct buf *b = dir == 0 ? &c : &s;

		for (size_t k = 1; k < b->len; k++) {
			pump_init(&p, KC_HTTP2_MODE_PRIOR);
			if (dir == 0) {
				pump_feed(&p, 0, c.p, k, 1);
				pump_feed(&p, 0, c.p + k, c.len - k, 1);
				pump_feed(&p, 1, s.p, s.len, 2);
			} else {
				pump_feed(&p, 0, c.p, c.len, 1);
				pump_feed(&p, 1, s.p, k, 2);
				pump_feed(&p, 1, s.p + k, s.len - k, 2);
			}
			got.len = 0;
			items_digest(&p.sink, &got);
			if (got.len != ref.len || memcmp(got.p, ref.p, ref.len) != 0 || p.error)
				all_same = 0;
			pump_free(&p);
		}
	}
	CHECK(all_same);
	/* the dispatcher may feed a whole direction before the other: the
	 * server's bytes first still give the same items */
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	pump_feed(&p, 1, s.p, s.len, 2);
	CHECK(p.sink.n == 0);
	pump_feed(&p, 0, c.p, c.len, 1);
	got.len = 0;
	items_digest(&p.sink, &got);
	CHECK(p.error == 0);
	CHECK(got.len == ref.len && memcmp(got.p, ref.p, ref.len) == 0);
	CHECK(p.st.frames_untracked == 0);
	pump_free(&p);
	/* and byte by byte */
	pump_init(&p, KC_HTTP2_MODE_PRIOR);
	for (size_t k = 0; k < c.len; k++)
		pump_feed(&p, 0, c.p + k, 1, 1);
	for (size_t k = 0; k < s.len; k++)
		pump_feed(&p, 1, s.p + k, 1, 2);
	got.len = 0;
	items_digest(&p.sink, &got);
	CHECK(got.len == ref.len && memcmp(got.p, ref.p, ref.len) == 0);
	pump_free(&p);
	buf_free(&c);
	buf_free(&s);
	buf_free(&blk);
	buf_free(&ref);
	buf_free(&got);
	buf_free(&pl);
}

static void test_probe(void)
{
	static const uint8_t settings_ping[] = {
		0, 0, 0, 4, 0, 0, 0, 0, 0,
		0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
	};

	CHECK(kc_http2_probe((const uint8_t *)KC_HTTP2_PREFACE, 24) == KC_HTTP2_PROBE_YES);
	CHECK(kc_http2_probe((const uint8_t *)KC_HTTP2_PREFACE, 10) == KC_HTTP2_PROBE_NEED_MORE);
	CHECK(kc_http2_probe((const uint8_t *)"PRI * HTTP/1.1", 14) == KC_HTTP2_PROBE_NO);
	CHECK(kc_http2_probe((const uint8_t *)"GET /", 5) == KC_HTTP2_PROBE_NO);
	CHECK(kc_http2_probe_frames(settings_ping, sizeof(settings_ping)) == KC_HTTP2_PROBE_YES);
	CHECK(kc_http2_probe_frames(settings_ping, 9) == KC_HTTP2_PROBE_YES);
	CHECK(kc_http2_probe_frames(settings_ping, 15) == KC_HTTP2_PROBE_NEED_MORE);
	CHECK(kc_http2_probe_frames(settings_ping, 5) == KC_HTTP2_PROBE_NEED_MORE);
	CHECK(kc_http2_probe_frames((const uint8_t *)"GET / HTTP/1.1\r\n", 16) == KC_HTTP2_PROBE_NO);
	CHECK(kc_http2_flow_size() <= KC_HTTP2_FLOW_MAX_SIZE);
	/* every counter has a telemetry name, in struct order */
	{
		struct kc_http2_stats a = { 0 }, b = { 0 };

		CHECK(kc_http2_stats_count() * sizeof(uint64_t) == sizeof(a));
		CHECK(strcmp(kc_http2_stats_name(0), "http2.frames") == 0);
		CHECK(kc_http2_stats_name(kc_http2_stats_count()) == NULL);
		a.hpack_errors = 3;
		b.hpack_errors = 4;
		b.upgrades = 1;
		kc_http2_stats_add(&a, &b);
		for (unsigned i = 0; i < kc_http2_stats_count(); i++) {
			if (strcmp(kc_http2_stats_name(i), "http2.hpack_errors") == 0)
				CHECK(kc_http2_stats_get(&a, i) == 7);
			if (strcmp(kc_http2_stats_name(i), "http2.upgrades") == 0)
				CHECK(kc_http2_stats_get(&a, i) == 1);
		}
	}
	{
		char mem[16];

		errno = 0;
		CHECK(kc_http2_flow_init(mem, sizeof(mem), KC_HTTP2_MODE_PRIOR, NULL) == NULL);
		CHECK(errno == EINVAL);
	}
}

/* The dispatcher at a gap: held bytes are part of the hole. */
static void pump_gap(struct pump *p, int d, uint64_t gap)
{
	gap += p->pend[d].len;
	p->pend[d].len = 0;
	kc_http2_gap(p->f, (enum kc_dir)d, gap, &p->st);
}

/*
 * Client: POST /upload on stream 1 (its block inserts "x-token" into the
 * table), 200 bytes of DATA, a PING, DATA "tail" END_STREAM, then GET
 * /three on stream 3 (static and literal fields only) and GET /five on
 * stream 5 (refers to the inserted entry, index 62). Server: 200, 404, 200.
 */
struct gap_conv {
	struct buf c, s;
	size_t data_pl;   /* offset of stream 1's 200-byte DATA payload in c */
	size_t ping_pl;   /* offset of the PING payload in c */
};

static void gap_conv_build(struct gap_conv *g)
{
	struct buf blk = { 0 };
	char x[201];

	memset(g, 0, sizeof(*g));
	memset(x, 'x', 200);
	x[200] = '\0';
	preface(&g->c);
	req_block(&blk, "POST", "/upload", "example.com");
	hp_inc(&blk, "x-token", "secret");
	headers(&g->c, 1, 0, &blk);
	g->data_pl = g->c.len + 9;
	data(&g->c, 1, 0, x);
	g->ping_pl = g->c.len + 9;
	frame(&g->c, 0x6, 0, 0, "12345678", 8);
	data(&g->c, 1, 1, "tail");
	blk.len = 0;
	req_block(&blk, "GET", "/three", "example.com");
	headers(&g->c, 3, 1, &blk);
	blk.len = 0;
	req_block(&blk, "GET", "/five", "example.com");
	hp_idx(&blk, 62); /* x-token: secret, from stream 1's block */
	headers(&g->c, 5, 1, &blk);
	frame(&g->s, 0x4, 0, 0, NULL, 0);
	blk.len = 0;
	hp_idx(&blk, 8); /* :status 200 */
	headers(&g->s, 1, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 13); /* :status 404 */
	headers(&g->s, 3, 1, &blk);
	blk.len = 0;
	hp_idx(&blk, 8);
	headers(&g->s, 5, 1, &blk);
	buf_free(&blk);
}

static void test_gap(void)
{
	struct gap_conv g;
	const struct kc_item *it;

	gap_conv_build(&g);

	/* 1. The hole runs from inside stream 1's DATA into the PING: the
	 * frame boundary is lost, the client's HPACK table too. */
	{
		struct pump p;
		size_t cut1 = g.data_pl + 50, cut2 = g.ping_pl + 3;

		pump_init(&p, KC_HTTP2_MODE_PRIOR);
		pump_feed(&p, 0, g.c.p, cut1, 1000);
		pump_gap(&p, 0, cut2 - cut1);
		pump_feed(&p, 0, g.c.p + cut2, g.c.len - cut2, 2000);
		CHECK(p.error == 0);
		CHECK(p.sink.n == 0);
		pump_feed(&p, 1, g.s.p, g.s.len, 3000);
		CHECK(p.error == 0);
		CHECK(p.sink.n == 2);
		CHECK(p.st.gaps == 1 && p.st.gap_in_frame == 0);
		CHECK(p.st.resync_ok == 1 && p.st.resync_giveup == 0);
		CHECK(p.st.resync_skipped == 5); /* "45678" */
		CHECK(p.st.streams_gap == 1);
		CHECK(p.st.hpack_unknown_refs == 1); /* stream 5: no guess */
		it = &p.sink.items[0];
		CHECK(it->u.http.h2_stream_id == 1);
		/* body prefix shorter than the body: REQ_BODY_TRUNC */
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE | KC_ITEM_F_GAP |
				    KC_ITEM_F_REQ_BODY_TRUNC));
		CHECK(strcmp(V(it, it->u.http.method), "POST") == 0);
		CHECK(strcmp(V(it, it->u.http.path), "/upload") == 0);
		CHECK(strcmp(H(it, 0, "X-Token"), "secret") == 0);
		CHECK(it->u.http.status == 200);
		CHECK(it->u.http.req_body.len == 50); /* the prefix stops at the hole */
		CHECK(it->u.http.req_body_size == 54); /* bytes seen: 50 + "tail" */
		CHECK(it->ts_us == 1000 && it->resp_ts_us == 3000);
		it = &p.sink.items[1];
		CHECK(it->u.http.h2_stream_id == 3);
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
		CHECK(strcmp(V(it, it->u.http.method), "GET") == 0);
		CHECK(strcmp(V(it, it->u.http.url), "/three") == 0);
		CHECK(strcmp(V(it, it->u.http.host), "example.com") == 0);
		CHECK(it->u.http.status == 404);
		CHECK(strcmp(V(it, it->u.http.status_text), "Not Found") == 0);
		CHECK(it->ts_us == 2000 && it->resp_ts_us == 3000);
		CHECK(it->index == 1);
		pump_close(&p);
		CHECK(p.sink.n == 2);
		pump_free(&p);
	}

	/* 2. The hole ends inside the same DATA payload: framing and HPACK
	 * stay, stream 5 decodes, the body size counts the missing bytes. */
	{
		struct pump p;
		size_t cut1 = g.data_pl + 50, cut2 = g.data_pl + 150;

		pump_init(&p, KC_HTTP2_MODE_PRIOR);
		pump_feed(&p, 0, g.c.p, cut1, 1000);
		pump_gap(&p, 0, cut2 - cut1);
		pump_feed(&p, 0, g.c.p + cut2, g.c.len - cut2, 2000);
		pump_feed(&p, 1, g.s.p, g.s.len, 3000);
		CHECK(p.error == 0);
		CHECK(p.sink.n == 3);
		CHECK(p.st.gaps == 1 && p.st.gap_in_frame == 1 && p.st.resync_ok == 0);
		CHECK(p.st.hpack_unknown_refs == 0);
		it = &p.sink.items[0];
		CHECK(it->u.http.h2_stream_id == 1);
		/* body prefix shorter than the body: REQ_BODY_TRUNC */
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE | KC_ITEM_F_GAP |
				    KC_ITEM_F_REQ_BODY_TRUNC));
		CHECK(it->u.http.req_body.len == 50);
		CHECK(it->u.http.req_body_size == 204);
		CHECK(p.sink.items[1].u.http.h2_stream_id == 3);
		CHECK(p.sink.items[1].flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
		it = &p.sink.items[2];
		CHECK(it->u.http.h2_stream_id == 5);
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE));
		CHECK(strcmp(H(it, 0, "X-Token"), "secret") == 0);
		pump_free(&p);
	}

	/* 2b. The hole ends exactly at the end of that DATA payload: still in
	 * sync (the PING header is the next byte). */
	{
		struct pump p;
		size_t cut1 = g.data_pl + 50, cut2 = g.data_pl + 200;

		pump_init(&p, KC_HTTP2_MODE_PRIOR);
		pump_feed(&p, 0, g.c.p, cut1, 1000);
		pump_gap(&p, 0, cut2 - cut1);
		pump_feed(&p, 0, g.c.p + cut2, g.c.len - cut2, 2000);
		pump_feed(&p, 1, g.s.p, g.s.len, 3000);
		CHECK(p.error == 0);
		CHECK(p.sink.n == 3);
		CHECK(p.st.gap_in_frame == 1 && p.st.resync_ok == 0 && p.st.frames_ping == 1);
		CHECK(p.sink.items[0].u.http.req_body_size == 204);
		CHECK(p.sink.items[2].u.http.h2_stream_id == 5);
		pump_free(&p);
	}

	/* 3. Junk after the hole: given up after KC_HTTP2_RESYNC_MAX bytes;
	 * the server side goes on, stream 1 comes out at close. */
	{
		struct pump p;
		static uint8_t junk[KC_HTTP2_RESYNC_MAX + 100];
		size_t cut1 = g.data_pl + 50;

		memset(junk, 0xff, sizeof(junk));
		pump_init(&p, KC_HTTP2_MODE_PRIOR);
		pump_feed(&p, 0, g.c.p, cut1, 1000);
		pump_gap(&p, 0, 1000);
		pump_feed(&p, 0, junk, sizeof(junk), 2000);
		pump_feed(&p, 0, g.c.p + g.ping_pl + 8, g.c.len - g.ping_pl - 8, 2000);
		CHECK(p.error == 0);
		CHECK(p.pend[0].len == 0);
		CHECK(p.st.resync_giveup == 1 && p.st.resync_ok == 0);
		CHECK(p.st.resync_skipped == KC_HTTP2_RESYNC_MAX);
		pump_feed(&p, 1, g.s.p, g.s.len, 3000);
		CHECK(p.error == 0);
		CHECK(p.sink.n == 0);
		pump_close(&p);
		/* Streams 3 and 5 were answered but their requests never
		 * decoded: response-only, unfinished. */
		CHECK(p.sink.n == 3);
		it = &p.sink.items[0];
		CHECK(it->u.http.h2_stream_id == 1);
		CHECK(it->flags == (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE | KC_ITEM_F_GAP |
				    KC_ITEM_F_TIMEOUT));
		CHECK(it->u.http.req_body.len == 50 && it->u.http.req_body_size == 50);
		CHECK(p.sink.items[1].u.http.h2_stream_id == 3 &&
		      p.sink.items[1].u.http.status == 404);
		CHECK(p.sink.items[2].u.http.h2_stream_id == 5 &&
		      p.sink.items[2].u.http.status == 200);
		for (unsigned i = 1; i < 3; i++)
			CHECK(p.sink.items[i].flags ==
			      (KC_ITEM_F_RESPONSE | KC_ITEM_F_TIMEOUT | KC_ITEM_F_GAP));
		CHECK(p.st.streams_gap == 3);
		pump_free(&p);
	}

	/* 4. Every hole [k, k + 7) from inside stream 1's DATA to the end of
	 * the client bytes: never a false frame; stream 3 always comes out
	 * when its HEADERS was not in the hole. */
	{
		unsigned bad = 0;
		size_t h3 = g.ping_pl + 8 + 9 + 4; /* stream 3's HEADERS */

		for (size_t k = g.data_pl + 1; k + 7 <= g.c.len; k++) {
			struct pump p;
			int want3 = k + 7 <= h3;

			pump_init(&p, KC_HTTP2_MODE_PRIOR);
			pump_feed(&p, 0, g.c.p, k, 1000);
			pump_gap(&p, 0, 7);
			pump_feed(&p, 0, g.c.p + k + 7, g.c.len - k - 7, 2000);
			pump_feed(&p, 1, g.s.p, g.s.len, 3000);
			pump_close(&p);
			int got3 = 0;

			for (unsigned i = 0; i < p.sink.n && i < MAX_ITEMS; i++) {
				const struct kc_item *x = &p.sink.items[i];

				if (x->u.http.h2_stream_id == 3 && x->u.http.status == 404 &&
				    strcmp(V(x, x->u.http.url), "/three") == 0)
					got3 = 1;
				if (x->u.http.h2_stream_id != 1 && x->u.http.h2_stream_id != 3 &&
				    x->u.http.h2_stream_id != 5)
					got3 = -1; /* garbage stream */
			}
			if (p.error || got3 < 0 || (want3 && !got3)) {
				bad++;
				fprintf(stderr, "gap at %zu: error %d got3 %d items %u\n", k,
					p.error, got3, p.sink.n);
			}
			pump_free(&p);
		}
		CHECK(bad == 0);
	}
	buf_free(&g.c);
	buf_free(&g.s);
}

int main(void)
{
	test_probe();
	test_simple();
	test_interleaved();
	test_hpack_across_streams();
	test_continuation_padding();
	test_grpc();
	test_rst_and_close();
	test_continue();
	test_encoded_bodies();
	test_push();
	test_midstream();
	test_upgrade();
	test_limits();
	test_store_and_hb_limits();
	test_hpack_error();
	test_every_split();
	test_gap();
	printf("flow size %zu bytes\n", kc_http2_flow_size());
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
