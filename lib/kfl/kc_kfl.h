/**
 * @file
 * KFL (Kubeshark Filter Language, classic "v1") engine: compile a filter once
 * into an immutable program, then judge items with it on any number of
 * threads. Semantics follow /work/shared/docs/kfl.md, including its
 * recommended divergences (see docs/kfl-compat.md for every choice made).
 *
 * - Compile (control path, allocates): kc_kfl_compile() checks everything
 *   (syntax, string escapes, regexes via RE2, helper arguments) and rejects an
 *   invalid filter with a message that quotes the filter, points at the column
 *   with a caret and says what was expected. Nothing invalid reaches a worker.
 * - Evaluate (hot path): kc_kfl_eval_item() on a struct kc_item, or
 *   kc_kfl_eval_json() on any cJSON tree (Kubeshark entries, kflcap's own item
 *   log). Evaluation never allocates, never locks (RE2 keeps an internal
 *   shared-mode DFA cache lock; see kfl-compat.md) and never prints: all
 *   temporary values live in a caller-owned struct kc_kfl_scratch, one per
 *   thread.
 * - Swap (run time): programs are immutable and refcount-free, so a worker can
 *   read the current one through struct kc_kfl_slot (an atomic pointer) and
 *   the control thread retires the old program after a grace period
 *   (rte_rcu_qsbr in app/).
 *
 * Thread safety: a struct kc_kfl_prog may be evaluated by many threads at once;
 * a struct kc_kfl_scratch belongs to one thread at a time.
 */
#ifndef KC_KFL_H
#define KC_KFL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"
#include "kc_item.h"

struct cJSON;

/** Longest filter text accepted, in bytes. */
#define KC_KFL_MAX_TEXT 65536
/** Deepest nesting of parentheses / unary operators / comparisons. */
#define KC_KFL_MAX_DEPTH 128
/** Most nodes (operands, operators, calls) in one program. */
#define KC_KFL_MAX_NODES 8192

/** A compiled filter. Immutable once kc_kfl_compile() returned it. */
struct kc_kfl_prog;

/**
 * Per-thread evaluation workspace: a bump arena for temporary values (numbers
 * printed as text, joined headers, base64, decoded json()/xml() documents,
 * multi-match results). Reset at the start of every evaluation; each
 * comparison and helper call gives back what its operands used, so the need
 * follows the nesting of the filter, not its length. When it is full the
 * value being built is treated as missing (a `.*`/`..` step keeps the matches
 * it collected) and `overflows` counts it.
 */
struct kc_kfl_scratch;

/** Counters of one scratch (one thread); read them from that thread only. */
struct kc_kfl_scratch_stats {
	uint64_t evals;     /**< evaluations run with this scratch */
	uint64_t overflows; /**< values dropped because the arena was full */
	uint64_t doc_fail;  /**< json()/xml() inputs that did not decode */
};

/**
 * Compile @p text. An empty or blank filter compiles to "match everything".
 * `now()` and the duration helpers use the wall clock at this call.
 *
 * Thread safety: any thread; allocates.
 * @param text  NUL-terminated filter (borrowed for the call only).
 * @param out   receives the program; the caller owns it (kc_kfl_prog_free).
 * @param err   may be NULL; on -EINVAL holds "kfl: <what> at column C: expected
 *              ..." followed by the offending line and a caret line.
 * @return 0; -EINVAL invalid filter; -E2BIG filter longer than
 *         KC_KFL_MAX_TEXT or more than KC_KFL_MAX_NODES nodes; -ENOMEM.
 */
int kc_kfl_compile(const char *text, struct kc_kfl_prog **out, struct kc_err *err) kc_must_check;

/**
 * kc_kfl_compile() with a fixed clock and the error position.
 * @param now_ms   value of now() in ms since the epoch (tests, replays).
 * @param err_col  may be NULL; on -EINVAL/-E2BIG receives the 1-based byte
 *                 column of the error within its line, else 0.
 * @param err_line may be NULL; 1-based line of the error, else 0.
 * @return as kc_kfl_compile().
 */
int kc_kfl_compile_at(const char *text, uint64_t now_ms, struct kc_kfl_prog **out,
		      struct kc_err *err, uint32_t *err_line, uint32_t *err_col) kc_must_check;

/** Free a program (NULL allowed). The caller guarantees no thread still
 *  evaluates it (after an RCU grace period when it was published). */
void kc_kfl_prog_free(struct kc_kfl_prog *prog);

/** Normalised filter text (single spaces, comments dropped, macros kept by
 *  name); compiling it again yields the same program. Borrowed from @p prog. */
const char *kc_kfl_prog_text(const struct kc_kfl_prog *prog);

/** The n of the first limit(n) in the filter, 0 when there is none. */
uint64_t kc_kfl_prog_limit(const struct kc_kfl_prog *prog);

/** True when the filter contains redact(...). */
bool kc_kfl_prog_has_redact(const struct kc_kfl_prog *prog);

/** True for the empty filter (matches everything). */
bool kc_kfl_prog_is_match_all(const struct kc_kfl_prog *prog);

/**
 * Create a scratch (control path). @p arena_bytes 0 picks the default
 * (64 KiB, enough for a fully decoded 2 KiB body prefix and deep selectors).
 * @return the scratch, or NULL with errno ENOMEM / EINVAL (size below 4 KiB).
 */
struct kc_kfl_scratch *kc_kfl_scratch_create(size_t arena_bytes);
/** Free a scratch (NULL allowed). */
void kc_kfl_scratch_free(struct kc_kfl_scratch *s);
/** Counters of @p s (borrowed; valid while @p s lives). */
const struct kc_kfl_scratch_stats *kc_kfl_scratch_stats(const struct kc_kfl_scratch *s);

/**
 * Judge a struct item. Fields are presented exactly as the JSON rendering
 * documented in kfl_item.c (kfl.md section 10 shape), so the result equals
 * kc_kfl_eval_json() on that rendering.
 * redact() is true and changes nothing here: the item log applies
 * kc_kfl_redact_json() to the rendered JSON (see kfl-compat.md).
 *
 * Thread safety: any thread with its own @p s. No allocation, no syscall.
 * @return true when the item matches.
 */
bool kc_kfl_eval_item(const struct kc_kfl_prog *prog, const struct kc_item *item,
		      struct kc_kfl_scratch *s);

/**
 * Judge a JSON document (read-only; redact() is true and changes nothing).
 * Thread safety: as kc_kfl_eval_item(); @p doc must not change meanwhile.
 * @return true when the document matches.
 */
bool kc_kfl_eval_json(const struct kc_kfl_prog *prog, const struct cJSON *doc,
		      struct kc_kfl_scratch *s);

/**
 * Judge a JSON document and apply redact() in place, left to right, so later
 * comparisons see "[REDACTED]" (kfl.md section 8). Replacing a value
 * allocates a cJSON string: control/offline path only.
 * @return true when the document matches.
 */
bool kc_kfl_eval_json_mut(const struct kc_kfl_prog *prog, struct cJSON *doc,
			  struct kc_kfl_scratch *s);

/**
 * Apply every redact() path of @p prog to @p doc regardless of the rest of
 * the filter (for renderers of struct items that matched).
 * @return number of values replaced, or -ENOMEM.
 */
int kc_kfl_redact_json(const struct kc_kfl_prog *prog, struct cJSON *doc);

/* ------------------------------------------------------------------------ */
/* Run-time swap (RCU-style). */

/** Called with the program that was replaced; it must free it only after
 *  every reader has passed a quiescent state. */
typedef void (*kc_kfl_retire_fn)(void *ctx, struct kc_kfl_prog *old);

/**
 * Holder of the current program. Readers (workers) call kc_kfl_slot_get() once
 * per burst; the writer (one control thread) calls kc_kfl_slot_publish().
 * NULL means "no filter configured" (callers decide; recording stops).
 */
struct kc_kfl_slot {
	_Atomic(struct kc_kfl_prog *) cur;
};

/** Initialise with @p prog (may be NULL); ownership moves to the slot. */
static inline void kc_kfl_slot_init(struct kc_kfl_slot *slot, struct kc_kfl_prog *prog)
{
	atomic_init(&slot->cur, prog);
}

/** Current program (acquire: everything the compiler wrote is visible).
 *  Thread safety: any reader; wait-free. Valid until the reader's next
 *  quiescent state. */
static inline const struct kc_kfl_prog *kc_kfl_slot_get(struct kc_kfl_slot *slot)
{
	return atomic_load_explicit(&slot->cur, memory_order_acquire);
}

/**
 * Publish @p prog (may be NULL; ownership moves to the slot) and hand the old
 * one to @p retire (called only when the old one is not NULL).
 * Thread safety: one writer at a time.
 */
void kc_kfl_slot_publish(struct kc_kfl_slot *slot, struct kc_kfl_prog *prog,
			 kc_kfl_retire_fn retire, void *ctx);

#endif /* KC_KFL_H */
