/*
 * HTTP/1 dissection through the dispatcher: exact items for keep-alive,
 * pipelining, chunked bodies, HEAD/204/304/1xx/100-continue, close-delimited
 * bodies, gzip, canonical and repeated headers, query strings, cookies, gaps,
 * the L4 fallback, timeouts, and every segmentation of an exchange.
 */
#include <zlib.h>

#include "t_util.h"

static struct sink S;

#define C2S KC_DIR_C2S
#define S2C KC_DIR_S2C

static void feed(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir d,
		 const char *s, uint64_t ts)
{
	CHECK(kc_dissect_tcp_data(c, f, d, (const uint8_t *)s, (uint32_t)strlen(s), 0, ts) == 0);
}

static struct kc_dissect_flow *open_flow(struct kc_dissect_core *c, uint16_t port)
{
	struct kc_flow_info fi;

	t_flow_info(&fi, port, 6);
	memset(&S, 0, sizeof(S));
	return kc_dissect_flow_open(c, &fi, sink_emit, &S);
}

static const struct kc_kv *hdr(const struct kc_item *it, int resp, const char *name, int nth)
{
	const struct kc_item_http *h = &it->u.http;
	const struct kc_kv *kv = resp ? h->resp_headers : h->req_headers;
	unsigned n = resp ? h->n_resp_headers : h->n_req_headers;

	for (unsigned i = 0; i < n; i++)
		if (kc_item_str_eq(it, kv[i].name, name) && nth-- == 0)
			return &kv[i];
	return NULL;
}

static void test_simple(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 8080);
	const char *req = "GET /catalogue?size=5 HTTP/1.1\r\nHost: catalogue\r\n"
			  "user-agent: kube-probe/1.27\r\n\r\n";
	const char *resp = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
			   "Content-Length: 21\r\n\r\n{\"error\":\"disk full\"}";
	const struct kc_item *it;

	feed(c, f, C2S, req, 1678675066172000ull);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP);
	CHECK_EQ_U(S.n, 0);
	feed(c, f, S2C, resp, 1678675067406000ull);
	CHECK_EQ_U(S.n, 1);
	it = &S.items[0];
	CHECK_EQ_U(it->proto, KC_ITEM_HTTP);
	CHECK_EQ_U(it->flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	CHECK_EQ_U(it->index, 0);
	CHECK_EQ_U(it->stream_id, 7);
	CHECK_EQ_U(it->worker, 1);
	CHECK_EQ_U(it->src_port, 40000);
	CHECK_EQ_U(it->dst_port, 8080);
	CHECK_STR(it, it->u.http.method, "GET");
	CHECK_STR(it, it->u.http.url, "/catalogue?size=5");
	CHECK_STR(it, it->u.http.path, "/catalogue");
	CHECK_STR(it, it->u.http.version, "HTTP/1.1");
	CHECK_STR(it, it->u.http.host, "catalogue");
	CHECK_EQ_U(it->u.http.n_req_headers, 2);
	CHECK_STR(it, it->u.http.req_headers[1].name, "User-Agent");
	CHECK_STR(it, it->u.http.req_headers[1].value, "kube-probe/1.27");
	CHECK_EQ_U(it->u.http.n_query, 1);
	CHECK_STR(it, it->u.http.query[0].name, "size");
	CHECK_STR(it, it->u.http.query[0].value, "5");
	CHECK_EQ_U(it->u.http.status, 503);
	CHECK_STR(it, it->u.http.status_text, "Service Unavailable");
	CHECK_STR(it, it->u.http.resp_headers[0].name, "Content-Type");
	CHECK_STR(it, it->u.http.resp_mime, "application/json");
	CHECK_STR(it, it->u.http.resp_body, "{\"error\":\"disk full\"}");
	CHECK_EQ_U(it->u.http.resp_body_size, 21);
	CHECK_EQ_U(it->u.http.req_body_size, 0);
	CHECK_EQ_U(it->u.http.req_headers_size, strlen(req));
	CHECK_EQ_U(it->u.http.resp_headers_size, strlen(resp) - 21);
	CHECK_EQ_U(it->req_size, strlen(req));
	CHECK_EQ_U(it->resp_size, strlen(resp));
	CHECK_EQ_U(it->ts_us, 1678675066172000ull);
	CHECK_EQ_U(kc_item_elapsed_ms(it), 1234);
	kc_dissect_flow_close(c, f, 1678675068000000ull);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->proto[KC_ITEM_HTTP].items, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.requests, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.responses, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->flows_closed, 1);
	kc_dissect_core_destroy(c);
}

/* Feed @p req and @p resp each split in two at @p cut (0: whole). */
static char *exchange_json(const char *req, const char *resp, size_t cut, int *nitems)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	size_t rl = strlen(req), sl = strlen(resp);
	size_t a = cut < rl ? cut : rl, b = cut < sl ? cut : sl;
	char *js;

	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)req, (uint32_t)a, 0, 1000000);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)req + a, (uint32_t)(rl - a), 0, 1000000);
	kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)resp, (uint32_t)b, 0, 2000000);
	kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)resp + b, (uint32_t)(sl - b), 0, 2000000);
	kc_dissect_flow_close(c, f, 3000000);
	*nitems = S.n;
	js = S.n >= 1 ? t_json(&S.items[0]) : NULL;
	kc_dissect_core_destroy(c);
	return js;
}

static void test_every_split(void)
{
	static const char req[] =
		"POST /api/v1/items?x=1&x=2&y=%41+b HTTP/1.1\r\nHost: example\r\n"
		"Cookie: a=1; b=\"two\"\r\nTransfer-Encoding: chunked\r\n"
		"content-type: text/plain\r\n\r\n"
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
	static const char resp[] =
		"HTTP/1.1 201 Created\r\nSet-Cookie: sid=abc; Path=/\r\nX-Multi: 1\r\n"
		"x-multi: 2\r\nContent-Length: 11\r\n\r\nhello world";
	int n0, n;
	char *ref = exchange_json(req, resp, 0, &n0);
	int same = 1;

	CHECK(ref != NULL);
	CHECK_EQ_U(n0, 1);
	CHECK(ref != NULL && strstr(ref, "\"queryString\":{\"x\":[\"1\",\"2\"],\"y\":\"A b\"}"));
	CHECK(ref != NULL && strstr(ref, "\"cookies\":{\"a\":\"1\",\"b\":\"two\"}"));
	CHECK(ref != NULL && strstr(ref, "\"cookies\":{\"sid\":\"abc\"}"));
	CHECK(ref != NULL && strstr(ref, "\"X-Multi\":\"1,2\""));
	CHECK(ref != NULL && strstr(ref, "\"postData\":{\"mimeType\":\"text/plain\",\"text\":\"hello world\"}"));
	/* base64("hello world") */
	CHECK(ref != NULL && strstr(ref, "\"text\":\"aGVsbG8gd29ybGQ=\""));
	CHECK(ref != NULL && strstr(ref, "\"status\":201"));
	for (size_t cut = 1; ref != NULL && cut < sizeof(resp) + sizeof(req); cut++) {
		char *js = exchange_json(req, resp, cut, &n);

		if (js == NULL || n != 1 || strcmp(js, ref) != 0) {
			fprintf(stderr, "split at %zu differs:\n%s\n%s\n", cut, js ? js : "(null)",
				ref);
			same = 0;
			free(js);
			break;
		}
		free(js);
	}
	CHECK(same);
	free(ref);
}

/* Feed @p req and @p resp in segments of @p seg bytes (0: whole); return
 * the first item's JSON and the item count. */
static char *exchange_json_seg(const char *req, const char *resp, size_t seg, int *nitems)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	const char *m[2] = { req, resp };
	char *js;

	for (int k = 0; k < 2; k++) {
		size_t n = strlen(m[k]), step = seg ? seg : n;

		for (size_t o = 0; o < n; o += step)
			kc_dissect_tcp_data(c, f, k ? S2C : C2S, (const uint8_t *)m[k] + o,
					    (uint32_t)(n - o < step ? n - o : step), 0,
					    k ? 2000000 : 1000000);
	}
	kc_dissect_flow_close(c, f, 3000000);
	*nitems = S.n;
	js = S.n >= 1 ? t_json(&S.items[0]) : NULL;
	kc_dissect_core_destroy(c);
	return js;
}

/* Line ends and colons found by 16-byte loads: lines and names of 15, 16
 * and 17 bytes, a colon past the first 16 bytes, bare LF, a CR alone before
 * the LF, lines longer than 64 bytes, a 3000-byte value; fed whole, one
 * byte per segment, and in segments of 15, 16, 17 and 63 bytes: the same
 * item every time. */
static void test_line_boundaries(void)
{
	static char req[4096], resp[4096];
	static const size_t segs[] = { 1, 2, 3, 15, 16, 17, 63, 64, 65 };
	char big[3001];
	int n0, n;
	char *ref;
	int same = 1;

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(req, sizeof(req),
		 "GET /p/0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		 "?q=%%41 HTTP/1.1\r\n"
		 "Host: h\r\n"
		 "A:1\n"                    /* bare LF */
		 "Abcdefghijklmno: 15\r\n"  /* 15-byte name: colon at 15 */
		 "Abcdefghijklmnop: 16\r\n" /* colon at 16, the next load */
		 "X-0123456789abcdefghij: long name\r\n"
		 "X-Big: %s\r\n"
		 "x-space  :  padded  \r\n"
		 "NoColonHereAtAllInThisLine\r\n"
		 "Accept: */*\r\n"
		 "User-Agent: agent/1 (a long user agent string, longer than sixty-four bytes)\r\n"
		 "\r\n", big);
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\n"
		 "Content-Type: text/plain\r\n"
		 "Etag: \"x\"\r\n"
		 "ETag: \"y\"\r\n"
		 "Content-Length: 5\r\n"
		 "\n"
		 "hello");
	ref = exchange_json_seg(req, resp, 0, &n0);
	CHECK(ref != NULL);
	CHECK_EQ_U(n0, 1);
	CHECK(ref != NULL && strstr(ref, "\"Abcdefghijklmno\":\"15\""));
	CHECK(ref != NULL && strstr(ref, "\"Abcdefghijklmnop\":\"16\""));
	CHECK(ref != NULL && strstr(ref, "\"X-0123456789abcdefghij\":\"long name\""));
	CHECK(ref != NULL && strstr(ref, "\"X-Space\":\"padded\""));
	CHECK(ref != NULL && strstr(ref, "\"A\":\"1\""));
	CHECK(ref != NULL && strstr(ref, "\"Etag\":\"\\\"x\\\",\\\"y\\\"\""));
	CHECK(ref != NULL && strstr(ref, "\"q\":\"A\""));
	CHECK(ref != NULL && strstr(ref, "\"status\":200"));
	CHECK(ref != NULL && strstr(ref, big));
	for (size_t k = 0; ref != NULL && k < sizeof(segs) / sizeof(segs[0]); k++) {
		char *js = exchange_json_seg(req, resp, segs[k], &n);

		if (js == NULL || n != 1 || strcmp(js, ref) != 0) {
			fprintf(stderr, "segments of %zu differ:\n%s\n%s\n", segs[k],
				js ? js : "(null)", ref);
			same = 0;
		}
		free(js);
	}
	CHECK(same);
	free(ref);
}

/* Header names sent in the spellings http1.c recognises as canonical are
 * stored as sent only because they are canonical: each must come out as
 * kc_item_canon_header() makes it, sent as is and in lower case. Keep this
 * list in step with hdr_kind(). */
static void test_known_header_names(void)
{
	static const char *const names[] = {
		"Host", "Cookie", "Upgrade", "Set-Cookie", "Content-Type", "Content-Length",
		"Content-Encoding", "Transfer-Encoding", "User-Agent", "Accept", "Connection",
		"Date", "Server", "Cache-Control", "Accept-Encoding", "Accept-Language",
		"Authorization", "Referer", "Origin", "Vary", "Location", "Last-Modified",
		"Expires", "Pragma", "Keep-Alive", "X-Forwarded-For", "X-Powered-By",
		"Accept-Ranges", "If-None-Match", "If-Modified-Since", "Content-Disposition",
		"Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options",
		"X-Request-Id", "X-Real-Ip", "Expect", "Range", "Allow", "Link", "Age", "Via",
		"Content-Language", "Content-Location", "Content-Range",
		"Access-Control-Allow-Origin", "Etag",
	};

	for (int lower = 0; lower < 2; lower++) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			struct kc_dissect_core *c = t_core(4096);
			struct kc_dissect_flow *f = open_flow(c, 80);
			char req[256], name[64], want[64];
			const struct kc_item *it;
			/* Values that keep the framing as it is. */
			const char *val = strcmp(names[i], "Content-Length") == 0 ? "0"
					  : strcmp(names[i], "Transfer-Encoding") == 0 ||
					    strcmp(names[i], "Upgrade") == 0 ||
					    strcmp(names[i], "Content-Encoding") == 0 ? "identity"
					  : "v";

			snprintf(name, sizeof(name), "%s", names[i]);
			if (lower)
				for (char *q = name; *q; q++)
					if (*q >= 'A' && *q <= 'Z')
						*q = (char)(*q - 'A' + 'a');
			snprintf(want, sizeof(want), "%s", names[i]);
			kc_item_canon_header(want, strlen(want));
			CHECK(strcmp(want, names[i]) == 0);
			snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n%s: %s\r\n\r\n", name, val);
			feed(c, f, C2S, req, 1);
			feed(c, f, S2C, "HTTP/1.1 204 No Content\r\n\r\n", 2);
			CHECK_EQ_U(S.n, 1);
			it = &S.items[0];
			CHECK_EQ_U(it->u.http.n_req_headers, 1);
			CHECK_STR(it, it->u.http.req_headers[0].name, want);
			kc_dissect_flow_close(c, f, 3);
			kc_dissect_core_destroy(c);
		}
	}
}

static void test_pipelined_chunked(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	feed(c, f, C2S,
	     "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	     "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
	     "GET /c HTTP/1.1\r\nHost: h\r\n\r\n", 100);
	CHECK_EQ_U(S.n, 0);
	feed(c, f, S2C,
	     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
	     "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "2\r\nBB\r\n1\r\nB\r\n0\r\n\r\n"
	     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nCCC", 200);
	CHECK_EQ_U(S.n, 3);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/a");
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_STR(&S.items[0], S.items[0].u.http.resp_body, "A");
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/b");
	CHECK_EQ_U(S.items[1].u.http.status, 404);
	CHECK_STR(&S.items[1], S.items[1].u.http.resp_body, "BBB");
	CHECK_EQ_U(S.items[1].u.http.resp_body_size, 3);
	CHECK_STR(&S.items[2], S.items[2].u.http.path, "/c");
	CHECK_EQ_U(S.items[2].u.http.status, 500);
	CHECK_STR(&S.items[2], S.items[2].u.http.resp_body, "CCC");
	for (int i = 0; i < 3; i++)
		CHECK_EQ_U(S.items[i].index, i);
	kc_dissect_flow_close(c, f, 300);
	CHECK_EQ_U(S.n, 3);
	kc_dissect_core_destroy(c);
}

static void test_no_body_cases(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	/* HEAD with a Content-Length, 204, 304: none has a body, so the next
	 * status line is read as the next response. */
	feed(c, f, C2S,
	     "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n"
	     "DELETE /d HTTP/1.1\r\nHost: h\r\n\r\n"
	     "GET /n HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"
	     "GET /last HTTP/1.1\r\n\r\n", 10);
	feed(c, f, S2C,
	     "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	     "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 304 Not Modified\r\nContent-Length: 55\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 20);
	CHECK_EQ_U(S.n, 4);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_EQ_U(S.items[0].u.http.resp_body_size, 0);
	CHECK_EQ_U(S.items[1].u.http.status, 204);
	CHECK_EQ_U(S.items[2].u.http.status, 304);
	CHECK_EQ_U(S.items[2].u.http.resp_body_size, 0);
	CHECK_STR(&S.items[3], S.items[3].u.http.path, "/last");
	CHECK_STR(&S.items[3], S.items[3].u.http.resp_body, "ok");
	kc_dissect_flow_close(c, f, 30);
	kc_dissect_core_destroy(c);
}

static void test_100_continue(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	feed(c, f, C2S, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 10);
	feed(c, f, S2C, "HTTP/1.1 100 Continue\r\n\r\n", 20);
	CHECK_EQ_U(S.n, 0); /* the interim response does not complete it */
	feed(c, f, C2S, "data", 30);
	feed(c, f, S2C, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 40);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_STR(&S.items[0], S.items[0].u.http.req_body, "data");
	CHECK_EQ_U(S.items[0].u.http.req_body_size, 4);
	CHECK_EQ_U(S.items[0].resp_ts_us, 40);
	CHECK_EQ_U(kc_dissect_stats(c)->http.interim, 2);
	kc_dissect_flow_close(c, f, 50);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_core_destroy(c);
}

static void test_keepalive_and_close_body(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	feed(c, f, C2S, "GET /1 HTTP/1.1\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 2);
	feed(c, f, C2S, "GET /2 HTTP/1.0\r\nConnection: close\r\n\r\n", 3);
	feed(c, f, S2C, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", 4);
	feed(c, f, S2C, "</html>", 5);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_flow_close(c, f, 6);
	CHECK_EQ_U(S.n, 2);
	CHECK_EQ_U(S.items[1].index, 1);
	CHECK_STR(&S.items[1], S.items[1].u.http.version, "HTTP/1.0");
	CHECK_STR(&S.items[1], S.items[1].u.http.resp_body, "<html></html>");
	CHECK_EQ_U(S.items[1].u.http.resp_body_size, 13);
	CHECK_EQ_U(S.items[1].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	kc_dissect_core_destroy(c);
}

/* gzip: 1 gzip, 0 zlib, -1 raw DEFLATE */
static size_t gz(const void *in, size_t n, uint8_t *out, size_t cap, int gzip)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, gzip > 0 ? 15 + 16 : gzip == 0 ? 15 : -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	deflate(&zs, Z_FINISH);
	n = zs.total_out;
	deflateEnd(&zs);
	return n;
}

static void test_gzip(void)
{
	static uint8_t plain[100000], comp[120000];
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	char head[256];
	size_t cn;
	const struct kc_item *it;
	int ok = 1;

	for (size_t i = 0; i < 300; i++)
		plain[i] = (uint8_t)('a' + i % 26);
	cn = gz(plain, 300, comp, sizeof(comp), 1);
	CHECK(cn > 0);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", cn);
	feed(c, f, C2S, "GET /z HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n", 1);
	feed(c, f, S2C, head, 2);
	/* compressed body in 7-byte pieces */
	for (size_t o = 0; o < cn; o += 7)
		kc_dissect_tcp_data(c, f, S2C, comp + o, (uint32_t)KC_MIN((size_t)7, cn - o), 0, 3);
	CHECK_EQ_U(S.n, 1);
	it = &S.items[0];
	CHECK_EQ_U(it->u.http.resp_body.len, 300);
	CHECK(memcmp(kc_item_str(it, it->u.http.resp_body), plain, 300) == 0);
	CHECK_EQ_U(it->u.http.resp_body_size, cn);
	CHECK(!(it->flags & KC_ITEM_F_RESP_BODY_TRUNC));

	/* A bomb: 100000 zero bytes deflate (zlib format) to ~100 bytes; only
	 * the prefix is produced, and the exchange still completes. */
	memset(plain, 0, sizeof(plain));
	cn = gz(plain, sizeof(plain), comp, sizeof(comp), 0);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n", cn);
	feed(c, f, C2S, "GET /bomb HTTP/1.1\r\n\r\n", 4);
	feed(c, f, S2C, head, 5);
	kc_dissect_tcp_data(c, f, S2C, comp, (uint32_t)cn, 0, 6);
	CHECK_EQ_U(S.n, 2);
	it = &S.items[1];
	CHECK_EQ_U(it->u.http.resp_body.len, KC_ITEM_BODY_PREFIX);
	for (unsigned i = 0; i < it->u.http.resp_body.len; i++)
		ok &= kc_item_str(it, it->u.http.resp_body)[i] == 0;
	CHECK(ok);
	CHECK(it->flags & KC_ITEM_F_RESP_BODY_TRUNC);
	/* Corrupt gzip: counted, no crash, exchange completes. */
	feed(c, f, C2S, "GET /bad HTTP/1.1\r\n\r\n", 7);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\n", 8);
	/* a valid gzip header, then a deflate block of reserved type 3 */
	kc_dissect_tcp_data(c, f, S2C,
			    (const uint8_t *)"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x07\xff",
			    12, 0, 8);
	CHECK_EQ_U(S.n, 3);
	CHECK_EQ_U(kc_dissect_stats(c)->http.inflate_errors, 1);

	/* gzip inside chunked framing, chunks cut across the gzip stream */
	for (size_t i = 0; i < 1500; i++)
		plain[i] = (uint8_t)("lorem ipsum dolor "[i % 18]);
	cn = gz(plain, 1500, comp, sizeof(comp), 1);
	feed(c, f, C2S, "GET /chunked-gz HTTP/1.1\r\n\r\n", 10);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n", 11);
	for (size_t o = 0; o < cn; o += 5) {
		size_t k = KC_MIN((size_t)5, cn - o);

		snprintf(head, sizeof(head), "%zx\r\n", k);
		feed(c, f, S2C, head, 12);
		kc_dissect_tcp_data(c, f, S2C, comp + o, (uint32_t)k, 0, 12);
		feed(c, f, S2C, "\r\n", 12);
	}
	feed(c, f, S2C, "0\r\n\r\n", 13);
	CHECK_EQ_U(S.n, 4);
	it = &S.items[3];
	CHECK_EQ_U(it->u.http.resp_body.len, 1500);
	CHECK(memcmp(kc_item_str(it, it->u.http.resp_body), plain, 1500) == 0);
	CHECK_EQ_U(it->u.http.resp_body_size, cn);

	/* "deflate" sent as raw DEFLATE (no zlib header) still decodes */
	cn = gz(plain, 700, comp, sizeof(comp), -1);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n", cn);
	feed(c, f, C2S, "GET /raw HTTP/1.1\r\n\r\n", 14);
	feed(c, f, S2C, head, 15);
	kc_dissect_tcp_data(c, f, S2C, comp, (uint32_t)cn, 0, 16);
	CHECK_EQ_U(S.n, 5);
	it = &S.items[4];
	CHECK_EQ_U(it->u.http.resp_body.len, 700);
	CHECK(memcmp(kc_item_str(it, it->u.http.resp_body), plain, 700) == 0);
	CHECK_EQ_U(kc_dissect_stats(c)->http.inflate_errors, 1);
	kc_dissect_flow_close(c, f, 17);
	kc_dissect_core_destroy(c);
}

static void test_headers_canon_repeats(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	const struct kc_item *it;
	char *js;

	feed(c, f, C2S,
	     "GET /x HTTP/1.1\r\ncontent-type: a\r\nx-forwarded-FOR: 1.1.1.1\r\n"
	     "X-FORWARDED-for: 2.2.2.2\r\nweird key: v\r\nFolded: one\r\n two\r\n"
	     "no-colon-line\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 302 Found\r\nLocation: /y\r\nContent-Length: 0\r\n\r\n", 2);
	CHECK_EQ_U(S.n, 1);
	it = &S.items[0];
	CHECK_EQ_U(it->u.http.n_req_headers, 5);
	CHECK(hdr(it, 0, "Content-Type", 0) != NULL);
	CHECK(hdr(it, 0, "X-Forwarded-For", 0) != NULL);
	CHECK(hdr(it, 0, "X-Forwarded-For", 1) != NULL);
	CHECK_STR(it, hdr(it, 0, "X-Forwarded-For", 1)->value, "2.2.2.2");
	CHECK(hdr(it, 0, "weird key", 0) != NULL); /* not a token: left as sent */
	CHECK_STR(it, hdr(it, 0, "Folded", 0)->value, "one two");
	CHECK_EQ_U(kc_dissect_stats(c)->http.bad_header_line, 1);
	js = t_json(it);
	CHECK(js != NULL && strstr(js, "\"X-Forwarded-For\":\"1.1.1.1,2.2.2.2\""));
	CHECK(js != NULL && strstr(js, "\"redirectURL\":\"/y\""));
	free(js);
	kc_dissect_flow_close(c, f, 3);
	kc_dissect_core_destroy(c);
}

static void test_gap_in_body(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	feed(c, f, C2S, "GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 2);
	/* 50 body bytes lost, the remaining 40 arrive, then the next response */
	kc_dissect_tcp_data(c, f, S2C,
			    (const uint8_t *)"abcdefghijabcdefghijabcdefghijabcdefghij"
					     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
			    40 + 45, 50, 3);
	CHECK_EQ_U(S.n, 2);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK(S.items[0].flags & KC_ITEM_F_GAP);
	CHECK_EQ_U(S.items[0].u.http.resp_body_size, 100);
	CHECK_STR(&S.items[0], S.items[0].u.http.resp_body, "0123456789");
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/next");
	CHECK_EQ_U(S.items[1].u.http.status, 404);
	CHECK(!(S.items[1].flags & KC_ITEM_F_GAP));
	CHECK_EQ_U(kc_dissect_stats(c)->http.gap_in_body, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->proto[KC_ITEM_HTTP].gaps, 1);
	kc_dissect_flow_close(c, f, 4);
	kc_dissect_core_destroy(c);
}

static void test_gap_in_header(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	const char *r2 = "xx-tail-of-lost-header\r\n\r\nPOST /two HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";

	feed(c, f, C2S, "GET /one HTTP/1.1\r\nHost: a\r\nUser-Ag", 1);
	/* a hole inside the header block, then the tail and a second request */
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)r2, (uint32_t)strlen(r2), 30, 2);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 3);
	CHECK_EQ_U(S.n, 2);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/one");
	CHECK(S.items[0].flags & KC_ITEM_F_GAP);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/two");
	CHECK_STR(&S.items[1], S.items[1].u.http.req_body, "hi");
	CHECK_EQ_U(S.items[1].u.http.status, 201);
	CHECK_EQ_U(kc_dissect_stats(c)->http.gap_resync, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.resync_ok, 1);
	kc_dissect_flow_close(c, f, 4);
	kc_dissect_core_destroy(c);
}

static void test_garbage_is_tcp(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 5432);
	static const uint8_t pg[] = { 0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f, 'x', 'y' };

	kc_dissect_tcp_data(c, f, C2S, pg, sizeof(pg), 0, 77);
	CHECK_EQ_U(S.n, 1); /* at first data */
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_TCP);
	CHECK_EQ_U(S.items[0].dst_port, 5432);
	CHECK_EQ_U(S.items[0].ts_us, 77);
	CHECK_EQ_U(S.items[0].req_size, sizeof(pg));
	kc_dissect_tcp_data(c, f, S2C, pg, sizeof(pg), 0, 78);
	kc_dissect_flow_close(c, f, 79);
	CHECK_EQ_U(S.n, 1); /* exactly one */
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_TCP);

	/* Looks like HTTP at first ("GET "), then is not: still one TCP item. */
	f = open_flow(c, 80);
	feed(c, f, C2S, "GET \x01\x02\x03 not http\r\n\r\n", 1);
	kc_dissect_flow_close(c, f, 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_TCP);

	/* Too short to decide, then the flow ends: the L4 item at close. */
	f = open_flow(c, 80);
	feed(c, f, C2S, "GE", 1);
	CHECK_EQ_U(S.n, 0);
	kc_dissect_flow_close(c, f, 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_TCP);
	/* No data at all: no item. */
	f = open_flow(c, 80);
	kc_dissect_flow_close(c, f, 2);
	CHECK_EQ_U(S.n, 0);
	kc_dissect_core_destroy(c);
}

static void test_timeouts(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	const struct kc_dissect_stats *st = kc_dissect_stats(c);

	feed(c, f, C2S, "GET /slow HTTP/1.1\r\n\r\n", 1000);
	CHECK_EQ_U(kc_dissect_tick(c, 1000 + KC_DISSECT_DEFAULT_TIMEOUT_US - 1, 100), 0);
	CHECK_EQ_U(kc_dissect_tick(c, 1000 + KC_DISSECT_DEFAULT_TIMEOUT_US, 100), 1);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	/* its late response is dropped, not mispaired with the next request */
	feed(c, f, C2S, "GET /fast HTTP/1.1\r\n\r\n", 50000000);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 50000001);
	CHECK_EQ_U(S.n, 2);
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/fast");
	CHECK_EQ_U(S.items[1].u.http.status, 202);
	CHECK_EQ_U(st->http.late_responses, 1);
	/* unanswered at close */
	feed(c, f, C2S, "GET /never HTTP/1.1\r\n\r\n", 50000002);
	kc_dissect_flow_close(c, f, 50000003);
	CHECK_EQ_U(S.n, 3);
	CHECK_EQ_U(S.items[2].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK_EQ_U(st->http.timeouts, 2);
	kc_dissect_core_destroy(c);
}

static void test_response_only_and_overflow(void)
{
	struct kc_dissect_core *c = t_core(256);
	struct kc_dissect_flow *f = open_flow(c, 80);
	char big[600];

	/* Joined mid-stream: a response without its request. */
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 5);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].flags, KC_ITEM_F_RESPONSE);
	CHECK_EQ_U(kc_dissect_stats(c)->http.resp_only, 1);
	/* A header line longer than the 256-byte pending buffer, split: the
	 * buffer overflows, the request is cut (gap), the next one is found. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /long HTTP/1.1\r\nX-Long: ", 28);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)big, 200, 0, 6);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)big + 200, 200, 0, 6);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)big + 400, 200, 0, 6);
	feed(c, f, C2S, "\r\n\r\nGET /after HTTP/1.1\r\n\r\n", 7);
	feed(c, f, S2C, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 8);
	CHECK_EQ_U(kc_dissect_stats(c)->pending_overflow, 1);
	CHECK_EQ_U(S.n, 3);
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/long");
	CHECK(S.items[1].flags & KC_ITEM_F_GAP);
	CHECK_STR(&S.items[2], S.items[2].u.http.path, "/after");
	CHECK_EQ_U(S.items[2].u.http.status, 200);
	kc_dissect_flow_close(c, f, 9);
	kc_dissect_core_destroy(c);
}

static void test_upgrades(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	feed(c, f, C2S, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 101);
	feed(c, f, C2S, "\x81\x85....garbage", 3);
	kc_dissect_flow_close(c, f, 4);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.upgrade_other, 1);

	/* CONNECT tunnel: TLS bytes after the 200 are not dissected. */
	f = open_flow(c, 3128);
	feed(c, f, C2S, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 200 Connection established\r\n\r\n", 2);
	feed(c, f, C2S, "\x16\x03\x01\x00\x05hello", 3);
	kc_dissect_flow_close(c, f, 4);
	CHECK_EQ_U(S.n, 1);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "example.com:443");
	CHECK_EQ_U(kc_dissect_stats(c)->http.connect_tunnel, 1);
	kc_dissect_core_destroy(c);
}

static void test_early_response_and_forms(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);

	/* The server refuses before the body is complete (413): one item
	 * with what the request had; the rest of its body is skipped. */
	feed(c, f, C2S, "POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123", 1);
	feed(c, f, S2C, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n", 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 413);
	CHECK_STR(&S.items[0], S.items[0].u.http.req_body, "0123");
	CHECK_EQ_U(S.items[0].u.http.req_body_size, 4);
	feed(c, f, C2S, "456789", 3);
	/* absolute-form target (proxy), encoded path, TE list ending in chunked */
	feed(c, f, C2S, "GET http://example.com/a%20b/c?q=%7e HTTP/1.1\r\n"
			"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 4);
	feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	CHECK_EQ_U(S.n, 2);
	CHECK_STR(&S.items[1], S.items[1].u.http.url, "http://example.com/a%20b/c?q=%7e");
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/a b/c");
	CHECK_STR(&S.items[1], S.items[1].u.http.query[0].value, "~");
	CHECK_EQ_U(S.items[1].u.http.req_body_size, 0);
	CHECK_EQ_U(S.items[1].u.http.status, 200);
	/* conflicting Content-Length values: framing error, resync at the
	 * next line that is a request line */
	feed(c, f, C2S, "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!\r\n"
			"GET /y HTTP/1.1\r\n\r\n", 6);
	feed(c, f, S2C, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 7);
	CHECK_EQ_U(kc_dissect_stats(c)->http.err_content_length, 1);
	CHECK_EQ_U(S.n, 4);
	CHECK(S.items[2].flags & KC_ITEM_F_GAP);
	CHECK_STR(&S.items[3], S.items[3].u.http.path, "/y");
	kc_dissect_flow_close(c, f, 8);
	kc_dissect_core_destroy(c);
}

/* HTTP/0.9 (RFC 1945 4.1): "GET /path" without a version, a raw answer
 * running to the close (the request of tcp.stream 2 of
 * zeek-mixed-vlan-mpls.pcap, bytes as captured). */
static void test_http09(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80);
	const struct kc_item *it;
	char *js;

	feed(c, f, C2S, "GET /\r\n\r\n", 10);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP);
	feed(c, f, S2C, "<!DOCTYPE HTML PUBLIC>\n", 20);
	feed(c, f, S2C, "<p>hi</p>", 30);
	CHECK_EQ_U(S.n, 0);
	kc_dissect_flow_close(c, f, 40);
	CHECK_EQ_U(S.n, 1);
	it = &S.items[0];
	CHECK_EQ_U(it->proto, KC_ITEM_HTTP);
	CHECK_EQ_U(it->flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	CHECK_STR(it, it->u.http.method, "GET");
	CHECK_STR(it, it->u.http.url, "/");
	CHECK_STR(it, it->u.http.path, "/");
	CHECK_STR(it, it->u.http.version, "HTTP/0.9");
	CHECK_EQ_U(it->u.http.n_req_headers, 0);
	CHECK_EQ_U(it->u.http.status, 0);
	CHECK_EQ_U(it->u.http.status_text.len, 0);
	CHECK_EQ_U(it->u.http.n_resp_headers, 0);
	CHECK_STR(it, it->u.http.resp_body, "<!DOCTYPE HTML PUBLIC>\n<p>hi</p>");
	CHECK_EQ_U(it->u.http.resp_body_size, 32);
	CHECK_EQ_U(it->u.http.req_body_size, 0);
	CHECK_EQ_U(it->req_size, 7);
	CHECK_EQ_U(it->resp_size, 32);
	CHECK_EQ_U(it->u.http.req_headers_size, 7);
	CHECK_EQ_U(it->u.http.resp_headers_size, 0);
	CHECK_EQ_U(it->ts_us, 10);
	CHECK_EQ_U(it->resp_ts_us, 20);
	CHECK_EQ_U(kc_dissect_stats(c)->http.requests, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.responses, 1);
	js = t_json(it);
	CHECK(js != NULL && strstr(js, "\"httpVersion\":\"HTTP/0.9\"") != NULL);
	CHECK(js != NULL && strstr(js, "\"status\":0,") != NULL);
	free(js);
	kc_dissect_core_destroy(c);

	/* Path with a query, and a server that answers with a status line. */
	c = t_core(4096);
	f = open_flow(c, 80);
	feed(c, f, C2S, "GET /a%20b?x=1\r\n", 1);
	feed(c, f, S2C, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
	CHECK_EQ_U(S.n, 1);
	it = &S.items[0];
	CHECK_STR(it, it->u.http.version, "HTTP/0.9");
	CHECK_STR(it, it->u.http.path, "/a b");
	CHECK_EQ_U(it->u.http.n_query, 1);
	CHECK_EQ_U(it->u.http.status, 200);
	CHECK_STR(it, it->u.http.resp_body, "ok");
	kc_dissect_flow_close(c, f, 3);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_core_destroy(c);

	/* Only GET exists in 0.9: "POST /x" alone is not HTTP. */
	c = t_core(4096);
	f = open_flow(c, 80);
	feed(c, f, C2S, "POST /x\r\n\r\n", 1);
	kc_dissect_flow_close(c, f, 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_TCP);
	kc_dissect_core_destroy(c);

	/* The raw answer split so its first bytes could be "HTTP/1." : held
	 * until it can tell. */
	c = t_core(4096);
	f = open_flow(c, 80);
	feed(c, f, C2S, "GET /\r\n", 1);
	feed(c, f, S2C, "HTT", 2);
	feed(c, f, S2C, "X raw", 3);
	kc_dissect_flow_close(c, f, 4);
	CHECK_EQ_U(S.n, 1);
	CHECK_STR(&S.items[0], S.items[0].u.http.resp_body, "HTTX raw");
	CHECK_EQ_U(S.items[0].u.http.status, 0);
	CHECK_EQ_U(S.items[0].resp_ts_us, 3);
	kc_dissect_core_destroy(c);
}

/* request.path shares the url's bytes when it needs no decoding: every shape
 * of target (short and long, query, fragment, escapes before and after the
 * query, absolute-form with and without a path, no path at all). And a
 * response's Content-Length body taken in the same buffer as its head, with
 * the next response right behind it. */
static void test_path_views_and_whole_responses(void)
{
	static const struct {
		const char *target, *path;
	} cases[] = {
		{ "/late/768/0", "/late/768/0" },
		{ "/p?x=%41", "/p" },
		{ "/a%20b?q=1", "/a b" },
		{ "/a#b%41", "/a" },
		{ "/plain/path/longer/than/sixteen?x=1#frag", "/plain/path/longer/than/sixteen" },
		{ "/plain/path/longer/than/sixt%65en", "/plain/path/longer/than/sixteen" },
		{ "/abcdefghijklmn%41", "/abcdefghijklmnA" },
		{ "/abcdefghijklmno", "/abcdefghijklmno" },
		{ "/abcdefghijklmn?", "/abcdefghijklmn" },
		{ "http://host.example", "/" },
		{ "http://host.example/x%2Fy?z", "/x/y" },
		{ "HTTPS://host.example/x?y", "/x" },
		{ "?a=1", NULL },
		{ "*", "*" },
	};
	struct kc_dissect_core *c;
	struct kc_dissect_flow *f;
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct kc_item *it;

		c = t_core(4096);
		f = open_flow(c, 80);
		snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].target);
		feed(c, f, C2S, buf, 1);
		feed(c, f, S2C, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
		CHECK_EQ_U(S.n, 1);
		it = &S.items[0];
		CHECK_STR(it, it->u.http.url, cases[i].target);
		if (cases[i].path != NULL) {
			CHECK_STR(it, it->u.http.path, cases[i].path);
		} else {
			CHECK_EQ_U(it->u.http.path.len, 0);
			CHECK_EQ_U(it->u.http.path.off, 0);
		}
		CHECK_STR(it, it->u.http.host, "h");
		CHECK_STR(it, it->u.http.resp_body, "ok");
		/* A shared path still takes its bytes of the arena (a full
		 * arena drops what it dropped with a copy). */
		if (strpbrk(cases[i].target, "%?") == NULL)
			CHECK_EQ_U(it->arena_used,
				   strlen("GET") + strlen(cases[i].target) + strlen("HTTP/1.1") +
				   (cases[i].path != NULL ? strlen(cases[i].path) : 0) +
				   strlen("Host") + strlen("h") + strlen("200 OK") - 4 +
				   strlen("Content-Length") + strlen("2") + strlen("ok"));
		kc_dissect_core_destroy(c);
	}

	c = t_core(4096);
	f = open_flow(c, 80);
	feed(c, f, C2S, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n", 1);
	feed(c, f, S2C,
	     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	     "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"
	     "HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\nxy", 2);
	CHECK_EQ_U(S.n, 2);
	feed(c, f, S2C, "z", 3);
	CHECK_EQ_U(S.n, 2);
	feed(c, f, S2C, "wHTTP/1.1 200 OK\r\n", 4);
	CHECK_EQ_U(S.n, 3);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/1");
	CHECK_STR(&S.items[0], S.items[0].u.http.resp_body, "ok");
	CHECK_EQ_U(S.items[0].u.http.resp_body_size, 2);
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/2");
	CHECK_STR(&S.items[1], S.items[1].u.http.resp_body, "abc");
	CHECK_EQ_U(S.items[1].u.http.status, 201);
	CHECK_EQ_U(S.items[1].resp_size,
		   strlen("HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"));
	CHECK_STR(&S.items[2], S.items[2].u.http.resp_body, "xyzw");
	CHECK_EQ_U(S.items[2].u.http.resp_body_size, 4);
	CHECK_EQ_U(S.items[2].resp_ts_us, 2);
	kc_dissect_core_destroy(c);

	/* A 1xx head with header lines, split inside a line and before its
	 * blank line: skipped whole, the final answer kept. */
	c = t_core(4096);
	f = open_flow(c, 80);
	feed(c, f, C2S, "POST /up HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1);
	feed(c, f, S2C, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=pre", 2);
	feed(c, f, S2C, "load\r\nContent-Length: 9\r\n", 3);
	feed(c, f, S2C, "\r", 4);
	feed(c, f, S2C, "\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 5);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_EQ_U(S.items[0].u.http.n_resp_headers, 1);
	CHECK_STR(&S.items[0], S.items[0].u.http.resp_body, "ok");
	CHECK_EQ_U(S.items[0].resp_size, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
	CHECK_EQ_U(kc_dissect_stats(c)->http.interim, 1);
	kc_dissect_core_destroy(c);
}

int main(void)
{
	test_http09();
	test_early_response_and_forms();
	test_simple();
	test_every_split();
	test_line_boundaries();
	test_known_header_names();
	test_pipelined_chunked();
	test_no_body_cases();
	test_100_continue();
	test_keepalive_and_close_body();
	test_gzip();
	test_headers_canon_repeats();
	test_gap_in_body();
	test_gap_in_header();
	test_garbage_is_tcp();
	test_timeouts();
	test_response_only_and_overflow();
	test_upgrades();
	test_path_views_and_whole_responses();
	return t_report();
}
