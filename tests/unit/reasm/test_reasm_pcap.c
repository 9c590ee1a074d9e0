/* Replays the TCP segments of real captures through lib/reasm and compares,
 * per stream and direction, the byte count and SHA-256 of the reassembled
 * bytes with TShark's "follow,tcp,raw" ground truth (FILE.truth/tcp_follow.tsv,
 * see tests/data/SOURCES.md). TShark keeps the first copy of overlapping bytes;
 * where bytes are missing its follow output carries the text
 * "[N bytes missing in capture file]" and a NUL (the hashes include it), so
 * the test hashes the same marker for every gap_before we deliver.
 *
 * Usage: test_reasm_pcap [-a|-n] [-v] FILE.pcap...
 *   -a  feed every ACK to the opposite direction (kc_reasm_ack), as the
 *       engine does (default); -n  never, only flush at the end
 *   -v  print every stream
 *   -w DIR  write each stream's bytes to DIR/<stream>.<direction>
 * A file argument may be followed by ":prefix=S/D,..." for a documented
 * difference in stream S direction D (0 = node0 to node1): there TShark's
 * output must be an exact, shorter prefix of ours (same SHA-256 over its
 * length).
 *
 * A minimal Ethernet/VLAN/MPLS/NULL/SLL/raw, IPv4/IPv6, TCP parser lives here
 * because the real decoder (lib/decode) is built in parallel; IP fragments
 * are skipped (no capture used here carries TCP payload in fragments).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_reasm.h"

#define MAX_FLOWS 256

struct pkt {
	uint8_t fam;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack, win;
	uint8_t flags;
	const uint8_t *payload;
	uint32_t len;
};

struct side {
	struct kc_reasm_dir dir;
	FILE *dump;
	EVP_MD_CTX *md;
	EVP_MD_CTX *pmd;    /* hash of the first `limit` bytes only */
	uint64_t limit;
	uint64_t bytes;     /* as TShark counts: data plus gap markers */
	uint64_t gap_bytes; /* sum of gap_before */
};

struct flow {
	uint8_t fam;
	uint8_t a[16], b[16]; /* a = node0, the side seen first */
	uint16_t pa, pb;
	struct side s[2];     /* s[0]: a -> b */
};

struct truth {
	unsigned stream;
	uint64_t bytes[2];
	char sha[2][65];
};

static const char *dump_dir;
static struct flow flows[MAX_FLOWS];
static unsigned n_flows;
static struct truth truth[MAX_FLOWS];
static int n_truth;

static void feed(struct side *s, const void *p, uint64_t n)
{
	EVP_DigestUpdate(s->md, p, n);
	if (s->bytes < s->limit)
		EVP_DigestUpdate(s->pmd, p, s->limit - s->bytes < n ? s->limit - s->bytes : n);
	if (s->dump != NULL)
		fwrite(p, 1, n, s->dump);
	s->bytes += n;
}

static void deliver(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap, uint64_t ts)
{
	struct side *s = ctx;

	(void)ts;
	s->gap_bytes += gap;
	if (gap != 0 && len != 0) {
		/* TShark 4.0's follow writes this marker, NUL included, where
		 * bytes are missing before more data (not at the end); the
		 * ground-truth hashes and byte counts cover it. */
		char mark[64];
		int n = snprintf(mark, sizeof(mark), "[%u bytes missing in capture file]", gap);

		feed(s, mark, (uint64_t)n + 1);
	}
	if (len != 0)
		feed(s, data, len);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int parse_tcp(const uint8_t *p, uint32_t n, struct pkt *k)
{
	uint32_t doff;

	if (n < 20)
		return -1;
	doff = (uint32_t)(p[12] >> 4) * 4;
	if (doff < 20 || doff > n)
		return -1;
	k->sport = be16(p);
	k->dport = be16(p + 2);
	k->seq = be32(p + 4);
	k->ack = be32(p + 8);
	k->flags = p[13];
	k->win = be16(p + 14);
	k->payload = p + doff;
	k->len = n - doff;
	return 0;
}

/* n: bytes captured from p on; IP lengths trim padding and trailers. */
static int parse_ip(const uint8_t *p, uint32_t n, struct pkt *k)
{
	if (n < 1)
		return -1;
	if ((p[0] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(p[0] & 15) * 4, tot;

		if (n < 20 || ihl < 20 || ihl > n)
			return -1;
		tot = be16(p + 2);
		if (tot < ihl || tot > n)
			return -1; /* truncated capture: bytes missing */
		if ((be16(p + 6) & 0x3fff) != 0 || p[9] != 6)
			return -1; /* fragment, or not TCP */
		k->fam = 4;
		memset(k->src, 0, 32);
		memcpy(k->src, p + 12, 4);
		memcpy(k->dst, p + 16, 4);
		return parse_tcp(p + ihl, tot - ihl, k);
	}
	if ((p[0] >> 4) == 6) {
		uint32_t plen, off = 40;
		uint8_t nh;

		if (n < 40)
			return -1;
		plen = be16(p + 4);
		if (40 + plen > n)
			return -1;
		nh = p[6];
		/* Hop-by-hop, routing, destination options: skip (RFC 8200 4). */
		while (nh == 0 || nh == 43 || nh == 60) {
			if (off + 8 > 40 + plen)
				return -1;
			nh = p[off];
			off += 8 + (uint32_t)p[off + 1] * 8;
		}
		if (nh != 6 || off > 40 + plen)
			return -1;
		k->fam = 6;
		memcpy(k->src, p + 8, 16);
		memcpy(k->dst, p + 24, 16);
		return parse_tcp(p + off, 40 + plen - off, k);
	}
	return -1;
}

static int parse(int dlt, const uint8_t *p, uint32_t n, struct pkt *k)
{
	uint32_t off;
	uint16_t et;

	switch (dlt) {
	case DLT_EN10MB:
		if (n < 14)
			return -1;
		et = be16(p + 12);
		off = 14;
		while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
			if (off + 4 > n)
				return -1;
			et = be16(p + off + 2);
			off += 4;
		}
		if (et == 0x8847) {
			/* MPLS: pop to the bottom of stack, guess IP by nibble. */
			while (off + 4 <= n && !(p[off + 2] & 1))
				off += 4;
			off += 4;
			et = 0;
		}
		if (off > n || (et != 0 && et != 0x0800 && et != 0x86dd))
			return -1;
		return parse_ip(p + off, n - off, k);
	case DLT_NULL:
		return n < 4 ? -1 : parse_ip(p + 4, n - 4, k);
	case DLT_LINUX_SLL:
		return n < 16 ? -1 : parse_ip(p + 16, n - 16, k);
	case DLT_RAW:
	case 101:
		return parse_ip(p, n, k);
	default:
		return -1;
	}
}

static struct flow *lookup(const struct pkt *k, int *dir)
{
	unsigned i;
	struct flow *f;

	for (i = 0; i < n_flows; i++) {
		f = &flows[i];
		if (f->fam != k->fam)
			continue;
		if (f->pa == k->sport && f->pb == k->dport && !memcmp(f->a, k->src, 16) &&
		    !memcmp(f->b, k->dst, 16)) {
			*dir = 0;
			return f;
		}
		if (f->pa == k->dport && f->pb == k->sport && !memcmp(f->a, k->dst, 16) &&
		    !memcmp(f->b, k->src, 16)) {
			*dir = 1;
			return f;
		}
	}
	if (n_flows == MAX_FLOWS)
		return NULL;
	f = &flows[n_flows++];
	memset(f, 0, sizeof(*f));
	f->fam = k->fam;
	memcpy(f->a, k->src, 16);
	memcpy(f->b, k->dst, 16);
	f->pa = k->sport;
	f->pb = k->dport;
	for (i = 0; i < 2; i++) {
		kc_reasm_dir_init(&f->s[i].dir);
		f->s[i].md = EVP_MD_CTX_new();
		f->s[i].pmd = EVP_MD_CTX_new();
		EVP_DigestInit_ex(f->s[i].pmd, EVP_sha256(), NULL);
		if ((int)n_flows - 1 < n_truth)
			f->s[i].limit = truth[n_flows - 1].bytes[i];
		if (dump_dir != NULL) {
			char dp[512];

			snprintf(dp, sizeof(dp), "%s/%u.%u", dump_dir, n_flows - 1, i);
			f->s[i].dump = fopen(dp, "w");
		}
		EVP_DigestInit_ex(f->s[i].md, EVP_sha256(), NULL);
	}
	*dir = 0;
	return f;
}

static void hex(const uint8_t *d, unsigned n, char *out)
{
	unsigned i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int load_truth(const char *path, struct truth *t, unsigned max)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	unsigned n = 0;

	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL) { /* header */
		fclose(fp);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), fp) != NULL) {
		char n0[128], n1[128];
		unsigned long long b0, b1;

		if (sscanf(line, "%u\t%127s\t%127s\t%llu\t%llu\t%64s\t%64s", &t[n].stream, n0, n1,
			   &b0, &b1, t[n].sha[0], t[n].sha[1]) != 7)
			continue;
		t[n].bytes[0] = b0;
		t[n].bytes[1] = b1;
		n++;
	}
	fclose(fp);
	return (int)n;
}

static int verbose;

/* Returns the number of unexpected mismatches. */
static int run_file(const char *arg, int use_ack, struct kc_reasm_core *core)
{
	char path[1024], tpath[1100], errbuf[PCAP_ERRBUF_SIZE];
	const char *prefix = NULL;
	struct pcap_pkthdr *h;
	const uint8_t *data;
	pcap_t *pc;
	int dlt, nt, rc, bad = 0;
	unsigned i, d;
	char *colon;

	snprintf(path, sizeof(path), "%s", arg);
	colon = strstr(path, ":prefix=");
	if (colon != NULL) {
		*colon = 0;
		prefix = colon + 8;
	}
	snprintf(tpath, sizeof(tpath), "%s.truth/tcp_follow.tsv", path);
	nt = load_truth(tpath, truth, MAX_FLOWS);
	n_truth = nt;
	if (nt < 0) {
		fprintf(stderr, "%s: cannot read\n", tpath);
		return 1;
	}
	pc = pcap_open_offline(path, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return 1;
	}
	dlt = pcap_datalink(pc);
	n_flows = 0;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct pkt k;
		struct flow *f;
		int dir;

		if (parse(dlt, data, h->caplen, &k) < 0)
			continue;
		f = lookup(&k, &dir);
		if (f == NULL)
			continue;
		kc_reasm_push(core, &f->s[dir].dir, k.seq, k.flags, k.payload, k.len,
			      (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec, deliver,
			      &f->s[dir]);
		if (use_ack && (k.flags & KC_REASM_TCP_ACK))
			kc_reasm_ack(core, &f->s[!dir].dir, k.ack, k.win, 0, deliver, &f->s[!dir]);
	}
	pcap_close(pc);

	if ((unsigned)nt != n_flows) {
		fprintf(stderr, "%s: %u TCP flows, truth has %d streams\n", path, n_flows, nt);
		bad++;
	}
	for (i = 0; i < n_flows; i++) {
		for (d = 0; d < 2; d++) {
			struct side *s = &flows[i].s[d];
			uint8_t md[32], pmd[32];
			char sha[65], psha[65];
			char tag[32];
			int ok;

			kc_reasm_flush(core, &s->dir, 0, deliver, s);
			kc_reasm_dir_release(core, &s->dir);
			EVP_DigestFinal_ex(s->md, md, NULL);
			EVP_MD_CTX_free(s->md);
			EVP_DigestFinal_ex(s->pmd, pmd, NULL);
			EVP_MD_CTX_free(s->pmd);
			hex(pmd, 32, psha);
			if (s->dump != NULL)
				fclose(s->dump);
			hex(md, 32, sha);
			if ((int)i >= nt)
				continue;
			ok = s->bytes == truth[i].bytes[d] && strcmp(sha, truth[i].sha[d]) == 0;
			snprintf(tag, sizeof(tag), "%u/%u", i, d);
			if (!ok && prefix != NULL && strstr(prefix, tag) != NULL) {
				/* Documented difference: TShark stopped early; its
				 * output must be an exact prefix of ours. */
				ok = s->bytes > truth[i].bytes[d] && strcmp(psha, truth[i].sha[d]) == 0;
				printf("  %s stream %s: %s: %llu bytes, tshark's %llu are %s\n", path,
				       tag, ok ? "known difference" : "MISMATCH",
				       (unsigned long long)s->bytes, (unsigned long long)truth[i].bytes[d],
				       ok ? "our prefix" : "not our prefix");
				bad += !ok;
				continue;
			}
			if (!ok || verbose)
				printf("  %s stream %s: %s %llu bytes (gaps %llu), tshark %llu\n", path,
				       tag, ok ? "match" : "MISMATCH", (unsigned long long)s->bytes,
				       (unsigned long long)s->gap_bytes,
				       (unsigned long long)truth[i].bytes[d]);
			bad += !ok;
		}
	}
	if (kc_reasm_core_chunks_used(core) != 0) {
		fprintf(stderr, "%s: %u chunks leaked\n", path, kc_reasm_core_chunks_used(core));
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct kc_reasm_cfg cfg;
	struct kc_reasm_core *core;
	int i, use_ack = 1, bad = 0, files = 0;

	kc_reasm_cfg_default(&cfg);
	cfg.n_chunks = 4096;
	core = kc_reasm_core_create(&cfg, NULL);
	if (core == NULL)
		return 2;
	for (i = 1; i < argc; i++) {
		int b;

		if (strcmp(argv[i], "-a") == 0) {
			use_ack = 1;
			continue;
		}
		if (strcmp(argv[i], "-n") == 0) {
			use_ack = 0;
			continue;
		}
		if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) {
			dump_dir = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "-v") == 0) {
			verbose = 1;
			continue;
		}
		b = run_file(argv[i], use_ack, core);
		printf("%s %s (%s)\n", b ? "FAIL" : "ok  ", argv[i], use_ack ? "ack" : "no ack");
		bad += b;
		files++;
	}
	{
		const struct kc_reasm_stats *st = kc_reasm_core_stats(core);

		printf("segments %llu in_order %llu ooo %llu retrans %llu overlaps %llu conflicts %llu "
		       "gaps %llu gap_bytes %llu keepalives %llu zwp %llu\n",
		       (unsigned long long)st->segments, (unsigned long long)st->segments_in_order,
		       (unsigned long long)st->segments_ooo, (unsigned long long)st->retransmissions,
		       (unsigned long long)st->overlaps, (unsigned long long)st->overlaps_conflict,
		       (unsigned long long)st->gaps, (unsigned long long)st->gap_bytes,
		       (unsigned long long)st->keepalives,
		       (unsigned long long)st->zero_window_probes);
	}
	kc_reasm_core_destroy(core);
	printf("%d files, %d mismatches\n", files, bad);
	return bad != 0 || files == 0;
}
