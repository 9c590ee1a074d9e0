/*
 * The per-core engine: the stages a packet goes through on a worker, in the
 * order of style.md rule 13. No locks, no syscalls, no allocation per packet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "kc_engine.h"

/* Fragments of one datagram plus a full table's worth of evictions. */
#define DEAD_CAP (2 * KC_DEFRAG_MAX_FRAGS + 2)

/* Engine state kept in each flow's user area. */
struct flow_state {
	uint8_t recorded; /* record() every packet of this flow */
};

struct kc_engine {
	struct kc_flow_table *flows;
	struct kc_defrag *defrag;
	struct kc_engine_ops ops;
	void *ctx;
	uint64_t now_us;
	struct kc_engine_stats stats;
	struct kc_engine_cfg cfg;
	void *dead[DEAD_CAP];
	struct kc_defrag_done done;
};

static void on_flow_release(void *ctx, struct kc_flow *f, enum kc_flow_end why)
{
	struct kc_engine *e = ctx;
	struct flow_state *fs = kc_flow_user(e->flows, f);

	if (fs->recorded && e->ops.stream_end != NULL)
		e->ops.stream_end(e->ctx, f, why);
}

struct kc_engine *kc_engine_create(const struct kc_engine_cfg *cfg, const struct kc_engine_ops *ops, void *ctx)
{
	struct kc_engine *e;
	struct kc_flow_cfg fc;

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
	return e;

fail_defrag:
	kc_flow_table_destroy(e->flows);
fail:
	free(e);
	return NULL;
}

void kc_engine_destroy(struct kc_engine *e)
{
	if (e == NULL)
		return;
	kc_engine_flush(e);
	kc_flow_table_destroy(e->flows);
	kc_defrag_destroy(e->defrag);
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

uint64_t kc_engine_now(const struct kc_engine *e)
{
	return e->now_us;
}

bool kc_engine_flow_recorded(const struct kc_engine *e, const struct kc_flow *f)
{
	return ((const struct flow_state *)kc_flow_user(e->flows, (struct kc_flow *)f))->recorded != 0;
}

bool kc_engine_from_client(const struct kc_flow *f, const struct kc_pkt *p)
{
	size_t alen = p->family == 4 ? 4 : 16;
	bool src_is_a = memcmp(p->src, f->key.a, alen) == 0 && p->sport == f->key.port_a;

	/* Same address and port on both ends (a flow to itself): a wins. */
	return src_is_a == (f->client_is_a != 0);
}

static void release_handle(struct kc_engine *e, void *h)
{
	e->stats.released_pkts++;
	e->ops.release(e->ctx, h);
}

static void release_dead(struct kc_engine *e, uint32_t n)
{
	uint32_t i;

	e->stats.frag_dropped += n;
	for (i = 0; i < n; i++)
		release_handle(e, e->dead[i]);
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

static void record_handle(struct kc_engine *e, struct kc_flow *f, void *h, uint64_t ts)
{
	e->stats.recorded_pkts++;
	e->ops.record(e->ctx, f, h, ts);
}

/* A decoded TCP/UDP packet (or a completed datagram carried by several
 * handles) reaches its flow. */
static void to_flow(struct kc_engine *e, const struct kc_pkt *p, void *const *handles, uint32_t n_handles,
		    uint64_t ts, uint32_t bytes)
{
	struct kc_flow_key key;
	struct kc_flow *f;
	struct flow_state *fs;
	bool created, a_to_b, from_client;
	uint32_t i;

	a_to_b = kc_flow_key_make(p, &key);
	f = kc_flow_lookup(e->flows, &key, kc_flow_key_hash(&key), ts, &created);
	fs = kc_flow_user(e->flows, f);
	if (created) {
		bool c = first_sender_is_client(p);

		f->client_is_a = (uint8_t)(c == a_to_b);
		if (e->cfg.record_all) {
			fs->recorded = 1;
			e->stats.recorded_streams++;
		}
	}
	from_client = kc_engine_from_client(f, p);
	f->pkts[!from_client]++;
	f->bytes[!from_client] += bytes;
	e->stats.flow_pkts++;
	if (p->proto == IPPROTO_TCP) {
		e->stats.tcp_pkts++;
		kc_flow_tcp_update(e->flows, f, p->tcp_flags, from_client);
	} else {
		e->stats.udp_pkts++;
	}
	for (i = 0; i < n_handles; i++) {
		if (fs->recorded)
			record_handle(e, f, handles[i], ts);
		else
			release_handle(e, handles[i]);
	}
}

static void rx_one(struct kc_engine *e, const struct kc_engine_pkt *in)
{
	struct kc_pkt p;
	enum kc_decode_res r;

	e->stats.rx_pkts++;
	e->stats.rx_bytes += in->caplen;
	if (in->ts_us > e->now_us)
		e->now_us = in->ts_us;
	r = kc_decode_eth(in->data, in->caplen, &p);
	if (kc_likely(r == KC_DEC_OK)) {
		to_flow(e, &p, &in->handle, 1, in->ts_us, in->caplen);
		return;
	}
	if (r == KC_DEC_FRAGMENT) {
		uint32_t n_dead = 0;
		int done = kc_defrag_add(e->defrag, &p, in->handle, e->now_us, &e->done, e->dead, DEAD_CAP, &n_dead);

		release_dead(e, n_dead);
		if (done == 1) {
			if (e->done.res == KC_DEC_OK) {
				to_flow(e, &e->done.pkt, e->done.handles, e->done.n_handles, in->ts_us, in->caplen);
			} else {
				uint32_t i;

				e->stats.decode_drop[e->done.res] += e->done.n_handles;
				for (i = 0; i < e->done.n_handles; i++)
					release_handle(e, e->done.handles[i]);
			}
		}
		return;
	}
	e->stats.decode_drop[r]++;
	release_handle(e, in->handle);
}

void kc_engine_rx(struct kc_engine *e, const struct kc_engine_pkt *pkts, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		rx_one(e, &pkts[i]);
}

void kc_engine_tick(struct kc_engine *e, uint64_t now_us)
{
	uint32_t n;

	if (now_us > e->now_us)
		e->now_us = now_us;
	kc_flow_expire(e->flows, e->now_us, e->cfg.expire_budget);
	n = kc_defrag_expire(e->defrag, e->now_us, 8, e->dead, DEAD_CAP);
	release_dead(e, n);
}

void kc_engine_flush(struct kc_engine *e)
{
	uint32_t n;

	kc_flow_flush(e->flows);
	/* Fragments that never completed: give their packets back. */
	while ((n = kc_defrag_expire(e->defrag, UINT64_MAX, 8, e->dead, DEAD_CAP)) > 0)
		release_dead(e, n);
}
