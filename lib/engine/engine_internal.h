/* Private state of the engine, shared by engine.c (pipeline), engine_dissect.c
 * (reassembly, dissection, filter) and engine_retain.c (retention). */
#ifndef KC_ENGINE_INTERNAL_H
#define KC_ENGINE_INTERNAL_H

#include "kc_engine.h"

/* Fragments of one datagram plus a full table's worth of evictions. */
#define KC_ENGINE_DEAD_CAP (2 * KC_DEFRAG_MAX_FRAGS + 2)
#define RNIL UINT32_MAX
/* Packets decoded and hashed together before their flows are looked up, so
 * the table's memory is fetched for all of them at once (engine.c). */
#define KC_ENGINE_BATCH 32

struct kc_engine;

/* Engine state kept in each flow's user area, which starts on the entry's
 * third cache line: what every packet reads (dissection, recording and
 * retention state) comes first, inside the three lines that the burst
 * prefetches (kc_flow_prefetch_entry). */
struct flow_state {
	struct kc_dissect_flow *df;   /* NULL: not dissected */
	uint32_t r_head, r_tail;      /* retained packets, oldest first (RNIL: none) */
	uint32_t r_count;
	uint32_t r_unpinned;          /* first unpinned retained node + 1 (0: none) */
	uint64_t r_bytes;
	uint64_t r_oldest_lb;         /* at most the first unpinned node's time (0: unknown) */
	uint8_t recorded;             /* record() every packet of this flow */
	uint8_t truncated;            /* retention evicted packets of this flow */
	uint8_t r_pinned;             /* pinned nodes retained */
	uint8_t ended;                /* dissection ended before the flow left the table:
	                                 nothing of it can match any more */
	struct kc_reasm_dir dir[2];   /* by enum kc_dir */
	struct kc_engine *e;
	struct kc_flow *flow;
};

/* One retained packet. Linked per flow (arrival order) and, unless pinned,
 * on the engine-wide age list used for the window and the core bound. */
struct retain_node {
	void *handle;
	struct flow_state *fs;
	uint64_t ts_us;
	uint32_t bytes;
	uint32_t prev;           /* per flow (next and pinned: dense arrays, engine_retain.c) */
	uint32_t g_prev, g_next; /* age list */
};

struct kc_engine {
	struct kc_flow_table *flows;
	struct kc_defrag *defrag;
	struct kc_reasm_core *reasm;
	struct kc_dissect_core *dissect;
	struct kc_kfl_scratch *scratch;
	const struct kc_kfl_prog *filter_prog; /* read once per burst */
	uint32_t filter_version;
	struct kc_engine_ops ops;
	void *ctx;
	uint64_t now_us;
	/* Delivery target of the reassembly callback, set before each push. */
	struct flow_state *cur_fs;
	enum kc_dir cur_dir;
	/* Retention pool. */
	struct retain_node *retain_nodes;
	uint32_t retain_free;    /* free list through the next[] array */
	uint32_t g_head, g_tail; /* age list */
	struct kc_engine_stats stats;
	struct kc_engine_cfg cfg;
	void *dead[KC_ENGINE_DEAD_CAP];
	struct kc_defrag_done done;
	/* The batch in flight in kc_engine_rx. */
	struct kc_pkt b_pkt[KC_ENGINE_BATCH];
	struct kc_flow_key b_key[KC_ENGINE_BATCH];
	uint32_t b_hash[KC_ENGINE_BATCH];
	uint8_t b_res[KC_ENGINE_BATCH];
	bool b_a_to_b[KC_ENGINE_BATCH];
};

void kc_engine_release_handle(struct kc_engine *e, void *h);
void kc_engine_record_handle(struct kc_engine *e, struct kc_flow *f, void *h, uint64_t ts);

/* engine_dissect.c */
void kc_engine_on_item(void *ctx, const struct kc_item *item);
void kc_engine_dissect_pkt(struct kc_engine *e, struct flow_state *fs, const struct kc_pkt *p, bool from_client,
			   uint64_t ts);
void kc_engine_dissect_close(struct kc_engine *e, struct flow_state *fs);

/* engine_retain.c */
int kc_engine_retain_init(struct kc_engine *e);
void kc_engine_retain(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs, void *h, uint64_t ts,
		      uint32_t bytes, bool pin);
void kc_engine_retain_flush(struct kc_engine *e, struct flow_state *fs);
void kc_engine_retain_drop(struct kc_engine *e, struct flow_state *fs);
/* Prefetch the first retained nodes of @p fs, ahead of a drop or flush. */
void kc_engine_retain_prefetch(const struct kc_engine *e, const struct flow_state *fs);
void kc_engine_retain_expire(struct kc_engine *e, uint32_t budget);

#endif /* KC_ENGINE_INTERNAL_H */
