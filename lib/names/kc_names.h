/**
 * @file
 * Name-resolution history: which name each IP address had, learned from DNS
 * answers, and every change of it over time, written as Kubeshark's
 * name_resolution_history.json next to each snapshot. The current
 * address -> name map also feeds the pcapng Name Resolution Blocks.
 *
 * What is learned from one DNS item (a response, rcode No Error):
 *  - A / AAAA answers: address -> the name at the head of the CNAME chain
 *    that leads to the record, i.e. the name the client asked for (as
 *    Kubeshark does: a lookup of "www.example.com" answered by
 *    "www.example.com CNAME edge.cdn.net", "edge.cdn.net A 192.0.2.1" gives
 *    192.0.2.1 -> "www.example.com"). The chain is followed over the answer
 *    section only, loop-safe; with no CNAME it is the record's own name.
 *  - PTR answers under in-addr.arpa / ip6.arpa: the address spelled by the
 *    owner name -> the PTR target.
 * Only the answer section is used: glue addresses of name servers in the
 * additional section are not what the client resolved.
 *
 * JSON shape (deltas): one object whose keys are Unix times in milliseconds
 * (decimal strings, ascending) of the changes, each value an object
 * { "<address>": "<name>", ... } of the addresses whose name was set or
 * changed at that millisecond. Replaying the keys in order rebuilds the map.
 * A learn that does not change an address's name adds nothing. Times are the
 * DNS response's capture time.
 *
 * Bounds: at most `max_entries` addresses (least recently learned evicted,
 * counted in evicted) and `max_history` change records (oldest dropped,
 * counted in history_dropped).
 *
 * Thread safety: every function takes the object's mutex, so the management
 * thread (learning) and the snapshot job (writing, copying) may call
 * concurrently. Control plane only: not for worker lcores.
 */
#ifndef KC_NAMES_H
#define KC_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kc_common.h"
#include "kc_item.h"

#define KC_NAMES_DEFAULT_MAX_ENTRIES 65536
#define KC_NAMES_DEFAULT_MAX_HISTORY 262144
/** Longest name kept (RFC 1035 text form, escapes included). */
#define KC_NAMES_NAME_MAX 255

struct kc_names;

/** Counters (copied out by kc_names_get_stats). Names: names.<field>. */
struct kc_names_stats {
	uint64_t items_seen;      /**< items given to kc_names_learn_item */
	uint64_t items_ignored;   /**< not a DNS response with rcode 0 */
	uint64_t learned;         /**< new address */
	uint64_t changed;         /**< address got a different name */
	uint64_t unchanged;       /**< same name again: no history record */
	uint64_t evicted;         /**< entries evicted by max_entries (LRU) */
	uint64_t history_dropped; /**< change records dropped by max_history */
	uint64_t name_too_long;   /**< names over KC_NAMES_NAME_MAX: not learned */
	uint64_t bad_ptr_name;    /**< PTR owner not a well-formed reverse name */
	uint64_t entries;         /**< current number of addresses */
	uint64_t history;         /**< current number of change records */
};

/** One current mapping, as produced by kc_names_copy(). */
struct kc_names_pair {
	int family;           /**< AF_INET or AF_INET6 */
	uint8_t addr[16];     /**< 4 or 16 bytes used, network order */
	const char *name;     /**< NUL-terminated, owned by the copy */
};

/** Free @p n and everything it holds; NULL is allowed. No concurrent call. */
void kc_names_destroy(struct kc_names *n);

/**
 * Create an empty history.
 * @param max_entries Addresses kept (>= 1), e.g. KC_NAMES_DEFAULT_MAX_ENTRIES.
 * @param max_history Change records kept (>= 1).
 * @return The object, or NULL with errno EINVAL (a zero bound) or ENOMEM.
 */
struct kc_names *kc_names_create(uint32_t max_entries, uint32_t max_history)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
	__attribute__((malloc, malloc(kc_names_destroy, 1)))
#else
	__attribute__((malloc))
#endif
	;


/**
 * Learn from one DNS item (see the file comment for what is taken).
 * @param n  The history.
 * @param it Item, borrowed for the call; non-DNS items are ignored.
 * @return Number of addresses set or changed (>= 0).
 */
int kc_names_learn_item(struct kc_names *n, const struct kc_item *it);

/**
 * Set one mapping directly.
 * @param family AF_INET or AF_INET6.
 * @param addr   4 or 16 bytes, network order, borrowed.
 * @param name   Name bytes (need not be NUL-terminated), borrowed.
 * @param len    Name length, 1..KC_NAMES_NAME_MAX.
 * @param ts_ms  Time of the change (Unix ms) for the history.
 * @return 1 when set or changed, 0 when unchanged, -EINVAL (bad family or
 *         length), -ENOMEM.
 */
int kc_names_learn(struct kc_names *n, int family, const uint8_t *addr, const char *name,
		   size_t len, uint64_t ts_ms);

/**
 * Current name of an address, NUL-terminated into @p buf.
 * @return Name length, -ENOENT when unknown, -ENOSPC when @p cap is too small.
 */
int kc_names_lookup(struct kc_names *n, int family, const uint8_t *addr, char *buf, size_t cap);

/**
 * Call @p fn for every current mapping, most recently learned first, with the
 * mutex held: @p fn must not call back into this object.
 * @return Number of mappings visited.
 */
size_t kc_names_foreach(struct kc_names *n,
			void (*fn)(void *ctx, int family, const uint8_t *addr, const char *name),
			void *ctx);

/**
 * Copy the current mappings into one allocation (pairs followed by their
 * strings), e.g. for pcapng Name Resolution Blocks written without the lock.
 * @param out   Set to the array (NULL when empty); free with free().
 * @param count Set to its length.
 * @return 0, or -ENOMEM.
 */
int kc_names_copy(struct kc_names *n, struct kc_names_pair **out, size_t *count);

/**
 * Write the history as JSON (see the file comment) to @p fp.
 * @return 0, or -EIO when a write failed.
 */
int kc_names_write_json(struct kc_names *n, FILE *fp);

/**
 * Write the history to @p path (mode 0600) through a temporary file renamed
 * into place, so readers never see a partial file.
 * @param err Detail on failure; may be NULL.
 * @return 0, or a negative errno from open/write/rename.
 */
int kc_names_write_json_path(struct kc_names *n, const char *path, struct kc_err *err);

/** Copy the counters. */
void kc_names_get_stats(struct kc_names *n, struct kc_names_stats *out);

#endif /* KC_NAMES_H */
