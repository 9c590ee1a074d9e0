/*
 * lib/item: arena puts and appends, header canonicalisation, names, elapsed
 * time, and the JSON rendering of kfl.md section 11's items H and D compared
 * field by field with the JSON printed there.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item.h"
#include "kc_item_json.h"
#include "kc_item_names.h"
#include "kc_parse.h"

static int t_pass, t_fail;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
		}                                                                     \
	} while (0)

static struct kc_item IT;

static void put_s(struct kc_item *it, const char *s, struct kc_str *out)
{
	CHECK(kc_item_put(it, s, strlen(s), out) == 0);
}

static int view_is(const struct kc_item *it, struct kc_str v, const char *s)
{
	return v.len == strlen(s) && memcmp(kc_item_str(it, v), s, v.len) == 0;
}

static void test_arena(void)
{
	struct kc_str a, b, e;
	static char big[KC_ITEM_ARENA_SIZE];

	kc_item_reset(&IT, KC_ITEM_HTTP);
	CHECK(IT.proto == KC_ITEM_HTTP);
	CHECK(IT.u.http.req_body_size == -1 && IT.u.http.resp_headers_size == -1);
	CHECK(IT.u.http.grpc_status == -1);
	CHECK(kc_item_put(&IT, "x", 0, &e) == 0 && e.len == 0 && e.off == 0);
	put_s(&IT, "abc", &a);
	put_s(&IT, "de", &b);
	/* append to the last string: in place */
	CHECK(kc_item_append(&IT, &b, "fg", 2) == 0 && view_is(&IT, b, "defg"));
	CHECK(b.off == 3 && IT.arena_used == 7);
	/* append to an earlier one: moved to the end */
	CHECK(kc_item_append(&IT, &a, "XY", 2) == 0 && view_is(&IT, a, "abcXY"));
	CHECK(a.off == 7 && IT.arena_used == 12);
	CHECK(view_is(&IT, b, "defg"));
	/* absent view appends like a put */
	e = (struct kc_str){ 0, 0 };
	CHECK(kc_item_append(&IT, &e, "z", 1) == 0 && view_is(&IT, e, "z"));
	/* full arena: all or nothing, flagged */
	memset(big, 'q', sizeof(big));
	CHECK(kc_item_put(&IT, big, sizeof(big), &e) == -ENOSPC && e.len == 0);
	CHECK(IT.flags & KC_ITEM_F_TRUNCATED);
	CHECK(kc_item_put(&IT, big, KC_ITEM_ARENA_SIZE - IT.arena_used, &e) == 0);
	CHECK(IT.arena_used == KC_ITEM_ARENA_SIZE);
	CHECK(kc_item_append(&IT, &a, "1", 1) == -ENOSPC && view_is(&IT, a, "abcXY"));
	kc_item_reset(&IT, KC_ITEM_DNS);
	CHECK(IT.arena_used == 0 && IT.flags == 0);
	CHECK(kc_item_str_eq(&IT, (struct kc_str){ 0, 0 }, ""));
}

static void test_canon(void)
{
	static const char *const cases[][2] = {
		{ "content-type", "Content-Type" }, { "USER-AGENT", "User-Agent" },
		{ "x-forwarded-for", "X-Forwarded-For" }, { "www-authenticate", "Www-Authenticate" },
		{ ":path", ":path" }, { "weird key", "weird key" }, { "a--b", "A--B" },
		{ "etag", "Etag" }, { "x_y", "X_y" }, { "-x", "-X" }, { "dnt", "Dnt" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];

		strcpy(buf, cases[i][0]);
		kc_item_canon_header(buf, strlen(buf));
		if (strcmp(buf, cases[i][1]) != 0)
			fprintf(stderr, "canon(%s) = %s, expected %s\n", cases[i][0], buf,
				cases[i][1]);
		CHECK(strcmp(buf, cases[i][1]) == 0);
	}
}

/* The rule as written in Go's CanonicalMIMEHeaderKey, byte by byte: the
 * reference for the table and word-at-a-time versions. */
static void canon_ref(char *s, size_t n)
{
	int upper = 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL) || c == 0)
			return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		s[i] = c;
		upper = c == '-';
	}
}

/* Random names over an alphabet rich in the bytes each fast path decides
 * on (case, '-', digits, other tchars, non-tchars, high bytes), all lengths
 * to 40 so the 8-byte steps meet every tail; and kc_item_put()'s short-copy
 * paths at every length. */
static void test_canon_random(void)
{
	static const char alpha[] = "aZzA-09x_.:~ \x7f\x80\xe9\t@[`{/";
	uint64_t r = 0x9e3779b97f4a7c15ull;
	int bad = 0;

	for (int t = 0; t < 200000 && bad < 5; t++) {
		char ref[48], in[48], got[48];
		size_t n;
		struct kc_str v;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		n = (size_t)(r % 41);
		for (size_t i = 0; i < n; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			/* Mostly letters and '-', as real names are. */
			in[i] = (r >> 40) % 4 ? "abcXYZ-etag"[(r >> 20) % 11] : alpha[(r >> 20) % (sizeof(alpha) - 1)];
		}
		memcpy(ref, in, n);
		canon_ref(ref, n);
		memcpy(got, in, n);
		kc_item_canon_header(got, n);
		kc_item_reset(&IT, KC_ITEM_HTTP);
		CHECK(kc_item_put_header_name(&IT, in, n, &v) == 0 && v.len == n);
		if (memcmp(got, ref, n) != 0 || memcmp(kc_item_str(&IT, v), ref, n) != 0) {
			fprintf(stderr, "canon mismatch, length %zu: '%.*s'\n", n, (int)n, in);
			bad++;
		}
		CHECK(kc_item_put(&IT, in, n, &v) == 0 && v.len == n && memcmp(kc_item_str(&IT, v), in, n) == 0);
	}
	CHECK(bad == 0);
}

static void test_names(void)
{
	CHECK(strcmp(kc_item_proto_name(KC_ITEM_GRPC), "http") == 0);
	CHECK(strcmp(kc_item_proto_abbr(KC_ITEM_GRPC), "gRPC") == 0);
	CHECK(strcmp(kc_item_proto_abbr(KC_ITEM_HTTP2), "HTTP/2") == 0);
	CHECK(strcmp(kc_item_proto_name(KC_ITEM_TCP), "tcp") == 0);
	CHECK(strcmp(kc_item_proto_abbr(KC_ITEM_UDP), "UDP") == 0);
	CHECK(strcmp(kc_item_proto_name((enum kc_item_proto)99), "unknown") == 0);
	CHECK(strcmp(kc_item_dns_type_name(28), "AAAA") == 0);
	CHECK(kc_item_dns_type_name(9999) == NULL);
	CHECK(strcmp(kc_item_dns_class_name(0x8001), "IN") == 0);
	CHECK(strcmp(kc_item_dns_rcode_name(3), "Non-Existent Domain") == 0);
	CHECK(strcmp(kc_item_dns_rcode_name(5), "Refused") == 0);
	CHECK(strcmp(kc_item_dns_opcode_name(5), "Update") == 0);
	CHECK(kc_item_dns_opcode_name(3) == NULL);
	CHECK(strcmp(kc_item_tls_version_name(0x0304), "TLS 1.3") == 0);
	CHECK(kc_item_tls_version_name(0x0a0a) == NULL);
	kc_item_reset(&IT, KC_ITEM_HTTP);
	IT.ts_us = 1000000;
	IT.resp_ts_us = 1001499;
	CHECK(kc_item_elapsed_ms(&IT) == 1);
	IT.resp_ts_us = 1001500;
	CHECK(kc_item_elapsed_ms(&IT) == 2);
	IT.resp_ts_us = 0;
	CHECK(kc_item_elapsed_ms(&IT) == 0);
}

/* Every member of @p want must be in @p got with an equal value (objects
 * recursively, arrays element by element and of the same length). */
static int subset(const cJSON *want, const cJSON *got, const char *path)
{
	char sub[256];
	int ok = 1;

	if (got == NULL) {
		fprintf(stderr, "missing: %s\n", path);
		return 0;
	}
	if (cJSON_IsObject(want)) {
		const cJSON *w;

		if (!cJSON_IsObject(got)) {
			fprintf(stderr, "not an object: %s\n", path);
			return 0;
		}
		cJSON_ArrayForEach(w, want) {
			snprintf(sub, sizeof(sub), "%s.%s", path, w->string);
			ok &= subset(w, cJSON_GetObjectItemCaseSensitive(got, w->string), sub);
		}
		return ok;
	}
	if (cJSON_IsArray(want)) {
		int n = cJSON_GetArraySize(want);

		if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != n) {
			fprintf(stderr, "array differs: %s\n", path);
			return 0;
		}
		for (int i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
			ok &= subset(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), sub);
		}
		return ok;
	}
	if (!cJSON_Compare(want, got, 1)) {
		char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);

		fprintf(stderr, "%s: got %s, want %s\n", path, b, a);
		free(a);
		free(b);
		return 0;
	}
	return 1;
}

static void set_ip4(uint8_t *ip, const char *s)
{
	memset(ip, 0, 16);
	inet_pton(AF_INET, s, ip);
}

static void add_hdr(struct kc_kv *kv, uint8_t *n, const char *name, const char *value)
{
	put_s(&IT, name, &kv[*n].name);
	put_s(&IT, value, &kv[*n].value);
	(*n)++;
}

/* kfl.md 11, item H, as printed there, without the fields a struct kc_item
 * does not carry (node, src/dst namespace and pod: Kubernetes metadata). */
static const char item_h[] =
	"{\"protocol\":{\"name\":\"http\",\"version\":\"1.1\",\"abbr\":\"HTTP\",\"macro\":\"http\",\"layer4\":\"tcp\"},"
	"\"tls\":false,\"outgoing\":false,"
	"\"src\":{\"ip\":\"172.17.0.7\",\"port\":\"47322\",\"name\":\"front-end.sock-shop\"},"
	"\"dst\":{\"ip\":\"10.106.62.136\",\"port\":\"80\",\"name\":\"catalogue.sock-shop\"},"
	"\"timestamp\":1678675066172,\"elapsedTime\":1234,\"requestSize\":210,\"responseSize\":168,"
	"\"request\":{\"method\":\"GET\",\"path\":\"/catalogue\",\"pathSegments\":[\"catalogue\"],"
	"\"url\":\"/catalogue?size=5&tags=blue&tags=red\",\"httpVersion\":\"HTTP/1.1\","
	"\"headers\":{\"Accept\":\"application/json\",\"Host\":\"catalogue\",\"User-Agent\":\"kube-probe/1.27\"},"
	"\"cookies\":{},\"queryString\":{\"size\":\"5\",\"tags\":[\"blue\",\"red\"]},\"headersSize\":-1,\"bodySize\":0},"
	"\"response\":{\"status\":503,\"statusText\":\"Service Unavailable\",\"headers\":{\"Content-Type\":\"application/json\"},"
	"\"cookies\":{},\"content\":{\"size\":21,\"mimeType\":\"application/json\",\"encoding\":\"base64\","
	"\"text\":\"eyJlcnJvciI6ImRpc2sgZnVsbCJ9\"},\"redirectURL\":\"\",\"bodySize\":21}}";

static void test_json_h(void)
{
	struct kc_item_http *h = &IT.u.http;
	struct kc_item_json_opts o = { "front-end.sock-shop", "catalogue.sock-shop" };
	cJSON *want = cJSON_Parse(item_h), *got, *x;

	kc_item_reset(&IT, KC_ITEM_HTTP);
	IT.stream_id = 42;
	IT.index = 3;
	IT.worker = 2;
	IT.l4 = 6;
	IT.family = 4;
	set_ip4(IT.src_ip, "172.17.0.7");
	set_ip4(IT.dst_ip, "10.106.62.136");
	IT.src_port = 47322;
	IT.dst_port = 80;
	IT.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	IT.ts_us = 1678675066172000ull;
	IT.resp_ts_us = IT.ts_us + 1234000;
	IT.req_size = 210;
	IT.resp_size = 168;
	put_s(&IT, "GET", &h->method);
	put_s(&IT, "/catalogue?size=5&tags=blue&tags=red", &h->url);
	put_s(&IT, "/catalogue", &h->path);
	put_s(&IT, "HTTP/1.1", &h->version);
	add_hdr(h->req_headers, &h->n_req_headers, "Accept", "application/json");
	add_hdr(h->req_headers, &h->n_req_headers, "Host", "catalogue");
	add_hdr(h->req_headers, &h->n_req_headers, "User-Agent", "kube-probe/1.27");
	add_hdr(h->query, &h->n_query, "size", "5");
	add_hdr(h->query, &h->n_query, "tags", "blue");
	add_hdr(h->query, &h->n_query, "tags", "red");
	h->req_headers_size = -1;
	h->req_body_size = 0;
	h->status = 503;
	put_s(&IT, "Service Unavailable", &h->status_text);
	add_hdr(h->resp_headers, &h->n_resp_headers, "Content-Type", "application/json");
	h->resp_mime = h->resp_headers[0].value;
	put_s(&IT, "{\"error\":\"disk full\"}", &h->resp_body);
	h->resp_body_size = 21;
	got = kc_item_to_cjson_opts(&IT, &o);
	CHECK(want != NULL && got != NULL);
	CHECK(subset(want, got, "H"));
	/* Fields of the brief beyond the sample. */
	x = cJSON_GetObjectItemCaseSensitive(got, "id");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "2/42_tcp-3") == 0);
	x = cJSON_GetObjectItemCaseSensitive(got, "stream");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "42_tcp") == 0);
	x = cJSON_GetObjectItemCaseSensitive(got, "worker");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "2") == 0);
	x = cJSON_GetObjectItemCaseSensitive(got, "index");
	CHECK(cJSON_IsNumber(x) && x->valueint == 3);
	x = cJSON_GetObjectItemCaseSensitive(got, "startTime");
	CHECK(cJSON_IsString(x) && strcmp(x->valuestring, "2023-03-13T02:37:46.172Z") == 0);
	/* Without names, and with no body: no postData. */
	cJSON_Delete(got);
	got = kc_item_to_cjson(&IT);
	x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(got, "src"), "name");
	CHECK(cJSON_IsString(x) && x->valuestring[0] == '\0');
	x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(got, "request"),
					     "postData");
	CHECK(x == NULL);
	cJSON_Delete(got);
	cJSON_Delete(want);
}

static const char item_d[] =
	"{\"protocol\":{\"name\":\"dns\",\"version\":\"0\",\"abbr\":\"DNS\",\"macro\":\"dns\",\"layer4\":\"udp\"},"
	"\"dst\":{\"port\":\"53\"},"
	"\"request\":{\"opCode\":\"Query\",\"questions\":[{\"class\":\"IN\",\"name\":\"carts-db.sock-shop.svc.cluster.local\",\"type\":\"A\"}]},"
	"\"response\":{\"code\":\"No Error\",\"answers\":[{\"name\":\"carts-db.sock-shop.svc.cluster.local\",\"type\":\"A\","
	"\"class\":\"IN\",\"ttl\":30,\"ip\":\"10.101.46.75\",\"cname\":\"\"}],\"authorities\":[],\"additionals\":[]}}";

static void test_json_d(void)
{
	struct kc_item_dns *d = &IT.u.dns;
	cJSON *want = cJSON_Parse(item_d), *got;
	char buf[4096];
	size_t len = 0;

	kc_item_reset(&IT, KC_ITEM_DNS);
	IT.l4 = 17;
	IT.family = 4;
	set_ip4(IT.src_ip, "10.0.0.9");
	set_ip4(IT.dst_ip, "10.96.0.10");
	IT.src_port = 40000;
	IT.dst_port = 53;
	IT.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	IT.ts_us = 1678675066172000ull;
	d->n_questions = 1;
	put_s(&IT, "carts-db.sock-shop.svc.cluster.local", &d->questions[0].name);
	d->questions[0].type = 1;
	d->questions[0].class_ = 1;
	d->n_answers = 1;
	d->rrs[0].name = d->questions[0].name;
	d->rrs[0].type = 1;
	d->rrs[0].class_ = 1;
	d->rrs[0].ttl = 30;
	put_s(&IT, "10.101.46.75", &d->rrs[0].data);
	got = kc_item_to_cjson(&IT);
	CHECK(want != NULL && got != NULL);
	CHECK(subset(want, got, "D"));
	cJSON_Delete(got);
	cJSON_Delete(want);
	/* The string form parses back to the same tree; a small buffer fails. */
	CHECK(kc_item_to_json(&IT, buf, sizeof(buf), &len) == 0 && len == strlen(buf));
	want = cJSON_Parse(item_d);
	got = cJSON_Parse(buf);
	CHECK(subset(want, got, "D(text)"));
	cJSON_Delete(got);
	cJSON_Delete(want);
	CHECK(kc_item_to_json(&IT, buf, 64, NULL) == -ENOSPC);
}

static void test_json_misc(void)
{
	cJSON *got, *x;
	struct kc_item_tls *t = &IT.u.tls;
	struct kc_item_http *h;
	static const char bad[] = { 'o', 'k', (char)0xff, (char)0xc3, (char)0xa9, 0 };

	/* TLS */
	kc_item_reset(&IT, KC_ITEM_TLS);
	IT.l4 = 6;
	IT.family = 6;
	IT.src_ip[15] = 1;
	IT.dst_ip[15] = 1;
	IT.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	put_s(&IT, "example.com", &t->sni);
	t->client_version = 0x0303;
	t->n_versions = 2;
	t->offered_versions[0] = 0x0304;
	t->offered_versions[1] = 0x0303;
	t->n_alpn = 2;
	put_s(&IT, "h2", &t->alpn[0]);
	put_s(&IT, "http/1.1", &t->alpn[1]);
	t->server_version = 0x0304;
	t->cipher_suite = 0x1301;
	got = kc_item_to_cjson(&IT);
	x = cJSON_Parse("{\"protocol\":{\"name\":\"tls\",\"abbr\":\"TLS\",\"version\":\"1.3\",\"layer4\":\"tcp\"},"
			"\"src\":{\"ip\":\"::1\"},"
			"\"request\":{\"serverName\":\"example.com\",\"alpn\":[\"h2\",\"http/1.1\"],"
			"\"versions\":[\"TLS 1.3\",\"TLS 1.2\"],\"version\":\"TLS 1.2\"},"
			"\"response\":{\"version\":\"TLS 1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"alpn\":\"\"}}");
	CHECK(subset(x, got, "TLS"));
	cJSON_Delete(x);
	cJSON_Delete(got);

	/* tcp item, and invalid UTF-8 replaced by U+FFFD */
	kc_item_reset(&IT, KC_ITEM_TCP);
	IT.l4 = 6;
	IT.family = 4;
	IT.dst_port = 5432;
	got = kc_item_to_cjson(&IT);
	x = cJSON_Parse("{\"protocol\":{\"name\":\"tcp\",\"abbr\":\"TCP\",\"macro\":\"tcp\",\"layer4\":\"tcp\",\"version\":\"\"},"
			"\"dst\":{\"port\":\"5432\",\"ip\":\"0.0.0.0\"},\"request\":{},\"response\":{}}");
	CHECK(subset(x, got, "TCP"));
	cJSON_Delete(x);
	cJSON_Delete(got);

	kc_item_reset(&IT, KC_ITEM_GRPC);
	h = &IT.u.http;
	IT.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	put_s(&IT, bad, &h->method);
	put_s(&IT, "/pkg.Svc/Do", &h->path);
	put_s(&IT, "pkg.Svc", &h->grpc_service);
	put_s(&IT, "Do", &h->grpc_method);
	h->grpc_status = 0;
	h->status = 200;
	got = kc_item_to_cjson(&IT);
	x = cJSON_Parse("{\"protocol\":{\"name\":\"http\",\"abbr\":\"gRPC\",\"version\":\"2.0\",\"macro\":\"grpc\"},"
			"\"request\":{\"method\":\"ok\\ufffd\\u00e9\",\"pathSegments\":[\"pkg.Svc\",\"Do\"],"
			"\"grpc\":{\"service\":\"pkg.Svc\",\"method\":\"Do\"}},"
			"\"response\":{\"status\":200,\"grpc\":{\"status\":0},\"content\":{\"text\":\"\"}}}");
	CHECK(subset(x, got, "gRPC"));
	cJSON_Delete(x);
	cJSON_Delete(got);
}

/* Render @p it and return request.postData printed unformatted (malloc'd),
 * or NULL when absent. */
static char *post_data_of(const struct kc_item *it)
{
	cJSON *got = kc_item_to_cjson(it);
	cJSON *pd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(got, "request"),
						     "postData");
	char *txt = pd != NULL ? cJSON_PrintUnformatted(pd) : NULL;

	cJSON_Delete(got);
	return txt;
}

/* request.postData.text: the body as text when valid UTF-8 without NUL,
 * else base64 with "encoding": "base64" (a gRPC message starts with 0x00). */
static void test_json_post_data(void)
{
	struct kc_item_http *h = &IT.u.http;
	static const char grpc_msg[] = "\x00\x00\x00\x00\x05\x0a\x03" "abc";
	static const char bad_utf8[] = "{\"k\":1}\x80";
	char *txt;

	kc_item_reset(&IT, KC_ITEM_GRPC);
	IT.l4 = 6;
	IT.family = 4;
	IT.flags = KC_ITEM_F_REQUEST;
	put_s(&IT, "application/grpc", &h->req_mime);
	CHECK(kc_item_put(&IT, grpc_msg, sizeof(grpc_msg) - 1, &h->req_body) == 0);
	h->req_body_size = 10;
	txt = post_data_of(&IT);
	CHECK(txt != NULL && strcmp(txt, "{\"mimeType\":\"application/grpc\","
				    "\"text\":\"AAAAAAUKA2FiYw==\",\"encoding\":\"base64\"}") == 0);
	free(txt);

	/* Invalid UTF-8 is not cleaned but encoded: the bytes survive. */
	kc_item_reset(&IT, KC_ITEM_HTTP);
	IT.flags = KC_ITEM_F_REQUEST;
	CHECK(kc_item_put(&IT, bad_utf8, sizeof(bad_utf8) - 1, &h->req_body) == 0);
	h->req_body_size = 8;
	txt = post_data_of(&IT);
	CHECK(txt != NULL && strcmp(txt, "{\"mimeType\":\"\",\"text\":\"eyJrIjoxfYA=\","
				    "\"encoding\":\"base64\"}") == 0);
	free(txt);

	/* Text (UTF-8 included) stays text, without "encoding". */
	kc_item_reset(&IT, KC_ITEM_HTTP);
	IT.flags = KC_ITEM_F_REQUEST;
	put_s(&IT, "text/plain", &h->req_mime);
	put_s(&IT, "caf\xc3\xa9=1", &h->req_body);
	h->req_body_size = 7;
	txt = post_data_of(&IT);
	CHECK(txt != NULL && strcmp(txt, "{\"mimeType\":\"text/plain\",\"text\":\"caf\xc3\xa9=1\"}") == 0);
	free(txt);

	/* A body seen only in size (prefix empty): "" as text. */
	kc_item_reset(&IT, KC_ITEM_HTTP);
	IT.flags = KC_ITEM_F_REQUEST;
	h->req_body_size = 5;
	txt = post_data_of(&IT);
	CHECK(txt != NULL && strcmp(txt, "{\"mimeType\":\"\",\"text\":\"\"}") == 0);
	free(txt);
}

int main(void)
{
	test_arena();
	test_canon();
	test_canon_random();
	test_names();
	test_json_h();
	test_json_d();
	test_json_misc();
	test_json_post_data();
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}
