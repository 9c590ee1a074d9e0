/*
 * The per-core engine: the stages a packet goes through on a worker, in the
 * order of style.md rule 13. No locks, no syscalls, no allocation per packet:
 * the flow table, defrag table, reassembly pool, dissection pools and the
 * retention pool are all sized at creation.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "kc_engine.h"
#include "engine_internal.h"

static void on_flow_release(void *ctx, struct kc_flow *f, enum kc_flow_end why);

struct kc_engine *kc_engine_create(const struct kc_engine_cfg *cfg, const struct kc_engine_ops *ops, void *ctx)
{
	struct kc_engine *e;
	struct kc_flow_cfg fc;
	struct kc_err err;

	if (cfg == NULL || ops == NULL || ops->record == NULL || ops->release == NULL) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
	e->ops = *ops;
	e->ctx = ctx;
	if (e->cfg.expire_budget == 0)
		e->cfg.expire_budget = 64;
	fc = cfg->flow;
	fc.user_size = sizeof(struct flow_state);
	e->flows = kc_flow_table_create(&fc, on_flow_release, e);
	if (e->flows == NULL)
		goto fail;
	e->defrag = kc_defrag_create(&cfg->defrag);
	if (e->defrag == NULL)
		goto fail_defrag;
	if (cfg->dissect) {
		e->reasm = kc_reasm_core_create(&cfg->reasm, &err);
		if (e->reasm == NULL)
			goto fail_reasm;
		e->dissect = kc_dissect_core_create(&cfg->dissect_cfg, &err);
		if (e->dissect == NULL)
			goto fail_dissect;
		e->scratch = kc_kfl_scratch_create(0);
		if (e->scratch == NULL)
			goto fail_scratch;
	}
	if (kc_engine_retain_init(e) != 0)
		goto fail_retain;
	return e;

fail_retain:
	kc_kfl_scratch_free(e->scratch);
fail_scratch:
	kc_dissect_core_destroy(e->dissect);
fail_dissect:
	kc_reasm_core_destroy(e->reasm);
fail_reasm:
	kc_defrag_destroy(e->defrag);
fail_defrag:
	kc_flow_table_destroy(e->flows);
fail:
	free(e);
	errno = ENOMEM;
	return NULL;
}

void kc_engine_destroy(struct kc_engine *e)
{
	if (e == NULL)
		return;
	kc_engine_flush(e);
	kc_flow_table_destroy(e->flows);
	kc_defrag_destroy(e->defrag);
	kc_dissect_core_destroy(e->dissect);
	kc_reasm_core_destroy(e->reasm);
	kc_kfl_scratch_free(e->scratch);
	free(e->retain_nodes);
	free(e);
}

const struct kc_engine_stats *kc_engine_stats(const struct kc_engine *e)
{
	return &e->stats;
}

const struct kc_flow_stats *kc_engine_flow_stats(const struct kc_engine *e)
{
	return kc_flow_stats(e->flows);
}

const struct kc_defrag_stats *kc_engine_defrag_stats(const struct kc_engine *e)
{
	return kc_defrag_stats(e->defrag);
}

const struct kc_reasm_stats *kc_engine_reasm_stats(const struct kc_engine *e)
{
	return e->reasm ? kc_reasm_core_stats(e->reasm) : NULL;
}

const struct kc_dissect_stats *kc_engine_dissect_stats(const struct kc_engine *e)
{
	return e->dissect ? kc_dissect_stats(e->dissect) : NULL;
}

uint64_t kc_engine_now(const struct kc_engine *e)
{
	return e->now_us;
}

bool kc_engine_flow_recorded(const struct kc_engine *e, const struct kc_flow *f)
{
	return ((const struct flow_state *)kc_flow_user(e->flows, (struct kc_flow *)f))->recorded != 0;
}

void kc_engine_record_handle(struct kc_engine *e, struct kc_flow *f, void *h, uint64_t ts)
{
	e->stats.recorded_pkts++;
	e->ops.record(e->ctx, f, h, ts);
}

static void release_dead(struct kc_engine *e, uint32_t n)
{
	uint32_t i;

	e->stats.frag_dropped += n;
	for (i = 0; i < n; i++)
		engine_release(e, e->dead[i]);
}

/* Who opened the flow. A SYN names the client; otherwise guess that the side
 * on a well-known port (below 1024) is the server and that the first sender
 * is the client. */
static bool first_sender_is_client(const struct kc_pkt *p)
{
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & KC_TCP_SYN))
		return !(p->tcp_flags & KC_TCP_ACK);
	if (p->sport < 1024 && p->dport >= 1024)
		return false;
	return true;
}

static void flow_info(const struct kc_engine *e, const struct kc_flow *f, struct kc_flow_info *fi)
{
	const uint8_t *c = f->client_is_a ? f->key.a : f->key.b;
	const uint8_t *s = f->client_is_a ? f->key.b : f->key.a;

	memset(fi, 0, sizeof(*fi));
	fi->stream_id = f->stream_id;
	fi->family = f->key.family;
	fi->l4 = f->key.proto;
	fi->worker = e->cfg.flow.worker;
	fi->src_port = f->client_is_a ? f->key.port_a : f->key.port_b;
	fi->dst_port = f->client_is_a ? f->key.port_b : f->key.port_a;
	memcpy(fi->src_ip, c, 16);
	memcpy(fi->dst_ip, s, 16);
}

static void start_flow(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs, const struct kc_pkt *p,
		       bool a_to_b)
{
	fs->e = e;
	fs->flow = f;
	fs->r_head = fs->r_tail = RNIL;
	f->client_is_a = (uint8_t)(first_sender_is_client(p) == a_to_b);
	if (e->cfg.record_all) {
		fs->recorded = 1;
		e->stats.recorded_streams++;
	}
	if (e->dissect != NULL) {
		struct kc_flow_info fi;

		flow_info(e, f, &fi);
		kc_reasm_dir_init(&fs->dir[0]);
		kc_reasm_dir_init(&fs->dir[1]);
		fs->df = kc_dissect_flow_open(e->dissect, &fi, kc_engine_on_item, fs);
		if (fs->df == NULL)
			e->stats.dissect_no_flow++;
	}
}

/* Without dissection, a stream's fate is fixed when it starts: recorded (full
 * capture) or not (no filter). Its packets then need no look at its engine
 * state, which would be a cache line more per packet. */
static inline bool fate_fixed(const struct kc_engine *e)
{
	return e->dissect == NULL && (e->cfg.record_all || e->filter_prog == NULL);
}

/* Dissection ends before the flow leaves the table when nothing more can
 * come of it:
 * - a TCP stream closed by FIN both ways, with both directions delivered
 *   through their FINs: no later segment can add to it (rather than waiting
 *   for the closed timeout, 10 s by default);
 * - a stream whose only possible item is out (TLS after its hellos, a stream
 *   no dissector claimed): the bulk of real traffic, TLS application data,
 *   then skips reassembly.
 * Its last items come out now, and when none matched, its retained packets
 * go back to the pool at once instead of holding mbufs for the rest of the
 * window, and its later packets as they come. An RST ends nothing: a forged
 * one must not blind the dissector to what the connection still carries
 * (the RST-then-SYN/ACK evasion). */
static void end_dissection(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs)
{
	bool spent = fs->new_item && kc_dissect_flow_spent(fs->df);

	fs->new_item = 0;
	if (spent) {
		e->stats.ended_spent++;
	} else if (f->state == KC_FLOW_CLOSED && f->fin_seen == 3 && kc_reasm_dir_finished(&fs->dir[0]) &&
		   kc_reasm_dir_finished(&fs->dir[1])) {
		e->stats.ended_at_close++;
	} else {
		return;
	}
	kc_engine_dissect_close(e, fs);
	if (!fs->recorded) {
		kc_engine_retain_drop(e, fs);
		fs->ended = 1;
	}
}

/* A decoded TCP/UDP packet (or a completed datagram carried by several
 * handles) reaches its flow. The key and its hash were made by the caller.
 * Inlined: this is the per-packet path, and a call's prologue and epilogue
 * with these nine arguments cost a tenth of it. */
static inline __attribute__((always_inline)) void
to_flow(struct kc_engine *e, const struct kc_pkt *p, const struct kc_flow_key *key, uint32_t hash,
		    bool a_to_b, void *const *handles, uint32_t n_handles, uint64_t ts, uint32_t bytes)
{
	struct kc_flow *f;
	struct flow_state *fs;
	bool created, from_client, pin;
	uint32_t i;

	f = kc_flow_lookup(e->flows, key, hash, ts, &created);
	/* A SYN after FIN/FIN or RST opens the next connection on the same
	 * ports (RFC 9293 TIME-WAIT reuse): a new stream, as tshark counts it. */
	if (!created && f->state == KC_FLOW_CLOSED && p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (KC_TCP_SYN | KC_TCP_ACK)) == KC_TCP_SYN) {
		kc_flow_remove(e->flows, f, KC_FLOW_END_REUSED);
		f = kc_flow_lookup(e->flows, key, hash, ts, &created);
	}
	fs = kc_flow_user(e->flows, f);
	if (created)
		start_flow(e, f, fs, p, a_to_b);
	/* The key says which endpoint sent it (a flow to itself: a). */
	from_client = a_to_b == (f->client_is_a != 0);
	f->pkts[!from_client]++;
	f->bytes[!from_client] += bytes;
	e->stats.flow_pkts++;
	/* The handshake is pinned in retention: every recorded TCP stream opens
	 * in Wireshark as a proper conversation. */
	pin = p->proto == IPPROTO_TCP && f->state < KC_FLOW_ESTABLISHED;
	if (p->proto == IPPROTO_TCP) {
		e->stats.tcp_pkts++;
		kc_flow_tcp_update(e->flows, f, p->tcp_flags, from_client);
	} else {
		e->stats.udp_pkts++;
	}

	if (fate_fixed(e)) {
		for (i = 0; i < n_handles; i++) {
			if (e->cfg.record_all)
				kc_engine_record_handle(e, f, handles[i], ts);
			else
				engine_release(e, handles[i]);
		}
		return;
	}
	/* Hand the packet over before dissection: a match found on this very
	 * packet then records it together with the retained ones. */
	for (i = 0; i < n_handles; i++) {
		if (fs->recorded)
			kc_engine_record_handle(e, f, handles[i], ts);
		else if (e->filter_prog != NULL && !fs->ended)
			kc_engine_retain(e, f, fs, handles[i], ts, bytes, pin);
		else
			engine_release(e, handles[i]);
	}
	if (fs->df != NULL) {
		kc_engine_dissect_pkt(e, fs, p, from_client, ts);
		if (f->state == KC_FLOW_CLOSED || fs->new_item)
			end_dissection(e, f, fs);
	}
}

/* A datagram put back together from its fragments. */
static void to_flow_reassembled(struct kc_engine *e, const struct kc_engine_pkt *in)
{
	struct kc_defrag_done *d = &e->done;
	struct kc_flow_key key;
	bool a_to_b;
	uint32_t i, hash;

	if (d->res != KC_DEC_OK) {
		e->stats.decode_drop[d->res] += d->n_handles;
		for (i = 0; i < d->n_handles; i++)
			engine_release(e, d->handles[i]);
		return;
	}
	a_to_b = kc_flow_key_make_hash(&d->pkt, &key, &hash);
	to_flow(e, &d->pkt, &key, hash, a_to_b, d->handles, d->n_handles, in->ts_us, in->caplen);
}

/* Packet @p i of the batch, decoded in kc_engine_rx's first pass. */
static void rx_one(struct kc_engine *e, const struct kc_engine_pkt *in, uint32_t i)
{
	enum kc_decode_res r = e->b_res[i];

	e->stats.rx_pkts++;
	e->stats.rx_bytes += in->caplen;
	if (in->ts_us > e->now_us)
		e->now_us = in->ts_us;
	if (kc_likely(r == KC_DEC_OK)) {
		to_flow(e, &e->b_pkt[i], &e->b_key[i], e->b_hash[i], e->b_a_to_b[i], &in->handle, 1, in->ts_us,
			in->caplen);
		return;
	}
	if (r == KC_DEC_FRAGMENT) {
		uint32_t n_dead = 0;
		int done = kc_defrag_add(e->defrag, &e->b_pkt[i], in->handle, e->now_us, &e->done, e->dead,
					 KC_ENGINE_DEAD_CAP, &n_dead);

		release_dead(e, n_dead);
		if (done == 1)
			to_flow_reassembled(e, in);
		return;
	}
	e->stats.decode_drop[r]++;
	engine_release(e, in->handle);
}

/* Read the filter at the start of each entry point (burst, tick, flush): the
 * publisher frees an old one only after the worker's next quiescent state,
 * which the worker reports between calls. */
static void load_filter(struct kc_engine *e)
{
	if (e->cfg.filter != NULL) {
		const struct kc_engine_filter *flt = atomic_load_explicit(e->cfg.filter, memory_order_acquire);

		e->filter_prog = flt ? flt->prog : NULL;
		e->filter_version = flt ? flt->version : 0;
	}
}

/* Lines of a flow entry every packet reads: the lookup and counters lines;
 * unless the stream's fate is fixed, the recording and retention state,
 * within the third line; with dissection also both reassembly directions'
 * per-segment fields, which end in the fourth (engine_internal.h). */
static inline unsigned hot_entry_lines(const struct kc_engine *e)
{
	return e->dissect != NULL ? 4 : fate_fixed(e) ? 2 : 3;
}

static_assert(sizeof(struct kc_flow) + offsetof(struct flow_state, r_unpinned_prev) <= 3 * KC_CACHE_LINE,
	      "recording and retention state within the flow entry's third line");
/* The fourth line's bound is asserted with struct flow_state; here, that an
 * entry reaches into it, so prefetching it stays inside the entry. */
static_assert(sizeof(struct kc_flow) + sizeof(struct flow_state) > 3 * KC_CACHE_LINE,
	      "a dissecting flow's entry reaches its fourth line");

/* Decode, key and hash a batch first and ask for the flow table's memory, so
 * the cache misses of all its lookups overlap instead of following one
 * another (the bulk-lookup pattern of rte_hash and l3fwd). Three passes: the
 * index slots are asked for while the batch decodes; the entries they name
 * only once the whole batch is decoded, because reading a slot that has not
 * arrived stalls (asking for each entry a few packets after its slot cost a
 * third of the rate in situ, where the slots come from L3 or memory); then
 * the lookups, in arrival order. The prefetches are hints: the lookups stay
 * exact. */
static void rx_batch(struct kc_engine *e, const struct kc_engine_pkt *pkts, uint32_t n)
{
	unsigned lines = hot_entry_lines(e);
	uint32_t i;

	for (i = 0; i < n && i < 3; i++)
		__builtin_prefetch(pkts[i].data);
	for (i = 0; i < n; i++) {
		if (i + 3 < n)
			__builtin_prefetch(pkts[i + 3].data);
		e->b_res[i] = (uint8_t)kc_decode_eth(pkts[i].data, pkts[i].caplen, &e->b_pkt[i]);
		e->b_hash[i] = 0;
		if (kc_likely(e->b_res[i] == KC_DEC_OK)) {
			e->b_a_to_b[i] = kc_flow_key_make_hash(&e->b_pkt[i], &e->b_key[i], &e->b_hash[i]);
			kc_flow_prefetch_slot(e->flows, e->b_hash[i]);
		}
	}
	for (i = 0; i < n; i++)
		if (e->b_res[i] == KC_DEC_OK)
			kc_flow_prefetch_entry(e->flows, e->b_hash[i], lines);
	for (i = 0; i < n; i++)
		rx_one(e, &pkts[i], i);
}

void kc_engine_rx(struct kc_engine *e, const struct kc_engine_pkt *pkts, uint32_t n)
{
	uint32_t off;

	load_filter(e);
	for (off = 0; off < n; off += KC_ENGINE_BATCH)
		rx_batch(e, pkts + off, n - off < KC_ENGINE_BATCH ? n - off : KC_ENGINE_BATCH);
}

/* A flow leaves the table: finish its dissection (which may still match and
 * start the recording), release what is retained, and end a recorded stream. */
static void on_flow_release(void *ctx, struct kc_flow *f, enum kc_flow_end why)
{
	struct kc_engine *e = ctx;
	struct flow_state *fs = kc_flow_user(e->flows, f);

	if (fs->df != NULL)
		kc_engine_dissect_close(e, fs);
	kc_engine_retain_drop(e, fs);
	if (fs->recorded && e->ops.stream_end != NULL)
		e->ops.stream_end(e->ctx, f, why, fs->truncated != 0);
}

void kc_engine_tick(struct kc_engine *e, uint64_t now_us)
{
	uint32_t n;

	load_filter(e);
	if (now_us > e->now_us)
		e->now_us = now_us;
	kc_flow_expire(e->flows, e->now_us, e->cfg.expire_budget);
	n = kc_defrag_expire(e->defrag, e->now_us, 8, e->dead, KC_ENGINE_DEAD_CAP);
	release_dead(e, n);
	if (e->dissect != NULL)
		kc_dissect_tick(e->dissect, e->now_us, 64);
	kc_engine_retain_expire(e, 64);
}

void kc_engine_flush(struct kc_engine *e)
{
	uint32_t n;

	load_filter(e);
	kc_flow_flush(e->flows);
	/* Fragments that never completed: give their packets back. */
	while ((n = kc_defrag_expire(e->defrag, UINT64_MAX, 8, e->dead, KC_ENGINE_DEAD_CAP)) > 0)
		release_dead(e, n);
}
