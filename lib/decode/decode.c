/*
 * Ethernet → VLAN/MPLS → IPv4/IPv6 → TCP/UDP.
 *
 * Hand-rolled rather than DPDK's rte_net_get_ptype(): that needs mbufs (and so
 * EAL), stops at two VLAN tags, and does not hand back the lengths and
 * fragment fields we need. This runs once per packet on every worker.
 */
#include <netinet/in.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "decode_internal.h"
#include "kc_decode.h"

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848

#define IP6_HLEN 40
#define IP6_NH_HOPOPTS 0
#define IP6_NH_ROUTING 43
#define IP6_NH_FRAGMENT 44
#define IP6_NH_DSTOPTS 60
#define IP6_NH_MOBILITY 135
#define IP6_NH_AH 51

static const char *const res_names[KC_DEC_RES_MAX] = {
	[KC_DEC_OK] = "ok",
	[KC_DEC_FRAGMENT] = "fragment",
	[KC_DEC_TRUNC_L2] = "trunc_l2",
	[KC_DEC_NON_IP] = "non_ip",
	[KC_DEC_L2_DEPTH] = "l2_depth",
	[KC_DEC_TRUNC_IP] = "trunc_ip",
	[KC_DEC_BAD_IP_HDR] = "bad_ip_hdr",
	[KC_DEC_BAD_IP_LEN] = "bad_ip_len",
	[KC_DEC_IP6_EXT] = "ip6_ext",
	[KC_DEC_OTHER_L4] = "other_l4",
	[KC_DEC_TRUNC_L4] = "trunc_l4",
	[KC_DEC_BAD_TCP_HDR] = "bad_tcp_hdr",
	[KC_DEC_BAD_UDP_LEN] = "bad_udp_len",
};

const char *kc_decode_res_name(enum kc_decode_res r)
{
	return (unsigned)r < KC_DEC_RES_MAX ? res_names[r] : "unknown";
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t rol32(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static inline uint64_t rol64(uint64_t x, unsigned n)
{
	return x << n | x >> (64 - n);
}

static inline bool is_vlan_tpid(uint16_t et)
{
	return et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ || et == ETHERTYPE_QINQ_OLD;
}

/* Inlined into each IP decoder: one call per packet, not three (this is the
 * per-packet path of every worker). */
#define DECODE_INLINE static inline __attribute__((always_inline))

DECODE_INLINE enum kc_decode_res decode_l4(uint8_t proto, const uint8_t *l4, uint32_t len, struct kc_pkt *p)
{
	p->proto = proto;
	if (proto == IPPROTO_TCP) {
		uint32_t doff;

		if (len < 20)
			return KC_DEC_TRUNC_L4;
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < 20)
			return KC_DEC_BAD_TCP_HDR;
		if (doff > len) {
			/* Options cut by the snaplen: the fixed header is all we
			 * need, so follow the segment without payload. */
			if (!p->payload_clipped)
				return KC_DEC_BAD_TCP_HDR;
			doff = len;
		}
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->seq = rd32(l4 + 4);
		p->ack = rd32(l4 + 8);
		p->tcp_flags = l4[13];
		p->win = rd16(l4 + 14);
		p->payload = l4 + doff;
		p->payload_len = len - doff;
		return KC_DEC_OK;
	}
	if (proto == IPPROTO_UDP) {
		uint32_t ulen;

		if (len < 8)
			return KC_DEC_TRUNC_L4;
		ulen = rd16(l4 + 4);
		/* RFC 768: length covers header and data. A clipped capture may
		 * hold fewer bytes than the length says; take what is there. */
		if (ulen < 8 || (ulen > len && !p->payload_clipped))
			return KC_DEC_BAD_UDP_LEN;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->tcp_flags = 0;
		p->payload = l4 + 8;
		p->payload_len = KC_MIN(ulen, len) - 8;
		return KC_DEC_OK;
	}
	return KC_DEC_OTHER_L4;
}

enum kc_decode_res kc_decode_l4(uint8_t proto, const uint8_t *l4, uint32_t len, struct kc_pkt *p)
{
	return decode_l4(proto, l4, len, p);
}

/* IPv4 (RFC 791). The header length and total length are both checked
 * against what was captured; options are skipped, not interpreted. */
DECODE_INLINE enum kc_decode_res decode_ipv4(const uint8_t *ip, uint32_t caplen, struct kc_pkt *p)
{
	uint32_t ihl, tot, avail;
	uint16_t frag;

	if (caplen < 20)
		return KC_DEC_TRUNC_IP;
	if ((ip[0] >> 4) != 4)
		return KC_DEC_BAD_IP_HDR;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20)
		return KC_DEC_BAD_IP_HDR;
	if (ihl > caplen)
		return KC_DEC_TRUNC_IP;
	tot = rd16(ip + 2);
	if (tot < ihl)
		return KC_DEC_BAD_IP_LEN;
	p->l3 = ip;
	p->l3_len = tot;
	p->family = 4;
	memset(p->src, 0, sizeof(p->src));
	memset(p->dst, 0, sizeof(p->dst));
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	avail = tot;
	p->payload_clipped = false;
	if (tot > caplen) {
		/* snaplen cut the packet: decode what we have, mark it. */
		avail = caplen;
		p->payload_clipped = true;
	}
	frag = rd16(ip + 6);
	if (frag & 0x3fff) { /* MF set or offset != 0 */
		if (p->payload_clipped)
			return KC_DEC_TRUNC_IP;
		p->frag_id = rd16(ip + 4);
		p->frag_off = (uint32_t)(frag & 0x1fff) * 8;
		p->frag_more = (frag & 0x2000) != 0;
		p->frag_proto = ip[9];
		p->frag_data = ip + ihl;
		p->frag_len = tot - ihl;
		return KC_DEC_FRAGMENT;
	}
	return decode_l4(ip[9], ip + ihl, avail - ihl, p);
}

/* IPv6 (RFC 8200 section 4): walk the extension header chain up to the
 * upper-layer header; a Fragment header hands the rest to defrag. */
DECODE_INLINE enum kc_decode_res decode_ipv6(const uint8_t *ip, uint32_t caplen, struct kc_pkt *p)
{
	uint32_t plen, avail, off;
	uint8_t nh;
	unsigned n;

	if (caplen < IP6_HLEN)
		return KC_DEC_TRUNC_IP;
	if ((ip[0] >> 4) != 6)
		return KC_DEC_BAD_IP_HDR;
	plen = rd16(ip + 4);
	if (plen == 0)
		return KC_DEC_BAD_IP_LEN; /* jumbogram or bogus: not followed */
	p->l3 = ip;
	p->l3_len = IP6_HLEN + plen;
	p->family = 6;
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	avail = IP6_HLEN + plen;
	p->payload_clipped = false;
	if (avail > caplen) {
		avail = caplen;
		p->payload_clipped = true;
	}
	nh = ip[6];
	off = IP6_HLEN;
	for (n = 0;; n++) {
		uint32_t hlen;

		if (nh != IP6_NH_HOPOPTS && nh != IP6_NH_ROUTING && nh != IP6_NH_DSTOPTS &&
		    nh != IP6_NH_MOBILITY && nh != IP6_NH_AH && nh != IP6_NH_FRAGMENT)
			break;
		if (n >= KC_DECODE_MAX_IP6_EXT)
			return KC_DEC_IP6_EXT;
		if (off + 8 > avail)
			return p->payload_clipped ? KC_DEC_TRUNC_IP : KC_DEC_IP6_EXT;
		if (nh == IP6_NH_FRAGMENT) {
			uint16_t fo = rd16(ip + off + 2);

			if (p->payload_clipped)
				return KC_DEC_TRUNC_IP;
			p->frag_proto = ip[off];
			p->frag_off = (uint32_t)(fo & 0xfff8);
			p->frag_more = (fo & 1) != 0;
			p->frag_id = rd32(ip + off + 4);
			p->frag_data = ip + off + 8;
			p->frag_len = avail - off - 8;
			/* An atomic fragment (offset 0, M=0; RFC 6946) is a whole datagram. */
			if (p->frag_off == 0 && !p->frag_more)
				return decode_l4(p->frag_proto, p->frag_data, p->frag_len, p);
			return KC_DEC_FRAGMENT;
		}
		/* AH counts its length in 4-byte units minus 2 (RFC 4302), the
		 * others in 8-byte units not counting the first 8 (RFC 8200). */
		hlen = nh == IP6_NH_AH ? ((uint32_t)ip[off + 1] + 2) * 4 : ((uint32_t)ip[off + 1] + 1) * 8;
		nh = ip[off];
		off += hlen;
		if (off > avail)
			return p->payload_clipped ? KC_DEC_TRUNC_IP : KC_DEC_IP6_EXT;
	}
	return decode_l4(nh, ip + off, avail - off, p);
}

/* MPLS (RFC 3032): skip labels to the bottom of the stack, then guess the
 * payload from the IP version nibble (no pseudowire control word support). */
static enum kc_decode_res decode_mpls(const uint8_t *d, uint32_t len, unsigned depth, struct kc_pkt *p)
{
	for (;;) {
		bool bos;

		if (len < 4)
			return KC_DEC_TRUNC_L2;
		if (++depth > KC_DECODE_MAX_L2_DEPTH)
			return KC_DEC_L2_DEPTH;
		bos = (d[2] & 1) != 0;
		d += 4;
		len -= 4;
		if (bos)
			break;
	}
	if (len < 1)
		return KC_DEC_TRUNC_IP;
	switch (d[0] >> 4) {
	case 4:
		return decode_ipv4(d, len, p);
	case 6:
		return decode_ipv6(d, len, p);
	default:
		return KC_DEC_NON_IP;
	}
}

/* Every frame the fast path does not take, and the reference for the ones it
 * does (tests/unit/decode checks that both agree). Out of line, so that
 * kc_decode_eth's fast path pays for no registers this one needs. */
__attribute__((noinline)) enum kc_decode_res kc_decode_eth_general(const uint8_t *data, uint32_t caplen,
								   struct kc_pkt *p)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;
	unsigned depth = 0;

	p->n_vlan = 0;
	p->vlan[0] = p->vlan[1] = 0;
	if (caplen < ETH_HLEN)
		return KC_DEC_TRUNC_L2;
	et = rd16(data + 12);
	while (is_vlan_tpid(et)) {
		if (++depth > KC_DECODE_MAX_L2_DEPTH)
			return KC_DEC_L2_DEPTH;
		if (off + 4 > caplen)
			return KC_DEC_TRUNC_L2;
		if (p->n_vlan < KC_DECODE_MAX_VLANS)
			p->vlan[p->n_vlan++] = rd16(data + off) & 0x0fff;
		et = rd16(data + off + 2);
		off += 4;
	}
	switch (et) {
	case ETHERTYPE_IPV4:
		return decode_ipv4(data + off, caplen - off, p);
	case ETHERTYPE_IPV6:
		return decode_ipv6(data + off, caplen - off, p);
	case ETHERTYPE_MPLS:
	case ETHERTYPE_MPLS_MC:
		return decode_mpls(data + off, caplen - off, depth, p);
	default:
		return KC_DEC_NON_IP;
	}
}

/*
 * The fast path: the frames nearly all traffic is made of, decoded straight
 * through. Ethernet with at most two VLAN tags, IPv4 without options or IPv6
 * without extension headers, neither fragmented nor cut by the snaplen,
 * carrying TCP or UDP whose lengths agree with the IP header:
 *
 *   | dst src | [tag] [tag] type | IP (20 or 40) | TCP (20+) or UDP (8) | data
 *
 * One bounds check up front covers everything up to the end of an IPv4
 * header after two tags; from there the IP length, checked against what was
 * captured, covers the rest. Anything else returns false and the general
 * decoder starts again from the first byte. Before the frame is known to
 * qualify only the VLAN fields are stored, which the general decoder always
 * sets first; so every result, and every field stored, is the general
 * decoder's.
 */
#define FAST_MIN_CAPLEN (ETH_HLEN + 2 * 4 + 20)

static_assert(offsetof(struct kc_pkt, ack) == offsetof(struct kc_pkt, seq) + 4, "seq and ack stored as one word");
static_assert(offsetof(struct kc_pkt, n_vlan) == offsetof(struct kc_pkt, proto) + 2 &&
		      offsetof(struct kc_pkt, tcp_flags) == offsetof(struct kc_pkt, proto) + 3,
	      "proto, family, n_vlan and tcp_flags stored as one word");

/* Header fields compared as loaded (little-endian), not byte-swapped first. */
#define LE16(be) ((uint16_t)((be) >> 8 | ((be) & 0xff) << 8))

static inline bool is_vlan_tpid_le(uint16_t et)
{
	return et == LE16(ETHERTYPE_VLAN) || et == LE16(ETHERTYPE_QINQ) || et == LE16(ETHERTYPE_QINQ_OLD);
}

/* An IPv4 address: its 4 bytes, then 12 zero bytes. */
static inline void store_ip4(uint8_t *dst, const uint8_t *src)
{
#ifdef __SSE2__
	_mm_storeu_si128((__m128i *)(void *)dst, _mm_cvtsi32_si128((int)kc_load32(src)));
#else
	kc_store64(dst, kc_load32(src));
	kc_store64(dst + 8, 0);
#endif
}

/* A TCP or UDP header, by the general decoder's rules for a packet captured
 * whole, inside the @p len bytes after the IP header; its length in *hlen.
 * The payload is the rest (TCP) or the UDP length minus 8. */
static inline bool fast_l4(uint8_t proto, const uint8_t *l4, uint32_t len, uint32_t *hlen)
{
	if (proto == IPPROTO_TCP) {
		uint32_t doff;

		if (len < 20)
			return false;
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < 20 || doff > len)
			return false;
		*hlen = doff;
		return true;
	}
	if (proto == IPPROTO_UDP) {
		uint32_t ulen;

		if (len < 8)
			return false;
		ulen = rd16(l4 + 4);
		if (ulen < 8 || ulen > len)
			return false;
		*hlen = 8;
		return true;
	}
	return false;
}

DECODE_INLINE bool decode_fast(const uint8_t *data, uint32_t caplen, struct kc_pkt *p)
{
	const uint8_t *ip = data + ETH_HLEN, *end = data + caplen, *l4;
	uint32_t len, hlen, vlans = 0, ports;
	uint16_t et;
	uint8_t proto, family, n_vlan = 0, flags = 0;

	if (caplen < FAST_MIN_CAPLEN)
		return false;
	et = kc_load16(data + 12);
	if (et != LE16(ETHERTYPE_IPV4) && et != LE16(ETHERTYPE_IPV6)) {
		if (!is_vlan_tpid_le(et))
			return false;
		vlans = rd16(data + 14) & 0x0fff;
		et = kc_load16(data + 16);
		ip += 4;
		n_vlan = 1;
		if (is_vlan_tpid_le(et)) {
			vlans |= (uint32_t)(rd16(data + 18) & 0x0fff) << 16;
			et = kc_load16(data + 20);
			ip += 4;
			n_vlan = 2;
		}
	}
	if (et == LE16(ETHERTYPE_IPV4)) {
		uint64_t h = kc_load64(ip);
		uint32_t tot;

		/* Version 4 and IHL 5 (byte 0), MF clear and offset 0 (bytes
		 * 6-7); then the whole packet captured. */
		if ((h & 0xff3f0000000000ffull) != 0x45)
			return false;
		tot = rd16(ip + 2);
		if (tot < 20 || tot > (size_t)(end - ip))
			return false;
		proto = ip[9];
		l4 = ip + 20;
		len = tot - 20;
		if (!fast_l4(proto, l4, len, &hlen))
			return false;
		p->l3_len = tot;
		family = 4;
		store_ip4(p->src, ip + 12);
		store_ip4(p->dst, ip + 16);
	} else if (et == LE16(ETHERTYPE_IPV6)) {
		/* Version 6, the upper-layer header first, the whole packet
		 * captured (a payload length of 0, a jumbogram, fails the L4
		 * checks). */
		if ((ip[0] >> 4) != 6)
			return false;
		len = rd16(ip + 4);
		if (IP6_HLEN + len > (size_t)(end - ip))
			return false;
		proto = ip[6];
		l4 = ip + IP6_HLEN;
		if (!fast_l4(proto, l4, len, &hlen))
			return false;
		p->l3_len = IP6_HLEN + len;
		family = 6;
		memcpy(p->src, ip + 8, 16);
		memcpy(p->dst, ip + 24, 16);
	} else {
		return false;
	}
	p->l3 = ip;
	p->payload_clipped = false;
	/* Both ports in one load: the swap puts sport in the high half. */
	ports = rol32(__builtin_bswap32((uint32_t)kc_load32(l4)), 16);
	p->payload = l4 + hlen;
	if (proto == IPPROTO_TCP) {
		p->payload_len = len - hlen;
		/* seq and ack in one load likewise. */
		kc_store64(&p->seq, rol64(__builtin_bswap64(kc_load64(l4 + 4)), 32));
		flags = l4[13];
		p->win = rd16(l4 + 14);
	} else {
		p->payload_len = rd16(l4 + 4) - 8u;
	}
	/* One store each for the words kc_flow_key_make_hash() loads next
	 * (ports with VLAN ids; proto with family): a load spanning several
	 * smaller stores cannot be forwarded from them and waits until they
	 * reach the cache, a stall on every packet. */
	kc_store64(&p->sport, ports | (uint64_t)vlans << 32);
	kc_store32(&p->proto, (uint32_t)proto | (uint32_t)family << 8 | (uint32_t)n_vlan << 16 | (uint32_t)flags << 24);
	return true;
}

enum kc_decode_res kc_decode_eth(const uint8_t *data, uint32_t caplen, struct kc_pkt *p)
{
	if (kc_likely(decode_fast(data, caplen, p)))
		return KC_DEC_OK;
	return kc_decode_eth_general(data, caplen, p);
}
