/*
 * Building a stream's item from its store records (see http2_stream.c) and
 * handing it out: header canonicalisation, the request-line view fields,
 * cookies, the query string, gRPC service/method and status texts.
 */
#include <string.h>

#include "http2_internal.h"

#define REC_HDR 6u

/* Go's net/http StatusText, which Kubeshark's statusText comes from. */
static const char *status_text(int code)
{
	switch (code) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Requested Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Entity";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return "";
	}
}

static int view_ieq(const struct kc_item *it, struct kc_str s, const char *lit)
{
	size_t n = strlen(lit);
	const char *p = kc_item_str(it, s);

	if (s.len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return 0;
	}
	return 1;
}

static struct kc_str sub(struct kc_str s, size_t from, size_t len)
{
	struct kc_str r = { .off = (uint16_t)(s.off + from), .len = (uint16_t)len };

	return len == 0 ? (struct kc_str){ 0, 0 } : r;
}

/* Cookie header: "a=1; b=2" (RFC 6265 4.2.1); views into the value. */
static void add_cookies(struct kc_item *it, struct kc_str v, struct kc_kv *out, uint8_t *n,
			struct kc_http2_stats *st)
{
	const char *p = kc_item_str(it, v);
	size_t i = 0;

	while (i < v.len) {
		size_t start, end, eq;

		while (i < v.len && (p[i] == ' ' || p[i] == ';'))
			i++;
		start = i;
		while (i < v.len && p[i] != ';')
			i++;
		end = i;
		while (end > start && p[end - 1] == ' ')
			end--;
		if (end == start)
			continue;
		for (eq = start; eq < end && p[eq] != '='; eq++)
			;
		if (eq == start)
			continue; /* no name: Go drops it */
		if (*n >= KC_ITEM_MAX_PARAMS) {
			st->headers_dropped++;
			it->flags |= KC_ITEM_F_TRUNCATED;
			return;
		}
		out[*n].name = sub(v, start, eq - start);
		out[*n].value = eq < end ? sub(v, eq + 1, end - eq - 1) : (struct kc_str){ 0, 0 };
		(*n)++;
	}
}

/* Set-Cookie: only the leading name=value pair (RFC 6265 4.1.1). */
static void add_set_cookie(struct kc_item *it, struct kc_str v, struct kc_http2_stats *st)
{
	struct kc_item_http *h = &it->u.http;
	const char *p = kc_item_str(it, v);
	size_t end = 0, eq;

	while (end < v.len && p[end] != ';')
		end++;
	for (eq = 0; eq < end && p[eq] != '='; eq++)
		;
	if (eq == 0 || eq == end)
		return;
	if (h->n_resp_cookies >= KC_ITEM_MAX_PARAMS) {
		st->headers_dropped++;
		it->flags |= KC_ITEM_F_TRUNCATED;
		return;
	}
	h->resp_cookies[h->n_resp_cookies].name = sub(v, 0, eq);
	h->resp_cookies[h->n_resp_cookies].value = sub(v, eq + 1, end - eq - 1);
	h->n_resp_cookies++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* URL-decode (Go's QueryUnescape: '+' is a space; a bad escape is kept as
 * sent) the part [from, from+len) of view @p v into the arena. */
static struct kc_str put_unescaped(struct kc_item *it, struct kc_str v, size_t from, size_t len)
{
	char tmp[512];
	const char *p = kc_item_str(it, v) + from;
	size_t n = 0;
	struct kc_str out = { 0, 0 };
	int plain = 1;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '%' || p[i] == '+')
			plain = 0;
	if (plain || len > sizeof(tmp))
		return sub(v, from, len);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '+') {
			tmp[n++] = ' ';
		} else if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
			   hexval(p[i + 2]) >= 0) {
			tmp[n++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			i += 2;
		} else {
			tmp[n++] = p[i];
		}
	}
	(void)kc_item_put(it, tmp, n, &out);
	return out;
}

static void add_query(struct kc_item *it, struct kc_str url, struct kc_http2_stats *st)
{
	struct kc_item_http *h = &it->u.http;
	const char *p = kc_item_str(it, url);
	size_t i = 0;

	while (i < url.len && p[i] != '?')
		i++;
	if (i == url.len)
		return;
	i++;
	while (i < url.len) {
		size_t start = i, eq, end;

		while (i < url.len && p[i] != '&' && p[i] != '#')
			i++;
		end = i;
		if (i < url.len && p[i] == '#')
			i = url.len;
		else
			i++;
		if (end == start)
			continue;
		for (eq = start; eq < end && p[eq] != '='; eq++)
			;
		if (h->n_query >= KC_ITEM_MAX_PARAMS) {
			st->headers_dropped++;
			it->flags |= KC_ITEM_F_TRUNCATED;
			return;
		}
		h->query[h->n_query].name = put_unescaped(it, url, start, eq - start);
		h->query[h->n_query].value =
			eq < end ? put_unescaped(it, url, eq + 1, end - eq - 1) : (struct kc_str){ 0, 0 };
		/* put_unescaped may have moved nothing, but re-read p: the arena
		 * does not move, views stay valid. */
		h->n_query++;
	}
}

/* One header record into the item: canonical name, then its meaning. */
static void add_header(struct kc_item *it, int resp, const uint8_t *name, uint16_t nlen,
		       const uint8_t *value, uint16_t vlen, struct kc_http2_stats *st)
{
	struct kc_item_http *h = &it->u.http;
	struct kc_kv *kv = resp ? h->resp_headers : h->req_headers;
	uint8_t *n = resp ? &h->n_resp_headers : &h->n_req_headers;
	struct kc_str ns, vs;

	if (*n >= KC_ITEM_MAX_HEADERS) {
		st->headers_dropped++;
		it->flags |= KC_ITEM_F_TRUNCATED;
		return;
	}
	if (kc_item_put(it, name, nlen, &ns) < 0 || kc_item_put(it, value, vlen, &vs) < 0) {
		st->headers_dropped++;
		return;
	}
	kc_item_canon_header(it->arena + ns.off, ns.len);
	kv[*n].name = ns;
	kv[*n].value = vs;
	(*n)++;
	if (!resp) {
		if (view_ieq(it, ns, ":method")) {
			h->method = vs;
		} else if (view_ieq(it, ns, ":path")) {
			const char *p = kc_item_str(it, vs);
			size_t q = 0;

			h->url = vs;
			while (q < vs.len && p[q] != '?')
				q++;
			h->path = sub(vs, 0, q);
		} else if (view_ieq(it, ns, ":authority")) {
			h->host = vs;
		} else if (view_ieq(it, ns, "host")) {
			if (h->host.len == 0)
				h->host = vs;
		} else if (view_ieq(it, ns, "content-type")) {
			if (h->req_mime.len == 0)
				h->req_mime = vs;
		} else if (view_ieq(it, ns, "cookie")) {
			add_cookies(it, vs, h->req_cookies, &h->n_req_cookies, st);
		}
	} else {
		if (view_ieq(it, ns, "content-type")) {
			if (h->resp_mime.len == 0)
				h->resp_mime = vs;
		} else if (view_ieq(it, ns, "set-cookie")) {
			add_set_cookie(it, vs, st);
		}
	}
}

/* "/pkg.Service/Method" -> service "pkg.Service", method "Method". */
static void set_grpc(struct kc_item *it)
{
	struct kc_item_http *h = &it->u.http;
	const char *p = kc_item_str(it, h->path);
	size_t slash = 1;

	if (h->path.len < 3 || p[0] != '/')
		return;
	while (slash < h->path.len && p[slash] != '/')
		slash++;
	if (slash >= h->path.len - 1u)
		return;
	h->grpc_service = sub(h->path, 1, slash - 1);
	h->grpc_method = sub(h->path, slash + 1, h->path.len - slash - 1);
}

/* The item keeps the decoded body (kc_item.h): inflate a gzip/deflate one. */
static void decode_side(struct kc_item *it, struct kc_str *body, const struct kc_kv *kv,
			unsigned n, uint16_t trunc_flag, struct kc_http2_stats *st)
{
	int enc = h2_body_encoding(it, kv, n);
	int rc;

	if (enc == H2_ENC_NONE || body->len == 0)
		return;
	rc = h2_body_decode(it, body, enc);
	if (rc < 0) {
		st->body_decode_errors++;
		return;
	}
	st->bodies_decoded++;
	if (rc == 0)
		it->flags |= trunc_flag; /* only a prefix of the decoded body */
}

static void build_item(struct kc_http2_flow *f, const struct h2_stream *s,
		       struct kc_item *it, struct kc_http2_stats *st)
{
	struct kc_item_http *h = &it->u.http;
	unsigned slot = (unsigned)(s - f->streams);
	uint32_t off;

	h->h2_stream_id = s->id;
	h->status = s->status;
	h->grpc_status = s->grpc_status;
	(void)kc_item_put(it, "HTTP/2.0", 8, &h->version);
	if (s->status > 0) {
		const char *t = status_text(s->status);

		(void)kc_item_put(it, t, strlen(t), &h->status_text);
	}
	/* pass 1: headers and request-line fields; pass 2: bodies, so that
	 * body bytes do not split the headers' arena space. */
	for (int pass = 0; pass < 2; pass++) {
		off = 0;
		while (off + REC_HDR <= f->store_used) {
			const uint8_t *r = f->store + off;
			uint8_t rslot = r[0], kind = r[1];
			uint16_t nlen, vlen;
			const uint8_t *name, *value;

			memcpy(&nlen, r + 2, 2);
			memcpy(&vlen, r + 4, 2);
			name = r + REC_HDR;
			value = name + nlen;
			off += REC_HDR + (uint32_t)nlen + vlen;
			if (rslot != slot)
				continue;
			if (pass == 0) {
				switch (kind) {
				case K_REQ_HDR:
					add_header(it, 0, name, nlen, value, vlen, st);
					break;
				case K_RESP_HDR:
					add_header(it, 1, name, nlen, value, vlen, st);
					break;
				case K_REQ_METHOD:
					(void)kc_item_put(it, value, vlen, &h->method);
					break;
				case K_REQ_URL: {
					size_t q = 0;

					(void)kc_item_put(it, value, vlen, &h->url);
					while (q < vlen && value[q] != '?')
						q++;
					h->path = sub(h->url, 0, h->url.len ? q : 0);
					break;
				}
				case K_REQ_HOST:
					(void)kc_item_put(it, value, vlen, &h->host);
					break;
				case K_REQ_MIME:
					(void)kc_item_put(it, value, vlen, &h->req_mime);
					break;
				default:
					break;
				}
			} else if (kind == K_REQ_BODY) {
				(void)kc_item_append(it, &h->req_body, value, vlen);
			} else if (kind == K_RESP_BODY) {
				(void)kc_item_append(it, &h->resp_body, value, vlen);
			}
		}
		if (pass == 0) {
			add_query(it, h->url, st);
			if (it->proto == KC_ITEM_GRPC)
				set_grpc(it);
		}
	}
	if (s->flags & S_REQ_HDR) {
		h->req_body_size = s->req_body;
		if (s->req_body > s->req_kept)
			it->flags |= KC_ITEM_F_REQ_BODY_TRUNC;
		decode_side(it, &h->req_body, h->req_headers, h->n_req_headers,
			    KC_ITEM_F_REQ_BODY_TRUNC, st);
	}
	if (s->flags & S_RESP_HDR) {
		h->resp_body_size = s->resp_body;
		if (s->resp_body > s->resp_kept)
			it->flags |= KC_ITEM_F_RESP_BODY_TRUNC;
		decode_side(it, &h->resp_body, h->resp_headers, h->n_resp_headers,
			    KC_ITEM_F_RESP_BODY_TRUNC, st);
	}
}

void h2_stream_maybe_finish(struct kc_http2_flow *f, struct h2_stream *s, int force,
			    const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
			    struct kc_http2_stats *st)
{
	struct kc_item it;
	/* Done when both sides ended, or the server reset the stream. A
	 * client reset (cancel) crosses the server's response on the wire:
	 * its frames may still come, so the stream waits for the server's
	 * END_STREAM or RST, a slot shortage or close (RFC 9113 5.4.2:
	 * the sender of RST_STREAM must be prepared to receive frames). */
	int done = (s->flags & (S_REQ_END | S_RESP_END)) == (S_REQ_END | S_RESP_END) ||
		   (s->flags & S_RESET);
	int ended_by_reset = (s->flags & (S_RESET | S_RESET_C)) != 0;

	if (!done && !force)
		return;
	if ((s->flags & S_UNKNOWN) || !(s->flags & (S_REQ_HDR | S_RESP_HDR))) {
		h2_stream_free(f, s);
		return;
	}
	kc_item_reset(&it, (s->flags & S_GRPC) ? KC_ITEM_GRPC : KC_ITEM_HTTP2);
	if (info != NULL)
		kc_item_set_flow(&it, info);
	it.index = f->item_index++;
	if (s->flags & S_REQ_HDR)
		it.flags |= KC_ITEM_F_REQUEST;
	if (s->flags & S_RESP_HDR)
		it.flags |= KC_ITEM_F_RESPONSE;
	if (!done && !ended_by_reset)
		it.flags |= KC_ITEM_F_TIMEOUT;
	if (s->flags & S_TRUNC)
		it.flags |= KC_ITEM_F_TRUNCATED;
	if (s->flags & (S_GAP_REQ | S_GAP_RESP))
		it.flags |= KC_ITEM_F_GAP;
	it.ts_us = (s->flags & S_REQ_HDR) ? s->req_ts : s->resp_ts;
	it.resp_ts_us = (s->flags & S_RESP_HDR) ? s->resp_ts : 0;
	it.req_size = s->req_size;
	it.resp_size = s->resp_size;
	build_item(f, s, &it, st);
	h2_stream_free(f, s);
	st->items++;
	if (it.proto == KC_ITEM_GRPC)
		st->items_grpc++;
	if (it.flags & KC_ITEM_F_TIMEOUT)
		st->items_timeout++;
	if (it.flags & KC_ITEM_F_TRUNCATED)
		st->items_truncated++;
	if (emit != NULL)
		emit(ctx, &it);
}
