/*
 * Test-only packet walker for the lib/dns and lib/tls capture tests: reads a
 * pcap with libpcap, decodes Ethernet (+VLAN), IPv4 (fragments skipped and
 * counted), IPv6 (fragments reassembled, RFC 8200 4.5), UDP and TCP, and follows TCP in order per direction (a small
 * stand-in for lib/reasm: retransmitted bytes trimmed, out-of-order segments
 * held until the gap fills, at most WALK_OOO_MAX per direction).
 */
#ifndef TEST_PCAP_WALK_H
#define TEST_PCAP_WALK_H

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_parse.h"

#define WALK_FLOWS 64
#define WALK_OOO_MAX 64

struct walk_pkt {
	unsigned frame;       /* 1-based */
	uint64_t ts_us;
	uint8_t family, l4;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq;
	const uint8_t *payload;
	size_t len;
};

struct walk_seg {
	uint32_t seq;
	size_t len;
	uint8_t *data;
};

struct walk_dir {
	bool started;
	uint32_t next;
	unsigned n_ooo;
	struct walk_seg ooo[WALK_OOO_MAX];
};

struct walk_flow {
	bool used;
	struct kc_flow_info fi;   /* client = src */
	struct walk_dir dir[2];
	void *user;               /* per-flow state of the test */
};

/* Called with in-order TCP bytes of one direction. */
typedef void (*walk_tcp_fn)(void *ctx, struct walk_flow *f, enum kc_dir dir, const uint8_t *d,
			    size_t n, const struct walk_pkt *p);
/* Called with every UDP datagram (and every TCP segment before following). */
typedef void (*walk_pkt_fn)(void *ctx, struct walk_flow *f, enum kc_dir dir,
			    const struct walk_pkt *p);

/* IPv6 fragments of one datagram (RFC 8200 4.5), test-sized. */
#define WALK_FRAGS 8
struct walk_frag {
	bool used;
	uint32_t ident;
	uint8_t src[16], dst[16];
	uint8_t nh;               /* upper-layer protocol */
	size_t total;             /* known once the last fragment came; else 0 */
	unsigned n;
	size_t off[WALK_FRAGS], len[WALK_FRAGS];
	uint8_t *data[WALK_FRAGS];
};

struct walker {
	struct walk_frag frags[4];
	uint8_t reasm[65536];     /* last reassembled payload */
	unsigned frags_reassembled;
	struct walk_flow flows[WALK_FLOWS];
	unsigned n_flows;
	unsigned frags_skipped, ooo_dropped;
	walk_tcp_fn on_tcp;
	walk_pkt_fn on_udp;
	void *ctx;
};

/* Add one fragment; when the datagram is whole, copy it to w->reasm and
 * return its length (else 0). */
static size_t walk_frag_add(struct walker *w, const uint8_t *ip6, uint32_t ident, uint8_t nh,
			    size_t off, bool more, const uint8_t *d, size_t n, uint8_t *nh_out)
{
	struct walk_frag *fr = NULL;

	for (unsigned i = 0; i < 4 && fr == NULL; i++)
		if (w->frags[i].used && w->frags[i].ident == ident &&
		    !memcmp(w->frags[i].src, ip6 + 8, 16))
			fr = &w->frags[i];
	for (unsigned i = 0; i < 4 && fr == NULL; i++)
		if (!w->frags[i].used) {
			fr = &w->frags[i];
			memset(fr, 0, sizeof(*fr));
			fr->used = true;
			fr->ident = ident;
			memcpy(fr->src, ip6 + 8, 16);
			memcpy(fr->dst, ip6 + 24, 16);
		}
	if (fr == NULL || fr->n == WALK_FRAGS || off + n > sizeof(w->reasm))
		return 0;
	if (off == 0)
		fr->nh = nh;
	if (!more)
		fr->total = off + n;
	fr->off[fr->n] = off;
	fr->len[fr->n] = n;
	fr->data[fr->n] = malloc(n ? n : 1);
	memcpy(fr->data[fr->n], d, n);
	fr->n++;
	if (fr->total == 0)
		return 0;
	/* Whole when the pieces cover [0, total) without holes. */
	size_t covered = 0;

	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned i = 0; i < fr->n; i++)
			if (fr->off[i] <= covered && fr->off[i] + fr->len[i] > covered) {
				covered = fr->off[i] + fr->len[i];
				grew = true;
			}
	}
	if (covered < fr->total)
		return 0;
	for (unsigned i = 0; i < fr->n; i++) {
		memcpy(w->reasm + fr->off[i], fr->data[i], fr->len[i]);
		free(fr->data[i]);
	}
	size_t total = fr->total;

	*nh_out = fr->nh;
	fr->used = false;
	w->frags_reassembled++;
	return total;
}

static void walk_frags_free(struct walker *w)
{
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned k = 0; w->frags[i].used && k < w->frags[i].n; k++)
			free(w->frags[i].data[k]);
		w->frags[i].used = false;
	}
}

static bool walk_decode(struct walker *w, const uint8_t *d, size_t caplen, struct walk_pkt *p)
{
	size_t off = 12;
	uint16_t et;

	if (caplen < 14)
		return false;
	et = (uint16_t)(d[12] << 8 | d[13]);
	off = 14;
	while ((et == 0x8100 || et == 0x88a8) && caplen >= off + 4) {
		et = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
		off += 4;
	}
	if (et == 0x0800) {
		if (caplen < off + 20)
			return false;
		const uint8_t *ip = d + off;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		size_t tot = (size_t)(ip[2] << 8 | ip[3]);
		uint16_t frag = (uint16_t)(ip[6] << 8 | ip[7]);

		if ((frag & 0x3fff) != 0)
			return p->l4 = 255, false; /* fragment */
		if (tot > caplen - off)
			tot = caplen - off;
		if (tot < ihl)
			return false;
		p->family = 4;
		p->l4 = ip[9];
		memset(p->src, 0, 16);
		memset(p->dst, 0, 16);
		memcpy(p->src, ip + 12, 4);
		memcpy(p->dst, ip + 16, 4);
		d = ip + ihl;
		caplen = tot - ihl;
	} else if (et == 0x86dd) {
		if (caplen < off + 40)
			return false;
		const uint8_t *ip = d + off;
		size_t plen = (size_t)(ip[4] << 8 | ip[5]);
		uint8_t nh = ip[6];
		size_t o = 40;

		if (plen + 40 > caplen - off)
			plen = caplen - off - 40;
		/* hop-by-hop, routing, destination options */
		while ((nh == 0 || nh == 43 || nh == 60) && o + 8 <= 40 + plen) {
			nh = ip[o];
			o += (size_t)(ip[o + 1] + 1) * 8;
		}
		if (o > 40 + plen)
			return false;
		p->family = 6;
		memcpy(p->src, ip + 8, 16);
		memcpy(p->dst, ip + 24, 16);
		if (nh == 44) {
			if (o + 8 > 40 + plen)
				return false;
			const uint8_t *fh = ip + o;
			size_t foff = (size_t)((fh[2] << 8 | fh[3]) & 0xfff8);
			uint32_t ident = (uint32_t)fh[4] << 24 | (uint32_t)fh[5] << 16 |
					 (uint32_t)fh[6] << 8 | fh[7];
			size_t whole = walk_frag_add(w, ip, ident, fh[0], foff, fh[3] & 1, fh + 8,
						     40 + plen - o - 8, &nh);

			if (whole == 0)
				return p->l4 = 255, false; /* held (or dropped) fragment */
			p->l4 = nh;
			d = w->reasm;
			caplen = whole;
		} else {
			p->l4 = nh;
			d = ip + o;
			caplen = 40 + plen - o;
		}
	} else {
		return false;
	}
	if (p->l4 == IPPROTO_UDP) {
		if (caplen < 8)
			return false;
		p->sport = (uint16_t)(d[0] << 8 | d[1]);
		p->dport = (uint16_t)(d[2] << 8 | d[3]);
		p->payload = d + 8;
		p->len = caplen - 8;
		return true;
	}
	if (p->l4 == IPPROTO_TCP) {
		if (caplen < 20)
			return false;
		size_t doff = (size_t)(d[12] >> 4) * 4;

		if (doff < 20 || doff > caplen)
			return false;
		p->sport = (uint16_t)(d[0] << 8 | d[1]);
		p->dport = (uint16_t)(d[2] << 8 | d[3]);
		p->seq = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
		p->tcp_flags = d[13];
		p->payload = d + doff;
		p->len = caplen - doff;
		return true;
	}
	return false;
}

static struct walk_flow *walk_flow_of(struct walker *w, const struct walk_pkt *p,
				      enum kc_dir *dir)
{
	for (unsigned i = 0; i < w->n_flows; i++) {
		struct walk_flow *f = &w->flows[i];

		if (f->fi.l4 != p->l4 || f->fi.family != p->family)
			continue;
		if (f->fi.src_port == p->sport && f->fi.dst_port == p->dport &&
		    !memcmp(f->fi.src_ip, p->src, 16) && !memcmp(f->fi.dst_ip, p->dst, 16)) {
			*dir = KC_DIR_C2S;
			return f;
		}
		if (f->fi.src_port == p->dport && f->fi.dst_port == p->sport &&
		    !memcmp(f->fi.src_ip, p->dst, 16) && !memcmp(f->fi.dst_ip, p->src, 16)) {
			*dir = KC_DIR_S2C;
			return f;
		}
	}
	if (w->n_flows == WALK_FLOWS)
		return NULL;
	struct walk_flow *f = &w->flows[w->n_flows];

	memset(f, 0, sizeof(*f));
	f->used = true;
	f->fi.stream_id = w->n_flows;
	f->fi.family = p->family;
	f->fi.l4 = p->l4;
	/* SYN+ACK first means the sender is the server. */
	bool swap = p->l4 == IPPROTO_TCP && (p->tcp_flags & 0x12) == 0x12;

	f->fi.src_port = swap ? p->dport : p->sport;
	f->fi.dst_port = swap ? p->sport : p->dport;
	memcpy(f->fi.src_ip, swap ? p->dst : p->src, 16);
	memcpy(f->fi.dst_ip, swap ? p->src : p->dst, 16);
	w->n_flows++;
	*dir = swap ? KC_DIR_S2C : KC_DIR_C2S;
	return f;
}

/* Deliver whatever of [seq, seq+len) is new and in order; hold the rest. */
static void walk_tcp_data(struct walker *w, struct walk_flow *f, enum kc_dir dir, uint32_t seq,
			  const uint8_t *d, size_t len, const struct walk_pkt *p)
{
	struct walk_dir *s = &f->dir[dir];
	int32_t delta = (int32_t)(seq - s->next);

	if (delta < 0) {
		if ((size_t)-delta >= len)
			return; /* all old */
		d += -delta;
		len -= (size_t)-delta;
		seq = s->next;
		delta = 0;
	}
	if (delta > 0) {
		if (s->n_ooo == WALK_OOO_MAX) {
			w->ooo_dropped++;
			return;
		}
		struct walk_seg *g = &s->ooo[s->n_ooo++];

		g->seq = seq;
		g->len = len;
		g->data = malloc(len);
		memcpy(g->data, d, len);
		return;
	}
	s->next += (uint32_t)len;
	w->on_tcp(w->ctx, f, dir, d, len, p);
	/* Anything held that now fits? */
	for (bool again = true; again;) {
		again = false;
		for (unsigned i = 0; i < s->n_ooo; i++) {
			struct walk_seg *g = &s->ooo[i];
			int32_t dd = (int32_t)(g->seq - s->next);

			if (dd > 0)
				continue;
			struct walk_seg tmp = *g;

			s->ooo[i] = s->ooo[--s->n_ooo];
			if ((size_t)-dd < tmp.len) {
				s->next += (uint32_t)(tmp.len - (size_t)-dd);
				w->on_tcp(w->ctx, f, dir, tmp.data + -dd, tmp.len - (size_t)-dd, p);
			}
			free(tmp.data);
			again = true;
			break;
		}
	}
}

/* Walk @p path; returns the number of frames read, or -1 if it cannot open. */
static int walk_pcap(struct walker *w, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned frame = 0;

	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return -1;
	}
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct walk_pkt p;
		enum kc_dir dir;

		memset(&p, 0, sizeof(p));
		p.frame = ++frame;
		p.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		if (!walk_decode(w, data, h->caplen, &p)) {
			if (p.l4 == 255)
				w->frags_skipped++;
			continue;
		}
		struct walk_flow *f = walk_flow_of(w, &p, &dir);

		if (f == NULL)
			continue;
		if (p.l4 == IPPROTO_UDP) {
			if (w->on_udp != NULL)
				w->on_udp(w->ctx, f, dir, &p);
			continue;
		}
		struct walk_dir *s = &f->dir[dir];
		uint32_t seq = p.seq;

		if (p.tcp_flags & 0x02) { /* SYN takes one sequence number */
			s->started = true;
			s->next = seq + 1;
			seq++;
		}
		if (!s->started) {
			s->started = true;
			s->next = seq;
		}
		if (p.len > 0 && w->on_tcp != NULL)
			walk_tcp_data(w, f, dir, seq, p.payload, p.len, &p);
	}
	pcap_close(pc);
	walk_frags_free(w);
	for (unsigned i = 0; i < w->n_flows; i++)
		for (int d = 0; d < 2; d++)
			for (unsigned k = 0; k < w->flows[i].dir[d].n_ooo; k++)
				free(w->flows[i].dir[d].ooo[k].data);
	return (int)frame;
}

#endif
