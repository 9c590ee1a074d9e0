/*
 * struct kc_item -> Kubeshark entry JSON.
 *
 * THE CONTRACT (the KFL struct-backed accessors implement the same mapping,
 * and item_json_text.c writes the same text without the tree; change all
 * three together: tests/unit/item/test_item_json_text.c compares the texts).
 * "S" = string, "I" = integer, "B" = bool, view = the struct kc_str rendered
 * as a JSON string (invalid UTF-8 replaced by U+FFFD, as Go's encoding/json
 * does). Absent views render as "".
 *
 * Common (every item):
 *   id            S  "<worker>/<stream>-<index>"
 *   index         I  it->index
 *   stream        S  "<stream_id>_<tcp|udp>" (the stream's pcap name minus ".pcap")
 *   worker        S  decimal it->worker
 *   protocol      {name S, version S, abbr S, macro S, layer4 S}
 *                 name/abbr from kc_item_proto_name/abbr; macro: "http"
 *                 (HTTP), "http2", "grpc", "dns", "tls", "tcp", "udp";
 *                 layer4 "tcp" | "udp" from it->l4;
 *                 version: HTTP = httpVersion minus "HTTP/" ("1.1"),
 *                 HTTP/2 and gRPC "2.0", DNS "0", TLS the chosen version
 *                 ("1.3", "" when unknown), tcp/udp "".
 *   tls           B  false (no TLS interception; the handshake is its own item)
 *   outgoing      B  false
 *   src, dst      {ip S (inet_ntop), port S (decimal), name S (from
 *                 struct kc_item_json_opts, "" by default)}
 *   timestamp     I  ts_us / 1000 (ms since epoch)
 *   startTime     S  RFC 3339 UTC of ts_us, fraction trimmed ("...T02:37:46.172Z")
 *   elapsedTime   I  kc_item_elapsed_ms()
 *   requestSize   I  req_size;  responseSize I resp_size
 *   request, response  objects below ({} when that side is absent)
 *
 * HTTP, HTTP/2, gRPC (u.http):
 *   request.method S, .url S, .path S, .pathSegments [S] (path split on '/',
 *     a leading empty part dropped, as Go's strings.Split), .httpVersion S,
 *     .headers {Name: S} (canonical names; repeats joined with ","),
 *     .cookies {name: S} (first wins), .queryString {k: S | [S,...]} (values
 *     URL-decoded by the dissector; a repeated key gives an array in order),
 *     .headersSize I (req_headers_size), .bodySize I (req_body_size),
 *     .postData {mimeType S (req_mime), text S, [encoding "base64"]} only
 *     when req_body_size > 0 or req_body is present; text is req_body's
 *     bytes when they are valid UTF-8 (the rule above) with no NUL byte,
 *     else base64(req_body) and "encoding": "base64" follows text (gRPC
 *     messages start with a 0x00 flag byte; a C-string cut would lose them),
 *     .grpc {service S, method S} (gRPC only)
 *   response.status I, .statusText S, .httpVersion S, .headers {..},
 *     .cookies {..} (Set-Cookie name=value), .content {size I, mimeType S,
 *     encoding "base64", text S = base64(resp_body)}, .redirectURL S (Location
 *     header or ""), .headersSize I, .bodySize I, .grpc {status I} (gRPC,
 *     when grpc_status >= 0)
 *   content.size: the decoded length when the body was decoded whole, else
 *     resp_body_size.
 *
 * DNS (u.dns):
 *   request.opCode S (kc_item_dns_opcode_name, else decimal),
 *   request.questions [{name S, type S, class S}]
 *   response.code S (kc_item_dns_rcode_name, else decimal),
 *   response.answers / .authorities / .additionals: rrs[] split in that order
 *     by n_answers, n_authorities, n_additionals; each {name S, type S,
 *     class S, ttl I, <key> ...} where <key> by type: A and AAAA "ip" (plus
 *     "cname": "" as Kubeshark's sample shows), CNAME "cname", PTR "ptr", NS
 *     "ns", MX "mx", SOA "soa", SRV "srv", URI "uri", OPT "opt", TXT "txts"
 *     (array: data split on NUL bytes), other types "data".
 *   type/class names: kc_item_dns_type_name/class_name, else decimal.
 *   request is present when KC_ITEM_F_REQUEST, response when
 *   KC_ITEM_F_RESPONSE.
 *
 * TLS (u.tls):
 *   request.serverName S (sni), .alpn [S], .versions [S] (offered_versions
 *     by kc_item_tls_version_name, else "0x%04x"), .version S (client_version)
 *   response.version S (server_version), .cipherSuite S (IANA name or
 *     "0x%04x"), .alpn S (alpn_chosen) -- response present when
 *     KC_ITEM_F_RESPONSE.
 *
 * tcp / udp: request {} and response {}.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item_json_internal.h"
#include "kc_item_json.h"
#include "kc_item_names.h"

/* Scratch for one rendered string: U+FFFD (3 bytes) may replace each byte. */
#define SCRATCH_SIZE (3 * KC_ITEM_ARENA_SIZE + 1)

struct jctx {
	const struct kc_item *it;
	char *scratch;
	int oom;
	int raw_ints; /* text output: whole numbers as preformatted raw nodes */
};

/* Copy @p n bytes to @p out (room for 3 * n + 1) as valid UTF-8: ill-formed
 * sequences become U+FFFD. */
static char *utf8_clean_to(char *out, const unsigned char *s, size_t n)
{
	char *o = out;
	size_t i = 0;

	while (i < n) {
		unsigned char b = s[i];
		size_t len;

		if (b < 0x80) {
			*o++ = (char)b;
			i++;
			continue;
		}
		len = kc_item_utf8_seq(s + i, n - i);
		if (len > 0) {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		} else {
			*o++ = (char)0xef;
			*o++ = (char)0xbf;
			*o++ = (char)0xbd;
			i++;
		}
	}
	*o = '\0';
	return out;
}

static const char *utf8_clean(struct jctx *c, const unsigned char *s, size_t n)
{
	return utf8_clean_to(c->scratch, s, KC_MIN(n, (size_t)KC_ITEM_ARENA_SIZE));
}

/* Object keys: at most KEY_MAX input bytes, cleaned like values. */
#define KEY_MAX KC_ITEM_JSON_KEY_MAX
#define KEY_BUF (3 * KEY_MAX + 1)

static const char *key_of(const struct kc_item *it, struct kc_str v, char *kbuf)
{
	return utf8_clean_to(kbuf, (const unsigned char *)kc_item_str(it, v),
			     KC_MIN((size_t)v.len, (size_t)KEY_MAX));
}

static void add_item(struct jctx *c, cJSON *obj, const char *key, cJSON *v)
{
	if (v == NULL) {
		c->oom = 1;
		return;
	}
	if (cJSON_IsArray(obj))
		cJSON_AddItemToArray(obj, v);
	else
		cJSON_AddItemToObject(obj, key, v);
}

static void add_strn(struct jctx *c, cJSON *obj, const char *key, const void *s, size_t n)
{
	add_item(c, obj, key, cJSON_CreateString(utf8_clean(c, s, n)));
}

static void add_view(struct jctx *c, cJSON *obj, const char *key, struct kc_str v)
{
	add_strn(c, obj, key, kc_item_str(c->it, v), v.len);
}

static void add_cstr(struct jctx *c, cJSON *obj, const char *key, const char *s)
{
	add_item(c, obj, key, cJSON_CreateString(s));
}

/* cJSON prints every number with "%1.15g" and checks it with sscanf, which
 * was most of the cost of rendering an item as text. Whole numbers below
 * 2^53 print the same digits with "%lld", so text output takes them as raw
 * nodes; trees for evaluation keep real numbers. */
static void add_num(struct jctx *c, cJSON *obj, const char *key, double v)
{
	if (c->raw_ints && v == (double)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0) {
		char b[32];

		snprintf(b, sizeof(b), "%lld", (long long)v);
		add_item(c, obj, key, cJSON_CreateRaw(b));
		return;
	}
	add_item(c, obj, key, cJSON_CreateNumber(v));
}

static void add_bool(struct jctx *c, cJSON *obj, const char *key, int v)
{
	add_item(c, obj, key, cJSON_CreateBool(v));
}

static cJSON *add_obj(struct jctx *c, cJSON *obj, const char *key)
{
	cJSON *o = cJSON_CreateObject();

	add_item(c, obj, key, o);
	return o;
}

static cJSON *add_arr(struct jctx *c, cJSON *obj, const char *key)
{
	cJSON *o = cJSON_CreateArray();

	add_item(c, obj, key, o);
	return o;
}

static void add_endpoint(struct jctx *c, cJSON *root, const char *key, const uint8_t *ip,
			 uint16_t port, const char *name)
{
	char buf[INET6_ADDRSTRLEN];
	char pbuf[8];
	cJSON *o = add_obj(c, root, key);

	if (o == NULL)
		return;
	if (inet_ntop(c->it->family == 6 ? AF_INET6 : AF_INET, ip, buf, sizeof(buf)) == NULL)
		buf[0] = '\0';
	snprintf(pbuf, sizeof(pbuf), "%u", port);
	add_cstr(c, o, "ip", buf);
	add_cstr(c, o, "port", pbuf);
	add_cstr(c, o, "name", name != NULL ? name : "");
}

void kc_item_json_rfc3339(uint64_t ts_us, char *buf, size_t cap)
{
	time_t sec = (time_t)(ts_us / 1000000u);
	unsigned frac = (unsigned)(ts_us % 1000000u);
	struct tm tm;
	size_t n;
	int digits = 6;

	gmtime_r(&sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0) {
		/* RFC3339Nano style: drop trailing zeros of the fraction. */
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		n += (size_t)snprintf(buf + n, cap - n, ".%0*u", digits, frac);
	}
	snprintf(buf + n, cap - n, "Z");
}

/* Object of header name -> values joined with ","; first occurrence fixes
 * the key order. */
static void add_headers(struct jctx *c, cJSON *obj, const char *key, const struct kc_kv *kv,
			unsigned n)
{
	cJSON *h = add_obj(c, obj, key);
	static const unsigned MAXV = KC_ITEM_ARENA_SIZE;
	char *join;

	if (h == NULL)
		return;
	join = malloc(MAXV);
	if (join == NULL) {
		c->oom = 1;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *ni = kc_item_str(c->it, kv[i].name);
		size_t len = 0;
		int seen = 0;

		for (unsigned j = 0; j < i && !seen; j++)
			seen = kv[j].name.len == kv[i].name.len &&
			       memcmp(kc_item_str(c->it, kv[j].name), ni, kv[i].name.len) == 0;
		if (seen)
			continue;
		for (unsigned j = i; j < n; j++) {
			size_t vl = kv[j].value.len;

			if (kv[j].name.len != kv[i].name.len ||
			    memcmp(kc_item_str(c->it, kv[j].name), ni, kv[i].name.len) != 0)
				continue;
			if (len > 0 && len < MAXV)
				join[len++] = ',';
			if (vl > MAXV - len)
				vl = MAXV - len;
			memcpy(join + len, kc_item_str(c->it, kv[j].value), vl);
			len += vl;
		}
		/* The key needs a NUL-terminated, clean copy of its own. */
		{
			char kbuf[KEY_BUF];
			cJSON *v = cJSON_CreateString(utf8_clean(c, (const unsigned char *)join, len));

			if (v == NULL) {
				c->oom = 1;
				break;
			}
			cJSON_AddItemToObject(h, key_of(c->it, kv[i].name, kbuf), v);
		}
	}
	free(join);
}

/* Object name -> value, first occurrence wins (cookies). */
static void add_kv_first(struct jctx *c, cJSON *obj, const char *key, const struct kc_kv *kv,
			 unsigned n)
{
	cJSON *o = add_obj(c, obj, key);

	if (o == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		char kbuf[KEY_BUF];

		key_of(c->it, kv[i].name, kbuf);
		if (cJSON_GetObjectItemCaseSensitive(o, kbuf) != NULL)
			continue;
		add_view(c, o, kbuf, kv[i].value);
	}
}

/* queryString: a key seen once is a string, a repeated key an array. */
static void add_query(struct jctx *c, cJSON *obj, const struct kc_kv *kv, unsigned n)
{
	cJSON *o = add_obj(c, obj, "queryString");

	if (o == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		char kbuf[KEY_BUF];
		cJSON *prev, *arr;

		key_of(c->it, kv[i].name, kbuf);
		prev = cJSON_GetObjectItemCaseSensitive(o, kbuf);
		if (prev == NULL) {
			add_view(c, o, kbuf, kv[i].value);
			continue;
		}
		if (!cJSON_IsArray(prev)) {
			arr = cJSON_CreateArray();
			if (arr == NULL) {
				c->oom = 1;
				return;
			}
			cJSON_AddItemToArray(arr, cJSON_Duplicate(prev, 1));
			cJSON_ReplaceItemInObjectCaseSensitive(o, kbuf, arr);
			prev = arr;
		}
		add_view(c, prev, NULL, kv[i].value);
	}
}

static const char b64tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t kc_item_json_base64(const unsigned char *s, size_t n, char *out)
{
	char *o = out;
	size_t i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		*o++ = b64tab[w >> 18];
		*o++ = b64tab[(w >> 12) & 63];
		*o++ = b64tab[(w >> 6) & 63];
		*o++ = b64tab[w & 63];
	}
	if (i < n) {
		uint32_t w = (uint32_t)s[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t)s[i + 1] << 8;
		*o++ = b64tab[w >> 18];
		*o++ = b64tab[(w >> 12) & 63];
		*o++ = i + 1 < n ? b64tab[(w >> 6) & 63] : '=';
		*o++ = '=';
	}
	return (size_t)(o - out);
}

static void add_base64(struct jctx *c, cJSON *obj, const char *key, struct kc_str v)
{
	/* 4/3 of at most KC_ITEM_ARENA_SIZE fits the 3x scratch. */
	size_t n = kc_item_json_base64((const unsigned char *)kc_item_str(c->it, v), v.len, c->scratch);

	c->scratch[n] = '\0';
	add_item(c, obj, key, cJSON_CreateString(c->scratch));
}

/* Can @p s be shown as JSON text unchanged: valid UTF-8 by utf8_clean_to's
 * rule, no NUL (which would end the C string)? */
int kc_item_json_body_is_text(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = kc_item_utf8_seq(s + i, n - i);
		if (len == 0)
			return 0;
		i += len;
	}
	return 1;
}

static void render_http(struct jctx *c, cJSON *root)
{
	const struct kc_item *it = c->it;
	const struct kc_item_http *h = &it->u.http;
	cJSON *req = add_obj(c, root, "request");
	cJSON *resp = add_obj(c, root, "response");

	if (req == NULL || resp == NULL)
		return;
	if (it->flags & KC_ITEM_F_REQUEST) {
		const char *p = kc_item_str(it, h->path);
		cJSON *segs;
		size_t start = 0;

		add_view(c, req, "method", h->method);
		add_view(c, req, "path", h->path);
		segs = add_arr(c, req, "pathSegments");
		if (segs != NULL && h->path.len > 0) {
			/* strings.Split(path, "/") minus a leading "" */
			if (p[0] == '/')
				start = 1;
			for (size_t i = start; i <= h->path.len; i++) {
				if (i == h->path.len || p[i] == '/') {
					add_strn(c, segs, NULL, p + start, i - start);
					start = i + 1;
				}
			}
		}
		add_view(c, req, "url", h->url);
		add_view(c, req, "httpVersion", h->version);
		add_headers(c, req, "headers", h->req_headers, h->n_req_headers);
		add_kv_first(c, req, "cookies", h->req_cookies, h->n_req_cookies);
		add_query(c, req, h->query, h->n_query);
		add_num(c, req, "headersSize", h->req_headers_size);
		add_num(c, req, "bodySize", (double)h->req_body_size);
		if (h->req_body_size > 0 || h->req_body.len > 0) {
			cJSON *pd = add_obj(c, req, "postData");

			if (pd != NULL) {
				add_view(c, pd, "mimeType", h->req_mime);
				if (kc_item_json_body_is_text(
					    (const unsigned char *)kc_item_str(it, h->req_body), h->req_body.len)) {
					add_view(c, pd, "text", h->req_body);
				} else {
					add_base64(c, pd, "text", h->req_body);
					add_cstr(c, pd, "encoding", "base64");
				}
			}
		}
		if (it->proto == KC_ITEM_GRPC) {
			cJSON *g = add_obj(c, req, "grpc");

			if (g != NULL) {
				add_view(c, g, "service", h->grpc_service);
				add_view(c, g, "method", h->grpc_method);
			}
		}
	}
	if (it->flags & KC_ITEM_F_RESPONSE) {
		const struct kc_kv *loc;
		const struct kc_kv *enc;
		cJSON *content;
		double size = (double)h->resp_body_size;

		add_num(c, resp, "status", h->status);
		add_view(c, resp, "statusText", h->status_text);
		add_view(c, resp, "httpVersion", h->version);
		add_headers(c, resp, "headers", h->resp_headers, h->n_resp_headers);
		add_kv_first(c, resp, "cookies", h->resp_cookies, h->n_resp_cookies);
		content = add_obj(c, resp, "content");
		enc = kc_item_header_find(it, h->resp_headers, h->n_resp_headers,
					  "Content-Encoding");
		if (enc != NULL && !(it->flags & KC_ITEM_F_RESP_BODY_TRUNC))
			size = h->resp_body.len;
		if (content != NULL) {
			add_num(c, content, "size", size);
			add_view(c, content, "mimeType", h->resp_mime);
			add_cstr(c, content, "encoding", "base64");
			add_base64(c, content, "text", h->resp_body);
		}
		loc = kc_item_header_find(it, h->resp_headers, h->n_resp_headers, "Location");
		if (loc != NULL)
			add_view(c, resp, "redirectURL", loc->value);
		else
			add_cstr(c, resp, "redirectURL", "");
		add_num(c, resp, "headersSize", h->resp_headers_size);
		add_num(c, resp, "bodySize", (double)h->resp_body_size);
		if (it->proto == KC_ITEM_GRPC && h->grpc_status >= 0) {
			cJSON *g = add_obj(c, resp, "grpc");

			if (g != NULL)
				add_num(c, g, "status", h->grpc_status);
		}
	}
}

static void add_name_or_num(struct jctx *c, cJSON *o, const char *key, const char *name,
			    unsigned v)
{
	char buf[16];

	if (name == NULL) {
		snprintf(buf, sizeof(buf), "%u", v);
		name = buf;
	}
	add_cstr(c, o, key, name);
}

static void add_rr(struct jctx *c, cJSON *arr, const struct kc_dns_rr *rr)
{
	cJSON *o = add_obj(c, arr, NULL);
	const char *key;

	if (o == NULL)
		return;
	add_view(c, o, "name", rr->name);
	add_name_or_num(c, o, "type", kc_item_dns_type_name(rr->type), rr->type);
	add_name_or_num(c, o, "class", kc_item_dns_class_name(rr->class_), rr->class_);
	add_num(c, o, "ttl", rr->ttl);
	switch (rr->type) {
	case 1:
	case 28:
		add_view(c, o, "ip", rr->data);
		add_cstr(c, o, "cname", "");
		return;
	case 5: key = "cname"; break;
	case 12: key = "ptr"; break;
	case 2: key = "ns"; break;
	case 15: key = "mx"; break;
	case 6: key = "soa"; break;
	case 33: key = "srv"; break;
	case 256: key = "uri"; break;
	case 41: key = "opt"; break;
	case 16: {
		cJSON *t = add_arr(c, o, "txts");
		const char *d = kc_item_str(c->it, rr->data);
		size_t start = 0;

		if (t == NULL || rr->data.len == 0)
			return;
		for (size_t i = 0; i <= rr->data.len; i++) {
			if (i == rr->data.len || d[i] == '\0') {
				add_strn(c, t, NULL, d + start, i - start);
				start = i + 1;
			}
		}
		return;
	}
	default: key = "data"; break;
	}
	add_view(c, o, key, rr->data);
}

static void render_dns(struct jctx *c, cJSON *root)
{
	const struct kc_item_dns *d = &c->it->u.dns;
	cJSON *req = add_obj(c, root, "request");
	cJSON *resp = add_obj(c, root, "response");
	unsigned nq = KC_MIN((unsigned)d->n_questions, KC_ITEM_MAX_DNS_Q);
	unsigned sect[3] = { d->n_answers, d->n_authorities, d->n_additionals };
	static const char *const names[3] = { "answers", "authorities", "additionals" };
	unsigned k = 0;

	if (req == NULL || resp == NULL)
		return;
	if (c->it->flags & KC_ITEM_F_REQUEST) {
		cJSON *qs;

		add_name_or_num(c, req, "opCode", kc_item_dns_opcode_name(d->opcode), d->opcode);
		qs = add_arr(c, req, "questions");
		for (unsigned i = 0; qs != NULL && i < nq; i++) {
			cJSON *q = add_obj(c, qs, NULL);

			if (q == NULL)
				break;
			add_view(c, q, "name", d->questions[i].name);
			add_name_or_num(c, q, "type", kc_item_dns_type_name(d->questions[i].type),
					d->questions[i].type);
			add_name_or_num(c, q, "class",
					kc_item_dns_class_name(d->questions[i].class_),
					d->questions[i].class_);
		}
	}
	if (!(c->it->flags & KC_ITEM_F_RESPONSE))
		return;
	add_name_or_num(c, resp, "code", kc_item_dns_rcode_name(d->rcode), d->rcode);
	for (unsigned s = 0; s < 3; s++) {
		cJSON *a = add_arr(c, resp, names[s]);

		for (unsigned i = 0; a != NULL && i < sect[s] && k < KC_ITEM_MAX_DNS_RR; i++, k++)
			add_rr(c, a, &d->rrs[k]);
	}
}

static void add_tls_version(struct jctx *c, cJSON *o, const char *key, uint16_t v)
{
	char buf[8];
	const char *n = kc_item_tls_version_name(v);

	if (n == NULL) {
		snprintf(buf, sizeof(buf), "0x%04x", v);
		n = buf;
	}
	add_cstr(c, o, key, n);
}

static void render_tls(struct jctx *c, cJSON *root)
{
	const struct kc_item_tls *t = &c->it->u.tls;
	cJSON *req = add_obj(c, root, "request");
	cJSON *resp = add_obj(c, root, "response");

	if (req == NULL || resp == NULL)
		return;
	if (c->it->flags & KC_ITEM_F_REQUEST) {
		cJSON *a;

		add_view(c, req, "serverName", t->sni);
		a = add_arr(c, req, "alpn");
		for (unsigned i = 0; a != NULL && i < KC_MIN(t->n_alpn, KC_ITEM_MAX_ALPN); i++)
			add_view(c, a, NULL, t->alpn[i]);
		a = add_arr(c, req, "versions");
		for (unsigned i = 0; a != NULL && i < KC_MIN(t->n_versions, 8u); i++)
			add_tls_version(c, a, NULL, t->offered_versions[i]);
		add_tls_version(c, req, "version", t->client_version);
	}
	if (c->it->flags & KC_ITEM_F_RESPONSE) {
		char buf[8];
		const char *cs = kc_item_tls_cipher_name(t->cipher_suite);

		add_tls_version(c, resp, "version", t->server_version);
		if (cs == NULL) {
			snprintf(buf, sizeof(buf), "0x%04x", t->cipher_suite);
			cs = buf;
		}
		add_cstr(c, resp, "cipherSuite", cs);
		add_view(c, resp, "alpn", t->alpn_chosen);
	}
}

static void render_protocol(struct jctx *c, cJSON *root)
{
	const struct kc_item *it = c->it;
	cJSON *p = add_obj(c, root, "protocol");
	const char *macro;
	char ver[32];

	if (p == NULL)
		return;
	macro = kc_item_json_proto_version(it, it->arena, ver);
	add_cstr(c, p, "name", kc_item_proto_name(it->proto));
	add_cstr(c, p, "version", ver);
	add_cstr(c, p, "abbr", kc_item_proto_abbr(it->proto));
	add_cstr(c, p, "macro", macro);
	add_cstr(c, p, "layer4", it->l4 == 17 ? "udp" : "tcp");
}

cJSON *kc_item_to_cjson(const struct kc_item *it)
{
	return kc_item_to_cjson_opts(it, NULL);
}

static void clamp(struct kc_str *v)
{
	if (v->off >= KC_ITEM_ARENA_SIZE)
		*v = (struct kc_str){ 0, 0 };
	else if ((size_t)v->off + v->len > KC_ITEM_ARENA_SIZE)
		v->len = (uint16_t)(KC_ITEM_ARENA_SIZE - v->off);
}

static void clamp_kv(struct kc_kv *kv, uint8_t *n, unsigned max)
{
	if (*n > max)
		*n = (uint8_t)max;
	for (unsigned i = 0; i < *n; i++) {
		clamp(&kv[i].name);
		clamp(&kv[i].value);
	}
}

/* The renderer trusts nothing it did not build: views are clamped to the
 * arena and counts to their tables, so an item from a buggy (or fuzzed)
 * producer renders garbage at worst, never reads out of bounds. */
const char *kc_item_json_proto_version(const struct kc_item *it, const char *arena, char ver[32])
{
	ver[0] = '\0';
	switch (it->proto) {
	case KC_ITEM_HTTP: {
		const char *s = arena + it->u.http.version.off;
		size_t n = it->u.http.version.len;

		if (n > 5 && memcmp(s, "HTTP/", 5) == 0) {
			s += 5;
			n -= 5;
		}
		n = KC_MIN(n, 31);
		memcpy(ver, s, n);
		ver[n] = '\0';
		return "http";
	}
	case KC_ITEM_HTTP2: strcpy(ver, "2.0"); return "http2";
	case KC_ITEM_GRPC: strcpy(ver, "2.0"); return "grpc";
	case KC_ITEM_DNS: strcpy(ver, "0"); return "dns";
	case KC_ITEM_TLS: {
		const char *n = kc_item_tls_version_name(it->u.tls.server_version);

		if (n != NULL && strncmp(n, "TLS ", 4) == 0)
			snprintf(ver, 32, "%s", n + 4);
		return "tls";
	}
	case KC_ITEM_UDP: return "udp";
	default: return "tcp";
	}
}

void kc_item_json_sanitize(struct kc_item *it)
{
	if (it->proto == KC_ITEM_HTTP || it->proto == KC_ITEM_HTTP2 || it->proto == KC_ITEM_GRPC) {
		struct kc_item_http *h = &it->u.http;
		struct kc_str *v[] = { &h->method, &h->url, &h->path, &h->version, &h->host,
				       &h->status_text, &h->req_mime, &h->resp_mime, &h->req_body,
				       &h->resp_body, &h->grpc_service, &h->grpc_method };

		for (size_t i = 0; i < KC_ARRAY_SIZE(v); i++)
			clamp(v[i]);
		clamp_kv(h->req_headers, &h->n_req_headers, KC_ITEM_MAX_HEADERS);
		clamp_kv(h->resp_headers, &h->n_resp_headers, KC_ITEM_MAX_HEADERS);
		clamp_kv(h->req_cookies, &h->n_req_cookies, KC_ITEM_MAX_PARAMS);
		clamp_kv(h->resp_cookies, &h->n_resp_cookies, KC_ITEM_MAX_PARAMS);
		clamp_kv(h->query, &h->n_query, KC_ITEM_MAX_PARAMS);
	} else if (it->proto == KC_ITEM_DNS) {
		struct kc_item_dns *d = &it->u.dns;

		for (unsigned i = 0; i < KC_ITEM_MAX_DNS_Q; i++)
			clamp(&d->questions[i].name);
		for (unsigned i = 0; i < KC_ITEM_MAX_DNS_RR; i++) {
			clamp(&d->rrs[i].name);
			clamp(&d->rrs[i].data);
		}
	} else if (it->proto == KC_ITEM_TLS) {
		struct kc_item_tls *t = &it->u.tls;

		clamp(&t->sni);
		clamp(&t->alpn_chosen);
		for (unsigned i = 0; i < KC_ITEM_MAX_ALPN; i++)
			clamp(&t->alpn[i]);
	}
}

/* The sanitised copy and the text scratch are per thread, not per call: two
 * 10-30 KiB allocations per item were a quarter of the cost of rendering. */
static _Thread_local struct kc_item tl_item;
static _Thread_local char tl_scratch[SCRATCH_SIZE];

static cJSON *render(const struct kc_item *item, const struct kc_item_json_opts *opts, int raw_ints)
{
	struct jctx c = { .raw_ints = raw_ints };
	struct kc_item *it = &tl_item;
	cJSON *root;
	char buf[96];
	const char *l4;

	c.scratch = tl_scratch;
	root = cJSON_CreateObject();
	if (root == NULL)
		goto oom;
	memcpy(it, item, sizeof(*it));
	kc_item_json_sanitize(it);
	c.it = it;
	l4 = it->l4 == 17 ? "udp" : "tcp";
	snprintf(buf, sizeof(buf), "%u/%" PRIu64 "_%s-%u", it->worker, it->stream_id, l4,
		 it->index);
	add_cstr(&c, root, "id", buf);
	add_num(&c, root, "index", it->index);
	snprintf(buf, sizeof(buf), "%" PRIu64 "_%s", it->stream_id, l4);
	add_cstr(&c, root, "stream", buf);
	snprintf(buf, sizeof(buf), "%u", it->worker);
	add_cstr(&c, root, "worker", buf);
	render_protocol(&c, root);
	add_bool(&c, root, "tls", 0);
	add_bool(&c, root, "outgoing", 0);
	add_endpoint(&c, root, "src", it->src_ip, it->src_port, opts ? opts->src_name : NULL);
	add_endpoint(&c, root, "dst", it->dst_ip, it->dst_port, opts ? opts->dst_name : NULL);
	add_num(&c, root, "timestamp", (double)(it->ts_us / 1000u));
	kc_item_json_rfc3339(it->ts_us, buf, sizeof(buf));
	add_cstr(&c, root, "startTime", buf);
	add_num(&c, root, "elapsedTime", (double)kc_item_elapsed_ms(it));
	add_num(&c, root, "requestSize", (double)it->req_size);
	add_num(&c, root, "responseSize", (double)it->resp_size);
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC:
		render_http(&c, root);
		break;
	case KC_ITEM_DNS:
		render_dns(&c, root);
		break;
	case KC_ITEM_TLS:
		render_tls(&c, root);
		break;
	default:
		add_obj(&c, root, "request");
		add_obj(&c, root, "response");
		break;
	}
	if (c.oom)
		goto oom;
	return root;
oom:
	cJSON_Delete(root);
	errno = ENOMEM;
	return NULL;
}

cJSON *kc_item_to_cjson_opts(const struct kc_item *item, const struct kc_item_json_opts *opts)
{
	return render(item, opts, 0);
}

/* The text through the cJSON tree: what kc_item_to_json() printed before it
 * wrote the text directly, kept as the tests' reference for it. */
int kc_item_to_json_cjson(const struct kc_item *it, char *buf, size_t cap, size_t *len)
{
	cJSON *root = render(it, NULL, 1);
	int ok;

	if (root == NULL)
		return -ENOMEM;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	ok = cJSON_PrintPreallocated(root, buf, (int)cap, 0);
	cJSON_Delete(root);
	if (!ok)
		return -ENOSPC;
	if (len != NULL)
		*len = strlen(buf);
	return 0;
}
