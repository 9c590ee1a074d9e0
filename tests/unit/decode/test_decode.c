/*
 * Unit tests for kc_decode_eth / kc_decode_l4 (lib/decode/decode.c) on
 * hand-built frames: every layer, every drop reason, every truncation point.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "decode_internal.h"
#include "kc_decode.h"
#include "kct.h"
#include "pktbuild.h"

static const uint8_t HELLO[] = "hello world"; /* 11 bytes used */

/* Decode a copy of exactly @p len bytes on the heap, so a read past the
 * captured bytes is caught by ASan/valgrind rather than landing in the builder.
 * The general decoder must agree with kc_decode_eth (and its fast path) on
 * the result and on every byte it stores. */
static enum kc_decode_res decode_exact(const uint8_t *d, uint32_t len, struct kc_pkt *p, uint8_t **copy)
{
	uint8_t *c = malloc(len ? len : 1);
	enum kc_decode_res r;
	struct kc_pkt g;

	memcpy(c, d, len);
	memset(p, 0x5a, sizeof(*p)); /* stale garbage must not leak into results */
	memset(&g, 0x5a, sizeof(g));
	r = kc_decode_eth(c, len, p);
	CHECK_RES(kc_decode_eth_general(c, len, &g), r);
	CHECK(memcmp(&g, p, sizeof(g)) == 0);
	if (r == KC_DEC_OK && p->payload_len > 0)
		CHECK(p->payload >= c && p->payload + p->payload_len <= c + len);
	if (r == KC_DEC_FRAGMENT)
		CHECK(p->frag_data >= c && p->frag_data + p->frag_len <= c + len);
	*copy = c;
	return r;
}

/* Ethernet + IPv4 + TCP with @p plen payload bytes. Returns the IP header offset. */
static uint32_t build_tcp4(struct pb *b, const uint8_t *payload, uint32_t plen)
{
	uint32_t ip;

	pb_init(b);
	pb_eth(b, 0x0800);
	ip = pb_ip4(b, IPPROTO_TCP, PB_A4, PB_B4);
	pb_tcp(b, 1234, 80, 0x11223344, 0x55667788, KC_TCP_PSH | KC_TCP_ACK, 5, payload, plen);
	pb_ip4_end(b, ip);
	return ip;
}

static void test_eth_ipv4_tcp(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	static const uint8_t zero[12];

	build_tcp4(&b, HELLO, 11);
	CHECK_EQ(b.n, 14 + 20 + 20 + 11);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK(p.l3 == c + 14);
	CHECK_EQ(p.l3_len, 51);
	CHECK_EQ(p.family, 4);
	CHECK_EQ(p.proto, IPPROTO_TCP);
	CHECK(memcmp(p.src, PB_A4, 4) == 0 && memcmp(p.src + 4, zero, 12) == 0);
	CHECK(memcmp(p.dst, PB_B4, 4) == 0 && memcmp(p.dst + 4, zero, 12) == 0);
	CHECK_EQ(p.sport, 1234);
	CHECK_EQ(p.dport, 80);
	CHECK_EQ(p.seq, 0x11223344);
	CHECK_EQ(p.ack, 0x55667788);
	CHECK_EQ(p.tcp_flags, KC_TCP_PSH | KC_TCP_ACK);
	CHECK_EQ(p.win, 0x1000);
	CHECK(p.payload == c + 54);
	CHECK_EQ(p.payload_len, 11);
	CHECK(memcmp(p.payload, "hello world", 11) == 0);
	CHECK(!p.payload_clipped);
	CHECK_EQ(p.n_vlan, 0);
	CHECK_EQ(p.vlan[0], 0);
	CHECK_EQ(p.vlan[1], 0);
	free(c);

	/* TCP options: data offset 8 words moves the payload by 12 bytes. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	{
		uint32_t ip = pb_ip4(&b, IPPROTO_TCP, PB_A4, PB_B4);

		pb_tcp(&b, 1, 2, 3, 4, KC_TCP_ACK, 8, HELLO, 5);
		pb_ip4_end(&b, ip);
	}
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK(p.payload == c + 14 + 20 + 32);
	CHECK_EQ(p.payload_len, 5);
	free(c);
}

static void test_ipv4_options(void)
{
	unsigned ihl;

	for (ihl = 6; ihl <= 15; ihl++) {
		struct pb b;
		struct kc_pkt p;
		uint8_t *c;
		uint32_t ip;

		pb_init(&b);
		pb_eth(&b, 0x0800);
		ip = pb_ip4x(&b, IPPROTO_TCP, PB_A4, PB_B4, ihl, 7, 0);
		pb_tcp(&b, 4000, 443, 9, 10, KC_TCP_ACK, 5, HELLO, 11);
		pb_ip4_end(&b, ip);
		CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
		CHECK_EQ(p.sport, 4000);
		CHECK_EQ(p.dport, 443);
		CHECK(p.payload == c + 14 + ihl * 4 + 20);
		CHECK_EQ(p.payload_len, 11);
		CHECK_EQ(p.l3_len, ihl * 4 + 31);
		free(c);
	}
}

static void test_eth_padding(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;

	/* UDP with 2 data bytes: 44-byte frame padded to the 60-byte minimum. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, 53, 5353, "hi", 2);
	pb_ip4_end(&b, ip);
	CHECK_EQ(b.n, 44);
	pb_fill(&b, 0xaa, 16);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.proto, IPPROTO_UDP);
	CHECK_EQ(p.payload_len, 2);
	CHECK(p.payload == c + 42);
	CHECK_EQ(p.l3_len, 30);
	CHECK(!p.payload_clipped);
	free(c);

	/* TCP with 1 data byte (55 bytes) plus 5 bytes of padding/trailer. */
	build_tcp4(&b, HELLO, 1);
	pb_fill(&b, 0, 5);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 1);
	CHECK(!p.payload_clipped);
	free(c);

	/* Pure ACK: no payload despite padding. */
	build_tcp4(&b, NULL, 0);
	pb_fill(&b, 0, 6);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 0);
	free(c);
}

/* Frame with the given tag stack (TPIDs and ids) and an IPv4/TCP packet. */
static void build_tagged(struct pb *b, const uint16_t *tpid, const uint16_t *vid, unsigned n)
{
	unsigned i;
	uint32_t ip;

	pb_init(b);
	pb_eth(b, n ? tpid[0] : 0x0800);
	for (i = 0; i < n; i++)
		pb_vlan(b, vid[i], i + 1 < n ? tpid[i + 1] : 0x0800);
	ip = pb_ip4(b, IPPROTO_TCP, PB_A4, PB_B4);
	pb_tcp(b, 1234, 80, 1, 2, KC_TCP_ACK, 5, HELLO, 11);
	pb_ip4_end(b, ip);
}

static void test_vlan(void)
{
	static const uint16_t tp[10] = {0x88a8, 0x8100, 0x8100, 0x9100, 0x8100,
					0x8100, 0x8100, 0x8100, 0x8100, 0x8100};
	static const uint16_t vid[10] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 4095};
	static const uint16_t dot1q[1] = {0x8100};
	static const uint16_t v100[1] = {100};
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	unsigned n;

	/* 802.1Q, priority bits set in the TCI must not leak into the id. */
	build_tagged(&b, dot1q, v100, 1);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.n_vlan, 1);
	CHECK_EQ(p.vlan[0], 100);
	CHECK_EQ(p.vlan[1], 0);
	CHECK(p.payload == c + 18 + 40);
	CHECK_EQ(p.payload_len, 11);
	free(c);

	/* QinQ: 802.1ad outer then 802.1Q inner, outer first. */
	build_tagged(&b, tp, vid, 2);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.n_vlan, 2);
	CHECK_EQ(p.vlan[0], 10);
	CHECK_EQ(p.vlan[1], 20);
	CHECK(p.payload == c + 22 + 40);
	free(c);

	/* 3..8 tags (0x9100 included): decoded, first two remembered. */
	for (n = 3; n <= KC_DECODE_MAX_L2_DEPTH; n++) {
		build_tagged(&b, tp, vid, n);
		CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
		CHECK_EQ(p.n_vlan, 2);
		CHECK_EQ(p.vlan[0], 10);
		CHECK_EQ(p.vlan[1], 20);
		CHECK(p.payload == c + 14 + 4 * n + 40);
		CHECK_EQ(p.payload_len, 11);
		free(c);
	}
	/* One more than the limit. */
	build_tagged(&b, tp, vid, KC_DECODE_MAX_L2_DEPTH + 1);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_L2_DEPTH);
	free(c);
	build_tagged(&b, tp, vid, 10);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_L2_DEPTH);
	free(c);

	/* Tag cut short. */
	build_tagged(&b, tp, vid, 2);
	CHECK_RES(decode_exact(b.d, 17, &p, &c), KC_DEC_TRUNC_L2);
	free(c);
	CHECK_RES(decode_exact(b.d, 21, &p, &c), KC_DEC_TRUNC_L2);
	free(c);
	CHECK_RES(decode_exact(b.d, 22, &p, &c), KC_DEC_TRUNC_IP);
	free(c);
}

static void build_mpls(struct pb *b, unsigned labels, int vlan_first, int ip6)
{
	unsigned i;
	uint32_t ip;

	pb_init(b);
	if (vlan_first) {
		pb_eth(b, 0x8100);
		pb_vlan(b, 300, 0x8847);
	} else {
		pb_eth(b, 0x8847);
	}
	for (i = 0; i < labels; i++)
		pb_mpls(b, 1000 + i, i + 1 == labels);
	if (ip6) {
		ip = pb_ip6(b, IPPROTO_UDP, PB_A6, PB_B6);
		pb_udp(b, 500, 4500, HELLO, 11);
		pb_ip6_end(b, ip);
	} else {
		ip = pb_ip4(b, IPPROTO_TCP, PB_A4, PB_B4);
		pb_tcp(b, 1234, 80, 1, 2, KC_TCP_ACK, 5, HELLO, 11);
		pb_ip4_end(b, ip);
	}
}

static void test_mpls(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	unsigned n;

	for (n = 1; n <= 2; n++) {
		build_mpls(&b, n, 0, 0);
		CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
		CHECK_EQ(p.family, 4);
		CHECK_EQ(p.sport, 1234);
		CHECK(p.l3 == c + 14 + 4 * n);
		CHECK(p.payload == c + 14 + 4 * n + 40);
		CHECK_EQ(p.payload_len, 11);
		CHECK_EQ(p.n_vlan, 0);
		free(c);
	}
	/* VLAN then MPLS then IPv6. */
	build_mpls(&b, 2, 1, 1);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.family, 6);
	CHECK_EQ(p.proto, IPPROTO_UDP);
	CHECK_EQ(p.n_vlan, 1);
	CHECK_EQ(p.vlan[0], 300);
	CHECK(p.payload == c + 18 + 8 + 48);
	CHECK_EQ(p.payload_len, 11);
	free(c);
	/* Label stack deeper than the limit; tags and labels share the budget. */
	build_mpls(&b, KC_DECODE_MAX_L2_DEPTH, 0, 0);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	free(c);
	build_mpls(&b, KC_DECODE_MAX_L2_DEPTH + 1, 0, 0);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_L2_DEPTH);
	free(c);
	build_mpls(&b, KC_DECODE_MAX_L2_DEPTH, 1, 0);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_L2_DEPTH);
	free(c);
	/* Label cut short; stack ends with nothing after it; non-IP payload. */
	build_mpls(&b, 2, 0, 0);
	CHECK_RES(decode_exact(b.d, 17, &p, &c), KC_DEC_TRUNC_L2);
	free(c);
	CHECK_RES(decode_exact(b.d, 22, &p, &c), KC_DEC_TRUNC_IP);
	free(c);
	b.d[22] = 0x00; /* pseudowire control word nibble 0 */
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_NON_IP);
	free(c);
}

static void test_ipv6_tcp(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;

	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, IPPROTO_TCP, PB_A6, PB_B6);
	pb_tcp(&b, 50000, 443, 0xfffffff0, 7, KC_TCP_SYN, 5, NULL, 0);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.family, 6);
	CHECK_EQ(p.proto, IPPROTO_TCP);
	CHECK(memcmp(p.src, PB_A6, 16) == 0);
	CHECK(memcmp(p.dst, PB_B6, 16) == 0);
	CHECK(p.l3 == c + 14);
	CHECK_EQ(p.l3_len, 60);
	CHECK_EQ(p.sport, 50000);
	CHECK_EQ(p.dport, 443);
	CHECK_EQ(p.seq, 0xfffffff0);
	CHECK_EQ(p.ack, 7);
	CHECK_EQ(p.tcp_flags, KC_TCP_SYN);
	CHECK_EQ(p.payload_len, 0);
	CHECK(p.payload == c + 74);
	CHECK(!p.payload_clipped);
	free(c);

	/* Padding after an IPv6 packet is not payload either. */
	pb_fill(&b, 0xee, 8);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 0);
	free(c);
}

static void test_ipv6_ext(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;
	unsigned n, i;

	/* Hop-by-hop (8) + routing (24) + destination options (16) + UDP. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 0, PB_A6, PB_B6);
	pb_ip6_opts(&b, 43, 0);
	pb_ip6_opts(&b, 60, 2);
	pb_ip6_opts(&b, IPPROTO_UDP, 1);
	pb_udp(&b, 5353, 53, HELLO, 11);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.proto, IPPROTO_UDP);
	CHECK_EQ(p.sport, 5353);
	CHECK_EQ(p.dport, 53);
	CHECK(p.payload == c + 14 + 40 + 8 + 24 + 16 + 8);
	CHECK_EQ(p.payload_len, 11);
	CHECK_EQ(p.l3_len, 40 + 48 + 19);
	free(c);
	/* Cut inside the routing header: clipped capture → trunc_ip. */
	CHECK_RES(decode_exact(b.d, 14 + 40 + 8 + 10, &p, &c), KC_DEC_TRUNC_IP);
	free(c);
	/* Header claims more than the payload length: malformed chain. */
	b.d[14 + 40 + 8 + 1] = 200;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_IP6_EXT);
	free(c);

	/* AH with payload length 4: (4 + 2) * 4 = 24 bytes, then TCP. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 51, PB_A6, PB_B6);
	pb_ip6_ah(&b, IPPROTO_TCP, 4);
	pb_tcp(&b, 22, 40000, 100, 200, KC_TCP_ACK, 5, HELLO, 11);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.proto, IPPROTO_TCP);
	CHECK_EQ(p.sport, 22);
	CHECK_EQ(p.seq, 100);
	CHECK(p.payload == c + 14 + 40 + 24 + 20);
	CHECK_EQ(p.payload_len, 11);
	free(c);

	/* Up to KC_DECODE_MAX_IP6_EXT headers are followed, one more is refused. */
	for (n = KC_DECODE_MAX_IP6_EXT; n <= KC_DECODE_MAX_IP6_EXT + 1; n++) {
		pb_init(&b);
		pb_eth(&b, 0x86dd);
		ip = pb_ip6(&b, 60, PB_A6, PB_B6);
		for (i = 0; i < n; i++)
			pb_ip6_opts(&b, i + 1 < n ? 60 : IPPROTO_UDP, 0);
		pb_udp(&b, 1, 2, HELLO, 3);
		pb_ip6_end(&b, ip);
		CHECK_RES(decode_exact(b.d, b.n, &p, &c),
			  n <= KC_DECODE_MAX_IP6_EXT ? KC_DEC_OK : KC_DEC_IP6_EXT);
		if (n <= KC_DECODE_MAX_IP6_EXT) {
			CHECK(p.payload == c + 14 + 40 + 8 * n + 8);
			CHECK_EQ(p.payload_len, 3);
		}
		free(c);
	}

	/* Payload length 0 (jumbogram or bogus). */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	pb_ip6(&b, IPPROTO_UDP, PB_A6, PB_B6);
	pb_udp(&b, 1, 2, HELLO, 3);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_LEN);
	free(c);

	/* Version nibble not 6 behind an IPv6 EtherType. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, IPPROTO_UDP, PB_A6, PB_B6);
	pb_udp(&b, 1, 2, HELLO, 3);
	pb_ip6_end(&b, ip);
	b.d[14] = 0x40;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_HDR);
	free(c);

	/* ICMPv6 is not followed. */
	b.d[14] = 0x60;
	b.d[14 + 6] = 58;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OTHER_L4);
	free(c);
}

static void test_ipv4_fragment(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;
	uint8_t data[64];
	unsigned i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	/* First fragment: MF, offset 0, UDP header inside. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_UDP, PB_A4, PB_B4, 5, 0xbeef, 0x2000);
	pb_bytes(&b, data, 64);
	pb_ip4_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	CHECK_EQ(p.frag_id, 0xbeef);
	CHECK_EQ(p.frag_off, 0);
	CHECK(p.frag_more);
	CHECK_EQ(p.frag_proto, IPPROTO_UDP);
	CHECK(p.frag_data == c + 34);
	CHECK_EQ(p.frag_len, 64);
	CHECK_EQ(p.family, 4);
	CHECK(memcmp(p.src, PB_A4, 4) == 0 && memcmp(p.dst, PB_B4, 4) == 0);
	free(c);

	/* Last fragment at offset 185 * 8 = 1480, with DF noise and options. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_TCP, PB_A4, PB_B4, 7, 0x0102, 0x4000 | 185);
	pb_bytes(&b, data, 24);
	pb_ip4_end(&b, ip);
	pb_fill(&b, 0, 10); /* padding is not fragment data */
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	CHECK_EQ(p.frag_id, 0x0102);
	CHECK_EQ(p.frag_off, 1480);
	CHECK(!p.frag_more);
	CHECK_EQ(p.frag_proto, IPPROTO_TCP);
	CHECK(p.frag_data == c + 14 + 28);
	CHECK_EQ(p.frag_len, 24);
	free(c);

	/* Largest offset: 0x1fff * 8, MF. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_UDP, PB_A4, PB_B4, 5, 1, 0x3fff);
	pb_bytes(&b, data, 8);
	pb_ip4_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	CHECK_EQ(p.frag_off, 0x1fff * 8);
	CHECK(p.frag_more);
	free(c);

	/* DF alone (offset 0, MF clear) is a whole packet. */
	build_tcp4(&b, HELLO, 11);
	CHECK_EQ(b.d[14 + 6], 0x40);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	free(c);

	/* A clipped fragment cannot be reassembled: trunc_ip. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_UDP, PB_A4, PB_B4, 5, 0xbeef, 0x2000);
	pb_bytes(&b, data, 64);
	pb_ip4_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n - 1, &p, &c), KC_DEC_TRUNC_IP);
	free(c);
}

static void test_ipv6_fragment(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;

	/* Hop-by-hop, then Fragment (offset 1480, M), UDP data. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 0, PB_A6, PB_B6);
	pb_ip6_opts(&b, 44, 0);
	pb_ip6_frag(&b, IPPROTO_UDP, 1480, 1, 0xdeadbeef);
	pb_fill(&b, 0x77, 48);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	CHECK_EQ(p.family, 6);
	CHECK_EQ(p.frag_id, 0xdeadbeef);
	CHECK_EQ(p.frag_off, 1480);
	CHECK(p.frag_more);
	CHECK_EQ(p.frag_proto, IPPROTO_UDP);
	CHECK(p.frag_data == c + 14 + 40 + 8 + 8);
	CHECK_EQ(p.frag_len, 48);
	CHECK(memcmp(p.src, PB_A6, 16) == 0 && memcmp(p.dst, PB_B6, 16) == 0);
	free(c);

	/* Last fragment (M clear) at offset 8. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 44, PB_A6, PB_B6);
	pb_ip6_frag(&b, IPPROTO_TCP, 8, 0, 5);
	pb_fill(&b, 0x77, 5);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	CHECK_EQ(p.frag_off, 8);
	CHECK(!p.frag_more);
	CHECK_EQ(p.frag_proto, IPPROTO_TCP);
	CHECK_EQ(p.frag_len, 5);
	free(c);

	/* Atomic fragment (offset 0, M clear; RFC 6946): decoded as a whole. */
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 44, PB_A6, PB_B6);
	pb_ip6_frag(&b, IPPROTO_UDP, 0, 0, 77);
	pb_udp(&b, 1000, 2000, HELLO, 11);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.proto, IPPROTO_UDP);
	CHECK_EQ(p.sport, 1000);
	CHECK_EQ(p.dport, 2000);
	CHECK(p.payload == c + 14 + 40 + 8 + 8);
	CHECK_EQ(p.payload_len, 11);
	free(c);

	/* Fragment header cut short. */
	CHECK_RES(decode_exact(b.d, 14 + 40 + 4, &p, &c), KC_DEC_TRUNC_IP);
	free(c);
}

static void test_non_ip_other_l4(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;

	/* ARP request. */
	pb_init(&b);
	pb_eth(&b, 0x0806);
	pb_u16(&b, 1);
	pb_u16(&b, 0x0800);
	pb_u8(&b, 6);
	pb_u8(&b, 4);
	pb_u16(&b, 1);
	pb_fill(&b, 0, 20);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_NON_IP);
	free(c);
	/* 802.3 length field, LLDP. */
	pb_init(&b);
	pb_eth(&b, 0x0040);
	pb_fill(&b, 0, 46);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_NON_IP);
	free(c);
	b.d[12] = 0x88;
	b.d[13] = 0xcc;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_NON_IP);
	free(c);

	/* ICMP echo. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_ICMP, PB_A4, PB_B4);
	pb_u8(&b, 8);
	pb_fill(&b, 0, 7);
	pb_ip4_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OTHER_L4);
	CHECK_EQ(p.proto, IPPROTO_ICMP);
	free(c);
}

/*
 * Every prefix of an Ethernet/IPv4/TCP frame with 20 bytes of TCP options and
 * 30 bytes of payload (118 bytes): the reason must follow the layer the cut
 * falls in. A cut inside the TCP options still decodes (the fixed header is
 * all the flow needs) with no payload; a cut inside the payload decodes with
 * what is there; both are marked clipped.
 */
static void test_truncation_v4(void)
{
	struct pb b;
	uint32_t ip, len;
	uint8_t data[30];

	memset(data, 0x42, sizeof(data));
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_TCP, PB_A4, PB_B4, 6, 1, 0);
	pb_tcp(&b, 1234, 80, 1, 2, KC_TCP_ACK, 10, data, sizeof(data));
	pb_ip4_end(&b, ip);
	CHECK_EQ(b.n, 14 + 24 + 40 + 30);
	for (len = 0; len <= b.n; len++) {
		struct kc_pkt p;
		uint8_t *c;
		enum kc_decode_res r = decode_exact(b.d, len, &p, &c), want;

		if (len < 14)
			want = KC_DEC_TRUNC_L2;
		else if (len < 14 + 24)
			want = KC_DEC_TRUNC_IP;
		else if (len < 14 + 24 + 20)
			want = KC_DEC_TRUNC_L4;
		else
			want = KC_DEC_OK;
		if (r != want)
			fprintf(stderr, "caplen %u:\n", len);
		CHECK_RES(r, want);
		if (want == KC_DEC_OK) {
			uint32_t data_at = KC_MIN(len, 78u);

			CHECK_EQ(p.payload_len, len - data_at);
			CHECK(p.payload == c + data_at);
			CHECK_EQ(p.payload_clipped, len < b.n);
			CHECK_EQ(p.l3_len, 94);
			CHECK_EQ(p.sport, 1234);
			CHECK_EQ(p.dport, 80);
			CHECK_EQ(p.tcp_flags, KC_TCP_ACK);
		}
		free(c);
	}
}

/* Same for IPv6 with a destination-options header and UDP (40+16+8+20). */
static void test_truncation_v6(void)
{
	struct pb b;
	uint32_t ip, len;

	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, 60, PB_A6, PB_B6);
	pb_ip6_opts(&b, IPPROTO_UDP, 1);
	pb_udp(&b, 53, 53, "abcdefghijklmnopqrst", 20);
	pb_ip6_end(&b, ip);
	CHECK_EQ(b.n, 14 + 40 + 16 + 8 + 20);
	for (len = 0; len <= b.n; len++) {
		struct kc_pkt p;
		uint8_t *c;
		enum kc_decode_res r = decode_exact(b.d, len, &p, &c), want;

		if (len < 14)
			want = KC_DEC_TRUNC_L2;
		else if (len < 14 + 40 + 16)
			want = KC_DEC_TRUNC_IP;
		else if (len < 14 + 40 + 16 + 8)
			want = KC_DEC_TRUNC_L4;
		else
			want = KC_DEC_OK;
		if (r != want)
			fprintf(stderr, "caplen %u:\n", len);
		CHECK_RES(r, want);
		if (want == KC_DEC_OK) {
			CHECK_EQ(p.payload_len, len - 78);
			CHECK_EQ(p.payload_clipped, len < b.n);
		}
		free(c);
	}
}

static void test_bad_headers(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	uint32_t ip;

	/* IHL below 5. */
	build_tcp4(&b, HELLO, 11);
	b.d[14] = 0x44;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_HDR);
	free(c);
	b.d[14] = 0x40;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_HDR);
	free(c);
	/* Version 5 behind an IPv4 EtherType. */
	b.d[14] = 0x55;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_HDR);
	free(c);
	/* IHL 15 (60 bytes) but only 51 bytes of packet captured. */
	b.d[14] = 0x4f;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_TRUNC_IP);
	free(c);

	/* Total length below the header length. */
	build_tcp4(&b, HELLO, 11);
	pb_put16(&b, 14 + 2, 19);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_LEN);
	free(c);
	pb_put16(&b, 14 + 2, 0);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_LEN);
	free(c);
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4x(&b, IPPROTO_TCP, PB_A4, PB_B4, 6, 1, 0);
	pb_tcp(&b, 1, 2, 3, 4, KC_TCP_ACK, 5, NULL, 0);
	pb_put16(&b, ip + 2, 22);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_IP_LEN);
	free(c);
	/* Total length exactly the header: no room for TCP. */
	pb_put16(&b, ip + 2, 24);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_TRUNC_L4);
	free(c);

	/* TCP data offset below 5. */
	build_tcp4(&b, HELLO, 11);
	b.d[14 + 20 + 12] = 4 << 4;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_TCP_HDR);
	free(c);
	b.d[14 + 20 + 12] = 0;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_TCP_HDR);
	free(c);
	/* Data offset 15 (60 bytes) in a 31-byte segment that was fully captured. */
	b.d[14 + 20 + 12] = 15 << 4;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_TCP_HDR);
	free(c);
	/* Snaplen inside the options: followed, no payload. */
	b.d[14 + 20 + 12] = 7 << 4;
	CHECK_RES(decode_exact(b.d, 14 + 20 + 25, &p, &c), KC_DEC_OK);
	CHECK(p.payload_clipped);
	CHECK_EQ(p.payload_len, 0);
	CHECK_EQ(p.sport, 1234);
	free(c);
	/* Data offset exactly the segment: header only, no payload. */
	pb_put16(&b, 14 + 2, 48);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 0);
	CHECK(p.payload == c + 14 + 48);
	free(c);

	/* UDP length below 8, and past the datagram. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, 1, 2, HELLO, 11);
	pb_ip4_end(&b, ip);
	pb_put16(&b, 14 + 20 + 4, 7);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_UDP_LEN);
	free(c);
	pb_put16(&b, 14 + 20 + 4, 0);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_UDP_LEN);
	free(c);
	pb_put16(&b, 14 + 20 + 4, 20);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_UDP_LEN);
	free(c);
	/* Exactly 8: empty datagram. Shorter than the IP payload: UDP length rules. */
	pb_put16(&b, 14 + 20 + 4, 8);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 0);
	free(c);
	pb_put16(&b, 14 + 20 + 4, 12);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 4);
	free(c);
}

static void test_snaplen_clipped(void)
{
	struct pb b;
	struct kc_pkt p;
	uint8_t *c, data[100];
	uint32_t ip;

	memset(data, 0x33, sizeof(data));
	build_tcp4(&b, data, 100);
	CHECK_RES(decode_exact(b.d, 54 + 40, &p, &c), KC_DEC_OK);
	CHECK(p.payload_clipped);
	CHECK_EQ(p.payload_len, 40);
	CHECK(p.payload == c + 54);
	CHECK_EQ(p.l3_len, 140);
	CHECK_EQ(p.seq, 0x11223344);
	free(c);

	/* UDP whose length points past the capture: what is there. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, 1, 2, data, 100);
	pb_ip4_end(&b, ip);
	CHECK_RES(decode_exact(b.d, 42 + 17, &p, &c), KC_DEC_OK);
	CHECK(p.payload_clipped);
	CHECK_EQ(p.payload_len, 17);
	CHECK_EQ(p.l3_len, 128);
	free(c);
	/* Not clipped: full capture. */
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK(!p.payload_clipped);
	CHECK_EQ(p.payload_len, 100);
	free(c);
}

static void test_decode_l4_direct(void)
{
	struct pb b;
	struct kc_pkt p;

	memset(&p, 0, sizeof(p));
	pb_init(&b);
	pb_udp(&b, 7, 9, HELLO, 11);
	CHECK_RES(kc_decode_l4(IPPROTO_UDP, b.d, b.n, &p), KC_DEC_OK);
	CHECK_EQ(p.proto, IPPROTO_UDP);
	CHECK_EQ(p.sport, 7);
	CHECK_EQ(p.dport, 9);
	CHECK(p.payload == b.d + 8);
	CHECK_EQ(p.payload_len, 11);
	CHECK_RES(kc_decode_l4(IPPROTO_UDP, b.d, 7, &p), KC_DEC_TRUNC_L4);
	CHECK_RES(kc_decode_l4(IPPROTO_UDP, b.d, 10, &p), KC_DEC_BAD_UDP_LEN);
	CHECK_RES(kc_decode_l4(IPPROTO_SCTP, b.d, b.n, &p), KC_DEC_OTHER_L4);
	CHECK_EQ(p.proto, IPPROTO_SCTP);
}

static void test_res_names(void)
{
	static const char *const want[KC_DEC_RES_MAX] = {
		"ok", "fragment", "trunc_l2", "non_ip", "l2_depth", "trunc_ip", "bad_ip_hdr",
		"bad_ip_len", "ip6_ext", "other_l4", "trunc_l4", "bad_tcp_hdr", "bad_udp_len",
	};
	int i;

	for (i = 0; i < KC_DEC_RES_MAX; i++)
		CHECK(strcmp(kc_decode_res_name((enum kc_decode_res)i), want[i]) == 0);
	CHECK(strcmp(kc_decode_res_name(KC_DEC_RES_MAX), "unknown") == 0);
	CHECK(strcmp(kc_decode_res_name((enum kc_decode_res)-1), "unknown") == 0);
}

/* The frames kc_decode_eth decodes on its fast path (at most two tags, IPv4
 * without options or IPv6 without extension headers, whole TCP or UDP), at
 * each edge of what it accepts; decode_exact() compares every result with
 * the general decoder's. */
static void test_fast_path_edges(void)
{
	static const uint16_t tp[3] = {0x9100, 0x88a8, 0x8100}, vid[3] = {4095, 1, 2};
	struct pb b;
	struct kc_pkt p;
	uint8_t *c;
	unsigned nv, v6, udp;
	uint32_t ip, cut;

	for (nv = 0; nv <= 3; nv++) {
		for (v6 = 0; v6 <= 1; v6++) {
			for (udp = 0; udp <= 1; udp++) {
				uint32_t l3 = 14 + 4 * nv, l4 = l3 + (v6 ? 40 : 20);
				uint16_t et = v6 ? 0x86dd : 0x0800;
				unsigned i;

				pb_init(&b);
				pb_eth(&b, nv ? tp[0] : et);
				for (i = 0; i < nv; i++)
					pb_vlan(&b, vid[i], i + 1 < nv ? tp[i + 1] : et);
				ip = v6 ? pb_ip6(&b, udp ? IPPROTO_UDP : IPPROTO_TCP, PB_A6, PB_B6)
					: pb_ip4(&b, udp ? IPPROTO_UDP : IPPROTO_TCP, PB_A4, PB_B4);
				if (udp)
					pb_udp(&b, 53, 5353, HELLO, 11);
				else
					pb_tcp(&b, 4000, 443, 0xfedcba98, 0x01234567, KC_TCP_SYN | KC_TCP_ACK, 5,
					       HELLO, 11);
				if (v6)
					pb_ip6_end(&b, ip);
				else
					pb_ip4_end(&b, ip);
				CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
				CHECK_EQ(p.n_vlan, nv < 2 ? nv : 2);
				CHECK_EQ(p.vlan[0], nv ? 4095 : 0);
				CHECK_EQ(p.vlan[1], nv > 1 ? 1 : 0);
				CHECK_EQ(p.family, v6 ? 6 : 4);
				CHECK(p.payload == c + l4 + (udp ? 8 : 20));
				CHECK_EQ(p.payload_len, 11);
				CHECK_EQ(p.sport, udp ? 53 : 4000);
				CHECK_EQ(p.dport, udp ? 5353 : 443);
				if (!udp) {
					CHECK_EQ(p.seq, 0xfedcba98);
					CHECK_EQ(p.ack, 0x01234567);
					CHECK_EQ(p.tcp_flags, KC_TCP_SYN | KC_TCP_ACK);
				}
				free(c);
				/* Every cut: whole headers clipped, or too short. */
				for (cut = 0; cut < b.n; cut++) {
					decode_exact(b.d, cut, &p, &c);
					free(c);
				}
				/* Ethernet padding after the IP packet. */
				pb_fill(&b, 0xee, 9);
				CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
				CHECK_EQ(p.payload_len, 11);
				free(c);
				/* IP length one short of the L4 header and data. */
				if (v6)
					pb_put16(&b, l3 + 4, (uint16_t)((udp ? 8 : 20) + 10));
				else
					pb_put16(&b, l3 + 2, (uint16_t)(20 + (udp ? 8 : 20) + 10));
				decode_exact(b.d, b.n, &p, &c);
				free(c);
			}
		}
	}
	/* The smallest frame the fast path can take: untagged IPv4, empty UDP. */
	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, 1, 2, NULL, 0);
	pb_ip4_end(&b, ip);
	CHECK_EQ(b.n, 42);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	CHECK_EQ(p.payload_len, 0);
	free(c);
	/* IPv4 with DF set is not a fragment; MF or an offset is. */
	build_tcp4(&b, HELLO, 11);
	b.d[14 + 6] = 0x40;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OK);
	free(c);
	b.d[14 + 6] = 0x20;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	free(c);
	b.d[14 + 6] = 0;
	b.d[14 + 7] = 1;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_FRAGMENT);
	free(c);
	/* TCP data offset past the segment, captured whole. */
	build_tcp4(&b, HELLO, 3);
	b.d[14 + 20 + 12] = 6 << 4;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_BAD_TCP_HDR);
	free(c);
	/* Other L4 behind a plain IPv4 or IPv6 header. */
	build_tcp4(&b, HELLO, 11);
	b.d[14 + 9] = IPPROTO_SCTP;
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OTHER_L4);
	free(c);
	pb_init(&b);
	pb_eth(&b, 0x86dd);
	ip = pb_ip6(&b, IPPROTO_ICMPV6, PB_A6, PB_B6);
	pb_fill(&b, 0x80, 24);
	pb_ip6_end(&b, ip);
	CHECK_RES(decode_exact(b.d, b.n, &p, &c), KC_DEC_OTHER_L4);
	free(c);
}

int main(void)
{
	test_eth_ipv4_tcp();
	test_ipv4_options();
	test_eth_padding();
	test_vlan();
	test_mpls();
	test_ipv6_tcp();
	test_ipv6_ext();
	test_ipv4_fragment();
	test_ipv6_fragment();
	test_non_ip_other_l4();
	test_truncation_v4();
	test_truncation_v6();
	test_bad_headers();
	test_snaplen_clipped();
	test_decode_l4_direct();
	test_res_names();
	test_fast_path_edges();
	return kct_done("test_decode");
}
