/*
 * Unit tests for the fragment table (lib/decode/defrag.c): frames are built,
 * decoded with kc_decode_eth (so the fragment fields come from real headers)
 * and offered to kc_defrag_add. Handles are pointers into tok[], so a test
 * can tell exactly which packets came back and how often.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "kc_decode.h"
#include "kct.h"
#include "pktbuild.h"

#define DEAD_CAP (KC_DEFRAG_MAX_FRAGS + 1)
#define TIMEOUT_US 1000000u

static char tok[20000];
#define H(i) ((void *)&tok[(i)])
#define HIDX(h) ((int)((char *)(h) - tok))

static uint8_t dg[70000];       /* the datagram being fragmented (UDP header + data) */
static uint32_t dg_len;

/* UDP datagram of @p len bytes (header included) with a position-dependent pattern. */
static void make_dgram(uint32_t len, uint32_t seed)
{
	uint32_t i;

	dg_len = len;
	dg[0] = 0x13;
	dg[1] = 0x88; /* 5000 */
	dg[2] = 0x17;
	dg[3] = 0x70; /* 6000 */
	dg[4] = (uint8_t)(len >> 8);
	dg[5] = (uint8_t)len;
	dg[6] = dg[7] = 0;
	for (i = 8; i < len; i++)
		dg[i] = (uint8_t)(i * 7 + 3 + seed);
}

/*
 * Build and decode an IPv4 (or, with @p v6, IPv6) fragment carrying
 * dg[off, off + len). @p vid tags it with one VLAN when non-zero.
 */
static void frag(struct pb *b, struct kc_pkt *p, int v6, uint32_t id, uint32_t off, uint32_t len, int more,
		 uint16_t vid)
{
	uint32_t ip;
	enum kc_decode_res r;

	pb_init(b);
	if (vid) {
		pb_eth(b, 0x8100);
		pb_vlan(b, vid, v6 ? 0x86dd : 0x0800);
	} else {
		pb_eth(b, v6 ? 0x86dd : 0x0800);
	}
	if (v6) {
		ip = pb_ip6(b, 44, PB_A6, PB_B6);
		pb_ip6_frag(b, IPPROTO_UDP, off, more, id);
		pb_bytes(b, dg + off, len);
		pb_ip6_end(b, ip);
	} else {
		ip = pb_ip4x(b, IPPROTO_UDP, PB_A4, PB_B4, 5, (uint16_t)id,
			     (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
		pb_bytes(b, dg + off, len);
		pb_ip4_end(b, ip);
	}
	memset(p, 0, sizeof(*p));
	r = kc_decode_eth(b->d, b->n, p);
	CHECK_RES(r, KC_DEC_FRAGMENT);
}

static struct kc_defrag *mk(uint32_t max)
{
	struct kc_defrag_cfg cfg = {.max_datagrams = max, .timeout_us = TIMEOUT_US};
	struct kc_defrag *d = kc_defrag_create(&cfg);

	CHECK(d != NULL);
	return d;
}

/* Offer dg[off, off+len) as fragment of datagram @p id with handle @p h. */
static int offer(struct kc_defrag *d, int v6, uint32_t id, uint32_t off, uint32_t len, int more, void *h,
		 uint64_t now, struct kc_defrag_done *done, void **dead, uint32_t *n_dead)
{
	struct pb b;
	struct kc_pkt p;

	frag(&b, &p, v6, id, off, len, more, 0);
	return kc_defrag_add(d, &p, h, now, done, dead, DEAD_CAP, n_dead);
}

static void check_done_udp(const struct kc_defrag_done *done, int family)
{
	CHECK_RES(done->res, KC_DEC_OK);
	CHECK_EQ(done->pkt.family, family);
	CHECK_EQ(done->pkt.proto, IPPROTO_UDP);
	CHECK_EQ(done->pkt.sport, 5000);
	CHECK_EQ(done->pkt.dport, 6000);
	CHECK_EQ(done->pkt.l3_len, dg_len);
	CHECK_EQ(done->pkt.payload_len, dg_len - 8);
	CHECK(!done->pkt.payload_clipped);
	if (done->pkt.payload_len == dg_len - 8)
		CHECK(memcmp(done->pkt.payload, dg + 8, dg_len - 8) == 0);
	if (family == 4) {
		CHECK(memcmp(done->pkt.src, PB_A4, 4) == 0);
		CHECK(memcmp(done->pkt.dst, PB_B4, 4) == 0);
	} else {
		CHECK(memcmp(done->pkt.src, PB_A6, 16) == 0);
		CHECK(memcmp(done->pkt.dst, PB_B6, 16) == 0);
	}
}

static void test_create(void)
{
	struct kc_defrag_cfg cfg = {.max_datagrams = 0, .timeout_us = 1};

	errno = 0;
	CHECK(kc_defrag_create(&cfg) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kc_defrag_create(NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	cfg.max_datagrams = 4097;
	CHECK(kc_defrag_create(&cfg) == NULL);
	kc_defrag_destroy(NULL);
}

/* Three fragments (1480, 1480, 40 data bytes) in order and reversed. */
static void test_three(int v6, int reversed)
{
	static const uint32_t off[3] = {0, 1480, 2960}, len[3] = {1480, 1480, 40};
	struct kc_defrag *d = mk(4);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead = 99;
	int i, k, rc;

	make_dgram(3000, 0);
	for (k = 0; k < 3; k++) {
		i = reversed ? 2 - k : k;
		rc = offer(d, v6, 0x4242, off[i], len[i], i < 2, H(i), 1000 + (uint64_t)k, &done, dead, &n_dead);
		CHECK_EQ(rc, k == 2 ? 1 : 0);
		CHECK_EQ(n_dead, 0);
	}
	check_done_udp(&done, v6 ? 6 : 4);
	CHECK_EQ(done.n_handles, 3);
	for (k = 0; k < 3; k++) /* arrival order */
		CHECK(done.handles[k] == H(reversed ? 2 - k : k));
	CHECK_EQ(kc_defrag_stats(d)->fragments, 3);
	CHECK_EQ(kc_defrag_stats(d)->completed, 1);
	CHECK_EQ(kc_defrag_stats(d)->overlaps, 0);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, 0);
	/* Nothing left behind. */
	CHECK_EQ(kc_defrag_expire(d, 1000 + 10ull * TIMEOUT_US, 100, dead, DEAD_CAP), 0);
	kc_defrag_destroy(d);
}

/* A duplicate overlapping two fragments with different bytes: first copy wins. */
static void test_overlap(void)
{
	struct kc_defrag *d = mk(4);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead, i;
	uint8_t orig[3000];
	struct pb b;
	struct kc_pkt p;

	make_dgram(3000, 0);
	memcpy(orig, dg, 3000);
	CHECK_EQ(offer(d, 0, 7, 0, 1480, 1, H(0), 10, &done, dead, &n_dead), 0);
	/* Bytes [8, 1488) rewritten: only [1480, 1488) is new. */
	memset(dg + 8, 0xee, 1480);
	CHECK_EQ(offer(d, 0, 7, 8, 1480, 1, H(1), 11, &done, dead, &n_dead), 0);
	CHECK_EQ(kc_defrag_stats(d)->overlaps, 1);
	memcpy(dg, orig, 3000);
	CHECK_EQ(offer(d, 0, 7, 2960, 40, 0, H(2), 12, &done, dead, &n_dead), 0);
	CHECK_EQ(kc_defrag_stats(d)->overlaps, 1);
	CHECK_EQ(offer(d, 0, 7, 1480, 1480, 1, H(3), 13, &done, dead, &n_dead), 1);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(kc_defrag_stats(d)->overlaps, 2);
	CHECK_EQ(done.n_handles, 4);
	CHECK(done.handles[0] == H(0) && done.handles[1] == H(1) && done.handles[2] == H(2) &&
	      done.handles[3] == H(3));
	CHECK_RES(done.res, KC_DEC_OK);
	CHECK_EQ(done.pkt.payload_len, 2992);
	/* Expected: original except [1480, 1488), which came from the duplicate. */
	for (i = 1480; i < 1488; i++)
		orig[i] = 0xee;
	CHECK(memcmp(done.pkt.payload, orig + 8, 2992) == 0);
	for (i = 0; i < 2992; i++)
		if (done.pkt.payload[i] != orig[8 + i]) {
			fprintf(stderr, "overlap: byte %u is %02x, want %02x\n", i + 8, done.pkt.payload[i],
				orig[8 + i]);
			break;
		}

	/* An exact duplicate of a fragment also counts as an overlap, bytes kept. */
	make_dgram(100, 1);
	CHECK_EQ(offer(d, 0, 8, 0, 48, 1, H(10), 20, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 8, 0, 48, 1, H(11), 21, &done, dead, &n_dead), 0);
	CHECK_EQ(kc_defrag_stats(d)->overlaps, 3);
	/* The last piece completes it; the duplicate handle comes back too. */
	CHECK_EQ(offer(d, 0, 8, 48, 52, 0, H(12), 22, &done, dead, &n_dead), 1);
	CHECK_EQ(done.n_handles, 3);
	check_done_udp(&done, 4);

	/* dup_last: a second last fragment ending elsewhere. */
	make_dgram(200, 2);
	CHECK_EQ(offer(d, 0, 9, 96, 104, 0, H(20), 30, &done, dead, &n_dead), 0);
	frag(&b, &p, 0, 9, 96, 64, 0, 0);
	CHECK_EQ(kc_defrag_add(d, &p, H(21), 31, &done, dead, DEAD_CAP, &n_dead), 0);
	CHECK_EQ(kc_defrag_stats(d)->dup_last, 1);
	CHECK_EQ(offer(d, 0, 9, 0, 96, 1, H(22), 32, &done, dead, &n_dead), 1);
	CHECK_EQ(done.pkt.l3_len, 200);
	CHECK_EQ(done.n_handles, 3);
	kc_defrag_destroy(d);
}

/* Missing middle: nothing completes; expiry returns the held handles. */
static void test_missing_middle_timeout(void)
{
	struct kc_defrag *d = mk(4);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP + 1];
	uint32_t n_dead, n;

	make_dgram(3000, 0);
	CHECK_EQ(offer(d, 0, 1, 0, 1480, 1, H(0), 5000, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 1, 2960, 40, 0, H(2), 5001, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(kc_defrag_expire(d, 5000 + TIMEOUT_US - 1, 10, dead, DEAD_CAP), 0);
	CHECK_EQ(kc_defrag_expire(d, 4000, 10, dead, DEAD_CAP), 0); /* clock behind: keep */
	/* Room for one handle only: the datagram (2 handles) must stay, not leak. */
	dead[1] = H(999);
	CHECK_EQ(kc_defrag_expire(d, 5000 + TIMEOUT_US, 10, dead, 1), 0);
	CHECK(dead[1] == H(999));
	CHECK_EQ(kc_defrag_stats(d)->timeouts, 0);
	n = kc_defrag_expire(d, 5000 + TIMEOUT_US, 10, dead, DEAD_CAP);
	CHECK_EQ(n, 2);
	CHECK(dead[0] == H(0) && dead[1] == H(2));
	CHECK_EQ(kc_defrag_stats(d)->timeouts, 1);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, 2);
	CHECK_EQ(kc_defrag_stats(d)->completed, 0);
	/* The middle arriving late starts a new datagram that cannot complete. */
	CHECK_EQ(offer(d, 0, 1, 1480, 1480, 1, H(1), 5000 + TIMEOUT_US, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(kc_defrag_expire(d, 5000 + 2ull * TIMEOUT_US, 10, dead, DEAD_CAP), 1);
	CHECK(dead[0] == H(1));

	/* Budget: three expired datagrams, two per call. */
	CHECK_EQ(offer(d, 0, 11, 0, 8, 1, H(3), 100, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 12, 0, 8, 1, H(4), 100, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 12, 16, 8, 1, H(5), 100, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 13, 0, 8, 1, H(6), 100, &done, dead, &n_dead), 0);
	n = kc_defrag_expire(d, 100 + TIMEOUT_US, 2, dead, DEAD_CAP);
	n += kc_defrag_expire(d, 100 + TIMEOUT_US, 0, dead + n, DEAD_CAP);
	CHECK_EQ(n, 3); /* ids 11 and 12 (lowest slots first): 1 + 2 handles */
	n += kc_defrag_expire(d, 100 + TIMEOUT_US, 2, dead + n, DEAD_CAP);
	CHECK_EQ(n, 4);
	CHECK_EQ(kc_defrag_stats(d)->timeouts, 5);
	kc_defrag_destroy(d);
}

/* Table full: the datagram that started first is dropped for the new one. */
static void test_table_full(void)
{
	struct kc_defrag *d = mk(2);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead;

	make_dgram(3000, 0);
	CHECK_EQ(offer(d, 0, 100, 0, 1480, 1, H(0), 100, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 100, 1480, 1480, 1, H(1), 400, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 200, 0, 1480, 1, H(2), 200, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(offer(d, 0, 300, 0, 1480, 1, H(3), 500, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 2);
	CHECK(dead[0] == H(0) && dead[1] == H(1));
	CHECK_EQ(kc_defrag_stats(d)->evicted_full, 1);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, 2);
	/* 200 and 300 are still there and complete. */
	CHECK_EQ(offer(d, 0, 200, 1480, 1480, 1, H(4), 600, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 200, 2960, 40, 0, H(5), 600, &done, dead, &n_dead), 1);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(done.n_handles, 3);
	CHECK(done.handles[0] == H(2) && done.handles[1] == H(4) && done.handles[2] == H(5));
	check_done_udp(&done, 4);
	CHECK_EQ(offer(d, 0, 300, 1480, 1480, 1, H(6), 600, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 300, 2960, 40, 0, H(7), 600, &done, dead, &n_dead), 1);
	check_done_udp(&done, 4);
	kc_defrag_destroy(d);
}

/* More than KC_DEFRAG_MAX_FRAGS pieces: the whole datagram goes, handles back. */
static void test_too_many_frags(void)
{
	struct kc_defrag *d = mk(2);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP + 1];
	uint32_t n_dead, i;

	make_dgram(8 * 70, 0);
	for (i = 0; i < KC_DEFRAG_MAX_FRAGS; i++) {
		CHECK_EQ(offer(d, 0, 5, i * 8, 8, 1, H(i), 10, &done, dead, &n_dead), 0);
		CHECK_EQ(n_dead, 0);
	}
	dead[DEAD_CAP] = H(999); /* canary: the table must respect dead_cap */
	CHECK_EQ(offer(d, 0, 5, i * 8, 8, 1, H(i), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, KC_DEFRAG_MAX_FRAGS + 1);
	for (i = 0; i < KC_DEFRAG_MAX_FRAGS + 1; i++)
		CHECK(dead[i] == H(i));
	CHECK(dead[DEAD_CAP] == H(999));
	CHECK_EQ(kc_defrag_stats(d)->too_many_frags, 1);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, KC_DEFRAG_MAX_FRAGS + 1);
	/* The slot is free again. */
	CHECK_EQ(kc_defrag_expire(d, 10ull * TIMEOUT_US, 10, dead, DEAD_CAP), 0);

	/* Many copies of one fragment hit the same limit. */
	for (i = 0; i < KC_DEFRAG_MAX_FRAGS; i++)
		CHECK_EQ(offer(d, 0, 6, 0, 8, 1, H(100 + i), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(offer(d, 0, 6, 0, 8, 1, H(100 + i), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, KC_DEFRAG_MAX_FRAGS + 1);
	CHECK_EQ(kc_defrag_stats(d)->too_many_frags, 2);
	kc_defrag_destroy(d);
}

/* Fragments whose data would end past 65535 bytes; IPv6 non-final pieces not 8-aligned. */
static void test_too_big(void)
{
	struct kc_defrag *d = mk(2);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead;

	make_dgram(100, 0);
	CHECK_EQ(offer(d, 0, 5, 8191 * 8, 16, 1, H(0), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 1);
	CHECK(dead[0] == H(0));
	CHECK_EQ(kc_defrag_stats(d)->too_big, 1);
	/* Ends exactly at 65535: accepted. */
	CHECK_EQ(offer(d, 0, 5, 8191 * 8, 7, 0, H(1), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 0);
	CHECK_EQ(kc_defrag_stats(d)->too_big, 1);
	/* IPv6, more fragments, 12 bytes. */
	CHECK_EQ(offer(d, 1, 5, 0, 12, 1, H(2), 10, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 1);
	CHECK(dead[0] == H(2));
	CHECK_EQ(kc_defrag_stats(d)->too_big, 2);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, 2);
	CHECK_EQ(kc_defrag_stats(d)->fragments, 3);
	CHECK_EQ(kc_defrag_expire(d, 10 + TIMEOUT_US, 10, dead, DEAD_CAP), 1);
	CHECK(dead[0] == H(1));
	kc_defrag_destroy(d);
}

/* Keys: same id but other addresses, protocol or family are other datagrams. */
static void test_keys(void)
{
	struct kc_defrag *d = mk(8);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead;
	struct pb b;
	struct kc_pkt p;

	make_dgram(100, 0);
	CHECK_EQ(offer(d, 0, 77, 0, 48, 1, H(0), 10, &done, dead, &n_dead), 0);
	/* Last piece from another source: no completion. */
	frag(&b, &p, 0, 77, 48, 52, 0, 0);
	p.src[3] = 9;
	CHECK_EQ(kc_defrag_add(d, &p, H(1), 11, &done, dead, DEAD_CAP, &n_dead), 0);
	/* Other protocol. */
	frag(&b, &p, 0, 77, 48, 52, 0, 0);
	p.frag_proto = IPPROTO_TCP;
	CHECK_EQ(kc_defrag_add(d, &p, H(2), 12, &done, dead, DEAD_CAP, &n_dead), 0);
	/* IPv6 with the same id. */
	CHECK_EQ(offer(d, 1, 77, 48, 52, 0, H(3), 13, &done, dead, &n_dead), 0);
	/* The right one, tagged with a VLAN: the result keeps the tag. */
	frag(&b, &p, 0, 77, 48, 52, 0, 42);
	CHECK_EQ(kc_defrag_add(d, &p, H(4), 14, &done, dead, DEAD_CAP, &n_dead), 1);
	CHECK_EQ(done.n_handles, 2);
	CHECK(done.handles[0] == H(0) && done.handles[1] == H(4));
	check_done_udp(&done, 4);
	CHECK_EQ(done.pkt.n_vlan, 1);
	CHECK_EQ(done.pkt.vlan[0], 42);
	CHECK_EQ(kc_defrag_expire(d, 20 + TIMEOUT_US, 10, dead, DEAD_CAP), 3);
	kc_defrag_destroy(d);
}

/* A full table of the largest size: every datagram is found again through
 * the index (ids differ in one field only), in any order, while others leave
 * it; then the oldest is the one a new datagram evicts. */
static void test_many(void)
{
	enum { N = 4096 };
	struct kc_defrag *d = mk(N);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead, i, ok = 0;

	make_dgram(100, 0);
	for (i = 0; i < N; i++)
		CHECK_EQ(offer(d, 0, 10000 + i, 0, 48, 1, H(i), 10 + i, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 0);
	/* Complete every other one, from the newest down. */
	for (i = N; i-- > 0;) {
		if (i % 2)
			continue;
		if (offer(d, 0, 10000 + i, 48, 52, 0, H(N + i), 20000, &done, dead, &n_dead) == 1 &&
		    done.n_handles == 2 && done.handles[0] == H(i) && done.handles[1] == H(N + i))
			ok++;
	}
	CHECK_EQ(ok, N / 2);
	/* Half the table is free: new datagrams evict nobody. */
	for (i = 0; i < N / 2; i++)
		CHECK_EQ(offer(d, 0, 20000 + i, 0, 48, 1, H(2 * N + i), 30000, &done, dead, &n_dead), 0);
	CHECK_EQ(kc_defrag_stats(d)->evicted_full, 0);
	/* Full again: the next one evicts the oldest left, datagram 10001. */
	CHECK_EQ(offer(d, 0, 30000, 0, 48, 1, H(3 * N), 40000, &done, dead, &n_dead), 0);
	CHECK_EQ(n_dead, 1);
	CHECK(dead[0] == H(1));
	/* The rest of the odd ones still complete. */
	CHECK_EQ(offer(d, 0, 10003, 48, 52, 0, H(3 * N + 1), 40000, &done, dead, &n_dead), 1);
	CHECK(done.n_handles == 2 && done.handles[0] == H(3));
	kc_defrag_destroy(d);
}

/* IPv6: UDP decoded from the whole datagram; TCP header split across fragments. */
static void test_ipv6_tcp_split(void)
{
	struct kc_defrag *d = mk(2);
	struct kc_defrag_done done;
	void *dead[DEAD_CAP];
	uint32_t n_dead;
	struct pb b;
	struct kc_pkt p;
	uint32_t ip, i;

	/* TCP segment (20-byte header + 40 bytes) cut after 8 bytes. */
	pb_init(&b);
	pb_tcp(&b, 443, 55555, 1000, 2000, KC_TCP_ACK | KC_TCP_PSH, 5, NULL, 0);
	for (i = 0; i < 40; i++)
		pb_u8(&b, (uint8_t)i);
	memcpy(dg, b.d, b.n);
	dg_len = b.n;
	for (i = 0; i < 2; i++) {
		uint32_t off = i ? 8 : 0, len = i ? dg_len - 8 : 8;

		pb_init(&b);
		pb_eth(&b, 0x86dd);
		ip = pb_ip6(&b, 44, PB_A6, PB_B6);
		pb_ip6_frag(&b, IPPROTO_TCP, off, !i, 0x01020304);
		pb_bytes(&b, dg + off, len);
		pb_ip6_end(&b, ip);
		memset(&p, 0, sizeof(p));
		CHECK_RES(kc_decode_eth(b.d, b.n, &p), KC_DEC_FRAGMENT);
		CHECK_EQ(kc_defrag_add(d, &p, H(i), 1, &done, dead, DEAD_CAP, &n_dead), i);
	}
	CHECK_RES(done.res, KC_DEC_OK);
	CHECK_EQ(done.pkt.family, 6);
	CHECK_EQ(done.pkt.proto, IPPROTO_TCP);
	CHECK_EQ(done.pkt.sport, 443);
	CHECK_EQ(done.pkt.dport, 55555);
	CHECK_EQ(done.pkt.seq, 1000);
	CHECK_EQ(done.pkt.ack, 2000);
	CHECK_EQ(done.pkt.tcp_flags, KC_TCP_ACK | KC_TCP_PSH);
	CHECK_EQ(done.pkt.payload_len, 40);
	CHECK(memcmp(done.pkt.payload, dg + 20, 40) == 0);
	kc_defrag_destroy(d);
}

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

#define R_DGRAMS 3000
#define R_MAX_EV 20000

struct ev {
	uint32_t dgram, off, len;
	uint8_t more;
};

/*
 * Many interleaved datagrams with random sizes, piece sizes, order, loss (10%)
 * and duplication (10%), a table smaller than the number in flight, periodic
 * expiry. Every handle offered must come back exactly once, either in a
 * completed datagram or on a dead list; completed payloads must be the
 * original bytes; the counters must add up.
 */
static void test_random_accounting(void)
{
	static struct ev evs[R_MAX_EV * 2];
	static uint8_t data[R_DGRAMS][1200];
	static uint32_t size[R_DGRAMS];
	static uint8_t v6[R_DGRAMS];
	static uint8_t returned[sizeof(tok)];
	static uint16_t h_dgram[sizeof(tok)];
	struct kc_defrag_cfg cfg = {.max_datagrams = 8, .timeout_us = 400};
	struct kc_defrag *d = kc_defrag_create(&cfg);
	struct kc_defrag_done done;
	void *dead[4096];
	uint32_t n_ev = 0, i, j, n_handles = 0, n_dead, n_dead_total = 0, n_done_handles = 0;
	uint32_t completed = 0, bad_payload = 0, twice = 0, missing = 0, mixed = 0;
	uint64_t now = 1000;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	/* Datagrams and their pieces, pieces shuffled within windows of 4 datagrams. */
	for (i = 0; i < R_DGRAMS; i++) {
		uint32_t piece, off = 0, first = n_ev;

		size[i] = 16 + rnd(1184);
		v6[i] = (uint8_t)rnd(2);
		for (j = 0; j < size[i]; j++)
			data[i][j] = (uint8_t)rnd(256);
		data[i][4] = (uint8_t)(size[i] >> 8);
		data[i][5] = (uint8_t)size[i];
		/* 1 in 20 datagrams in tiny pieces, to hit the piece limit. */
		piece = rnd(20) == 0 ? 8 : 8 * (1 + rnd(40));
		/* At least two pieces: a single one is not a fragment at all. */
		piece = KC_MIN(piece, (size[i] - 1) / 8 * 8);
		while (off < size[i]) {
			uint32_t len = KC_MIN(piece, size[i] - off);

			if (rnd(10) != 0) { /* 10% loss */
				evs[n_ev++] = (struct ev){i, off, len, off + len < size[i]};
				if (rnd(10) == 0) /* 10% duplicated */
					evs[n_ev++] = (struct ev){i, off, len, off + len < size[i]};
			}
			off += len;
		}
		(void)first;
		if (n_ev >= R_MAX_EV)
			break;
	}
	/* Shuffle in windows of 24 events: interleaves a handful of datagrams. */
	for (i = 0; i < n_ev; i += 24) {
		uint32_t w = KC_MIN(24u, n_ev - i);

		for (j = w - 1; j > 0; j--) {
			uint32_t k = rnd(j + 1);
			struct ev t = evs[i + j];

			evs[i + j] = evs[i + k];
			evs[i + k] = t;
		}
	}
	if (n_ev > sizeof(tok))
		n_ev = sizeof(tok);

	for (i = 0; i < n_ev; i++) {
		const struct ev *e = &evs[i];
		struct pb b;
		struct kc_pkt p;
		int rc;

		memcpy(dg, data[e->dgram], size[e->dgram]);
		dg_len = size[e->dgram];
		frag(&b, &p, v6[e->dgram], e->dgram, e->off, e->len, e->more, 0);
		h_dgram[n_handles] = (uint16_t)e->dgram;
		rc = kc_defrag_add(d, &p, H(n_handles), now, &done, dead, DEAD_CAP, &n_dead);
		n_handles++;
		CHECK(n_dead <= DEAD_CAP);
		for (j = 0; j < n_dead; j++)
			returned[HIDX(dead[j])]++;
		n_dead_total += n_dead;
		if (rc == 1) {
			uint32_t dgi = h_dgram[HIDX(done.handles[0])];

			completed++;
			n_done_handles += done.n_handles;
			for (j = 0; j < done.n_handles; j++) {
				returned[HIDX(done.handles[j])]++;
				if (h_dgram[HIDX(done.handles[j])] != dgi)
					mixed++;
			}
			if (done.res != KC_DEC_OK || done.pkt.payload_len != size[dgi] - 8 ||
			    memcmp(done.pkt.payload, data[dgi] + 8, size[dgi] - 8) != 0)
				bad_payload++;
		}
		now += 7;
		if (i % 20 == 19) {
			n_dead = kc_defrag_expire(d, now, 3, dead, 4096);
			for (j = 0; j < n_dead; j++)
				returned[HIDX(dead[j])]++;
			n_dead_total += n_dead;
		}
	}
	/* Drain. */
	n_dead = kc_defrag_expire(d, now + cfg.timeout_us, UINT32_MAX, dead, 4096);
	for (j = 0; j < n_dead; j++)
		returned[HIDX(dead[j])]++;
	n_dead_total += n_dead;

	for (i = 0; i < n_handles; i++) {
		if (returned[i] == 0)
			missing++;
		else if (returned[i] > 1)
			twice++;
	}
	CHECK_EQ(missing, 0);
	CHECK_EQ(twice, 0);
	CHECK_EQ(mixed, 0);
	CHECK_EQ(bad_payload, 0);
	CHECK_EQ(n_dead_total + n_done_handles, n_handles);
	CHECK_EQ(kc_defrag_stats(d)->fragments, n_handles);
	CHECK_EQ(kc_defrag_stats(d)->completed, completed);
	CHECK_EQ(kc_defrag_stats(d)->dropped_frags, n_dead_total);
	/* The mix must have exercised every path, or the test proves little. */
	CHECK(completed > 500);
	CHECK(kc_defrag_stats(d)->timeouts > 10);
	CHECK(kc_defrag_stats(d)->evicted_full > 10);
	CHECK(kc_defrag_stats(d)->too_many_frags > 5);
	CHECK(kc_defrag_stats(d)->overlaps > 100);
	printf("random: %u fragments, %u datagrams completed, %" PRIu64 " timeouts, %" PRIu64
	       " evicted, %" PRIu64 " too many pieces\n",
	       n_handles, completed, kc_defrag_stats(d)->timeouts, kc_defrag_stats(d)->evicted_full,
	       kc_defrag_stats(d)->too_many_frags);
	kc_defrag_destroy(d);
}

int main(void)
{
	test_create();
	test_three(0, 0);
	test_three(0, 1);
	test_three(1, 0);
	test_three(1, 1);
	test_overlap();
	test_missing_middle_timeout();
	test_table_full();
	test_too_many_frags();
	test_too_big();
	test_keys();
	test_many();
	test_ipv6_tcp_split();
	test_random_accounting();
	return kct_done("test_defrag");
}
