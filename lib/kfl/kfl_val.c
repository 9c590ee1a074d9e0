/*
 * KFL value semantics (kfl.md sections 5 and 6): text(), num(), truthiness,
 * equality and ordering over the backend-neutral struct kfl_val, plus the
 * result-array backend and base64.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

void *kfl_alloc(struct kfl_ctx *x, size_t n)
{
	struct kc_kfl_scratch *s = x->s;
	size_t at = (s->used + 7) & ~(size_t)7;

	if (kc_unlikely(n > s->cap || at > s->cap - n)) {
		s->st.overflows++;
		return NULL;
	}
	s->used = at + n;
	return s->arena + at;
}

void kfl_text(const struct kfl_val *v, char buf[32], const char **p, size_t *len)
{
	int n;

	switch (v->t) {
	case KFL_STR:
		*p = v->u.s;
		*len = v->len;
		return;
	case KFL_INT: {
		/* by hand: snprintf costs more than the rest of a comparison */
		uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
		char *e = buf + 31, *q = e;
		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v->u.i < 0)
			*--q = '-';
		*p = q;
		*len = (size_t)(e - q);
		return;
	}
	case KFL_FLOAT:
		if (v->ftxt != NULL) {
			*p = v->ftxt;
			*len = strlen(v->ftxt);
			return;
		}
		/* Go's %g with 6 digits: number literals print like this, which
		 * is why `timestamp == 1678675066172` is false (kfl.md 6). */
		if (isnan(v->u.f)) {
			n = snprintf(buf, 32, "NaN");
		} else if (isinf(v->u.f)) {
			n = snprintf(buf, 32, v->u.f > 0 ? "+Inf" : "-Inf");
		} else {
			n = snprintf(buf, 32, "%.6g", v->u.f);
		}
		break;
	case KFL_BOOL:
		*p = v->u.b ? "true" : "false";
		*len = v->u.b ? 4 : 5;
		return;
	case KFL_NULL:
		*p = "null";
		*len = 4;
		return;
	default: /* arrays, objects, regexes */
		*p = "";
		*len = 0;
		return;
	}
	*p = buf;
	*len = n > 0 ? (size_t)n : 0;
}

/* Go strconv.ParseFloat on the whole string, else 0. */
static double str_num(const char *s, size_t n)
{
	char buf[64];
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	/* ParseFloat accepts no surrounding space; strtod would skip it. */
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\v' ||
	    s[0] == '\f')
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	double d = strtod(buf, &end);
	if (end != buf + n || (errno == ERANGE && isinf(d)))
		return 0;
	return d;
}

double kfl_num(const struct kfl_val *v)
{
	switch (v->t) {
	case KFL_STR: return str_num(v->u.s, v->len);
	case KFL_INT: return (double)v->u.i;
	case KFL_FLOAT: return v->u.f;
	case KFL_BOOL: return v->u.b ? 1 : 0;
	default: return 0;
	}
}

static uint32_t vcount(const struct kfl_val *v, struct kfl_ctx *x)
{
	return v->ops->count(v, x);
}

static bool text_eq(const struct kfl_val *a, const struct kfl_val *b)
{
	char ba[32], bb[32];
	const char *pa, *pb;
	size_t la, lb;

	kfl_text(a, ba, &pa, &la);
	kfl_text(b, bb, &pb, &lb);
	return la == lb && memcmp(pa, pb, la) == 0;
}

static bool re_match(const struct kfl_val *re, const struct kfl_val *v)
{
	char buf[32];
	const char *p;
	size_t n;

	kfl_text(v, buf, &p, &n);
	return kfl_re_search(re->u.p, p, n);
}

/* Deep structural equality (array == array, kfl.md 6 rule 2). */
static bool deep_eq(const struct kfl_val *a, const struct kfl_val *b, struct kfl_ctx *x, int depth);

struct obj_cmp {
	const struct kfl_val *other;
	struct kfl_ctx *x;
	int depth;
	bool ok;
};

static int obj_cmp_fn(void *arg, const char *key, size_t klen, const struct kfl_val *v)
{
	struct obj_cmp *c = arg;
	struct kfl_val w;

	if (c->other->ops->get(c->other, key, klen, &w, c->x) != 0 || !deep_eq(v, &w, c->x, c->depth)) {
		c->ok = false;
		return 1;
	}
	return 0;
}

static bool deep_eq(const struct kfl_val *a, const struct kfl_val *b, struct kfl_ctx *x, int depth)
{
	if (depth > 64)
		return false;
	bool na = a->t == KFL_INT || a->t == KFL_FLOAT, nb = b->t == KFL_INT || b->t == KFL_FLOAT;
	if (na && nb)
		return kfl_num(a) == kfl_num(b);
	if (a->t != b->t)
		return false;
	switch (a->t) {
	case KFL_NULL: return true;
	case KFL_BOOL: return a->u.b == b->u.b;
	case KFL_STR: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
	case KFL_ARR: {
		uint32_t n = vcount(a, x);
		if (n != vcount(b, x))
			return false;
		for (uint32_t i = 0; i < n; i++) {
			struct kfl_val ea, eb;
			if (a->ops->at(a, i, &ea, x) != 0 || b->ops->at(b, i, &eb, x) != 0 ||
			    !deep_eq(&ea, &eb, x, depth + 1))
				return false;
		}
		return true;
	}
	case KFL_OBJ: {
		if (vcount(a, x) != vcount(b, x))
			return false;
		struct obj_cmp c = { .other = b, .x = x, .depth = depth + 1, .ok = true };
		a->ops->each(a, obj_cmp_fn, &c, x);
		return c.ok;
	}
	default: return a->u.p == b->u.p;
	}
}

struct any_eq {
	const struct kfl_val *b;
	bool hit;
};

static int any_eq_fn(void *arg, const char *key, size_t klen, const struct kfl_val *e)
{
	struct any_eq *c = arg;
	if (text_eq(e, c->b)) {
		c->hit = true;
		return 1;
	}
	return 0;
}

/* int == float by text, without printing: %.6g writes an integral float
 * below 1e6 as its digits ("-0" for negative zero) and anything else with a
 * '.' or an exponent, which an integer's text never has. */
static bool int_float_eq(int64_t i, double f)
{
	return kfl_int_float_eq(i, f);
}

bool kfl_equal(const struct kfl_val *a, const struct kfl_val *b, struct kfl_ctx *x)
{
	/* common cases first: both strings, int against a number literal */
	if (a->t == KFL_STR && b->t == KFL_STR)
		return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
	if (a->t == KFL_INT && b->t == KFL_FLOAT)
		return int_float_eq(a->u.i, b->u.f);
	if (a->t == KFL_FLOAT && b->t == KFL_INT)
		return int_float_eq(b->u.i, a->u.f);
	if (a->t == KFL_REGEX)
		return re_match(a, b);
	if (a->t == KFL_ARR) {
		if (b->t == KFL_ARR)
			return deep_eq(a, b, x, 0);
		struct any_eq c = { .b = b };
		a->ops->each(a, any_eq_fn, &c, x);
		return c.hit;
	}
	if (b->t == KFL_REGEX)
		return re_match(b, a);
	if (b->t == KFL_ARR) {
		struct any_eq c = { .b = a };
		b->ops->each(b, any_eq_fn, &c, x);
		return c.hit;
	}
	return text_eq(a, b);
}

static bool ord1(double a, double b, int op)
{
	switch (op) {
	case C_GT: return a > b;
	case C_GE: return a >= b;
	case C_LT: return a < b;
	default: return a <= b;
	}
}

struct ord_ctx {
	const struct kfl_val *other;
	struct kfl_ctx *x;
	int op;
	bool elem_left; /* the element is the left operand */
	bool all;       /* array vs array: every pair */
	bool res;
};

static int ord_inner_fn(void *arg, const char *key, size_t klen, const struct kfl_val *e)
{
	struct ord_ctx *c = arg;
	bool r = c->elem_left ? ord1(kfl_num(e), kfl_num(c->other), c->op) :
				ord1(kfl_num(c->other), kfl_num(e), c->op);
	if (c->all && !r) {
		c->res = false;
		return 1;
	}
	if (!c->all && r) {
		c->res = true;
		return 1;
	}
	return 0;
}

static int ord_outer_fn(void *arg, const char *key, size_t klen, const struct kfl_val *e)
{
	struct ord_ctx *c = arg;
	struct ord_ctx in = { .other = e, .x = c->x, .op = c->op, .elem_left = false, .all = true,
			      .res = true };
	c->other->ops->each(c->other, ord_inner_fn, &in, c->x);
	if (!in.res) {
		c->res = false;
		return 1;
	}
	return 0;
}

bool kfl_order(const struct kfl_val *a, const struct kfl_val *b, int op, struct kfl_ctx *x)
{
	if (a->t == KFL_ARR && b->t == KFL_ARR) {
		/* every (ea, eb) pair must satisfy */
		struct ord_ctx c = { .other = b, .x = x, .op = op, .res = true };
		a->ops->each(a, ord_outer_fn, &c, x);
		return c.res;
	}
	if (a->t == KFL_ARR) {
		struct ord_ctx c = { .other = b, .x = x, .op = op, .elem_left = true };
		a->ops->each(a, ord_inner_fn, &c, x);
		return c.res;
	}
	if (b->t == KFL_ARR) {
		struct ord_ctx c = { .other = a, .x = x, .op = op, .elem_left = false };
		b->ops->each(b, ord_inner_fn, &c, x);
		return c.res;
	}
	return ord1(kfl_num(a), kfl_num(b), op);
}

/* ------------------------------------------------------------------------ */
/* Result arrays: u.p points at len values in the scratch. */

static uint32_t vals_count(const struct kfl_val *c, struct kfl_ctx *x)
{
	return c->len;
}

static int vals_at(const struct kfl_val *c, uint32_t i, struct kfl_val *out, struct kfl_ctx *x)
{
	if (i >= c->len)
		return -ENOENT;
	*out = ((const struct kfl_val *)c->u.p)[i];
	return 0;
}

static int vals_get(const struct kfl_val *c, const char *key, size_t klen, struct kfl_val *out,
		    struct kfl_ctx *x)
{
	return -ENOENT;
}

static int vals_each(const struct kfl_val *c, kfl_each_fn fn, void *arg, struct kfl_ctx *x)
{
	const struct kfl_val *v = c->u.p;
	for (uint32_t i = 0; i < c->len; i++) {
		int r = fn(arg, NULL, 0, &v[i]);
		if (r)
			return r;
	}
	return 0;
}

const struct kfl_ops kfl_vals_ops = {
	.count = vals_count, .at = vals_at, .get = vals_get, .each = vals_each,
};

/* ------------------------------------------------------------------------ */
/* base64 (RFC 4648 standard alphabet, padded), as Go's StdEncoding. */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64v(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long kfl_b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1; /* data after padding */
			v[k] = b64v(c);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Go rejects non-zero trailing bits only in Strict mode; StdEncoding
		 * accepts them, so do we. */
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

size_t kfl_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[w >> 18];
		out[o++] = b64[(w >> 12) & 63];
		out[o++] = b64[(w >> 6) & 63];
		out[o++] = b64[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;
		out[o++] = b64[w >> 18];
		out[o++] = b64[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64[w >> 18];
		out[o++] = b64[(w >> 12) & 63];
		out[o++] = b64[(w >> 6) & 63];
		out[o++] = '=';
	}
	return o;
}
