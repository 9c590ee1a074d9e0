/**
 * @file
 * The item: one dissected L7 exchange (a request with its response, or a lone
 * message), Kubeshark's "entry". Dissectors fill items on the worker; the KFL
 * engine judges them there; the item log renders them to JSON elsewhere.
 *
 * An item is a plain struct of fixed size. Every string is a view
 * (struct kc_str: offset and length) into the item's own arena, so an item can
 * be copied with memcpy (onto a ring, into a queue) without fixing pointers,
 * and building one never calls malloc. When the arena is full, further strings
 * are dropped, KC_ITEM_F_TRUNCATED is set, and the dissector counts it.
 *
 * Field names follow kfl.md section 10 (Kubeshark's entry JSON); the JSON
 * renderer (kc_item_to_json) produces exactly that shape.
 *
 * Thread safety: an item belongs to whoever holds it; no function here takes
 * a lock or shares state.
 */
#ifndef KC_ITEM_H
#define KC_ITEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kc_common.h"

/** Bytes of string storage inside one item (headers, names, body prefix). */
#define KC_ITEM_ARENA_SIZE 8192
/** Headers kept per side; more are counted and dropped. */
#define KC_ITEM_MAX_HEADERS 48
/** Cookies and query-string parameters kept per item. */
#define KC_ITEM_MAX_PARAMS 24
/** DNS questions and resource records kept per section. */
#define KC_ITEM_MAX_DNS_Q 8
#define KC_ITEM_MAX_DNS_RR 24
/** ALPN protocols and TLS versions kept from a hello. */
#define KC_ITEM_MAX_ALPN 8
/** Body prefix kept for filtering (after gzip/deflate decoding). */
#define KC_ITEM_BODY_PREFIX 2048

/** A string view into the item's arena. len == 0 with off == 0 is "absent". */
struct kc_str {
	uint16_t off;
	uint16_t len;
};

struct kc_kv {
	struct kc_str name;
	struct kc_str value;
};

/** Application protocol of an item; decides protocol.name/abbr in JSON. */
enum kc_item_proto {
	KC_ITEM_TCP = 0,  /**< L4 item for an unclaimed TCP stream */
	KC_ITEM_UDP,      /**< L4 item for an unclaimed UDP flow */
	KC_ITEM_HTTP,     /**< HTTP/1.0, HTTP/1.1: abbr "HTTP" */
	KC_ITEM_HTTP2,    /**< HTTP/2: abbr "HTTP/2" */
	KC_ITEM_GRPC,     /**< gRPC over HTTP/2: abbr "gRPC" */
	KC_ITEM_DNS,      /**< abbr "DNS" */
	KC_ITEM_TLS,      /**< TLS handshake (ClientHello/ServerHello) */
	KC_ITEM_PROTO_MAX
};

/** Item flags. */
#define KC_ITEM_F_REQUEST     0x0001u /**< request side present */
#define KC_ITEM_F_RESPONSE    0x0002u /**< response side present */
#define KC_ITEM_F_TRUNCATED   0x0004u /**< arena or a table was full: some fields dropped */
#define KC_ITEM_F_TIMEOUT     0x0008u /**< emitted unanswered after a timeout or stream end */
#define KC_ITEM_F_GAP         0x0010u /**< a reassembly gap touched this exchange */
#define KC_ITEM_F_REQ_BODY_TRUNC  0x0020u /**< request body longer than the kept prefix */
#define KC_ITEM_F_RESP_BODY_TRUNC 0x0040u /**< response body longer than the kept prefix */

/** HTTP/1.x, HTTP/2 and gRPC exchange (kfl.md 10.2). */
struct kc_item_http {
	struct kc_str method;      /**< request.method */
	struct kc_str url;         /**< request.url: path and query as sent */
	struct kc_str path;        /**< request.path: path only */
	struct kc_str version;     /**< request.httpVersion ("HTTP/1.1", "HTTP/2.0") */
	struct kc_str host;        /**< Host header or :authority */
	struct kc_str status_text; /**< response.statusText */
	int32_t status;            /**< response.status, 0 when no response */
	int32_t req_headers_size;  /**< bytes of the request head, -1 unknown */
	int32_t resp_headers_size;
	int64_t req_body_size;     /**< body bytes on the wire (HTTP/1: after de-chunking,
	                            *   before content decoding), -1 unknown */
	int64_t resp_body_size;
	struct kc_str req_mime;    /**< Content-Type of the request body */
	struct kc_str resp_mime;   /**< response.content.mimeType */
	struct kc_str req_body;    /**< prefix of the decoded request body (raw bytes) */
	struct kc_str resp_body;   /**< prefix of the decoded response body (raw bytes) */
	/* gRPC (KC_ITEM_GRPC): from :path "/pkg.Service/Method" and grpc-status. */
	struct kc_str grpc_service;
	struct kc_str grpc_method;
	int32_t grpc_status;       /**< -1 when no grpc-status was seen */
	uint32_t h2_stream_id;     /**< HTTP/2 stream id, 0 for HTTP/1 */
	uint8_t n_req_headers, n_resp_headers;
	uint8_t n_req_cookies, n_resp_cookies;
	uint8_t n_query;
	/** Header names canonicalised as Kubeshark does (Content-Type); repeats
	 *  kept as separate entries in arrival order, joined with "," in JSON.
	 *  HTTP/2 pseudo-headers kept as ":path" etc. */
	struct kc_kv req_headers[KC_ITEM_MAX_HEADERS];
	struct kc_kv resp_headers[KC_ITEM_MAX_HEADERS];
	struct kc_kv req_cookies[KC_ITEM_MAX_PARAMS];
	struct kc_kv resp_cookies[KC_ITEM_MAX_PARAMS]; /**< Set-Cookie name=value */
	struct kc_kv query[KC_ITEM_MAX_PARAMS];        /**< repeats kept in order */
};

struct kc_dns_question {
	struct kc_str name;
	uint16_t type;   /**< QTYPE: rendered "A", "AAAA", ... */
	uint16_t class_; /**< QCLASS: rendered "IN", ... */
};

/** One resource record; data is already rendered as text for its type. */
struct kc_dns_rr {
	struct kc_str name;
	struct kc_str data; /**< "10.0.0.1", "2001:db8::1", target name, TXT, "pref host", ... */
	uint32_t ttl;
	uint16_t type;
	uint16_t class_;
};

/** DNS query with its response (kfl.md 10.3). */
struct kc_item_dns {
	uint16_t id;
	uint16_t flags;   /**< header flags word of the response (or query) */
	uint8_t opcode;
	uint8_t rcode;
	uint8_t n_questions, n_answers, n_authorities, n_additionals;
	struct kc_dns_question questions[KC_ITEM_MAX_DNS_Q];
	/** answers, then authorities, then additionals */
	struct kc_dns_rr rrs[KC_ITEM_MAX_DNS_RR];
};

/** TLS handshake summary. */
struct kc_item_tls {
	struct kc_str sni;
	uint16_t client_version;          /**< legacy_version of the ClientHello */
	uint16_t server_version;          /**< chosen: supported_versions or legacy */
	uint16_t cipher_suite;            /**< chosen by the ServerHello */
	uint8_t n_alpn;
	uint8_t n_versions;
	uint16_t offered_versions[8];     /**< supported_versions of the ClientHello */
	struct kc_str alpn[KC_ITEM_MAX_ALPN]; /**< offered by the client */
	struct kc_str alpn_chosen;        /**< from the ServerHello */
};

/**
 * One item. Common fields first; the protocol part is a union selected by
 * proto. Addresses are in network byte order; IPv4 uses the first 4 bytes.
 */
struct kc_item {
	uint64_t stream_id;    /**< links the item to its stream's pcap */
	uint32_t index;        /**< position of the item in its stream */
	uint16_t flags;        /**< KC_ITEM_F_* */
	uint8_t proto;         /**< enum kc_item_proto */
	uint8_t l4;            /**< IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;        /**< 4 or 6 */
	uint8_t worker;        /**< worker index that produced it */
	uint16_t src_port;     /**< client (request sender), host order */
	uint16_t dst_port;     /**< server, host order */
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	uint64_t ts_us;        /**< request (or lone message) capture time, us since epoch */
	uint64_t resp_ts_us;   /**< response capture time, 0 if none */
	uint64_t req_size;     /**< requestSize: captured bytes of the request */
	uint64_t resp_size;    /**< responseSize */
	union {
		struct kc_item_http http;
		struct kc_item_dns dns;
		struct kc_item_tls tls;
	} u;
	uint16_t arena_used;
	char arena[KC_ITEM_ARENA_SIZE];
};

/**
 * Reset @p it to an empty item of protocol @p proto: every field before the
 * arena is zeroed and the arena emptied (its bytes are not cleared). For the
 * HTTP family (KC_ITEM_HTTP, KC_ITEM_HTTP2, KC_ITEM_GRPC) the "unknown"
 * markers are set: headers sizes and body sizes -1, grpc_status -1; and the
 * tables (req_headers ... query) are not cleared, only their counts: fill an
 * entry before counting it, read none past its count.
 * Thread safety: touches only @p it.
 */
void kc_item_reset(struct kc_item *it, enum kc_item_proto proto);

/* memcpy() for the short strings items are made of (methods, header names
 * and values: mostly under 32 bytes), without the libc call: two
 * overlapping fixed-size moves, which compile to plain loads and stores. */
static inline void kc_item_copy(void *dst, const void *src, size_t len)
{
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	uint64_t a, b, c, e;

	/* Sizes tested by halves, the common 8..16 first: two tests for
	 * every size up to 32. */
	if (len <= 16) {
		if (len >= 8) {
			memcpy(&a, s, 8);
			memcpy(&b, s + len - 8, 8);
			memcpy(d, &a, 8);
			memcpy(d + len - 8, &b, 8);
		} else if (len >= 4) {
			uint32_t x, y;

			memcpy(&x, s, 4);
			memcpy(&y, s + len - 4, 4);
			memcpy(d, &x, 4);
			memcpy(d + len - 4, &y, 4);
		} else if (len > 0) {
			/* 1 to 3 bytes: first, middle and last cover them
			 * all, with no loop (methods, "OK", short values). */
			uint8_t f = s[0], m = s[len / 2], l = s[len - 1];

			d[0] = f;
			d[len / 2] = m;
			d[len - 1] = l;
		}
	} else if (len <= 32) {
		memcpy(&a, s, 8);
		memcpy(&b, s + 8, 8);
		memcpy(&c, s + len - 16, 8);
		memcpy(&e, s + len - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + 8, &b, 8);
		memcpy(d + len - 16, &c, 8);
		memcpy(d + len - 8, &e, 8);
	} else {
		memcpy(d, s, len);
	}
}

/**
 * Take @p len bytes of the arena for view @p out (left empty when nothing is
 * taken). @p dst: where to write them, NULL when @p len is 0 or on -ENOSPC.
 * @return 0, or -ENOSPC (arena full: KC_ITEM_F_TRUNCATED set).
 */
static inline int kc_item_reserve(struct kc_item *it, size_t len, struct kc_str *out, char **dst)
{
	uint16_t used = it->arena_used;

	/* 1 <= len <= room in one test (len 0 wraps). */
	if (kc_likely(len - 1 < (size_t)KC_ITEM_ARENA_SIZE - used)) {
		*dst = it->arena + used;
		*out = (struct kc_str){ used, (uint16_t)len };
		it->arena_used = (uint16_t)(used + len);
		return 0;
	}
	*out = (struct kc_str){ 0, 0 };
	*dst = NULL;
	if (len == 0)
		return 0;
	it->flags |= KC_ITEM_F_TRUNCATED;
	return -ENOSPC;
}

/**
 * Copy @p len bytes into the arena and return the view. On a full arena the
 * view is empty, KC_ITEM_F_TRUNCATED is set and -ENOSPC returned.
 * @p len == 0 gives the absent view and returns 0.
 * Inline: dissectors put a dozen short strings per item.
 * @return 0, or -ENOSPC (arena full; nothing copied).
 */
static inline int kc_item_put(struct kc_item *it, const void *data, size_t len, struct kc_str *out)
{
	char *dst;
	int rc = kc_item_reserve(it, len, out, &dst);

	if (dst != NULL)
		kc_item_copy(dst, data, len);
	return rc;
}

/**
 * kc_item_put() of an HTTP header name, canonicalised on the way as
 * kc_item_canon_header() does (one pass instead of a copy and a rewrite).
 * @return as kc_item_put().
 */
int kc_item_put_header_name(struct kc_item *it, const void *name, size_t len, struct kc_str *out);

/**
 * Append @p len bytes to the view @p s (absent views start empty). When @p s
 * does not end at the arena's end it is first moved there (its old bytes are
 * left as dead space), so appending works whatever was put in between.
 * All or nothing: on a full arena @p s is unchanged, KC_ITEM_F_TRUNCATED is
 * set and -ENOSPC returned.
 * @return 0, or -ENOSPC.
 */
int kc_item_append(struct kc_item *it, struct kc_str *s, const void *data, size_t len);

/**
 * Canonicalise an HTTP header name in place as Go's
 * textproto.CanonicalMIMEHeaderKey does (Kubeshark's header keys):
 * "content-type" -> "Content-Type". A name holding a byte that is not an
 * RFC 7230 token character (a space, ':' of HTTP/2 pseudo-headers, ...) is
 * left unchanged, as Go does.
 */
void kc_item_canon_header(char *name, size_t len);

/**
 * First header named exactly @p name (canonical form, case-sensitive) among
 * @p n entries of @p kv. @return the entry, or NULL when absent.
 */
const struct kc_kv *kc_item_header_find(const struct kc_item *it, const struct kc_kv *kv,
					unsigned n, const char *name);

/** True when view @p s equals the C string @p lit exactly. */
static inline int kc_item_str_eq(const struct kc_item *it, struct kc_str s, const char *lit)
{
	size_t n = 0;

	while (lit[n] != '\0')
		n++;
	if (n != s.len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (it->arena[s.off + i] != lit[i])
			return 0;
	return 1;
}

/** Pointer to a view's bytes (not NUL-terminated); valid while @p it lives. */
/**
 * Length of the well-formed UTF-8 sequence starting at @p s (its first byte
 * 0x80 or above, @p n bytes available), or 0 when it is ill-formed: a bad
 * lead or continuation byte, cut short, overlong, a surrogate or past
 * U+10FFFF. The one rule of the JSON renderers and of KFL's view of them.
 */
static inline size_t kc_item_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char b = s[0];
	size_t need;
	uint32_t cp, min;

	if ((b & 0xe0) == 0xc0) {
		need = 1; cp = b & 0x1f; min = 0x80;
	} else if ((b & 0xf0) == 0xe0) {
		need = 2; cp = b & 0x0f; min = 0x800;
	} else if ((b & 0xf8) == 0xf0) {
		need = 3; cp = b & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (need >= n)
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

static inline const char *kc_item_str(const struct kc_item *it, struct kc_str s)
{
	return it->arena + s.off;
}

/** "http", "dns", ... (protocol.name) and "HTTP", "DNS", ... (protocol.abbr). */
const char *kc_item_proto_name(enum kc_item_proto p);
const char *kc_item_proto_abbr(enum kc_item_proto p);

/** elapsedTime in ms: response time minus request time, 0 if unmeasured. */
uint64_t kc_item_elapsed_ms(const struct kc_item *it);

#endif /* KC_ITEM_H */
