/*
 * lib/dns against real captures and TShark's ground truth (tests/data/dns):
 * every DNS message on port 53 is parsed with kc_dns_parse_message and its
 * question names and types, A, AAAA and CNAME data are compared with
 * FILE.dns.tsv frame by frame (fields comma-joined per frame as TShark does,
 * several TCP messages completing in one frame included). The same traffic
 * goes through kc_dns_feed_udp / kc_dns_feed_tcp, and the pairing counts are
 * checked.
 *
 * usage: test_dns_pcap DATA_DIR
 */
#include "kc_dns.h"
#include "pcap_walk.h"
#include "test_common.h"

#define MAX_ROWS 256
#define FIELD_MAX 2048

struct row {
	unsigned frame;
	char f[6][FIELD_MAX]; /* response, qry.name, qry.type, a, aaaa, cname */
};

struct sbuf {
	uint8_t b[70000];
	size_t len;
};

struct flow_state {
	struct kc_dns_flow dns;
	struct sbuf frame_buf[2];  /* test's own framing, for per-message rows */
	struct sbuf feed_buf[2];   /* dispatcher stand-in for kc_dns_feed_tcp */
};

struct ctx {
	struct row rows[MAX_ROWS];
	unsigned n_rows;
	struct kc_dns_stats st;
	struct capture cap;
	struct flow_state fs[WALK_FLOWS];
	unsigned n_fs;
	unsigned feed_errors;
};

static void add(char *field, const char *s, size_t n)
{
	size_t l = strlen(field);

	if (l + n + 2 >= FIELD_MAX)
		return;
	if (l > 0)
		field[l++] = ',';
	memcpy(field + l, s, n);
	field[l + n] = '\0';
}

static struct row *row_for(struct ctx *c, unsigned frame)
{
	for (unsigned i = 0; i < c->n_rows; i++)
		if (c->rows[i].frame == frame)
			return &c->rows[i];
	struct row *r = &c->rows[c->n_rows++];

	memset(r, 0, sizeof(*r));
	r->frame = frame;
	return r;
}

static void add_view(char *field, const struct kc_item *it, struct kc_str v)
{
	if (v.len == 0)
		add(field, "<Name too long>", 15); /* TShark's text for what we leave absent */
	else
		add(field, kc_item_str(it, v), v.len);
}

static void message_row(struct ctx *c, unsigned frame, const uint8_t *m, size_t n)
{
	static struct kc_item it;
	struct row *r = row_for(c, frame);
	char num[16];

	(void)kc_dns_parse_message(m, n, &it, NULL);
	add(r->f[0], (it.flags & KC_ITEM_F_RESPONSE) ? "1" : "0", 1);
	for (unsigned i = 0; i < it.u.dns.n_questions; i++) {
		add_view(r->f[1], &it, it.u.dns.questions[i].name);
		snprintf(num, sizeof(num), "%u", it.u.dns.questions[i].type);
		add(r->f[2], num, strlen(num));
	}
	unsigned nrr = it.u.dns.n_answers + it.u.dns.n_authorities + it.u.dns.n_additionals;

	for (unsigned i = 0; i < nrr; i++) {
		const struct kc_dns_rr *rr = &it.u.dns.rrs[i];

		if (rr->type == 1)
			add_view(r->f[3], &it, rr->data);
		else if (rr->type == 28)
			add_view(r->f[4], &it, rr->data);
		else if (rr->type == 5)
			add_view(r->f[5], &it, rr->data);
	}
}

static struct flow_state *state_of(struct ctx *c, struct walk_flow *f)
{
	if (f->user == NULL) {
		struct flow_state *s = &c->fs[c->n_fs++];

		memset(s, 0, sizeof(*s));
		kc_dns_flow_init(&s->dns);
		f->user = s;
	}
	return f->user;
}

static bool is_dns_port(const struct walk_pkt *p)
{
	return p->sport == 53 || p->dport == 53;
}

static void on_udp(void *vc, struct walk_flow *f, enum kc_dir dir, const struct walk_pkt *p)
{
	struct ctx *c = vc;

	if (!is_dns_port(p))
		return;
	message_row(c, p->frame, p->payload, p->len);
	struct kc_parse_res r = kc_dns_feed_udp(&state_of(c, f)->dns, dir, p->payload, p->len,
						p->ts_us, &f->fi, cap_emit, &c->cap, &c->st);

	if (r.status != KC_PARSE_OK)
		c->feed_errors++;
}

static void on_tcp(void *vc, struct walk_flow *f, enum kc_dir dir, const uint8_t *d, size_t n,
		   const struct walk_pkt *p)
{
	struct ctx *c = vc;
	struct flow_state *s;
	struct sbuf *b;

	if (!is_dns_port(p))
		return;
	s = state_of(c, f);

	/* Our own framing: which messages complete in this frame. */
	b = &s->frame_buf[dir];
	memcpy(b->b + b->len, d, n);
	b->len += n;
	while (b->len >= 2) {
		size_t ml = (size_t)(b->b[0] << 8 | b->b[1]);

		if (b->len < 2 + ml)
			break;
		message_row(c, p->frame, b->b + 2, ml);
		memmove(b->b, b->b + 2 + ml, b->len - 2 - ml);
		b->len -= 2 + ml;
	}

	/* The dissector's framing. */
	b = &s->feed_buf[dir];
	memcpy(b->b + b->len, d, n);
	b->len += n;
	struct kc_parse_res r = kc_dns_feed_tcp(&s->dns, dir, b->b, b->len, p->ts_us, &f->fi,
						cap_emit, &c->cap, &c->st);

	if (r.status == KC_PARSE_ERROR)
		c->feed_errors++;
	memmove(b->b, b->b + r.consumed, b->len - r.consumed);
	b->len -= r.consumed;
}

/* Compare rows with FILE.dns.tsv; returns mismatches. */
static unsigned compare_truth(struct ctx *c, const char *tsv)
{
	FILE *fp = fopen(tsv, "r");
	char line[8192];
	unsigned bad = 0, seen = 0;

	if (fp == NULL) {
		fprintf(stderr, "cannot open %s\n", tsv);
		return 1;
	}
	if (fgets(line, sizeof(line), fp) == NULL) { /* header */
		fclose(fp);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *fields[7] = { 0 };
		char *p = line;
		unsigned nf = 0;

		line[strcspn(line, "\r\n")] = '\0';
		while (nf < 7) {
			fields[nf++] = p;
			p = strchr(p, '\t');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		for (unsigned i = nf; i < 7; i++)
			fields[i] = "";
		unsigned frame = (unsigned)atoi(fields[0]);
		struct row *r = NULL;

		for (unsigned i = 0; i < c->n_rows; i++)
			if (c->rows[i].frame == frame)
				r = &c->rows[i];
		seen++;
		if (r == NULL) {
			fprintf(stderr, "%s: frame %u: no DNS message decoded\n", tsv, frame);
			bad++;
			continue;
		}
		for (int k = 0; k < 6; k++) {
			if (strcmp(r->f[k], fields[k + 1]) != 0) {
				fprintf(stderr, "%s: frame %u field %d: got \"%s\" want \"%s\"\n",
					tsv, frame, k, r->f[k], fields[k + 1]);
				bad++;
			}
		}
	}
	fclose(fp);
	if (seen != c->n_rows) {
		fprintf(stderr, "%s: %u truth rows, %u decoded frames\n", tsv, seen, c->n_rows);
		bad++;
	}
	return bad;
}

struct expect {
	const char *name;
	unsigned paired, resp_only, timeouts; /* timeouts: emitted at close */
};

static void run(const char *dir, const struct expect *e)
{
	static struct ctx c;
	static struct walker w;
	char path[1024], tsv[1024];

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	w.on_udp = on_udp;
	w.on_tcp = on_tcp;
	w.ctx = &c;
	snprintf(path, sizeof(path), "%s/%s.pcap", dir, e->name);
	snprintf(tsv, sizeof(tsv), "%s/%s.dns.tsv", dir, e->name);
	CHECK(walk_pcap(&w, path) > 0);
	for (unsigned i = 0; i < w.n_flows; i++)
		if (w.flows[i].user != NULL)
			kc_dns_flow_close(&((struct flow_state *)w.flows[i].user)->dns,
					  &w.flows[i].fi, cap_emit, &c.cap, &c.st);
	CHECK_EQ(compare_truth(&c, tsv), 0);
	CHECK_EQ(c.feed_errors, 0);
	CHECK_EQ(c.st.items_paired, e->paired);
	CHECK_EQ(c.st.items_resp_only, e->resp_only);
	CHECK_EQ(c.st.items_timeout, e->timeouts);
	CHECK_EQ(c.st.items, e->paired + e->resp_only + e->timeouts);
	if (strcmp(e->name, "zeek-ipv6-fragmented-dns") == 0) {
		CHECK_EQ(w.frags_reassembled, 1);
		CHECK_EQ(c.st.query_dup, 1);
		/* The 3230-byte TXT answer is cut to the rendered-text limit. */
		CHECK(c.cap.items[1].flags & KC_ITEM_F_TRUNCATED);
		CHECK_EQ(c.cap.items[1].u.dns.rrs[0].type, 16);
		CHECK_EQ(c.cap.items[1].u.dns.rrs[0].data.len, 1024);
		CHECK_EQ(c.cap.items[1].family, 6);
	}
	CHECK_EQ(c.cap.n, KC_MIN(c.st.items, (uint64_t)CAP_MAX));
	/* Every paired item's question matches between query and answer. */
	for (unsigned i = 0; i < c.cap.n; i++) {
		const struct kc_item *it = &c.cap.items[i];

		CHECK(it->proto == KC_ITEM_DNS);
		if ((it->flags & (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE)) ==
		    (KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE))
			CHECK(it->resp_ts_us >= it->ts_us && it->req_size >= 12);
	}
	printf("%s: %u frames with DNS, items %llu (paired %llu, resp-only %llu, timeout %llu)\n",
	       e->name, c.n_rows, (unsigned long long)c.st.items,
	       (unsigned long long)c.st.items_paired, (unsigned long long)c.st.items_resp_only,
	       (unsigned long long)c.st.items_timeout);
}

int main(int argc, char **argv)
{
	/* Expected pairing, from the captures' contents (README and dns.tsv):
	 *  long-connection: 11 query/response pairs on one UDP 5-tuple;
	 *  multirequest: 20 queries in one segment, 20 answers;
	 *  edns-keepalive: 2 TCP connections with one exchange each;
	 *  wikipedia: 14 exchanges on port 53;
	 *  malformed: 2 queries with the same id, each answered twice;
	 *  ipv6-fragmented: 2 TXT lookups, the second retransmitted (a dup) and
	 *  answered by a 3 kB response in three IPv6 fragments (reassembled by
	 *  the walker; an orphan fragment of an earlier answer never completes). */
	static const struct expect files[] = {
		{ "zeek-dns-long-connection", 11, 0, 0 },
		{ "suricata-dns-tcp-multirequest-buffer", 20, 0, 0 },
		{ "zeek-dns-edns-tcp-keepalive", 2, 0, 0 },
		{ "zeek-wikipedia", 14, 0, 0 },
		{ "ndpi-malformed-dns", 2, 2, 0 },
		{ "zeek-ipv6-fragmented-dns", 2, 0, 0 },
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++)
		run(argv[1], &files[i]);
	return t_report();
}
