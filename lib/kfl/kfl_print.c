/*
 * Normalised filter text: the program printed back with single spaces,
 * comments dropped, macros and helper calls by name, and string and number
 * literals exactly as written (their raw text is the value's source of
 * truth). Compiling the result yields the same program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap : 64);
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void print_node(const struct kc_kfl_prog *p, uint32_t i, struct sbuf *b);

static void print_sel(const struct kfl_sel *sel, struct sbuf *b)
{
	char num[16];
	for (uint32_t i = 0; i < sel->nsteps; i++) {
		const struct kfl_step *st = &sel->steps[i];
		switch (st->type) {
		case S_KEY:
			if (st->bracket) {
				sb_str(b, "[");
				sb_put(b, st->src, st->srclen);
				sb_str(b, "]");
			} else {
				if (i > 0)
					sb_str(b, ".");
				sb_put(b, st->key, st->klen);
			}
			break;
		case S_INDEX:
			snprintf(num, sizeof(num), "[%u]", st->index);
			sb_str(b, num);
			break;
		case S_WILD: sb_str(b, ".*"); break;
		case S_RDESC:
			sb_str(b, "..");
			sb_put(b, st->key, st->klen);
			break;
		case S_JSON: sb_str(b, ".json()"); break;
		case S_XML: sb_str(b, ".xml()"); break;
		}
	}
}

static void print_call(const struct kc_kfl_prog *p, const struct kfl_node *n, struct sbuf *b)
{
	if (n->has_recv) {
		print_sel(&n->sel, b);
		sb_str(b, ".");
	}
	sb_str(b, n->name);
	sb_str(b, "(");
	for (uint32_t i = 0; i < n->nargs; i++) {
		if (i)
			sb_str(b, ", ");
		print_node(p, n->args[i], b);
	}
	sb_str(b, ")");
}

static void print_node(const struct kc_kfl_prog *p, uint32_t i, struct sbuf *b)
{
	static const char *const ops[] = { " == ", " != ", " > ", " >= ", " < ", " <= " };
	const struct kfl_node *n = &p->nodes[i];

	switch (n->type) {
	case N_CONST:
		if (n->name != NULL) {
			print_call(p, n, b);
		} else if (n->cv.t == KFL_REGEX) {
			sb_str(b, "r");
			sb_put(b, n->src, n->srclen);
		} else if (n->src != NULL) {
			sb_put(b, n->src, n->srclen);
		} else if (n->cv.t == KFL_STR) { /* macro constants */
			sb_str(b, "\"");
			sb_put(b, n->cv.u.s, n->cv.len);
			sb_str(b, "\"");
		} else {
			sb_str(b, n->cv.t == KFL_NULL ? "nil" : n->cv.u.b ? "true" : "false");
		}
		break;
	case N_SEL:
		print_sel(&n->sel, b);
		if (n->empty_call)
			sb_str(b, "()");
		break;
	case N_CALL: print_call(p, n, b); break;
	case N_NOT:
		sb_str(b, "!");
		print_node(p, n->a, b);
		break;
	case N_NEG:
		sb_str(b, "-");
		print_node(p, n->a, b);
		break;
	case N_CMP:
		print_node(p, n->a, b);
		sb_str(b, ops[n->op]);
		print_node(p, n->b, b);
		break;
	case N_AND:
	case N_OR:
		print_node(p, n->a, b);
		sb_str(b, n->type == N_AND ? " and " : " or ");
		print_node(p, n->b, b);
		break;
	case N_GROUP:
		sb_str(b, "(");
		print_node(p, n->a, b);
		sb_str(b, ")");
		break;
	case N_MACRO: sb_str(b, n->name); break;
	}
}

char *kfl_print(const struct kc_kfl_prog *p)
{
	struct sbuf b = { 0 };

	sb_put(&b, "", 0);
	if (p->root)
		print_node(p, p->root, &b);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
