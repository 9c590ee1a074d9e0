/**
 * @file
 * Private parts of the KFL engine: tokens, the compiled node array, the value
 * view shared by every backend (cJSON, struct kc_item, decoded json()/xml()
 * documents, multi-match results) and the scratch arena.
 */
#ifndef KFL_INTERNAL_H
#define KFL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_kfl.h"

/* ------------------------------------------------------------------------ */
/* Values */

enum kfl_type {
	KFL_NULL = 0,
	KFL_BOOL,
	KFL_INT,   /**< JSON integer (text: decimal digits) */
	KFL_FLOAT, /**< query literal or JSON fraction (text: %.6g) */
	KFL_STR,
	KFL_ARR,
	KFL_OBJ,
	KFL_REGEX,
};

struct kfl_val;
struct kfl_ctx;

/** Called for each child by kfl_ops.each; @p key is NULL for array elements.
 *  Return non-zero to stop. */
typedef int (*kfl_each_fn)(void *arg, const char *key, size_t klen, const struct kfl_val *v);

/**
 * Collection behaviour of one backend. Lookups return 0 (found), -ENOENT
 * (no such key/index) or -ENOSPC (scratch full, counted).
 */
struct kfl_ops {
	uint32_t (*count)(const struct kfl_val *c, struct kfl_ctx *x);
	int (*at)(const struct kfl_val *c, uint32_t i, struct kfl_val *out, struct kfl_ctx *x);
	int (*get)(const struct kfl_val *c, const char *key, size_t klen, struct kfl_val *out,
		   struct kfl_ctx *x);
	/** @return 0 when finished, the callback's non-zero value when stopped,
	 *  -ENOSPC when the scratch ran out. */
	int (*each)(const struct kfl_val *c, kfl_each_fn fn, void *arg, struct kfl_ctx *x);
};

/** A value view: nothing here owns memory. Strings are not NUL-terminated. */
struct kfl_val {
	uint8_t t;      /**< enum kfl_type */
	uint8_t kind;   /**< backend node kind (struct items) */
	uint16_t idx;   /**< backend index (struct items) */
	uint32_t len;   /**< string length; element count for result arrays */
	union {
		bool b;
		int64_t i;
		double f;
		const char *s;
		const void *p;
	} u;
	union {
		const struct kfl_ops *ops; /**< for KFL_ARR / KFL_OBJ */
		const char *ftxt;          /**< KFL_FLOAT constants: text(), made at compile time */
	};
};

/* ------------------------------------------------------------------------ */
/* Scratch */

struct kc_kfl_scratch {
	struct kc_kfl_scratch_stats st;
	size_t cap;
	size_t used;
	unsigned char *arena; /**< cap bytes, 16-byte aligned */
};

/** Evaluation context: the scratch and the item being judged. */
struct kfl_ctx {
	struct kc_kfl_scratch *s;
	const struct kc_kfl_prog *prog;
	const struct cJSON *doc;   /**< document judged by kc_kfl_eval_json */
	struct cJSON *mut_doc;     /**< non-NULL in kc_kfl_eval_json_mut */
	const struct kc_item *item; /**< non-NULL when judging a struct item */
};

/** Bump-allocate @p n bytes (aligned to 8) or NULL (counted as overflow). */
void *kfl_alloc(struct kfl_ctx *x, size_t n);

/* ------------------------------------------------------------------------ */
/* Lexer */

enum kfl_tok {
	T_EOF = 0,
	T_IDENT,
	T_NUMBER,
	T_STRING,  /**< "..." */
	T_SQSTR,   /**< '...' (delimiters kept in the value) */
	T_BQSTR,   /**< `...` (delimiters kept in the value) */
	T_EQ, T_NE, T_GE, T_GT, T_LE, T_LT,
	T_NOT, T_MINUS, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
	T_COMMA, T_DOT, T_DOTDOT, T_STAR, T_COLON,
};

struct kfl_token {
	uint8_t type;   /**< enum kfl_tok */
	uint32_t off;   /**< byte offset in the text */
	uint32_t len;   /**< bytes of the token text */
	double num;     /**< T_NUMBER */
	bool is_int;    /**< T_NUMBER written without fraction or exponent */
};

struct kfl_lexer {
	const char *text;
	size_t n;
	size_t pos;
	/* error (first one wins) */
	int err;
	uint32_t err_off;
	char err_msg[200];
};

/** Next token; on a lexical error returns T_EOF with lx->err set. */
void kfl_lex_next(struct kfl_lexer *lx, struct kfl_token *t);

/* ------------------------------------------------------------------------ */
/* Compiled program */

enum kfl_node_type {
	N_CONST = 1,
	N_SEL,
	N_CALL,
	N_NOT,
	N_NEG,
	N_CMP,
	N_AND,
	N_OR,
	N_GROUP,
	N_MACRO, /**< a protocol macro: a group around its expansion */
};

enum kfl_cmp { C_EQ = 0, C_NE, C_GT, C_GE, C_LT, C_LE };

enum kfl_step_type {
	S_KEY = 1,
	S_INDEX,
	S_WILD,
	S_RDESC,
	S_JSON,
	S_XML,
};

struct kfl_step {
	uint8_t type;
	uint32_t klen;
	const char *key; /**< NUL-terminated, owned by the program */
	uint32_t index;
	bool bracket;    /**< written ["key"] (printing) */
	const char *src; /**< token text for printing bracket keys */
	uint32_t srclen;
};

/** Protocol families with different struct layouts (kfl_item.c). */
enum kfl_fam { FAM_HTTP = 0, FAM_DNS, FAM_TLS, FAM_L4, FAM_MAX };

struct kfl_sel {
	uint32_t nsteps;
	struct kfl_step *steps;
	bool multi;      /**< has .* or .. (results may be several) */
	bool has_doc;    /**< has json()/xml() */
	/** Struct items: node kind reached by the leading key steps for each
	 *  family (0 = that family has no such field) and steps consumed. */
	uint8_t fast_kind[FAM_MAX];
	uint8_t fast_steps[FAM_MAX];
};

enum kfl_helper {
	H_UNKNOWN = 0,
	H_STARTS,
	H_ENDS,
	H_CONTAINS,
	H_LIMIT,
	H_REDACT,
};

struct kfl_node {
	uint8_t type;    /**< enum kfl_node_type */
	uint8_t op;      /**< enum kfl_cmp for N_CMP; enum kfl_helper for N_CALL */
	uint32_t a, b;   /**< child nodes (N_CMP, N_AND, N_OR: a op b; N_NOT/NEG/GROUP: a) */
	uint32_t off;    /**< source offset (errors, printing) */
	struct kfl_val cv;    /**< N_CONST */
	struct kfl_sel sel;   /**< N_SEL; receiver of N_CALL */
	bool has_recv;        /**< N_CALL: receiver selector present */
	uint32_t nargs;
	uint32_t *args;       /**< N_CALL argument nodes */
	const char *name;     /**< N_CALL helper name, N_MACRO macro name */
	struct kfl_sel *redact; /**< N_CALL redact(): nargs parsed paths */
	const char *src;      /**< original token text for N_CONST (printing) */
	uint32_t srclen;
	bool empty_call;      /**< N_SEL written `a.f()`: a lookup of field f */
	/** N_CMP of a protocol field (protocol.name/abbr/macro) with a
	 *  constant, the body of every protocol macro: its truth result for
	 *  struct items of each kc_item proto, worked out at compile time by
	 *  the evaluator itself (kfl_prepare_proto_tests). */
	bool by_proto;
	uint8_t proto_truth[KC_ITEM_PROTO_MAX];
};

/** Most comparisons a root conjunction may have for the flat path. */
#define KFL_MAX_CONJ 8

struct kc_kfl_prog {
	uint32_t root;      /**< 0 = match all */
	/** When the whole filter is `c1 and c2 and ...` of comparisons
	 *  (each maybe inside groups or a protocol macro): their nodes, in
	 *  order. A struct item then matches when each is true, tried in
	 *  that order: what the tree walk answers at the root, where a
	 *  collapse and false both mean no match (kfl_prepare_proto_tests). */
	uint32_t conj[KFL_MAX_CONJ];
	uint32_t nconj;     /**< 0: walk the tree */
	uint32_t nnodes;
	struct kfl_node *nodes; /**< [0] unused */
	char *text;         /**< normalised */
	uint64_t limit;
	bool has_redact;
	void **regexes;     /**< RE2 objects to free */
	uint32_t nregexes;
	char **strs;        /**< owned strings to free */
	uint32_t nstrs, capstrs;
};

/* ------------------------------------------------------------------------ */
/* Values: conversions and operators (kfl_val.c) */

/** text(v) as in kfl.md section 5; @p buf (32 bytes) backs numbers. */
void kfl_text(const struct kfl_val *v, char buf[32], const char **p, size_t *len);
double kfl_num(const struct kfl_val *v);
/** Truthiness (kfl.md section 5); inline: it runs once per operand. */
static inline bool kfl_truthy(const struct kfl_val *v)
{
	switch (v->t) {
	case KFL_BOOL: return v->u.b;
	case KFL_STR: return v->len > 0;
	case KFL_INT: return v->u.i > 0;
	case KFL_FLOAT: return v->u.f > 0;
	case KFL_ARR: return v->ops->count(v, NULL) > 0;
	default: return false; /* null, objects (even non-empty), regexes */
	}
}
/** a == b with kfl.md section 6 rules. */
bool kfl_equal(const struct kfl_val *a, const struct kfl_val *b, struct kfl_ctx *x);
/** a op b for ordering ops. */
bool kfl_order(const struct kfl_val *a, const struct kfl_val *b, int op, struct kfl_ctx *x);

static inline struct kfl_val kfl_v_bool(bool b)
{
	struct kfl_val v = { .t = KFL_BOOL };
	v.u.b = b;
	return v;
}

static inline struct kfl_val kfl_v_int(int64_t i)
{
	struct kfl_val v = { .t = KFL_INT };
	v.u.i = i;
	return v;
}

static inline struct kfl_val kfl_v_str(const char *s, size_t n)
{
	struct kfl_val v = { .t = KFL_STR, .len = (uint32_t)n };
	v.u.s = s;
	return v;
}

/** Result arrays (several matches) live in the scratch. */
extern const struct kfl_ops kfl_vals_ops;

/* cJSON backend (kfl_json.c) */
void kfl_json_val(const struct cJSON *j, struct kfl_val *out);

/* json()/xml() decoding into the scratch (kfl_doc.c) */
int kfl_doc_json(struct kfl_ctx *x, const char *s, size_t n, struct kfl_val *out);
int kfl_doc_xml(struct kfl_ctx *x, const char *s, size_t n, struct kfl_val *out);
/** Decode standard base64 (with padding) when all of @p s is valid;
 *  @return decoded length, or -1 when not base64. @p out holds n*3/4 bytes. */
long kfl_b64_decode(const char *s, size_t n, unsigned char *out);
size_t kfl_b64_encode(const unsigned char *in, size_t n, char *out);

/** Integer @p i == number literal @p f, as kfl_equal() decides it (text
 *  equality, see kfl_val.c); inline for the evaluator's field == constant
 *  path. */
static inline bool kfl_int_float_eq(int64_t i, double f)
{
	if (!(f == f) || f != (double)(int64_t)f || f >= 1e6 || f <= -1e6)
		return false;
	if (f == 0 && __builtin_signbit(f))
		return false;
	return (int64_t)f == i;
}

/* struct kc_item backend (kfl_item.c) */
void kfl_item_root(const struct kc_item *it, struct kfl_val *out);
/* Inline: the evaluator asks it for every field == constant test. */
static inline enum kfl_fam kfl_item_fam(const struct kc_item *it)
{
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC: return FAM_HTTP;
	case KC_ITEM_DNS: return FAM_DNS;
	case KC_ITEM_TLS: return FAM_TLS;
	default: return FAM_L4;
	}
}
/** Value of node @p kind of @p it; -ENOENT when absent for this item. */
int kfl_item_node(struct kfl_ctx *x, const struct kc_item *it, uint8_t kind, uint16_t idx,
		  struct kfl_val *out);
/** Compile time: walk the static key tables of family @p fam. */
void kfl_item_fast(struct kfl_sel *sel);
/** True for node kinds whose value depends on nothing but the item's proto. */
bool kfl_item_kind_proto_only(uint8_t kind);
/** Compile time, after parsing: fill by_proto/proto_truth (kfl_eval.c).
 *  @return 0 or -ENOMEM. */
int kfl_prepare_proto_tests(struct kc_kfl_prog *prog);

/* RE2 shim (kfl_re2.cc) */
#ifdef __cplusplus
extern "C" {
#endif
void *kfl_re_compile(const char *pat, size_t len, char *err, size_t errlen);
bool kfl_re_search(const void *re, const char *s, size_t len);
void kfl_re_free(void *re);
#ifdef __cplusplus
}
#endif

/* Deepest descent of a `..key` step (selectors and redact paths). */
#define KFL_MAX_RDESC_DEPTH 32

/* datetime() text to ms since the epoch, UTC (kfl_time.c); false if the text
 * does not follow the layout. */
bool kfl_parse_datetime(const char *s, size_t n, int64_t *ms);

/* Normalised text of a program (kfl_print.c); malloc'd, NULL on ENOMEM. */
char *kfl_print(const struct kc_kfl_prog *p);

/* Apply one redact() call to @p doc (kfl_redact.c): values replaced, or
 * -ENOMEM. */
int kfl_redact_node(const struct kfl_node *n, struct cJSON *doc);

/* Compiler internals shared with redact (kfl_redact.c, kfl_parse.c) */
int kfl_parse_redact_path(const char *s, size_t n, struct kfl_sel *out, struct kc_kfl_prog *p,
			  char *why, size_t whylen, uint32_t *bad_off);
char *kfl_prog_strdup(struct kc_kfl_prog *p, const char *s, size_t n);

#endif /* KFL_INTERNAL_H */
