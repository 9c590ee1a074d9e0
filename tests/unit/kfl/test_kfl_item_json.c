/*
 * Cross-check of the two presentations of one item: the struct-backed view
 * (lib/kfl/kfl_item.c) must be the same tree as lib/item's JSON rendering
 * (kc_item_to_cjson): same keys in the same order, same types, same values.
 * Then a battery of filters must give the same answer on both.
 */
#include "kc_item_json.h"
#include "kfl_internal.h"
#include "kfl_test.h"

static char g_path[512];

static bool same(struct kfl_ctx *x, const struct kfl_val *a, const struct kfl_val *b, size_t plen);

struct keys {
	const char *k[128];
	size_t n[128];
	struct kfl_val v[128];
	uint32_t cnt;
};

static int collect(void *arg, const char *key, size_t klen, const struct kfl_val *v)
{
	struct keys *ks = arg;
	if (ks->cnt < 128) {
		ks->k[ks->cnt] = key;
		ks->n[ks->cnt] = klen;
		ks->v[ks->cnt] = *v;
		ks->cnt++;
	}
	return 0;
}

static bool same(struct kfl_ctx *x, const struct kfl_val *a, const struct kfl_val *b, size_t plen)
{
	if (a->t != b->t) {
		fprintf(stderr, "  %s: type %d (struct) vs %d (json)\n", g_path, a->t, b->t);
		return false;
	}
	switch (a->t) {
	case KFL_STR:
		if (a->len != b->len || memcmp(a->u.s, b->u.s, a->len) != 0) {
			fprintf(stderr, "  %s: \"%.*s\" vs \"%.*s\"\n", g_path, (int)a->len, a->u.s,
				(int)b->len, b->u.s);
			return false;
		}
		return true;
	case KFL_INT:
		if (a->u.i != b->u.i) {
			fprintf(stderr, "  %s: %lld vs %lld\n", g_path, (long long)a->u.i,
				(long long)b->u.i);
			return false;
		}
		return true;
	case KFL_BOOL: return a->u.b == b->u.b;
	case KFL_NULL: return true;
	case KFL_ARR:
	case KFL_OBJ: {
		static struct keys ka[16], kb[16];
		int depth = 0;
		for (size_t i = 0; i < plen; i++)
			depth += g_path[i] == '.' || g_path[i] == '[';
		if (depth >= 16)
			return false;
		struct keys *pa = &ka[depth], *pb = &kb[depth];
		pa->cnt = pb->cnt = 0;
		a->ops->each(a, collect, pa, x);
		b->ops->each(b, collect, pb, x);
		if (pa->cnt != pb->cnt) {
			fprintf(stderr, "  %s: %u children (struct) vs %u (json)\n", g_path, pa->cnt,
				pb->cnt);
			for (uint32_t i = 0; i < pa->cnt && pa->k[i]; i++)
				fprintf(stderr, "    struct key %.*s\n", (int)pa->n[i], pa->k[i]);
			for (uint32_t i = 0; i < pb->cnt && pb->k[i]; i++)
				fprintf(stderr, "    json key %.*s\n", (int)pb->n[i], pb->k[i]);
			return false;
		}
		for (uint32_t i = 0; i < pa->cnt; i++) {
			size_t n;
			if (a->t == KFL_OBJ) {
				if (pa->n[i] != pb->n[i] || memcmp(pa->k[i], pb->k[i], pa->n[i]) != 0) {
					fprintf(stderr, "  %s: key #%u %.*s vs %.*s\n", g_path, i,
						(int)pa->n[i], pa->k[i], (int)pb->n[i], pb->k[i]);
					return false;
				}
				n = (size_t)snprintf(g_path + plen, sizeof(g_path) - plen, ".%.*s",
						     (int)pa->n[i], pa->k[i]);
			} else {
				n = (size_t)snprintf(g_path + plen, sizeof(g_path) - plen, "[%u]", i);
			}
			if (!same(x, &pa->v[i], &pb->v[i], plen + n))
				return false;
			g_path[plen] = '\0';
		}
		return true;
	}
	default: return false;
	}
}

static void cross(const char *what, const struct kc_item *it)
{
	cJSON *j = kc_item_to_cjson(it);
	struct kfl_ctx x = { .s = t_scratch() };
	struct kfl_val a, b;

	if (j == NULL) {
		CHECK(0, "%s: render failed", what);
		return;
	}
	x.s->used = 0;
	kfl_item_root(it, &a);
	kfl_json_val(j, &b);
	g_path[0] = '\0';
	bool ok = same(&x, &a, &b, 0);
	if (!ok) {
		char *txt = cJSON_PrintUnformatted(j);
		fprintf(stderr, "  json: %s\n", txt);
		free(txt);
	}
	CHECK(ok, "%s: struct view differs from kc_item_to_cjson", what);

	/* the same filters give the same answers */
	static const char *const filters[] = {
		"http", "dns", "tls", "tcp", "udp", "http2", "grpc", "request", "response",
		"request.headers", "request.headers.*", "response..name", "response..ip == \"10.0.0.1\"", "request..name",
		"request.pathSegments", "request.pathSegments[0] == \"api\"",
		"request.queryString.a == \"2\"", "request.cookies.sid == \"1\"",
		"response.headers[\"Set-Cookie\"] == \"a=1,b=2\"", "response.answers.*.ttl > 10",
		"response.answers[1].cname", "response..txts == \"v=spf1\"", "request.serverName.endsWith(\".com\")",
		"request.versions == \"TLS 1.3\"", "response.cipherSuite == r\"AES\"",
		"protocol.version == \"1.1\"", "startTime.startsWith(\"2023-03-13T02:37:46\")",
		"id == \"3/77_tcp-5\"", "stream == \"77_tcp\"", "elapsedTime == 1234",
		"response.content.size > 0", "request.postData.text.json().k == 1",
		"response.grpc.status == 14", "request.grpc.method == \"Get\"", "src.name == \"\"",
		"request.missing", "response.*", "request.headers[\":path\"] == \"/x\"",
		"request.headers[\"X-Bin\"] == r\"^a\xef\xbf\xbd\xc3\xa9z,\xef\xbf\xbd\xef\xbf\xbd$\"", "request.pathSegments[1] == \"b\"",
		"request.pathSegments.* == r\"\xef\xbf\xbd\"", "response.statusText.contains(\"surrogate\")",
		"request.headers.* == \"ok\"", "request.queryString.q.startsWith(\"\\xf0\")",
		/* Root conjunctions of comparisons: struct items take the
		 * flat path (prog->conj), JSON documents the tree walk. */
		"http and response.status == 599", "http and response.status == 200",
		"(http) and (request.method == \"GET\") and response.status >= 200",
		"dns and request.missing == 1", "http and elapsedTime == 1234",
		"tls and response.cipherSuite == r\"AES\"", "http and response.grpc.status == 14",
		"grpc and request.grpc.method == \"Get\"", "tcp and id == \"3/77_tcp-5\"",
		"(dns) and ((response.answers[1].cname == \"x\"))", "udp and src.name == \"\"",
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(filters); i++) {
		struct kc_kfl_prog *p = t_compile(filters[i]);
		if (p == NULL)
			continue;
		bool ri = kc_kfl_eval_item(p, it, t_scratch());
		bool rj = kc_kfl_eval_json(p, j, t_scratch());
		CHECK(ri == rj, "%s: [%s] struct %d json %d", what, filters[i], ri, rj);
		kc_kfl_prog_free(p);
	}
	cJSON_Delete(j);
}

/* Which filters take the flat conjunction path: only `and` chains of
 * comparisons (through groups and macros), in source order. */
static void conj_shapes(void)
{
	static const struct {
		const char *f;
		uint32_t n;
	} t[] = {
		{ "http and response.status == 599", 2 },
		{ "response.status == 599", 1 },
		{ "(http)", 1 },
		{ "http and (response.status == 1) and request.method == \"GET\"", 3 },
		{ "http or response.status == 599", 0 },
		{ "http and (response.status == 1 or request.method == \"GET\")", 0 },
		{ "tls and response.status == 1", 0 }, /* the tls macro is an `or` */
		{ "http and !response", 0 },
		{ "http and limit(3)", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(t); i++) {
		struct kc_kfl_prog *p = t_compile(t[i].f);
		if (p == NULL)
			continue;
		CHECK(p->nconj == t[i].n, "[%s] nconj %u, want %u", t[i].f, p->nconj, t[i].n);
		kc_kfl_prog_free(p);
	}
}

int main(void)
{
	static struct kc_item it;

	conj_shapes();

	t_item_h(&it);
	it.worker = 3;
	it.stream_id = 77;
	it.index = 5;
	cross("H", &it);

	t_item_d(&it);
	cross("D", &it);

	/* DNS with every record shape */
	t_item_d(&it);
	{
		struct kc_item_dns *d = &it.u.dns;
		d->n_answers = 3;
		d->rrs[1].name = t_put(&it, "www.example.com");
		d->rrs[1].type = 5;
		d->rrs[1].class_ = 1;
		d->rrs[1].ttl = 60;
		d->rrs[1].data = t_put(&it, "web.example.com");
		d->rrs[2].name = t_put(&it, "web.example.com");
		d->rrs[2].type = 28;
		d->rrs[2].class_ = 1;
		d->rrs[2].data = t_put(&it, "2001:db8::1");
		d->n_authorities = 1;
		d->rrs[3].type = 6;
		d->rrs[3].class_ = 1;
		d->rrs[3].data = t_put(&it, "ns1 hostmaster 1 2 3 4 5");
		d->n_additionals = 2;
		d->rrs[4].type = 16;
		d->rrs[4].class_ = 3;
		static const char txt[] = "v=spf1\0hello";
		memcpy(it.arena + it.arena_used, txt, sizeof(txt) - 1);
		d->rrs[4].data.off = it.arena_used;
		d->rrs[4].data.len = sizeof(txt) - 1;
		it.arena_used += sizeof(txt) - 1;
		d->rrs[5].type = 99;
		d->rrs[5].class_ = 77;
		d->rrs[5].data = t_put(&it, "opaque");
		d->rcode = 3;
		d->opcode = 9;
	}
	cross("D records", &it);

	/* HTTP/2 with pseudo-headers, repeats, cookies, a request body */
	t_item_h(&it);
	it.proto = KC_ITEM_HTTP2;
	{
		struct kc_item_http *h = &it.u.http;
		t_kv(&it, h->req_headers, &h->n_req_headers, ":path", "/x");
		t_kv(&it, h->req_headers, &h->n_req_headers, "Accept", "text/html");
		t_kv(&it, h->req_cookies, &h->n_req_cookies, "sid", "1");
		t_kv(&it, h->req_cookies, &h->n_req_cookies, "sid", "2");
		t_kv(&it, h->query, &h->n_query, "a", "1");
		t_kv(&it, h->query, &h->n_query, "a", "2");
		t_kv(&it, h->resp_headers, &h->n_resp_headers, "Set-Cookie", "a=1");
		t_kv(&it, h->resp_headers, &h->n_resp_headers, "Set-Cookie", "b=2");
		t_kv(&it, h->resp_headers, &h->n_resp_headers, "Content-Encoding", "gzip");
		t_kv(&it, h->resp_headers, &h->n_resp_headers, "Location", "/y");
		h->req_body = t_put(&it, "{\"k\":1}");
		h->req_mime = t_put(&it, "application/json");
		h->req_body_size = 7;
		h->path = t_put(&it, "/api/v1/");
	}
	cross("HTTP/2", &it);

	/* gRPC, request only, then with a response */
	t_item_h(&it);
	it.proto = KC_ITEM_GRPC;
	it.flags = KC_ITEM_F_REQUEST;
	it.u.http.grpc_service = t_put(&it, "pkg.Svc");
	it.u.http.grpc_method = t_put(&it, "Get");
	cross("gRPC request only", &it);
	it.flags |= KC_ITEM_F_RESPONSE;
	it.u.http.grpc_status = 14;
	cross("gRPC", &it);

	/* gRPC request body: binary (starts with 0x00) -> base64 + encoding */
	t_item_h(&it);
	it.proto = KC_ITEM_GRPC;
	{
		struct kc_item_http *h = &it.u.http;
		static const char msg[] = "\x00\x00\x00\x00\x05\x0a\x03" "abc";
		memcpy(it.arena + it.arena_used, msg, sizeof(msg) - 1);
		h->req_body.off = it.arena_used;
		h->req_body.len = sizeof(msg) - 1;
		it.arena_used += sizeof(msg) - 1;
		h->req_body_size = 10;
		h->req_mime = t_put(&it, "application/grpc");
	}
	cross("gRPC binary body", &it);
	EXPECT_ITEM("request.postData.text == \"AAAAAAUKA2FiYw==\"", &it, true);
	EXPECT_ITEM("request.postData.encoding == \"base64\"", &it, true);
	/* a text body has no encoding key */
	t_item_h(&it);
	it.u.http.req_body = t_put(&it, "caf\xc3\xa9=1");
	it.u.http.req_body_size = 7;
	cross("HTTP text body", &it);
	EXPECT_ITEM("request.postData.text == \"caf\xc3\xa9=1\"", &it, true);
	EXPECT_ITEM("request.postData.encoding == \"base64\"", &it, false);
	EXPECT_ITEM("request.postData.encoding", &it, false);

	/* HTTP without a response, IPv6 */
	t_item_h(&it);
	it.flags = KC_ITEM_F_REQUEST;
	it.family = 6;
	inet_pton(AF_INET6, "2001:db8::7", it.src_ip);
	inet_pton(AF_INET6, "::1", it.dst_ip);
	it.resp_ts_us = 0;
	cross("HTTP request only, IPv6", &it);

	/* bytes that are not UTF-8, and NULs: the view shows what JSON shows */
	t_item_h(&it);
	{
		struct kc_item_http *h = &it.u.http;
		static const char path[] = "/a\xc3/b\0c/\xff\xfe";
		memcpy(it.arena + it.arena_used, path, sizeof(path) - 1);
		h->path.off = it.arena_used;
		h->path.len = sizeof(path) - 1;
		it.arena_used += sizeof(path) - 1;
		t_kv(&it, h->req_headers, &h->n_req_headers, "X-Bin", "a\xff\xc3\xa9z");
		t_kv(&it, h->req_headers, &h->n_req_headers, "X-Bin", "\xe2\x82");
		t_kv(&it, h->req_headers, &h->n_req_headers, "X-\xe9t\xc3\xa9", "ok");
		t_kv(&it, h->query, &h->n_query, "q", "\xf0\x9f\x98\x80");
		h->status_text = t_put(&it, "\xed\xa0\x80 surrogate");
		h->req_body = t_put(&it, "{\"k\":1}\x80");
		h->req_body_size = 8;
		h->resp_body = t_put(&it, "\xff\x00binary");
	}
	cross("HTTP non-UTF-8", &it);
	EXPECT_ITEM("request.headers[\"X-Bin\"] == \"a\xef\xbf\xbd\xc3\xa9z,\xef\xbf\xbd\xef\xbf\xbd\"", &it, true);
	EXPECT_ITEM("request.pathSegments[0] == \"a\xef\xbf\xbd\" and request.pathSegments[1] == \"b\" and "
		    "request.pathSegments[2] == \"\xef\xbf\xbd\xef\xbf\xbd\"", &it, true);
	EXPECT_ITEM("request.path == \"/a\xef\xbf\xbd/b\"", &it, true);
	EXPECT_ITEM("request.headers[\"X-\xef\xbf\xbdt\xc3\xa9\"] == \"ok\"", &it, false); /* lookups use raw names */
	EXPECT_ITEM("request.headers.* == \"ok\"", &it, true);
	EXPECT_ITEM("response.content.text == \"/wtpbmFyeQ==\"", &it, true); /* base64 of the raw bytes */
	/* the request body is not UTF-8: base64 of its raw bytes */
	EXPECT_ITEM("request.postData.text == \"eyJrIjoxfYA=\" and request.postData.encoding == \"base64\"",
		    &it, true);
	t_item_d(&it);
	it.u.dns.n_answers = 1;
	it.u.dns.rrs[0].type = 16;
	{
		static const char txt[] = "a\xff\0\0b\xc3";
		memcpy(it.arena + it.arena_used, txt, sizeof(txt) - 1);
		it.u.dns.rrs[0].data.off = it.arena_used;
		it.u.dns.rrs[0].data.len = sizeof(txt) - 1;
		it.arena_used += sizeof(txt) - 1;
	}
	cross("DNS TXT non-UTF-8", &it);

	/* TLS handshake */
	t_base(&it, KC_ITEM_TLS, 6, "10.0.0.2", 51000, "10.0.0.1", 443);
	it.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	it.u.tls.sni = t_put(&it, "www.example.com");
	it.u.tls.client_version = 0x0303;
	it.u.tls.server_version = 0x0304;
	it.u.tls.cipher_suite = 0x1301;
	it.u.tls.n_versions = 3;
	it.u.tls.offered_versions[0] = 0x0a0a;
	it.u.tls.offered_versions[1] = 0x0304;
	it.u.tls.offered_versions[2] = 0x0303;
	it.u.tls.n_alpn = 2;
	it.u.tls.alpn[0] = t_put(&it, "h2");
	it.u.tls.alpn[1] = t_put(&it, "http/1.1");
	it.u.tls.alpn_chosen = it.u.tls.alpn[0];
	cross("TLS", &it);
	it.u.tls.cipher_suite = 0xffee;
	it.flags = KC_ITEM_F_REQUEST;
	cross("TLS client hello only", &it);

	/* L4 items */
	t_base(&it, KC_ITEM_TCP, 6, "10.0.0.2", 5000, "10.0.0.1", 5432);
	cross("TCP", &it);
	t_base(&it, KC_ITEM_UDP, 17, "10.0.0.2", 5000, "10.0.0.1", 9999);
	it.ts_us = 1678675066000000ULL;
	cross("UDP", &it);

	kc_kfl_scratch_free(g_scratch);
	return test_done();
}
