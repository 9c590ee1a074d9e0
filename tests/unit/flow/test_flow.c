/*
 * Unit tests for the per-core flow table (lib/flow/flow_table.c): key
 * canonicalisation, lookup/create, eviction, per-state timeouts, expiry
 * budget, flush, the TCP state machine, stream ids, and a churn test against
 * a shadow model with deliberately colliding hashes (backward-shift deletion
 * across the index wrap-around).
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kc_decode.h"
#include "kc_flow.h"
#include "kct.h"
#include "pktbuild.h"

#define S 1000000ull /* one second in microseconds */

/* What the release callback saw. */
struct rel_log {
	uint64_t n[KC_FLOW_END_MAX];
	uint64_t total;
	struct kc_flow_key last_key;
	uint64_t last_stream;
	enum kc_flow_end last_why;
	uint32_t user_tag;  /* first 4 bytes of the released flow's user area */
	int bad_flow;       /* released flows that were not in use */
};

static void on_release(void *ctx, struct kc_flow *f, enum kc_flow_end why)
{
	struct rel_log *l = ctx;

	if ((unsigned)why < KC_FLOW_END_MAX)
		l->n[why]++;
	l->total++;
	l->last_key = f->key;
	l->last_stream = f->stream_id;
	l->last_why = why;
	if (!f->in_use)
		l->bad_flow++;
}

static struct kc_flow_table *mk(uint32_t cap, uint32_t user_size, uint8_t worker, struct rel_log *log)
{
	struct kc_flow_cfg cfg = {
		.capacity = cap,
		.user_size = user_size,
		.timeout_us = {30 * S, 300 * S, 10 * S, 60 * S},
		.worker = worker,
	};
	struct kc_flow_table *t;

	memset(log, 0, sizeof(*log));
	t = kc_flow_table_create(&cfg, on_release, log);
	CHECK(t != NULL);
	return t;
}

/* A decoded-looking packet without going through frames. */
static void mkpkt(struct kc_pkt *p, uint8_t family, uint8_t proto, uint32_t a, uint32_t b, uint16_t sp,
		  uint16_t dp)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->proto = proto;
	p->src[0] = (uint8_t)(a >> 24);
	p->src[1] = (uint8_t)(a >> 16);
	p->src[2] = (uint8_t)(a >> 8);
	p->src[3] = (uint8_t)a;
	p->dst[0] = (uint8_t)(b >> 24);
	p->dst[1] = (uint8_t)(b >> 16);
	p->dst[2] = (uint8_t)(b >> 8);
	p->dst[3] = (uint8_t)b;
	if (family == 6) {
		p->src[15] = 0x11;
		p->dst[15] = 0x11;
	}
	p->sport = sp;
	p->dport = dp;
}

/* Decode a frame built from the given layers; both directions use it. */
static void frame_pkt(struct kc_pkt *p, int v6, uint8_t proto, int rev, const uint16_t *vids, unsigned nv)
{
	struct pb b;
	uint32_t ip;
	unsigned i;
	const uint8_t *s4 = rev ? PB_B4 : PB_A4, *d4 = rev ? PB_A4 : PB_B4;
	const uint8_t *s6 = rev ? PB_B6 : PB_A6, *d6 = rev ? PB_A6 : PB_B6;
	uint16_t sp = rev ? 443 : 40000, dp = rev ? 40000 : 443;

	pb_init(&b);
	pb_eth(&b, nv ? 0x88a8 : (v6 ? 0x86dd : 0x0800));
	for (i = 0; i < nv; i++)
		pb_vlan(&b, vids[i], i + 1 < nv ? 0x8100 : (v6 ? 0x86dd : 0x0800));
	ip = v6 ? pb_ip6(&b, proto, s6, d6) : pb_ip4(&b, proto, s4, d4);
	if (proto == IPPROTO_TCP)
		pb_tcp(&b, sp, dp, 1, 2, KC_TCP_ACK, 5, "x", 1);
	else
		pb_udp(&b, sp, dp, "x", 1);
	if (v6)
		pb_ip6_end(&b, ip);
	else
		pb_ip4_end(&b, ip);
	memset(p, 0x77, sizeof(*p));
	CHECK_RES(kc_decode_eth(b.d, b.n, p), KC_DEC_OK);
}

static void test_create_errors(void)
{
	struct kc_flow_cfg cfg = {.capacity = 0};

	errno = 0;
	CHECK(kc_flow_table_create(&cfg, NULL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	cfg.capacity = (1u << 26) + 1;
	errno = 0;
	CHECK(kc_flow_table_create(&cfg, NULL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kc_flow_table_create(NULL, NULL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	kc_flow_table_destroy(NULL);
}

static void test_key_canon(void)
{
	static const uint16_t v1020[2] = {10, 20}, v1021[2] = {10, 21};
	struct kc_pkt p, q;
	struct kc_flow_key k1, k2;
	static const uint8_t zero[16];

	/* IPv4 TCP, both directions. */
	frame_pkt(&p, 0, IPPROTO_TCP, 0, NULL, 0);
	frame_pkt(&q, 0, IPPROTO_TCP, 1, NULL, 0);
	CHECK(kc_flow_key_make(&p, &k1));
	CHECK(!kc_flow_key_make(&q, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	CHECK_EQ(kc_flow_key_hash(&k1), kc_flow_key_hash(&k2));
	CHECK(memcmp(k1.a, PB_A4, 4) == 0 && memcmp(k1.a + 4, zero, 12) == 0);
	CHECK(memcmp(k1.b, PB_B4, 4) == 0 && memcmp(k1.b + 4, zero, 12) == 0);
	CHECK_EQ(k1.port_a, 40000);
	CHECK_EQ(k1.port_b, 443);
	CHECK_EQ(k1.proto, IPPROTO_TCP);
	CHECK_EQ(k1.family, 4);
	CHECK_EQ(k1.vlan[0], 0);
	CHECK(memcmp(k1.pad, zero, sizeof(k1.pad)) == 0);

	/* UDP on the same endpoints is another flow. */
	frame_pkt(&q, 0, IPPROTO_UDP, 0, NULL, 0);
	kc_flow_key_make(&q, &k2);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) != 0);

	/* IPv6 UDP. */
	frame_pkt(&p, 1, IPPROTO_UDP, 1, NULL, 0);
	frame_pkt(&q, 1, IPPROTO_UDP, 0, NULL, 0);
	CHECK(!kc_flow_key_make(&p, &k1));
	CHECK(kc_flow_key_make(&q, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	CHECK_EQ(kc_flow_key_hash(&k1), kc_flow_key_hash(&k2));
	CHECK(memcmp(k1.a, PB_A6, 16) == 0 && memcmp(k1.b, PB_B6, 16) == 0);
	CHECK_EQ(k1.family, 6);
	CHECK_EQ(k1.proto, IPPROTO_UDP);

	/* QinQ-tagged, both directions: same key, tags kept. */
	frame_pkt(&p, 0, IPPROTO_TCP, 0, v1020, 2);
	frame_pkt(&q, 0, IPPROTO_TCP, 1, v1020, 2);
	CHECK(kc_flow_key_make(&p, &k1));
	CHECK(!kc_flow_key_make(&q, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	CHECK_EQ(kc_flow_key_hash(&k1), kc_flow_key_hash(&k2));
	CHECK_EQ(k1.vlan[0], 10);
	CHECK_EQ(k1.vlan[1], 20);
	/* Other inner VLAN: other flow. */
	frame_pkt(&q, 0, IPPROTO_TCP, 1, v1021, 2);
	kc_flow_key_make(&q, &k2);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) != 0);
	CHECK(kc_flow_key_hash(&k1) != kc_flow_key_hash(&k2));
	/* Untagged: other flow. */
	frame_pkt(&q, 0, IPPROTO_TCP, 0, NULL, 0);
	kc_flow_key_make(&q, &k2);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) != 0);

	/* Same address both ends: ports decide; equal ports: either is a. */
	mkpkt(&p, 4, IPPROTO_UDP, 0x7f000001, 0x7f000001, 5000, 80);
	CHECK(!kc_flow_key_make(&p, &k1));
	CHECK_EQ(k1.port_a, 80);
	CHECK_EQ(k1.port_b, 5000);
	mkpkt(&q, 4, IPPROTO_UDP, 0x7f000001, 0x7f000001, 80, 5000);
	CHECK(kc_flow_key_make(&q, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	mkpkt(&p, 4, IPPROTO_UDP, 0x7f000001, 0x7f000001, 53, 53);
	CHECK(kc_flow_key_make(&p, &k1));
	/* Address order wins over port order. */
	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000002, 0x0a000001, 1, 65535);
	CHECK(!kc_flow_key_make(&p, &k1));
	CHECK_EQ(k1.port_a, 65535);
	CHECK_EQ(k1.a[3], 1);
	/* Garbage after the 4 IPv4 bytes must not reach the key. */
	mkpkt(&q, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 65535, 1);
	memset(q.src + 4, 0xcc, 12);
	memset(q.dst + 4, 0xdd, 12);
	CHECK(kc_flow_key_make(&q, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);

	/* A key is only 2-byte aligned: one at offset 2 of a struct must hash
	 * the same (and, under UBSan, without a misaligned 8-byte load). */
	{
		struct {
			uint16_t x;
			struct kc_flow_key k;
		} odd;

		CHECK_EQ(offsetof(__typeof__(odd), k) % 8, 2);
		odd.k = k1;
		CHECK_EQ(kc_flow_key_hash(&odd.k), kc_flow_key_hash(&k1));
	}
}

static struct kc_flow *lk(struct kc_flow_table *t, const struct kc_pkt *p, uint64_t now, bool *created,
			  bool *a_to_b)
{
	struct kc_flow_key k;
	bool dir = kc_flow_key_make(p, &k);

	if (a_to_b != NULL)
		*a_to_b = dir;
	return kc_flow_lookup(t, &k, kc_flow_key_hash(&k), now, created);
}

static void test_lookup(void)
{
	struct rel_log log;
	struct kc_flow_table *t = mk(256, 40, 3, &log);
	struct kc_flow *fl[100];
	struct kc_pkt p;
	bool created, dir;
	uint32_t i;

	for (i = 0; i < 100; i++) {
		mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, (uint16_t)(1000 + i), 80);
		fl[i] = lk(t, &p, 100 + i, &created, &dir);
		CHECK(created);
		CHECK(dir);
		CHECK_EQ(fl[i]->first_us, 100 + i);
		CHECK_EQ(fl[i]->last_us, 100 + i);
		CHECK_EQ(fl[i]->state, KC_FLOW_NEW);
		CHECK_EQ(fl[i]->tclass, KC_FLOW_T_OPENING);
		CHECK_EQ(fl[i]->in_use, 1);
		{
			const uint8_t *u = kc_flow_user(t, fl[i]);
			uint8_t z[40] = {0};

			CHECK(memcmp(u, z, 40) == 0);
			memcpy(kc_flow_user(t, fl[i]), &i, sizeof(i));
			CHECK((const uint8_t *)u >= (const uint8_t *)(fl[i] + 1));
		}
	}
	for (i = 0; i < 100; i++) {
		uint32_t tag;

		/* Reverse direction finds the same flow. */
		mkpkt(&p, 4, IPPROTO_TCP, 0x0a000002, 0x0a000001, 80, (uint16_t)(1000 + i));
		CHECK(lk(t, &p, 1000 + i, &created, &dir) == fl[i]);
		CHECK(!created);
		CHECK(!dir);
		CHECK_EQ(fl[i]->last_us, 1000 + i);
		CHECK_EQ(fl[i]->first_us, 100 + i);
		memcpy(&tag, kc_flow_user(t, fl[i]), sizeof(tag));
		CHECK_EQ(tag, i);
		/* An older timestamp does not move last_us back. */
		CHECK(lk(t, &p, 5, &created, NULL) == fl[i]);
		CHECK_EQ(fl[i]->last_us, 1000 + i);
	}
	for (i = 0; i < 100; i++) {
		uint32_t j;

		for (j = 0; j < i; j++)
			if (fl[i] == fl[j] || fl[i]->stream_id == fl[j]->stream_id)
				break;
		CHECK_EQ(j, i);
	}
	CHECK_EQ(kc_flow_stats(t)->created, 100);
	CHECK_EQ(kc_flow_stats(t)->lookups, 300);
	CHECK_EQ(kc_flow_stats(t)->active, 100);
	CHECK_EQ(log.total, 0);
	kc_flow_table_destroy(t);
	CHECK_EQ(log.total, 100);
	CHECK_EQ(log.n[KC_FLOW_END_FLUSH], 100);
	CHECK_EQ(log.bad_flow, 0);
}

static void test_evict(void)
{
	struct rel_log log;
	struct kc_flow_table *t = mk(4, 8, 0, &log);
	struct kc_flow *f[8];
	struct kc_pkt p[8];
	struct kc_flow_key k;
	bool created;
	uint32_t i;

	/* 1 TCP (t=1), 2 UDP (t=2), 3 TCP (t=3), 4 UDP (t=4). */
	for (i = 0; i < 8; i++)
		mkpkt(&p[i], 4, i % 2 ? IPPROTO_UDP : IPPROTO_TCP, 0x0a000001, 0x0a000002, (uint16_t)(100 + i),
		      80);
	for (i = 0; i < 4; i++) {
		f[i] = lk(t, &p[i], 1 + i, &created, NULL);
		CHECK(created);
	}
	/* Touch flow 0 at t=5: flow 1 (UDP, t=2) is now the longest idle. */
	CHECK(lk(t, &p[0], 5, &created, NULL) == f[0] && !created);
	f[4] = lk(t, &p[4], 6, &created, NULL);
	CHECK(created);
	CHECK_EQ(log.n[KC_FLOW_END_EVICTED], 1);
	kc_flow_key_make(&p[1], &k);
	CHECK(memcmp(&log.last_key, &k, sizeof(k)) == 0);
	CHECK(f[4] == f[1]); /* the freed entry is reused */
	CHECK_EQ(kc_flow_stats(t)->active, 4);
	CHECK_EQ(kc_flow_stats(t)->ended[KC_FLOW_END_EVICTED], 1);
	/* Next: flow 2 (TCP, t=3), then flow 3 (UDP, t=4), then flow 0 (t=5). */
	lk(t, &p[5], 7, &created, NULL);
	kc_flow_key_make(&p[2], &k);
	CHECK(memcmp(&log.last_key, &k, sizeof(k)) == 0);
	lk(t, &p[6], 8, &created, NULL);
	kc_flow_key_make(&p[3], &k);
	CHECK(memcmp(&log.last_key, &k, sizeof(k)) == 0);
	lk(t, &p[7], 9, &created, NULL);
	kc_flow_key_make(&p[0], &k);
	CHECK(memcmp(&log.last_key, &k, sizeof(k)) == 0);
	CHECK_EQ(log.n[KC_FLOW_END_EVICTED], 4);
	CHECK_EQ(log.last_why, KC_FLOW_END_EVICTED);
	/* An evicted flow comes back as a new one (new stream id). */
	{
		uint64_t old = log.last_stream;
		struct kc_flow *g = lk(t, &p[0], 10, &created, NULL);

		CHECK(created);
		CHECK(g->stream_id != old);
	}
	CHECK_EQ(kc_flow_stats(t)->created, 9);
	CHECK_EQ(kc_flow_stats(t)->active, 4);
	kc_flow_table_destroy(t);
	CHECK_EQ(log.n[KC_FLOW_END_FLUSH], 4);
}

/* One flow per scenario; returns it after the flag sequence at time @p t0. */
static struct kc_flow *tcp_flow(struct kc_flow_table *t, uint16_t port, uint64_t t0, const uint8_t *flags,
				const bool *from_client, unsigned n)
{
	struct kc_pkt p;
	struct kc_flow *f = NULL;
	bool created;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (from_client[i])
			mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, port, 80);
		else
			mkpkt(&p, 4, IPPROTO_TCP, 0x0a000002, 0x0a000001, 80, port);
		f = lk(t, &p, t0, &created, NULL);
		kc_flow_tcp_update(t, f, flags[i], from_client[i]);
	}
	return f;
}

static void test_timeouts(void)
{
	static const uint8_t syn[] = {KC_TCP_SYN};
	static const uint8_t hs[] = {KC_TCP_SYN, KC_TCP_SYN | KC_TCP_ACK, KC_TCP_ACK};
	static const uint8_t finfin[] = {KC_TCP_SYN, KC_TCP_SYN | KC_TCP_ACK, KC_TCP_ACK,
					 KC_TCP_FIN | KC_TCP_ACK, KC_TCP_FIN | KC_TCP_ACK};
	static const uint8_t rst[] = {KC_TCP_ACK, KC_TCP_RST};
	static const bool c1[] = {true}, c3[] = {true, false, true}, c5[] = {true, false, true, true, false};
	static const bool c2[] = {true, false};
	struct rel_log log;
	struct kc_flow_table *t = mk(64, 0, 0, &log);
	struct kc_flow *f;
	struct kc_pkt p;
	bool created;
	const uint64_t t0 = 1000 * S;

	/* SYN only: opening timeout (30 s). */
	f = tcp_flow(t, 1, t0, syn, c1, 1);
	CHECK_EQ(f->state, KC_FLOW_SYN_SENT);
	CHECK_EQ(f->tclass, KC_FLOW_T_OPENING);
	CHECK_EQ(kc_flow_expire(t, t0 + 30 * S - 1, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 30 * S, 100), 1);
	CHECK_EQ(log.n[KC_FLOW_END_TIMEOUT], 1);
	CHECK_EQ(kc_flow_stats(t)->active, 0);

	/* Established: 300 s, the opening timeout no longer applies. */
	f = tcp_flow(t, 2, t0, hs, c3, 3);
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	CHECK_EQ(f->tclass, KC_FLOW_T_ESTABLISHED);
	CHECK_EQ(kc_flow_expire(t, t0 + 30 * S, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 300 * S - 1, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 300 * S, 100), 1);
	CHECK_EQ(log.n[KC_FLOW_END_TIMEOUT], 2);

	/* FIN both ways: closed, 10 s. */
	f = tcp_flow(t, 3, t0, finfin, c5, 5);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);
	CHECK_EQ(f->tclass, KC_FLOW_T_CLOSED);
	CHECK_EQ(kc_flow_expire(t, t0 + 10 * S - 1, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 10 * S, 100), 1);

	/* RST: closed, 10 s. */
	f = tcp_flow(t, 4, t0, rst, c2, 2);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);
	CHECK_EQ(kc_flow_expire(t, t0 + 10 * S - 1, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 10 * S, 100), 1);

	/* UDP: 60 s, and a packet in between restarts the clock. */
	mkpkt(&p, 4, IPPROTO_UDP, 0x0a000001, 0x0a000002, 53, 53);
	f = lk(t, &p, t0, &created, NULL);
	CHECK(created);
	CHECK_EQ(f->tclass, KC_FLOW_T_UDP);
	CHECK_EQ(f->state, KC_FLOW_NEW);
	CHECK(lk(t, &p, t0 + 50 * S, &created, NULL) == f);
	CHECK_EQ(kc_flow_expire(t, t0 + 60 * S, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 110 * S - 1, 100), 0);
	CHECK_EQ(kc_flow_expire(t, t0 + 110 * S, 100), 1);
	CHECK_EQ(log.n[KC_FLOW_END_TIMEOUT], 5);
	CHECK_EQ(kc_flow_stats(t)->ended[KC_FLOW_END_TIMEOUT], 5);
	CHECK_EQ(kc_flow_stats(t)->active, 0);

	/* Mixed classes expire independently of insertion order. */
	tcp_flow(t, 5, t0, hs, c3, 3);       /* established: t0 + 300 s */
	tcp_flow(t, 6, t0 + 1, syn, c1, 1);  /* opening: t0 + 30 s */
	mkpkt(&p, 4, IPPROTO_UDP, 0x0a000001, 0x0a000002, 7, 7);
	lk(t, &p, t0 + 2, &created, NULL);   /* udp: t0 + 60 s */
	tcp_flow(t, 8, t0 + 3, rst, c2, 2);  /* closed: t0 + 10 s */
	CHECK_EQ(kc_flow_expire(t, t0 + 10 * S + 3, 100), 1);
	CHECK_EQ(kc_flow_expire(t, t0 + 30 * S + 1, 100), 1);
	CHECK_EQ(kc_flow_expire(t, t0 + 60 * S + 2, 100), 1);
	CHECK_EQ(kc_flow_stats(t)->active, 1);
	CHECK_EQ(kc_flow_expire(t, t0 + 300 * S, 100), 1);
	CHECK_EQ(kc_flow_stats(t)->active, 0);
	CHECK_EQ(log.bad_flow, 0);
	kc_flow_table_destroy(t);
}

static void test_budget_flush(void)
{
	struct rel_log log;
	struct kc_flow_table *t = mk(64, 0, 0, &log);
	struct kc_pkt p;
	bool created;
	uint32_t i;

	for (i = 0; i < 10; i++) {
		mkpkt(&p, 4, IPPROTO_UDP, 0x0a000001, 0x0a000002, (uint16_t)i, 53);
		lk(t, &p, 1, &created, NULL);
	}
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 3);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 3);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 0), 0);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 3);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 1);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 0);
	CHECK_EQ(log.n[KC_FLOW_END_TIMEOUT], 10);

	/* Budget across classes: 2 TCP + 2 UDP expired, budget 3. */
	for (i = 0; i < 4; i++) {
		mkpkt(&p, 4, i < 2 ? IPPROTO_TCP : IPPROTO_UDP, 0x0a000001, 0x0a000002, (uint16_t)i, 53);
		lk(t, &p, 1, &created, NULL);
	}
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 3);
	CHECK_EQ(kc_flow_expire(t, 100 * S, 3), 1);

	/* Flush: everything goes, reason flush. */
	for (i = 0; i < 50; i++) {
		mkpkt(&p, 4, i % 3 ? IPPROTO_TCP : IPPROTO_UDP, 0x0a000001, 0x0a000002, (uint16_t)i, 80);
		lk(t, &p, 200 * S, &created, NULL);
	}
	CHECK_EQ(kc_flow_stats(t)->active, 50);
	kc_flow_flush(t);
	CHECK_EQ(log.n[KC_FLOW_END_FLUSH], 50);
	CHECK_EQ(kc_flow_stats(t)->active, 0);
	CHECK_EQ(kc_flow_stats(t)->ended[KC_FLOW_END_FLUSH], 50);
	CHECK_EQ(kc_flow_expire(t, UINT64_MAX / 2, 100), 0);
	/* Usable again, and every key is new. */
	for (i = 0; i < 50; i++) {
		mkpkt(&p, 4, i % 3 ? IPPROTO_TCP : IPPROTO_UDP, 0x0a000001, 0x0a000002, (uint16_t)i, 80);
		lk(t, &p, 300 * S, &created, NULL);
		CHECK(created);
	}
	/* Explicit removal with a reason. */
	{
		struct kc_flow *f = lk(t, &p, 301 * S, &created, NULL);

		CHECK(!created);
		kc_flow_remove(t, f, KC_FLOW_END_TIMEOUT);
		CHECK_EQ(log.last_why, KC_FLOW_END_TIMEOUT);
		CHECK_EQ(kc_flow_stats(t)->active, 49);
		lk(t, &p, 302 * S, &created, NULL);
		CHECK(created);
	}
	kc_flow_table_destroy(t);
	CHECK_EQ(log.n[KC_FLOW_END_FLUSH], 100);
	CHECK_EQ(log.bad_flow, 0);
}

static void test_state_machine(void)
{
	struct rel_log log;
	struct kc_flow_table *t = mk(64, 0, 0, &log);
	struct kc_flow *f;
	struct kc_pkt p;
	bool created;

	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 1000, 80);
	f = lk(t, &p, 1, &created, NULL);
	CHECK_EQ(f->state, KC_FLOW_NEW);
	kc_flow_tcp_update(t, f, KC_TCP_SYN, true);
	CHECK_EQ(f->state, KC_FLOW_SYN_SENT);
	kc_flow_tcp_update(t, f, KC_TCP_SYN, true); /* retransmitted SYN */
	CHECK_EQ(f->state, KC_FLOW_SYN_SENT);
	kc_flow_tcp_update(t, f, KC_TCP_SYN | KC_TCP_ACK, false);
	CHECK_EQ(f->state, KC_FLOW_SYN_RCVD);
	CHECK_EQ(f->tclass, KC_FLOW_T_OPENING);
	kc_flow_tcp_update(t, f, KC_TCP_ACK, true);
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	CHECK_EQ(f->tclass, KC_FLOW_T_ESTABLISHED);
	kc_flow_tcp_update(t, f, KC_TCP_SYN | KC_TCP_ACK, false); /* late SYN+ACK */
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	kc_flow_tcp_update(t, f, KC_TCP_SYN, true);
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	kc_flow_tcp_update(t, f, KC_TCP_PSH | KC_TCP_ACK, false);
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	kc_flow_tcp_update(t, f, KC_TCP_FIN | KC_TCP_ACK, false);
	CHECK_EQ(f->state, KC_FLOW_FIN_WAIT);
	CHECK_EQ(f->fin_seen, 2);
	CHECK_EQ(f->tclass, KC_FLOW_T_ESTABLISHED);
	kc_flow_tcp_update(t, f, KC_TCP_FIN | KC_TCP_ACK, false); /* same side again */
	CHECK_EQ(f->state, KC_FLOW_FIN_WAIT);
	kc_flow_tcp_update(t, f, KC_TCP_ACK, true); /* data after a half close */
	CHECK_EQ(f->state, KC_FLOW_FIN_WAIT);
	kc_flow_tcp_update(t, f, KC_TCP_FIN | KC_TCP_ACK, true);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);
	CHECK_EQ(f->fin_seen, 3);
	CHECK_EQ(f->tclass, KC_FLOW_T_CLOSED);
	kc_flow_tcp_update(t, f, KC_TCP_ACK, false); /* last ACK */
	CHECK_EQ(f->state, KC_FLOW_CLOSED);

	/* Mid-stream pickup: data on a new flow. */
	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 1001, 80);
	f = lk(t, &p, 1, &created, NULL);
	kc_flow_tcp_update(t, f, KC_TCP_PSH | KC_TCP_ACK, true);
	CHECK_EQ(f->state, KC_FLOW_ESTABLISHED);
	CHECK_EQ(f->tclass, KC_FLOW_T_ESTABLISHED);

	/* SYN+ACK first (SYN not captured). */
	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 1002, 80);
	f = lk(t, &p, 1, &created, NULL);
	kc_flow_tcp_update(t, f, KC_TCP_SYN | KC_TCP_ACK, false);
	CHECK_EQ(f->state, KC_FLOW_SYN_RCVD);

	/* RST from any state closes; a FIN after it does not reopen. */
	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 1003, 80);
	f = lk(t, &p, 1, &created, NULL);
	kc_flow_tcp_update(t, f, KC_TCP_RST, false);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);
	CHECK_EQ(f->tclass, KC_FLOW_T_CLOSED);
	kc_flow_tcp_update(t, f, KC_TCP_FIN | KC_TCP_ACK, true);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);
	CHECK_EQ(f->tclass, KC_FLOW_T_CLOSED);
	mkpkt(&p, 4, IPPROTO_TCP, 0x0a000001, 0x0a000002, 1004, 80);
	f = lk(t, &p, 1, &created, NULL);
	kc_flow_tcp_update(t, f, KC_TCP_ACK, true);
	kc_flow_tcp_update(t, f, KC_TCP_FIN | KC_TCP_ACK, true);
	CHECK_EQ(f->state, KC_FLOW_FIN_WAIT);
	kc_flow_tcp_update(t, f, KC_TCP_RST | KC_TCP_ACK, false);
	CHECK_EQ(f->state, KC_FLOW_CLOSED);

	/* Names. */
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_NEW), "new") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_SYN_SENT), "syn_sent") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_SYN_RCVD), "syn_rcvd") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_ESTABLISHED), "established") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_FIN_WAIT), "fin_wait") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_CLOSED), "closed") == 0);
	CHECK(strcmp(kc_flow_state_name(KC_FLOW_STATE_MAX), "unknown") == 0);

	/* LRU lists stay consistent through class moves: expiring everything
	 * reaches every flow exactly once. */
	CHECK_EQ(kc_flow_expire(t, 1000 * S, 1000), 5);
	CHECK_EQ(kc_flow_stats(t)->active, 0);
	kc_flow_table_destroy(t);
	CHECK_EQ(log.total, 5);
}

static void test_stream_ids(void)
{
	static uint64_t ids[5000];
	struct rel_log log;
	struct kc_flow_table *t = mk(100, 0, 0xab, &log);
	struct kc_pkt p;
	bool created;
	uint32_t i, bad_worker = 0, zero = 0, dup = 0;

	for (i = 0; i < 5000; i++) {
		struct kc_flow *f;

		mkpkt(&p, 4, IPPROTO_UDP, 0x0a000001 + i, 0x0a000002, 1, 2);
		f = lk(t, &p, 1 + i, &created, NULL);
		ids[i] = f->stream_id;
		if (ids[i] >> 48 != 0xab)
			bad_worker++;
		if ((ids[i] & 0xffffffffffffull) == 0)
			zero++;
		if (i > 0 && ids[i] <= ids[i - 1]) /* increasing, so unique */
			dup++;
	}
	CHECK_EQ(bad_worker, 0);
	CHECK_EQ(zero, 0);
	CHECK_EQ(dup, 0);
	CHECK_EQ(log.n[KC_FLOW_END_EVICTED], 4900);
	kc_flow_table_destroy(t);

	/* Two workers never share an id. */
	{
		struct rel_log l2;
		struct kc_flow_table *t0 = mk(8, 0, 0, &log), *t1 = mk(8, 0, 1, &l2);
		struct kc_flow *a, *b;

		mkpkt(&p, 4, IPPROTO_UDP, 1, 2, 3, 4);
		a = lk(t0, &p, 1, &created, NULL);
		b = lk(t1, &p, 1, &created, NULL);
		CHECK(a->stream_id != b->stream_id);
		CHECK_EQ(a->stream_id & 0xffffffffffffull, b->stream_id & 0xffffffffffffull);
		CHECK_EQ(b->stream_id >> 48, 1);
		kc_flow_table_destroy(t0);
		kc_flow_table_destroy(t1);
	}
}

/* ---- churn against a shadow model ---- */

#define C_CAP 1000
#define C_KEYS 1500
#define C_OPS 1000000

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

struct shadow {
	struct kc_flow_key key[C_KEYS];
	uint32_t hash[C_KEYS];
	struct kc_flow *flow[C_KEYS];   /* NULL when absent */
	int prev[C_KEYS], next[C_KEYS]; /* LRU order of present keys */
	int head, tail;
	uint32_t count;
};

static void sh_unlink(struct shadow *s, int i)
{
	if (s->prev[i] >= 0)
		s->next[s->prev[i]] = s->next[i];
	else
		s->head = s->next[i];
	if (s->next[i] >= 0)
		s->prev[s->next[i]] = s->prev[i];
	else
		s->tail = s->prev[i];
}

static void sh_append(struct shadow *s, int i)
{
	s->prev[i] = s->tail;
	s->next[i] = -1;
	if (s->tail >= 0)
		s->next[s->tail] = i;
	else
		s->head = i;
	s->tail = i;
}

static int sh_find(const struct shadow *s, const struct kc_flow_key *k)
{
	int i;

	for (i = 0; i < C_KEYS; i++)
		if (memcmp(&s->key[i], k, sizeof(*k)) == 0)
			return i;
	return -1;
}

/*
 * The index has 2048 slots. A third of the keys keep their real hash, a third
 * get home slots 0..63 and a third 1984..2047, so two dense clusters meet
 * across the wrap-around: long probe runs in which every deletion has to
 * shift entries back across slot 0.
 */
static void test_churn(void)
{
	static struct shadow s;
	struct rel_log log;
	struct kc_flow_table *t = mk(C_CAP, 16, 9, &log);
	uint32_t op, i;
	uint64_t now = 0;
	uint32_t wrong_created = 0, wrong_flow = 0, wrong_key = 0, wrong_evict = 0, wrong_active = 0;
	uint32_t wrong_user = 0, removes = 0, evictions = 0, sweeps = 0;

	if (t == NULL)
		return;
	s.head = s.tail = -1;
	for (i = 0; i < C_KEYS; i++) {
		struct kc_pkt p;
		uint32_t h;

		mkpkt(&p, 4, i % 2 ? IPPROTO_UDP : IPPROTO_TCP, 0x0a000000 + i, 0xc0a80001, (uint16_t)(i * 7),
		      443);
		kc_flow_key_make(&p, &s.key[i]);
		h = kc_flow_key_hash(&s.key[i]);
		switch (i % 3) {
		case 0:
			s.hash[i] = h;
			break;
		case 1:
			s.hash[i] = (h & ~0x7ffu) | (h & 0x3f);
			break;
		default:
			s.hash[i] = (h & ~0x7ffu) | 0x7c0 | (h & 0x3f);
			break;
		}
	}

	for (op = 0; op < C_OPS; op++) {
		int k = (int)rnd(C_KEYS);
		bool created;
		struct kc_flow *f;

		now++;
		if (s.flow[k] != NULL && rnd(2) == 0) {
			uint64_t before = log.total;

			kc_flow_remove(t, s.flow[k], KC_FLOW_END_FLUSH);
			removes++;
			if (log.total != before + 1 || memcmp(&log.last_key, &s.key[k], sizeof(s.key[k])) != 0)
				wrong_key++;
			s.flow[k] = NULL;
			sh_unlink(&s, k);
			s.count--;
		} else {
			uint64_t ev_before = log.n[KC_FLOW_END_EVICTED];
			int victim = s.flow[k] == NULL && s.count == C_CAP ? s.head : -1;

			f = kc_flow_lookup(t, &s.key[k], s.hash[k], now, &created);
			if (created != (s.flow[k] == NULL))
				wrong_created++;
			if (s.flow[k] != NULL && f != s.flow[k])
				wrong_flow++;
			if (memcmp(&f->key, &s.key[k], sizeof(s.key[k])) != 0)
				wrong_key++;
			if (victim >= 0) {
				evictions++;
				if (log.n[KC_FLOW_END_EVICTED] != ev_before + 1 ||
				    memcmp(&log.last_key, &s.key[victim], sizeof(s.key[victim])) != 0) {
					wrong_evict++;
					/* Follow the table, so one error does not cascade
					 * into removals of reused entries. */
					victim = sh_find(&s, &log.last_key);
				}
				if (victim >= 0 && victim != k) {
					s.flow[victim] = NULL;
					sh_unlink(&s, victim);
					s.count--;
				}
			} else if (log.n[KC_FLOW_END_EVICTED] != ev_before) {
				wrong_evict++;
			}
			if (created) {
				int32_t tag = k;

				memcpy(kc_flow_user(t, f), &tag, sizeof(tag));
				s.flow[k] = f;
				sh_append(&s, k);
				s.count++;
			} else {
				int32_t tag;

				memcpy(&tag, kc_flow_user(t, f), sizeof(tag));
				if (tag != k)
					wrong_user++;
				sh_unlink(&s, k);
				sh_append(&s, k);
			}
		}
		if (kc_flow_stats(t)->active != s.count)
			wrong_active++;
		/* Once the table and the model disagree, later removals could hit
		 * entries the table no longer indexes (which never returns):
		 * stop and report. */
		if (wrong_created + wrong_flow + wrong_key + wrong_evict + wrong_active + wrong_user > 0) {
			fprintf(stderr, "churn: table and model disagree at op %u\n", op);
			break;
		}

		/* Full sweep now and then: every present key is found, every
		 * absent key is not (created, then removed again). */
		if (op % 100000 == 99999) {
			if (s.count == C_CAP) { /* make room for the absent-key probes */
				int h = s.head;

				kc_flow_remove(t, s.flow[h], KC_FLOW_END_FLUSH);
				s.flow[h] = NULL;
				sh_unlink(&s, h);
				s.count--;
			}
			sweeps++;
			for (i = 0; i < C_KEYS; i++) {
				now++; /* distinct times: eviction order must not hinge on ties */
				f = kc_flow_lookup(t, &s.key[i], s.hash[i], now, &created);
				if (s.flow[i] != NULL) {
					if (created || f != s.flow[i])
						wrong_flow++;
					sh_unlink(&s, (int)i);
					sh_append(&s, (int)i);
				} else {
					if (!created)
						wrong_created++;
					kc_flow_remove(t, f, KC_FLOW_END_FLUSH);
				}
			}
		}
	}
	CHECK_EQ(wrong_created, 0);
	CHECK_EQ(wrong_flow, 0);
	CHECK_EQ(wrong_key, 0);
	CHECK_EQ(wrong_evict, 0);
	CHECK_EQ(wrong_active, 0);
	CHECK_EQ(wrong_user, 0);
	CHECK(removes > 100000);
	CHECK(evictions > 10000);
	CHECK(sweeps >= 3);
	CHECK_EQ(log.bad_flow, 0);
	printf("churn: %u ops, %u removes, %u evictions, %u sweeps, max probe %" PRIu64 "\n", C_OPS, removes,
	       evictions, sweeps, kc_flow_stats(t)->max_probe);
	{
		uint64_t before = log.n[KC_FLOW_END_FLUSH], present = s.count;

		kc_flow_flush(t);
		CHECK_EQ(log.n[KC_FLOW_END_FLUSH] - before, present);
		CHECK_EQ(kc_flow_stats(t)->active, 0);
	}
	kc_flow_table_destroy(t);
}

/* kc_flow_key_make_hash() is kc_flow_key_make() + kc_flow_key_hash(); a
 * seed changes every hash but keeps both directions together; and the hash
 * spreads sequential addresses and ports evenly over a power-of-two index. */
static void test_hash_seed(void)
{
	enum { N = 1 << 16, BUCKETS = 1 << 12 };
	static uint32_t count[BUCKETS];
	struct kc_pkt p, q;
	struct kc_flow_key k1, k2;
	uint32_t h1, h2, before, i, max = 0, differ = 0;
	uint8_t fam;

	frame_pkt(&p, 0, IPPROTO_TCP, 0, NULL, 0);
	frame_pkt(&q, 0, IPPROTO_TCP, 1, NULL, 0);
	CHECK(kc_flow_key_make_hash(&p, &k1, &h1));
	CHECK(!kc_flow_key_make_hash(&q, &k2, &h2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	CHECK_EQ(h1, h2);
	CHECK_EQ(h1, kc_flow_key_hash(&k1));
	before = h1;

	kc_flow_hash_seed(0x5eed);
	kc_flow_key_make_hash(&p, &k1, &h1);
	kc_flow_key_make_hash(&q, &k2, &h2);
	CHECK_EQ(h1, h2);
	CHECK(h1 != before);
	CHECK_EQ(h1, kc_flow_key_hash(&k1));

	/* 65536 flows from one client to one server, sequential source ports
	 * and addresses: the shape of a scan, the unkind case for weak hashes.
	 * IPv4 and IPv6 keys are hashed differently: both. */
	for (fam = 4; fam <= 6; fam += 2) {
		memset(count, 0, sizeof(count));
		max = differ = 0;
		for (i = 0; i < N; i++) {
			uint32_t h, h0;

			mkpkt(&p, fam, IPPROTO_TCP, 0x0a000000u + (i >> 8), 0x0a0000ffu, (uint16_t)(1024 + (i & 0xff)),
			      80);
			kc_flow_key_make_hash(&p, &k1, &h);
			CHECK_EQ(h, kc_flow_key_hash(&k1));
			count[h & (BUCKETS - 1)]++;
			kc_flow_hash_seed(1);
			kc_flow_key_make_hash(&p, &k1, &h0);
			kc_flow_hash_seed(0x5eed);
			differ += h0 != h;
		}
		for (i = 0; i < BUCKETS; i++)
			if (count[i] > max)
				max = count[i];
		/* 16 per bucket on average; a fair hash stays far below 48. */
		CHECK(max < 48);
		CHECK(differ > N - 16);
	}

	/* Ports only (what a remote sender controls best), over a single
	 * address pair: still spread. */
	memset(count, 0, sizeof(count));
	max = 0;
	for (i = 0; i < N; i++) {
		uint32_t h;

		mkpkt(&p, 4, IPPROTO_UDP, 0xc0000201u, 0xc6336401u, (uint16_t)i, (uint16_t)(i * 31));
		kc_flow_key_make_hash(&p, &k1, &h);
		count[h & (BUCKETS - 1)]++;
	}
	for (i = 0; i < BUCKETS; i++)
		if (count[i] > max)
			max = count[i];
	CHECK(max < 48);

	/* Every field of the key reaches the hash, in both families: VLAN ids,
	 * protocol, each address byte and each port byte. */
	for (fam = 4; fam <= 6; fam += 2) {
		uint32_t base;
		unsigned j;

		mkpkt(&p, fam, IPPROTO_TCP, 0x0a000001, 0x0a000002, 40000, 443);
		kc_flow_key_make_hash(&p, &k1, &base);
		q = p;
		q.vlan[0] = 7;
		kc_flow_key_make_hash(&q, &k2, &h2);
		CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
		q = p;
		q.vlan[1] = 7;
		kc_flow_key_make_hash(&q, &k2, &h2);
		CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
		q = p;
		q.proto = IPPROTO_UDP;
		kc_flow_key_make_hash(&q, &k2, &h2);
		CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
		for (j = 0; j < (fam == 4 ? 4u : 16u); j++) {
			q = p;
			q.src[j] ^= 0x80;
			kc_flow_key_make_hash(&q, &k2, &h2);
			CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
			q = p;
			q.dst[j] ^= 0x01;
			kc_flow_key_make_hash(&q, &k2, &h2);
			CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
		}
		q = p;
		q.sport ^= 0x100;
		kc_flow_key_make_hash(&q, &k2, &h2);
		CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
		q = p;
		q.dport ^= 1;
		kc_flow_key_make_hash(&q, &k2, &h2);
		CHECK(h2 != base && h2 == kc_flow_key_hash(&k2));
	}
	kc_flow_hash_seed(0x5eed);
}

int main(void)
{
	test_create_errors();
	test_key_canon();
	test_lookup();
	test_evict();
	test_timeouts();
	test_budget_flush();
	test_state_machine();
	test_stream_ids();
	test_churn();
	test_hash_seed();
	return kct_done("test_flow");
}
