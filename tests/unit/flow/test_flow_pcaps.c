/*
 * Decode + defrag + flow table on real captures, checked against TShark's
 * conversation tables (tests/data/flow/<capture>.truth/conv_{tcp,udp}.tsv,
 * made by TShark 4.0.17; see tests/data/SOURCES.md).
 *
 * For every TShark TCP/UDP conversation there must be exactly one flow, and
 * no other flow; per direction its packet count must match (a reassembled
 * datagram counts once, like TShark counts the frame that completes it), and
 * for TCP the payload bytes and the SYN/FIN/RST packet counts must too.
 *
 * Usage: test_flow_pcaps DATADIR   (meson passes tests/data/flow)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "kc_decode.h"
#include "kc_flow.h"
#include "kct.h"

#define MAX_FLOWS 256

/* Per-flow counters in the flow's user area, by key direction (0: a to b). */
struct fstat {
	uint32_t pkts[2];
	uint64_t payload[2];
	uint32_t syn, fin, rst;
};

struct seen {
	struct kc_flow_key key;
	struct fstat st;
};

struct run {
	struct kc_flow_table *t;
	struct seen flows[MAX_FLOWS];
	uint32_t n_flows;
	uint64_t res[KC_DEC_RES_MAX];
	uint64_t completed;
};

static void on_release(void *ctx, struct kc_flow *f, enum kc_flow_end why)
{
	struct run *r = ctx;

	(void)why;
	if (r->n_flows < MAX_FLOWS) {
		r->flows[r->n_flows].key = f->key;
		memcpy(&r->flows[r->n_flows].st, kc_flow_user(r->t, f), sizeof(struct fstat));
		r->n_flows++;
	}
}

static void account(struct run *r, const struct kc_pkt *p)
{
	struct kc_flow_key k;
	bool created, a_to_b = kc_flow_key_make(p, &k);
	struct kc_flow *f = kc_flow_lookup(r->t, &k, kc_flow_key_hash(&k), 0, &created);
	struct fstat *st = kc_flow_user(r->t, f);
	int d = a_to_b ? 0 : 1;

	st->pkts[d]++;
	st->payload[d] += p->payload_len;
	if (p->proto == IPPROTO_TCP) {
		st->syn += (p->tcp_flags & KC_TCP_SYN) != 0;
		st->fin += (p->tcp_flags & KC_TCP_FIN) != 0;
		st->rst += (p->tcp_flags & KC_TCP_RST) != 0;
	}
}

/* Parse an address in TShark's text form into the key's 16-byte layout. */
static int parse_addr(const char *s, uint8_t out[16], uint8_t *family)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = 6;
		return 0;
	}
	return -1;
}

/* Check one conv_*.tsv against the flows seen. Returns the rows read. */
static uint32_t check_truth(const char *name, const struct run *r, const char *path, uint8_t proto,
			    int check_payload)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	uint32_t rows = 0, i, n_proto = 0;

	CHECK(f != NULL);
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open %s\n", name, path);
		return 0;
	}
	if (fgets(line, sizeof(line), f) == NULL) /* header */
		line[0] = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *col[16], *save = NULL, *tok;
		unsigned n = 0;
		uint8_t a[16], b[16], fa, fb;
		unsigned pa, pb;
		const struct seen *hit = NULL;
		int da = 0;

		line[strcspn(line, "\r\n")] = 0;
		for (tok = strtok_r(line, "\t", &save); tok != NULL && n < 16; tok = strtok_r(NULL, "\t", &save))
			col[n++] = tok;
		if (n < 10)
			continue;
		rows++;
		if (parse_addr(col[1], a, &fa) != 0 || parse_addr(col[3], b, &fb) != 0) {
			CHECK(0);
			continue;
		}
		pa = (unsigned)atoi(col[2]);
		pb = (unsigned)atoi(col[4]);
		for (i = 0; i < r->n_flows; i++) {
			const struct kc_flow_key *k = &r->flows[i].key;

			if (k->proto != proto || k->family != fa)
				continue;
			if (memcmp(k->a, a, 16) == 0 && k->port_a == pa && memcmp(k->b, b, 16) == 0 && k->port_b == pb) {
				hit = &r->flows[i];
				da = 0;
			} else if (memcmp(k->a, b, 16) == 0 && k->port_a == pb && memcmp(k->b, a, 16) == 0 &&
				   k->port_b == pa) {
				hit = &r->flows[i];
				da = 1;
			}
		}
		if (hit == NULL) {
			fprintf(stderr, "%s: no flow for %s conversation %s:%u - %s:%u\n", name,
				proto == IPPROTO_TCP ? "TCP" : "UDP", col[1], pa, col[3], pb);
			CHECK(0);
			continue;
		}
		/* Truth a→b is key direction da. */
		CHECK_EQ(hit->st.pkts[da], strtoull(col[5], NULL, 10));
		CHECK_EQ(hit->st.pkts[1 - da], strtoull(col[7], NULL, 10));
		if (proto == IPPROTO_TCP && n >= 16) {
			if (check_payload) {
				CHECK_EQ(hit->st.payload[da], strtoull(col[11], NULL, 10));
				CHECK_EQ(hit->st.payload[1 - da], strtoull(col[12], NULL, 10));
			}
			CHECK_EQ(hit->st.syn, strtoull(col[13], NULL, 10));
			CHECK_EQ(hit->st.fin, strtoull(col[14], NULL, 10));
			CHECK_EQ(hit->st.rst, strtoull(col[15], NULL, 10));
		}
	}
	fclose(f);
	for (i = 0; i < r->n_flows; i++)
		n_proto += r->flows[i].key.proto == proto;
	if (n_proto != rows)
		fprintf(stderr, "%s: %u %s flows, TShark has %u\n", name, n_proto,
			proto == IPPROTO_TCP ? "TCP" : "UDP", rows);
	CHECK_EQ(n_proto, rows);
	return rows;
}

struct pcase {
	const char *file;
	int check_payload;     /* 0 when the snaplen hides payload TShark counts from IP lengths */
	uint32_t completed;    /* datagrams reassembled */
	uint32_t dropped;      /* frames counted under a drop reason */
};

static void run_case(const char *dir, const struct pcase *c)
{
	static struct run r;
	static const struct kc_flow_cfg fcfg = {
		.capacity = 1024,
		.user_size = sizeof(struct fstat),
		.timeout_us = {30000000, 300000000, 10000000, 60000000},
	};
	static const struct kc_defrag_cfg dcfg = {.max_datagrams = 16, .timeout_us = 30000000};
	char path[4096], err[PCAP_ERRBUF_SIZE];
	struct kc_defrag *d;
	pcap_t *pc;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint32_t frames = 0, dropped = 0, i;
	void *dead[4 * KC_DEFRAG_MAX_FRAGS];

	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/%s", dir, c->file);
	pc = pcap_open_offline(path, err);
	CHECK(pc != NULL);
	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", c->file, err);
		return;
	}
	CHECK_EQ(pcap_datalink(pc), DLT_EN10MB);
	r.t = kc_flow_table_create(&fcfg, on_release, &r);
	d = kc_defrag_create(&dcfg);
	CHECK(r.t != NULL && d != NULL);
	if (r.t == NULL || d == NULL)
		goto out;
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct kc_pkt p;
		enum kc_decode_res res = kc_decode_eth(data, h->caplen, &p);
		uint64_t now = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;

		frames++;
		r.res[res]++;
		if (res == KC_DEC_OK) {
			account(&r, &p);
		} else if (res == KC_DEC_FRAGMENT) {
			struct kc_defrag_done done;
			uint32_t n_dead;

			if (kc_defrag_add(d, &p, &r, now, &done, dead, KC_DEFRAG_MAX_FRAGS + 1, &n_dead) == 1) {
				r.completed++;
				if (done.res == KC_DEC_OK)
					account(&r, &done.pkt);
				else
					dropped++;
			}
			dropped += n_dead;
		} else {
			dropped++;
		}
	}
	kc_flow_flush(r.t);
	printf("%s: %u frames, %u flows, %" PRIu64 " reassembled, %u dropped (", c->file, frames, r.n_flows,
	       r.completed, dropped);
	for (i = 0; i < KC_DEC_RES_MAX; i++)
		if (r.res[i])
			printf(" %s=%" PRIu64, kc_decode_res_name((enum kc_decode_res)i), r.res[i]);
	printf(" )\n");
	CHECK(frames > 0);
	CHECK_EQ(r.completed, c->completed);
	CHECK_EQ(dropped, c->dropped);
	snprintf(path, sizeof(path), "%s/%s.truth/conv_tcp.tsv", dir, c->file);
	check_truth(c->file, &r, path, IPPROTO_TCP, c->check_payload);
	snprintf(path, sizeof(path), "%s/%s.truth/conv_udp.tsv", dir, c->file);
	check_truth(c->file, &r, path, IPPROTO_UDP, c->check_payload);
out:
	kc_defrag_destroy(d);
	kc_flow_table_destroy(r.t);
	pcap_close(pc);
}

int main(int argc, char **argv)
{
	static const struct pcase cases[] = {
		/* 4 overlapping IPv4 fragments make one TCP segment. */
		{"zeek-ipv4-fragmented-4.pcap", 1, 1, 0},
		/* A DNS answer in 4 IPv6 fragments. */
		{"zeek-ipv6-fragmented-dns.pcap", 1, 1, 0},
		/* VLAN + IPv6 fragments of one TCP segment (the flow key must keep the tag). */
		{"suricata-frag-eth-vlan-ipv6-tcp.pcap", 1, 1, 0},
		{"zeek-mixed-vlan-mpls.pcap", 1, 0, 0},
		{"zeek-http-qinq-0.pcap", 1, 0, 0},
		/* 54-byte snaplen, SYN and SYN+ACK cut inside their options. */
		{"zeek-tcp-truncated-header.pcap", 0, 0, 0},
		{"suricata-tcp-evasion-rst-then-synack.pcap", 1, 0, 0},
	};
	unsigned i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATADIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < KC_ARRAY_SIZE(cases); i++)
		run_case(argv[1], &cases[i]);
	return kct_done("test_flow_pcaps");
}
