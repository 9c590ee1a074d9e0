/*
 * lib/names: learning from DNS items (CNAME chains, PTR), LRU bound, history
 * bound, exact JSON output, copy/iteration, and learning from a real capture
 * through lib/dns (tests/data/dns/zeek-wikipedia.pcap).
 *
 * usage: test_names DNS_DATA_DIR
 */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kc_dns.h"
#include "kc_names.h"
#include "pcap_walk.h"
#include "test_common.h"

static void dns_item(struct kc_item *it, uint64_t resp_ts_us)
{
	kc_item_reset(it, KC_ITEM_DNS);
	it->flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	it->ts_us = resp_ts_us - 1000;
	it->resp_ts_us = resp_ts_us;
}

static void answer(struct kc_item *it, const char *name, uint16_t type, const char *data)
{
	struct kc_dns_rr *rr = &it->u.dns.rrs[it->u.dns.n_answers++];

	(void)kc_item_put(it, name, strlen(name), &rr->name);
	(void)kc_item_put(it, data, strlen(data), &rr->data);
	rr->type = type;
	rr->class_ = 1;
	rr->ttl = 60;
}

static int lookup(struct kc_names *n, const char *ip, char *out, size_t cap)
{
	uint8_t a[16];
	int fam = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(fam, ip, a) != 1)
		return -999;
	return kc_names_lookup(n, fam, a, out, cap);
}

#define CHECK_NAME(n, ip, want)                                                  \
	do {                                                                     \
		char got_[300] = "";                                             \
		int rc_ = lookup((n), (ip), got_, sizeof(got_));                 \
		if (rc_ >= 0 && strcmp(got_, (want)) == 0) {                     \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			fprintf(stderr, "%s:%d: %s -> \"%s\" (rc %d), want \"%s\"\n", \
				__FILE__, __LINE__, (ip), got_, rc_, (want));    \
		}                                                                \
	} while (0)

static void test_chains_and_ptr(void)
{
	static struct kc_item it;
	struct kc_names *n = kc_names_create(16, 64);
	struct kc_names_stats st;
	char buf[300];

	CHECK(n != NULL);
	dns_item(&it, 5000000);
	answer(&it, "www.example.com", 5, "a.cdn.net");
	answer(&it, "a.cdn.net", 5, "b.cdn.net");
	answer(&it, "b.cdn.net", 1, "192.0.2.7");
	answer(&it, "B.CDN.NET", 28, "2001:db8::5"); /* names compare case-blind */
	answer(&it, "other.example", 1, "192.0.2.8");
	CHECK_EQ(kc_names_learn_item(n, &it), 3);
	CHECK_NAME(n, "192.0.2.7", "www.example.com");
	CHECK_NAME(n, "2001:db8::5", "www.example.com");
	CHECK_NAME(n, "192.0.2.8", "other.example");
	/* Same answers again: nothing changes. */
	CHECK_EQ(kc_names_learn_item(n, &it), 0);

	/* A CNAME loop ends. */
	dns_item(&it, 6000000);
	answer(&it, "x.loop", 5, "y.loop");
	answer(&it, "y.loop", 5, "x.loop");
	answer(&it, "x.loop", 1, "192.0.2.9");
	CHECK_EQ(kc_names_learn_item(n, &it), 1);
	CHECK(lookup(n, "192.0.2.9", buf, sizeof(buf)) > 0);

	/* PTR, IPv4 and IPv6; a bad reverse name is counted. */
	dns_item(&it, 7000000);
	answer(&it, "10.2.0.192.in-addr.arpa", 12, "host.example");
	answer(&it,
	       "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.IP6.ARPA", 12,
	       "v6host.example");
	answer(&it, "300.2.0.192.in-addr.arpa", 12, "bad.example");
	answer(&it, "2.0.192.in-addr.arpa", 12, "bad.example");
	CHECK_EQ(kc_names_learn_item(n, &it), 2);
	CHECK_NAME(n, "192.0.2.10", "host.example");
	CHECK_NAME(n, "4321:0:1:2:3:4:567:89ab", "v6host.example");
	kc_names_get_stats(n, &st);
	CHECK_EQ(st.bad_ptr_name, 2);

	/* Ignored: not a response, an error rcode, another protocol. */
	dns_item(&it, 8000000);
	it.u.dns.rcode = 3;
	answer(&it, "nx.example", 1, "192.0.2.99");
	CHECK_EQ(kc_names_learn_item(n, &it), 0);
	kc_item_reset(&it, KC_ITEM_HTTP);
	CHECK_EQ(kc_names_learn_item(n, &it), 0);
	kc_names_get_stats(n, &st);
	CHECK_EQ(st.items_ignored, 2);
	CHECK_EQ(lookup(n, "192.0.2.99", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ(lookup(n, "192.0.2.7", buf, 5), -ENOSPC);
	CHECK_EQ(st.entries, 6);
	kc_names_destroy(n);
	kc_names_destroy(NULL);
}

static void test_bounds(void)
{
	struct kc_names *n = kc_names_create(3, 4);
	struct kc_names_stats st;
	uint8_t a[4] = { 10, 0, 0, 0 };
	char buf[64];

	errno = 0;
	CHECK(kc_names_create(0, 5) == NULL && errno == EINVAL);
	for (uint8_t i = 1; i <= 3; i++) {
		a[3] = i;
		CHECK_EQ(kc_names_learn(n, AF_INET, a, "h", 1, i), 1);
	}
	a[3] = 1;
	CHECK_EQ(kc_names_learn(n, AF_INET, a, "h", 1, 10), 0); /* touch 10.0.0.1 */
	a[3] = 4;
	CHECK_EQ(kc_names_learn(n, AF_INET, a, "h4", 2, 11), 1);  /* evicts 10.0.0.2 */
	kc_names_get_stats(n, &st);
	CHECK_EQ(st.evicted, 1);
	CHECK_EQ(st.entries, 3);
	CHECK_EQ(lookup(n, "10.0.0.2", buf, sizeof(buf)), -ENOENT);
	CHECK_NAME(n, "10.0.0.1", "h");
	CHECK_NAME(n, "10.0.0.4", "h4");
	/* 4 change records so far; a 5th drops the oldest. */
	a[3] = 3;
	CHECK_EQ(kc_names_learn(n, AF_INET, a, "h3b", 3, 12), 1);
	kc_names_get_stats(n, &st);
	CHECK_EQ(st.history, 4);
	CHECK_EQ(st.history_dropped, 1);
	CHECK_EQ(st.changed, 1);
	CHECK_EQ(kc_names_learn(n, AF_INET, a, "", 0, 13), -EINVAL);
	CHECK_EQ(kc_names_learn(n, 99, a, "x", 1, 13), -EINVAL);
	kc_names_destroy(n);
}

static void test_json(void)
{
	struct kc_names *n = kc_names_create(8, 8);
	uint8_t a1[4] = { 10, 0, 0, 1 }, a2[4] = { 10, 0, 0, 2 };
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char path[] = "/tmp/kc_names_testXXXXXX";
	char text[1024];
	int fd = mkstemp(path);
	FILE *fp;
	size_t got;
	struct stat sb;

	/* Learned out of time order (two workers): written sorted. */
	CHECK_EQ(kc_names_learn(n, AF_INET, a1, "one.example", 11, 1700000000500), 1);
	CHECK_EQ(kc_names_learn(n, AF_INET, a2, "two\"q", 5, 1700000000100), 1);
	CHECK_EQ(kc_names_learn(n, AF_INET6, a6, "six.example", 11, 1700000000500), 1);
	CHECK_EQ(kc_names_learn(n, AF_INET, a1, "one.example", 11, 1700000000900), 0);
	CHECK_EQ(kc_names_learn(n, AF_INET, a1, "uno.example", 11, 1700000000900), 1);
	fp = fdopen(fd, "w+");
	CHECK_EQ(kc_names_write_json(n, fp), 0);
	rewind(fp);
	got = fread(text, 1, sizeof(text) - 1, fp);
	text[got] = '\0';
	fclose(fp);
	unlink(path);
	const char *want = "{\n"
			   "  \"1700000000100\": {\"10.0.0.2\": \"two\\\"q\"},\n"
			   "  \"1700000000500\": {\"10.0.0.1\": \"one.example\", "
			   "\"2001:db8::1\": \"six.example\"},\n"
			   "  \"1700000000900\": {\"10.0.0.1\": \"uno.example\"}\n"
			   "}\n";

	CHECK(strcmp(text, want) == 0);
	if (strcmp(text, want) != 0)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", text, want);

	/* Atomic write to a path, mode 0600. */
	char dir[] = "/tmp/kc_names_dirXXXXXX";
	char file[256];
	struct kc_err err;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/name_resolution_history.json", dir);
	CHECK_EQ(kc_names_write_json_path(n, file, &err), 0);
	CHECK(stat(file, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	fp = fopen(file, "r");
	got = fp != NULL ? fread(text, 1, sizeof(text) - 1, fp) : 0;
	text[got] = '\0';
	if (fp != NULL)
		fclose(fp);
	CHECK(strcmp(text, want) == 0);
	unlink(file);
	snprintf(file, sizeof(file), "%s/missing/x.json", dir);
	CHECK(kc_names_write_json_path(n, file, &err) == -ENOENT);
	CHECK(strstr(err.msg, "missing") != NULL);
	rmdir(dir);

	/* Copy: most recent first. */
	struct kc_names_pair *pairs;
	size_t count;

	CHECK_EQ(kc_names_copy(n, &pairs, &count), 0);
	CHECK_EQ(count, 3);
	CHECK_EQ(pairs[0].family, AF_INET);
	CHECK_EQ(pairs[0].addr[3], 1);
	CHECK(strcmp(pairs[0].name, "uno.example") == 0);
	CHECK_EQ(pairs[1].family, AF_INET6);
	CHECK(strcmp(pairs[2].name, "two\"q") == 0);
	free(pairs);
	kc_names_destroy(n);

	/* Empty history. */
	n = kc_names_create(1, 1);
	fp = tmpfile();
	CHECK_EQ(kc_names_write_json(n, fp), 0);
	rewind(fp);
	got = fread(text, 1, sizeof(text) - 1, fp);
	text[got] = '\0';
	fclose(fp);
	CHECK(strcmp(text, "{}\n") == 0);
	CHECK_EQ(kc_names_copy(n, &pairs, &count), 0);
	CHECK_EQ(count, 0);
	kc_names_destroy(n);
}

/* ---- from a real capture through lib/dns ---- */

struct pctx {
	struct kc_names *names;
	struct kc_dns_flow flows[WALK_FLOWS];
	unsigned n;
	struct kc_dns_stats st;
};

static void learn_emit(void *ctx, const struct kc_item *it)
{
	struct pctx *c = ctx;

	(void)kc_names_learn_item(c->names, it);
}

static void on_udp(void *vc, struct walk_flow *f, enum kc_dir dir, const struct walk_pkt *p)
{
	struct pctx *c = vc;

	if (p->sport != 53 && p->dport != 53)
		return;
	if (f->user == NULL) {
		f->user = &c->flows[c->n++];
		kc_dns_flow_init(f->user);
	}
	(void)kc_dns_feed_udp(f->user, dir, p->payload, p->len, p->ts_us, &f->fi, learn_emit, c,
			      &c->st);
}

static void test_capture(const char *dir)
{
	static struct pctx c;
	static struct walker w;
	char path[1024];
	struct kc_names_stats st;

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	c.names = kc_names_create(64, 64);
	w.on_udp = on_udp;
	w.ctx = &c;
	snprintf(path, sizeof(path), "%s/zeek-wikipedia.pcap", dir);
	CHECK(walk_pcap(&w, path) > 0);
	/* From the capture (tshark -e dns.resp.name -e dns.resp.type): four
	 * answers of upload.wikimedia.org -> CNAME upload.pmtpa.wikimedia.org ->
	 * A 208.80.152.3 (frames 21..44), then meta.wikimedia.org -> CNAME
	 * text.wikimedia.org -> CNAME text.pmtpa.wikimedia.org -> A 208.80.152.2
	 * (frame 49). The other A records TShark lists (208.80.152.130, ...) are
	 * the name servers' glue in the additional section: not learned. */
	char buf[300];

	CHECK_NAME(c.names, "208.80.152.3", "upload.wikimedia.org");
	CHECK_NAME(c.names, "208.80.152.2", "meta.wikimedia.org");
	CHECK_EQ(lookup(c.names, "208.80.152.130", buf, sizeof(buf)), -ENOENT);
	kc_names_get_stats(c.names, &st);
	CHECK_EQ(st.entries, 2);
	CHECK_EQ(st.learned, 2);
	CHECK_EQ(st.unchanged, 3);
	CHECK_EQ(st.changed, 0);
	CHECK_EQ(st.history, 2);
	CHECK_EQ(st.items_seen, 14);
	kc_names_destroy(c.names);
}

int main(int argc, char **argv)
{
	test_chains_and_ptr();
	test_bounds();
	test_json();
	if (argc > 1)
		test_capture(argv[1]);
	else
		CHECK(!"DNS data dir argument missing");
	return t_report();
}
