/*
 * struct kc_item backend: presents an item as the JSON document that
 * lib/item/item_json.c renders (its header comment is THE CONTRACT; this file
 * implements the same mapping field by field, without rendering). Known
 * selector paths are resolved at compile time to a node kind
 * (kfl_item_fast), so `response.status` costs a switch, not a walk; open-ended
 * maps (headers, cookies, query strings) and arrays take the generic lookup.
 *
 * Summary of the mapping (keys in this order):
 *   id "<worker>/<stream>_<l4>-<index>", index, stream "<stream_id>_<l4>",
 *   worker "<n>", protocol {name, version, abbr, macro, layer4}, tls false,
 *   outgoing false, src/dst {ip, port "80", name ""}, timestamp (ms),
 *   startTime (RFC 3339), elapsedTime (kc_item_elapsed_ms), requestSize,
 *   responseSize, request {}, response {} (empty objects when that side is
 *   absent; always {} for tcp/udp items).
 *   HTTP request: method, path, pathSegments[], url, httpVersion, headers{}
 *     (repeats joined ","), cookies{} (first wins), queryString{} (repeats ->
 *     array), headersSize, bodySize, postData? {mimeType, text, encoding?}
 *     (text: the body when valid UTF-8 without NUL, else base64 of it with
 *     encoding "base64"), grpc?
 *     {service, method}.
 *   HTTP response: status, statusText, httpVersion, headers{}, cookies{},
 *     content {size, mimeType, encoding "base64", text base64}, redirectURL,
 *     headersSize, bodySize, grpc? {status}.
 *   DNS request: opCode, questions[{name, type, class}]; response: code,
 *     answers[], authorities[], additionals[] of {name, type, class, ttl,
 *     <data key>} (A/AAAA: ip + cname ""; TXT: txts[] split on NUL; others
 *     by type, "data" when unnamed).
 *   TLS request: serverName, alpn[], versions[], version; response: version,
 *     cipherSuite (IANA name or "0x%04x"), alpn.
 *   Names come from kc_item_names.h; unnamed values render in decimal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kc_item_names.h"
#include "kfl_internal.h"

enum kind {
	K_NONE = 0,
	K_ROOT, K_EMPTY,
	K_ID, K_INDEX, K_STREAM, K_WORKER,
	K_PROTO, K_PROTO_NAME, K_PROTO_VERSION, K_PROTO_ABBR, K_PROTO_MACRO, K_PROTO_L4,
	K_TLS, K_OUTGOING,
	K_SRC, K_SRC_IP, K_SRC_PORT, K_SRC_NAME, K_DST, K_DST_IP, K_DST_PORT, K_DST_NAME,
	K_TIMESTAMP, K_STARTTIME, K_ELAPSED, K_REQSIZE, K_RESPSIZE,
	K_HREQ,
	K_HREQ_METHOD, K_HREQ_PATH, K_HREQ_PATHSEG, K_HREQ_URL, K_HREQ_VERSION,
	K_HREQ_HEADERS, K_HREQ_COOKIES, K_HREQ_QUERY, K_HREQ_HSIZE, K_HREQ_BSIZE,
	K_HREQ_POST, K_HREQ_POST_MIME, K_HREQ_POST_TEXT, K_HREQ_POST_ENC,
	K_HREQ_GRPC, K_HREQ_GRPC_SERVICE, K_HREQ_GRPC_METHOD,
	K_HRESP,
	K_HRESP_STATUS, K_HRESP_STATUSTEXT, K_HRESP_VERSION, K_HRESP_HEADERS,
	K_HRESP_COOKIES, K_HRESP_CONTENT, K_HRESP_C_SIZE, K_HRESP_C_MIME, K_HRESP_C_ENC,
	K_HRESP_C_TEXT, K_HRESP_REDIRECT, K_HRESP_HSIZE, K_HRESP_BSIZE,
	K_HRESP_GRPC, K_HRESP_GRPC_STATUS,
	K_QMULTI,
	K_DREQ, K_DREQ_OPCODE, K_DREQ_QUESTIONS, K_DQ, K_DQ_NAME, K_DQ_TYPE, K_DQ_CLASS,
	K_DRESP, K_DRESP_CODE, K_DRESP_ANSWERS, K_DRESP_AUTH, K_DRESP_ADDL,
	K_DRR, K_DRR_NAME, K_DRR_TYPE, K_DRR_CLASS, K_DRR_TTL, K_DRR_DATA, K_DRR_CNAME0,
	K_DRR_TXTS,
	K_TREQ, K_TREQ_SNI, K_TREQ_ALPN, K_TREQ_VERSIONS, K_TREQ_VERSION,
	K_TRESP, K_TRESP_VERSION, K_TRESP_CIPHER, K_TRESP_ALPN,
	K_MAX
};

_Static_assert(K_MAX < 256, "kinds must fit kfl_val.kind");

struct child {
	const char *name;
	uint8_t kind;
};

#define ROOT_COMMON                                                                      \
	{ "id", K_ID }, { "index", K_INDEX }, { "stream", K_STREAM }, { "worker", K_WORKER }, \
	{ "protocol", K_PROTO }, { "tls", K_TLS }, { "outgoing", K_OUTGOING },               \
	{ "src", K_SRC }, { "dst", K_DST }, { "timestamp", K_TIMESTAMP },                    \
	{ "startTime", K_STARTTIME }, { "elapsedTime", K_ELAPSED },                          \
	{ "requestSize", K_REQSIZE }, { "responseSize", K_RESPSIZE }

static const struct child root_http[] = { ROOT_COMMON, { "request", K_HREQ },
					  { "response", K_HRESP }, { NULL, 0 } };
static const struct child root_dns[] = { ROOT_COMMON, { "request", K_DREQ },
					 { "response", K_DRESP }, { NULL, 0 } };
static const struct child root_tls[] = { ROOT_COMMON, { "request", K_TREQ },
					 { "response", K_TRESP }, { NULL, 0 } };
static const struct child root_l4[] = { ROOT_COMMON, { "request", K_EMPTY },
					{ "response", K_EMPTY }, { NULL, 0 } };
static const struct child t_empty[] = { { NULL, 0 } };
static const struct child t_proto[] = { { "name", K_PROTO_NAME }, { "version", K_PROTO_VERSION },
					{ "abbr", K_PROTO_ABBR }, { "macro", K_PROTO_MACRO },
					{ "layer4", K_PROTO_L4 }, { NULL, 0 } };
static const struct child t_src[] = { { "ip", K_SRC_IP }, { "port", K_SRC_PORT },
				      { "name", K_SRC_NAME }, { NULL, 0 } };
static const struct child t_dst[] = { { "ip", K_DST_IP }, { "port", K_DST_PORT },
				      { "name", K_DST_NAME }, { NULL, 0 } };
static const struct child t_hreq[] = {
	{ "method", K_HREQ_METHOD },     { "path", K_HREQ_PATH },
	{ "pathSegments", K_HREQ_PATHSEG }, { "url", K_HREQ_URL },
	{ "httpVersion", K_HREQ_VERSION }, { "headers", K_HREQ_HEADERS },
	{ "cookies", K_HREQ_COOKIES },   { "queryString", K_HREQ_QUERY },
	{ "headersSize", K_HREQ_HSIZE }, { "bodySize", K_HREQ_BSIZE },
	{ "postData", K_HREQ_POST },     { "grpc", K_HREQ_GRPC },
	{ NULL, 0 },
};
static const struct child t_hreq_post[] = { { "mimeType", K_HREQ_POST_MIME },
					    { "text", K_HREQ_POST_TEXT },
					    { "encoding", K_HREQ_POST_ENC }, { NULL, 0 } };
static const struct child t_hreq_grpc[] = { { "service", K_HREQ_GRPC_SERVICE },
					    { "method", K_HREQ_GRPC_METHOD }, { NULL, 0 } };
static const struct child t_hresp[] = {
	{ "status", K_HRESP_STATUS },   { "statusText", K_HRESP_STATUSTEXT },
	{ "httpVersion", K_HRESP_VERSION }, { "headers", K_HRESP_HEADERS },
	{ "cookies", K_HRESP_COOKIES }, { "content", K_HRESP_CONTENT },
	{ "redirectURL", K_HRESP_REDIRECT }, { "headersSize", K_HRESP_HSIZE },
	{ "bodySize", K_HRESP_BSIZE },  { "grpc", K_HRESP_GRPC },
	{ NULL, 0 },
};
static const struct child t_hresp_content[] = { { "size", K_HRESP_C_SIZE },
						{ "mimeType", K_HRESP_C_MIME },
						{ "encoding", K_HRESP_C_ENC },
						{ "text", K_HRESP_C_TEXT }, { NULL, 0 } };
static const struct child t_hresp_grpc[] = { { "status", K_HRESP_GRPC_STATUS }, { NULL, 0 } };
static const struct child t_dreq[] = { { "opCode", K_DREQ_OPCODE },
				       { "questions", K_DREQ_QUESTIONS }, { NULL, 0 } };
static const struct child t_dq[] = { { "name", K_DQ_NAME }, { "type", K_DQ_TYPE },
				     { "class", K_DQ_CLASS }, { NULL, 0 } };
static const struct child t_dresp[] = { { "code", K_DRESP_CODE }, { "answers", K_DRESP_ANSWERS },
					{ "authorities", K_DRESP_AUTH },
					{ "additionals", K_DRESP_ADDL }, { NULL, 0 } };
static const struct child t_treq[] = { { "serverName", K_TREQ_SNI }, { "alpn", K_TREQ_ALPN },
				       { "versions", K_TREQ_VERSIONS },
				       { "version", K_TREQ_VERSION }, { NULL, 0 } };
static const struct child t_tresp[] = { { "version", K_TRESP_VERSION },
					{ "cipherSuite", K_TRESP_CIPHER },
					{ "alpn", K_TRESP_ALPN }, { NULL, 0 } };

bool kfl_item_kind_proto_only(uint8_t kind)
{
	/* kfl_item_node() answers these from it->proto alone, and present()
	 * always says yes to them. */
	return kind == K_PROTO_NAME || kind == K_PROTO_ABBR || kind == K_PROTO_MACRO;
}

/* Objects whose keys are fixed; NULL for open-ended maps, arrays, leaves and
 * DNS records (keys depend on the type). */
static const struct child *table_of(uint8_t kind, enum kfl_fam fam)
{
	switch (kind) {
	case K_ROOT:
		return fam == FAM_HTTP ? root_http : fam == FAM_DNS ? root_dns :
		       fam == FAM_TLS ? root_tls : root_l4;
	case K_EMPTY: return t_empty;
	case K_PROTO: return t_proto;
	case K_SRC: return t_src;
	case K_DST: return t_dst;
	case K_HREQ: return t_hreq;
	case K_HREQ_POST: return t_hreq_post;
	case K_HREQ_GRPC: return t_hreq_grpc;
	case K_HRESP: return t_hresp;
	case K_HRESP_CONTENT: return t_hresp_content;
	case K_HRESP_GRPC: return t_hresp_grpc;
	case K_DREQ: return t_dreq;
	case K_DQ: return t_dq;
	case K_DRESP: return t_dresp;
	case K_TREQ: return t_treq;
	case K_TRESP: return t_tresp;
	default: return NULL;
	}
}

static const struct kfl_ops item_ops;

static void mk_coll(struct kfl_val *out, uint8_t t, const struct kc_item *it, uint8_t kind,
		    uint16_t idx)
{
	memset(out, 0, sizeof(*out));
	out->t = t;
	out->kind = kind;
	out->idx = idx;
	out->u.p = it;
	out->ops = &item_ops;
}

void kfl_item_root(const struct kc_item *it, struct kfl_val *out)
{
	mk_coll(out, KFL_OBJ, it, K_ROOT, 0);
}


/*
 * A string as the JSON rendering shows it: cut at the first NUL (cJSON
 * strings are C strings) and ill-formed UTF-8 replaced by U+FFFD, exactly
 * as item_json.c's utf8_clean_to(). ASCII text (the usual case) stays a
 * view; only text that needs replacing is copied into the scratch.
 */
static struct kfl_val clean(struct kfl_ctx *x, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;
	bool dirty = false;

	for (; i < n; i++) {
		if (s[i] == 0)
			break;
		if (s[i] >= 0x80) {
			size_t k = kc_item_utf8_seq(s + i, n - i);
			if (k == 0) {
				dirty = true;
			} else {
				i += k - 1;
			}
		}
	}
	n = i; /* up to the first NUL */
	if (!dirty)
		return kfl_v_str(p, n);
	char *o = x != NULL ? kfl_alloc(x, 3 * n + 1) : NULL;
	if (o == NULL)
		return kfl_v_str("", 0); /* counted by kfl_alloc */
	size_t k = 0;
	for (i = 0; i < n;) {
		size_t q = s[i] < 0x80 ? 1 : kc_item_utf8_seq(s + i, n - i);
		if (q == 0) {
			o[k++] = (char)0xef;
			o[k++] = (char)0xbf;
			o[k++] = (char)0xbd;
			i++;
			continue;
		}
		memcpy(o + k, s + i, q);
		k += q;
		i += q;
	}
	return kfl_v_str(o, k);
}

/* Arena view, clamped to the arena (a corrupt view renders as ""). */
static struct kfl_val sv(struct kfl_ctx *x, const struct kc_item *it, struct kc_str s)
{
	if ((uint32_t)s.off + s.len > KC_ITEM_ARENA_SIZE)
		return kfl_v_str("", 0);
	return clean(x, kc_item_str(it, s), s.len);
}

/* item_json.c's body_is_text(): shown as is when valid UTF-8 without NUL,
 * else base64 with "encoding". */
static bool body_is_text(const struct kc_item *it, struct kc_str v)
{
	const unsigned char *s = (const unsigned char *)kc_item_str(it, v);
	size_t n = v.len;

	if ((uint32_t)v.off + v.len > KC_ITEM_ARENA_SIZE)
		return true; /* renders as "" */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == 0)
			return false;
		if (s[i] >= 0x80) {
			size_t k = kc_item_utf8_seq(s + i, n - i);

			if (k == 0)
				return false;
			i += k - 1;
		}
	}
	return true;
}

/* Raw bytes of a view (for splitting and base64, which the renderer does on
 * the raw bytes). */
static struct kfl_val raw(const struct kc_item *it, struct kc_str s)
{
	if ((uint32_t)s.off + s.len > KC_ITEM_ARENA_SIZE)
		return kfl_v_str("", 0);
	return kfl_v_str(kc_item_str(it, s), s.len);
}

static bool sv_eq(const struct kc_item *it, struct kc_str s, const char *k, size_t n)
{
	return s.len == n && (uint32_t)s.off + s.len <= KC_ITEM_ARENA_SIZE &&
	       memcmp(kc_item_str(it, s), k, n) == 0;
}

static struct kfl_val cs(const char *s)
{
	return kfl_v_str(s, strlen(s));
}

static int fmt(struct kfl_ctx *x, struct kfl_val *out, size_t cap, const char *f, ...)
	kc_printf_like(4, 5);

static int fmt(struct kfl_ctx *x, struct kfl_val *out, size_t cap, const char *f, ...)
{
	char *b = kfl_alloc(x, cap);
	va_list ap;

	if (b == NULL)
		return -ENOSPC;
	va_start(ap, f);
	int n = vsnprintf(b, cap, f, ap);
	va_end(ap);
	*out = kfl_v_str(b, n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n);
	return 0;
}

/* A name from kc_item_names.h, or the value in decimal. */
static int name_or_num(struct kfl_ctx *x, const char *name, unsigned v, struct kfl_val *out)
{
	if (name != NULL) {
		*out = cs(name);
		return 0;
	}
	return fmt(x, out, 12, "%u", v);
}

static int ip_text(struct kfl_ctx *x, const struct kc_item *it, const uint8_t *ip,
		   struct kfl_val *out)
{
	char *b = kfl_alloc(x, INET6_ADDRSTRLEN);
	if (b == NULL)
		return -ENOSPC;
	if (inet_ntop(it->family == 6 ? AF_INET6 : AF_INET, ip, b, INET6_ADDRSTRLEN) == NULL)
		b[0] = '\0';
	*out = cs(b);
	return 0;
}

static const char *l4_name(const struct kc_item *it)
{
	return it->l4 == 17 ? "udp" : "tcp";
}

/* RFC 3339 UTC with the fraction's trailing zeros trimmed, like the renderer
 * (computed by hand: gmtime_r may take the time-zone lock). */
static int start_time(struct kfl_ctx *x, uint64_t ts_us, struct kfl_val *out)
{
	int64_t z = (int64_t)(ts_us / 1000000u) / 86400 + 719468;
	uint32_t sod = (uint32_t)((ts_us / 1000000u) % 86400);
	unsigned frac = (unsigned)(ts_us % 1000000u);
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	char fr[16] = "";
	int digits = 6;

	y += m <= 2;
	if (frac != 0) {
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(fr, sizeof(fr), ".%0*u", digits, frac);
	}
	return fmt(x, out, 40, "%04lld-%02u-%02uT%02u:%02u:%02u%sZ", (long long)y, m, d, sod / 3600,
		   sod / 60 % 60, sod % 60, fr);
}

/* DNS record sections inside rrs[]: [first, first + n). */
static void rr_section(const struct kc_item *it, uint8_t kind, uint32_t *first, uint32_t *n)
{
	const struct kc_item_dns *d = &it->u.dns;
	uint32_t a = KC_MIN((uint32_t)d->n_answers, KC_ITEM_MAX_DNS_RR);
	uint32_t au = KC_MIN((uint32_t)d->n_authorities, KC_ITEM_MAX_DNS_RR - a);
	uint32_t ad = KC_MIN((uint32_t)d->n_additionals, KC_ITEM_MAX_DNS_RR - a - au);

	if (kind == K_DRESP_ANSWERS) {
		*first = 0;
		*n = a;
	} else if (kind == K_DRESP_AUTH) {
		*first = a;
		*n = au;
	} else {
		*first = a + au;
		*n = ad;
	}
}

/* Keys of a DNS record (they depend on its type). */
static uint32_t rr_keys(const struct kc_item *it, uint16_t idx, const char **names, uint8_t *kinds)
{
	static const char *const fixed[] = { "name", "type", "class", "ttl" };
	static const uint8_t fk[] = { K_DRR_NAME, K_DRR_TYPE, K_DRR_CLASS, K_DRR_TTL };
	uint32_t n = 4;
	const char *key;

	memcpy(names, fixed, sizeof(fixed));
	memcpy(kinds, fk, sizeof(fk));
	switch (it->u.dns.rrs[idx].type) {
	case 1:
	case 28:
		names[4] = "ip";
		kinds[4] = K_DRR_DATA;
		names[5] = "cname";
		kinds[5] = K_DRR_CNAME0;
		return 6;
	case 16:
		names[4] = "txts";
		kinds[4] = K_DRR_TXTS;
		return 5;
	case 5: key = "cname"; break;
	case 12: key = "ptr"; break;
	case 2: key = "ns"; break;
	case 15: key = "mx"; break;
	case 6: key = "soa"; break;
	case 33: key = "srv"; break;
	case 256: key = "uri"; break;
	case 41: key = "opt"; break;
	default: key = "data"; break;
	}
	names[n] = key;
	kinds[n] = K_DRR_DATA;
	return n + 1;
}

/* TXT data split on NUL bytes; no parts when the data is empty. */
static uint32_t txt_count(const struct kc_item *it, uint16_t idx)
{
	struct kfl_val v = raw(it, it->u.dns.rrs[idx].data);
	uint32_t c = v.len ? 1 : 0;
	for (uint32_t i = 0; i < v.len; i++)
		c += v.u.s[i] == '\0';
	return c;
}

static bool split_at(const char *p, size_t n, char sep, uint32_t k, struct kfl_val *out)
{
	size_t s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == sep) {
			if (k == 0) {
				*out = kfl_v_str(p + s, i - s);
				return true;
			}
			k--;
			s = i + 1;
		}
	}
	return false;
}

/* Header/cookie/query arrays of an HTTP item. */
static const struct kc_kv *kv_of(const struct kc_item *it, uint8_t kind, uint32_t *n)
{
	const struct kc_item_http *h = &it->u.http;
	switch (kind) {
	case K_HREQ_HEADERS:
		*n = KC_MIN((uint32_t)h->n_req_headers, KC_ITEM_MAX_HEADERS);
		return h->req_headers;
	case K_HRESP_HEADERS:
		*n = KC_MIN((uint32_t)h->n_resp_headers, KC_ITEM_MAX_HEADERS);
		return h->resp_headers;
	case K_HREQ_COOKIES:
		*n = KC_MIN((uint32_t)h->n_req_cookies, KC_ITEM_MAX_PARAMS);
		return h->req_cookies;
	case K_HRESP_COOKIES:
		*n = KC_MIN((uint32_t)h->n_resp_cookies, KC_ITEM_MAX_PARAMS);
		return h->resp_cookies;
	default: /* K_HREQ_QUERY, K_QMULTI */
		*n = KC_MIN((uint32_t)h->n_query, KC_ITEM_MAX_PARAMS);
		return h->query;
	}
}

/* Values of every entry named like kv[i], joined with ",". */
static int kv_join(struct kfl_ctx *x, const struct kc_item *it, const struct kc_kv *kv, uint32_t n,
		   uint32_t i, struct kfl_val *out)
{
	const char *name = kc_item_str(it, kv[i].name);
	uint32_t cnt = 0, total = 0;

	for (uint32_t j = i; j < n; j++)
		if (sv_eq(it, kv[j].name, name, kv[i].name.len)) {
			cnt++;
			total += kv[j].value.len + 1u;
		}
	if (cnt == 1) {
		*out = sv(x, it, kv[i].value);
		return 0;
	}
	char *b = kfl_alloc(x, total);
	if (b == NULL)
		return -ENOSPC;
	size_t k = 0;
	for (uint32_t j = i; j < n; j++) {
		if (!sv_eq(it, kv[j].name, name, kv[i].name.len))
			continue;
		struct kfl_val v = raw(it, kv[j].value);
		if (k)
			b[k++] = ',';
		memcpy(b + k, v.u.s, v.len);
		k += v.len;
	}
	/* the renderer joins the raw values, then cleans the whole */
	*out = clean(x, b, k);
	return 0;
}

/* Index of the first entry named key, or -1. */
static int kv_find(const struct kc_item *it, const struct kc_kv *kv, uint32_t n, const char *key,
		   size_t klen)
{
	for (uint32_t j = 0; j < n; j++)
		if (sv_eq(it, kv[j].name, key, klen))
			return (int)j;
	return -1;
}

static bool kv_first(const struct kc_item *it, const struct kc_kv *kv, uint32_t i)
{
	for (uint32_t j = 0; j < i; j++)
		if (sv_eq(it, kv[j].name, kc_item_str(it, kv[i].name), kv[i].name.len))
			return false;
	return true;
}

static uint32_t kv_count_name(const struct kc_item *it, const struct kc_kv *kv, uint32_t n,
			      uint32_t i)
{
	uint32_t c = 0;
	for (uint32_t j = i; j < n; j++)
		if (sv_eq(it, kv[j].name, kc_item_str(it, kv[i].name), kv[i].name.len))
			c++;
	return c;
}

/* Value of map entry i: headers join repeats, cookies keep the first, query
 * parameters turn repeats into an array. */
static int kv_val(struct kfl_ctx *x, const struct kc_item *it, uint8_t kind, const struct kc_kv *kv,
		  uint32_t n, uint32_t i, struct kfl_val *out)
{
	if (kind == K_HREQ_QUERY) {
		if (kv_count_name(it, kv, n, i) == 1)
			*out = sv(x, it, kv[i].value);
		else
			mk_coll(out, KFL_ARR, it, K_QMULTI, (uint16_t)i);
		return 0;
	}
	if (kind == K_HREQ_COOKIES || kind == K_HRESP_COOKIES) {
		*out = sv(x, it, kv[i].value);
		return 0;
	}
	return kv_join(x, it, kv, n, i, out);
}

/* Path segments: strings.Split(path, "/") minus a leading "". */
static void path_span(const struct kc_item *it, const char **p, size_t *n)
{
	/* the renderer splits the raw path; each segment is then cleaned */
	struct kfl_val v = raw(it, it->u.http.path);
	*p = v.u.s;
	*n = v.len;
	if (*n > 0 && **p == '/') {
		(*p)++;
		(*n)--;
	}
}

static uint32_t pathseg_count(const struct kc_item *it)
{
	const char *p;
	size_t n;
	if (it->u.http.path.len == 0)
		return 0;
	path_span(it, &p, &n);
	uint32_t c = 1;
	for (size_t i = 0; i < n; i++)
		c += p[i] == '/';
	return c;
}

/* Is field kind present in this item? */
static bool present(const struct kc_item *it, uint8_t kind)
{
	bool req = it->flags & KC_ITEM_F_REQUEST, resp = it->flags & KC_ITEM_F_RESPONSE;
	const struct kc_item_http *h = &it->u.http;

	if (kind > K_HREQ && kind <= K_HREQ_GRPC_METHOD) {
		if (kind >= K_HREQ_GRPC)
			return req && it->proto == KC_ITEM_GRPC;
		if (kind >= K_HREQ_POST) {
			bool post = req && (h->req_body_size > 0 || h->req_body.len > 0);

			if (kind == K_HREQ_POST_ENC)
				return post && !body_is_text(it, h->req_body);
			return post;
		}
		return req;
	}
	if (kind > K_HRESP && kind <= K_HRESP_GRPC_STATUS) {
		if (kind >= K_HRESP_GRPC)
			return resp && it->proto == KC_ITEM_GRPC && h->grpc_status >= 0;
		return resp;
	}
	if (kind > K_DREQ && kind <= K_DQ_CLASS)
		return req;
	if (kind > K_DRESP && kind <= K_DRR_TXTS)
		return resp;
	if (kind > K_TREQ && kind <= K_TREQ_VERSION)
		return req;
	if (kind > K_TRESP && kind <= K_TRESP_ALPN)
		return resp;
	return true;
}

int kfl_item_node(struct kfl_ctx *x, const struct kc_item *it, uint8_t kind, uint16_t idx,
		  struct kfl_val *out)
{
	const struct kc_item_http *h = &it->u.http;
	const struct kc_item_dns *d = &it->u.dns;
	const struct kc_item_tls *t = &it->u.tls;

	if (!present(it, kind))
		return -ENOENT;
	switch (kind) {
	case K_ROOT:
	case K_EMPTY:
	case K_PROTO:
	case K_SRC:
	case K_DST:
	case K_HREQ:
	case K_HREQ_POST:
	case K_HREQ_GRPC:
	case K_HREQ_HEADERS:
	case K_HREQ_COOKIES:
	case K_HREQ_QUERY:
	case K_HRESP:
	case K_HRESP_HEADERS:
	case K_HRESP_COOKIES:
	case K_HRESP_CONTENT:
	case K_HRESP_GRPC:
	case K_DREQ:
	case K_DQ:
	case K_DRESP:
	case K_DRR:
	case K_TREQ:
	case K_TRESP:
		mk_coll(out, KFL_OBJ, it, kind, idx);
		return 0;
	case K_HREQ_PATHSEG:
	case K_DREQ_QUESTIONS:
	case K_DRESP_ANSWERS:
	case K_DRESP_AUTH:
	case K_DRESP_ADDL:
	case K_DRR_TXTS:
	case K_TREQ_VERSIONS:
	case K_TREQ_ALPN:
		mk_coll(out, KFL_ARR, it, kind, idx);
		return 0;
	case K_ID:
		return fmt(x, out, 64, "%u/%" PRIu64 "_%s-%u", it->worker, it->stream_id, l4_name(it),
			   it->index);
	case K_INDEX: *out = kfl_v_int(it->index); return 0;
	case K_STREAM: return fmt(x, out, 32, "%" PRIu64 "_%s", it->stream_id, l4_name(it));
	case K_WORKER: return fmt(x, out, 8, "%u", it->worker);
	case K_PROTO_NAME:
	case K_PROTO_ABBR: {
		/* kc_item_proto_name/abbr's strings, with their lengths, so the
		 * hottest field (every protocol macro) costs no strlen */
		static const struct kfl_val names[KC_ITEM_PROTO_MAX][2] = {
#define PN(p, nm, ab) [p] = { { .t = KFL_STR, .len = sizeof(nm) - 1, .u.s = nm }, \
			      { .t = KFL_STR, .len = sizeof(ab) - 1, .u.s = ab } }
			PN(KC_ITEM_TCP, "tcp", "TCP"),     PN(KC_ITEM_UDP, "udp", "UDP"),
			PN(KC_ITEM_HTTP, "http", "HTTP"),  PN(KC_ITEM_HTTP2, "http", "HTTP/2"),
			PN(KC_ITEM_GRPC, "http", "gRPC"),  PN(KC_ITEM_DNS, "dns", "DNS"),
			PN(KC_ITEM_TLS, "tls", "TLS"),
#undef PN
		};
		if (kc_likely(it->proto < KC_ITEM_PROTO_MAX && names[it->proto][0].len))
			*out = names[it->proto][kind == K_PROTO_ABBR];
		else
			*out = cs(kind == K_PROTO_NAME ? kc_item_proto_name(it->proto) :
				  kc_item_proto_abbr(it->proto));
		return 0;
	}
	case K_PROTO_VERSION:
		switch (it->proto) {
		case KC_ITEM_HTTP: {
			struct kfl_val v = raw(it, h->version);
			const char *nul = memchr(v.u.s, '\0', v.len);
			if (nul != NULL) /* rendered with add_cstr: a C string */
				v.len = (uint32_t)(nul - v.u.s);
			if (v.len > 5 && memcmp(v.u.s, "HTTP/", 5) == 0)
				*out = kfl_v_str(v.u.s + 5, KC_MIN(v.len - 5, 31u));
			else
				*out = kfl_v_str(v.u.s, KC_MIN(v.len, 31u));
			return 0;
		}
		case KC_ITEM_HTTP2:
		case KC_ITEM_GRPC: *out = cs("2.0"); return 0;
		case KC_ITEM_DNS: *out = cs("0"); return 0;
		case KC_ITEM_TLS: {
			const char *n = kc_item_tls_version_name(t->server_version);
			*out = n != NULL && strncmp(n, "TLS ", 4) == 0 ? cs(n + 4) : cs("");
			return 0;
		}
		default: *out = cs(""); return 0;
		}
	case K_PROTO_MACRO:
		switch (it->proto) {
		case KC_ITEM_HTTP: *out = cs("http"); return 0;
		case KC_ITEM_HTTP2: *out = cs("http2"); return 0;
		case KC_ITEM_GRPC: *out = cs("grpc"); return 0;
		case KC_ITEM_DNS: *out = cs("dns"); return 0;
		case KC_ITEM_TLS: *out = cs("tls"); return 0;
		case KC_ITEM_UDP: *out = cs("udp"); return 0;
		default: *out = cs("tcp"); return 0;
		}
	case K_PROTO_L4: *out = cs(l4_name(it)); return 0;
	case K_TLS:
	case K_OUTGOING:
		*out = kfl_v_bool(false);
		return 0;
	case K_SRC_IP: return ip_text(x, it, it->src_ip, out);
	case K_DST_IP: return ip_text(x, it, it->dst_ip, out);
	case K_SRC_PORT: return fmt(x, out, 8, "%u", it->src_port);
	case K_DST_PORT: return fmt(x, out, 8, "%u", it->dst_port);
	case K_SRC_NAME:
	case K_DST_NAME: *out = cs(""); return 0;
	case K_TIMESTAMP: *out = kfl_v_int((int64_t)(it->ts_us / 1000)); return 0;
	case K_STARTTIME: return start_time(x, it->ts_us, out);
	case K_ELAPSED: *out = kfl_v_int((int64_t)kc_item_elapsed_ms(it)); return 0;
	case K_REQSIZE: *out = kfl_v_int((int64_t)it->req_size); return 0;
	case K_RESPSIZE: *out = kfl_v_int((int64_t)it->resp_size); return 0;

	case K_HREQ_METHOD: *out = sv(x, it, h->method); return 0;
	case K_HREQ_URL: *out = sv(x, it, h->url); return 0;
	case K_HREQ_PATH: *out = sv(x, it, h->path); return 0;
	case K_HREQ_VERSION:
	case K_HRESP_VERSION: *out = sv(x, it, h->version); return 0;
	case K_HREQ_HSIZE: *out = kfl_v_int(h->req_headers_size); return 0;
	case K_HREQ_BSIZE: *out = kfl_v_int(h->req_body_size); return 0;
	case K_HREQ_POST_MIME: *out = sv(x, it, h->req_mime); return 0;
	case K_HREQ_POST_TEXT: {
		struct kfl_val b;
		char *o;

		if (body_is_text(it, h->req_body)) {
			*out = sv(x, it, h->req_body);
			return 0;
		}
		b = raw(it, h->req_body);
		o = kfl_alloc(x, (b.len + 2) / 3 * 4 + 1);
		if (o == NULL)
			return -ENOSPC;
		*out = kfl_v_str(o, kfl_b64_encode((const unsigned char *)b.u.s, b.len, o));
		return 0;
	}
	case K_HREQ_POST_ENC: *out = cs("base64"); return 0;
	case K_HREQ_GRPC_SERVICE: *out = sv(x, it, h->grpc_service); return 0;
	case K_HREQ_GRPC_METHOD: *out = sv(x, it, h->grpc_method); return 0;
	case K_HRESP_STATUS: *out = kfl_v_int(h->status); return 0;
	case K_HRESP_STATUSTEXT: *out = sv(x, it, h->status_text); return 0;
	case K_HRESP_C_SIZE: {
		uint32_t n;
		const struct kc_kv *kv = kv_of(it, K_HRESP_HEADERS, &n);
		bool dec = kv_find(it, kv, n, "Content-Encoding", 16) >= 0 &&
			   !(it->flags & KC_ITEM_F_RESP_BODY_TRUNC);
		*out = kfl_v_int(dec ? h->resp_body.len : h->resp_body_size);
		return 0;
	}
	case K_HRESP_C_MIME: *out = sv(x, it, h->resp_mime); return 0;
	case K_HRESP_C_ENC: *out = cs("base64"); return 0;
	case K_HRESP_C_TEXT: {
		struct kfl_val b = raw(it, h->resp_body);
		char *o = kfl_alloc(x, (b.len + 2) / 3 * 4 + 1);
		if (o == NULL)
			return -ENOSPC;
		*out = kfl_v_str(o, kfl_b64_encode((const unsigned char *)b.u.s, b.len, o));
		return 0;
	}
	case K_HRESP_REDIRECT: {
		uint32_t n;
		const struct kc_kv *kv = kv_of(it, K_HRESP_HEADERS, &n);
		int i = kv_find(it, kv, n, "Location", 8);
		*out = i < 0 ? cs("") : sv(x, it, kv[i].value);
		return 0;
	}
	case K_HRESP_HSIZE: *out = kfl_v_int(h->resp_headers_size); return 0;
	case K_HRESP_BSIZE: *out = kfl_v_int(h->resp_body_size); return 0;
	case K_HRESP_GRPC_STATUS: *out = kfl_v_int(h->grpc_status); return 0;

	case K_DREQ_OPCODE: return name_or_num(x, kc_item_dns_opcode_name(d->opcode), d->opcode, out);
	case K_DQ_NAME: *out = sv(x, it, d->questions[idx].name); return 0;
	case K_DQ_TYPE:
		return name_or_num(x, kc_item_dns_type_name(d->questions[idx].type),
				   d->questions[idx].type, out);
	case K_DQ_CLASS:
		return name_or_num(x, kc_item_dns_class_name(d->questions[idx].class_),
				   d->questions[idx].class_, out);
	case K_DRESP_CODE: return name_or_num(x, kc_item_dns_rcode_name(d->rcode), d->rcode, out);
	case K_DRR_NAME: *out = sv(x, it, d->rrs[idx].name); return 0;
	case K_DRR_TYPE:
		return name_or_num(x, kc_item_dns_type_name(d->rrs[idx].type), d->rrs[idx].type, out);
	case K_DRR_CLASS:
		return name_or_num(x, kc_item_dns_class_name(d->rrs[idx].class_), d->rrs[idx].class_,
				   out);
	case K_DRR_TTL: *out = kfl_v_int(d->rrs[idx].ttl); return 0;
	case K_DRR_DATA: *out = sv(x, it, d->rrs[idx].data); return 0;
	case K_DRR_CNAME0: *out = cs(""); return 0;

	case K_TREQ_SNI: *out = sv(x, it, t->sni); return 0;
	case K_TREQ_VERSION:
		return t->client_version && kc_item_tls_version_name(t->client_version) ?
		       name_or_num(x, kc_item_tls_version_name(t->client_version), 0, out) :
		       fmt(x, out, 8, "0x%04x", t->client_version);
	case K_TRESP_VERSION:
		return kc_item_tls_version_name(t->server_version) ?
		       name_or_num(x, kc_item_tls_version_name(t->server_version), 0, out) :
		       fmt(x, out, 8, "0x%04x", t->server_version);
	case K_TRESP_CIPHER:
		return kc_item_tls_cipher_name(t->cipher_suite) ?
		       name_or_num(x, kc_item_tls_cipher_name(t->cipher_suite), 0, out) :
		       fmt(x, out, 8, "0x%04x", t->cipher_suite);
	case K_TRESP_ALPN: *out = sv(x, it, t->alpn_chosen); return 0;
	default: return -ENOENT;
	}
}

/* ------------------------------------------------------------------------ */
/* Collection ops */

static const struct child *tbl(const struct kfl_val *c)
{
	return table_of(c->kind, kfl_item_fam(c->u.p));
}

static uint32_t i_count(const struct kfl_val *c, struct kfl_ctx *x)
{
	const struct kc_item *it = c->u.p;
	const struct child *t = tbl(c);
	uint32_t n = 0, first;

	if (t != NULL) {
		for (; t->name; t++)
			n += present(it, t->kind);
		return n;
	}
	switch (c->kind) {
	case K_HREQ_PATHSEG: return pathseg_count(it);
	case K_DREQ_QUESTIONS: return KC_MIN((uint32_t)it->u.dns.n_questions, KC_ITEM_MAX_DNS_Q);
	case K_DRESP_ANSWERS:
	case K_DRESP_AUTH:
	case K_DRESP_ADDL:
		rr_section(it, c->kind, &first, &n);
		return n;
	case K_DRR_TXTS: return txt_count(it, c->idx);
	case K_TREQ_VERSIONS:
		return KC_MIN((uint32_t)it->u.tls.n_versions, KC_ARRAY_SIZE(it->u.tls.offered_versions));
	case K_TREQ_ALPN: return KC_MIN((uint32_t)it->u.tls.n_alpn, KC_ITEM_MAX_ALPN);
	case K_DRR: {
		const char *names[6];
		uint8_t kinds[6];
		return rr_keys(it, c->idx, names, kinds);
	}
	case K_QMULTI: {
		uint32_t kn;
		const struct kc_kv *kv = kv_of(it, K_QMULTI, &kn);
		return kv_count_name(it, kv, kn, c->idx);
	}
	default: { /* headers, cookies, query: unique names */
		uint32_t kn;
		const struct kc_kv *kv = kv_of(it, c->kind, &kn);
		for (uint32_t i = 0; i < kn; i++)
			n += kv_first(it, kv, i);
		return n;
	}
	}
}

static int i_at(const struct kfl_val *c, uint32_t i, struct kfl_val *out, struct kfl_ctx *x)
{
	const struct kc_item *it = c->u.p;
	uint32_t first, n;

	if (c->t != KFL_ARR || i >= i_count(c, x))
		return -ENOENT;
	switch (c->kind) {
	case K_HREQ_PATHSEG: {
		const char *p;
		size_t pn;
		path_span(it, &p, &pn);
		if (!split_at(p, pn, '/', i, out))
			return -ENOENT;
		*out = clean(x, out->u.s, out->len);
		return 0;
	}
	case K_DRR_TXTS: {
		struct kfl_val v = raw(it, it->u.dns.rrs[c->idx].data);
		if (!split_at(v.u.s, v.len, '\0', i, out))
			return -ENOENT;
		*out = clean(x, out->u.s, out->len);
		return 0;
	}
	case K_DREQ_QUESTIONS:
		mk_coll(out, KFL_OBJ, it, K_DQ, (uint16_t)i);
		return 0;
	case K_DRESP_ANSWERS:
	case K_DRESP_AUTH:
	case K_DRESP_ADDL:
		rr_section(it, c->kind, &first, &n);
		mk_coll(out, KFL_OBJ, it, K_DRR, (uint16_t)(first + i));
		return 0;
	case K_TREQ_VERSIONS: {
		uint16_t v = it->u.tls.offered_versions[i];
		const char *nm = kc_item_tls_version_name(v);
		return nm ? name_or_num(x, nm, 0, out) : fmt(x, out, 8, "0x%04x", v);
	}
	case K_TREQ_ALPN:
		*out = sv(x, it, it->u.tls.alpn[i]);
		return 0;
	case K_QMULTI: {
		uint32_t kn;
		const struct kc_kv *kv = kv_of(it, K_QMULTI, &kn);
		for (uint32_t j = c->idx; j < kn; j++) {
			if (!sv_eq(it, kv[j].name, kc_item_str(it, kv[c->idx].name), kv[c->idx].name.len))
				continue;
			if (i-- == 0) {
				*out = sv(x, it, kv[j].value);
				return 0;
			}
		}
		return -ENOENT;
	}
	default: return -ENOENT;
	}
}

static int i_get(const struct kfl_val *c, const char *key, size_t klen, struct kfl_val *out,
		 struct kfl_ctx *x)
{
	const struct kc_item *it = c->u.p;
	const struct child *t = tbl(c);

	if (c->t != KFL_OBJ)
		return -ENOENT;
	if (t != NULL) {
		for (; t->name; t++)
			if (strlen(t->name) == klen && memcmp(t->name, key, klen) == 0)
				return kfl_item_node(x, it, t->kind, c->idx, out);
		return -ENOENT;
	}
	if (c->kind == K_DRR) {
		const char *names[6];
		uint8_t kinds[6];
		uint32_t n = rr_keys(it, c->idx, names, kinds);
		for (uint32_t i = 0; i < n; i++)
			if (strlen(names[i]) == klen && memcmp(names[i], key, klen) == 0)
				return kfl_item_node(x, it, kinds[i], c->idx, out);
		return -ENOENT;
	}
	uint32_t kn;
	const struct kc_kv *kv = kv_of(it, c->kind, &kn);
	int i = kv_find(it, kv, kn, key, klen);
	if (i < 0)
		return -ENOENT;
	return kv_val(x, it, c->kind, kv, kn, (uint32_t)i, out);
}

static int i_each(const struct kfl_val *c, kfl_each_fn fn, void *arg, struct kfl_ctx *x)
{
	const struct kc_item *it = c->u.p;
	const struct child *t = tbl(c);
	struct kfl_val v;
	int r;

	if (c->t == KFL_ARR) {
		uint32_t n = i_count(c, x);
		for (uint32_t i = 0; i < n; i++) {
			if ((r = i_at(c, i, &v, x)) != 0)
				return r == -ENOSPC ? r : 0;
			if ((r = fn(arg, NULL, 0, &v)) != 0)
				return r;
		}
		return 0;
	}
	if (t != NULL) {
		for (; t->name; t++) {
			if (!present(it, t->kind))
				continue;
			if ((r = kfl_item_node(x, it, t->kind, c->idx, &v)) != 0)
				return r;
			if ((r = fn(arg, t->name, strlen(t->name), &v)) != 0)
				return r;
		}
		return 0;
	}
	if (c->kind == K_DRR) {
		const char *names[6];
		uint8_t kinds[6];
		uint32_t n = rr_keys(it, c->idx, names, kinds);
		for (uint32_t i = 0; i < n; i++) {
			if ((r = kfl_item_node(x, it, kinds[i], c->idx, &v)) != 0)
				return r;
			if ((r = fn(arg, names[i], strlen(names[i]), &v)) != 0)
				return r;
		}
		return 0;
	}
	uint32_t kn;
	const struct kc_kv *kv = kv_of(it, c->kind, &kn);
	for (uint32_t i = 0; i < kn; i++) {
		if (!kv_first(it, kv, i))
			continue;
		if ((r = kv_val(x, it, c->kind, kv, kn, i, &v)) != 0)
			return r;
		/* rendered keys: at most 255 input bytes, cleaned */
		struct kfl_val kr = raw(it, kv[i].name);
		struct kfl_val k = clean(x, kr.u.s, KC_MIN(kr.len, 255u));
		if ((r = fn(arg, k.u.s, k.len, &v)) != 0)
			return r;
	}
	return 0;
}

static const struct kfl_ops item_ops = {
	.count = i_count, .at = i_at, .get = i_get, .each = i_each,
};

void kfl_item_fast(struct kfl_sel *sel)
{
	for (int f = 0; f < FAM_MAX; f++) {
		uint8_t kind = K_ROOT;
		uint32_t i;
		sel->fast_kind[f] = 0;
		sel->fast_steps[f] = 0;
		for (i = 0; i < sel->nsteps && i < 200; i++) {
			const struct kfl_step *st = &sel->steps[i];
			const struct child *t = table_of(kind, (enum kfl_fam)f);
			if (st->type != S_KEY || t == NULL)
				break;
			for (; t->name; t++)
				if (strlen(t->name) == st->klen && memcmp(t->name, st->key, st->klen) == 0)
					break;
			if (t->name == NULL) { /* no such field for this family */
				sel->fast_kind[f] = 0;
				sel->fast_steps[f] = (uint8_t)(i + 1);
				goto next;
			}
			kind = t->kind;
		}
		sel->fast_kind[f] = kind;
		sel->fast_steps[f] = (uint8_t)i;
next:;
	}
}
