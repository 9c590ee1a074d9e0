/*
 * redact(): path parsing at compile time and replacement of every value a
 * path reaches by "[REDACTED]" in a mutable cJSON tree (kfl.md section 8).
 * Replacing allocates (a cJSON string), so this runs only where a document
 * is being rendered or rewritten, never on a worker's struct items.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"


static const char redacted[] = "[REDACTED]";

static int redact_at(cJSON *parent, cJSON *node, const struct kfl_sel *sel, uint32_t i, int depth);

static int redact_replace(cJSON *parent, cJSON *node)
{
	cJSON *r = cJSON_CreateString(redacted);
	if (r == NULL)
		return -ENOMEM;
	/* ReplaceItemViaPointer does not carry the key over: objects go by key */
	if (cJSON_IsObject(parent) && node->string != NULL) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(parent, node->string, r)) {
			cJSON_Delete(r);
			return 0;
		}
		return 1;
	}
	if (!cJSON_ReplaceItemViaPointer(parent, node, r)) {
		cJSON_Delete(r);
		return 0;
	}
	return 1;
}

static int redact_rdesc(cJSON *node, const struct kfl_sel *sel, uint32_t i, int depth)
{
	int total = 0;
	if (depth > KFL_MAX_RDESC_DEPTH || !(cJSON_IsObject(node) || cJSON_IsArray(node)))
		return 0;
	const struct kfl_step *st = &sel->steps[i];
	cJSON *hit = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, st->key) : NULL;
	if (hit != NULL) {
		int r = redact_at(node, hit, sel, i + 1, depth + 1);
		if (r < 0)
			return r;
		total += r;
	}
	for (cJSON *c = node->child, *next; c != NULL; c = next) {
		next = c->next;
		int r = redact_rdesc(c, sel, i, depth + 1);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

static int redact_at(cJSON *parent, cJSON *node, const struct kfl_sel *sel, uint32_t i, int depth)
{
	if (depth > 64)
		return 0;
	if (i == sel->nsteps)
		return parent != NULL ? redact_replace(parent, node) : 0;
	const struct kfl_step *st = &sel->steps[i];
	cJSON *c;
	int total = 0;
	switch (st->type) {
	case S_KEY:
		c = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, st->key) : NULL;
		return c ? redact_at(node, c, sel, i + 1, depth + 1) : 0;
	case S_INDEX:
		c = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, (int)st->index) : NULL;
		return c ? redact_at(node, c, sel, i + 1, depth + 1) : 0;
	case S_WILD:
		if (!(cJSON_IsObject(node) || cJSON_IsArray(node)))
			return 0;
		for (cJSON *k = node->child, *next; k != NULL; k = next) {
			next = k->next;
			int r = redact_at(node, k, sel, i + 1, depth + 1);
			if (r < 0)
				return r;
			total += r;
		}
		return total;
	case S_RDESC:
		return redact_rdesc(node, sel, i, depth);
	default:
		return 0; /* json()/xml() are refused at compile time */
	}
}

int kfl_redact_node(const struct kfl_node *n, cJSON *doc)
{
	int total = 0;
	for (uint32_t k = 0; k < n->nargs; k++) {
		int r = redact_at(NULL, doc, &n->redact[k], 0, 0);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

int kc_kfl_redact_json(const struct kc_kfl_prog *prog, cJSON *doc)
{
	int total = 0;
	for (uint32_t i = 1; i < prog->nnodes; i++) {
		const struct kfl_node *n = &prog->nodes[i];
		if (n->type == N_CALL && n->op == H_REDACT) {
			int r = kfl_redact_node(n, doc);
			if (r < 0)
				return r;
			total += r;
		}
	}
	return total;
}

/* Redact path: `..key`, `.key`, `key`, `['Key-With-Dash']`, `["k"]`, `[0]`,
 * `.*`, `[*]`; keys may hold any character but . [ ] ' ". */
int kfl_parse_redact_path(const char *s, size_t n, struct kfl_sel *out, struct kc_kfl_prog *p,
			  char *why, size_t whylen, uint32_t *bad_off)
{
	struct kfl_step *steps = NULL;
	uint32_t ns = 0, cap = 0;
	size_t i = 0;

#define RFAIL(msg)                                          \
	do {                                                \
		snprintf(why, whylen, "%s", msg);           \
		*bad_off = (uint32_t)i;                     \
		free(steps);                                \
		return -EINVAL;                             \
	} while (0)

	if (n == 0)
		RFAIL("empty path: expected a field such as \"request.headers.Authorization\"");
	if (i < n && s[i] == '$')
		i++;
	while (i < n) {
		struct kfl_step st = { .type = S_KEY };
		if (ns == cap) {
			cap = cap ? cap * 2 : 4;
			if (cap > 250)
				RFAIL("path too long: expected at most 250 steps");
			struct kfl_step *nsv = realloc(steps, cap * sizeof(*nsv));
			if (nsv == NULL)
				RFAIL("out of memory: expected to allocate the path");
			steps = nsv;
		}
		if (s[i] == '[') {
			size_t st0 = ++i;
			if (i < n && (s[i] == '\'' || s[i] == '"')) {
				char q = s[i++];
				size_t ks = i;
				while (i < n && s[i] != q)
					i++;
				if (i >= n)
					RFAIL("unterminated quoted key: expected a closing quote");
				st.key = kfl_prog_strdup(p, s + ks, i - ks);
				st.klen = (uint32_t)(i - ks);
				i++;
			} else if (i < n && s[i] == '*') {
				st.type = S_WILD;
				i++;
			} else {
				uint64_t v = 0;
				while (i < n && s[i] >= '0' && s[i] <= '9' && v < 100000000)
					v = v * 10 + (uint64_t)(s[i++] - '0');
				if (i == st0)
					RFAIL("expected an index, '*' or a quoted key after '['");
				st.type = S_INDEX;
				st.index = (uint32_t)v;
			}
			if (i >= n || s[i] != ']')
				RFAIL("expected ']'");
			i++;
		} else {
			if (i + 1 < n && s[i] == '.' && s[i + 1] == '.') {
				st.type = S_RDESC;
				i += 2;
			} else if (s[i] == '.') {
				i++;
			} else if (ns > 0) {
				RFAIL("expected '.' or '['");
			}
			if (i < n && s[i] == '*' && st.type == S_KEY) {
				st.type = S_WILD;
				i++;
			} else {
				size_t ks = i;
				while (i < n && s[i] != '.' && s[i] != '[' && s[i] != ']' && s[i] != '\'' &&
				       s[i] != '"' && s[i] != '(')
					i++;
				if (i < n && s[i] == '(')
					RFAIL("json()/xml() are not supported in redact paths: expected a plain path");
				if (i == ks)
					RFAIL("expected a field name");
				st.key = kfl_prog_strdup(p, s + ks, i - ks);
				st.klen = (uint32_t)(i - ks);
			}
		}
		if ((st.type == S_KEY || st.type == S_RDESC) && st.key == NULL)
			RFAIL("out of memory: expected to allocate the path");
		steps[ns++] = st;
	}
#undef RFAIL
	memset(out, 0, sizeof(*out));
	out->steps = steps;
	out->nsteps = ns;
	return 0;
}

