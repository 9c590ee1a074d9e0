/*
 * struct kc_item backend: presents an item as the JSON document below,
 * field by field, without rendering it. Known selector paths are resolved at
 * compile time to a node kind (kfl_item_fast), so `response.status` costs a
 * switch, not a walk; open-ended maps (headers, cookies, query strings) and
 * arrays take the generic lookup.
 *
 * THE STRUCT -> JSON MAPPING ASSUMED HERE (kfl.md section 10 shape). The
 * item_json renderer must produce exactly this; the lead's cross-check test
 * evaluates the same filters on both. Keys in this order:
 *
 *   protocol    {name, abbr, version?, layer4?}
 *                 name:  tcp udp http http http dns tls   (TCP UDP HTTP HTTP2 GRPC DNS TLS)
 *                 abbr:  TCP UDP HTTP HTTP/2 gRPC DNS TLS
 *                 version: HTTP: httpVersion without "HTTP/" ("1.1"; "1.1" when
 *                          empty); HTTP2/GRPC: "2.0"; DNS: "0"; absent otherwise
 *                 layer4: "tcp" (l4 == 6), "udp" (l4 == 17), absent otherwise
 *   tls         false (kflcap does not decrypt; see the `tls` macro)
 *   outgoing    false
 *   src, dst    {ip: text (inet_ntop), port: STRING "47322"}
 *   index       int (kc_item.index)
 *   stream      string: stream_id in decimal
 *   timestamp   int: ts_us / 1000
 *   elapsedTime int: (resp_ts_us - ts_us) / 1000 when resp_ts_us > ts_us, else 0
 *   requestSize, responseSize  int
 *   request     only with KC_ITEM_F_REQUEST; absent for TCP/UDP items
 *   response    only with KC_ITEM_F_RESPONSE; absent for TCP/UDP items
 *
 * HTTP, HTTP2, GRPC:
 *   request  {method, url, path, pathSegments[], httpVersion, headers{}, cookies{},
 *             queryString{}, headersSize, bodySize, postData?{mimeType, text}}
 *            pathSegments: path without its leading '/', split on '/'
 *            headers/cookies: unique names in first-arrival order, repeats joined
 *            with "," ; queryString: one value -> string, repeats -> array of strings
 *            postData only when req_body is not empty; text = raw body prefix
 *            headersSize = req_headers_size, bodySize = req_body_size
 *   response {status int, statusText, httpVersion, headers{}, cookies{},
 *             content{size, mimeType, encoding:"base64", text: base64(resp_body)},
 *             redirectURL (Location header or ""), headersSize, bodySize}
 *            content.size = resp_body_size, or the kept prefix length when < 0
 * DNS:
 *   request  {opCode ("Query", "IQuery", "Status", "Notify", "Update", "Unknown"),
 *             questions[{name, type, class}]}
 *   response {code (gopacket names: "No Error", "Format Error", "Server Failure",
 *             "Non-Existent Domain", "Not Implemented", "Query Refused", ...),
 *             answers[], authorities[], additionals[]}
 *            each record {name, type, class, ttl int, <data key>: data} where the
 *            data key is ip (A, AAAA), ns, cname, ptr, txts, soa, srv, mx, opt, uri,
 *            and absent for other types; type/class names as gopacket
 *            ("A", "AAAA", ..., "IN", "CS", "CH", "HS", "Any"; else "Unknown")
 *            records: rrs[0..n_answers), then authorities, then additionals
 * TLS:
 *   request  {sni, version, supportedVersions[], alpn[]}
 *   response {version, cipherSuite int, alpn}
 *            versions as "SSL 3.0", "TLS 1.0" .. "TLS 1.3", else "0x%04x"
 * Strings from the arena: an absent view renders as "".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kfl_internal.h"

enum kind {
	K_NONE = 0,
	K_ROOT,
	K_PROTO, K_PROTO_NAME, K_PROTO_ABBR, K_PROTO_VERSION, K_PROTO_L4,
	K_TLS, K_OUTGOING,
	K_SRC, K_DST, K_SRC_IP, K_SRC_PORT, K_DST_IP, K_DST_PORT,
	K_INDEX, K_STREAM, K_TIMESTAMP, K_ELAPSED, K_REQSIZE, K_RESPSIZE,
	K_HREQ, K_HREQ_METHOD, K_HREQ_URL, K_HREQ_PATH, K_HREQ_PATHSEG, K_HREQ_VERSION,
	K_HREQ_HEADERS, K_HREQ_COOKIES, K_HREQ_QUERY, K_HREQ_HSIZE, K_HREQ_BSIZE,
	K_HREQ_POST, K_HREQ_POST_MIME, K_HREQ_POST_TEXT,
	K_HRESP, K_HRESP_STATUS, K_HRESP_STATUSTEXT, K_HRESP_VERSION, K_HRESP_HEADERS,
	K_HRESP_COOKIES, K_HRESP_CONTENT, K_HRESP_C_SIZE, K_HRESP_C_MIME, K_HRESP_C_ENC,
	K_HRESP_C_TEXT, K_HRESP_REDIRECT, K_HRESP_HSIZE, K_HRESP_BSIZE,
	K_QMULTI,
	K_DREQ, K_DREQ_OPCODE, K_DREQ_QUESTIONS, K_DQ, K_DQ_NAME, K_DQ_TYPE, K_DQ_CLASS,
	K_DRESP, K_DRESP_CODE, K_DRESP_ANSWERS, K_DRESP_AUTH, K_DRESP_ADDL,
	K_DRR, K_DRR_NAME, K_DRR_TYPE, K_DRR_CLASS, K_DRR_TTL, K_DRR_DATA,
	K_TREQ, K_TREQ_SNI, K_TREQ_VERSION, K_TREQ_SUPVERS, K_TREQ_ALPN,
	K_TRESP, K_TRESP_VERSION, K_TRESP_CIPHER, K_TRESP_ALPN,
	K_MAX
};

_Static_assert(K_MAX < 256, "kinds must fit kfl_val.kind");

struct child {
	const char *name;
	uint8_t kind;
};

#define ROOT_COMMON                                                                   \
	{ "protocol", K_PROTO }, { "tls", K_TLS }, { "outgoing", K_OUTGOING },            \
	{ "src", K_SRC }, { "dst", K_DST }, { "index", K_INDEX }, { "stream", K_STREAM }, \
	{ "timestamp", K_TIMESTAMP }, { "elapsedTime", K_ELAPSED },                       \
	{ "requestSize", K_REQSIZE }, { "responseSize", K_RESPSIZE }

static const struct child root_http[] = { ROOT_COMMON, { "request", K_HREQ },
					  { "response", K_HRESP }, { NULL, 0 } };
static const struct child root_dns[] = { ROOT_COMMON, { "request", K_DREQ },
					 { "response", K_DRESP }, { NULL, 0 } };
static const struct child root_tls[] = { ROOT_COMMON, { "request", K_TREQ },
					 { "response", K_TRESP }, { NULL, 0 } };
static const struct child root_l4[] = { ROOT_COMMON, { NULL, 0 } };
static const struct child t_proto[] = { { "name", K_PROTO_NAME }, { "abbr", K_PROTO_ABBR },
					{ "version", K_PROTO_VERSION }, { "layer4", K_PROTO_L4 },
					{ NULL, 0 } };
static const struct child t_src[] = { { "ip", K_SRC_IP }, { "port", K_SRC_PORT }, { NULL, 0 } };
static const struct child t_dst[] = { { "ip", K_DST_IP }, { "port", K_DST_PORT }, { NULL, 0 } };
static const struct child t_hreq[] = {
	{ "method", K_HREQ_METHOD },   { "url", K_HREQ_URL },
	{ "path", K_HREQ_PATH },       { "pathSegments", K_HREQ_PATHSEG },
	{ "httpVersion", K_HREQ_VERSION }, { "headers", K_HREQ_HEADERS },
	{ "cookies", K_HREQ_COOKIES }, { "queryString", K_HREQ_QUERY },
	{ "headersSize", K_HREQ_HSIZE }, { "bodySize", K_HREQ_BSIZE },
	{ "postData", K_HREQ_POST },   { NULL, 0 },
};
static const struct child t_hreq_post[] = { { "mimeType", K_HREQ_POST_MIME },
					    { "text", K_HREQ_POST_TEXT }, { NULL, 0 } };
static const struct child t_hresp[] = {
	{ "status", K_HRESP_STATUS },   { "statusText", K_HRESP_STATUSTEXT },
	{ "httpVersion", K_HRESP_VERSION }, { "headers", K_HRESP_HEADERS },
	{ "cookies", K_HRESP_COOKIES }, { "content", K_HRESP_CONTENT },
	{ "redirectURL", K_HRESP_REDIRECT }, { "headersSize", K_HRESP_HSIZE },
	{ "bodySize", K_HRESP_BSIZE },  { NULL, 0 },
};
static const struct child t_hresp_content[] = { { "size", K_HRESP_C_SIZE },
						{ "mimeType", K_HRESP_C_MIME },
						{ "encoding", K_HRESP_C_ENC },
						{ "text", K_HRESP_C_TEXT }, { NULL, 0 } };
static const struct child t_dreq[] = { { "opCode", K_DREQ_OPCODE },
				       { "questions", K_DREQ_QUESTIONS }, { NULL, 0 } };
static const struct child t_dq[] = { { "name", K_DQ_NAME }, { "type", K_DQ_TYPE },
				     { "class", K_DQ_CLASS }, { NULL, 0 } };
static const struct child t_dresp[] = { { "code", K_DRESP_CODE }, { "answers", K_DRESP_ANSWERS },
					{ "authorities", K_DRESP_AUTH },
					{ "additionals", K_DRESP_ADDL }, { NULL, 0 } };
static const struct child t_treq[] = { { "sni", K_TREQ_SNI }, { "version", K_TREQ_VERSION },
				       { "supportedVersions", K_TREQ_SUPVERS },
				       { "alpn", K_TREQ_ALPN }, { NULL, 0 } };
static const struct child t_tresp[] = { { "version", K_TRESP_VERSION },
					{ "cipherSuite", K_TRESP_CIPHER },
					{ "alpn", K_TRESP_ALPN }, { NULL, 0 } };

enum kfl_fam kfl_item_fam(const struct kc_item *it)
{
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC: return FAM_HTTP;
	case KC_ITEM_DNS: return FAM_DNS;
	case KC_ITEM_TLS: return FAM_TLS;
	default: return FAM_L4;
	}
}

/* Objects whose keys are fixed; NULL for open-ended maps, arrays, leaves. */
static const struct child *table_of(uint8_t kind, enum kfl_fam fam)
{
	switch (kind) {
	case K_ROOT:
		return fam == FAM_HTTP ? root_http : fam == FAM_DNS ? root_dns :
		       fam == FAM_TLS ? root_tls : root_l4;
	case K_PROTO: return t_proto;
	case K_SRC: return t_src;
	case K_DST: return t_dst;
	case K_HREQ: return t_hreq;
	case K_HREQ_POST: return t_hreq_post;
	case K_HRESP: return t_hresp;
	case K_HRESP_CONTENT: return t_hresp_content;
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

/* Arena view, clamped to the arena (a corrupt view renders as ""). */
static struct kfl_val sv(const struct kc_item *it, struct kc_str s)
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

static int ip_text(struct kfl_ctx *x, const struct kc_item *it, const uint8_t *ip,
		   struct kfl_val *out)
{
	char *b = kfl_alloc(x, INET6_ADDRSTRLEN);
	if (b == NULL)
		return -ENOSPC;
	if (inet_ntop(it->family == 6 ? AF_INET6 : AF_INET, ip, b, INET6_ADDRSTRLEN) == NULL)
		b[0] = '\0';
	*out = kfl_v_str(b, strlen(b));
	return 0;
}

static const char *const proto_names[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "tcp", [KC_ITEM_UDP] = "udp", [KC_ITEM_HTTP] = "http",
	[KC_ITEM_HTTP2] = "http", [KC_ITEM_GRPC] = "http", [KC_ITEM_DNS] = "dns",
	[KC_ITEM_TLS] = "tls",
};
static const char *const proto_abbrs[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "TCP", [KC_ITEM_UDP] = "UDP", [KC_ITEM_HTTP] = "HTTP",
	[KC_ITEM_HTTP2] = "HTTP/2", [KC_ITEM_GRPC] = "gRPC", [KC_ITEM_DNS] = "DNS",
	[KC_ITEM_TLS] = "TLS",
};

static const char *dns_type_name(uint16_t t)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 3: return "MD";
	case 4: return "MF";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 7: return "MB";
	case 8: return "MG";
	case 9: return "MR";
	case 10: return "NULL";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 41: return "OPT";
	case 256: return "URI";
	default: return "Unknown";
	}
}

/* Key holding the rendered data of a record of type t, or NULL. */
static const char *dns_data_key(uint16_t t)
{
	switch (t) {
	case 1:
	case 28: return "ip";
	case 2: return "ns";
	case 5: return "cname";
	case 6: return "soa";
	case 12: return "ptr";
	case 15: return "mx";
	case 16: return "txts";
	case 33: return "srv";
	case 41: return "opt";
	case 256: return "uri";
	default: return NULL;
	}
}

static const char *dns_class_name(uint16_t c)
{
	switch (c) {
	case 1: return "IN";
	case 2: return "CS";
	case 3: return "CH";
	case 4: return "HS";
	case 255: return "Any";
	default: return "Unknown";
	}
}

static const char *dns_opcode_name(uint8_t o)
{
	switch (o) {
	case 0: return "Query";
	case 1: return "IQuery";
	case 2: return "Status";
	case 4: return "Notify";
	case 5: return "Update";
	default: return "Unknown";
	}
}

static const char *dns_rcode_name(uint8_t r)
{
	static const char *const names[] = {
		"No Error", "Format Error", "Server Failure", "Non-Existent Domain",
		"Not Implemented", "Query Refused", "Name Exists when it should not",
		"RR Set Exists when it should not", "RR Set that should exist does not",
		"Server Not Authoritative for zone", "Name not contained in zone",
	};
	return r < KC_ARRAY_SIZE(names) ? names[r] : "Unknown";
}

static int tls_version(struct kfl_ctx *x, uint16_t v, struct kfl_val *out)
{
	switch (v) {
	case 0x0300: *out = kfl_v_str("SSL 3.0", 7); return 0;
	case 0x0301: *out = kfl_v_str("TLS 1.0", 7); return 0;
	case 0x0302: *out = kfl_v_str("TLS 1.1", 7); return 0;
	case 0x0303: *out = kfl_v_str("TLS 1.2", 7); return 0;
	case 0x0304: *out = kfl_v_str("TLS 1.3", 7); return 0;
	default: return fmt(x, out, 8, "0x%04x", v);
	}
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
		*out = sv(it, kv[i].value);
		return 0;
	}
	char *b = kfl_alloc(x, total);
	if (b == NULL)
		return -ENOSPC;
	size_t k = 0;
	for (uint32_t j = i; j < n; j++) {
		if (!sv_eq(it, kv[j].name, name, kv[i].name.len))
			continue;
		struct kfl_val v = sv(it, kv[j].value);
		if (k)
			b[k++] = ',';
		memcpy(b + k, v.u.s, v.len);
		k += v.len;
	}
	*out = kfl_v_str(b, k);
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

/* Value of a query parameter: one -> string, several -> array. */
static void query_val(const struct kc_item *it, const struct kc_kv *kv, uint32_t n, uint32_t i,
		      struct kfl_val *out)
{
	if (kv_count_name(it, kv, n, i) == 1)
		*out = sv(it, kv[i].value);
	else
		mk_coll(out, KFL_ARR, it, K_QMULTI, (uint16_t)i);
}

/* Path segments: path without its leading '/', split on '/'. */
static void path_span(const struct kc_item *it, const char **p, size_t *n)
{
	struct kfl_val v = sv(it, it->u.http.path);
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

static bool pathseg_at(const struct kc_item *it, uint32_t k, struct kfl_val *out)
{
	const char *p;
	size_t n, s = 0;
	if (k >= pathseg_count(it))
		return false;
	path_span(it, &p, &n);
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
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

/* Is field kind (of record/question idx) present in this item? */
static bool present(const struct kc_item *it, uint8_t kind, uint16_t idx)
{
	bool req = it->flags & KC_ITEM_F_REQUEST, resp = it->flags & KC_ITEM_F_RESPONSE;

	if (kind >= K_HREQ && kind <= K_HREQ_POST_TEXT) {
		if (kind >= K_HREQ_POST)
			return req && it->u.http.req_body.len > 0;
		return req;
	}
	if (kind >= K_HRESP && kind <= K_HRESP_BSIZE)
		return resp;
	if (kind >= K_DREQ && kind <= K_DQ_CLASS)
		return req;
	if (kind >= K_DRESP && kind <= K_DRR_DATA)
		return resp;
	if (kind >= K_TREQ && kind <= K_TREQ_ALPN)
		return req;
	if (kind >= K_TRESP && kind <= K_TRESP_ALPN)
		return resp;
	if (kind == K_PROTO_VERSION) {
		enum kfl_fam f = kfl_item_fam(it);
		return f == FAM_HTTP || f == FAM_DNS;
	}
	if (kind == K_PROTO_L4)
		return it->l4 == 6 || it->l4 == 17;
	return true;
}

int kfl_item_node(struct kfl_ctx *x, const struct kc_item *it, uint8_t kind, uint16_t idx,
		  struct kfl_val *out)
{
	const struct kc_item_http *h = &it->u.http;
	const struct kc_item_dns *d = &it->u.dns;
	const struct kc_item_tls *t = &it->u.tls;

	if (!present(it, kind, idx))
		return -ENOENT;
	switch (kind) {
	case K_ROOT:
	case K_PROTO:
	case K_SRC:
	case K_DST:
	case K_HREQ:
	case K_HREQ_POST:
	case K_HREQ_HEADERS:
	case K_HREQ_COOKIES:
	case K_HREQ_QUERY:
	case K_HRESP:
	case K_HRESP_HEADERS:
	case K_HRESP_COOKIES:
	case K_HRESP_CONTENT:
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
	case K_TREQ_SUPVERS:
	case K_TREQ_ALPN:
		mk_coll(out, KFL_ARR, it, kind, idx);
		return 0;
	case K_PROTO_NAME:
	case K_PROTO_ABBR: {
		const char *s = it->proto < KC_ITEM_PROTO_MAX ?
			(kind == K_PROTO_NAME ? proto_names : proto_abbrs)[it->proto] : NULL;
		if (s == NULL)
			return -ENOENT;
		*out = kfl_v_str(s, strlen(s));
		return 0;
	}
	case K_PROTO_VERSION:
		if (it->proto == KC_ITEM_DNS) {
			*out = kfl_v_str("0", 1);
		} else if (it->proto == KC_ITEM_HTTP) {
			struct kfl_val v = sv(it, h->version);
			if (v.len > 5 && memcmp(v.u.s, "HTTP/", 5) == 0)
				*out = kfl_v_str(v.u.s + 5, v.len - 5);
			else
				*out = kfl_v_str("1.1", 3);
		} else {
			*out = kfl_v_str("2.0", 3);
		}
		return 0;
	case K_PROTO_L4:
		*out = it->l4 == 6 ? kfl_v_str("tcp", 3) : kfl_v_str("udp", 3);
		return 0;
	case K_TLS:
	case K_OUTGOING:
		*out = kfl_v_bool(false);
		return 0;
	case K_SRC_IP: return ip_text(x, it, it->src_ip, out);
	case K_DST_IP: return ip_text(x, it, it->dst_ip, out);
	case K_SRC_PORT: return fmt(x, out, 8, "%u", it->src_port);
	case K_DST_PORT: return fmt(x, out, 8, "%u", it->dst_port);
	case K_INDEX: *out = kfl_v_int(it->index); return 0;
	case K_STREAM: return fmt(x, out, 24, "%llu", (unsigned long long)it->stream_id);
	case K_TIMESTAMP: *out = kfl_v_int((int64_t)(it->ts_us / 1000)); return 0;
	case K_ELAPSED:
		*out = kfl_v_int(it->resp_ts_us > it->ts_us ?
				 (int64_t)((it->resp_ts_us - it->ts_us) / 1000) : 0);
		return 0;
	case K_REQSIZE: *out = kfl_v_int((int64_t)it->req_size); return 0;
	case K_RESPSIZE: *out = kfl_v_int((int64_t)it->resp_size); return 0;

	case K_HREQ_METHOD: *out = sv(it, h->method); return 0;
	case K_HREQ_URL: *out = sv(it, h->url); return 0;
	case K_HREQ_PATH: *out = sv(it, h->path); return 0;
	case K_HREQ_VERSION:
	case K_HRESP_VERSION: *out = sv(it, h->version); return 0;
	case K_HREQ_HSIZE: *out = kfl_v_int(h->req_headers_size); return 0;
	case K_HREQ_BSIZE: *out = kfl_v_int(h->req_body_size); return 0;
	case K_HREQ_POST_MIME: *out = sv(it, h->req_mime); return 0;
	case K_HREQ_POST_TEXT: *out = sv(it, h->req_body); return 0;
	case K_HRESP_STATUS: *out = kfl_v_int(h->status); return 0;
	case K_HRESP_STATUSTEXT: *out = sv(it, h->status_text); return 0;
	case K_HRESP_C_SIZE:
		*out = kfl_v_int(h->resp_body_size >= 0 ? h->resp_body_size : h->resp_body.len);
		return 0;
	case K_HRESP_C_MIME: *out = sv(it, h->resp_mime); return 0;
	case K_HRESP_C_ENC: *out = kfl_v_str("base64", 6); return 0;
	case K_HRESP_C_TEXT: {
		struct kfl_val b = sv(it, h->resp_body);
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
		*out = i < 0 ? kfl_v_str("", 0) : sv(it, kv[i].value);
		return 0;
	}
	case K_HRESP_HSIZE: *out = kfl_v_int(h->resp_headers_size); return 0;
	case K_HRESP_BSIZE: *out = kfl_v_int(h->resp_body_size); return 0;

	case K_DREQ_OPCODE: {
		const char *s = dns_opcode_name(d->opcode);
		*out = kfl_v_str(s, strlen(s));
		return 0;
	}
	case K_DQ_NAME: *out = sv(it, d->questions[idx].name); return 0;
	case K_DQ_TYPE:
	case K_DQ_CLASS: {
		const char *s = kind == K_DQ_TYPE ? dns_type_name(d->questions[idx].type) :
						    dns_class_name(d->questions[idx].class_);
		*out = kfl_v_str(s, strlen(s));
		return 0;
	}
	case K_DRESP_CODE: {
		const char *s = dns_rcode_name(d->rcode);
		*out = kfl_v_str(s, strlen(s));
		return 0;
	}
	case K_DRR_NAME: *out = sv(it, d->rrs[idx].name); return 0;
	case K_DRR_TYPE:
	case K_DRR_CLASS: {
		const char *s = kind == K_DRR_TYPE ? dns_type_name(d->rrs[idx].type) :
						     dns_class_name(d->rrs[idx].class_);
		*out = kfl_v_str(s, strlen(s));
		return 0;
	}
	case K_DRR_TTL: *out = kfl_v_int(d->rrs[idx].ttl); return 0;
	case K_DRR_DATA: *out = sv(it, d->rrs[idx].data); return 0;

	case K_TREQ_SNI: *out = sv(it, t->sni); return 0;
	case K_TREQ_VERSION: return tls_version(x, t->client_version, out);
	case K_TRESP_VERSION: return tls_version(x, t->server_version, out);
	case K_TRESP_CIPHER: *out = kfl_v_int(t->cipher_suite); return 0;
	case K_TRESP_ALPN: *out = sv(it, t->alpn_chosen); return 0;
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
			n += present(it, t->kind, c->idx);
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
	case K_TREQ_SUPVERS:
		return KC_MIN((uint32_t)it->u.tls.n_versions, KC_ARRAY_SIZE(it->u.tls.offered_versions));
	case K_TREQ_ALPN: return KC_MIN((uint32_t)it->u.tls.n_alpn, KC_ITEM_MAX_ALPN);
	case K_DRR: return 4 + (dns_data_key(it->u.dns.rrs[c->idx].type) != NULL);
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
	case K_HREQ_PATHSEG: return pathseg_at(it, i, out) ? 0 : -ENOENT;
	case K_DREQ_QUESTIONS:
		mk_coll(out, KFL_OBJ, it, K_DQ, (uint16_t)i);
		return 0;
	case K_DRESP_ANSWERS:
	case K_DRESP_AUTH:
	case K_DRESP_ADDL:
		rr_section(it, c->kind, &first, &n);
		mk_coll(out, KFL_OBJ, it, K_DRR, (uint16_t)(first + i));
		return 0;
	case K_TREQ_SUPVERS: return tls_version(x, it->u.tls.offered_versions[i], out);
	case K_TREQ_ALPN:
		*out = sv(it, it->u.tls.alpn[i]);
		return 0;
	case K_QMULTI: {
		uint32_t kn;
		const struct kc_kv *kv = kv_of(it, K_QMULTI, &kn);
		for (uint32_t j = c->idx; j < kn; j++) {
			if (!sv_eq(it, kv[j].name, kc_item_str(it, kv[c->idx].name), kv[c->idx].name.len))
				continue;
			if (i-- == 0) {
				*out = sv(it, kv[j].value);
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
		static const struct child rr[] = { { "name", K_DRR_NAME }, { "type", K_DRR_TYPE },
						   { "class", K_DRR_CLASS }, { "ttl", K_DRR_TTL } };
		for (size_t i = 0; i < KC_ARRAY_SIZE(rr); i++)
			if (strlen(rr[i].name) == klen && memcmp(rr[i].name, key, klen) == 0)
				return kfl_item_node(x, it, rr[i].kind, c->idx, out);
		const char *dk = dns_data_key(it->u.dns.rrs[c->idx].type);
		if (dk != NULL && strlen(dk) == klen && memcmp(dk, key, klen) == 0)
			return kfl_item_node(x, it, K_DRR_DATA, c->idx, out);
		return -ENOENT;
	}
	uint32_t kn;
	const struct kc_kv *kv = kv_of(it, c->kind, &kn);
	int i = kv_find(it, kv, kn, key, klen);
	if (i < 0)
		return -ENOENT;
	if (c->kind == K_HREQ_QUERY) {
		query_val(it, kv, kn, (uint32_t)i, out);
		return 0;
	}
	return kv_join(x, it, kv, kn, (uint32_t)i, out);
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
			if (!present(it, t->kind, c->idx))
				continue;
			if ((r = kfl_item_node(x, it, t->kind, c->idx, &v)) != 0)
				return r;
			if ((r = fn(arg, t->name, strlen(t->name), &v)) != 0)
				return r;
		}
		return 0;
	}
	if (c->kind == K_DRR) {
		static const char *const names[] = { "name", "type", "class", "ttl" };
		static const uint8_t kinds[] = { K_DRR_NAME, K_DRR_TYPE, K_DRR_CLASS, K_DRR_TTL };
		for (size_t i = 0; i < 4; i++) {
			if ((r = kfl_item_node(x, it, kinds[i], c->idx, &v)) != 0)
				return r;
			if ((r = fn(arg, names[i], strlen(names[i]), &v)) != 0)
				return r;
		}
		const char *dk = dns_data_key(it->u.dns.rrs[c->idx].type);
		if (dk == NULL)
			return 0;
		if ((r = kfl_item_node(x, it, K_DRR_DATA, c->idx, &v)) != 0)
			return r;
		return fn(arg, dk, strlen(dk), &v);
	}
	uint32_t kn;
	const struct kc_kv *kv = kv_of(it, c->kind, &kn);
	for (uint32_t i = 0; i < kn; i++) {
		if (!kv_first(it, kv, i))
			continue;
		if (c->kind == K_HREQ_QUERY)
			query_val(it, kv, kn, i, &v);
		else if ((r = kv_join(x, it, kv, kn, i, &v)) != 0)
			return r;
		struct kfl_val k = sv(it, kv[i].name);
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
