/* Private to lib/reasm: the core context, the chunk pool and the helpers the
 * push/ack/flush code uses to take and return chunks. */
#ifndef REASM_INTERNAL_H
#define REASM_INTERNAL_H

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "kc_reasm.h"

/* Direction flags (struct kc_reasm_dir.flags). */
#define KC_REASM_DIR_F_STARTED 0x01u /* next_seq is valid */
_Static_assert(KC_REASM_DIR_F_STARTED == KC_REASM_DIR_STARTED, "kc_reasm_push_is_noop() reads this bit");
#define KC_REASM_DIR_F_SYN 0x02u     /* isn is valid */
#define KC_REASM_DIR_F_FIN 0x04u     /* fin_seq is valid */
_Static_assert(KC_REASM_DIR_F_FIN == KC_REASM_DIR_FIN, "kc_reasm_dir_finished() reads this bit");
#define KC_REASM_DIR_F_ACK 0x08u     /* ack is valid */
#define KC_REASM_DIR_F_ZWIN 0x10u    /* peer's last window was 0 */
_Static_assert(KC_REASM_DIR_F_ZWIN == KC_REASM_DIR_ZWIN, "kc_reasm_ack_is_noop() reads this bit");
#define KC_REASM_DIR_F_RST 0x20u     /* an RST was seen (informative) */

/* Modulo-2^32 sequence comparisons (RFC 9293 3.4): a is before b when the
 * signed 32-bit distance is negative. Valid while the two are less than 2^31
 * apart, which KC_REASM_MAX_WINDOW guarantees for everything we hold. */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* Metadata of one pool chunk. A held chunk carries bytes
 * [seq, seq + len) of one direction; a direction's chunks form a list sorted
 * by seq, without overlaps, every seq after the direction's next_seq.
 * Links are pool index + 1 so that 0 means "none" and a zeroed
 * struct kc_reasm_dir is a valid empty one. */
struct chunk {
	uint32_t next; /* next chunk of the same list (index + 1), 0 = end */
	uint32_t seq;  /* sequence number of data[0] */
	uint32_t len;  /* bytes used, 1 .. chunk_size */
};

struct kc_reasm_core {
	/* Per-packet fields first. */
	struct chunk *chunks; /* n_chunks entries: metadata kept apart from the
	                         bytes so list walks touch few cache lines */
	uint8_t *data;        /* n_chunks * chunk_size bytes */
	uint32_t free_head;   /* free list (index + 1), linked through chunk.next */
	uint32_t used;        /* chunks currently held */
	uint32_t chunk_size;
	uint32_t n_chunks;
	uint32_t max_dir_bytes;
	uint32_t max_dir_segs;
	uint8_t dir_limit_policy; /* enum kc_reasm_policy */
	uint8_t memcap_policy;
	struct kc_memcap memcap;
	/* Counters on their own cache line (style.md rule 12). */
	alignas(KC_CACHE_LINE) struct kc_reasm_stats stats;
};

static inline struct chunk *chunk_at(struct kc_reasm_core *core, uint32_t link)
{
	return &core->chunks[link - 1];
}

static inline uint8_t *chunk_data(struct kc_reasm_core *core, uint32_t link)
{
	return core->data + (size_t)(link - 1) * core->chunk_size;
}

/* Take one chunk under the memcap. Returns its link (index + 1) or 0 when
 * the memcap or the pool said no (memcap.refused counts it). */
uint32_t pool_take(struct kc_reasm_core *core);

/* Return the chunk @p link to the pool. */
void pool_give(struct kc_reasm_core *core, uint32_t link);

#endif /* REASM_INTERNAL_H */
