/*
 * struct kc_item -> Kubeshark entry JSON text, written directly.
 *
 * The mapping is the contract at the top of item_json.c, and the bytes are
 * exactly those cJSON_PrintPreallocated() gives for the tree item_json.c
 * builds (kc_item_to_json_cjson(), which the tests compare this against):
 * - compact: no spaces; members and elements separated by ',';
 * - strings escaped as cJSON does: '"' '\\' and \b \f \n \r \t by name,
 *   other bytes below 0x20 as \u00xx (lower-case hex), everything else
 *   (0x7f and bytes >= 0x80) as is; a string ends at its first NUL (cJSON
 *   holds C strings);
 * - item strings (views) are first made valid UTF-8: an ill-formed byte
 *   becomes U+FFFD, by utf8_clean_to()'s rule in item_json.c;
 * - whole numbers below 2^53 as decimal integers, others as cJSON's
 *   print_number ("%1.15g", or "%1.17g" when that does not read back).
 * Building the tree cost one malloc per node and a strdup per key and string:
 * about 106,000 instructions for a typical 1 KiB HTTP item, 45% of a
 * kflcap-query -r run that prints 4,000 of them. Here nothing is allocated:
 * the item's fields are sanitised into a per-thread copy, as the tree
 * renderer does, and the text written in one pass (about 9,000).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "item_json_internal.h"
#include "kc_item_json.h"
#include "kc_item_names.h"

/* The output: [p, end) is free room, end leaves one byte for the NUL. Once
 * something does not fit, full is set and nothing more is written. */
struct jw {
	char *p;
	char *end;
	int full;
	const struct kc_item *it; /* the sanitised copy of the fields */
	const char *arena;        /* the caller's arena (not copied) */
};

/* The bytes of view @p v (clamped to the arena by the sanitiser). */
static inline const char *vstr(const struct jw *w, struct kc_str v)
{
	return w->arena + v.off;
}

/* Escape class of a byte in a string value (cJSON's print_string_ptr). */
enum { E_COPY = 0, E_SHORT, E_UNI, E_NUL, E_HIGH };

static const uint8_t esc_class[256] = {
	[0] = E_NUL,
	[1] = E_UNI, [2] = E_UNI, [3] = E_UNI, [4] = E_UNI, [5] = E_UNI, [6] = E_UNI,
	[7] = E_UNI, [8] = E_SHORT, [9] = E_SHORT, [10] = E_SHORT, [11] = E_UNI,
	[12] = E_SHORT, [13] = E_SHORT, [14] = E_UNI, [15] = E_UNI, [16] = E_UNI,
	[17] = E_UNI, [18] = E_UNI, [19] = E_UNI, [20] = E_UNI, [21] = E_UNI,
	[22] = E_UNI, [23] = E_UNI, [24] = E_UNI, [25] = E_UNI, [26] = E_UNI,
	[27] = E_UNI, [28] = E_UNI, [29] = E_UNI, [30] = E_UNI, [31] = E_UNI,
	['"'] = E_SHORT, ['\\'] = E_SHORT,
#define H8(b) [b] = E_HIGH, [b + 1] = E_HIGH, [b + 2] = E_HIGH, [b + 3] = E_HIGH, \
	[b + 4] = E_HIGH, [b + 5] = E_HIGH, [b + 6] = E_HIGH, [b + 7] = E_HIGH
	H8(0x80), H8(0x88), H8(0x90), H8(0x98), H8(0xa0), H8(0xa8), H8(0xb0), H8(0xb8),
	H8(0xc0), H8(0xc8), H8(0xd0), H8(0xd8), H8(0xe0), H8(0xe8), H8(0xf0), H8(0xf8),
#undef H8
};

static const char hexdig[] = "0123456789abcdef";

static inline size_t room(const struct jw *w)
{
	return (size_t)(w->end - w->p);
}

static inline void put_raw(struct jw *w, const void *s, size_t n)
{
	if (w->full || room(w) < n) {
		w->full = 1;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
}

#define PUT_LIT(w, lit) put_raw((w), (lit), sizeof(lit) - 1)

static inline void put_ch(struct jw *w, char ch)
{
	if (w->full || w->p == w->end) {
		w->full = 1;
		return;
	}
	*w->p++ = ch;
}

/* ',' before a member or element unless it is the first of its container. */
static inline void sep(struct jw *w)
{
	if (!w->full && w->p[-1] != '{' && w->p[-1] != '[')
		put_ch(w, ',');
}

/* Member name that needs no escaping (the renderer's own ASCII names). */
static inline void key_lit(struct jw *w, const char *k, size_t n)
{
	sep(w);
	if (w->full || room(w) < n + 3) {
		w->full = 1;
		return;
	}
	*w->p++ = '"';
	memcpy(w->p, k, n);
	w->p += n;
	*w->p++ = '"';
	*w->p++ = ':';
}

#define KEY(w, lit) key_lit((w), (lit), sizeof(lit) - 1)

/* Escape one byte below 0x80 (class E_SHORT or E_UNI) into @p o (room 6). */
static inline char *esc_one(char *o, unsigned char b)
{
	*o++ = '\\';
	switch (b) {
	case '"': *o++ = '"'; break;
	case '\\': *o++ = '\\'; break;
	case '\b': *o++ = 'b'; break;
	case '\f': *o++ = 'f'; break;
	case '\n': *o++ = 'n'; break;
	case '\r': *o++ = 'r'; break;
	case '\t': *o++ = 't'; break;
	default:
		*o++ = 'u';
		*o++ = '0';
		*o++ = '0';
		*o++ = hexdig[b >> 4];
		*o++ = hexdig[b & 15];
		break;
	}
	return o;
}


/* May any of the 8 bytes of @p x need more than a copy (below 0x20, '"',
 * '\\', 0x80 and above)? Borrows between bytes can only add false alarms,
 * which the caller's byte loop sorts out. */
static inline int any_special8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t t = (x - ones * 0x20) | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones);

	return ((t | x) & (ones * 0x80)) != 0;
}

/* Body of a string value (no quotes): @p n bytes of @p s, stopping at a NUL;
 * made valid UTF-8 first when @p clean. Worst case 6 output bytes per input
 * byte (\u00xx); when that may not fit, every step is checked. */
static void put_str_body(struct jw *w, const unsigned char *s, size_t n, int clean)
{
	char *o = w->p;
	int checked = room(w) / 6 < n;
	size_t i = 0;

	if (w->full)
		return;
	while (i < n) {
		unsigned char b = s[i];
		size_t run = 0;

		switch (esc_class[b]) {
		case E_COPY:
			/* a run of plain bytes in one copy, found 8 at a time */
			run = 1;
			while (i + run + 8 <= n) {
				uint64_t x;

				memcpy(&x, s + i + run, 8);
				if (any_special8(x))
					break;
				run += 8;
			}
			while (i + run < n && esc_class[s[i + run]] == E_COPY)
				run++;
			if (checked && (size_t)(w->end - o) < run)
				goto full;
			memcpy(o, s + i, run);
			o += run;
			i += run;
			continue;
		case E_NUL:
			goto done;
		case E_SHORT:
		case E_UNI:
			if (checked && w->end - o < (esc_class[b] == E_SHORT ? 2 : 6))
				goto full;
			o = esc_one(o, b);
			i++;
			continue;
		default: /* E_HIGH */
			if (!clean) {
				if (checked && w->end - o < 1)
					goto full;
				*o++ = (char)b;
				i++;
				continue;
			}
			run = kc_item_utf8_seq(s + i, n - i);
			if (checked && (size_t)(w->end - o) < (run ? run : 3))
				goto full;
			if (run == 0) {
				*o++ = (char)0xef;
				*o++ = (char)0xbf;
				*o++ = (char)0xbd;
				i++;
			} else {
				memcpy(o, s + i, run);
				o += run;
				i += run;
			}
			continue;
		}
	}
done:
	w->p = o;
	return;
full:
	w->full = 1;
}

/* A string value from bytes: cleaned to UTF-8, at most @p max input bytes. */
static void put_bytes(struct jw *w, const void *s, size_t n, size_t max)
{
	put_ch(w, '"');
	put_str_body(w, s, n < max ? n : max, 1);
	put_ch(w, '"');
}

/* A view of the item as a string value (as add_view/add_strn). */
static inline void put_view(struct jw *w, struct kc_str v)
{
	put_bytes(w, vstr(w, v), v.len, KC_ITEM_ARENA_SIZE);
}

/* A C string value, escaped but not cleaned (as add_cstr). */
static void put_cstr(struct jw *w, const char *s)
{
	put_ch(w, '"');
	put_str_body(w, (const unsigned char *)s, strlen(s), 0);
	put_ch(w, '"');
}

/* Member name from item bytes, cleaned (header, cookie, query names). */
static void key_bytes(struct jw *w, const void *s, size_t n)
{
	sep(w);
	put_bytes(w, s, n, KC_ITEM_JSON_KEY_MAX);
	put_ch(w, ':');
}

static const char dig2[] =
	"0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
	"5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/* Decimal digits of @p v ending at @p end, two per division. */
static char *fmt_u64(char *end, uint64_t v)
{
	while (v >= 100) {
		end -= 2;
		memcpy(end, dig2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		end -= 2;
		memcpy(end, dig2 + 2 * v, 2);
	} else {
		*--end = (char)('0' + v);
	}
	return end;
}

static void put_u64(struct jw *w, uint64_t v)
{
	char b[24];
	char *s = fmt_u64(b + sizeof(b), v);

	put_raw(w, s, (size_t)(b + sizeof(b) - s));
}

static void put_i64(struct jw *w, int64_t v)
{
	if (v < 0) {
		put_ch(w, '-');
		put_u64(w, 0 - (uint64_t)v);
	} else {
		put_u64(w, (uint64_t)v);
	}
}

/* A number that is not a whole number below 2^53: cJSON's print_number. */
static void put_double(struct jw *w, double d)
{
	char b[26];
	int n;
	double test = 0.0;

	if (isnan(d) || isinf(d)) {
		PUT_LIT(w, "null");
		return;
	}
	n = snprintf(b, sizeof(b), "%1.15g", d);
	/* cJSON's compare_double(): equal within one epsilon of the larger */
	if (sscanf(b, "%lg", &test) != 1 ||
	    !(fabs(test - d) <= (fabs(test) > fabs(d) ? fabs(test) : fabs(d)) * DBL_EPSILON))
		n = snprintf(b, sizeof(b), "%1.17g", d);
	if (n < 0 || n > (int)sizeof(b) - 1) {
		w->full = 1; /* cJSON fails the whole print; never for a double */
		return;
	}
	put_raw(w, b, (size_t)n);
}

#define TWO53 9007199254740992.0

/* add_num() of the text path: a double, whole ones below 2^53 as integers. */
static void put_num(struct jw *w, double v)
{
	if (v > -TWO53 && v < TWO53 && v == (double)(long long)v)
		put_i64(w, (long long)v);
	else
		put_double(w, v);
}

/* The same for integer fields, without the double round trip when exact. */
static void put_num_i64(struct jw *w, int64_t v)
{
	const int64_t lim = (int64_t)1 << 53;

	if (v > -lim && v < lim)
		put_i64(w, v);
	else
		put_double(w, (double)v);
}

static void put_num_u64(struct jw *w, uint64_t v)
{
	if (v < (uint64_t)1 << 53)
		put_u64(w, v);
	else
		put_double(w, (double)v);
}

/* {"ip":"...","port":"...","name":""}: addresses and ports are plain ASCII,
 * so the object is formatted whole and copied once. */
static void put_endpoint(struct jw *w, const uint8_t *ip, uint16_t port)
{
	char b[INET6_ADDRSTRLEN + 48];
	char *o = b;
	char d[8];
	char *n;

	memcpy(o, "{\"ip\":\"", 7);
	o += 7;
	if (w->it->family != 6) {
		for (int i = 0; i < 4; i++) {
			n = fmt_u64(d + sizeof(d), ip[i]);
			if (i > 0)
				*o++ = '.';
			memcpy(o, n, (size_t)(d + sizeof(d) - n));
			o += d + sizeof(d) - n;
		}
	} else if (inet_ntop(AF_INET6, ip, o, INET6_ADDRSTRLEN) != NULL) {
		o += strlen(o);
	}
	memcpy(o, "\",\"port\":\"", 10);
	o += 10;
	n = fmt_u64(d + sizeof(d), port);
	memcpy(o, n, (size_t)(d + sizeof(d) - n));
	o += d + sizeof(d) - n;
	memcpy(o, "\",\"name\":\"\"}", 12);
	o += 12;
	put_raw(w, b, (size_t)(o - b));
}

/* startTime: the seconds part is cached per thread (items come in time
 * order, many within one second); the fraction is formatted here. */
static void put_start_time(struct jw *w, uint64_t ts_us)
{
	static _Thread_local uint64_t last_sec = UINT64_MAX;
	static _Thread_local char last[48];
	static _Thread_local size_t last_len;
	uint64_t sec = ts_us / 1000000u;
	unsigned frac = (unsigned)(ts_us % 1000000u);
	char b[8];
	int digits = 6;

	if (sec != last_sec) {
		/* whole seconds: no fraction, "Z" last */
		kc_item_json_rfc3339(sec * 1000000u, last, sizeof(last));
		last_len = strlen(last) - 1;
		last_sec = sec;
	}
	put_ch(w, '"');
	put_raw(w, last, last_len);
	if (frac != 0) {
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		b[0] = '.';
		for (int i = digits; i > 0; i--) {
			b[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		put_raw(w, b, (size_t)digits + 1);
	}
	PUT_LIT(w, "Z\"");
}

/* Per-thread scratch: the header value being joined, the cleaned keys of a
 * cookie or query object. */
struct jw_scratch {
	char join[KC_ITEM_ARENA_SIZE];
	char keys[KC_ITEM_MAX_PARAMS][3 * KC_ITEM_JSON_KEY_MAX + 1];
};

static _Thread_local struct jw_scratch tl_js;
static _Thread_local struct kc_item tl_item;

/* Key @p v cleaned to a C string in @p out, as key_of() in item_json.c (the
 * tree renderer compares keys as C strings, so a NUL ends them). */
static void clean_key(const struct jw *w, struct kc_str v, char *out)
{
	const unsigned char *s = (const unsigned char *)vstr(w, v);
	size_t n = v.len < KC_ITEM_JSON_KEY_MAX ? v.len : KC_ITEM_JSON_KEY_MAX;
	char *o = out;
	size_t i = 0;

	while (i < n && s[i] != 0) {
		size_t q;

		if (s[i] < 0x80) {
			*o++ = (char)s[i++];
			continue;
		}
		q = kc_item_utf8_seq(s + i, n - i);
		if (q == 0) {
			*o++ = (char)0xef;
			*o++ = (char)0xbf;
			*o++ = (char)0xbd;
			i++;
		} else {
			memcpy(o, s + i, q);
			o += q;
			i += q;
		}
	}
	*o = '\0';
}

/* headers: name -> values joined with ","; equal names (raw bytes) merge
 * into the first, whose position fixes the order (add_headers()). */
static void put_headers(struct jw *w, const struct kc_kv *kv, unsigned n)
{
	char *join = tl_js.join;
	const size_t maxv = KC_ITEM_ARENA_SIZE;

	put_ch(w, '{');
	for (unsigned i = 0; i < n && !w->full; i++) {
		const char *ni = vstr(w, kv[i].name);
		size_t len = 0;
		int seen = 0;

		for (unsigned j = 0; j < i && !seen; j++)
			seen = kv[j].name.len == kv[i].name.len &&
			       memcmp(vstr(w, kv[j].name), ni, kv[i].name.len) == 0;
		if (seen)
			continue;
		key_bytes(w, ni, kv[i].name.len);
		for (unsigned j = i; j < n; j++) {
			size_t vl = kv[j].value.len;

			if (j != i && (kv[j].name.len != kv[i].name.len ||
				       memcmp(vstr(w, kv[j].name), ni, kv[i].name.len) != 0))
				continue;
			if (len > 0 && len < maxv)
				join[len++] = ',';
			if (vl > maxv - len)
				vl = maxv - len;
			memcpy(join + len, vstr(w, kv[j].value), vl);
			len += vl;
		}
		put_bytes(w, join, len, KC_ITEM_ARENA_SIZE);
	}
	put_ch(w, '}');
}

/* cookies: name -> value, the first of equal (cleaned) names wins. */
static void put_kv_first(struct jw *w, const struct kc_kv *kv, unsigned n)
{
	char (*keys)[3 * KC_ITEM_JSON_KEY_MAX + 1] = tl_js.keys;

	put_ch(w, '{');
	for (unsigned i = 0; i < n && !w->full; i++) {
		int seen = 0;

		clean_key(w, kv[i].name, keys[i]);
		for (unsigned j = 0; j < i && !seen; j++)
			seen = strcmp(keys[j], keys[i]) == 0;
		if (seen)
			continue;
		sep(w);
		put_cstr(w, keys[i]);
		put_ch(w, ':');
		put_view(w, kv[i].value);
	}
	put_ch(w, '}');
}

/* queryString: a name seen once is a string, a repeated one an array of its
 * values in order, at the place of its first occurrence (add_query()). */
static void put_query(struct jw *w, const struct kc_kv *kv, unsigned n)
{
	char (*keys)[3 * KC_ITEM_JSON_KEY_MAX + 1] = tl_js.keys;

	for (unsigned i = 0; i < n; i++)
		clean_key(w, kv[i].name, keys[i]);
	put_ch(w, '{');
	for (unsigned i = 0; i < n && !w->full; i++) {
		unsigned more = 0;
		int seen = 0;

		for (unsigned j = 0; j < i && !seen; j++)
			seen = strcmp(keys[j], keys[i]) == 0;
		if (seen)
			continue;
		for (unsigned j = i + 1; j < n; j++)
			more += strcmp(keys[j], keys[i]) == 0;
		sep(w);
		put_cstr(w, keys[i]);
		put_ch(w, ':');
		if (more == 0) {
			put_view(w, kv[i].value);
			continue;
		}
		put_ch(w, '[');
		for (unsigned j = i; j < n; j++) {
			if (j != i && strcmp(keys[j], keys[i]) != 0)
				continue;
			sep(w);
			put_view(w, kv[j].value);
		}
		put_ch(w, ']');
	}
	put_ch(w, '}');
}

static void put_base64(struct jw *w, struct kc_str v)
{
	size_t need = (size_t)(v.len + 2) / 3 * 4 + 2;

	if (w->full || room(w) < need) {
		w->full = 1;
		return;
	}
	*w->p++ = '"';
	w->p += kc_item_json_base64((const unsigned char *)vstr(w, v), v.len, w->p);
	*w->p++ = '"';
}

/* kc_item_header_find() on the caller's arena. */
static const struct kc_kv *header_find(const struct jw *w, const struct kc_kv *kv, unsigned n,
				       const char *name)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < n; i++)
		if (kv[i].name.len == len && memcmp(vstr(w, kv[i].name), name, len) == 0)
			return &kv[i];
	return NULL;
}

static void write_http(struct jw *w)
{
	const struct kc_item *it = w->it;
	const struct kc_item_http *h = &it->u.http;

	KEY(w, "request");
	put_ch(w, '{');
	if (it->flags & KC_ITEM_F_REQUEST) {
		const char *p = vstr(w, h->path);
		size_t start = 0;

		KEY(w, "method");
		put_view(w, h->method);
		KEY(w, "path");
		put_view(w, h->path);
		KEY(w, "pathSegments");
		put_ch(w, '[');
		if (h->path.len > 0) {
			/* strings.Split(path, "/") minus a leading "" */
			if (p[0] == '/')
				start = 1;
			for (size_t i = start; i <= h->path.len; i++) {
				if (i == h->path.len || p[i] == '/') {
					sep(w);
					put_bytes(w, p + start, i - start, KC_ITEM_ARENA_SIZE);
					start = i + 1;
				}
			}
		}
		put_ch(w, ']');
		KEY(w, "url");
		put_view(w, h->url);
		KEY(w, "httpVersion");
		put_view(w, h->version);
		KEY(w, "headers");
		put_headers(w, h->req_headers, h->n_req_headers);
		KEY(w, "cookies");
		put_kv_first(w, h->req_cookies, h->n_req_cookies);
		KEY(w, "queryString");
		put_query(w, h->query, h->n_query);
		KEY(w, "headersSize");
		put_num_i64(w, h->req_headers_size);
		KEY(w, "bodySize");
		put_num_i64(w, h->req_body_size);
		if (h->req_body_size > 0 || h->req_body.len > 0) {
			KEY(w, "postData");
			put_ch(w, '{');
			KEY(w, "mimeType");
			put_view(w, h->req_mime);
			KEY(w, "text");
			if (kc_item_json_body_is_text((const unsigned char *)vstr(w, h->req_body),
						      h->req_body.len)) {
				put_view(w, h->req_body);
			} else {
				put_base64(w, h->req_body);
				KEY(w, "encoding");
				PUT_LIT(w, "\"base64\"");
			}
			put_ch(w, '}');
		}
		if (it->proto == KC_ITEM_GRPC) {
			KEY(w, "grpc");
			put_ch(w, '{');
			KEY(w, "service");
			put_view(w, h->grpc_service);
			KEY(w, "method");
			put_view(w, h->grpc_method);
			put_ch(w, '}');
		}
	}
	put_ch(w, '}');
	KEY(w, "response");
	put_ch(w, '{');
	if (it->flags & KC_ITEM_F_RESPONSE) {
		const struct kc_kv *loc;
		const struct kc_kv *enc;
		double size = (double)h->resp_body_size;

		KEY(w, "status");
		put_num_i64(w, h->status);
		KEY(w, "statusText");
		put_view(w, h->status_text);
		KEY(w, "httpVersion");
		put_view(w, h->version);
		KEY(w, "headers");
		put_headers(w, h->resp_headers, h->n_resp_headers);
		KEY(w, "cookies");
		put_kv_first(w, h->resp_cookies, h->n_resp_cookies);
		enc = header_find(w, h->resp_headers, h->n_resp_headers, "Content-Encoding");
		if (enc != NULL && !(it->flags & KC_ITEM_F_RESP_BODY_TRUNC))
			size = h->resp_body.len;
		KEY(w, "content");
		put_ch(w, '{');
		KEY(w, "size");
		put_num(w, size);
		KEY(w, "mimeType");
		put_view(w, h->resp_mime);
		KEY(w, "encoding");
		PUT_LIT(w, "\"base64\"");
		KEY(w, "text");
		put_base64(w, h->resp_body);
		put_ch(w, '}');
		loc = header_find(w, h->resp_headers, h->n_resp_headers, "Location");
		KEY(w, "redirectURL");
		if (loc != NULL)
			put_view(w, loc->value);
		else
			PUT_LIT(w, "\"\"");
		KEY(w, "headersSize");
		put_num_i64(w, h->resp_headers_size);
		KEY(w, "bodySize");
		put_num_i64(w, h->resp_body_size);
		if (it->proto == KC_ITEM_GRPC && h->grpc_status >= 0) {
			KEY(w, "grpc");
			put_ch(w, '{');
			KEY(w, "status");
			put_num_i64(w, h->grpc_status);
			put_ch(w, '}');
		}
	}
	put_ch(w, '}');
}

/* A name from a table, or the number in decimal (add_name_or_num()). */
static void put_name_or_num(struct jw *w, const char *name, unsigned v)
{
	if (name == NULL) {
		put_ch(w, '"');
		put_u64(w, v);
		put_ch(w, '"');
		return;
	}
	put_cstr(w, name);
}

static void put_rr(struct jw *w, const struct kc_dns_rr *rr)
{
	sep(w);
	put_ch(w, '{');
	KEY(w, "name");
	put_view(w, rr->name);
	KEY(w, "type");
	put_name_or_num(w, kc_item_dns_type_name(rr->type), rr->type);
	KEY(w, "class");
	put_name_or_num(w, kc_item_dns_class_name(rr->class_), rr->class_);
	KEY(w, "ttl");
	put_u64(w, rr->ttl);
	switch (rr->type) {
	case 1:
	case 28:
		KEY(w, "ip");
		put_view(w, rr->data);
		KEY(w, "cname");
		PUT_LIT(w, "\"\"");
		break;
	case 5: KEY(w, "cname"); put_view(w, rr->data); break;
	case 12: KEY(w, "ptr"); put_view(w, rr->data); break;
	case 2: KEY(w, "ns"); put_view(w, rr->data); break;
	case 15: KEY(w, "mx"); put_view(w, rr->data); break;
	case 6: KEY(w, "soa"); put_view(w, rr->data); break;
	case 33: KEY(w, "srv"); put_view(w, rr->data); break;
	case 256: KEY(w, "uri"); put_view(w, rr->data); break;
	case 41: KEY(w, "opt"); put_view(w, rr->data); break;
	case 16: {
		const char *d = vstr(w, rr->data);
		size_t start = 0;

		KEY(w, "txts");
		put_ch(w, '[');
		for (size_t i = 0; rr->data.len > 0 && i <= rr->data.len; i++) {
			if (i == rr->data.len || d[i] == '\0') {
				sep(w);
				put_bytes(w, d + start, i - start, KC_ITEM_ARENA_SIZE);
				start = i + 1;
			}
		}
		put_ch(w, ']');
		break;
	}
	default: KEY(w, "data"); put_view(w, rr->data); break;
	}
	put_ch(w, '}');
}

static void write_dns(struct jw *w)
{
	const struct kc_item_dns *d = &w->it->u.dns;
	unsigned nq = KC_MIN((unsigned)d->n_questions, KC_ITEM_MAX_DNS_Q);
	unsigned sect[3] = { d->n_answers, d->n_authorities, d->n_additionals };
	unsigned k = 0;

	KEY(w, "request");
	put_ch(w, '{');
	if (w->it->flags & KC_ITEM_F_REQUEST) {
		KEY(w, "opCode");
		put_name_or_num(w, kc_item_dns_opcode_name(d->opcode), d->opcode);
		KEY(w, "questions");
		put_ch(w, '[');
		for (unsigned i = 0; i < nq; i++) {
			sep(w);
			put_ch(w, '{');
			KEY(w, "name");
			put_view(w, d->questions[i].name);
			KEY(w, "type");
			put_name_or_num(w, kc_item_dns_type_name(d->questions[i].type),
					d->questions[i].type);
			KEY(w, "class");
			put_name_or_num(w, kc_item_dns_class_name(d->questions[i].class_),
					d->questions[i].class_);
			put_ch(w, '}');
		}
		put_ch(w, ']');
	}
	put_ch(w, '}');
	KEY(w, "response");
	put_ch(w, '{');
	if (w->it->flags & KC_ITEM_F_RESPONSE) {
		static const char *const names[3] = { "answers", "authorities", "additionals" };

		KEY(w, "code");
		put_name_or_num(w, kc_item_dns_rcode_name(d->rcode), d->rcode);
		for (unsigned s = 0; s < 3; s++) {
			key_lit(w, names[s], strlen(names[s]));
			put_ch(w, '[');
			for (unsigned i = 0; i < sect[s] && k < KC_ITEM_MAX_DNS_RR; i++, k++)
				put_rr(w, &d->rrs[k]);
			put_ch(w, ']');
		}
	}
	put_ch(w, '}');
}

/* A TLS version by name, else "0x%04x" (add_tls_version()). */
static void put_tls_hex_or(struct jw *w, const char *name, uint16_t v)
{
	char b[8] = { '"', '0', 'x', hexdig[v >> 12], hexdig[(v >> 8) & 15],
		      hexdig[(v >> 4) & 15], hexdig[v & 15], '"' };

	if (name != NULL)
		put_cstr(w, name);
	else
		put_raw(w, b, sizeof(b));
}

static void write_tls(struct jw *w)
{
	const struct kc_item_tls *t = &w->it->u.tls;

	KEY(w, "request");
	put_ch(w, '{');
	if (w->it->flags & KC_ITEM_F_REQUEST) {
		KEY(w, "serverName");
		put_view(w, t->sni);
		KEY(w, "alpn");
		put_ch(w, '[');
		for (unsigned i = 0; i < KC_MIN(t->n_alpn, KC_ITEM_MAX_ALPN); i++) {
			sep(w);
			put_view(w, t->alpn[i]);
		}
		put_ch(w, ']');
		KEY(w, "versions");
		put_ch(w, '[');
		for (unsigned i = 0; i < KC_MIN(t->n_versions, 8u); i++) {
			sep(w);
			put_tls_hex_or(w, kc_item_tls_version_name(t->offered_versions[i]),
				       t->offered_versions[i]);
		}
		put_ch(w, ']');
		KEY(w, "version");
		put_tls_hex_or(w, kc_item_tls_version_name(t->client_version), t->client_version);
	}
	put_ch(w, '}');
	KEY(w, "response");
	put_ch(w, '{');
	if (w->it->flags & KC_ITEM_F_RESPONSE) {
		KEY(w, "version");
		put_tls_hex_or(w, kc_item_tls_version_name(t->server_version), t->server_version);
		KEY(w, "cipherSuite");
		put_tls_hex_or(w, kc_item_tls_cipher_name(t->cipher_suite), t->cipher_suite);
		KEY(w, "alpn");
		put_view(w, t->alpn_chosen);
	}
	put_ch(w, '}');
}

static void write_protocol(struct jw *w)
{
	const struct kc_item *it = w->it;
	const char *macro;
	char ver[32];

	macro = kc_item_json_proto_version(it, w->arena, ver);
	KEY(w, "protocol");
	put_ch(w, '{');
	KEY(w, "name");
	put_cstr(w, kc_item_proto_name(it->proto));
	KEY(w, "version");
	put_cstr(w, ver); /* the item's bytes, escaped but not cleaned, as the tree */
	KEY(w, "abbr");
	put_cstr(w, kc_item_proto_abbr(it->proto));
	KEY(w, "macro");
	put_cstr(w, macro);
	KEY(w, "layer4");
	if (it->l4 == 17)
		PUT_LIT(w, "\"udp\"");
	else
		PUT_LIT(w, "\"tcp\"");
	put_ch(w, '}');
}

int kc_item_to_json(const struct kc_item *item, char *buf, size_t cap, size_t *len)
{
	struct kc_item *it = &tl_item;
	struct jw w;
	const char *l4;
	size_t l4n;

	if (cap < 2)
		return -ENOSPC;
	/* The first byte is written unchecked so sep() may look behind it. */
	buf[0] = '{';
	w = (struct jw){ .p = buf + 1, .end = buf + cap - 1, .it = it, .arena = item->arena };
	/* Only the fields are copied and clamped: the 8 KiB arena is read in
	 * place (the copy of it was a third of the cost). */
	memcpy(it, item, offsetof(struct kc_item, arena));
	kc_item_json_sanitize(it);
	if (it->l4 == 17) {
		l4 = "_udp";
		l4n = 4;
	} else {
		l4 = "_tcp";
		l4n = 4;
	}
	/* "<worker>/<stream>_<l4>-<index>" */
	KEY(&w, "id");
	put_ch(&w, '"');
	put_u64(&w, it->worker);
	put_ch(&w, '/');
	put_u64(&w, it->stream_id);
	put_raw(&w, l4, l4n);
	put_ch(&w, '-');
	put_u64(&w, it->index);
	put_ch(&w, '"');
	KEY(&w, "index");
	put_u64(&w, it->index);
	KEY(&w, "stream");
	put_ch(&w, '"');
	put_u64(&w, it->stream_id);
	put_raw(&w, l4, l4n);
	put_ch(&w, '"');
	KEY(&w, "worker");
	put_ch(&w, '"');
	put_u64(&w, it->worker);
	put_ch(&w, '"');
	write_protocol(&w);
	KEY(&w, "tls");
	PUT_LIT(&w, "false");
	KEY(&w, "outgoing");
	PUT_LIT(&w, "false");
	KEY(&w, "src");
	put_endpoint(&w, it->src_ip, it->src_port);
	KEY(&w, "dst");
	put_endpoint(&w, it->dst_ip, it->dst_port);
	KEY(&w, "timestamp");
	put_num_u64(&w, it->ts_us / 1000u);
	KEY(&w, "startTime");
	put_start_time(&w, it->ts_us);
	KEY(&w, "elapsedTime");
	put_num_u64(&w, kc_item_elapsed_ms(it));
	KEY(&w, "requestSize");
	put_num_u64(&w, it->req_size);
	KEY(&w, "responseSize");
	put_num_u64(&w, it->resp_size);
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC:
		write_http(&w);
		break;
	case KC_ITEM_DNS:
		write_dns(&w);
		break;
	case KC_ITEM_TLS:
		write_tls(&w);
		break;
	default:
		KEY(&w, "request");
		PUT_LIT(&w, "{}");
		KEY(&w, "response");
		PUT_LIT(&w, "{}");
		break;
	}
	put_ch(&w, '}');
	if (w.full)
		return -ENOSPC;
	*w.p = '\0';
	if (len != NULL)
		*len = (size_t)(w.p - buf);
	return 0;
}
