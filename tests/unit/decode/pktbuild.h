/*
 * Frame builder for tests: appends wire-format headers to a buffer so each
 * test states its frame layer by layer. Length fields that depend on what
 * follows (IPv4 total length, IPv6 payload length, UDP length) are written by
 * the matching *_end() call once the layers above are in place. Checksums are
 * left zero: the decoder does not verify them.
 *
 *   struct pb b; pb_init(&b);
 *   pb_eth(&b, 0x0800);
 *   uint32_t ip = pb_ip4(&b, 6, A4, B4);
 *   pb_tcp(&b, 1234, 80, seq, ack, KC_TCP_ACK, 5, data, len);
 *   pb_ip4_end(&b, ip);
 */
#ifndef PKTBUILD_H
#define PKTBUILD_H

#include <stdint.h>
#include <string.h>

#define PB_MAX 70000

struct pb {
	uint8_t d[PB_MAX];
	uint32_t n;
};

static const uint8_t PB_A4[4] __attribute__((unused)) = {10, 0, 0, 1};
static const uint8_t PB_B4[4] __attribute__((unused)) = {10, 0, 0, 2};
static const uint8_t PB_A6[16] __attribute__((unused)) = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
							   0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t PB_B6[16] __attribute__((unused)) = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
							   0, 0, 0, 0, 0, 0, 0, 2};

static inline void pb_init(struct pb *b)
{
	b->n = 0;
}

static inline void pb_u8(struct pb *b, uint8_t v)
{
	b->d[b->n++] = v;
}

static inline void pb_u16(struct pb *b, uint16_t v)
{
	pb_u8(b, (uint8_t)(v >> 8));
	pb_u8(b, (uint8_t)v);
}

static inline void pb_u32(struct pb *b, uint32_t v)
{
	pb_u16(b, (uint16_t)(v >> 16));
	pb_u16(b, (uint16_t)v);
}

static inline void pb_bytes(struct pb *b, const void *p, uint32_t n)
{
	if (n > 0)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static inline void pb_fill(struct pb *b, uint8_t v, uint32_t n)
{
	memset(b->d + b->n, v, n);
	b->n += n;
}

static inline void pb_put16(struct pb *b, uint32_t at, uint16_t v)
{
	b->d[at] = (uint8_t)(v >> 8);
	b->d[at + 1] = (uint8_t)v;
}

/* Ethernet II: fixed MACs, then @p et (a TPID when tags follow). */
static inline void pb_eth(struct pb *b, uint16_t et)
{
	static const uint8_t mac[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	pb_bytes(b, mac, sizeof(mac));
	pb_u16(b, et);
}

/* One VLAN tag body: TCI (priority 5 so the id must be masked) and the next type. */
static inline void pb_vlan(struct pb *b, uint16_t vid, uint16_t next)
{
	pb_u16(b, (uint16_t)(0xa000 | vid));
	pb_u16(b, next);
}

/* MPLS label entry (RFC 3032): label 20 bits, TC 3, S 1, TTL 8. */
static inline void pb_mpls(struct pb *b, uint32_t label, int bos)
{
	pb_u32(b, label << 12 | (bos ? 0x100u : 0) | 64);
}

/*
 * IPv4 header of @p ihl_words (5..15; options are NOP-filled), id and the
 * flags/fragment-offset word given. Returns the header offset for pb_ip4_end().
 */
static inline uint32_t pb_ip4x(struct pb *b, uint8_t proto, const uint8_t *src, const uint8_t *dst,
			       unsigned ihl_words, uint16_t id, uint16_t frag)
{
	uint32_t at = b->n;

	pb_u8(b, (uint8_t)(0x40 | ihl_words));
	pb_u8(b, 0);
	pb_u16(b, 0); /* total length: pb_ip4_end */
	pb_u16(b, id);
	pb_u16(b, frag);
	pb_u8(b, 64);
	pb_u8(b, proto);
	pb_u16(b, 0);
	pb_bytes(b, src, 4);
	pb_bytes(b, dst, 4);
	pb_fill(b, 1, (ihl_words - 5) * 4); /* NOP options */
	return at;
}

static inline uint32_t pb_ip4(struct pb *b, uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
	return pb_ip4x(b, proto, src, dst, 5, 0x1234, 0x4000 /* DF */);
}

/* Total length = everything appended since the header started. */
static inline void pb_ip4_end(struct pb *b, uint32_t at)
{
	pb_put16(b, at + 2, (uint16_t)(b->n - at));
}

static inline uint32_t pb_ip6(struct pb *b, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	uint32_t at = b->n;

	pb_u32(b, 0x60000000);
	pb_u16(b, 0); /* payload length: pb_ip6_end */
	pb_u8(b, nh);
	pb_u8(b, 64);
	pb_bytes(b, src, 16);
	pb_bytes(b, dst, 16);
	return at;
}

static inline void pb_ip6_end(struct pb *b, uint32_t at)
{
	pb_put16(b, at + 4, (uint16_t)(b->n - at - 40));
}

/* Hop-by-hop, routing or destination options: (units + 1) * 8 bytes, PadN-filled. */
static inline void pb_ip6_opts(struct pb *b, uint8_t nh, uint8_t units)
{
	pb_u8(b, nh);
	pb_u8(b, units);
	pb_fill(b, 0, (uint32_t)(units + 1) * 8 - 2);
}

/* AH (RFC 4302): payload length in 4-byte words minus 2. */
static inline void pb_ip6_ah(struct pb *b, uint8_t nh, uint8_t plen)
{
	pb_u8(b, nh);
	pb_u8(b, plen);
	pb_fill(b, 0xab, ((uint32_t)plen + 2) * 4 - 2);
}

/* Fragment header: offset in bytes (multiple of 8), M flag, identification. */
static inline void pb_ip6_frag(struct pb *b, uint8_t nh, uint32_t off, int more, uint32_t id)
{
	pb_u8(b, nh);
	pb_u8(b, 0);
	pb_u16(b, (uint16_t)(off | (more ? 1 : 0)));
	pb_u32(b, id);
}

/* TCP header of @p doff_words (5..15, options NOP-filled) and its data. */
static inline void pb_tcp(struct pb *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			  uint8_t flags, unsigned doff_words, const void *data, uint32_t len)
{
	pb_u16(b, sport);
	pb_u16(b, dport);
	pb_u32(b, seq);
	pb_u32(b, ack);
	pb_u8(b, (uint8_t)(doff_words << 4));
	pb_u8(b, flags);
	pb_u16(b, 0x1000); /* window */
	pb_u16(b, 0);
	pb_u16(b, 0);
	pb_fill(b, 1, (doff_words - 5) * 4);
	pb_bytes(b, data, len);
}

/* UDP header with length 8 + @p len, and the data. */
static inline void pb_udp(struct pb *b, uint16_t sport, uint16_t dport, const void *data, uint32_t len)
{
	pb_u16(b, sport);
	pb_u16(b, dport);
	pb_u16(b, (uint16_t)(8 + len));
	pb_u16(b, 0);
	pb_bytes(b, data, len);
}

#endif /* PKTBUILD_H */
