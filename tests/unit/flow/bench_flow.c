/*
 * Micro-benchmark: decode + flow lookup, single thread, all in memory.
 *
 * 10,000 flows (70% IPv4 TCP, 20% IPv4 UDP, 10% IPv6 TCP; one in five behind
 * an 802.1Q tag), one prebuilt frame per flow and direction, and a sequence
 * of packets picking flow and direction at random (uniform: no locality, the
 * unkind case for the caches). Each packet goes through kc_decode_eth,
 * kc_flow_key_make, kc_flow_key_hash, kc_flow_lookup and, for TCP,
 * kc_flow_tcp_update: the per-packet work of a worker before reassembly.
 *
 * Usage: bench_flow [packets]   (default 2,000,000)
 * Prints ns/packet and Mpps (thread CPU time), median of 5 runs, for decode
 * alone and for decode + flow. Not a test: scripts/bench.sh runs it.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_decode.h"
#include "kc_flow.h"
#include "pktbuild.h"

#define N_FLOWS 10000
#define RUNS 5
#define FRAME_MAX 160

static uint8_t frames[N_FLOWS * 2][FRAME_MAX];
static uint32_t frame_len[N_FLOWS * 2];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* Thread CPU time, not wall time: on a shared, oversubscribed host the wall
 * clock mostly measures the scheduler. (Cache pollution by neighbours still
 * shows.) */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void build_frames(void)
{
	static struct pb b;
	static const uint8_t payload[64];
	uint32_t f, dir;

	for (f = 0; f < N_FLOWS; f++) {
		uint32_t kind = rnd(10), tagged = rnd(5) == 0, plen = rnd(65);
		uint8_t a4[4] = {10, (uint8_t)(f >> 8), (uint8_t)f, 1}, b4[4] = {192, 168, (uint8_t)(f % 7), 2};
		uint8_t a6[16], b6[16];
		uint16_t pa = (uint16_t)(1024 + rnd(60000)), pb_ = (uint16_t)(kind < 7 ? 443 : 53);

		memcpy(a6, PB_A6, 16);
		memcpy(b6, PB_B6, 16);
		a6[14] = (uint8_t)(f >> 8);
		a6[15] = (uint8_t)f;
		for (dir = 0; dir < 2; dir++) {
			uint32_t ip;
			int v6 = kind == 9;
			uint8_t proto = kind >= 7 && kind < 9 ? IPPROTO_UDP : IPPROTO_TCP;
			uint16_t sp = dir ? pb_ : pa, dp = dir ? pa : pb_;

			pb_init(&b);
			if (tagged) {
				pb_eth(&b, 0x8100);
				pb_vlan(&b, (uint16_t)(f % 4000 + 1), v6 ? 0x86dd : 0x0800);
			} else {
				pb_eth(&b, v6 ? 0x86dd : 0x0800);
			}
			if (v6)
				ip = pb_ip6(&b, proto, dir ? b6 : a6, dir ? a6 : b6);
			else
				ip = pb_ip4(&b, proto, dir ? b4 : a4, dir ? a4 : b4);
			if (proto == IPPROTO_TCP)
				pb_tcp(&b, sp, dp, rnd(1u << 30), rnd(1u << 30), KC_TCP_ACK | KC_TCP_PSH, 8, payload, plen);
			else
				pb_udp(&b, sp, dp, payload, plen);
			if (v6)
				pb_ip6_end(&b, ip);
			else
				pb_ip4_end(&b, ip);
			if (b.n < 60)
				pb_fill(&b, 0, 60 - b.n);
			memcpy(frames[f * 2 + dir], b.d, b.n);
			frame_len[f * 2 + dir] = b.n;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct kc_flow_cfg cfg = {
		.capacity = 16384,
		.user_size = 64,
		.timeout_us = {30000000, 300000000, 10000000, 60000000},
	};
	uint32_t n_pkts = 2000000, i, r;
	uint32_t *seq;
	uint64_t t_dec[RUNS], t_all[RUNS], check = 0;
	double med_dec, med_all;

	if (argc > 1)
		n_pkts = (uint32_t)strtoul(argv[1], NULL, 10);
	if (n_pkts == 0)
		n_pkts = 1;
	build_frames();
	seq = malloc(sizeof(*seq) * n_pkts);
	if (seq == NULL)
		return 1;
	for (i = 0; i < n_pkts; i++)
		seq[i] = rnd(N_FLOWS * 2);

	for (r = 0; r < RUNS; r++) {
		struct kc_flow_table *t = kc_flow_table_create(&cfg, NULL, NULL);
		uint64_t t0, bad = 0;

		if (t == NULL)
			return 1;
		/* Decode only. */
		t0 = now_ns();
		for (i = 0; i < n_pkts; i++) {
			struct kc_pkt p;

			if (kc_decode_eth(frames[seq[i]], frame_len[seq[i]], &p) != KC_DEC_OK)
				bad++;
			check += p.payload_len;
		}
		t_dec[r] = now_ns() - t0;
		/* Decode + key + hash + lookup + TCP state. */
		t0 = now_ns();
		for (i = 0; i < n_pkts; i++) {
			struct kc_pkt p;
			struct kc_flow_key k;
			struct kc_flow *f;
			bool created, a_to_b;

			if (kc_decode_eth(frames[seq[i]], frame_len[seq[i]], &p) != KC_DEC_OK) {
				bad++;
				continue;
			}
			a_to_b = kc_flow_key_make(&p, &k);
			f = kc_flow_lookup(t, &k, kc_flow_key_hash(&k), i, &created);
			if (created)
				f->client_is_a = a_to_b;
			if (p.proto == IPPROTO_TCP)
				kc_flow_tcp_update(t, f, p.tcp_flags, a_to_b == (f->client_is_a != 0));
			f->pkts[a_to_b ? 0 : 1]++;
		}
		t_all[r] = now_ns() - t0;
		if (bad != 0 || kc_flow_stats(t)->active != N_FLOWS) {
			fprintf(stderr, "bench_flow: %llu packets failed to decode, %llu flows (want %u)\n",
				(unsigned long long)bad, (unsigned long long)kc_flow_stats(t)->active, N_FLOWS);
			return 1;
		}
		kc_flow_table_destroy(t);
	}
	qsort(t_dec, RUNS, sizeof(t_dec[0]), cmp_u64);
	qsort(t_all, RUNS, sizeof(t_all[0]), cmp_u64);
	med_dec = (double)t_dec[RUNS / 2] / n_pkts;
	med_all = (double)t_all[RUNS / 2] / n_pkts;
	printf("bench_flow: %u packets, %u flows, median of %d runs (thread CPU time)\n", n_pkts, N_FLOWS, RUNS);
	printf("  decode only:          %6.1f ns/packet  %6.2f Mpps\n", med_dec, 1000.0 / med_dec);
	printf("  decode + flow lookup: %6.1f ns/packet  %6.2f Mpps\n", med_all, 1000.0 / med_all);
	printf("  (checksum %llu)\n", (unsigned long long)check);
	free(seq);
	return 0;
}
