/*
 * HTTP/1.0 and HTTP/1.1 dissector (RFC 9112 message syntax, RFC 9110
 * semantics). One state machine per direction; requests are queued per flow
 * (bounded) and paired in order with the responses, so keep-alive and
 * pipelining work. Lines are parsed in place from the caller's buffer; a line
 * split over segments is answered with NEED_MORE so the dispatcher keeps the
 * remainder in its bounded pending buffer. Bodies are consumed as they come
 * and never buffered: only a prefix of KC_ITEM_BODY_PREFIX decoded bytes is
 * kept in the item.
 *
 * HTTP/0.9 (RFC 1945 4.1 Simple-Request, "GET /path" with no version), as
 * TShark decodes it: the request item gets version "HTTP/0.9" and no
 * headers; the answer has no status line or headers (Simple-Response), so
 * everything the server sends until the connection closes is its body
 * (status 0, body prefix kept) and the item is emitted at close. A server
 * that answers with a status line anyway is parsed as usual.
 */
#include <string.h>

#include "dissect_internal.h"

/* kc_item_put(), always inlined: the compiler otherwise keeps one copy out
 * of line for the many calls here, and the call costs as much as a short
 * put. */
static inline __attribute__((always_inline)) int put(struct kc_item *it, const void *data,
						     size_t len, struct kc_str *out)
{
	char *dst;
	int rc = kc_item_reserve(it, len, out, &dst);

	if (dst != NULL)
		kc_item_copy(dst, data, len);
	return rc;
}

/* ---- small helpers ------------------------------------------------------ */

/* line_find()'s answer for the colon: none before the '\n', or not looked
 * for (the caller searches). */
#define CI_NONE SIZE_MAX
#define CI_UNKNOWN (SIZE_MAX - 1)

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static void trim(const uint8_t **s, size_t *n)
{
	while (*n > 0 && is_ows((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (is_ows((*s)[*n - 1]) || (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* @p lit is lower case. Inline, not strncasecmp: the header names compared
 * per line are short, and a libc call per comparison cost more than the
 * comparison. */
static inline int ieq_n(const uint8_t *s, const char *lit, size_t l)
{
	for (size_t i = 0; i < l; i++) {
		uint8_t ch = s[i];

		if ((unsigned)(ch - 'A') < 26u)
			ch = (uint8_t)(ch + ('a' - 'A'));
		if (ch != (uint8_t)lit[i])
			return 0;
	}
	return 1;
}

static inline int ieq(const uint8_t *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n == l && ieq_n(s, lit, l);
}

/* Does the comma-separated list @p s contain token @p tok (case-insensitive)? */
static int has_token(const uint8_t *s, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		const uint8_t *t;
		size_t tl;

		while (j < n && s[j] != ',')
			j++;
		t = s + i;
		tl = j - i;
		trim(&t, &tl);
		if (ieq(t, tl, tok))
			return 1;
		i = j + 1;
	}
	return 0;
}

/* Last token of a comma-separated list equals @p tok (Transfer-Encoding:
 * chunked must be the final coding, RFC 9112 6.3). */
static int last_token_is(const uint8_t *s, size_t n, const char *tok)
{
	size_t i = n;
	const uint8_t *t;
	size_t tl;

	while (i > 0 && s[i - 1] != ',')
		i--;
	t = s + i;
	tl = n - i;
	trim(&t, &tl);
	return ieq(t, tl, tok);
}

/* kc_find_byte() for the short spans of a request line, which sits in a
 * buffer readable up to @p end: when 16 bytes from @p p can be read, one
 * load answers for a span of up to 16 bytes. */
static inline const uint8_t *find_short(const uint8_t *p, size_t n, const uint8_t *end, uint8_t c)
{
#ifdef __SSE2__
	if (n <= 16 && (size_t)(end - p) >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)c)));

		m &= (1u << n) - 1;
		return m != 0 ? p + __builtin_ctz(m) : NULL;
	}
#endif
	return kc_find_byte(p, n, c);
}

/* The same for either of two bytes. */
static inline const uint8_t *find2_short(const uint8_t *p, size_t n, const uint8_t *end,
					 uint8_t c1, uint8_t c2)
{
#ifdef __SSE2__
	if (n <= 16 && (size_t)(end - p) >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)c1)),
				     _mm_cmpeq_epi8(v, _mm_set1_epi8((char)c2))));

		m &= (1u << n) - 1;
		return m != 0 ? p + __builtin_ctz(m) : NULL;
	}
#endif
	return kc_find_byte2(p, n, c1, c2);
}

/* Put @p n bytes percent-decoded (and '+' as space when @p plus, as Go's
 * url.QueryUnescape) into the arena; an invalid escape is kept as sent. */
static void put_decoded(struct kc_item *it, const uint8_t *s, size_t n, const uint8_t *end,
			int plus, struct kc_str *out)
{
	char *a;
	const char *esc;
	size_t w, r;

	/* Most paths and queries hold no escape: then a plain copy. */
	if ((plus ? find2_short(s, n, end, '%', '+') : find_short(s, n, end, '%')) == NULL) {
		(void)kc_item_put(it, s, n, out);
		return;
	}
	if (kc_item_put(it, s, n, out) != 0 || out->len == 0)
		return;
	a = it->arena + out->off;
	/* Rewrite in place only from the first escape. */
	esc = memchr(a, '%', n);
	r = esc != NULL ? (size_t)(esc - a) : n;
	if (plus) {
		const char *pl = memchr(a, '+', r);

		if (pl != NULL)
			r = (size_t)(pl - a);
	}
	if (r == n)
		return;
	for (w = r; r < n; r++) {
		char ch = a[r];

		if (ch == '%' && r + 2 < n && hexv((uint8_t)a[r + 1]) >= 0 &&
		    hexv((uint8_t)a[r + 2]) >= 0) {
			ch = (char)(hexv((uint8_t)a[r + 1]) << 4 | hexv((uint8_t)a[r + 2]));
			r += 2;
		} else if (plus && ch == '+') {
			ch = ' ';
		}
		a[w++] = ch;
	}
	/* The view is the last string in the arena: shrinking it frees the
	 * bytes the escapes took. */
	it->arena_used = (uint16_t)(out->off + w);
	out->len = (uint16_t)w;
	if (w == 0)
		out->off = 0;
}

static struct kc_item *item_new(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	struct kc_item *it = pool_get(&c->items);

	if (it == NULL) {
		c->st.http.item_pool_empty++;
		return NULL;
	}
	kc_item_reset(it, KC_ITEM_HTTP);
	kc_item_set_flow(it, &f->fi);
	return it;
}

static void dir_reset_msg(struct h1_dir *d)
{
	_Static_assert(offsetof(struct h1_dir, enc) == 0 &&
		       offsetof(struct h1_dir, it) + sizeof(d->it) <=
			       offsetof(struct h1_dir, state),
		       "h1_dir: the per-message fields lead");
	_Static_assert(ENC_NONE == 0 && RS_NONE == 0, "zero is none");
	/* enc .. it as one block (a few wide stores), then the two -1s. */
	memset(d, 0, offsetof(struct h1_dir, it) + sizeof(d->it));
	d->last_hdr = -1;
	d->cur_q = -1;
}

static void z_release(struct kc_dissect_core *c, struct h1_dir *d)
{
	if (d->z != NULL) {
		inflater_put(&c->infl, d->z);
		d->z = NULL;
	}
}

bool h1_flow_init(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	struct h1_flow *h = pool_get(&c->h1);

	if (h == NULL)
		return false;
	/* Not the queue: no entry is read before it is filled (all reads
	 * stay below qlen). */
	memset(h, 0, offsetof(struct h1_flow, q));
	for (int i = 0; i < 2; i++) {
		dir_reset_msg(&h->d[i]);
		h->d[i].line_start = 1;
	}
	f->ps = h;
	return true;
}

/* ---- start lines -------------------------------------------------------- */

struct reqline {
	const uint8_t *method, *target, *version;
	size_t method_len, target_len, version_len;
};

static int tchar(uint8_t ch)
{
	if ((unsigned)(ch - 'a') < 26u || (unsigned)(ch - 'A') < 26u || (unsigned)(ch - '0') < 10u)
		return 1;
	switch (ch) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	default:
		return 0;
	}
}

/* "HTTP/1.x" exactly (RFC 9112 2.3); HTTP/2.0 is not this dissector's. */
static int is_h1_version(const uint8_t *v, size_t n)
{
	return n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && v[7] >= '0' && v[7] <= '9';
}

static const char h09_version[] = "HTTP/0.9";

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3).
 * Runs of spaces are tolerated, as most servers do.
 * @return 0 for HTTP/1.x; 1 for an HTTP/0.9 Simple-Request ("GET" SP
 * Request-URI, no version; r->version set to "HTTP/0.9"); -1 otherwise. */
static int parse_request_line(const uint8_t *l, size_t n, const uint8_t *end, struct reqline *r)
{
	size_t i = 0, j;

	if (n > 4 && memcmp(l, "GET ", 4) == 0)
		i = 3;
	else
		while (i < n && tchar(l[i]))
			i++;
	if (i == 0 || i > 32 || i >= n || l[i] != ' ')
		return -1;
	r->method = l;
	r->method_len = i;
	i++;
	if (kc_unlikely(i < n && l[i] == ' '))
		while (i < n && l[i] == ' ')
			i++;
	{
		const uint8_t *sp = find_short(l + i, n - i, end, ' ');

		j = sp != NULL ? (size_t)(sp - l) : n;
	}
	if (j == i)
		return -1;
	r->target = l + i;
	r->target_len = j - i;
	if (j < n) {
		/* l[j] is the space found. */
		j++;
		if (kc_unlikely(j < n && l[j] == ' '))
			while (j < n && l[j] == ' ')
				j++;
	}
	r->version = l + j;
	r->version_len = n - j;
	if (r->version_len > 0 && kc_unlikely(r->version[r->version_len - 1] <= ' '))
		while (r->version_len > 0 && is_ows(r->version[r->version_len - 1]))
			r->version_len--;
	if (is_h1_version(r->version, r->version_len))
		return 0;
	if (r->version_len == 0 && r->method_len == 3 && memcmp(l, "GET", 3) == 0) {
		/* RFC 1945 4.1: only GET exists in HTTP/0.9; the target
		 * must look like one (a path or an absolute URI). */
		for (size_t k = 0; k < r->target_len; k++)
			if (r->target[k] <= 0x20 || r->target[k] >= 0x7f)
				return -1;
		r->version = (const uint8_t *)h09_version;
		r->version_len = sizeof(h09_version) - 1;
		return 1;
	}
	return -1;
}

/* status-line = HTTP-version SP status-code SP [reason-phrase] (RFC 9112 4). */
static int parse_status_line(const uint8_t *l, size_t n, int *code, const uint8_t **reason,
			     size_t *reason_len)
{
	if (n < 12 || !is_h1_version(l, 8) || l[8] != ' ')
		return -1;
	for (int k = 9; k < 12; k++)
		if (l[k] < '0' || l[k] > '9')
			return -1;
	if (n > 12 && l[12] != ' ')
		return -1;
	*code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	*reason = n > 13 ? l + 13 : l + n;
	*reason_len = n > 13 ? n - 13 : 0;
	/* trim(), which mostly has nothing to do: OWS and CR are at or below
	 * ' '. */
	if (*reason_len > 0 && ((*reason)[0] <= ' ' || (*reason)[*reason_len - 1] <= ' '))
		trim(reason, reason_len);
	return 0;
}

int h1_probe(const uint8_t *d, size_t n, enum kc_dir dir)
{
	if (dir == KC_DIR_S2C) {
		static const char pfx[] = "HTTP/1.";
		size_t k = KC_MIN(n, sizeof(pfx) - 1);

		if (memcmp(d, pfx, k) != 0)
			return 0;
		return k < sizeof(pfx) - 1 ? -1 : 1;
	}
	/* A method is an upper-case token (GET, POST, PROPFIND, M-SEARCH...)
	 * followed by one space and a request-target. */
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = d[i];

		if (ch == ' ') {
			if (i < 3)
				return 0;
			if (i + 1 >= n)
				return -1;
			return d[i + 1] != ' ' && d[i + 1] > 0x20 && d[i + 1] < 0x7f ? 1 : 0;
		}
		if (!((ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_') || i >= 20)
			return 0;
	}
	return -1;
}

/* Fill the request side of @p it from the request line. */
static void fill_request(struct kc_dissect_core *c, struct kc_item *it, const struct reqline *r,
			 const uint8_t *end)
{
	struct kc_item_http *h = &it->u.http;
	const uint8_t *t = r->target;
	size_t tn = r->target_len;
	const uint8_t *path = t, *q = NULL;
	const uint8_t *path_end = end; /* readable end past path */
	int in_target = 1;              /* path lies within the target */
	size_t path_len = tn, q_len = 0;

	if (r->method_len + tn + r->version_len <= (size_t)KC_ITEM_ARENA_SIZE - it->arena_used) {
		/* One reservation for the three (none is empty): what the
		 * three puts below store when all fit. */
		size_t o = it->arena_used;

		kc_item_copy(it->arena + o, r->method, r->method_len);
		h->method = (struct kc_str){ (uint16_t)o, (uint16_t)r->method_len };
		o += r->method_len;
		kc_item_copy(it->arena + o, t, tn);
		h->url = (struct kc_str){ (uint16_t)o, (uint16_t)tn };
		o += tn;
		kc_item_copy(it->arena + o, r->version, r->version_len);
		h->version = (struct kc_str){ (uint16_t)o, (uint16_t)r->version_len };
		it->arena_used = (uint16_t)(o + r->version_len);
	} else {
		(void)kc_item_put(it, r->method, r->method_len, &h->method);
		(void)kc_item_put(it, t, tn, &h->url);
		(void)kc_item_put(it, r->version, r->version_len, &h->version);
	}
	/* absolute-form (RFC 9112 3.2.2): drop scheme and authority. */
	if (tn > 7 && (t[0] | 0x20) == 'h' && (ieq_n(t, "http://", 7) ||
		       (tn > 8 && ieq_n(t, "https://", 8)))) {
		const uint8_t *s = memchr(t, ':', tn) + 3;
		const uint8_t *slash = memchr(s, '/', (size_t)(t + tn - s));

		path = slash != NULL ? slash : (const uint8_t *)"/";
		path_len = slash != NULL ? (size_t)(t + tn - slash) : 1;
		if (slash == NULL) {
			path_end = path + 1;
			in_target = 0;
		}
	}
	{
		const uint8_t *qm;
		int pct;

#ifdef __SSE2__
		if (path_len <= 16 && (size_t)(path_end - path) >= 16) {
			/* One load answers for '?', '#' and '%' in a short
			 * target (most of them). */
			__m128i v = _mm_loadu_si128((const __m128i *)path);
			unsigned lim = (1u << path_len) - 1;
			unsigned mq = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('?')),
					     _mm_cmpeq_epi8(v, _mm_set1_epi8('#')))) & lim;
			unsigned mp = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(v, _mm_set1_epi8('%'))) & lim;

			qm = mq != 0 ? path + __builtin_ctz(mq) : NULL;
			pct = (mp & (mq != 0 ? (mq & -mq) - 1 : lim)) != 0;
		} else
#endif
		{
			qm = find2_short(path, path_len, path_end, '?', '#');
			pct = find_short(path, qm != NULL ? (size_t)(qm - path) : path_len,
					 path_end, '%') != NULL;
		}
		if (qm != NULL) {
			size_t i = (size_t)(qm - path);

			if (*qm == '?') {
				q = path + i + 1;
				q_len = path_len - i - 1;
				for (size_t k = 0; k < q_len; k++)
					if (q[k] == '#')
						q_len = k;
			}
			path_len = i;
		}
		/* request.path is Go's url.URL.Path: percent-decoded, '+'
		 * kept. Without an escape it is a part of the target, whose
		 * copy in the arena (the url) it shares: the bytes are still
		 * taken from the arena, uncopied, so that its filling, and what
		 * a full arena drops, stay exactly as with a copy. */
		if (pct) {
			put_decoded(it, path, path_len, path_end, 0, &h->path);
		} else if (in_target && h->url.len == tn &&
			   path_len - 1 < (size_t)KC_ITEM_ARENA_SIZE - it->arena_used) {
			h->path = (struct kc_str){ (uint16_t)(h->url.off + (path - t)),
						   (uint16_t)path_len };
			it->arena_used = (uint16_t)(it->arena_used + path_len);
		} else {
			(void)put(it, path, path_len, &h->path);
		}
	}
	/* queryString: url.ParseQuery order and decoding; repeats kept. */
	while (q != NULL && q_len > 0) {
		size_t e = 0, eq;

		while (e < q_len && q[e] != '&')
			e++;
		for (eq = 0; eq < e && q[eq] != '='; eq++)
			;
		if (e > 0) {
			if (h->n_query < KC_ITEM_MAX_PARAMS) {
				struct kc_kv *kv = &h->query[h->n_query++];

				put_decoded(it, q, eq, end, 1, &kv->name);
				if (eq < e)
					put_decoded(it, q + eq + 1, e - eq - 1, end, 1, &kv->value);
				else
					kv->value = (struct kc_str){ 0, 0 };
			} else {
				c->st.http.params_dropped++;
				it->flags |= KC_ITEM_F_TRUNCATED;
			}
		}
		if (e >= q_len)
			break;
		q += e + 1;
		q_len -= e + 1;
	}
}

/* ---- queue -------------------------------------------------------------- */

static struct h1_qent *q_head(struct h1_flow *h)
{
	return h->qlen ? &h->q[h->qhead] : NULL;
}

static void q_pop(struct h1_flow *h)
{
	h->q[h->qhead].it = NULL;
	h->qhead = (uint8_t)((h->qhead + 1) % KC_DISSECT_HTTP_PIPELINE_MAX);
	h->qlen--;
}

/* ---- message completion ------------------------------------------------- */

static void req_done(struct kc_dissect_core *c, struct h1_dir *d)
{
	if (d->it != NULL) {
		d->it->u.http.req_body_size = (int64_t)d->body_wire;
		d->it->req_size = d->msg_bytes;
	}
	z_release(c, d);
	dir_reset_msg(d);
	d->state = H1_START;
	if (d->msgs < UINT8_MAX)
		d->msgs++;
}

static void resp_done(struct kc_dissect_core *c, struct kc_dissect_flow *f, uint16_t flags)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[KC_DIR_S2C];
	struct h1_dir *rq = &h->d[KC_DIR_C2S];
	struct kc_item *it = d->it;

	if (it != NULL) {
		it->u.http.resp_body_size = (int64_t)d->body_wire;
		it->resp_size = d->msg_bytes;
		it->flags |= flags;
		if (rq->it == it) {
			/* The server answered before the request ended (413,
			 * early 100-continue refusal): emit what we have and
			 * let the request parser discard the rest. */
			it->u.http.req_body_size = (int64_t)rq->body_wire;
			it->req_size = rq->msg_bytes;
		}
		dissect_emit(f, it);
	}
	if (d->rsrc == RS_QUEUE) {
		q_pop(h);
		if (rq->it == it && it != NULL) {
			rq->it = NULL;
			z_release(c, rq);
		}
	}
	if (it != NULL)
		pool_put(&c->items, it);
	z_release(c, d);
	dir_reset_msg(d);
	d->state = H1_START;
	if (d->msgs < UINT8_MAX)
		d->msgs++;
}

void resp_done_101(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	resp_done(c, f, 0);
}

/* Give up on the message in progress after a gap or a framing error: a
 * request stays queued (so pairing holds), a response is emitted as is. */
static void abort_msg(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
		      uint16_t flags)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[dir];

	if (d->state == H1_START || d->state == H1_RESYNC || d->state == H1_DEAD ||
	    d->state == H1_BLOCKED)
		return;
	if (dir == KC_DIR_C2S) {
		if (d->it != NULL)
			d->it->flags |= flags;
		req_done(c, d);
	} else if (d->mflags & M_INTERIM) {
		dir_reset_msg(d);
	} else {
		resp_done(c, f, flags);
	}
}

static void to_resync(struct h1_dir *d, int line_start)
{
	d->state = H1_RESYNC;
	d->line_start = (uint8_t)line_start;
	d->scanned = 0;
}

/* ---- bodies ------------------------------------------------------------- */

/* The last byte of a chunk's data or of a Content-Length body went by (or
 * was lost in a gap): a chunk waits for its CRLF, a message is done. */
static void body_part_done(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
			   struct h1_dir *d)
{
	if (d->state == H1_CHUNK_DATA)
		d->state = H1_CHUNK_CRLF;
	else if (dir == KC_DIR_C2S)
		req_done(c, d);
	else
		resp_done(c, f, 0);
}

/* body_data() for everything but the plain first piece of a body. */
static __attribute__((noinline)) void body_data_slow(struct kc_dissect_core *c, enum kc_dir dir,
						     struct h1_dir *d, const uint8_t *p, size_t n)
{
	struct kc_item *it = d->it;
	struct kc_str *b;
	uint16_t tflag;
	size_t room;

	b = dir == KC_DIR_C2S ? &it->u.http.req_body : &it->u.http.resp_body;
	tflag = dir == KC_DIR_C2S ? KC_ITEM_F_REQ_BODY_TRUNC : KC_ITEM_F_RESP_BODY_TRUNC;
	room = KC_ITEM_BODY_PREFIX > b->len ? KC_ITEM_BODY_PREFIX - b->len : 0;
	if (d->z != NULL) {
		uint8_t out[KC_ITEM_BODY_PREFIX];
		z_stream *zs = &d->z->zs;
		int ret;
		size_t produced;

		zs->next_in = (Bytef *)(uintptr_t)p;
		zs->avail_in = (uInt)n;
		zs->next_out = out;
		zs->avail_out = (uInt)room;
		/* Output is capped at what the prefix still takes, so a
		 * decompression bomb costs at most its input. */
		ret = room > 0 ? inflate(zs, Z_NO_FLUSH) : Z_OK;
		if (ret == Z_DATA_ERROR && d->enc == ENC_DEFLATE && !(d->mflags & M_RAW_TRIED) &&
		    zs->total_out == 0 && (size_t)zs->total_in <= n &&
		    inflateReset2(zs, -15) == Z_OK) {
			d->mflags |= M_RAW_TRIED;
			/* "deflate" should be zlib-wrapped (RFC 9110 8.4.1.2)
			 * but some servers send raw DEFLATE: retry this first
			 * input as raw. */
			zs->next_in = (Bytef *)(uintptr_t)p;
			zs->avail_in = (uInt)n;
			zs->next_out = out;
			zs->avail_out = (uInt)room;
			ret = inflate(zs, Z_NO_FLUSH);
		}
		produced = room - zs->avail_out;
		if (produced > 0 && kc_item_append(it, b, out, produced) != 0)
			d->mflags |= M_BODY_STOP;
		if (ret == Z_STREAM_END) {
			d->mflags |= M_BODY_STOP;
			z_release(c, d);
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			c->st.http.inflate_errors++;
			d->mflags |= M_BODY_STOP;
			z_release(c, d);
		} else if (zs->avail_out == 0) {
			it->flags |= tflag;
			c->st.http.body_prefix_trunc++;
			d->mflags |= M_BODY_STOP;
			z_release(c, d);
		}
		return;
	}
	if (n > room) {
		if (room > 0)
			(void)kc_item_append(it, b, p, room);
		it->flags |= tflag;
		c->st.http.body_prefix_trunc++;
		d->mflags |= M_BODY_STOP;
		return;
	}
	if (kc_item_append(it, b, p, n) != 0)
		d->mflags |= M_BODY_STOP;
}

static inline void body_data(struct kc_dissect_core *c, enum kc_dir dir, struct h1_dir *d,
			     const uint8_t *p, size_t n)
{
	struct kc_item *it = d->it;
	struct kc_str *b;

	d->body_wire += n;
	if (it == NULL || (d->mflags & M_BODY_STOP) || n == 0)
		return;
	b = dir == KC_DIR_C2S ? &it->u.http.req_body : &it->u.http.resp_body;
	/* Most bodies come whole and short, undecoded: a plain put (what
	 * kc_item_append does for an empty view). */
	if (d->z == NULL && b->len == 0 && n <= KC_ITEM_BODY_PREFIX) {
		if (put(it, p, n, b) != 0)
			d->mflags |= M_BODY_STOP;
		return;
	}
	body_data_slow(c, dir, d, p, n);
}

static void body_begin(struct kc_dissect_core *c, struct h1_dir *d)
{
	d->body_wire = 0;
	if (d->it == NULL || d->enc == ENC_NONE)
		return;
	d->z = inflater_get(&c->infl);
	if (d->z == NULL)
		c->st.http.inflate_no_ctx++; /* prefix kept as encoded bytes */
}

/* ---- headers ------------------------------------------------------------ */

static void add_cookie(struct kc_dissect_core *c, struct kc_item *it, const uint8_t *s, size_t n,
		       int resp)
{
	struct kc_item_http *h = &it->u.http;
	uint8_t *cnt = resp ? &h->n_resp_cookies : &h->n_req_cookies;
	struct kc_kv *arr = resp ? h->resp_cookies : h->req_cookies;
	const uint8_t *eq;
	const uint8_t *v;
	size_t nl, vl;

	trim(&s, &n);
	eq = memchr(s, '=', n);
	if (n == 0 || eq == NULL || eq == s)
		return;
	if (*cnt >= KC_ITEM_MAX_PARAMS) {
		c->st.http.params_dropped++;
		it->flags |= KC_ITEM_F_TRUNCATED;
		return;
	}
	nl = (size_t)(eq - s);
	v = eq + 1;
	vl = n - nl - 1;
	while (nl > 0 && is_ows(s[nl - 1]))
		nl--;
	trim(&v, &vl);
	/* Go's net/http strips one pair of surrounding double quotes. */
	if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
		v++;
		vl -= 2;
	}
	(void)kc_item_put(it, s, nl, &arr[*cnt].name);
	(void)kc_item_put(it, v, vl, &arr[*cnt].value);
	(*cnt)++;
}

/* Header names the dissector acts on; HK_CANON or'ed in when the name was
 * sent in its canonical spelling. */
enum {
	HK_OTHER = 0, HK_HOST, HK_COOKIE, HK_UPGRADE, HK_SET_COOKIE, HK_CONTENT_TYPE,
	HK_CONTENT_LENGTH, HK_CONTENT_ENCODING, HK_TRANSFER_ENCODING,
	HK_KIND = 0x0f, HK_CANON = 0x10,
};
#define HKC(kind) ((kind) | HK_CANON)
/* Kinds header_framing() reads. */
#define HK_FRAMING \
	((1u << HK_UPGRADE) | (1u << HK_CONTENT_LENGTH) | (1u << HK_CONTENT_ENCODING) | \
	 (1u << HK_TRANSFER_ENCODING))

/* Classify by length first: most header lines then need no comparison.
 * Senders nearly always use the canonical spelling ("Content-Length"): an
 * exact comparison (a few word compares) is tried before the
 * case-insensitive one, and HK_CANON tells the caller the name needs no
 * canonicalisation. Common names the dissector does not act on are listed
 * too, for HK_CANON alone: each spelling here must be its own canonical form
 * (Go's CanonicalMIMEHeaderKey: "Etag", not "ETag"), which
 * test_http1.c:test_known_header_names checks. */
static inline __attribute__((always_inline)) int hdr_kind(const uint8_t *n, size_t l)
{
	switch (l) {
	case 3:
		if (memcmp(n, "Age", 3) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Via", 3) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 4:
		if (memcmp(n, "Host", 4) == 0)
			return HKC(HK_HOST);
		if (memcmp(n, "Date", 4) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Vary", 4) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Link", 4) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Etag", 4) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "host", 4) ? HK_HOST : HK_OTHER;
	case 5:
		if (memcmp(n, "Range", 5) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Allow", 5) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 6:
		if (memcmp(n, "Cookie", 6) == 0)
			return HKC(HK_COOKIE);
		if (memcmp(n, "Accept", 6) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Server", 6) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Origin", 6) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Pragma", 6) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Expect", 6) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "cookie", 6) ? HK_COOKIE : HK_OTHER;
	case 7:
		if (memcmp(n, "Upgrade", 7) == 0)
			return HKC(HK_UPGRADE);
		if (memcmp(n, "Referer", 7) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Expires", 7) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "upgrade", 7) ? HK_UPGRADE : HK_OTHER;
	case 8:
		if (memcmp(n, "Location", 8) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 9:
		if (memcmp(n, "X-Real-Ip", 9) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 10:
		if (memcmp(n, "Set-Cookie", 10) == 0)
			return HKC(HK_SET_COOKIE);
		if (memcmp(n, "User-Agent", 10) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Connection", 10) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Keep-Alive", 10) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "set-cookie", 10) ? HK_SET_COOKIE : HK_OTHER;
	case 12:
		if (memcmp(n, "Content-Type", 12) == 0)
			return HKC(HK_CONTENT_TYPE);
		if (memcmp(n, "X-Powered-By", 12) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "X-Request-Id", 12) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "content-type", 12) ? HK_CONTENT_TYPE : HK_OTHER;
	case 13:
		if (memcmp(n, "Cache-Control", 13) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Authorization", 13) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Last-Modified", 13) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Accept-Ranges", 13) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "If-None-Match", 13) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Content-Range", 13) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 14:
		if (memcmp(n, "Content-Length", 14) == 0)
			return HKC(HK_CONTENT_LENGTH);
		return ieq_n(n, "content-length", 14) ? HK_CONTENT_LENGTH : HK_OTHER;
	case 15:
		if (memcmp(n, "Accept-Encoding", 15) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Accept-Language", 15) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "X-Forwarded-For", 15) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "X-Frame-Options", 15) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 16:
		if (memcmp(n, "Content-Encoding", 16) == 0)
			return HKC(HK_CONTENT_ENCODING);
		if (memcmp(n, "Content-Language", 16) == 0)
			return HKC(HK_OTHER);
		if (memcmp(n, "Content-Location", 16) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "content-encoding", 16) ? HK_CONTENT_ENCODING : HK_OTHER;
	case 17:
		if (memcmp(n, "Transfer-Encoding", 17) == 0)
			return HKC(HK_TRANSFER_ENCODING);
		if (memcmp(n, "If-Modified-Since", 17) == 0)
			return HKC(HK_OTHER);
		return ieq_n(n, "transfer-encoding", 17) ? HK_TRANSFER_ENCODING : HK_OTHER;
	case 19:
		if (memcmp(n, "Content-Disposition", 19) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 22:
		if (memcmp(n, "X-Content-Type-Options", 22) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 25:
		if (memcmp(n, "Strict-Transport-Security", 25) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	case 27:
		if (memcmp(n, "Access-Control-Allow-Origin", 27) == 0)
			return HKC(HK_OTHER);
		return HK_OTHER;
	default:
		return HK_OTHER;
	}
}

/* obs-fold (RFC 9112 5.2): a line starting with OWS continues the previous
 * value, joined with one space. Rare: kept out of header_line. */
static __attribute__((noinline)) void header_fold(struct kc_item *it, struct h1_dir *d, int resp,
						  const uint8_t *l, size_t n)
{
	const uint8_t *val = l;
	size_t vl = n;

	trim(&val, &vl);
	if (it != NULL && d->last_hdr >= 0 && vl > 0) {
		struct kc_kv *kv = resp ? &it->u.http.resp_headers[d->last_hdr]
					: &it->u.http.req_headers[d->last_hdr];

		if (kc_item_append(it, &kv->value, " ", 1) == 0)
			(void)kc_item_append(it, &kv->value, val, vl);
	}
}

/* Framing headers: interpreted even when the item is not stored, so the
 * stream stays in sync. @return -1 on an unrecoverable Content-Length. */
static inline __attribute__((always_inline)) int header_framing_in(struct h1_dir *d, int resp,
								    int kind, const uint8_t *val,
								    size_t vl)
{
	if (kind == HK_CONTENT_LENGTH) {
		uint64_t v = 0;

		if (vl == 0 || vl > 19)
			return -1;
		for (size_t i = 0; i < vl; i++) {
			unsigned dg = (unsigned)val[i] - '0';

			if (dg > 9)
				return -1;
			v = v * 10 + dg;
		}
		/* Differing repeated lengths are a smuggling attempt
		 * (RFC 9112 6.3 item 5): unrecoverable framing. */
		if ((d->mflags & M_CL) && d->remaining != v)
			return -1;
		d->mflags |= M_CL;
		d->remaining = v;
	} else if (kind == HK_TRANSFER_ENCODING) {
		if (last_token_is(val, vl, "chunked"))
			d->mflags |= M_CHUNKED;
	} else if (kind == HK_CONTENT_ENCODING) {
		if (ieq(val, vl, "gzip") || ieq(val, vl, "x-gzip"))
			d->enc = ENC_GZIP;
		else if (ieq(val, vl, "deflate"))
			d->enc = ENC_DEFLATE;
	} else if (!resp && kind == HK_UPGRADE) {
		if (has_token(val, vl, "h2c"))
			d->qflags |= QF_UP_H2C;
	}
	return 0;
}

/* header_framing_in() out of line, for requests: inlined there it costs the
 * header loop more registers than it saves (measured); responses, where
 * Content-Length is nearly always present, keep it inline. */
static __attribute__((noinline)) int header_framing(struct h1_dir *d, int resp, int kind,
						   const uint8_t *val, size_t vl)
{
	return header_framing_in(d, resp, kind, val, vl);
}

/* One header field line (no CRLF; @p n >= 1) of a head that is not 1xx; @p it
 * is d->it; @p ci is line_find()'s answer for its first ':'. */
static inline __attribute__((always_inline)) int
header_line(struct kc_dissect_core *c, enum kc_dir dir, struct h1_dir *d, struct kc_item *it,
	    const uint8_t *l, size_t n, size_t ci)
{
	const uint8_t *colon, *val, *end;
	size_t nl, vl;
	int resp = dir == KC_DIR_S2C;
	int kind;

	/* OWS is below '!': one compare passes most first bytes. */
	if (kc_unlikely(l[0] <= ' ') && is_ows(l[0])) {
		header_fold(it, d, resp, l, n);
		return 0;
	}
	if (kc_unlikely(ci == CI_UNKNOWN)) {
		colon = kc_find_byte(l, n, ':');
		ci = colon != NULL ? (size_t)(colon - l) : CI_NONE;
	}
	/* A colon, not the first byte (ci 0 and CI_NONE wrap past n - 1). */
	if (kc_unlikely(ci - 1 >= n - 1)) {
		c->st.http.bad_header_line++;
		return 0;
	}
	colon = l + ci;
	nl = ci;
	/* OWS, CR: all at or below ' ', and names and values seldom end in
	 * anything that is: one compare settles most ends. */
	if (kc_unlikely(l[nl - 1] <= ' '))
		while (nl > 0 && is_ows(l[nl - 1]))
			nl--;
	/* The value trimmed as trim() does: leading OWS, trailing OWS and CR. */
	val = colon + 1;
	end = l + n;
	/* Mostly one space, then the value. */
	if (val < end && *val == ' ')
		val++;
	if (val < end && kc_unlikely(*val <= ' '))
		while (val < end && is_ows(*val))
			val++;
	if (end > val && kc_unlikely(end[-1] <= ' '))
		while (end > val && (is_ows(end[-1]) || end[-1] == '\r'))
			end--;
	vl = (size_t)(end - val);

	kind = hdr_kind(l, nl);
	if (((1u << (kind & HK_KIND)) & HK_FRAMING) &&
	    (resp ? header_framing_in(d, resp, kind & HK_KIND, val, vl)
		  : header_framing(d, resp, kind & HK_KIND, val, vl)) != 0)
		return -1;
	if (it == NULL)
		return 0;
	{
		struct kc_item_http *h = &it->u.http;
		uint8_t *cnt = resp ? &h->n_resp_headers : &h->n_req_headers;
		struct kc_kv *kv = resp ? &h->resp_headers[*cnt] : &h->req_headers[*cnt];
		size_t used = it->arena_used;

		if (*cnt >= KC_ITEM_MAX_HEADERS) {
			c->st.http.headers_dropped++;
			it->flags |= KC_ITEM_F_TRUNCATED;
			d->last_hdr = -1;
			return 0;
		}
		if ((kind & HK_CANON) && nl + vl <= (size_t)KC_ITEM_ARENA_SIZE - used) {
			/* Name and value in one reservation: what the two puts
			 * below store when both fit. */
			char *dst = it->arena + used;

			kc_item_copy(dst, l, nl);
			kv->name = (struct kc_str){ (uint16_t)used, (uint16_t)nl };
			if (vl > 0) {
				kc_item_copy(dst + nl, val, vl);
				kv->value = (struct kc_str){ (uint16_t)(used + nl), (uint16_t)vl };
			} else {
				kv->value = (struct kc_str){ 0, 0 };
			}
			it->arena_used = (uint16_t)(used + nl + vl);
		} else {
			int rc = (kind & HK_CANON) ? kc_item_put(it, l, nl, &kv->name)
						   : kc_item_put_header_name(it, l, nl, &kv->name);

			if (rc != 0)
				return 0;
			(void)kc_item_put(it, val, vl, &kv->value);
		}
		d->last_hdr = (int8_t)*cnt;
		(*cnt)++;
		kind &= HK_KIND;
		if (kc_likely(kind == HK_OTHER))
			return 0;
		if (kind == HK_CONTENT_TYPE) {
			if (resp)
				h->resp_mime = kv->value;
			else
				h->req_mime = kv->value;
		} else if (!resp && kind == HK_HOST) {
			h->host = kv->value;
		} else if (!resp && kind == HK_COOKIE) {
			size_t i = 0;

			while (i < vl) {
				size_t j = i;

				while (j < vl && val[j] != ';')
					j++;
				add_cookie(c, it, val + i, j - i, 0);
				i = j + 1;
			}
		} else if (resp && kind == HK_SET_COOKIE) {
			const uint8_t *semi = memchr(val, ';', vl);

			add_cookie(c, it, val, semi ? (size_t)(semi - val) : vl, 1);
		}
	}
	return 0;
}

/* Blank line: the head is complete; decide how the body is framed
 * (RFC 9112 6.3). */
static inline void headers_done(struct kc_dissect_core *c, struct kc_dissect_flow *f,
				enum kc_dir dir)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[dir];
	struct kc_item *it = d->it;

	if (dir == KC_DIR_C2S) {
		if (it != NULL)
			it->u.http.req_headers_size = (int32_t)d->hdr_bytes;
		/* Upgrade flags go to this request's queue entry, if queued.
		 * The slot cannot have been reused: only this direction
		 * enqueues, and it is still inside this request. */
		if (d->qflags != 0 && d->cur_q >= 0)
			h->q[d->cur_q].flags |= d->qflags;
		if (d->mflags & M_CHUNKED) {
			d->state = H1_CHUNK_SIZE;
			body_begin(c, d);
		} else if ((d->mflags & M_CL) && d->remaining > 0) {
			d->state = H1_BODY_CL;
			body_begin(c, d);
		} else {
			req_done(c, d);
		}
		return;
	}

	if (d->mflags & M_INTERIM) {
		/* 1xx other than 101: informational, the exchange goes on
		 * (RFC 9110 15.2); the final response follows. */
		dir_reset_msg(d);
		d->state = H1_START;
		return;
	}
	if (it != NULL)
		it->u.http.resp_headers_size = (int32_t)d->hdr_bytes;
	/* Most answers are a 2xx other than 204 to a plain request: one test
	 * passes them by the special cases. */
	if (kc_unlikely(d->qflags != 0 || d->status < 200 || d->status == 204 ||
			d->status == 304)) {
		int st = d->status;

		if (st == 101) {
			const struct kc_kv *up = it != NULL
				? kc_item_header_find(it, it->u.http.resp_headers,
						      it->u.http.n_resp_headers, "Upgrade")
				: NULL;
			int h2c = (d->qflags & QF_UP_H2C) &&
				  (up == NULL ||
				   has_token((const uint8_t *)kc_item_str(it, up->value),
					     up->value.len, "h2c"));

			/* For h2c the dispatcher turns the request into HTTP/2
			 * stream 1 (or, failing that, calls resp_done_101). */
			if (h2c) {
				h->switch_to = SW_H2C;
				return;
			}
			resp_done(c, f, 0);
			h->switch_to = SW_STOP;
			c->st.http.upgrade_other++;
			return;
		}
		if ((d->qflags & QF_CONNECT) && st >= 200 && st < 300) {
			resp_done(c, f, 0);
			c->st.http.connect_tunnel++;
			h->switch_to = SW_STOP;
			return;
		}
		if ((d->qflags & QF_HEAD) || st == 204 || st == 304 || (st >= 100 && st < 200)) {
			resp_done(c, f, 0);
			return;
		}
	}
	if (d->mflags & M_CHUNKED) {
		d->state = H1_CHUNK_SIZE;
		body_begin(c, d);
	} else if (d->mflags & M_CL) {
		if (d->remaining == 0) {
			resp_done(c, f, 0);
			return;
		}
		d->state = H1_BODY_CL;
		body_begin(c, d);
	} else {
		d->state = H1_BODY_EOF;
		body_begin(c, d);
	}
}

/* ---- start of a message ------------------------------------------------- */

static int start_request(struct kc_dissect_core *c, struct kc_dissect_flow *f,
			 const uint8_t *l, size_t n, const uint8_t *end, uint64_t ts_us)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[KC_DIR_C2S];
	struct reqline r;
	struct kc_item *it = NULL;
	int8_t cur_q = -1;
	int v09 = parse_request_line(l, n, end, &r);

	if (v09 < 0)
		return -1;
	c->st.http.requests++;
	/* No dir_reset_msg(): every way into H1_START leaves the direction
	 * reset (h1_flow_init, req_done, resp_done, a skipped 1xx head, and
	 * H1_RESYNC/H1_BLOCKED, entered only from those). */
	if (h->behind > 0 || h->qlen >= c->cfg.http_pipeline) {
		/* Queue full: the request is parsed but not kept; its
		 * response will be skipped to keep the pairing right. */
		h->behind++;
		c->st.http.pipeline_overflow++;
	} else {
		unsigned slot = (h->qhead + h->qlen) % KC_DISSECT_HTTP_PIPELINE_MAX;

		cur_q = (int8_t)slot;
		it = item_new(c, f);
		h->q[slot].it = it;
		h->q[slot].ts_us = ts_us;
		h->q[slot].flags = 0;
		if (r.method_len == 4 && memcmp(r.method, "HEAD", 4) == 0)
			h->q[slot].flags |= QF_HEAD;
		else if (r.method_len == 7 && memcmp(r.method, "CONNECT", 7) == 0)
			h->q[slot].flags |= QF_CONNECT;
		if (v09) {
			h->q[slot].flags |= QF_H09;
			h->had_h09 = 1;
		}
		h->qlen++;
	}
	if (it != NULL) {
		it->flags |= KC_ITEM_F_REQUEST;
		it->ts_us = ts_us;
		fill_request(c, it, &r, end);
	}
	d->it = it;
	d->cur_q = cur_q;
	d->state = H1_HEADERS;
	return v09;
}

/* The answer to an HTTP/0.9 request: no status line, no headers, the body
 * runs to the connection's end. */
static void start_raw_response(struct kc_dissect_core *c, struct kc_dissect_flow *f,
			       uint64_t ts_us)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[KC_DIR_S2C];
	struct h1_qent *e = q_head(h);
	struct kc_item *it = e->it;

	dir_reset_msg(d);
	c->st.http.responses++;
	d->qflags = e->flags;
	d->rsrc = RS_QUEUE;
	if (it != NULL) {
		it->flags |= KC_ITEM_F_RESPONSE;
		it->u.http.status = 0;
		it->u.http.resp_headers_size = 0;
		it->resp_ts_us = ts_us;
	}
	d->it = it;
	d->state = H1_BODY_EOF;
	body_begin(c, d);
}

static int start_response(struct kc_dissect_core *c, struct kc_dissect_flow *f,
			  const uint8_t *l, size_t n, uint64_t ts_us)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[KC_DIR_S2C];
	const uint8_t *reason;
	size_t reason_len;
	int code;
	struct kc_item *it = NULL;

	if (parse_status_line(l, n, &code, &reason, &reason_len) != 0)
		return -1;
	/* No dir_reset_msg(): H1_START is always reset (start_request). */
	d->state = H1_HEADERS;
	if (code >= 100 && code < 200 && code != 101) {
		c->st.http.interim++;
		d->mflags |= M_INTERIM;
		return 0;
	}
	c->st.http.responses++;
	/* Kept apart from the item so framing works without one. */
	d->status = (uint16_t)code;
	if (h->skip_resp > 0) {
		h->skip_resp--;
		c->st.http.late_responses++;
	} else if (h->qlen > 0) {
		struct h1_qent *e = q_head(h);

		it = e->it;
		d->qflags = e->flags;
		d->rsrc = RS_QUEUE;
	} else if (h->behind > 0) {
		h->behind--;
	} else {
		c->st.http.resp_only++;
		it = item_new(c, f);
		if (it != NULL) {
			d->rsrc = RS_ONLY;
			it->ts_us = ts_us;
			(void)kc_item_put(it, l, 8, &it->u.http.version);
		}
	}
	if (it != NULL) {
		it->flags |= KC_ITEM_F_RESPONSE;
		it->u.http.status = code;
		it->resp_ts_us = ts_us;
		(void)put(it, reason, reason_len, &it->u.http.status_text);
	}
	d->it = it;
	return 0;
}

/* ---- resynchronisation -------------------------------------------------- */

/* Is there a message start at @p p? 1 yes, 0 no, -1 need more bytes. */
static int boundary_at(const uint8_t *p, size_t n, enum kc_dir dir)
{
	const uint8_t *lf;
	size_t ll;
	int pr = h1_probe(p, n, dir);

	if (pr == 0)
		return 0;
	lf = memchr(p, '\n', n);
	if (lf == NULL)
		return -1;
	ll = (size_t)(lf - p);
	if (ll > 0 && p[ll - 1] == '\r')
		ll--;
	if (dir == KC_DIR_C2S) {
		struct reqline r;

		return parse_request_line(p, ll, p + n, &r) == 0;
	} else {
		const uint8_t *rs;
		size_t rl;
		int code;

		return parse_status_line(p, ll, &code, &rs, &rl) == 0;
	}
}

/* ---- the feed ----------------------------------------------------------- */

static struct kc_parse_res res(uint8_t status, size_t consumed)
{
	return kc_parse_res_make(status, consumed);
}

/*
 * The '\n' ending the line that starts at @p (NULL when [p, end) holds none).
 * One 16-byte load answers for most header lines, and the same load gives
 * the line's first ':' in *ci (its index, CI_NONE, or CI_UNKNOWN when the
 * line is longer than the load and the colon was not in it). Reads only
 * [p, end).
 */
static inline const uint8_t *line_find(const uint8_t *p, const uint8_t *end, size_t *ci)
{
	size_t n = (size_t)(end - p);

#ifdef __SSE2__
	if (kc_likely(n >= 16)) {
		const __m128i nl = _mm_set1_epi8('\n');
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		unsigned lf = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
		unsigned co = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
		size_t i;

		if (lf != 0) {
			co &= (lf & -lf) - 1;
			*ci = co != 0 ? (size_t)__builtin_ctz(co) : CI_NONE;
			return p + __builtin_ctz(lf);
		}
		*ci = co != 0 ? (size_t)__builtin_ctz(co) : CI_UNKNOWN;
		/* Lines of 17 to 32 bytes, the next most common, straight on. */
		if (n >= 32) {
			lf = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), nl));
			if (lf != 0)
				return p + 16 + __builtin_ctz(lf);
		}
		for (i = n >= 32 ? 32 : 16; i + 16 <= n; i += 16) {
			lf = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl));
			if (lf != 0)
				return p + i + __builtin_ctz(lf);
		}
		if (i < n) {
			/* The last 16 bytes, overlapping what was searched. */
			lf = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(end - 16)), nl));
			if (lf != 0)
				return end - 16 + __builtin_ctz(lf);
		}
		return NULL;
	}
#endif
	*ci = CI_UNKNOWN;
	/* The blank line at the end of a buffer, without a search. */
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return p + 1;
	return kc_find_byte(p, n, '\n');
}

/* h1_head() for a 1xx head (responses), whose lines are only counted up to
 * its blank line: out of the header loop. */
static __attribute__((noinline)) size_t h1_head_skip(struct kc_dissect_core *c,
						     struct kc_dissect_flow *f, struct h1_dir *d,
						     const uint8_t *data, size_t len, size_t off,
						     int *more)
{
	const uint8_t *end = data + len;
	const uint8_t *start = data + off, *p = start;

	for (;;) {
		const uint8_t *lf = kc_find_byte(p, (size_t)(end - p), '\n');
		size_t ll;

		if (lf == NULL) {
			*more = p < end;
			break;
		}
		ll = (size_t)(lf - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			d->msg_bytes += (uint64_t)(lf + 1 - start);
			d->hdr_bytes += (uint64_t)(lf + 1 - start);
			headers_done(c, f, KC_DIR_S2C);
			return (size_t)(lf + 1 - data);
		}
		p = lf + 1;
	}
	d->msg_bytes += (uint64_t)(p - start);
	d->hdr_bytes += (uint64_t)(p - start);
	return (size_t)(p - data);
}

/* The header lines of a head, from @p off while @p d is in H1_HEADERS, up to
 * and including the blank line that ends it, in a loop of their own (most
 * lines are header lines) that keeps the byte counts in registers.
 * @return the offset reached (len when the buffer ends with a line); *more
 * is set when it ends inside a line (the offset is then that line's start). */
static inline __attribute__((always_inline)) size_t h1_head(struct kc_dissect_core *c,
							     struct kc_dissect_flow *f,
							     enum kc_dir dir, struct h1_dir *d,
							     const uint8_t *data, size_t len,
							     size_t off, int *more)
{
	const uint8_t *end = data + len;
	const uint8_t *start = data + off, *p = start;
	struct kc_item *it = d->it;
	/* A 1xx head is skipped: nothing of it is kept (responses only). */
	const int skip = dir == KC_DIR_S2C && kc_unlikely((d->mflags & M_INTERIM) != 0);

	if (skip)
		return h1_head_skip(c, f, d, data, len, off, more);

	/* One pointer walks the lines: the offset and the byte count are
	 * worked out from it at the end (fewer live values in the loop). */
	for (;;) {
		size_t ci, ll;
		const uint8_t *lf = line_find(p, end, &ci);

		if (lf == NULL) {
			/* Not when the buffer ended with a line: then the
			 * feed returns as its loop ends. */
			*more = p < end;
			break;
		}
		ll = (size_t)(lf - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			d->msg_bytes += (uint64_t)(lf + 1 - start);
			d->hdr_bytes += (uint64_t)(lf + 1 - start);
			headers_done(c, f, dir);
			return (size_t)(lf + 1 - data);
		}
		if (header_line(c, dir, d, it, p, ll, ci) != 0) {
			d->msg_bytes += (uint64_t)(lf + 1 - start);
			d->hdr_bytes += (uint64_t)(lf + 1 - start);
			c->st.http.err_content_length++;
			abort_msg(c, f, dir, KC_ITEM_F_GAP);
			to_resync(d, 1);
			return (size_t)(lf + 1 - data);
		}
		p = lf + 1;
	}
	d->msg_bytes += (uint64_t)(p - start);
	d->hdr_bytes += (uint64_t)(p - start);
	return (size_t)(p - data);
}

/* States whose input is parsed line by line (the feed's second dispatch). */
#define LINE_STATES \
	((1u << H1_START) | (1u << H1_HEADERS) | (1u << H1_CHUNK_SIZE) | (1u << H1_CHUNK_CRLF) | \
	 (1u << H1_TRAILERS))

static int any_h2c_pending(const struct h1_flow *h)
{
	for (unsigned i = 0; i < h->qlen; i++)
		if (h->q[(h->qhead + i) % KC_DISSECT_HTTP_PIPELINE_MAX].flags & QF_UP_H2C)
			return 1;
	return 0;
}

/* The feed, for one direction: instantiated once per direction (h1_feed_c2s,
 * h1_feed_s2c) so that every test of @p dir, here and in what is inlined,
 * folds away. */
static inline __attribute__((always_inline)) struct kc_parse_res
h1_feed_dir(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
	    const uint8_t *data, size_t len, uint64_t ts_us)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[dir];
	size_t off = 0;

	if (h->switch_to != SW_NONE)
		goto out;
	while (off < len) {
		const uint8_t *p = data + off;
		size_t n = len - off;
		const uint8_t *lf;
		size_t ci, ll, adv;
		int rc;

		/* Header lines first, in a loop of their own: most lines are
		 * header lines. */
		if (kc_likely(d->state == H1_HEADERS)) {
			int more = 0;

			off = h1_head(c, f, dir, d, data, len, off, &more);
			if (more)
				return res(KC_PARSE_NEED_MORE, off);
			/* A 101 or a CONNECT tunnel: the dispatcher takes
			 * over from here. */
			if (h->switch_to != SW_NONE)
				break;
			/* A response whose Content-Length body is all in this
			 * buffer (most of them): the body and the end of the
			 * message at once, as H1_BODY_CL below does them. */
			if (dir == KC_DIR_S2C && d->state == H1_BODY_CL &&
			    d->remaining <= (uint64_t)(len - off)) {
				size_t take = (size_t)d->remaining;

				body_data(c, dir, d, data + off, take);
				off += take;
				d->msg_bytes += take;
				d->remaining = 0;
				resp_done(c, f, 0);
			}
			continue;
		}
		/* Line-oriented states skip the first dispatch with one
		 * predictable test (a jump table mispredicts as the state
		 * alternates between lines, bodies and directions). */
		if (!((1u << d->state) & LINE_STATES)) {
			switch (d->state) {
			case H1_DEAD:
				return res(KC_PARSE_OK, len);

			case H1_BLOCKED:
				/* The server may decline the upgrade (any non-101
				 * answer): then the held bytes are parsed as HTTP/1. */
				if (any_h2c_pending(h))
					return res(KC_PARSE_NEED_MORE, off);
				d->state = H1_START;
				continue;

			case H1_BODY_CL:
			case H1_CHUNK_DATA: {
				size_t take = (size_t)KC_MIN((uint64_t)n, d->remaining);

				body_data(c, dir, d, p, take);
				off += take;
				d->msg_bytes += take;
				d->remaining -= take;
				if (d->remaining == 0)
					body_part_done(c, f, dir, d);
				continue;
			}

			case H1_BODY_EOF:
				body_data(c, dir, d, p, n);
				d->msg_bytes += n;
				off = len;
				continue;

			case H1_RESYNC:
				if (!d->line_start) {
					lf = memchr(p, '\n', n);
					adv = lf ? (size_t)(lf - p) + 1 : n;
					off += adv;
					d->scanned += adv;
					d->line_start = lf != NULL;
				} else {
					int b = boundary_at(p, n, dir);

					if (b == 1) {
						c->st.http.resync_ok++;
						d->state = H1_START;
						continue;
					}
					if (b == -1 && n < c->cfg.pending_size)
						return res(KC_PARSE_NEED_MORE, off);
					d->line_start = 0;
					continue;
				}
				if (d->scanned > KC_DISSECT_HTTP_RESYNC_MAX) {
					c->st.http.resync_giveup++;
					d->state = H1_DEAD;
				}
				continue;

			default:
				break;
			}
		}

		if (dir == KC_DIR_S2C && kc_unlikely(h->had_h09) && d->state == H1_START &&
		    h->qlen > 0 && (q_head(h)->flags & QF_H09) && h->skip_resp == 0) {
			/* Unless the server sent a status line after all. */
			int pr = h1_probe(p, n, KC_DIR_S2C);

			if (pr < 0)
				return res(KC_PARSE_NEED_MORE, off);
			if (pr == 0) {
				start_raw_response(c, f, ts_us);
				continue;
			}
		}

		/* The other line-oriented states. */
		lf = line_find(p, data + len, &ci);
		if (lf == NULL) {
			/* C2S preface after an h2c upgrade request: hold it
			 * until the 101 hands the flow to HTTP/2. */
			if (dir == KC_DIR_C2S && d->state == H1_START && n >= 1 &&
			    memcmp(p, "PRI * HTTP/2.0", KC_MIN(n, (size_t)14)) == 0 &&
			    any_h2c_pending(h))
				d->state = H1_BLOCKED;
			return res(KC_PARSE_NEED_MORE, off);
		}
		adv = (size_t)(lf - p) + 1;
		ll = adv - 1;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;

		switch (d->state) {
		case H1_START:
			if (ll == 0) {
				/* RFC 9112 2.2: ignore empty lines before a
				 * request-line (and, leniently, a status line). */
				off += adv;
				continue;
			}
			if (dir == KC_DIR_C2S && h->qlen > 0 && ll >= 14 &&
			    memcmp(p, "PRI * HTTP/2.0", 14) == 0 && any_h2c_pending(h)) {
				d->state = H1_BLOCKED;
				return res(KC_PARSE_NEED_MORE, off);
			}
			rc = dir == KC_DIR_C2S ? start_request(c, f, p, ll, data + len, ts_us)
					       : start_response(c, f, p, ll, ts_us);
			if (rc < 0) {
				if (d->msgs == 0)
					return res(KC_PARSE_ERROR, off);
				if (dir == KC_DIR_C2S)
					c->st.http.err_request_line++;
				else
					c->st.http.err_status_line++;
				off += adv;
				to_resync(d, 1);
				continue;
			}
			d->msg_bytes += adv;
			d->hdr_bytes += adv;
			off += adv;
			if (rc == 1) {
				/* HTTP/0.9: the request line is the request. */
				if (d->it != NULL)
					d->it->u.http.req_headers_size = (int32_t)d->hdr_bytes;
				req_done(c, d);
			}
			continue;

		case H1_CHUNK_SIZE: {
			uint64_t v = 0;
			size_t i = 0;
			int digits = 0;

			while (i < ll && hexv(p[i]) >= 0 && digits < 16) {
				v = v << 4 | (uint64_t)hexv(p[i]);
				i++;
				digits++;
			}
			while (i < ll && is_ows(p[i]))
				i++;
			d->msg_bytes += adv;
			off += adv;
			/* chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1) */
			if (digits == 0 || (i < ll && p[i] != ';')) {
				c->st.http.err_chunk++;
				abort_msg(c, f, dir, KC_ITEM_F_GAP);
				to_resync(d, 1);
				continue;
			}
			if (v == 0) {
				d->state = H1_TRAILERS;
			} else {
				d->remaining = v;
				d->state = H1_CHUNK_DATA;
			}
			continue;
		}

		case H1_CHUNK_CRLF:
			d->msg_bytes += adv;
			off += adv;
			if (ll != 0) {
				c->st.http.err_chunk++;
				abort_msg(c, f, dir, KC_ITEM_F_GAP);
				to_resync(d, 1);
				continue;
			}
			d->state = H1_CHUNK_SIZE;
			continue;

		case H1_TRAILERS:
			d->msg_bytes += adv;
			off += adv;
			if (ll == 0) {
				if (dir == KC_DIR_C2S)
					req_done(c, d);
				else
					resp_done(c, f, 0);
			}
			continue;

		default:
			return res(KC_PARSE_OK, len);
		}
	}
out:
	if (dir == KC_DIR_C2S && d->it != NULL)
		d->it->req_size = d->msg_bytes;
	return res(KC_PARSE_OK, off);
}

/* The feed once per direction, the direction a constant in each. */
static __attribute__((noinline)) struct kc_parse_res h1_feed_c2s(struct kc_dissect_core *c,
								 struct kc_dissect_flow *f,
								 const uint8_t *data, size_t len,
								 uint64_t ts_us)
{
	return h1_feed_dir(c, f, KC_DIR_C2S, data, len, ts_us);
}

static __attribute__((noinline)) struct kc_parse_res h1_feed_s2c(struct kc_dissect_core *c,
								 struct kc_dissect_flow *f,
								 const uint8_t *data, size_t len,
								 uint64_t ts_us)
{
	return h1_feed_dir(c, f, KC_DIR_S2C, data, len, ts_us);
}

struct kc_parse_res h1_feed(struct kc_dissect_core *c, struct kc_dissect_flow *f,
			    enum kc_dir dir, const uint8_t *data, size_t len, uint64_t ts_us)
{
	return dir == KC_DIR_C2S ? h1_feed_c2s(c, f, data, len, ts_us)
				 : h1_feed_s2c(c, f, data, len, ts_us);
}

void h1_gap(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
	    uint64_t gap)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *d = &h->d[dir];

	switch (d->state) {
	case H1_BODY_CL:
	case H1_CHUNK_DATA:
		if (gap <= d->remaining) {
			/* Inside a body of known length: skip the hole and
			 * stay in sync; the prefix ends here. */
			c->st.http.gap_in_body++;
			d->remaining -= gap;
			d->body_wire += gap;
			d->msg_bytes += gap;
			d->mflags |= M_BODY_STOP;
			z_release(c, d);
			if (d->it != NULL)
				d->it->flags |= KC_ITEM_F_GAP;
			if (d->remaining == 0)
				body_part_done(c, f, dir, d);
			return;
		}
		break;
	case H1_BODY_EOF:
		c->st.http.gap_in_body++;
		d->body_wire += gap;
		d->msg_bytes += gap;
		d->mflags |= M_BODY_STOP;
		z_release(c, d);
		if (d->it != NULL)
			d->it->flags |= KC_ITEM_F_GAP;
		return;
	case H1_DEAD:
		return;
	default:
		break;
	}
	c->st.http.gap_resync++;
	abort_msg(c, f, dir, KC_ITEM_F_GAP);
	/* After a hole the next byte may well start a message (whole segments
	 * lost), so the scan treats it as a line start. */
	to_resync(d, 1);
}

static void free_queue(struct kc_dissect_core *c, struct kc_dissect_flow *f, int emit)
{
	struct h1_flow *h = f->ps;

	while (h->qlen > 0) {
		struct kc_item *it = q_head(h)->it;

		if (it != NULL) {
			if (emit) {
				it->flags |= KC_ITEM_F_TIMEOUT;
				if (h->d[KC_DIR_C2S].it == it)
					it->req_size = h->d[KC_DIR_C2S].msg_bytes;
				c->st.http.timeouts++;
				dissect_emit(f, it);
			}
			pool_put(&c->items, it);
		}
		q_pop(h);
	}
	h->d[KC_DIR_C2S].it = NULL;
}

void h1_close(struct kc_dissect_core *c, struct kc_dissect_flow *f, uint64_t ts_us)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *s = &h->d[KC_DIR_S2C];

	(void)ts_us;
	if (s->state == H1_BODY_EOF)
		resp_done(c, f, 0);
	else
		abort_msg(c, f, KC_DIR_S2C, KC_ITEM_F_TIMEOUT);
	free_queue(c, f, 1);
	z_release(c, &h->d[0]);
	z_release(c, &h->d[1]);
}

void h1_release(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	struct h1_flow *h = f->ps;
	struct h1_dir *s = &h->d[KC_DIR_S2C];

	if (s->rsrc == RS_ONLY && s->it != NULL)
		pool_put(&c->items, s->it);
	s->it = NULL;
	free_queue(c, f, 0);
	z_release(c, &h->d[0]);
	z_release(c, &h->d[1]);
}

unsigned h1_expire(struct kc_dissect_core *c, struct kc_dissect_flow *f, uint64_t now_us)
{
	struct h1_flow *h = f->ps;
	unsigned n = 0;

	while (h->qlen > 0) {
		struct h1_qent *e = q_head(h);

		if (now_us < e->ts_us || now_us - e->ts_us < c->cfg.timeout_us)
			break;
		/* A response in progress or a request still arriving is not
		 * abandoned: it is alive. */
		if (h->d[KC_DIR_S2C].rsrc == RS_QUEUE || h->d[KC_DIR_C2S].cur_q == (int)h->qhead)
			break;
		if (e->it != NULL) {
			e->it->flags |= KC_ITEM_F_TIMEOUT;
			dissect_emit(f, e->it);
			pool_put(&c->items, e->it);
			n++;
		}
		c->st.http.timeouts++;
		q_pop(h);
		h->skip_resp++;
	}
	return n;
}
