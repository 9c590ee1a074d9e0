/*
 * Fuzz target for the packet decoder and the fragment table.
 *
 * Input layout: a sequence of Ethernet frames separated by the 4-byte magic
 * FE ED FA CE. No other header; an input without the magic is one frame.
 *
 *   frame 0 | FE ED FA CE | frame 1 | FE ED FA CE | frame 2 ...
 *
 * Each frame is copied into a heap buffer of exactly its length (so ASan sees
 * any read past the captured bytes) and run through kc_decode_eth(). Frame i
 * arrives at time i milliseconds. Fragments go into one kc_defrag table per
 * input (4 datagrams, 20 ms timeout), so splitting one datagram over several
 * frames, overlaps, evictions and timeouts are all reachable. At the end the
 * table is expired completely.
 *
 * Invariants checked (abort on violation, in every build type):
 *  - kc_decode_eth() (with its fast path) and the general decoder give the
 *    same result and store the same bytes;
 *  - OK: payload and l3 lie inside the frame; payload_len <= l3_len;
 *  - FRAGMENT: frag_data/frag_len lie inside the frame;
 *  - a completed datagram's payload is readable for payload_len bytes
 *    (every byte is read, so ASan checks the defrag buffer bounds) and its
 *    handles are all ones that were offered;
 *  - every handle offered comes back exactly once (completed or dead list),
 *    and the dead lists never exceed their capacity.
 *
 * Built two ways (tests/unit/decode/meson.build):
 *  - with -Dfuzz=true: a libFuzzer binary (clang -fsanitize=fuzzer,address,undefined);
 *  - otherwise: a regular test whose main() replays a built-in corpus of
 *    hand-made frames, every prefix of each, and a fixed-seed set of byte
 *    mutations through the same entry point; files named on the command line
 *    are replayed too, and `--write-corpus DIR` writes the built-in seeds as
 *    files for libFuzzer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_internal.h"
#include "kc_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(c)                                                                     \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                        \
		}                                                                       \
	} while (0)

#define FZ_MAX_FRAMES 1024
#define FZ_DEAD_CAP (KC_DEFRAG_MAX_FRAGS + 1)

static const uint8_t MAGIC[4] = {0xfe, 0xed, 0xfa, 0xce};

/* Per-input handle bookkeeping: handle i is &tokens[i]. */
static char tokens[FZ_MAX_FRAMES];
static uint8_t returned[FZ_MAX_FRAMES];
static uint8_t offered[FZ_MAX_FRAMES];
static volatile uint8_t sink;
static char canary;
static unsigned long completed_total; /* reported by the corpus driver */

static void give_back(void *h)
{
	ptrdiff_t i = (char *)h - tokens;

	FZ_CHECK(i >= 0 && i < FZ_MAX_FRAMES);
	FZ_CHECK(offered[i]);
	FZ_CHECK(returned[i] == 0);
	returned[i] = 1;
}

static void touch(const uint8_t *p, uint32_t n)
{
	uint8_t x = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		x ^= p[i];
	sink = x;
}

static void one_frame(struct kc_defrag *d, const uint8_t *frame, size_t len, uint32_t idx)
{
	uint8_t *buf = malloc(len ? len : 1);
	const uint8_t *end;
	struct kc_pkt p, g;
	enum kc_decode_res r;

	FZ_CHECK(buf != NULL);
	if (len)
		memcpy(buf, frame, len);
	end = buf + len;
	memset(&p, 0, sizeof(p));
	r = kc_decode_eth(buf, (uint32_t)len, &p);
	memset(&g, 0, sizeof(g));
	FZ_CHECK(kc_decode_eth_general(buf, (uint32_t)len, &g) == r);
	FZ_CHECK(memcmp(&g, &p, sizeof(p)) == 0);
	FZ_CHECK((unsigned)r < KC_DEC_RES_MAX);
	FZ_CHECK(strcmp(kc_decode_res_name(r), "unknown") != 0);
	if (r == KC_DEC_OK) {
		FZ_CHECK(p.family == 4 || p.family == 6);
		FZ_CHECK(p.l3 >= buf && p.l3 < end);
		FZ_CHECK(p.payload >= p.l3 && p.payload <= end);
		FZ_CHECK(p.payload_len <= (uint32_t)(end - p.payload));
		FZ_CHECK(p.payload_len <= p.l3_len);
		FZ_CHECK(p.n_vlan <= KC_DECODE_MAX_VLANS);
		touch(p.payload, p.payload_len);
	} else if (r == KC_DEC_FRAGMENT) {
		struct kc_defrag_done done;
		void *dead[FZ_DEAD_CAP + 1];
		uint32_t n_dead = 0, i;
		int rc;

		FZ_CHECK(p.frag_data >= buf && p.frag_data <= end);
		FZ_CHECK(p.frag_len <= (uint32_t)(end - p.frag_data));
		touch(p.frag_data, p.frag_len);
		if (idx < FZ_MAX_FRAMES) {
			offered[idx] = 1;
			dead[FZ_DEAD_CAP] = &canary;
			rc = kc_defrag_add(d, &p, &tokens[idx], (uint64_t)idx * 1000, &done, dead, FZ_DEAD_CAP,
					   &n_dead);
			FZ_CHECK(rc == 0 || rc == 1);
			FZ_CHECK(n_dead <= FZ_DEAD_CAP);
			FZ_CHECK(dead[FZ_DEAD_CAP] == &canary);
			for (i = 0; i < n_dead; i++)
				give_back(dead[i]);
			if (rc == 1) {
				FZ_CHECK(done.n_handles >= 1 && done.n_handles <= KC_DEFRAG_MAX_FRAGS);
				for (i = 0; i < done.n_handles; i++)
					give_back(done.handles[i]);
				completed_total++;
				FZ_CHECK((unsigned)done.res < KC_DEC_RES_MAX);
				FZ_CHECK(done.pkt.l3_len <= KC_DEFRAG_MAX_DATAGRAM);
				if (done.res == KC_DEC_OK) {
					FZ_CHECK(done.pkt.payload_len <= done.pkt.l3_len);
					touch(done.pkt.payload, done.pkt.payload_len);
				}
			}
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kc_defrag_cfg cfg = {.max_datagrams = 4, .timeout_us = 20000};
	struct kc_defrag *d = kc_defrag_create(&cfg);
	static void *dead[4 * KC_DEFRAG_MAX_FRAGS];
	size_t pos = 0;
	uint32_t idx = 0, n, i;

	FZ_CHECK(d != NULL);
	memset(returned, 0, sizeof(returned));
	memset(offered, 0, sizeof(offered));
	while (pos <= size) {
		const uint8_t *m = NULL;
		size_t end = size;

		if (size - pos >= 4)
			m = memmem(data + pos, size - pos, MAGIC, sizeof(MAGIC));
		if (m != NULL)
			end = (size_t)(m - data);
		one_frame(d, data + pos, end - pos, idx++);
		if (m == NULL)
			break;
		pos = end + sizeof(MAGIC);
	}
	n = kc_defrag_expire(d, UINT64_MAX / 2, UINT32_MAX, dead, KC_ARRAY_SIZE(dead));
	for (i = 0; i < n; i++)
		give_back(dead[i]);
	for (i = 0; i < FZ_MAX_FRAMES; i++)
		FZ_CHECK(offered[i] == returned[i]);
	kc_defrag_destroy(d);
	return 0;
}

#ifndef KC_FUZZ_LIBFUZZER
#include <netinet/in.h>

#include "pktbuild.h"

#define N_SEEDS 9
static uint8_t seeds[N_SEEDS][16384];
static size_t seed_len[N_SEEDS];

static void seed_add(unsigned i, const struct pb *b)
{
	if (seed_len[i]) {
		memcpy(seeds[i] + seed_len[i], MAGIC, 4);
		seed_len[i] += 4;
	}
	memcpy(seeds[i] + seed_len[i], b->d, b->n);
	seed_len[i] += b->n;
}

static void build_seeds(void)
{
	static struct pb b;
	uint8_t data[3000];
	uint32_t ip, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	/* 0: IPv4/TCP with options. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_TCP, PB_A4, PB_B4, 6, 1, 0);
	pb_tcp(&b, 1234, 80, 1, 2, KC_TCP_ACK, 8, data, 40);
	pb_ip4_end(&b, ip);
	seed_add(0, &b);
	/* 1: QinQ + IPv6 with ext headers + UDP, then ARP. */
	pb_init(&b);
	pb_eth(&b, 0x88a8);
	pb_vlan(&b, 10, 0x8100);
	pb_vlan(&b, 20, 0x86dd);
	ip = pb_ip6(&b, 0, PB_A6, PB_B6);
	pb_ip6_opts(&b, 43, 0);
	pb_ip6_opts(&b, 51, 1);
	pb_ip6_ah(&b, IPPROTO_UDP, 4);
	pb_udp(&b, 53, 53, data, 30);
	pb_ip6_end(&b, ip);
	seed_add(1, &b);
	pb_init(&b);
	pb_eth(&b, 0x0806);
	pb_fill(&b, 0, 28);
	seed_add(1, &b);
	/* 2: MPLS x2 + IPv4/UDP. */
	pb_init(&b);
	pb_eth(&b, 0x8847);
	pb_mpls(&b, 100, 0);
	pb_mpls(&b, 200, 1);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, 1, 2, data, 20);
	pb_ip4_end(&b, ip);
	seed_add(2, &b);
	/* 3: IPv4 UDP datagram in three fragments, last one first. */
	{
		static const uint32_t off[3] = {2400, 0, 1200}, len[3] = {600, 1200, 1200};
		uint8_t dgram[3000];

		pb_init(&b);
		pb_udp(&b, 5000, 6000, data, 3000 - 8);
		memcpy(dgram, b.d, 3000);
		for (i = 0; i < 3; i++) {
			pb_init(&b);
			pb_eth(&b, 0x0800);
			ip = pb_ip4x(&b, IPPROTO_UDP, PB_A4, PB_B4, 5, 77,
				     (uint16_t)((off[i] + len[i] < 3000 ? 0x2000 : 0) | off[i] / 8));
			pb_bytes(&b, dgram + off[i], len[i]);
			pb_ip4_end(&b, ip);
			seed_add(3, &b);
		}
	}
	/* 4: IPv6 TCP segment in two fragments with a duplicate. */
	{
		uint8_t seg[200];

		pb_init(&b);
		pb_tcp(&b, 443, 50000, 9, 10, KC_TCP_ACK, 5, data, 180);
		memcpy(seg, b.d, 200);
		for (i = 0; i < 3; i++) {
			uint32_t o = i == 1 ? 96 : 0, l = i == 1 ? 104 : 96;

			pb_init(&b);
			pb_eth(&b, 0x86dd);
			ip = pb_ip6(&b, 44, PB_A6, PB_B6);
			pb_ip6_frag(&b, IPPROTO_TCP, o, i != 1, 0xabcdef);
			pb_bytes(&b, seg + o, l);
			pb_ip6_end(&b, ip);
			seed_add(4, &b);
		}
	}
	/* 5: IPv6 atomic fragment, 6: ICMP, 7: VLAN IPv4 fragment never completed. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 44, PB_A6, PB_B6);
	pb_ip6_frag(&b, IPPROTO_UDP, 0, 0, 1);
	pb_udp(&b, 7, 7, data, 10);
	pb_ip6_end(&b, ip);
	seed_add(5, &b);
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_ICMP, PB_A4, PB_B4);
	pb_fill(&b, 8, 16);
	pb_ip4_end(&b, ip);
	seed_add(6, &b);
	pb_init(&b);
	pb_eth(&b, 0x8100);
	pb_vlan(&b, 5, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_UDP, PB_A4, PB_B4, 5, 9, 0x2000);
	pb_bytes(&b, data, 64);
	pb_ip4_end(&b, ip);
	seed_add(7, &b);
	/* 8: what the decoder's fast path takes: untagged IPv4/TCP, 802.1Q
	 * IPv6/UDP, QinQ IPv4/UDP, 0x9100+802.1Q IPv6/TCP. */
	for (i = 0; i < 4; i++) {
		static const uint16_t outer[4] = {0x0800, 0x8100, 0x88a8, 0x9100};
		int v6 = i & 1, tcp = i == 0 || i == 3;

		pb_init(&b);
		pb_eth(&b, outer[i]);
		if (i >= 2)
			pb_vlan(&b, (uint16_t)(100 + i), 0x8100);
		if (i >= 1)
			pb_vlan(&b, (uint16_t)(200 + i), v6 ? 0x86dd : 0x0800);
		ip = v6 ? pb_ip6(&b, tcp ? IPPROTO_TCP : IPPROTO_UDP, PB_A6, PB_B6)
			: pb_ip4(&b, tcp ? IPPROTO_TCP : IPPROTO_UDP, PB_A4, PB_B4);
		if (tcp)
			pb_tcp(&b, 40000, 443, 7, 8, KC_TCP_ACK | KC_TCP_PSH, 5, data, 30);
		else
			pb_udp(&b, 5353, 53, data, 30);
		if (v6)
			pb_ip6_end(&b, ip);
		else
			pb_ip4_end(&b, ip);
		seed_add(8, &b);
	}
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int write_corpus(const char *dir)
{
	unsigned i;

	for (i = 0; i < N_SEEDS; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%u", dir, i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(seeds[i], 1, seed_len[i], f) != seed_len[i]) {
			perror(path);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t mut[16384];
	uint64_t rng = 0x853c49e6748fea9bull;
	unsigned i, runs = 0;
	size_t cut;
	int k;

	build_seeds();
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	for (k = 1; k < argc; k++)
		if (replay_file(argv[k]) != 0)
			return 1;
	for (i = 0; i < N_SEEDS; i++) {
		unsigned m;

		/* Every prefix: truncation at each byte of each frame. */
		for (cut = 0; cut <= seed_len[i]; cut++, runs++)
			LLVMFuzzerTestOneInput(seeds[i], cut);
		/* Fixed-seed mutations: 1-4 random bytes overwritten. */
		for (m = 0; m < 3000; m++, runs++) {
			unsigned j, nflip;

			memcpy(mut, seeds[i], seed_len[i]);
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			nflip = 1 + (unsigned)(rng >> 62);
			for (j = 0; j < nflip; j++) {
				rng = rng * 6364136223846793005ull + 1442695040888963407ull;
				mut[(rng >> 33) % seed_len[i]] = (uint8_t)(rng >> 20);
			}
			LLVMFuzzerTestOneInput(mut, seed_len[i]);
		}
	}
	printf("fuzz_decode: %u inputs replayed, %lu datagrams reassembled, invariants held\n", runs,
	       completed_total);
	/* The corpus must reach reassembly, or this test covers less than it claims. */
	if (completed_total < 100) {
		fprintf(stderr, "fuzz_decode: corpus completed only %lu datagrams\n", completed_total);
		return 1;
	}
	return 0;
}
#endif
