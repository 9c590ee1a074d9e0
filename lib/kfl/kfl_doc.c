/*
 * json() and xml(): decode a string (base64 first when the whole string is
 * valid base64, kfl.md section 8) into a small tree allocated in the scratch,
 * so evaluation stays allocation-free. Both parsers are bounded: nesting
 * depth KFL_DOC_MAX_DEPTH, and the scratch arena bounds the node count.
 *
 * XML is mapped the way a JSON conversion of it reads (element -> key,
 * repeated elements -> array, element with children -> object, otherwise its
 * text); attributes, comments and processing instructions are ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

#define KFL_DOC_MAX_DEPTH 64

struct dnode {
	uint8_t t; /* enum kfl_type */
	uint32_t n; /* children */
	const char *key;
	uint32_t klen;
	uint32_t slen;
	union {
		const char *s;
		int64_t i;
		double f;
		bool b;
	} u;
	struct dnode *kids, *last, *next;
};

static const struct kfl_ops doc_ops;

static void dnode_val(const struct dnode *d, struct kfl_val *out)
{
	memset(out, 0, sizeof(*out));
	out->t = d->t;
	switch (d->t) {
	case KFL_STR:
		out->u.s = d->u.s;
		out->len = d->slen;
		break;
	case KFL_INT: out->u.i = d->u.i; break;
	case KFL_FLOAT: out->u.f = d->u.f; break;
	case KFL_BOOL: out->u.b = d->u.b; break;
	case KFL_ARR:
	case KFL_OBJ:
		out->u.p = d;
		out->ops = &doc_ops;
		break;
	default: break;
	}
}

static uint32_t d_count(const struct kfl_val *c, struct kfl_ctx *x)
{
	return ((const struct dnode *)c->u.p)->n;
}

static int d_at(const struct kfl_val *c, uint32_t i, struct kfl_val *out, struct kfl_ctx *x)
{
	const struct dnode *d = c->u.p;
	if (d->t != KFL_ARR || i >= d->n)
		return -ENOENT;
	const struct dnode *e = d->kids;
	while (i-- > 0)
		e = e->next;
	dnode_val(e, out);
	return 0;
}

static int d_get(const struct kfl_val *c, const char *key, size_t klen, struct kfl_val *out,
		 struct kfl_ctx *x)
{
	const struct dnode *d = c->u.p;
	if (d->t != KFL_OBJ)
		return -ENOENT;
	/* Go's encoding/json keeps the last of duplicate keys. */
	const struct dnode *hit = NULL;
	for (const struct dnode *e = d->kids; e != NULL; e = e->next)
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			hit = e;
	if (hit == NULL)
		return -ENOENT;
	dnode_val(hit, out);
	return 0;
}

static int d_each(const struct kfl_val *c, kfl_each_fn fn, void *arg, struct kfl_ctx *x)
{
	const struct dnode *d = c->u.p;
	for (const struct dnode *e = d->kids; e != NULL; e = e->next) {
		struct kfl_val v;
		dnode_val(e, &v);
		int r = fn(arg, d->t == KFL_OBJ ? e->key : NULL, e->klen, &v);
		if (r)
			return r;
	}
	return 0;
}

static const struct kfl_ops doc_ops = {
	.count = d_count, .at = d_at, .get = d_get, .each = d_each,
};

static struct dnode *dn_new(struct kfl_ctx *x, uint8_t t)
{
	struct dnode *d = kfl_alloc(x, sizeof(*d));
	if (d != NULL) {
		memset(d, 0, sizeof(*d));
		d->t = t;
	}
	return d;
}

static void dn_add(struct dnode *parent, struct dnode *kid)
{
	if (parent->last)
		parent->last->next = kid;
	else
		parent->kids = kid;
	parent->last = kid;
	parent->n++;
}

/* ------------------------------------------------------------------------ */
/* JSON (RFC 8259) */

struct jp {
	const char *p, *end;
	struct kfl_ctx *x;
};

static void jws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decoded string at j->p (on the opening quote). */
static bool jstr(struct jp *j, const char **s, uint32_t *n)
{
	const char *q = ++j->p;
	bool esc = false;

	while (q < j->end && *q != '"') {
		if ((unsigned char)*q < 0x20)
			return false;
		if (*q == '\\') {
			esc = true;
			q++;
		}
		q++;
	}
	if (q >= j->end)
		return false;
	if (!esc) {
		*s = j->p;
		*n = (uint32_t)(q - j->p);
		j->p = q + 1;
		return true;
	}
	/* escapes only shrink the text (\uXXXX is 6 bytes for at most 3, a
	 * surrogate pair 12 for 4) */
	char *o = kfl_alloc(j->x, (size_t)(q - j->p) + 1);
	size_t k = 0;
	if (o == NULL)
		return false;
	const char *p = j->p;
	while (p < q) {
		if (*p != '\\') {
			o[k++] = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case '"': o[k++] = '"'; p++; break;
		case '\\': o[k++] = '\\'; p++; break;
		case '/': o[k++] = '/'; p++; break;
		case 'b': o[k++] = '\b'; p++; break;
		case 'f': o[k++] = '\f'; p++; break;
		case 'n': o[k++] = '\n'; p++; break;
		case 'r': o[k++] = '\r'; p++; break;
		case 't': o[k++] = '\t'; p++; break;
		case 'u': {
			if (q - p < 5)
				return false;
			int cp = hex4(p + 1);
			if (cp < 0)
				return false;
			p += 5;
			if (cp >= 0xd800 && cp < 0xdc00 && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				int lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd; /* lone surrogate: Go substitutes U+FFFD */
			k += put_utf8(o + k, (uint32_t)cp);
			break;
		}
		default: return false;
		}
	}
	*s = o;
	*n = (uint32_t)k;
	j->p = q + 1;
	return true;
}

static struct dnode *jvalue(struct jp *j, int depth);

static struct dnode *jnumber(struct jp *j)
{
	const char *p = j->p, *st = p;
	bool isint = true;

	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	if (p < j->end && *p == '.') {
		isint = false;
		p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return NULL;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		isint = false;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return NULL;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	char buf[64];
	size_t n = (size_t)(p - st);
	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, st, n);
	buf[n] = '\0';
	double d = strtod(buf, NULL);
	struct dnode *dn;
	if (isint && d >= -9.2e18 && d <= 9.2e18) {
		dn = dn_new(j->x, KFL_INT);
		if (dn)
			dn->u.i = strtoll(buf, NULL, 10);
	} else {
		dn = dn_new(j->x, KFL_FLOAT);
		if (dn)
			dn->u.f = d;
	}
	j->p = p;
	return dn;
}

static bool jlit(struct jp *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static struct dnode *jvalue(struct jp *j, int depth)
{
	struct dnode *d;

	if (depth > KFL_DOC_MAX_DEPTH)
		return NULL;
	jws(j);
	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
		d = dn_new(j->x, KFL_OBJ);
		if (d == NULL)
			return NULL;
		j->p++;
		jws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return d;
		}
		for (;;) {
			const char *k;
			uint32_t kn;
			jws(j);
			if (j->p >= j->end || *j->p != '"' || !jstr(j, &k, &kn))
				return NULL;
			jws(j);
			if (j->p >= j->end || *j->p != ':')
				return NULL;
			j->p++;
			struct dnode *v = jvalue(j, depth + 1);
			if (v == NULL)
				return NULL;
			v->key = k;
			v->klen = kn;
			dn_add(d, v);
			jws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				return d;
			}
			return NULL;
		}
	case '[':
		d = dn_new(j->x, KFL_ARR);
		if (d == NULL)
			return NULL;
		j->p++;
		jws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return d;
		}
		for (;;) {
			struct dnode *v = jvalue(j, depth + 1);
			if (v == NULL)
				return NULL;
			dn_add(d, v);
			jws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				return d;
			}
			return NULL;
		}
	case '"': {
		const char *s;
		uint32_t n;
		if (!jstr(j, &s, &n))
			return NULL;
		d = dn_new(j->x, KFL_STR);
		if (d) {
			d->u.s = s;
			d->slen = n;
		}
		return d;
	}
	case 't':
	case 'f':
		if (!jlit(j, "true") && !jlit(j, "false"))
			return NULL;
		d = dn_new(j->x, KFL_BOOL);
		if (d)
			d->u.b = j->p[-1] == 'e' && j->p[-2] == 'u';
		return d;
	case 'n':
		if (!jlit(j, "null"))
			return NULL;
		return dn_new(j->x, KFL_NULL);
	default:
		return jnumber(j);
	}
}

/* base64-decode into the scratch when all of s is valid base64. */
static void maybe_b64(struct kfl_ctx *x, const char **s, size_t *n)
{
	if (*n == 0 || *n % 4 != 0)
		return;
	size_t used = x->s->used;
	unsigned char *out = kfl_alloc(x, *n / 4 * 3 + 1);
	if (out == NULL)
		return;
	long r = kfl_b64_decode(*s, *n, out);
	if (r < 0) {
		x->s->used = used; /* give the buffer back */
		return;
	}
	*s = (const char *)out;
	*n = (size_t)r;
}

int kfl_doc_json(struct kfl_ctx *x, const char *s, size_t n, struct kfl_val *out)
{
	maybe_b64(x, &s, &n);
	struct jp j = { .p = s, .end = s + n, .x = x };
	struct dnode *d = jvalue(&j, 0);
	if (d != NULL) {
		jws(&j);
		if (j.p == j.end) {
			dnode_val(d, out);
			return 0;
		}
	}
	x->s->st.doc_fail++;
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* XML */

struct xp {
	const char *p, *end;
	struct kfl_ctx *x;
};

static bool xname_ch(char c)
{
	return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '/' ||
		 c == '=' || c == '<');
}

static void xws(struct xp *xp)
{
	while (xp->p < xp->end && (*xp->p == ' ' || *xp->p == '\t' || *xp->p == '\n' || *xp->p == '\r'))
		xp->p++;
}

/* Skip <!-- -->, <? ?>, <!DOCTYPE ...>; p is on '<'. false if not one. */
static bool xskip_misc(struct xp *xp)
{
	size_t left = (size_t)(xp->end - xp->p);
	const char *e;

	if (left >= 4 && memcmp(xp->p, "<!--", 4) == 0) {
		e = memmem(xp->p + 4, left - 4, "-->", 3);
		xp->p = e ? e + 3 : xp->end;
		return true;
	}
	if (left >= 2 && xp->p[1] == '?') {
		e = memmem(xp->p + 2, left - 2, "?>", 2);
		xp->p = e ? e + 2 : xp->end;
		return true;
	}
	if (left >= 2 && xp->p[1] == '!' && !(left >= 9 && memcmp(xp->p, "<![CDATA[", 9) == 0)) {
		e = memchr(xp->p, '>', left);
		xp->p = e ? e + 1 : xp->end;
		return true;
	}
	return false;
}

/* Append decoded text [s, s+n) to the growing buffer. */
static bool xtext_add(struct kfl_ctx *x, char **buf, uint32_t *len, const char *s, size_t n,
		      bool entities)
{
	char *nb = kfl_alloc(x, *len + n + 1);
	if (nb == NULL)
		return false;
	if (*len)
		memcpy(nb, *buf, *len);
	size_t k = *len;
	for (size_t i = 0; i < n; i++) {
		if (entities && s[i] == '&') {
			static const struct {
				const char *e;
				char c;
			} ents[] = { { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
				     { "&quot;", '"' }, { "&apos;", '\'' } };
			bool done = false;
			for (size_t e = 0; e < KC_ARRAY_SIZE(ents); e++) {
				size_t el = strlen(ents[e].e);
				if (n - i >= el && memcmp(s + i, ents[e].e, el) == 0) {
					nb[k++] = ents[e].c;
					i += el - 1;
					done = true;
					break;
				}
			}
			if (done)
				continue;
		}
		nb[k++] = s[i];
	}
	*buf = nb;
	*len = (uint32_t)k;
	return true;
}

/* Add @p kid under key to the object, turning repeats into an array. */
static bool xadd(struct kfl_ctx *x, struct dnode *obj, struct dnode *kid)
{
	for (struct dnode *e = obj->kids, *prev = NULL; e != NULL; prev = e, e = e->next) {
		if (e->klen != kid->klen || memcmp(e->key, kid->key, kid->klen) != 0)
			continue;
		if (e->t == KFL_ARR && e->u.b) { /* u.b marks "made from repeats" */
			dn_add(e, kid);
			return true;
		}
		struct dnode *arr = dn_new(x, KFL_ARR);
		if (arr == NULL)
			return false;
		arr->u.b = true;
		arr->key = e->key;
		arr->klen = e->klen;
		arr->next = e->next;
		if (prev)
			prev->next = arr;
		else
			obj->kids = arr;
		if (obj->last == e)
			obj->last = arr;
		e->next = NULL;
		dn_add(arr, e);
		dn_add(arr, kid);
		return true;
	}
	dn_add(obj, kid);
	return true;
}

/* Element at p (on '<' of the start tag): returns its value node with key. */
static struct dnode *xelem(struct xp *xp, int depth)
{
	if (depth > KFL_DOC_MAX_DEPTH || xp->p >= xp->end || *xp->p != '<')
		return NULL;
	xp->p++;
	const char *name = xp->p;
	while (xp->p < xp->end && xname_ch(*xp->p))
		xp->p++;
	uint32_t nlen = (uint32_t)(xp->p - name);
	if (nlen == 0)
		return NULL;
	/* attributes are ignored; quoted values may hold '>' */
	bool selfclose = false;
	while (xp->p < xp->end && *xp->p != '>') {
		if (*xp->p == '"' || *xp->p == '\'') {
			const char *q = memchr(xp->p + 1, *xp->p, (size_t)(xp->end - xp->p - 1));
			if (q == NULL)
				return NULL;
			xp->p = q + 1;
			continue;
		}
		if (*xp->p == '/' && xp->p + 1 < xp->end && xp->p[1] == '>')
			selfclose = true;
		xp->p++;
	}
	if (xp->p >= xp->end)
		return NULL;
	xp->p++; /* '>' */

	struct dnode *obj = NULL;
	char *text = NULL;
	uint32_t tlen = 0;
	if (!selfclose) {
		for (;;) {
			const char *lt = memchr(xp->p, '<', (size_t)(xp->end - xp->p));
			if (lt == NULL)
				return NULL;
			if (lt > xp->p && !xtext_add(xp->x, &text, &tlen, xp->p, (size_t)(lt - xp->p), true))
				return NULL;
			xp->p = lt;
			size_t left = (size_t)(xp->end - xp->p);
			if (left >= 2 && xp->p[1] == '/') {
				xp->p += 2;
				const char *cn = xp->p;
				while (xp->p < xp->end && xname_ch(*xp->p))
					xp->p++;
				if ((uint32_t)(xp->p - cn) != nlen || memcmp(cn, name, nlen) != 0)
					return NULL;
				xws(xp);
				if (xp->p >= xp->end || *xp->p != '>')
					return NULL;
				xp->p++;
				break;
			}
			if (left >= 9 && memcmp(xp->p, "<![CDATA[", 9) == 0) {
				const char *e = memmem(xp->p + 9, left - 9, "]]>", 3);
				if (e == NULL)
					return NULL;
				if (!xtext_add(xp->x, &text, &tlen, xp->p + 9, (size_t)(e - xp->p - 9), false))
					return NULL;
				xp->p = e + 3;
				continue;
			}
			if (xskip_misc(xp))
				continue;
			struct dnode *kid = xelem(xp, depth + 1);
			if (kid == NULL)
				return NULL;
			if (obj == NULL && (obj = dn_new(xp->x, KFL_OBJ)) == NULL)
				return NULL;
			if (!xadd(xp->x, obj, kid))
				return NULL;
		}
	}
	struct dnode *d = obj;
	if (d == NULL) {
		d = dn_new(xp->x, KFL_STR);
		if (d == NULL)
			return NULL;
		d->u.s = text ? text : "";
		d->slen = tlen;
	}
	d->key = name;
	d->klen = nlen;
	return d;
}

int kfl_doc_xml(struct kfl_ctx *x, const char *s, size_t n, struct kfl_val *out)
{
	maybe_b64(x, &s, &n);
	struct xp xp = { .p = s, .end = s + n, .x = x };

	for (;;) {
		xws(&xp);
		if (xp.p >= xp.end || *xp.p != '<')
			goto fail;
		if (!xskip_misc(&xp))
			break;
	}
	struct dnode *root = xelem(&xp, 0);
	struct dnode *top = root ? dn_new(x, KFL_OBJ) : NULL;
	if (top == NULL)
		goto fail;
	dn_add(top, root);
	dnode_val(top, out);
	return 0;
fail:
	x->s->st.doc_fail++;
	return -EINVAL;
}
