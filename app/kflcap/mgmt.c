/*
 * Management lcore: drains every worker's ring into the stream writer, decides
 * when capture ends (signal, or every finite input read), prints status and
 * the exit summary. With a single lcore it also runs the one worker, in turn.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "kflcap.h"
#include "kc_item_json.h"

#define MGMT_BURST 64
#define MGMT_MAX_BURSTS 64 /* per worker ring and loop iteration */
#define IDLE_POLLS_BEFORE_SLEEP 1000

static unsigned drain_items_of(struct kc_app *app, unsigned i, unsigned max);

static unsigned drain_rings(struct kc_app *app)
{
	struct rte_mbuf *m[MGMT_BURST];
	unsigned i, k, n, total = 0;

	for (i = 0; i < app->n_workers; i++) {
		struct kc_worker *w = app->workers[i];
		unsigned bursts = 0;

		/* Bounded per call: under overload the loop must still come back
		 * to the gate, the reload flag and the quit flag. */
		while (bursts++ < MGMT_MAX_BURSTS &&
		       (n = rte_ring_sc_dequeue_burst(w->to_mgmt, (void **)m, MGMT_BURST, NULL)) > 0) {
			for (k = 0; k < n; k++) {
				const struct kc_mbuf_meta *meta = kc_meta(m[k]);

				if (meta->kind == KC_META_END) {
					/* The item that started this stream's recording was
					 * queued before its end: take what is queued now
					 * (only that: the worker keeps adding), for the
					 * manifest. */
					unsigned pending = app->item_pool ? rte_ring_count(w->items) : 0;

					while (pending > 0) {
						unsigned got = drain_items_of(app, i, pending);

						if (got == 0)
							break;
						pending -= got;
					}
					kc_writer_end(app->writer, meta->stream_id, meta->truncated);
				}
				else
					kc_writer_packet(app->writer, m[k]);
			}
			rte_pktmbuf_free_bulk(m, n);
			total += n;
			if (n < MGMT_BURST)
				break;
		}
	}
	return total;
}

/* One line naming the item that started a stream's recording (manifest). */
static void item_summary(const struct kc_item *it, uint32_t version, char *buf, size_t cap)
{
	const char *abbr = kc_item_proto_abbr(it->proto);

	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC:
		snprintf(buf, cap, "filter v%u: %s %.*s %.*s -> %d", version, abbr, it->u.http.method.len,
			 kc_item_str(it, it->u.http.method), it->u.http.url.len, kc_item_str(it, it->u.http.url),
			 it->u.http.status);
		break;
	case KC_ITEM_DNS:
		snprintf(buf, cap, "filter v%u: DNS %.*s rcode %u", version,
			 it->u.dns.n_questions ? it->u.dns.questions[0].name.len : 0,
			 it->u.dns.n_questions ? kc_item_str(it, it->u.dns.questions[0].name) : "", it->u.dns.rcode);
		break;
	case KC_ITEM_TLS:
		snprintf(buf, cap, "filter v%u: TLS SNI %.*s", version, it->u.tls.sni.len, kc_item_str(it, it->u.tls.sni));
		break;
	default:
		snprintf(buf, cap, "filter v%u: %s %u -> %u", version, abbr, it->src_port, it->dst_port);
		break;
	}
}

/* Items from the workers: the item log (JSON lines, rendered here, off the
 * workers' hot path). */
static unsigned drain_items_of(struct kc_app *app, unsigned i, unsigned max)
{
	static char buf[256 * 1024];
	struct kc_item_msg *msg[MGMT_BURST];
	unsigned k, n, total = 0;

	if (app->item_pool == NULL)
		return 0;
	{
		n = rte_ring_sc_dequeue_burst(app->workers[i]->items, (void **)msg, KC_MIN(max, MGMT_BURST), NULL);
		for (k = 0; k < n; k++) {
			size_t len;

			kc_record_learn(app, &msg[k]->item);
			if (msg[k]->matched) {
				char sum[512];

				item_summary(&msg[k]->item, msg[k]->version, sum, sizeof(sum));
				kc_writer_note_match(app->writer, msg[k]->item.stream_id, sum, msg[k]->item.ts_us);
			}
			if (app->items_fp != NULL) {
				if (kc_item_to_json(&msg[k]->item, buf, sizeof(buf) - 1, &len) == 0) {
					buf[len++] = '\n';
					if (fwrite(buf, 1, len, app->items_fp) == len)
						app->items_written++;
					else
						app->items_errors++;
				} else {
					app->items_errors++;
				}
			}
			rte_mempool_put(app->item_pool, msg[k]);
		}
		total += n;
	}
	return total;
}

static unsigned drain_items(struct kc_app *app)
{
	unsigned i, total = 0;

	for (i = 0; i < app->n_workers; i++)
		total += drain_items_of(app, i, MGMT_BURST);
	return total;
}

unsigned kc_mgmt_drain(struct kc_app *app)
{
	return drain_rings(app) + drain_items(app);
}

static bool inputs_done(const struct kc_app *app)
{
	unsigned i;

	if (app->have_live_port)
		return false;
	for (i = 0; i < app->n_workers; i++)
		if (!atomic_load(&app->workers[i]->rx_done))
			return false;
	return true;
}

static bool workers_finished(const struct kc_app *app)
{
	unsigned i;

	for (i = 0; i < app->n_workers; i++)
		if (!atomic_load(&app->workers[i]->finished))
			return false;
	return true;
}

void kc_app_sum(const struct kc_app *app, struct kc_engine_stats *es, struct kc_worker_stats *ws,
		       struct kc_flow_stats *fs)
{
	unsigned i, j;

	memset(es, 0, sizeof(*es));
	memset(ws, 0, sizeof(*ws));
	memset(fs, 0, sizeof(*fs));
	for (i = 0; i < app->n_workers; i++) {
		const struct kc_worker *w = app->workers[i];
		const struct kc_engine_stats *e = kc_engine_stats(w->eng);
		const struct kc_flow_stats *f = kc_engine_flow_stats(w->eng);

		es->rx_pkts += e->rx_pkts;
		es->rx_bytes += e->rx_bytes;
		for (j = 0; j < KC_DEC_RES_MAX; j++)
			es->decode_drop[j] += e->decode_drop[j];
		es->frag_dropped += e->frag_dropped;
		es->flow_pkts += e->flow_pkts;
		es->tcp_pkts += e->tcp_pkts;
		es->udp_pkts += e->udp_pkts;
		es->recorded_pkts += e->recorded_pkts;
		es->recorded_streams += e->recorded_streams;
		es->released_pkts += e->released_pkts;
		es->items += e->items;
		es->matches += e->matches;
		es->dissect_no_flow += e->dissect_no_flow;
		es->ended_at_close += e->ended_at_close;
		es->ended_spent += e->ended_spent;
		es->retain.retained += e->retain.retained;
		es->retain.flushed += e->retain.flushed;
		es->retain.expired_window += e->retain.expired_window;
		es->retain.evicted_stream += e->retain.evicted_stream;
		es->retain.evicted_core += e->retain.evicted_core;
		es->retain.released_unmatched += e->retain.released_unmatched;
		es->retain.truncated_streams += e->retain.truncated_streams;
		ws->item_drop += w->st.item_drop;
		ws->fanout_out += w->st.fanout_out;
		ws->fanout_drop += w->st.fanout_drop;
		ws->ring_drop += w->st.ring_drop;
		ws->end_drop += w->st.end_drop;
		ws->linearize_drop += w->st.linearize_drop;
		fs->created += f->created;
		fs->active += f->active;
		for (j = 0; j < KC_FLOW_END_MAX; j++)
			fs->ended[j] += f->ended[j];
	}
}

static void print_status(struct kc_app *app)
{
	struct kc_engine_stats es;
	struct kc_worker_stats ws;
	struct kc_flow_stats fs;
	const struct kc_writer_stats *wr = kc_writer_stats(app->writer);

	kc_app_sum(app, &es, &ws, &fs);
	printf("kflcap: rx %" PRIu64 " pkts, flows %" PRIu64 " active, streams %" PRIu64
	       ", written %" PRIu64 " pkts, ring drops %" PRIu64 "\n",
	       es.rx_pkts, fs.active, es.recorded_streams, wr->pkts, ws.ring_drop + ws.fanout_drop);
	fflush(stdout);
}

/* Reassembly and dissection counters, summed over workers. */
static void print_dissect(struct kc_app *app, FILE *f)
{
	struct kc_reasm_stats r;
	struct kc_dissect_stats d;
	unsigned i, p;

	memset(&r, 0, sizeof(r));
	memset(&d, 0, sizeof(d));
	for (i = 0; i < app->n_workers; i++) {
		const struct kc_reasm_stats *rs = kc_engine_reasm_stats(app->workers[i]->eng);
		const struct kc_dissect_stats *ds = kc_engine_dissect_stats(app->workers[i]->eng);
		const uint64_t *a;
		uint64_t *b;
		size_t k;

		/* Both are structs of uint64_t counters only: sum field by field. */
		for (a = (const uint64_t *)rs, b = (uint64_t *)&r, k = 0; k < sizeof(r) / 8; k++)
			b[k] += a[k];
		for (a = (const uint64_t *)ds, b = (uint64_t *)&d, k = 0; k < sizeof(d) / 8; k++)
			b[k] += a[k];
	}
	fprintf(f, "  tcp reassembly: segments=%" PRIu64 " in_order=%" PRIu64 " ooo=%" PRIu64 " retrans=%" PRIu64
		" overlaps=%" PRIu64 " conflicts=%" PRIu64 " gaps=%" PRIu64 " gap_bytes=%" PRIu64
		" memcap_drops=%" PRIu64 " dir_limit_drops=%" PRIu64 " out_of_window=%" PRIu64 "\n",
		r.segments, r.segments_in_order, r.segments_ooo, r.retransmissions, r.overlaps, r.overlaps_conflict,
		r.gaps, r.gap_bytes, r.memcap_drops, r.dir_limit_drops, r.out_of_window);
	fprintf(f, "  dissect: flows=%" PRIu64 " flow_pool_empty=%" PRIu64 " pending_overflow=%" PRIu64
		" undecided=%" PRIu64 "\n", d.flows_opened, d.flow_pool_empty, d.pending_overflow, d.detect_undecided);
	for (p = 0; p < KC_ITEM_PROTO_MAX; p++) {
		const struct kc_dissect_proto_stats *ps = &d.proto[p];

		if (ps->flows == 0 && ps->items == 0)
			continue;
		fprintf(f, "    %-6s flows=%" PRIu64 " items=%" PRIu64 " parse_errors=%" PRIu64 " gaps=%" PRIu64
			" state_pool_empty=%" PRIu64 "\n", kc_item_proto_abbr(p), ps->flows, ps->items,
			ps->parse_errors, ps->gaps, ps->state_pool_empty);
	}
	fprintf(f, "    http1: requests=%" PRIu64 " responses=%" PRIu64 " timeouts=%" PRIu64 " resync_ok=%" PRIu64
		" resync_giveup=%" PRIu64 " gap_in_body=%" PRIu64 "\n", d.http.requests, d.http.responses,
		d.http.timeouts, d.http.resync_ok, d.http.resync_giveup, d.http.gap_in_body);
}

void kc_print_summary(struct kc_app *app, FILE *f)
{
	struct kc_engine_stats es;
	struct kc_worker_stats ws;
	struct kc_flow_stats fs;
	const struct kc_writer_stats *wr = kc_writer_stats(app->writer);
	uint16_t port;
	unsigned j, i;

	kc_app_sum(app, &es, &ws, &fs);
	fprintf(f, "kflcap summary\n");
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_stats s;

		if (rte_eth_stats_get(port, &s) == 0)
			fprintf(f, "  port %u: rx %" PRIu64 " pkts %" PRIu64 " bytes, imissed %" PRIu64
				", ierrors %" PRIu64 ", rx_nombuf %" PRIu64 "\n",
				port, s.ipackets, s.ibytes, s.imissed, s.ierrors, s.rx_nombuf);
	}
	fprintf(f, "  engine: rx %" PRIu64 " pkts %" PRIu64 " bytes, tcp %" PRIu64 ", udp %" PRIu64 "\n",
		es.rx_pkts, es.rx_bytes, es.tcp_pkts, es.udp_pkts);
	fprintf(f, "  decode drops:");
	for (j = KC_DEC_TRUNC_L2; j < KC_DEC_RES_MAX; j++)
		fprintf(f, " %s=%" PRIu64, kc_decode_res_name(j), es.decode_drop[j]);
	fprintf(f, "\n");
	for (i = 0; i < app->n_workers; i++) {
		const struct kc_defrag_stats *d = kc_engine_defrag_stats(app->workers[i]->eng);

		fprintf(f, "  defrag[w%u]: fragments=%" PRIu64 " completed=%" PRIu64 " timeouts=%" PRIu64
			" evicted_full=%" PRIu64 " overlaps=%" PRIu64 " dropped_frags=%" PRIu64 "\n",
			i, d->fragments, d->completed, d->timeouts, d->evicted_full, d->overlaps, d->dropped_frags);
	}
	fprintf(f, "  flows: created=%" PRIu64 " active=%" PRIu64 " timeout=%" PRIu64 " evicted=%" PRIu64
		" flushed=%" PRIu64 " reused=%" PRIu64 "\n",
		fs.created, fs.active, fs.ended[KC_FLOW_END_TIMEOUT], fs.ended[KC_FLOW_END_EVICTED],
		fs.ended[KC_FLOW_END_FLUSH], fs.ended[KC_FLOW_END_REUSED]);
	fprintf(f, "  hand-off: recorded_pkts=%" PRIu64 " released_pkts=%" PRIu64 " fanout_out=%" PRIu64
		" fanout_drop=%" PRIu64 " ring_drop=%" PRIu64 " end_marker_drop=%" PRIu64
		" linearize_drop=%" PRIu64 "\n",
		es.recorded_pkts, es.released_pkts, ws.fanout_out, ws.fanout_drop, ws.ring_drop, ws.end_drop,
		ws.linearize_drop);
	if (app->workers[0]->eng != NULL && kc_engine_dissect_stats(app->workers[0]->eng) != NULL)
		print_dissect(app, f);
	fprintf(f, "  recording: items=%" PRIu64 " matches=%" PRIu64 " item_drop=%" PRIu64 " items_written=%" PRIu64
		" items_errors=%" PRIu64 " ended_at_close=%" PRIu64 " ended_spent=%" PRIu64 "\n", es.items,
		es.matches, ws.item_drop, app->items_written, app->items_errors, es.ended_at_close, es.ended_spent);
	fprintf(f, "  retention: retained=%" PRIu64 " flushed=%" PRIu64 " expired_window=%" PRIu64
		" evicted_stream=%" PRIu64 " evicted_core=%" PRIu64 " released_unmatched=%" PRIu64
		" truncated_streams=%" PRIu64 "\n",
		es.retain.retained, es.retain.flushed, es.retain.expired_window, es.retain.evicted_stream,
		es.retain.evicted_core, es.retain.released_unmatched, es.retain.truncated_streams);
	fprintf(f, "  writer: streams=%" PRIu64 " closed=%" PRIu64 " pkts=%" PRIu64 " bytes=%" PRIu64
		" reopened=%" PRIu64 " open_evictions=%" PRIu64 " write_errors=%" PRIu64 "\n",
		wr->streams_opened, wr->streams_closed, wr->pkts, wr->bytes, wr->reopened, wr->evicted_open,
		wr->write_errors);
}

void kc_mgmt_run(struct kc_app *app)
{
	struct kc_worker *solo = app->workers[0]->lcore == rte_lcore_id() ? app->workers[0] : NULL;
	uint64_t hz = rte_get_tsc_hz(), next_status, next_tick;
	unsigned idle = 0;

	next_status = rte_rdtsc() + hz * (app->opts.status_interval_s ? app->opts.status_interval_s : 1);
	next_tick = rte_rdtsc() + hz / 1000;
	if (solo != NULL)
		solo->last_rx_tsc = solo->last_tick_tsc = rte_rdtsc();
	for (;;) {
		unsigned n = 0;
		uint64_t tsc;

		/* The snapshot job asks to rotate OUT/live: close every file, write
		 * the sidecars, pause (queued packets wait in the rings), resume
		 * writing into the new folder. */
		if (kc_snapshot_gate_requested(&app->gate)) {
			int st;

			kc_writer_close_all(app->writer);
			st = kc_snapshot_gate_pause(&app->gate);
			if (st != -ECANCELED)
				kc_writer_rotated(app->writer, st == 0);
		}
		if (atomic_load_explicit(&kc_reload, memory_order_relaxed)) {
			atomic_store(&kc_reload, false);
			kc_app_reload(app);
		}

		if (solo != NULL && !atomic_load(&app->drain)) {
			n += kc_worker_poll(solo);
		}
		n += drain_rings(app);
		n += drain_items(app);
		tsc = rte_rdtsc();
		if (solo != NULL && tsc >= next_tick) {
			kc_worker_tick(solo, tsc);
			next_tick = tsc + hz / 1000;
		}
		if (!atomic_load(&app->drain) && (atomic_load(&kc_quit) || inputs_done(app))) {
			atomic_store(&app->drain, true);
			if (solo != NULL)
				kc_worker_finish(solo);
		}
		if (atomic_load(&app->drain) && workers_finished(app)) {
			while (drain_rings(app) + drain_items(app) > 0)
				;
			break;
		}
		if (app->opts.status_interval_s && tsc >= next_status) {
			print_status(app);
			next_status = tsc + hz * app->opts.status_interval_s;
		}
		if (n == 0 && solo == NULL && ++idle > IDLE_POLLS_BEFORE_SLEEP) {
			usleep(100);
		} else if (n > 0) {
			idle = 0;
		}
	}
}
