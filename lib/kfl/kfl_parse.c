/*
 * KFL parser and compiler: tokens -> node array (kfl_internal.h), with macros
 * expanded, helpers checked and constant-folded (datetime, now, durations),
 * regexes compiled by RE2 and struct-item fast paths resolved. Grammar and
 * precedence are kfl.md section 4.1: one right-recursive level for and/or,
 * right-recursive equality and comparison.
 *
 * and/or chains are parsed and evaluated iteratively (a list of 500 hosts is
 * a normal filter); everything else recurses, bounded by KC_KFL_MAX_DEPTH.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

struct parser {
	struct kfl_token *toks;
	uint32_t ntoks;
	uint32_t pos;
	uint32_t capnodes;
	struct kc_kfl_prog *p;
	const char *raw; /* prog-owned copy of the text */
	int depth;
	int err;
	uint32_t err_off;
	char err_msg[300];
	uint64_t now_ms;
};

static void perr(struct parser *ps, int rc, uint32_t off, const char *fmt, ...) kc_printf_like(4, 5);

static void perr(struct parser *ps, int rc, uint32_t off, const char *fmt, ...)
{
	va_list ap;

	if (ps->err)
		return;
	ps->err = rc;
	ps->err_off = off;
	va_start(ap, fmt);
	vsnprintf(ps->err_msg, sizeof(ps->err_msg), fmt, ap);
	va_end(ap);
}

static const struct kfl_token *tok(struct parser *ps)
{
	return &ps->toks[ps->pos];
}

static const struct kfl_token *peek(struct parser *ps, uint32_t k)
{
	uint32_t i = ps->pos + k;
	return &ps->toks[i < ps->ntoks ? i : ps->ntoks - 1];
}

static void adv(struct parser *ps)
{
	if (ps->pos + 1 < ps->ntoks)
		ps->pos++;
}

static bool tok_is(struct parser *ps, const struct kfl_token *t, const char *word)
{
	size_t n = strlen(word);
	return t->type == T_IDENT && t->len == n && memcmp(ps->raw + t->off, word, n) == 0;
}

/* "found X" part of messages. */
static const char *found(struct parser *ps, const struct kfl_token *t, char *buf, size_t n)
{
	if (t->type == T_EOF)
		return "end of filter";
	unsigned len = t->len > 40 ? 40 : t->len;
	snprintf(buf, n, "'%.*s%s'", (int)len, ps->raw + t->off, t->len > 40 ? "..." : "");
	return buf;
}

char *kfl_prog_strdup(struct kc_kfl_prog *p, const char *s, size_t n)
{
	if (p->nstrs == p->capstrs) {
		uint32_t nc = p->capstrs ? p->capstrs * 2 : 16;
		char **ns = realloc(p->strs, nc * sizeof(*ns));
		if (ns == NULL)
			return NULL;
		p->strs = ns;
		p->capstrs = nc;
	}
	char *d = malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	p->strs[p->nstrs++] = d;
	return d;
}

static uint32_t new_node(struct parser *ps, uint8_t type, uint32_t off)
{
	struct kc_kfl_prog *p = ps->p;

	if (ps->err)
		return 0;
	if (p->nnodes >= KC_KFL_MAX_NODES) {
		perr(ps, -E2BIG, off, "filter too large: more than %d operands and operators",
		     KC_KFL_MAX_NODES);
		return 0;
	}
	if (p->nnodes == ps->capnodes) {
		uint32_t nc = ps->capnodes ? ps->capnodes * 2 : 32;
		struct kfl_node *nn = realloc(p->nodes, nc * sizeof(*nn));
		if (nn == NULL) {
			perr(ps, -ENOMEM, off, "out of memory");
			return 0;
		}
		p->nodes = nn;
		ps->capnodes = nc;
	}
	uint32_t i = p->nnodes++;
	memset(&p->nodes[i], 0, sizeof(p->nodes[i]));
	p->nodes[i].type = type;
	p->nodes[i].off = off;
	return i;
}

#define NODE(ps, i) (&(ps)->p->nodes[(i)])

/* ------------------------------------------------------------------------ */
/* Selectors */

struct stepvec {
	struct kfl_step *v;
	uint32_t n, cap;
};

static bool step_push(struct parser *ps, struct stepvec *sv, struct kfl_step st, uint32_t off)
{
	if (sv->n == sv->cap) {
		uint32_t nc = sv->cap ? sv->cap * 2 : 4;
		if (nc > 250) {
			if (sv->n >= 250) {
				perr(ps, -E2BIG, off, "selector too long: more than 250 steps");
				return false;
			}
			nc = 250;
		}
		struct kfl_step *nv = realloc(sv->v, nc * sizeof(*nv));
		if (nv == NULL) {
			perr(ps, -ENOMEM, off, "out of memory");
			return false;
		}
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = st;
	return true;
}

static bool key_step(struct parser *ps, struct stepvec *sv, uint8_t type, const char *k, size_t n,
		     uint32_t off, const char *src, uint32_t srclen)
{
	struct kfl_step st = { .type = type, .klen = (uint32_t)n };
	st.key = kfl_prog_strdup(ps->p, k, n);
	if (st.key == NULL) {
		perr(ps, -ENOMEM, off, "out of memory");
		return false;
	}
	st.src = src;
	st.srclen = srclen;
	return step_push(ps, sv, st, off);
}

static void sel_finish(struct kfl_sel *sel, struct stepvec *sv)
{
	sel->steps = sv->v;
	sel->nsteps = sv->n;
	for (uint32_t i = 0; i < sv->n; i++) {
		if (sv->v[i].type == S_WILD || sv->v[i].type == S_RDESC)
			sel->multi = true;
		if (sv->v[i].type == S_JSON || sv->v[i].type == S_XML)
			sel->has_doc = true;
	}
	kfl_item_fast(sel);
}

/* Value of a string token: "..." has every leading and trailing '"' removed
 * (the reference trims them, escapes stay verbatim); '...' and `...` keep
 * their delimiters (kfl.md section 3). */
static void str_value(struct parser *ps, const struct kfl_token *t, const char **s, size_t *n)
{
	const char *p = ps->raw + t->off;
	size_t len = t->len;

	if (t->type == T_STRING) {
		while (len > 0 && *p == '"') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == '"')
			len--;
	}
	*s = p;
	*n = len;
}

static bool is_str_tok(const struct kfl_token *t)
{
	return t->type == T_STRING || t->type == T_SQSTR || t->type == T_BQSTR;
}

/* ------------------------------------------------------------------------ */
/* Macros (kfl.md section 9): whole identifiers only, never inside a dotted
 * selector. */

struct macro {
	const char *name;
	const char *field; /* "protocol.abbr" or "protocol.name" */
	const char *value;
};

static const struct macro macros[] = {
	{ "http", "abbr", "HTTP" },    { "http2", "abbr", "HTTP/2" }, { "grpc", "abbr", "gRPC" },
	{ "gql", "abbr", "GQL" },      { "dns", "abbr", "DNS" },      { "redis", "name", "redis" },
	{ "kafka", "name", "kafka" },  { "amqp", "name", "amqp" },    { "tcp", "name", "tcp" },
	{ "udp", "name", "udp" },      { "icmp", "name", "icmp" },    { "sctp", "name", "sctp" },
	{ "ws", "name", "ws" },
};

static uint32_t mk_sel(struct parser *ps, uint32_t off, const char *k1, const char *k2)
{
	struct stepvec sv = { 0 };
	uint32_t n = new_node(ps, N_SEL, off);

	if (!n)
		return 0;
	if (!key_step(ps, &sv, S_KEY, k1, strlen(k1), off, NULL, 0) ||
	    (k2 != NULL && !key_step(ps, &sv, S_KEY, k2, strlen(k2), off, NULL, 0))) {
		free(sv.v);
		return 0;
	}
	sel_finish(&NODE(ps, n)->sel, &sv);
	return n;
}

static uint32_t mk_cmp(struct parser *ps, uint32_t off, uint8_t op, uint32_t a, uint32_t b)
{
	uint32_t n = new_node(ps, N_CMP, off);
	if (!n)
		return 0;
	NODE(ps, n)->op = op;
	NODE(ps, n)->a = a;
	NODE(ps, n)->b = b;
	return n;
}

static uint32_t mk_const(struct parser *ps, uint32_t off, struct kfl_val v)
{
	uint32_t n = new_node(ps, N_CONST, off);
	if (n)
		NODE(ps, n)->cv = v;
	return n;
}

static uint32_t mk_unary(struct parser *ps, uint8_t type, uint32_t off, uint32_t a)
{
	uint32_t n = new_node(ps, type, off);
	if (n)
		NODE(ps, n)->a = a;
	return n;
}

/* `<field> == "<value>"` wrapped in a group. */
static uint32_t mk_proto_test(struct parser *ps, uint32_t off, const char *field, const char *value)
{
	uint32_t s = mk_sel(ps, off, "protocol", field);
	uint32_t c = mk_const(ps, off, kfl_v_str(value, strlen(value)));
	uint32_t e = s && c ? mk_cmp(ps, off, C_EQ, s, c) : 0;
	return e ? mk_unary(ps, N_GROUP, off, e) : 0;
}

static uint32_t expand_macro(struct parser *ps, const char *name, size_t n, uint32_t off)
{
	uint32_t body = 0;
	const char *mname = NULL;

	for (size_t i = 0; i < KC_ARRAY_SIZE(macros); i++) {
		if (strlen(macros[i].name) == n && memcmp(macros[i].name, name, n) == 0) {
			body = mk_proto_test(ps, off, macros[i].field, macros[i].value);
			mname = macros[i].name;
			break;
		}
	}
	if (mname == NULL && n == 3 && memcmp(name, "tls", 3) == 0) {
		/* Our TLS handshake items have protocol.name "tls"; Kubeshark
		 * items carry a boolean `tls` (captured through TLS
		 * interception). Either one makes `tls` true (kfl-compat.md). */
		uint32_t a = mk_proto_test(ps, off, "name", "tls");
		uint32_t s = mk_sel(ps, off, "tls", NULL);
		uint32_t t = mk_const(ps, off, kfl_v_bool(true));
		uint32_t c = s && t ? mk_cmp(ps, off, C_EQ, s, t) : 0;
		uint32_t g = c ? mk_unary(ps, N_GROUP, off, c) : 0;
		body = a && g ? new_node(ps, N_OR, off) : 0;
		if (body) {
			NODE(ps, body)->a = a;
			NODE(ps, body)->b = g;
		}
		mname = "tls";
	}
	if (mname == NULL && n == 5 && memcmp(name, "error", 5) == 0) {
		uint32_t s = mk_sel(ps, off, "error", NULL);
		struct kfl_val nil = { .t = KFL_NULL };
		uint32_t c = s ? mk_const(ps, off, nil) : 0;
		body = c ? mk_cmp(ps, off, C_NE, s, c) : 0;
		mname = "error";
	}
	if (mname == NULL || body == 0)
		return 0;
	uint32_t m = mk_unary(ps, N_MACRO, off, body);
	if (m)
		NODE(ps, m)->name = mname;
	return m;
}

static bool is_macro_name(const char *name, size_t n)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(macros); i++)
		if (strlen(macros[i].name) == n && memcmp(macros[i].name, name, n) == 0)
			return true;
	return (n == 3 && memcmp(name, "tls", 3) == 0) || (n == 5 && memcmp(name, "error", 5) == 0);
}

/* ------------------------------------------------------------------------ */
/* Helpers evaluated at compile time. */

/* A number literal, possibly under unary minus. */
static bool const_num(struct parser *ps, uint32_t n, double *out)
{
	const struct kfl_node *nd = NODE(ps, n);
	if (nd->type == N_CONST && nd->cv.t == KFL_FLOAT && nd->name == NULL) {
		*out = nd->cv.u.f;
		return true;
	}
	if (nd->type == N_NEG && const_num(ps, nd->a, out)) {
		*out = -*out;
		return true;
	}
	return false;
}

static const struct kfl_node *const_str(struct parser *ps, uint32_t n)
{
	const struct kfl_node *nd = NODE(ps, n);
	return nd->type == N_CONST && nd->cv.t == KFL_STR && nd->name == NULL ? nd : NULL;
}

static const struct {
	const char *name;
	int64_t ms;
} durations[] = {
	{ "seconds", 1000LL },          { "minutes", 60000LL },        { "hours", 3600000LL },
	{ "days", 86400000LL },         { "weeks", 604800000LL },      { "months", 2592000000LL },
	{ "years", 31536000000LL },
};

/* Turn a call into its node: helper checks per kfl.md section 8. */
static uint32_t finish_call(struct parser *ps, uint32_t off, const char *name, size_t nlen,
			    bool has_recv, struct stepvec *recv, uint32_t *args, uint32_t nargs)
{
	uint32_t n;
	char nm[32];

	snprintf(nm, sizeof(nm), "%.*s", (int)(nlen < 31 ? nlen : 31), name);
	const char *pname = kfl_prog_strdup(ps->p, name, nlen);
	if (pname == NULL) {
		perr(ps, -ENOMEM, off, "out of memory");
		goto fail;
	}

	if (strcmp(nm, "startsWith") == 0 || strcmp(nm, "endsWith") == 0 ||
	    strcmp(nm, "contains") == 0) {
		if (nargs != 1) {
			perr(ps, -EINVAL, off, "%s() takes one argument: expected %s(\"text\")", nm, nm);
			goto fail;
		}
		n = new_node(ps, N_CALL, off);
		if (!n)
			goto fail;
		NODE(ps, n)->op = nm[0] == 's' ? H_STARTS : nm[0] == 'e' ? H_ENDS : H_CONTAINS;
		goto call;
	}
	if (strcmp(nm, "datetime") == 0) {
		const struct kfl_node *a = nargs == 1 ? const_str(ps, args[0]) : NULL;
		int64_t ms;
		if (a == NULL) {
			perr(ps, -EINVAL, off, "datetime() takes one string literal: expected "
			     "datetime(\"1/2/2006, 3:04:05.000 PM\")");
			goto fail;
		}
		/* Text that is not a date is the value false (kfl.md section 8). */
		struct kfl_val v = kfl_parse_datetime(a->cv.u.s, a->cv.len, &ms) ? kfl_v_int(ms) :
									  kfl_v_bool(false);
		n = mk_const(ps, off, v);
		goto folded;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(durations); i++) {
		if (strcmp(nm, durations[i].name) != 0)
			continue;
		double d;
		if (nargs != 1 || !const_num(ps, args[0], &d)) {
			perr(ps, -EINVAL, off, "%s() takes one number literal: expected %s(5)", nm, nm);
			goto fail;
		}
		double v = (double)ps->now_ms + d * (double)durations[i].ms;
		if (!(v > -9.2e18 && v < 9.2e18)) {
			perr(ps, -EINVAL, off, "%s(): value out of range", nm);
			goto fail;
		}
		n = mk_const(ps, off, kfl_v_int((int64_t)v));
		goto folded;
	}
	if (strcmp(nm, "limit") == 0) {
		double d;
		if (nargs != 1 || !const_num(ps, args[0], &d) || !(d >= 1) || d > 1e18) {
			perr(ps, -EINVAL, off, "limit() takes one number literal >= 1: expected limit(100)");
			goto fail;
		}
		n = new_node(ps, N_CALL, off);
		if (!n)
			goto fail;
		NODE(ps, n)->op = H_LIMIT;
		if (ps->p->limit == 0) /* the first limit wins */
			ps->p->limit = (uint64_t)d;
		goto call;
	}
	if (strcmp(nm, "redact") == 0) {
		if (nargs == 0)
			goto unknown;
		struct kfl_sel *paths = calloc(nargs, sizeof(*paths));
		if (paths == NULL) {
			perr(ps, -ENOMEM, off, "out of memory");
			goto fail;
		}
		n = new_node(ps, N_CALL, off);
		if (!n) {
			free(paths);
			goto fail;
		}
		NODE(ps, n)->redact = paths;
		NODE(ps, n)->op = H_REDACT;
		for (uint32_t i = 0; i < nargs; i++) {
			const struct kfl_node *a = const_str(ps, args[i]);
			char why[160];
			uint32_t bad = 0;
			if (a == NULL) {
				perr(ps, -EINVAL, NODE(ps, args[i])->off,
				     "redact() takes string literals: expected redact(\"request.headers.Authorization\")");
				break;
			}
			if (kfl_parse_redact_path(a->cv.u.s, a->cv.len, &paths[i], ps->p, why,
						  sizeof(why), &bad) != 0) {
				/* point inside the string: +1 for the opening quote */
				perr(ps, -EINVAL, a->off + 1 + bad, "bad redact path: %s", why);
				break;
			}
		}
		ps->p->has_redact = true;
		goto call;
	}
unknown:
	/* Unknown helpers collapse at evaluation like a missing field (kfl.md
	 * section 7); kept so the normalised text shows them. */
	n = new_node(ps, N_CALL, off);
	if (!n)
		goto fail;
	NODE(ps, n)->op = H_UNKNOWN;
call:
	NODE(ps, n)->name = pname;
	NODE(ps, n)->args = args;
	NODE(ps, n)->nargs = nargs;
	NODE(ps, n)->has_recv = has_recv;
	if (has_recv)
		sel_finish(&NODE(ps, n)->sel, recv);
	else
		free(recv->v);
	return ps->err ? 0 : n;
folded:
	if (n) {
		/* keep name and arguments for printing */
		NODE(ps, n)->name = pname;
		NODE(ps, n)->args = args;
		NODE(ps, n)->nargs = nargs;
		free(recv->v);
		return n;
	}
fail:
	free(args);
	free(recv->v);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Recursive descent */

static uint32_t parse_logical(struct parser *ps);

static bool enter(struct parser *ps, uint32_t off)
{
	if (++ps->depth > KC_KFL_MAX_DEPTH) {
		perr(ps, -E2BIG, off, "filter nested too deeply: more than %d levels", KC_KFL_MAX_DEPTH);
		return false;
	}
	return true;
}

/* selector [ "(" args ")" ] starting at an identifier (not a keyword). */
static uint32_t parse_selector(struct parser *ps)
{
	struct stepvec sv = { 0 };
	const struct kfl_token *t = tok(ps);
	uint32_t off = t->off;
	bool prev_bracket = false;
	char fb[64];

	/* A bare name followed by "(" is a call with no receiver. */
	if (peek(ps, 1)->type == T_LPAREN)
		goto call_name;
	if (!key_step(ps, &sv, S_KEY, ps->raw + t->off, t->len, t->off, ps->raw + t->off, t->len))
		goto fail;
	adv(ps);

	for (;;) {
		t = tok(ps);
		if (t->type == T_DOT) {
			const struct kfl_token *k = peek(ps, 1);
			if (k->type == T_STAR) {
				struct kfl_step st = { .type = S_WILD };
				if (!step_push(ps, &sv, st, t->off))
					goto fail;
				adv(ps);
				adv(ps);
				prev_bracket = false;
				continue;
			}
			if (k->type != T_IDENT) {
				perr(ps, -EINVAL, k->off, "expected a field name or '*' after '.', found %s",
				     found(ps, k, fb, sizeof(fb)));
				goto fail;
			}
			if (peek(ps, 2)->type == T_LPAREN) {
				bool is_json = tok_is(ps, k, "json"), is_xml = tok_is(ps, k, "xml");
				if ((is_json || is_xml) && peek(ps, 3)->type == T_RPAREN) {
					struct kfl_step st = { .type = is_json ? S_JSON : S_XML };
					if (!step_push(ps, &sv, st, k->off))
						goto fail;
					adv(ps);
					adv(ps);
					adv(ps);
					adv(ps);
					prev_bracket = false;
					continue;
				}
				adv(ps); /* to the helper name */
				goto call_name;
			}
			if (!key_step(ps, &sv, S_KEY, ps->raw + k->off, k->len, k->off,
				      ps->raw + k->off, k->len))
				goto fail;
			adv(ps);
			adv(ps);
			prev_bracket = false;
			continue;
		}
		if (t->type == T_DOTDOT) {
			const struct kfl_token *k = peek(ps, 1);
			if (k->type != T_IDENT) {
				perr(ps, -EINVAL, k->off, "expected a field name after '..', found %s",
				     found(ps, k, fb, sizeof(fb)));
				goto fail;
			}
			if (!key_step(ps, &sv, S_RDESC, ps->raw + k->off, k->len, k->off,
				      ps->raw + k->off, k->len))
				goto fail;
			adv(ps);
			adv(ps);
			prev_bracket = false;
			continue;
		}
		if (t->type == T_LBRACK) {
			const struct kfl_token *k = peek(ps, 1);
			if (prev_bracket) {
				perr(ps, -EINVAL, t->off, "two bracket steps may not be adjacent: expected "
				     "'.' between them (write a[\"x\"].b, not a[\"x\"][\"y\"])");
				goto fail;
			}
			if (k->type == T_NUMBER && k->is_int && k->num <= 4294967295.0) {
				struct kfl_step st = { .type = S_INDEX, .index = (uint32_t)k->num };
				if (!step_push(ps, &sv, st, k->off))
					goto fail;
			} else if (is_str_tok(k)) {
				const char *s;
				size_t n;
				str_value(ps, k, &s, &n);
				if (!key_step(ps, &sv, S_KEY, s, n, k->off, ps->raw + k->off, k->len))
					goto fail;
				sv.v[sv.n - 1].bracket = true;
			} else if (k->type == T_STAR) {
				/* "[*]" is the key named "*" in the reference, not a wildcard */
				if (!key_step(ps, &sv, S_KEY, "*", 1, k->off, ps->raw + k->off, 1))
					goto fail;
				sv.v[sv.n - 1].bracket = true;
			} else {
				perr(ps, -EINVAL, k->off, "expected an array index or a quoted key after '[', "
				     "found %s", found(ps, k, fb, sizeof(fb)));
				goto fail;
			}
			if (peek(ps, 2)->type != T_RBRACK) {
				perr(ps, -EINVAL, peek(ps, 2)->off, "expected ']', found %s",
				     found(ps, peek(ps, 2), fb, sizeof(fb)));
				goto fail;
			}
			adv(ps);
			adv(ps);
			adv(ps);
			prev_bracket = true;
			continue;
		}
		break;
	}
	{
		uint32_t n = new_node(ps, N_SEL, off);
		if (!n)
			goto fail;
		sel_finish(&NODE(ps, n)->sel, &sv);
		return n;
	}

call_name:
	/* tok() is the helper name, followed by "(" */
	{
		const struct kfl_token *nt = tok(ps);
		const char *name = ps->raw + nt->off;
		size_t nlen = nt->len;
		uint32_t coff = nt->off;
		uint32_t *args = NULL, nargs = 0, cap = 0;
		bool has_recv = sv.n > 0;

		adv(ps); /* name */
		adv(ps); /* ( */
		if (tok(ps)->type == T_RPAREN) {
			adv(ps);
			if (nlen == 3 && memcmp(name, "now", 3) == 0) {
				uint32_t n = mk_const(ps, coff, kfl_v_int((int64_t)ps->now_ms));
				free(sv.v);
				if (n)
					NODE(ps, n)->name = "now";
				return n;
			}
			/* An empty argument list is not a call: it is a lookup of
			 * the field with that name (kfl.md section 4.1). */
			if (!key_step(ps, &sv, S_KEY, name, nlen, coff, name, (uint32_t)nlen))
				goto fail;
			uint32_t n = new_node(ps, N_SEL, off);
			if (!n)
				goto fail;
			sel_finish(&NODE(ps, n)->sel, &sv);
			NODE(ps, n)->empty_call = true;
			return n;
		}
		for (;;) {
			const struct kfl_token *a = tok(ps);
			/* tagged form `name: expr` parses; the tag means nothing */
			if (a->type == T_IDENT && peek(ps, 1)->type == T_COLON) {
				adv(ps);
				adv(ps);
			}
			uint32_t an = parse_logical(ps);
			if (!an || ps->err) {
				free(args);
				goto fail;
			}
			if (nargs == cap) {
				cap = cap ? cap * 2 : 4;
				uint32_t *na = realloc(args, cap * sizeof(*na));
				if (na == NULL) {
					free(args);
					perr(ps, -ENOMEM, coff, "out of memory");
					goto fail;
				}
				args = na;
			}
			args[nargs++] = an;
			if (tok(ps)->type == T_COMMA) {
				adv(ps);
				continue;
			}
			if (tok(ps)->type == T_RPAREN) {
				adv(ps);
				break;
			}
			perr(ps, -EINVAL, tok(ps)->off, "expected ',' or ')' in the arguments of %.*s(), "
			     "found %s", (int)(nlen > 40 ? 40 : nlen), name, found(ps, tok(ps), fb, sizeof(fb)));
			free(args);
			goto fail;
		}
		return finish_call(ps, coff, name, nlen, has_recv, &sv, args, nargs);
	}
fail:
	free(sv.v);
	return 0;
}

static uint32_t parse_primary(struct parser *ps)
{
	const struct kfl_token *t = tok(ps);
	char fb[64];

	switch (t->type) {
	case T_NUMBER: {
		struct kfl_val v = { .t = KFL_FLOAT };
		char txt[32];
		const char *tp;
		size_t tl;
		v.u.f = t->num;
		/* text() of a literal never changes: print it once, here */
		kfl_text(&v, txt, &tp, &tl);
		v.ftxt = kfl_prog_strdup(ps->p, tp, tl);
		if (v.ftxt == NULL) {
			perr(ps, -ENOMEM, t->off, "out of memory");
			return 0;
		}
		uint32_t n = mk_const(ps, t->off, v);
		if (n) {
			NODE(ps, n)->src = ps->raw + t->off;
			NODE(ps, n)->srclen = t->len;
		}
		adv(ps);
		return n;
	}
	case T_STRING:
	case T_SQSTR:
	case T_BQSTR: {
		const char *s;
		size_t len;
		str_value(ps, t, &s, &len);
		uint32_t n = mk_const(ps, t->off, kfl_v_str(s, len));
		if (n) {
			NODE(ps, n)->src = ps->raw + t->off;
			NODE(ps, n)->srclen = t->len;
		}
		adv(ps);
		return n;
	}
	case T_LPAREN: {
		uint32_t off = t->off;
		if (!enter(ps, off))
			return 0;
		adv(ps);
		uint32_t in = parse_logical(ps);
		ps->depth--;
		if (!in)
			return 0;
		if (tok(ps)->type != T_RPAREN) {
			perr(ps, -EINVAL, tok(ps)->off, "expected ')' or an operator, found %s",
			     found(ps, tok(ps), fb, sizeof(fb)));
			return 0;
		}
		adv(ps);
		return mk_unary(ps, N_GROUP, off, in);
	}
	case T_IDENT:
		break;
	default:
		perr(ps, -EINVAL, t->off, "expected an operand (a field, \"string\", number, true, "
		     "false, nil, r\"regex\", '(' or '!'), found %s", found(ps, t, fb, sizeof(fb)));
		return 0;
	}

	if (tok_is(ps, t, "true") || tok_is(ps, t, "false")) {
		uint32_t n = mk_const(ps, t->off, kfl_v_bool(tok_is(ps, t, "true")));
		if (n) {
			NODE(ps, n)->src = ps->raw + t->off;
			NODE(ps, n)->srclen = t->len;
		}
		adv(ps);
		return n;
	}
	if (tok_is(ps, t, "nil")) {
		struct kfl_val nil = { .t = KFL_NULL };
		uint32_t n = mk_const(ps, t->off, nil);
		if (n) {
			NODE(ps, n)->src = "nil";
			NODE(ps, n)->srclen = 3;
		}
		adv(ps);
		return n;
	}
	if (tok_is(ps, t, "and") || tok_is(ps, t, "or")) {
		perr(ps, -EINVAL, t->off, "expected an operand before %s, found %s",
		     found(ps, t, fb, sizeof(fb)), found(ps, t, fb, sizeof(fb)));
		return 0;
	}
	if (tok_is(ps, t, "r") && is_str_tok(peek(ps, 1))) {
		const struct kfl_token *st = peek(ps, 1);
		const char *s;
		size_t len;
		char why[200];
		str_value(ps, st, &s, &len);
		void *re = kfl_re_compile(s, len, why, sizeof(why));
		if (re == NULL) {
			perr(ps, -EINVAL, st->off, "invalid regex (%s): expected an RE2 pattern", why);
			return 0;
		}
		void **nr = realloc(ps->p->regexes, (ps->p->nregexes + 1) * sizeof(*nr));
		if (nr == NULL) {
			kfl_re_free(re);
			perr(ps, -ENOMEM, st->off, "out of memory");
			return 0;
		}
		ps->p->regexes = nr;
		nr[ps->p->nregexes++] = re;
		struct kfl_val v = { .t = KFL_REGEX };
		v.u.p = re;
		uint32_t n = mk_const(ps, t->off, v);
		if (n) {
			NODE(ps, n)->src = ps->raw + st->off;
			NODE(ps, n)->srclen = st->len;
		}
		adv(ps);
		adv(ps);
		return n;
	}
	/* A bare macro name: not followed by a step or a call. */
	const struct kfl_token *nx = peek(ps, 1);
	if (is_macro_name(ps->raw + t->off, t->len) && nx->type != T_DOT && nx->type != T_DOTDOT &&
	    nx->type != T_LBRACK && nx->type != T_LPAREN) {
		uint32_t n = expand_macro(ps, ps->raw + t->off, t->len, t->off);
		adv(ps);
		return n;
	}
	return parse_selector(ps);
}

static uint32_t parse_unary(struct parser *ps)
{
	const struct kfl_token *t = tok(ps);

	if (t->type == T_NOT || t->type == T_MINUS) {
		uint8_t type = t->type == T_NOT ? N_NOT : N_NEG;
		uint32_t off = t->off;
		if (!enter(ps, off))
			return 0;
		adv(ps);
		uint32_t a = parse_unary(ps);
		ps->depth--;
		return a ? mk_unary(ps, type, off, a) : 0;
	}
	return parse_primary(ps);
}

static int cmp_op(uint8_t tt)
{
	switch (tt) {
	case T_GE: return C_GE;
	case T_GT: return C_GT;
	case T_LE: return C_LE;
	case T_LT: return C_LT;
	case T_EQ: return C_EQ;
	case T_NE: return C_NE;
	default: return -1;
	}
}

static uint32_t parse_comparison(struct parser *ps)
{
	uint32_t a = parse_unary(ps);
	const struct kfl_token *t = tok(ps);

	if (!a || (t->type != T_GE && t->type != T_GT && t->type != T_LE && t->type != T_LT))
		return a;
	uint32_t off = t->off;
	int op = cmp_op(t->type);
	if (!enter(ps, off))
		return 0;
	adv(ps);
	uint32_t b = parse_comparison(ps);
	ps->depth--;
	return b ? mk_cmp(ps, off, (uint8_t)op, a, b) : 0;
}

static uint32_t parse_equality(struct parser *ps)
{
	uint32_t a = parse_comparison(ps);
	const struct kfl_token *t = tok(ps);

	if (!a || (t->type != T_EQ && t->type != T_NE))
		return a;
	uint32_t off = t->off;
	int op = cmp_op(t->type);
	if (!enter(ps, off))
		return 0;
	adv(ps);
	uint32_t b = parse_equality(ps);
	ps->depth--;
	return b ? mk_cmp(ps, off, (uint8_t)op, a, b) : 0;
}

/* equality { (and|or) equality }, grouped to the right. */
static uint32_t parse_logical(struct parser *ps)
{
	uint32_t head = parse_equality(ps);
	uint32_t last = 0; /* the and/or node whose right operand is the chain's end */

	if (!head)
		return 0;
	for (;;) {
		const struct kfl_token *t = tok(ps);
		bool is_and = tok_is(ps, t, "and");
		if (!is_and && !tok_is(ps, t, "or"))
			break;
		uint32_t off = t->off;
		adv(ps);
		uint32_t b = parse_equality(ps);
		if (!b)
			return 0;
		/* Replace the last operand X with (X op b): right grouping.
		 * Indices, not pointers: new_node() may move the array. */
		uint32_t n = new_node(ps, is_and ? N_AND : N_OR, off);
		if (!n)
			return 0;
		if (last == 0) {
			NODE(ps, n)->a = head;
			head = n;
		} else {
			NODE(ps, n)->a = NODE(ps, last)->b;
			NODE(ps, last)->b = n;
		}
		NODE(ps, n)->b = b;
		last = n;
	}
	return head;
}

/* ------------------------------------------------------------------------ */
/* Entry points */

void kc_kfl_prog_free(struct kc_kfl_prog *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 1; i < p->nnodes; i++) {
		struct kfl_node *n = &p->nodes[i];
		free(n->sel.steps);
		free(n->args);
		if (n->redact != NULL) {
			for (uint32_t k = 0; k < n->nargs; k++)
				free(n->redact[k].steps);
			free(n->redact);
		}
	}
	free(p->nodes);
	for (uint32_t i = 0; i < p->nregexes; i++)
		kfl_re_free(p->regexes[i]);
	free(p->regexes);
	for (uint32_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->text);
	free(p);
}

/* "kfl: <msg> at column C" + the line + a caret under the column. */
static int report(struct parser *ps, const char *text, size_t len, struct kc_err *err,
		  uint32_t *err_line, uint32_t *err_col)
{
	uint32_t off = ps->err_off > len ? (uint32_t)len : ps->err_off;
	uint32_t line = 1;
	size_t ls = 0;
	bool multi = memchr(text, '\n', len) != NULL;

	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n') {
			line++;
			ls = i + 1;
		}
	size_t le = ls;
	while (le < len && text[le] != '\n')
		le++;
	uint32_t col = (uint32_t)(off - ls) + 1;
	if (err_line)
		*err_line = line;
	if (err_col)
		*err_col = col;
	if (err == NULL)
		return ps->err;

	/* Show at most 72 characters of the line around the column. */
	size_t ws = ls, we = le;
	if (off - ls > 48)
		ws = off - 40;
	if (we - ws > 72)
		we = ws + 72;
	char shown[80], caret[80];
	size_t k = 0;
	bool pre = ws > ls, post = we < le;
	if (pre) {
		memcpy(shown, "...", 3);
		k = 3;
	}
	for (size_t i = ws; i < we; i++) {
		unsigned char c = (unsigned char)text[i];
		shown[k++] = c == '\t' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (post) {
		memcpy(shown + k, "...", 3);
		k += 3;
	}
	shown[k] = '\0';
	size_t cpos = (pre ? 3 : 0) + (off - ws);
	if (cpos > sizeof(caret) - 2)
		cpos = sizeof(caret) - 2;
	memset(caret, ' ', cpos);
	caret[cpos] = '^';
	caret[cpos + 1] = '\0';
	char where[48];
	if (multi)
		snprintf(where, sizeof(where), "line %u, column %u", line, col);
	else
		snprintf(where, sizeof(where), "column %u", col);
	return kc_err_set(err, ps->err, "kfl: %s (at %s)\n  %s\n  %s", ps->err_msg, where, shown,
			  caret);
}

int kc_kfl_compile_at(const char *text, uint64_t now_ms, struct kc_kfl_prog **out,
		      struct kc_err *err, uint32_t *err_line, uint32_t *err_col)
{
	struct parser ps = { .now_ms = now_ms };
	struct kfl_lexer lx = { 0 };
	uint32_t cap = 0;
	int rc;

	if (err_line)
		*err_line = 0;
	if (err_col)
		*err_col = 0;
	*out = NULL;
	if (text == NULL)
		return kc_err_set(err, -EINVAL, "kfl: no filter text");
	size_t len = strlen(text);
	if (len > KC_KFL_MAX_TEXT)
		return kc_err_set(err, -E2BIG, "kfl: filter is %zu bytes: expected at most %d", len,
				  KC_KFL_MAX_TEXT);

	struct kc_kfl_prog *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return kc_err_set(err, -ENOMEM, "kfl: out of memory");
	ps.p = p;
	ps.raw = kfl_prog_strdup(p, text, len);
	if (ps.raw == NULL) {
		rc = kc_err_set(err, -ENOMEM, "kfl: out of memory");
		goto fail;
	}
	p->nnodes = 1; /* node 0 means "none" */
	ps.capnodes = 0;

	lx.text = ps.raw;
	lx.n = len;
	for (;;) {
		if (ps.ntoks == cap) {
			cap = cap ? cap * 2 : 64;
			struct kfl_token *nt = realloc(ps.toks, cap * sizeof(*nt));
			if (nt == NULL) {
				rc = kc_err_set(err, -ENOMEM, "kfl: out of memory");
				goto fail;
			}
			ps.toks = nt;
		}
		struct kfl_token *t = &ps.toks[ps.ntoks++];
		kfl_lex_next(&lx, t);
		if (t->type == T_EOF)
			break;
	}
	if (lx.err) {
		ps.err = lx.err;
		ps.err_off = lx.err_off;
		snprintf(ps.err_msg, sizeof(ps.err_msg), "%s", lx.err_msg);
		rc = report(&ps, ps.raw, len, err, err_line, err_col);
		goto fail;
	}
	/* nodes[0] placeholder */
	p->nodes = calloc(32, sizeof(*p->nodes));
	if (p->nodes == NULL) {
		rc = kc_err_set(err, -ENOMEM, "kfl: out of memory");
		goto fail;
	}
	ps.capnodes = 32;

	if (ps.ntoks > 1) { /* not blank: blank filters match everything */
		p->root = parse_logical(&ps);
		if (!ps.err && tok(&ps)->type != T_EOF) {
			char fb[64];
			const struct kfl_token *t = tok(&ps);
			const char *hint = "";
			if (tok_is(&ps, t, "AND") || tok_is(&ps, t, "OR"))
				hint = " (operators are lower case)";
			else if (t->type == T_RPAREN)
				hint = " (unbalanced ')')";
			perr(&ps, -EINVAL, t->off, "expected 'and', 'or', a comparison or end of filter, "
			     "found %s%s", found(&ps, t, fb, sizeof(fb)), hint);
		}
		if (!ps.err && p->root == 0)
			perr(&ps, -EINVAL, 0, "internal error: empty program");
		if (ps.err) {
			if (ps.err == -ENOMEM) {
				rc = kc_err_set(err, -ENOMEM, "kfl: out of memory");
				goto fail;
			}
			rc = report(&ps, ps.raw, len, err, err_line, err_col);
			goto fail;
		}
	}

	p->text = kfl_print(p);
	if (p->text == NULL || kfl_prepare_proto_tests(p) != 0) {
		rc = kc_err_set(err, -ENOMEM, "kfl: out of memory");
		goto fail;
	}
	free(ps.toks);
	*out = p;
	return 0;
fail:
	free(ps.toks);
	kc_kfl_prog_free(p);
	return rc;
}

int kc_kfl_compile(const char *text, struct kc_kfl_prog **out, struct kc_err *err)
{
	return kc_kfl_compile_at(text, kc_wall_us() / 1000, out, err, NULL, NULL);
}

const char *kc_kfl_prog_text(const struct kc_kfl_prog *prog)
{
	return prog->text;
}

uint64_t kc_kfl_prog_limit(const struct kc_kfl_prog *prog)
{
	return prog->limit;
}

bool kc_kfl_prog_has_redact(const struct kc_kfl_prog *prog)
{
	return prog->has_redact;
}

bool kc_kfl_prog_is_match_all(const struct kc_kfl_prog *prog)
{
	return prog->root == 0;
}

void kc_kfl_slot_publish(struct kc_kfl_slot *slot, struct kc_kfl_prog *prog,
			 kc_kfl_retire_fn retire, void *ctx)
{
	/* release: a reader that sees the pointer sees the whole program */
	struct kc_kfl_prog *old = atomic_exchange_explicit(&slot->cur, prog, memory_order_acq_rel);
	if (old != NULL && retire != NULL)
		retire(ctx, old);
}
