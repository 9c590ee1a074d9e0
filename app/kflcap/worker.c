/*
 * Worker lcore: RX bursts → (software fan-out) → engine → SP/SC ring to the
 * management lcore. Reads like l3fwd's loop (style.md rule 13): take the
 * context once, read the TSC once per iteration, bursts of KC_APP_BURST,
 * periodic work on a TSC deadline, no locks, syscalls, allocation or logging
 * inside.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>

#include "kflcap.h"

/* Empty polls (spaced by the loop) after which a net_pcap file is at its end.
 * net_pcap reads the file synchronously inside rx_burst, so one empty poll
 * already means end of file unless the pool ran dry; we insist on several
 * with free mbufs around. */
#define EOF_EMPTY_POLLS 64
#define EOF_MIN_FREE_MBUFS 128
#define TICK_US 1000

/* Wall clock of a TSC reading. */
static uint64_t tsc_time_ns(const struct kc_app *app, uint64_t tsc)
{
	return app->wall0_us * 1000 + kc_cycles_to_ns(tsc - app->tsc0, app->tsc_hz);
}

/* @p burst_ns: the wall clock of the burst's TSC reading, for packets without
 * a capture timestamp (computed once per burst, not per packet). */
static inline uint64_t pkt_time_ns(const struct kc_app *app, struct rte_mbuf *m, uint64_t burst_ns)
{
	/* The timestamp field's unit is the PMD's own: trust only ports whose
	 * unit we know (net_pcap: the file's time in microseconds). */
	if (app->ts_off >= 0 && (m->ol_flags & app->ts_flag) && app->ts_mult[m->port] != 0)
		return *RTE_MBUF_DYNFIELD(m, app->ts_off, uint64_t *) * app->ts_mult[m->port];
	return burst_ns;
}

static void free_released(struct kc_worker *w);

static void flush_out(struct kc_worker *w)
{
	unsigned sent;

	free_released(w);
	if (w->n_out == 0)
		return;
	sent = rte_ring_sp_enqueue_burst(w->to_mgmt, (void **)w->out, w->n_out, NULL);
	/* Replaying files, nothing is lost by slowing down: wait for the
	 * management lcore (or, on a single lcore, do its work now). Live
	 * capture never waits: the NIC would drop instead, uncounted by us. */
	while (sent < w->n_out && w->app->lossless && !atomic_load_explicit(&kc_quit, memory_order_relaxed)) {
		if (w->lcore == rte_get_main_lcore())
			kc_mgmt_drain(w->app);
		else
			rte_pause();
		sent += rte_ring_sp_enqueue_burst(w->to_mgmt, (void **)&w->out[sent], w->n_out - sent, NULL);
	}
	if (sent < w->n_out) {
		/* A full ring never blocks a worker: drop and count. */
		w->st.ring_drop += w->n_out - sent;
		rte_pktmbuf_free_bulk(&w->out[sent], w->n_out - sent);
	}
	w->n_out = 0;
}

static inline void push_out(struct kc_worker *w, struct rte_mbuf *m)
{
	if (w->n_out == RTE_DIM(w->out))
		flush_out(w);
	w->out[w->n_out++] = m;
}

static void on_record(void *ctx, const struct kc_flow *f, void *handle, uint64_t ts_us)
{
	struct kc_worker *w = ctx;
	struct rte_mbuf *m = handle;
	struct kc_mbuf_meta *meta = kc_meta(m);

	(void)ts_us; /* the mbuf already carries the ns timestamp */
	meta->stream_id = f->stream_id;
	meta->l4 = f->key.proto;
	meta->kind = KC_META_PKT;
	push_out(w, m);
}

/* Freed in bulk at the end of the burst (style.md rule 6: a caller-owned
 * batch released with rte_pktmbuf_free_bulk). */
static void on_release(void *ctx, void *handle)
{
	struct kc_worker *w = ctx;

	if (kc_unlikely(w->n_free == RTE_DIM(w->to_free))) {
		rte_pktmbuf_free_bulk(w->to_free, w->n_free);
		w->n_free = 0;
	}
	/* A retained packet's header has long left the cache; the free at the
	 * end of the burst reads both its lines. */
	rte_prefetch0(handle);
	rte_prefetch0((uint8_t *)handle + RTE_CACHE_LINE_SIZE);
	w->to_free[w->n_free++] = handle;
}

static void free_released(struct kc_worker *w)
{
	if (w->n_free > 0) {
		rte_pktmbuf_free_bulk(w->to_free, w->n_free);
		w->n_free = 0;
	}
}

static void on_stream_end(void *ctx, const struct kc_flow *f, enum kc_flow_end why, bool truncated)
{
	struct kc_worker *w = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->pool);
	struct kc_mbuf_meta *meta;

	(void)why;
	if (m == NULL) {
		/* The writer closes idle files itself; count the lost marker. */
		w->st.end_drop++;
		return;
	}
	meta = kc_meta(m);
	meta->stream_id = f->stream_id;
	meta->l4 = f->key.proto;
	meta->kind = KC_META_END;
	meta->truncated = truncated;
	meta->ts_ns = 0;
	push_out(w, m);
}

/* Items go to the management lcore for the item log and the manifest; a full
 * pool or ring drops and counts, never waits. */
static void on_item(void *ctx, const struct kc_item *item, bool matched, uint32_t version)
{
	struct kc_worker *w = ctx;
	struct kc_item_msg *msg;

	/* DNS items teach the name-resolution history even when not logged. */
	if (w->items == NULL || (w->app->items_fp == NULL && !matched && item->proto != KC_ITEM_DNS))
		return;
	while (rte_mempool_get(w->app->item_pool, (void **)&msg) != 0) {
		if (!w->app->lossless || atomic_load_explicit(&kc_quit, memory_order_relaxed)) {
			w->st.item_drop++;
			return;
		}
		if (w->lcore == rte_get_main_lcore())
			kc_mgmt_drain(w->app);
		else
			rte_pause();
	}
	msg->version = version;
	msg->matched = matched;
	/* Only the used part of the arena travels. */
	memcpy(&msg->item, item, offsetof(struct kc_item, arena) + item->arena_used);
	while (w->app->lossless && rte_ring_full(w->items) && !atomic_load_explicit(&kc_quit, memory_order_relaxed)) {
		if (w->lcore == rte_get_main_lcore())
			kc_mgmt_drain(w->app);
		else
			rte_pause();
	}
	if (rte_ring_sp_enqueue(w->items, msg) != 0) {
		w->st.item_drop++;
		rte_mempool_put(w->app->item_pool, msg);
	}
}

int kc_worker_init(struct kc_app *app, struct kc_worker *w)
{
	static const struct kc_engine_ops ops = {
		.record = on_record,
		.release = on_release,
		.stream_end = on_stream_end,
		.item = on_item,
	};
	struct kc_engine_cfg ec;
	char name[RTE_RING_NAMESIZE];
	unsigned c;

	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = app->opts.flow_table_size;
	ec.flow.worker = (uint8_t)w->idx;
	/* Stream numbers start from the start time (65536 a second), so a
	 * restarted recorder never reuses a file name of an earlier run. */
	ec.flow.stream_base = ((uint64_t)app->wall0_us / 1000000u) << 16;
	for (c = 0; c < KC_FLOW_T_MAX; c++)
		ec.flow.timeout_us[c] = (uint64_t)app->opts.timeout_s[c] * 1000000u;
	ec.defrag.max_datagrams = app->opts.defrag_max;
	ec.defrag.timeout_us = 30 * 1000000u;
	ec.record_all = app->opts.record_all;
	ec.expire_budget = 64;
	ec.dissect = app->dissect;
	kc_reasm_cfg_default(&ec.reasm);
	kc_dissect_cfg_default(&ec.dissect_cfg);
	ec.filter = &app->filter;
	ec.retain.window_us = (uint64_t)app->opts.retain_seconds * 1000000u;
	ec.retain.max_pkts_stream = app->opts.retain_max_packets;
	ec.retain.max_bytes_stream = app->opts.retain_max_bytes;
	/* Retained mbufs may hold only their share of what the rings and RX
	 * descriptors leave of the pool, so RX never starves (net_pcap even
	 * loses the packet it read when no mbuf is free). */
	ec.retain.max_pkts_core = app->dissect ?
		(uint32_t)(kc_app_mbuf_spare(app) * app->opts.retain_mbuf_share / 100 / app->n_workers) : 0;
	w->app = app;
	w->eng = kc_engine_create(&ec, &ops, w);
	if (w->eng == NULL) {
		fprintf(stderr, "kflcap: worker %u: engine: %s\n", w->idx, strerror(errno));
		return -1;
	}
	snprintf(name, sizeof(name), "kc_out_%u", w->idx);
	w->to_mgmt = rte_ring_create(name, app->opts.ring_size, rte_lcore_to_socket_id(w->lcore),
				     RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->to_mgmt == NULL) {
		fprintf(stderr, "kflcap: worker %u: ring %s: %s\n", w->idx, name, rte_strerror(rte_errno));
		return -1;
	}
	if (app->item_pool != NULL) {
		snprintf(name, sizeof(name), "kc_items_%u", w->idx);
		w->items = rte_ring_create(name, 1024, rte_lcore_to_socket_id(w->lcore), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->items == NULL) {
			fprintf(stderr, "kflcap: worker %u: ring %s: %s\n", w->idx, name, rte_strerror(rte_errno));
			return -1;
		}
	}
	snprintf(name, sizeof(name), "kc_fan_%u", w->idx);
	w->fanin = rte_ring_create(name, app->opts.ring_size, rte_lcore_to_socket_id(w->lcore),
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->fanin == NULL) {
		fprintf(stderr, "kflcap: worker %u: ring %s: %s\n", w->idx, name, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* Hand a run of packets to the engine. Packets that came over a fan-out ring
 * were timestamped by the reader (@p stamped); the others are stamped here.
 * Multi-segment mbufs (jumbo frames from net_pcap) are copied into the
 * worker's scratch buffer, one at a time. */
static void process(struct kc_worker *w, struct rte_mbuf **m, unsigned n, uint64_t burst_ns, bool stamped)
{
	struct kc_engine_pkt pk[KC_APP_BURST];
	unsigned i, k = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *mb = m[i];
		struct kc_engine_pkt *cur = &pk[k];
		uint64_t ts_ns = stamped ? kc_meta(mb)->ts_ns : pkt_time_ns(w->app, mb, burst_ns);

		/* Fields written in place: a struct built aside and copied in
		 * stalls on store forwarding, once per packet. */
		kc_meta(mb)->ts_ns = ts_ns;
		cur->caplen = rte_pktmbuf_pkt_len(mb);
		cur->wire_len = cur->caplen;
		cur->ts_us = ts_ns / 1000;
		cur->handle = mb;
		if (kc_likely(mb->nb_segs == 1)) {
			cur->data = rte_pktmbuf_mtod(mb, const uint8_t *);
			k++;
			continue;
		}
		/* Multi-segment: the packets before it go first, then this
		 * one from the scratch copy. */
		kc_engine_rx(w->eng, pk, k);
		if (cur->caplen > sizeof(w->scratch)) {
			w->st.linearize_drop++;
			rte_pktmbuf_free(mb);
		} else {
			cur->data = rte_pktmbuf_read(mb, 0, cur->caplen, w->scratch);
			kc_engine_rx(w->eng, cur, 1);
		}
		k = 0;
	}
	kc_engine_rx(w->eng, pk, k);
}

/* Software fan-out for single-queue ports: decode enough to hash the address
 * pair (symmetric, and without ports so fragments follow their flow), then
 * hand each packet to its owner. */
static void fan_out(struct kc_worker *w, struct rte_mbuf **m, unsigned n, uint64_t burst_ns)
{
	struct kc_app *app = w->app;
	struct rte_mbuf *mine[KC_APP_BURST];
	unsigned i, n_mine = 0;

	for (i = 0; i < n; i++) {
		struct kc_pkt p;
		struct kc_flow_key k;
		enum kc_decode_res r;
		unsigned owner = 0;
		uint8_t buf[256];
		const uint8_t *d = m[i]->nb_segs == 1 ? rte_pktmbuf_mtod(m[i], const uint8_t *)
						      : rte_pktmbuf_read(m[i], 0, RTE_MIN(rte_pktmbuf_pkt_len(m[i]), sizeof(buf)), buf);
		uint32_t len = m[i]->nb_segs == 1 ? rte_pktmbuf_data_len(m[i]) : RTE_MIN(rte_pktmbuf_pkt_len(m[i]), sizeof(buf));

		r = kc_decode_eth(d, len, &p);
		if (r == KC_DEC_OK || r == KC_DEC_FRAGMENT || (r == KC_DEC_TRUNC_IP && p.family != 0) ||
		    r == KC_DEC_TRUNC_L4) {
			p.sport = p.dport = 0;
			p.proto = 0;
			kc_flow_key_make(&p, &k);
			owner = kc_flow_key_hash(&k) % app->n_workers;
		}
		if (owner == w->idx) {
			mine[n_mine++] = m[i];
			continue;
		}
		/* Timestamp now, on the reader, before the packet waits in a ring. */
		kc_meta(m[i])->ts_ns = pkt_time_ns(app, m[i], burst_ns);
		if (rte_ring_sp_enqueue(app->workers[owner]->fanin, m[i]) != 0) {
			w->st.fanout_drop++;
			rte_pktmbuf_free(m[i]);
		} else {
			w->st.fanout_out++;
		}
	}
	process(w, mine, n_mine, burst_ns, false);
}

static bool all_finite_done(const struct kc_worker *w)
{
	unsigned q;

	for (q = 0; q < w->n_rxq; q++)
		if (!w->rxq[q].finite || !w->rxq[q].eof)
			return false;
	return true;
}

unsigned kc_worker_poll(struct kc_worker *w)
{
	struct rte_mbuf *m[KC_APP_BURST];
	uint64_t tsc = rte_rdtsc(), burst_ns = 0;
	unsigned q, n, total = 0;

	n = rte_ring_sc_dequeue_burst(w->fanin, (void **)m, KC_APP_BURST, NULL);
	if (n > 0) {
		w->last_rx_tsc = tsc;
		process(w, m, n, 0, true);
		total += n;
	}
	for (q = 0; q < w->n_rxq; q++) {
		struct kc_rxq *rq = &w->rxq[q];

		if (rq->eof)
			continue;
		n = rte_eth_rx_burst(rq->port, rq->queue, m, KC_APP_BURST);
		if (n == 0) {
			if (rq->finite && rte_mempool_avail_count(w->app->pool) > EOF_MIN_FREE_MBUFS &&
			    ++rq->empty_polls >= EOF_EMPTY_POLLS)
				rq->eof = true;
			continue;
		}
		rq->empty_polls = 0;
		w->last_rx_tsc = tsc;
		total += n;
		if (burst_ns == 0)
			burst_ns = tsc_time_ns(w->app, tsc);
		if (w->app->fanout)
			fan_out(w, m, n, burst_ns);
		else
			process(w, m, n, burst_ns, false);
	}
	flush_out(w);
	if (!atomic_load_explicit(&w->rx_done, memory_order_relaxed) && all_finite_done(w))
		atomic_store(&w->rx_done, true);
	return total;
}


void kc_worker_finish(struct kc_worker *w)
{
	struct rte_mbuf *m[KC_APP_BURST];
	unsigned n;

	/* Packets the reader already handed us still belong to their flows. */
	while ((n = rte_ring_sc_dequeue_burst(w->fanin, (void **)m, KC_APP_BURST, NULL)) > 0) {
		process(w, m, n, 0, true);
		flush_out(w);
	}
	kc_engine_flush(w->eng);
	flush_out(w);
	atomic_store(&w->finished, true);
}

/* The engine's clock is packet time (replays run faster than real time). When
 * no packet has arrived for a second, real time carries it forward so idle
 * flows still end; while packets flow, only they move it. */
void kc_worker_tick(struct kc_worker *w, uint64_t tsc)
{
	uint64_t now = kc_engine_now(w->eng);

	if (tsc - w->last_rx_tsc > w->app->tsc_hz)
		now += (tsc - w->last_tick_tsc) * 1000000u / w->app->tsc_hz;
	w->last_tick_tsc = tsc;
	kc_engine_tick(w->eng, now);
	flush_out(w);
}

int kc_worker_main(void *arg)
{
	struct kc_worker *w = arg;
	struct kc_app *app = w->app;
	uint64_t tick_cycles = app->tsc_hz / (1000000 / TICK_US);
	uint64_t next_tick = rte_rdtsc() + tick_cycles;

	w->last_rx_tsc = w->last_tick_tsc = rte_rdtsc();
	if (app->qsbr != NULL) {
		rte_rcu_qsbr_thread_register(app->qsbr, w->idx);
		rte_rcu_qsbr_thread_online(app->qsbr, w->idx);
	}

	while (!atomic_load_explicit(&app->drain, memory_order_relaxed)) {
		uint64_t tsc;

		kc_worker_poll(w);
		tsc = rte_rdtsc();
		if (tsc >= next_tick) {
			kc_worker_tick(w, tsc);
			next_tick = tsc + tick_cycles;
		}
		/* Holds no filter pointer past this point: an old one may go. */
		if (app->qsbr != NULL)
			rte_rcu_qsbr_quiescent(app->qsbr, w->idx);
	}
	kc_worker_finish(w);
	if (app->qsbr != NULL)
		rte_rcu_qsbr_thread_offline(app->qsbr, w->idx);
	return 0;
}
