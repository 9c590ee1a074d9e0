/*
 * KFL evaluator. Every node returns either a value or COLLAPSE: a missing
 * field makes the innermost enclosing parenthesised group (or the whole
 * filter) false, whatever operators surround it (kfl.md section 7). Groups
 * and macros turn COLLAPSE into false; everything else passes it up.
 *
 * Nothing here allocates from the heap: temporary values live in the
 * per-thread scratch, reset at the start of each evaluation.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

#define COLLAPSE 1

/* Selector outcomes. */
enum { SEL_FOUND = 0, SEL_MISSING, SEL_DOCFAIL };

/* Most values one .* / .. step may collect; more are dropped and counted. */
#define KFL_MAX_MATCHES 512

struct kc_kfl_scratch *kc_kfl_scratch_create(size_t arena_bytes)
{
	if (arena_bytes == 0)
		arena_bytes = 64 * 1024;
	if (arena_bytes < 4096) {
		errno = EINVAL;
		return NULL;
	}
	struct kc_kfl_scratch *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->arena = aligned_alloc(64, (arena_bytes + 63) & ~(size_t)63);
	if (s->arena == NULL) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->cap = arena_bytes;
	return s;
}

void kc_kfl_scratch_free(struct kc_kfl_scratch *s)
{
	if (s == NULL)
		return;
	free(s->arena);
	free(s);
}

const struct kc_kfl_scratch_stats *kc_kfl_scratch_stats(const struct kc_kfl_scratch *s)
{
	return &s->st;
}

/* ------------------------------------------------------------------------ */
/* Selectors */

static void root_val(struct kfl_ctx *x, struct kfl_val *out)
{
	if (x->item != NULL)
		kfl_item_root(x->item, out);
	else
		kfl_json_val(x->mut_doc ? x->mut_doc : x->doc, out);
}

/* Decode a json()/xml() step. */
static int doc_step(struct kfl_ctx *x, uint8_t type, const struct kfl_val *v, struct kfl_val *out)
{
	char buf[32];
	const char *p;
	size_t n;

	kfl_text(v, buf, &p, &n);
	if (type == S_JSON && v->t != KFL_STR) {
		/* numbers and booleans decode to themselves; copy the text out
		 * of the stack buffer */
		char *c = kfl_alloc(x, n);
		if (c == NULL)
			return -ENOSPC;
		memcpy(c, p, n);
		p = c;
	}
	return type == S_JSON ? kfl_doc_json(x, p, n, out) : kfl_doc_xml(x, p, n, out);
}

/* One non-multi step from @p cur. */
static int step1(struct kfl_ctx *x, const struct kfl_step *st, const struct kfl_val *cur,
		 struct kfl_val *out)
{
	switch (st->type) {
	case S_KEY:
		if (cur->t != KFL_OBJ)
			return -ENOENT;
		return cur->ops->get(cur, st->key, st->klen, out, x);
	case S_INDEX:
		if (cur->t != KFL_ARR)
			return -ENOENT;
		return cur->ops->at(cur, st->index, out, x);
	default:
		return doc_step(x, st->type, cur, out);
	}
}

struct vset {
	struct kfl_val *v;
	uint32_t n, cap;
};

/* Sets start small and double inside the scratch (the old copy is left
 * behind: the arena is reset per evaluation), up to KFL_MAX_MATCHES. */
static bool vset_add(struct kfl_ctx *x, struct vset *s, const struct kfl_val *v)
{
	if (s->n == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 8;
		struct kfl_val *nv = nc <= KFL_MAX_MATCHES ? kfl_alloc(x, nc * sizeof(*nv)) : NULL;
		if (nv == NULL) {
			if (nc > KFL_MAX_MATCHES)
				x->s->st.overflows++; /* kfl_alloc counts its own */
			return false;
		}
		if (s->n)
			memcpy(nv, s->v, s->n * sizeof(*nv));
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = *v;
	return true;
}

static int add_fn(void *arg, const char *key, size_t klen, const struct kfl_val *v)
{
	void **a = arg;
	return vset_add(a[0], a[1], v) ? 0 : 1;
}

struct rdesc {
	struct kfl_ctx *x;
	struct vset *out;
	const struct kfl_step *st;
	int depth;
};

static void rdesc_walk(struct rdesc *r, const struct kfl_val *v);

static int rdesc_fn(void *arg, const char *key, size_t klen, const struct kfl_val *v)
{
	struct rdesc *r = arg;
	if (v->t == KFL_OBJ || v->t == KFL_ARR)
		rdesc_walk(r, v);
	return 0;
}

/* JSONPath `..key`: every value under `key` at any depth, in document order. */
static void rdesc_walk(struct rdesc *r, const struct kfl_val *v)
{
	struct kfl_val hit;

	if (r->depth > KFL_MAX_RDESC_DEPTH)
		return;
	if (v->t == KFL_OBJ && v->ops->get(v, r->st->key, r->st->klen, &hit, r->x) == 0)
		vset_add(r->x, r->out, &hit);
	r->depth++;
	v->ops->each(v, rdesc_fn, r, r->x);
	r->depth--;
}

static int sel_multi(struct kfl_ctx *x, const struct kfl_sel *sel, struct kfl_val *cur, uint32_t i,
		     bool after_doc, struct kfl_val *out)
{
	struct vset a = { 0 }, b = { 0 };

	if (!vset_add(x, &a, cur))
		return after_doc ? SEL_DOCFAIL : SEL_MISSING;

	for (; i < sel->nsteps; i++) {
		const struct kfl_step *st = &sel->steps[i];
		if (st->type == S_JSON || st->type == S_XML)
			after_doc = true;
		for (uint32_t k = 0; k < a.n; k++) {
			struct kfl_val *v = &a.v[k], r;
			if (st->type == S_WILD) {
				if (v->t == KFL_OBJ || v->t == KFL_ARR) {
					void *arg[2] = { x, &b };
					v->ops->each(v, add_fn, arg, x);
				}
			} else if (st->type == S_RDESC) {
				if (v->t == KFL_OBJ || v->t == KFL_ARR) {
					struct rdesc rd = { .x = x, .out = &b, .st = st };
					rdesc_walk(&rd, v);
				}
			} else if (step1(x, st, v, &r) == 0) {
				vset_add(x, &b, &r);
			}
		}
		/* the next step's results start a fresh set; the old one's
		 * space is simply left in the arena */
		a = b;
		b = (struct vset){ 0 };
		if (a.n == 0)
			return after_doc ? SEL_DOCFAIL : SEL_MISSING;
	}
	if (a.n == 1) {
		*out = a.v[0];
	} else {
		memset(out, 0, sizeof(*out));
		out->t = KFL_ARR;
		out->len = a.n;
		out->u.p = a.v;
		out->ops = &kfl_vals_ops;
	}
	return SEL_FOUND;
}

static int sel_eval(struct kfl_ctx *x, const struct kfl_sel *sel, struct kfl_val *out)
{
	struct kfl_val cur;
	uint32_t i = 0;
	/* Any miss in a selector holding json()/xml() is "false", never a
	 * collapse: the reference hands a missing receiver to json() as the
	 * value false, which then matches nothing (kfl.md sections 7 and 8). */
	bool after_doc = sel->has_doc;

	if (x->item != NULL) {
		/* Known item fields resolve straight to their accessor. */
		enum kfl_fam f = kfl_item_fam(x->item);
		i = sel->fast_steps[f];
		if (i > 0) {
			if (sel->fast_kind[f] == 0 ||
			    kfl_item_node(x, x->item, sel->fast_kind[f], 0, &cur) != 0)
				return after_doc ? SEL_DOCFAIL : SEL_MISSING;
		} else {
			root_val(x, &cur);
		}
	} else {
		root_val(x, &cur);
	}
	if (sel->multi)
		return sel_multi(x, sel, &cur, i, after_doc, out);
	for (; i < sel->nsteps; i++) {
		const struct kfl_step *st = &sel->steps[i];
		struct kfl_val next;
		if (st->type == S_JSON || st->type == S_XML)
			after_doc = true;
		if (step1(x, st, &cur, &next) != 0)
			return after_doc ? SEL_DOCFAIL : SEL_MISSING;
		cur = next;
	}
	*out = cur;
	return SEL_FOUND;
}

/* ------------------------------------------------------------------------ */
/* Nodes */

static int ev(struct kfl_ctx *x, uint32_t ni, struct kfl_val *out);

/* Truth results: where only truthiness matters (the whole filter, and/or
 * operands, groups, macros) nodes answer T_FALSE, T_TRUE or COLLAPSE and
 * never build a value. */
enum { T_FALSE = 0, T_TRUE = 2 };
_Static_assert(COLLAPSE != T_FALSE && COLLAPSE != T_TRUE, "distinct truth results");

static int evt(struct kfl_ctx *x, uint32_t ni);
static inline int operand(struct kfl_ctx *x, uint32_t ni, struct kfl_val *tmp,
			  const struct kfl_val **pp);
static int cmp_truth(struct kfl_ctx *x, const struct kfl_node *n);

/* a and (b or (c ...)): the right operand is the rest of the chain. */
static int evt_chain(struct kfl_ctx *x, uint32_t ni)
{
	const struct kfl_node *nodes = x->prog->nodes;
	size_t mark = x->s->used;

	while (nodes[ni].type == N_AND || nodes[ni].type == N_OR) {
		const struct kfl_node *n = &nodes[ni];
		int t = evt(x, n->a);
		if (t == COLLAPSE)
			return COLLAPSE;
		x->s->used = mark; /* only the truth value is kept */
		if (n->type == N_AND ? t == T_FALSE : t == T_TRUE)
			return t;
		ni = n->b;
	}
	return evt(x, ni);
}

/* A helper call, as a truth value (every helper returns a boolean). */
static int call_truth(struct kfl_ctx *x, const struct kfl_node *n)
{
	struct kfl_val recv, argv;
	const struct kfl_val *arg;
	char rb[32], ab[32];
	const char *rp, *ap;
	size_t rl, al;

	switch (n->op) {
	case H_LIMIT:
		return T_TRUE;
	case H_REDACT:
		if (x->mut_doc != NULL)
			kfl_redact_node(n, x->mut_doc);
		return T_TRUE;
	case H_STARTS:
	case H_ENDS:
	case H_CONTAINS:
		break;
	default:
		return COLLAPSE; /* unknown helper: like a missing field */
	}
	if (operand(x, n->args[0], &argv, &arg) == COLLAPSE)
		return COLLAPSE;
	if (n->has_recv) {
		/* a missing receiver makes a string helper false (kfl.md 7,
		 * recommended divergence), it does not collapse */
		if (sel_eval(x, &n->sel, &recv) != SEL_FOUND)
			return T_FALSE;
	} else {
		root_val(x, &recv);
	}
	kfl_text(&recv, rb, &rp, &rl);
	kfl_text(arg, ab, &ap, &al);
	bool r;
	if (al > rl)
		r = false;
	else if (n->op == H_STARTS)
		r = memcmp(rp, ap, al) == 0;
	else if (n->op == H_ENDS)
		r = memcmp(rp + rl - al, ap, al) == 0;
	else
		r = al == 0 || memmem(rp, rl, ap, al) != NULL;
	return r ? T_TRUE : T_FALSE;
}

/* An operand of a comparison: constants are used in place (no copy),
 * selectors skip a level of dispatch. *pp points at the value. */
static inline int operand(struct kfl_ctx *x, uint32_t ni, struct kfl_val *tmp,
			  const struct kfl_val **pp)
{
	const struct kfl_node *n = &x->prog->nodes[ni];

	if (n->type == N_CONST) {
		*pp = &n->cv;
		return 0;
	}
	*pp = tmp;
	if (n->type == N_SEL) {
		int r = sel_eval(x, &n->sel, tmp);
		if (kc_likely(r == SEL_FOUND))
			return 0;
		if (r == SEL_DOCFAIL) {
			*tmp = kfl_v_bool(false);
			return 0;
		}
		return COLLAPSE;
	}
	return ev(x, ni, tmp);
}

static int ev(struct kfl_ctx *x, uint32_t ni, struct kfl_val *out)
{
	const struct kfl_node *n = &x->prog->nodes[ni];

	switch (n->type) {
	case N_CONST:
		*out = n->cv;
		return 0;
	case N_SEL:
		switch (sel_eval(x, &n->sel, out)) {
		case SEL_FOUND: return 0;
		case SEL_DOCFAIL:
			/* json()/xml() that did not decode or match: false, not a collapse */
			*out = kfl_v_bool(false);
			return 0;
		default: return COLLAPSE;
		}
	case N_CALL: {
		size_t mark = x->s->used; /* helpers return booleans */
		int t = call_truth(x, n);
		x->s->used = mark;
		if (t == COLLAPSE)
			return COLLAPSE;
		*out = kfl_v_bool(t == T_TRUE);
		return 0;
	}
	case N_NOT:
		if (ev(x, n->a, out) == COLLAPSE)
			return COLLAPSE;
		if (out->t == KFL_BOOL) /* ! leaves non-booleans alone */
			out->u.b = !out->u.b;
		return 0;
	case N_NEG:
		if (ev(x, n->a, out) == COLLAPSE)
			return COLLAPSE;
		if (out->t == KFL_FLOAT) { /* - negates floats only */
			out->u.f = -out->u.f;
			out->ftxt = NULL; /* the literal's cached text no longer applies */
		}
		return 0;
	case N_CMP: {
		/* The result is a boolean: whatever the operands put in the
		 * scratch is released, so usage follows nesting, not length. */
		int t = cmp_truth(x, n);
		if (t == COLLAPSE)
			return COLLAPSE;
		*out = kfl_v_bool(t == T_TRUE);
		return 0;
	}
	case N_AND:
	case N_OR: {
		int t = evt_chain(x, ni);
		if (t == COLLAPSE)
			return COLLAPSE;
		*out = kfl_v_bool(t == T_TRUE);
		return 0;
	}
	case N_GROUP:
	case N_MACRO:
		if (ev(x, n->a, out) == COLLAPSE)
			*out = kfl_v_bool(false);
		return 0;
	default:
		return COLLAPSE;
	}
}

/* `field == constant` (or !=) on a struct item, the field known to the
 * item's family: what operand() and sel_eval() would do for it, without their
 * dispatch. Returns -1 when the comparison is not of that shape. */
static inline int cmp_item_const(struct kfl_ctx *x, const struct kfl_node *n)
{
	const struct kfl_node *na = &x->prog->nodes[n->a];
	const struct kfl_node *nb = &x->prog->nodes[n->b];
	size_t mark;
	struct kfl_val a;
	enum kfl_fam f;
	bool r;

	if (x->item == NULL || (n->op != C_EQ && n->op != C_NE) || na->type != N_SEL || nb->type != N_CONST ||
	    na->sel.multi || na->sel.has_doc)
		return -1;
	f = kfl_item_fam(x->item);
	if (na->sel.fast_kind[f] == 0 || na->sel.fast_steps[f] == 0 || na->sel.fast_steps[f] != na->sel.nsteps)
		return -1;
	mark = x->s->used;
	/* A missing field collapses, as sel_eval's SEL_MISSING does. */
	if (kfl_item_node(x, x->item, na->sel.fast_kind[f], 0, &a) != 0)
		return COLLAPSE;
	/* An integer field against a number literal, kfl_equal()'s second
	 * case, without the call. */
	if (a.t == KFL_INT && nb->cv.t == KFL_FLOAT)
		r = kfl_int_float_eq(a.u.i, nb->cv.u.f);
	else
		r = kfl_equal(&a, &nb->cv, x);
	x->s->used = mark;
	return r == (n->op == C_EQ) ? T_TRUE : T_FALSE;
}

/* The general comparison: two operands, any types. Out of line so the
 * callers of cmp_truth() do not pay its frame (two values, the operand
 * dispatch) for the protocol and field == constant cases. */
static __attribute__((noinline)) int cmp_general(struct kfl_ctx *x, const struct kfl_node *n)
{
	size_t mark = x->s->used;
	struct kfl_val a, b;
	const struct kfl_val *pa, *pb;
	bool r;

	if (operand(x, n->a, &a, &pa) == COLLAPSE || operand(x, n->b, &b, &pb) == COLLAPSE)
		return COLLAPSE;
	switch (n->op) {
	case C_EQ: r = kfl_equal(pa, pb, x); break;
	case C_NE: r = !kfl_equal(pa, pb, x); break;
	default: r = kfl_order(pa, pb, n->op, x); break;
	}
	x->s->used = mark;
	return r ? T_TRUE : T_FALSE;
}

static int cmp_truth(struct kfl_ctx *x, const struct kfl_node *n)
{
	int t;

	if (n->by_proto && x->item != NULL && x->item->proto < KC_ITEM_PROTO_MAX)
		return n->proto_truth[x->item->proto];
	t = cmp_item_const(x, n);
	if (t >= 0)
		return t;
	return cmp_general(x, n);
}

/* The comparison under node @p ni's groups and macros, or 0. */
static uint32_t conj_cmp(const struct kc_kfl_prog *prog, uint32_t ni)
{
	while (prog->nodes[ni].type == N_GROUP || prog->nodes[ni].type == N_MACRO)
		ni = prog->nodes[ni].a;
	return prog->nodes[ni].type == N_CMP ? ni : 0;
}

/* Fill prog->conj when the root is a chain of `and` (evt_chain's shape,
 * right-nested) whose operands are comparisons. At the root a collapse and
 * false both fail the filter, so the groups and macros around them, which
 * only turn a collapse into false, change nothing there. */
static void prepare_conj(struct kc_kfl_prog *prog)
{
	uint32_t ni = prog->root, n = 0, c;

	prog->nconj = 0;
	if (ni == 0)
		return;
	while (prog->nodes[ni].type == N_AND) {
		c = conj_cmp(prog, prog->nodes[ni].a);
		if (c == 0 || n == KFL_MAX_CONJ)
			return;
		prog->conj[n++] = c;
		ni = prog->nodes[ni].b;
	}
	c = conj_cmp(prog, ni);
	if (c == 0 || n == KFL_MAX_CONJ)
		return;
	prog->conj[n++] = c;
	prog->nconj = n;
}

int kfl_prepare_proto_tests(struct kc_kfl_prog *prog)
{
	struct kc_item *dummy = NULL;
	struct kc_kfl_scratch *scratch = NULL;
	int rc = 0;

	for (uint32_t i = 1; i < prog->nnodes; i++) {
		struct kfl_node *n = &prog->nodes[i];
		const struct kfl_node *na, *nb;
		bool eligible = true;

		if (n->type != N_CMP || (n->op != C_EQ && n->op != C_NE))
			continue;
		na = &prog->nodes[n->a];
		nb = &prog->nodes[n->b];
		if (na->type != N_SEL || nb->type != N_CONST || na->sel.multi || na->sel.has_doc ||
		    na->sel.nsteps == 0)
			continue;
		for (unsigned f = 0; f < FAM_MAX; f++)
			if (!kfl_item_kind_proto_only(na->sel.fast_kind[f]) ||
			    na->sel.fast_steps[f] != na->sel.nsteps)
				eligible = false;
		if (!eligible)
			continue;
		if (dummy == NULL) {
			dummy = calloc(1, sizeof(*dummy));
			scratch = kc_kfl_scratch_create(0);
			if (dummy == NULL || scratch == NULL) {
				rc = -ENOMEM;
				break;
			}
		}
		/* The evaluator's own answer for an item of each protocol. */
		for (unsigned p = 0; p < KC_ITEM_PROTO_MAX; p++) {
			struct kfl_ctx x = { .s = scratch, .prog = prog, .item = dummy };

			dummy->proto = (uint8_t)p;
			scratch->used = 0;
			n->proto_truth[p] = (uint8_t)cmp_truth(&x, n);
		}
		n->by_proto = true;
	}
	free(dummy);
	kc_kfl_scratch_free(scratch);
	if (rc == 0)
		prepare_conj(prog);
	return rc;
}

/* evt() of the nodes that build a value: out of line, so evt() itself,
 * called a few times per item, has no value in its frame. */
static __attribute__((noinline)) int evt_value(struct kfl_ctx *x, uint32_t ni)
{
	struct kfl_val v;

	if (ev(x, ni, &v) == COLLAPSE)
		return COLLAPSE;
	return kfl_truthy(&v) ? T_TRUE : T_FALSE;
}

static int evt(struct kfl_ctx *x, uint32_t ni)
{
	const struct kfl_node *n = &x->prog->nodes[ni];
	int t;

	switch (n->type) {
	case N_CMP:
		return cmp_truth(x, n);
	case N_AND:
	case N_OR:
		return evt_chain(x, ni);
	case N_GROUP:
	case N_MACRO: {
		/* Nested groups and macros: the innermost turns a collapse
		 * into false, the outer ones then see false. A protocol
		 * macro (MACRO > GROUP > protocol test) is answered from the
		 * test's table here, without a call. */
		uint32_t ci = n->a;
		const struct kfl_node *c = &x->prog->nodes[ci];

		while (c->type == N_GROUP || c->type == N_MACRO) {
			ci = c->a;
			c = &x->prog->nodes[ci];
		}
		if (c->type == N_CMP && c->by_proto && x->item != NULL &&
		    x->item->proto < KC_ITEM_PROTO_MAX)
			t = c->proto_truth[x->item->proto];
		else
			t = evt(x, ci);
		return t == COLLAPSE ? T_FALSE : t;
	}
	case N_CONST:
		return kfl_truthy(&n->cv) ? T_TRUE : T_FALSE;
	case N_CALL: {
		size_t mark = x->s->used;
		t = call_truth(x, n);
		x->s->used = mark;
		return t;
	}
	default:
		return evt_value(x, ni);
	}
}

static bool run(const struct kc_kfl_prog *prog, struct kfl_ctx *x)
{
	x->s->used = 0;
	x->s->st.evals++;
	if (prog->root == 0)
		return true;
	return evt(x, prog->root) == T_TRUE; /* a collapse is false */
}

bool kc_kfl_eval_item(const struct kc_kfl_prog *prog, const struct kc_item *item,
		      struct kc_kfl_scratch *s)
{
	struct kfl_ctx x = { .s = s, .prog = prog, .item = item };

	if (prog->nconj != 0 && item != NULL) {
		/* run() without the tree walk: the same comparisons in the
		 * same order, the first not true ends it. */
		s->used = 0;
		s->st.evals++;
		for (uint32_t k = 0; k < prog->nconj; k++)
			if (cmp_truth(&x, &prog->nodes[prog->conj[k]]) != T_TRUE)
				return false;
		return true;
	}
	return run(prog, &x);
}

bool kc_kfl_eval_json(const struct kc_kfl_prog *prog, const cJSON *doc, struct kc_kfl_scratch *s)
{
	struct kfl_ctx x = { .s = s, .prog = prog, .doc = doc };
	return run(prog, &x);
}

bool kc_kfl_eval_json_mut(const struct kc_kfl_prog *prog, cJSON *doc, struct kc_kfl_scratch *s)
{
	struct kfl_ctx x = { .s = s, .prog = prog, .mut_doc = doc };
	return run(prog, &x);
}
