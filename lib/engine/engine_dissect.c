/*
 * Engine glue between flows, TCP reassembly, dissection and the filter: bytes
 * go in order to the dissector; each item it emits is judged by the active
 * KFL program, and the first match starts the stream's recording.
 */
#include <netinet/in.h>

#include "engine_internal.h"

/* Reassembly's delivery callbacks, one per direction: the context is the
 * flow, so nothing has to be parked in the engine before each call. */
static void deliver_c2s(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap_before, uint64_t ts_us)
{
	struct flow_state *fs = ctx;

	if (fs->df != NULL)
		kc_dissect_tcp_data(fs->e->dissect, fs->df, KC_DIR_C2S, data, len, gap_before, ts_us);
}

static void deliver_s2c(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap_before, uint64_t ts_us)
{
	struct flow_state *fs = ctx;

	if (fs->df != NULL)
		kc_dissect_tcp_data(fs->e->dissect, fs->df, KC_DIR_S2C, data, len, gap_before, ts_us);
}

const kc_reasm_deliver_fn kc_engine_deliver[2] = { [KC_DIR_C2S] = deliver_c2s, [KC_DIR_S2C] = deliver_s2c };

void kc_engine_dissect_close(struct kc_engine *e, struct flow_state *fs)
{
	unsigned d;

	/* The stream's retained packets are released (or recorded) right
	 * after this: their cold nodes load while the dissector closes. The
	 * dissector's own state is as cold: its loads start first and
	 * overlap the retention walk. */
	kc_dissect_flow_prefetch(fs->df);
	kc_engine_retain_prefetch(e, fs);
	kc_dissect_flow_prefetch_state(fs->df);

	if (fs->flow->key.proto == IPPROTO_TCP) {
		for (d = 0; d < 2; d++) {
			kc_reasm_flush(e->reasm, &fs->dir[d], e->now_us, kc_engine_deliver[d], fs);
			kc_reasm_dir_release(e->reasm, &fs->dir[d]);
		}
	}
	kc_dissect_flow_close(e->dissect, fs->df, e->now_us);
	fs->df = NULL;
}

void kc_engine_on_item(void *ctx, const struct kc_item *item)
{
	struct flow_state *fs = ctx;
	struct kc_engine *e = fs->e;
	bool matched = false;

	e->stats.items++;
	fs->new_item = 1;
	if (!fs->recorded && e->filter_prog != NULL && kc_kfl_eval_item(e->filter_prog, item, e->scratch)) {
		matched = true;
		fs->recorded = 1;
		e->stats.matches++;
		e->stats.recorded_streams++;
		if (fs->truncated)
			e->stats.retain.truncated_streams++;
		kc_engine_retain_flush(e, fs);
	}
	if (e->ops.item != NULL)
		e->ops.item(e->ctx, item, matched, e->filter_version);
}
