/*
 * Engine glue between flows, TCP reassembly, dissection and the filter: bytes
 * go in order to the dissector; each item it emits is judged by the active
 * KFL program, and the first match starts the stream's recording.
 */
#include <netinet/in.h>

#include "engine_internal.h"

static void deliver(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap_before, uint64_t ts_us)
{
	struct kc_engine *e = ctx;
	struct flow_state *fs = e->cur_fs;

	if (fs->df != NULL)
		kc_dissect_tcp_data(e->dissect, fs->df, e->cur_dir, data, len, gap_before, ts_us);
}

void kc_engine_dissect_pkt(struct kc_engine *e, struct flow_state *fs, const struct kc_pkt *p, bool from_client,
			   uint64_t ts)
{
	enum kc_dir dir = from_client ? KC_DIR_C2S : KC_DIR_S2C;

	if (p->proto != IPPROTO_TCP) {
		kc_dissect_udp_datagram(e->dissect, fs->df, dir, p->payload, p->payload_len, ts);
		return;
	}
	e->cur_fs = fs;
	/* An ACK travelling this way acknowledges the other direction's bytes:
	 * held data the peer already has can be delivered past its holes. */
	if ((p->tcp_flags & KC_TCP_ACK) && !kc_reasm_ack_is_noop(&fs->dir[!dir], p->ack, p->win)) {
		e->cur_dir = (enum kc_dir)!dir;
		kc_reasm_ack(e->reasm, &fs->dir[!dir], p->ack, p->win, ts, deliver, e);
	}
	/* Half the segments are bare ACKs, which reassembly ignores. */
	if (kc_reasm_push_is_noop(&fs->dir[dir], p->seq, p->tcp_flags, p->payload_len))
		return;
	e->cur_dir = dir;
	kc_reasm_push(e->reasm, &fs->dir[dir], p->seq, p->tcp_flags, p->payload, p->payload_len, ts, deliver, e);
}

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
		e->cur_fs = fs;
		for (d = 0; d < 2; d++) {
			e->cur_dir = (enum kc_dir)d;
			kc_reasm_flush(e->reasm, &fs->dir[d], e->now_us, deliver, e);
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
