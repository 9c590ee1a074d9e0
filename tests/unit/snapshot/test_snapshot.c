/*
 * Unit tests for lib/snapshot: rotation handshake, merge, manifest, READY,
 * crash leftovers, quota policies, sidecars, the job thread, and spool
 * atomicity under SIGKILL at random points (fork loop).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "kc_snapshot.h"

static int passed, failed;
static char root[128];
static bool have_tshark;

#define CHECK(cond) do { \
	if (cond) { passed++; } else { failed++; \
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ == w_) { passed++; } else { failed++; \
		fprintf(stderr, "%s:%d: FAIL: %s = %lld, want %lld\n", \
			__FILE__, __LINE__, #got, g_, w_); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ != NULL && strcmp(g_, w_) == 0) { passed++; } else { failed++; \
		fprintf(stderr, "%s:%d: FAIL: %s = '%s', want '%s'\n", \
			__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); } \
} while (0)

static char *fmt(const char *f, ...) kc_printf_like(1, 2);
static char *fmt(const char *f, ...)
{
	static char buf[32][1024];
	static int k;
	va_list ap;

	k = (k + 1) % 32;
	va_start(ap, f);
	vsnprintf(buf[k], sizeof(buf[k]), f, ap);
	va_end(ap);
	return buf[k];
}

static size_t build_pkt(uint8_t *p, uint32_t tag, size_t pad)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00 };
	uint8_t *ip = p + 14;
	size_t iplen = 20 + 8 + pad + 4;

	memcpy(p, eth, 14);
	memset(ip, 0, iplen);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "10.0.0.1", ip + 12);
	inet_pton(AF_INET, "10.0.0.2", ip + 16);
	ip[20 + 1] = 53;
	ip[20 + 3] = 53;
	ip[20 + 4] = (uint8_t)((8 + pad + 4) >> 8);
	ip[20 + 5] = (uint8_t)(8 + pad + 4);
	memcpy(ip + iplen - 4, &tag, 4);
	return 14 + iplen;
}

/* Append tags to OUT/live/<stream>.pcap (APPEND, as the writer does). */
static void write_stream(const char *out, const char *stream, const uint32_t *tags, size_t n,
			 size_t pad)
{
	static uint8_t pkt[4096];
	struct kc_pcap_writer *w = kc_pcap_writer_open(fmt("%s/live/%s.pcap", out, stream),
						       KC_PCAP_W_APPEND, 0, NULL);

	CHECK(w != NULL);
	if (w == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t len = build_pkt(pkt, tags[i], pad);

		if (kc_pcap_writer_write(w, 1700000000000000000ull + tags[i] * 1000ull, pkt,
					 (uint32_t)len, (uint32_t)len) != 0) {
			failed++;
			break;
		}
	}
	CHECK_EQ(kc_pcap_writer_close(w), 0);
}

static void write_meta(const char *out, const char *stream, const char *matched, bool trunc)
{
	struct kc_snapshot_stream_meta m = {
		.name = stream, .ip_proto = 17, .family = AF_INET, .sport = 53, .dport = 53,
		.truncated = trunc, .truncated_reason = trunc ? "retain_max_packets" : NULL,
		.matched = matched, .items_json = "[{\"protocol\":\"dns\"}]",
		.match_ts_us = 1700000000000123ull,
	};
	struct kc_err err = { "" };

	inet_pton(AF_INET, "10.0.0.1", m.src);
	inet_pton(AF_INET, "10.0.0.2", m.dst);
	CHECK_EQ(kc_snapshot_meta_write(fmt("%s/live", out), &m, &err), 0);
}

/* Read tags of a capture (pcap or pcap.gz) into @tags; returns count. */
static int read_capture(const char *path, uint32_t *tags, int max)
{
	struct kc_pcap_reader *r = kc_pcap_reader_open(path, NULL);
	struct kc_pcap_rec rec;
	int n = 0;

	if (r == NULL)
		return -1;
	while (kc_pcap_reader_next(r, &rec) == 1) {
		if (n < max)
			memcpy(&tags[n], rec.data + rec.caplen - 4, 4);
		n++;
	}
	kc_pcap_reader_close(r);
	return n;
}

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[1 << 20];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return cJSON_Parse(buf);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int count_entries(const char *dir, bool dot)
{
	char cmd[512];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '%s' ", dir, dot ? "^\\.[^.]" : "^[0-9]");
	f = popen(cmd, "r");
	if (f != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* Handshake recorder: checks the order and what the writer would see. */
struct hs {
	char out[256];
	int begins, ends, last_status;
	bool live_existed_at_begin;
	bool live_fresh_at_end;
	int refuse;
};

static int hs_begin(void *ctx)
{
	struct hs *h = ctx;

	h->begins++;
	h->live_existed_at_begin = access(fmt("%s/live", h->out), F_OK) == 0;
	return h->refuse;
}

static void hs_end(void *ctx, int status)
{
	struct hs *h = ctx;

	h->ends++;
	h->last_status = status;
	h->live_fresh_at_end = count_entries(fmt("%s/live", h->out), false) == 0 &&
			       access(fmt("%s/live/.started", h->out), F_OK) == 0;
}

static uint64_t hs_filter(void *ctx, char *buf, size_t cap)
{
	snprintf(buf, cap, "dns and dns.qry.name == \"x\"");
	return 7;
}

static struct kc_snapshot *make(const char *out, struct kc_snapshot_params *p,
				const struct kc_snapshot_ops *ops)
{
	struct kc_err err = { "" };
	struct kc_snapshot *s;

	p->out_dir = out;
	if (p->host == NULL)
		p->host = "testhost";
	s = kc_snapshot_create(p, ops, &err);
	if (s == NULL)
		fprintf(stderr, "create: %s\n", err.msg);
	CHECK(s != NULL);
	return s;
}

static void test_basic(void)
{
	char out[256];

	snprintf(out, sizeof(out), "%s/basic", root);
	struct hs h = { 0 };
	struct kc_snapshot_ops ops = { .ctx = &h, .rotate_begin = hs_begin, .rotate_end = hs_end,
				       .filter_info = hs_filter };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_snapshot_stats st;
	struct kc_err err = { "" };
	char entry[512], entry2[512];
	uint32_t a[] = { 0, 2, 4 }, b[] = { 1, 3, 5 }, a2[] = { 6, 8 }, tags[16];
	cJSON *m, *streams, *it;
	const char *ts;
	FILE *f;
	char ready[256] = "";

	snprintf(h.out, sizeof(h.out), "%s", out);
	s = make(out, &p, &ops);
	if (s == NULL)
		return;
	CHECK(access(fmt("%s/live/.started", out), F_OK) == 0);
	CHECK(access(fmt("%s/spool", out), F_OK) == 0);
	write_stream(out, "s1", a, 3, 10);
	write_meta(out, "s1", "dns query x", false);
	write_stream(out, "s2", b, 3, 10);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), &err), 0);
	CHECK_EQ(h.begins, 1);
	CHECK_EQ(h.ends, 1);
	CHECK_EQ(h.last_status, 0);
	CHECK(h.live_existed_at_begin);
	CHECK(h.live_fresh_at_end);
	ts = strrchr(entry, '/') + 1;
	CHECK_STR(fmt("%s/spool/%s", out, ts), entry);
	CHECK_EQ(read_capture(fmt("%s/%s.pcap", entry, ts), tags, 16), 6);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(tags[i], i);
	f = fopen(fmt("%s/READY", entry), "r");
	CHECK(f != NULL);
	if (f != NULL) {
		size_t n = fread(ready, 1, sizeof(ready) - 1, f);

		ready[n] = 0;
		fclose(f);
	}
	CHECK_STR(ready, fmt("%s.pcap\nmanifest.json\nname_resolution_history.json\n", ts));
	{
		struct stat sb;

		CHECK_EQ(stat(fmt("%s/%s.pcap", entry, ts), &sb), 0);
		CHECK_EQ(sb.st_mode & 0777, 0600);
		CHECK_EQ(stat(fmt("%s/name_resolution_history.json", entry), &sb), 0);
		CHECK_EQ(sb.st_size, 3);
	}
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
	CHECK_EQ(count_entries(fmt("%s/spool", out), true), 0);

	m = read_json(fmt("%s/manifest.json", entry));
	CHECK(m != NULL);
	CHECK_EQ(jnum(m, "version"), 1);
	CHECK_EQ(jnum(m, "snapshot"), atof(ts));
	CHECK_EQ(jnum(m, "interval_end"), atof(ts));
	CHECK(jnum(m, "interval_start") > 1.6e9 && jnum(m, "interval_start") <= atof(ts));
	CHECK_STR(jstr(m, "host"), "testhost");
	it = cJSON_GetObjectItem(m, "filter");
	CHECK_STR(jstr(it, "kfl"), "dns and dns.qry.name == \"x\"");
	CHECK_EQ(jnum(it, "version"), 7);
	it = cJSON_GetObjectItem(m, "capture");
	CHECK_STR(jstr(it, "file"), fmt("%s.pcap", ts));
	CHECK_STR(jstr(it, "format"), "pcap");
	CHECK_EQ(jnum(it, "packets"), 6);
	CHECK_EQ(jnum(it, "first_ts_us"), 1700000000000000.0);
	CHECK_EQ(jnum(it, "last_ts_us"), 1700000000000005.0);
	CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(m, "sources")), 1);
	{
		/* OUT/rotating/<ts>-<16 hex digits> */
		const char *src = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "sources"), 0)->valuestring;

		CHECK(strncmp(src, fmt("%s-", ts), strlen(ts) + 1) == 0);
		CHECK_EQ(strlen(src), strlen(ts) + 17);
		CHECK_STR(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "streams"), 0),
			       "source_file"), fmt("%s/s1.pcap", src));
	}
	CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(m, "recovered")), 0);
	streams = cJSON_GetObjectItem(m, "streams");
	CHECK_EQ(cJSON_GetArraySize(streams), 2);
	it = cJSON_GetArrayItem(streams, 0);
	CHECK_STR(jstr(it, "stream"), "s1");
	CHECK_EQ(jnum(it, "packets"), 3);
	CHECK_EQ(jnum(it, "bytes"), 3 * (14 + 20 + 8 + 10 + 4));
	CHECK_EQ(jnum(it, "first_ts_us"), 1700000000000000.0);
	CHECK_EQ(jnum(it, "last_ts_us"), 1700000000000004.0);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(it, "truncated")));
	{
		const cJSON *meta = cJSON_GetObjectItem(it, "meta");

		CHECK_STR(jstr(meta, "matched"), "dns query x");
		CHECK_STR(jstr(meta, "src"), "10.0.0.1");
		CHECK_STR(jstr(meta, "dst"), "10.0.0.2");
		CHECK_STR(jstr(meta, "proto"), "udp");
		CHECK_EQ(jnum(meta, "dport"), 53);
		CHECK_EQ(jnum(meta, "match_ts_us"), 1700000000000123.0);
		CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(meta, "items")), 1);
	}
	it = cJSON_GetArrayItem(streams, 1);
	CHECK_STR(jstr(it, "stream"), "s2");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(it, "meta")));
	{
		/* no sidecar: the 5-tuple still comes from the first packet */
		const cJSON *fl = cJSON_GetObjectItem(it, "flow");

		CHECK_STR(jstr(fl, "proto"), "udp");
		CHECK_STR(jstr(fl, "src"), "10.0.0.1");
		CHECK_STR(jstr(fl, "dst"), "10.0.0.2");
		CHECK_EQ(jnum(fl, "sport"), 53);
		CHECK_EQ(jnum(fl, "dport"), 53);
		CHECK(cJSON_GetObjectItem(fl, "vlan") == NULL);
	}
	cJSON_Delete(m);

	/* the stream continues under the same name in the new live folder */
	write_stream(out, "s1", a2, 2, 10);
	CHECK_EQ(kc_snapshot_run_once(s, entry2, sizeof(entry2), &err), 0);
	CHECK(strcmp(entry, entry2) != 0);
	ts = strrchr(entry2, '/') + 1;
	CHECK_EQ(read_capture(fmt("%s/%s.pcap", entry2, ts), tags, 16), 2);
	CHECK(tags[0] == 6 && tags[1] == 8);
	/* an empty interval still yields an entry with an empty capture */
	CHECK_EQ(kc_snapshot_run_once(s, entry2, sizeof(entry2), &err), 0);
	ts = strrchr(entry2, '/') + 1;
	CHECK_EQ(read_capture(fmt("%s/%s.pcap", entry2, ts), tags, 16), 0);
	kc_snapshot_get_stats(s, &st);
	CHECK_EQ(st.snapshots, 3);
	CHECK_EQ(st.packets, 8);
	CHECK_EQ(st.failed, 0);
	CHECK_EQ(count_entries(fmt("%s/spool", out), false), 3);

	/* writer refuses: nothing moves, rotate_end not called */
	h.refuse = -EBUSY;
	write_stream(out, "s3", a, 1, 10);
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, &err), -EAGAIN);
	CHECK(strstr(err.msg, "writer refused rotation: Device or resource busy") != NULL);
	CHECK_EQ(h.begins, 4);
	CHECK_EQ(h.ends, 3);
	CHECK(access(fmt("%s/live/s3.pcap", out), F_OK) == 0);
	kc_snapshot_get_stats(s, &st);
	CHECK_EQ(st.aborted_rotate, 1);
	CHECK_EQ(st.failed, 1);
	{
		char le[512];

		kc_snapshot_last_error(s, le, sizeof(le));
		CHECK(strstr(le, "writer refused rotation") != NULL);
	}
	kc_snapshot_destroy(s);
}

/* 5-tuple from a VLAN-tagged IPv6 TCP packet behind a hop-by-hop header */
static void test_flow_v6_vlan(void)
{
	char out[256], entry[512];
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_pcap_writer *w;
	uint8_t pkt[128] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x2a, 0x86, 0xdd };
	uint8_t *ip = pkt + 18, *hbh = ip + 40, *tcp = hbh + 8;
	cJSON *m;

	snprintf(out, sizeof(out), "%s/flow6", root);
	s = make(out, &p, NULL);
	if (s == NULL)
		return;
	ip[0] = 0x60;
	ip[5] = 8 + 20;
	ip[6] = 0; /* hop-by-hop options */
	ip[7] = 64;
	inet_pton(AF_INET6, "2001:db8::10", ip + 8);
	inet_pton(AF_INET6, "2001:db8::20", ip + 24);
	hbh[0] = 6; /* next: TCP */
	tcp[0] = 0xc3; tcp[1] = 0x50; /* 50000 */
	tcp[2] = 0x01; tcp[3] = 0xbb; /* 443 */
	w = kc_pcap_writer_open(fmt("%s/live/v6.pcap", out), 0, 0, NULL);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	CHECK_EQ(kc_pcap_writer_write(w, 1, pkt, 18 + 40 + 8 + 20, 18 + 40 + 8 + 20), 0);
	CHECK_EQ(kc_pcap_writer_close(w), 0);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), NULL), 0);
	m = read_json(fmt("%s/manifest.json", entry));
	{
		const cJSON *fl = cJSON_GetObjectItem(
			cJSON_GetArrayItem(cJSON_GetObjectItem(m, "streams"), 0), "flow");

		CHECK_STR(jstr(fl, "proto"), "tcp");
		CHECK_STR(jstr(fl, "src"), "2001:db8::10");
		CHECK_STR(jstr(fl, "dst"), "2001:db8::20");
		CHECK_EQ(jnum(fl, "sport"), 50000);
		CHECK_EQ(jnum(fl, "dport"), 443);
		CHECK_EQ(jnum(fl, "vlan"), 42);
	}
	cJSON_Delete(m);
	kc_snapshot_destroy(s);
}

static void test_gzip(void)
{
	char out[256];

	snprintf(out, sizeof(out), "%s/gz", root);
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP, .gzip = true };
	struct kc_snapshot *s = make(out, &p, NULL);
	uint32_t a[] = { 3, 1, 2 };
	char entry[512];
	static uint8_t buf[4096];
	gzFile gz;
	const char *ts;
	int n;

	if (s == NULL)
		return;
	write_stream(out, "x", a, 1, 0);
	write_stream(out, "y", a + 1, 2, 0);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), NULL), 0);
	ts = strrchr(entry, '/') + 1;
	gz = gzopen(fmt("%s/%s.pcap.gz", entry, ts), "rb");
	CHECK(gz != NULL);
	if (gz != NULL) {
		CHECK_EQ(gzdirect(gz), 0);
		n = gzread(gz, buf, sizeof(buf));
		gzclose(gz);
		CHECK_EQ(n, 24 + 3 * (16 + 46));
		/* time order: tags 1, 2, 3 */
		CHECK_EQ(buf[24 + 16 + 42], 1);
		CHECK_EQ(buf[24 + 2 * 62 + 16 + 42], 3);
	}
	kc_snapshot_destroy(s);
}

static int names_get(void *ctx, struct kc_pcap_name **names, size_t *n)
{
	struct kc_pcap_name *v = calloc(1, sizeof(*v));

	v->family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", v->addr);
	v->name = "resolver.example";
	*names = v;
	*n = 1;
	(*(int *)ctx)++;
	return 0;
}

static void names_free(void *ctx, struct kc_pcap_name *names, size_t n)
{
	free(names);
	(*(int *)ctx)++;
}

static int write_names(void *ctx, const char *path, struct kc_err *err)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return kc_err_set(err, -errno, "names: %s", strerror(errno));
	fputs("{\"10.0.0.1\":[\"resolver.example\"]}\n", f);
	fclose(f);
	return 0;
}

static void test_pcapng(void)
{
	char out[256];

	snprintf(out, sizeof(out), "%s/ng", root);
	int calls = 0;
	struct kc_snapshot_ops ops = { .ctx = &calls, .names_get = names_get,
				       .names_free = names_free, .write_names = write_names };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAPNG };
	struct kc_snapshot *s = make(out, &p, &ops);
	uint32_t a[] = { 1, 3 }, b[] = { 2 };
	char entry[512], buf[512];
	const char *ts;
	cJSON *m;

	if (s == NULL)
		return;
	write_stream(out, "q1", a, 2, 0);
	write_meta(out, "q1", "dns A resolver.example", true);
	write_stream(out, "q2", b, 1, 0);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), NULL), 0);
	CHECK_EQ(calls, 2);
	ts = strrchr(entry, '/') + 1;
	CHECK(access(fmt("%s/%s.pcapng", entry, ts), F_OK) == 0);
	m = read_json(fmt("%s/name_resolution_history.json", entry));
	CHECK(m != NULL && cJSON_GetObjectItem(m, "10.0.0.1") != NULL);
	cJSON_Delete(m);
	m = read_json(fmt("%s/manifest.json", entry));
	{
		cJSON *q1 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "streams"), 0);

		/* sidecar truncation is carried into the manifest */
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(q1, "truncated")));
		CHECK_STR(jstr(cJSON_GetObjectItem(q1, "meta"), "truncated_reason"),
			  "retain_max_packets");
		CHECK_STR(jstr(cJSON_GetObjectItem(m, "capture"), "format"), "pcapng");
	}
	cJSON_Delete(m);
	if (have_tshark) {
		FILE *f;
		size_t n;

		f = popen(fmt("tshark -r %s/%s.pcapng -N n -T fields -e frame.comment "
			      "-e ip.src_host 2>/dev/null", entry, ts), "r");
		n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		buf[n] = 0;
		if (f)
			pclose(f);
		CHECK_STR(buf, "kflcap stream q1: dns A resolver.example\tresolver.example\n"
			  "kflcap stream q2\tresolver.example\n"
			  "\tresolver.example\n");
	}
	kc_snapshot_destroy(s);
}

/* params.names: the history file and the NRB come from lib/names directly */
static void test_names_history(void)
{
	char out[256], entry[512], buf[512];
	struct kc_names *h = kc_names_create(16, 16);
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAPNG, .names = h };
	struct kc_snapshot *s;
	uint8_t a4[4];
	uint32_t t[] = { 1 };
	const char *ts;
	FILE *f;
	size_t n;

	CHECK(h != NULL);
	if (h == NULL)
		return;
	inet_pton(AF_INET, "10.0.0.1", a4);
	CHECK_EQ(kc_names_learn(h, AF_INET, a4, "hist.example", 12, 1700000000000ull), 1);
	snprintf(out, sizeof(out), "%s/names", root);
	s = make(out, &p, NULL);
	if (s == NULL)
		return;
	write_stream(out, "n1", t, 1, 0);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), NULL), 0);
	ts = strrchr(entry, '/') + 1;
	f = fopen(fmt("%s/name_resolution_history.json", entry), "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	CHECK(strstr(buf, "hist.example") != NULL);
	{
		cJSON *j = cJSON_Parse(buf);

		CHECK(j != NULL);
		cJSON_Delete(j);
	}
	if (have_tshark) {
		f = popen(fmt("tshark -r %s/%s.pcapng -N n -T fields -e ip.src_host 2>/dev/null",
			      entry, ts), "r");
		n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		buf[n] = 0;
		if (f)
			pclose(f);
		CHECK_STR(buf, "hist.example\n");
	}
	kc_snapshot_destroy(s);
	kc_names_destroy(h);
}

static void test_crash_leftovers(void)
{
	char out[256];

	snprintf(out, sizeof(out), "%s/crash", root);
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_snapshot_stats st;
	uint32_t old[] = { 10, 11 }, cur[] = { 20 }, done[] = { 99 }, tags[16];
	char entry[512];
	const char *ts;
	cJSON *m;

	/* a previous process: streams rotated at 1000 but never spooled; a
	 * half-built entry; a rotated dir (2000) already committed as 2001 */
	CHECK_EQ(mkdir(out, 0700), 0);
	CHECK_EQ(mkdir(fmt("%s/live", out), 0700), 0);
	write_stream(out, "old", old, 2, 0);
	CHECK_EQ(mkdir(fmt("%s/rotating", out), 0700), 0);
	CHECK_EQ(rename(fmt("%s/live", out), fmt("%s/rotating/1000", out)), 0);
	{
		FILE *f = fopen(fmt("%s/rotating/1000/.started", out), "w");

		fputs("900\n", f);
		fclose(f);
	}
	CHECK_EQ(mkdir(fmt("%s/live", out), 0700), 0);
	write_stream(out, "done", done, 1, 0);
	CHECK_EQ(rename(fmt("%s/live", out), fmt("%s/rotating/2000", out)), 0);
	CHECK_EQ(mkdir(fmt("%s/spool", out), 0700), 0);
	CHECK_EQ(mkdir(fmt("%s/spool/2001", out), 0700), 0);
	{
		FILE *f = fopen(fmt("%s/spool/2001/manifest.json", out), "w");

		fputs("{\"sources\": [\"2000\"]}", f);
		fclose(f);
		f = fopen(fmt("%s/spool/2001/READY", out), "w");
		fclose(f);
	}
	CHECK_EQ(mkdir(fmt("%s/spool/.tmp-1500", out), 0700), 0);
	{
		FILE *f = fopen(fmt("%s/spool/.tmp-1500/1500.pcap.tmp", out), "w");

		fputs("partial", f);
		fclose(f);
	}
	/* a torn stream file in the current live folder */
	CHECK_EQ(mkdir(fmt("%s/live", out), 0700), 0);
	write_stream(out, "cur", cur, 1, 0);
	CHECK_EQ(truncate(fmt("%s/live/cur.pcap", out), 24 + 16 + 10), 0);

	s = make(out, &p, NULL);
	if (s == NULL)
		return;
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), NULL), 0);
	ts = strrchr(entry, '/') + 1;
	CHECK(access(fmt("%s/spool/.tmp-1500", out), F_OK) != 0);
	CHECK(access(fmt("%s/rotating/2000", out), F_OK) != 0);
	CHECK(access(fmt("%s/rotating/1000", out), F_OK) != 0);
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
	CHECK_EQ(read_capture(fmt("%s/%s.pcap", entry, ts), tags, 16), 2);
	CHECK(tags[0] == 10 && tags[1] == 11); /* not 99: already committed; 20 torn */
	m = read_json(fmt("%s/manifest.json", entry));
	CHECK_EQ(jnum(m, "interval_start"), 900);
	/* 1000 from the crash, and the live folder the crashed run left,
	 * which kc_snapshot_create set aside so no new writer touches it. */
	CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(m, "recovered")), 2);
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "recovered"), 0)->valuestring, "1000");
	{
		cJSON *streams = cJSON_GetObjectItem(m, "streams");
		cJSON *cur_s = cJSON_GetArrayItem(streams, 1);

		CHECK_EQ(cJSON_GetArraySize(streams), 2);
		CHECK_STR(jstr(cur_s, "stream"), "cur");
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cur_s, "torn_tail")));
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cur_s, "truncated")));
		CHECK_EQ(jnum(cur_s, "packets"), 0);
		CHECK_EQ(jnum(cJSON_GetObjectItem(m, "capture"), "truncated_inputs"), 1);
	}
	cJSON_Delete(m);
	kc_snapshot_get_stats(s, &st);
	CHECK_EQ(st.recovered_dirs, 2);
	CHECK_EQ(st.stale_tmp_removed, 1);
	CHECK_EQ(st.truncated_inputs, 1);
	kc_snapshot_destroy(s);
}

static void test_quota(void)
{
	uint32_t a[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct kc_snapshot_stats st;
	struct kc_err err = { "" };
	char e1[512], e2[512];

	for (int pol = 0; pol < 2; pol++) {
		char out[256];

	snprintf(out, sizeof(out), "%s/quota%d", root, pol);
		/* one entry: ~24+8*(16+546) capture + ~1.2k manifest: fits once */
		struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP,
						.spool_quota_bytes = 7500, .quota_policy = pol };
		struct kc_snapshot *s = make(out, &p, NULL);

		if (s == NULL)
			return;
		write_stream(out, "big", a, 8, 500);
		CHECK_EQ(kc_snapshot_run_once(s, e1, sizeof(e1), &err), 0);
		write_stream(out, "big", a, 8, 500);
		if (pol == KC_CONFIG_QUOTA_REFUSE_NEW) {
			CHECK_EQ(kc_snapshot_run_once(s, e2, sizeof(e2), &err), -ENOSPC);
			CHECK(strstr(err.msg, "spool quota") != NULL);
			CHECK(strstr(err.msg, "(policy refuse-new); snapshot discarded") != NULL);
			CHECK(access(e1, F_OK) == 0);
			CHECK_EQ(count_entries(fmt("%s/spool", out), false), 1);
		} else {
			CHECK_EQ(kc_snapshot_run_once(s, e2, sizeof(e2), &err), 0);
			CHECK(access(e1, F_OK) != 0);
			CHECK(access(e2, F_OK) == 0);
			CHECK_EQ(count_entries(fmt("%s/spool", out), false), 1);
		}
		CHECK_EQ(count_entries(fmt("%s/spool", out), true), 0);
		CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
		kc_snapshot_get_stats(s, &st);
		CHECK_EQ(st.refused_quota, pol == 0 ? 1 : 0);
		CHECK_EQ(st.dropped_oldest, pol == 1 ? 1 : 0);
		kc_snapshot_destroy(s);
	}
}

struct admit_ctx {
	uint64_t bytes;
	int calls, rc;
};

static int admit_cb(void *ctx, uint64_t bytes, struct kc_err *err)
{
	struct admit_ctx *a = ctx;

	a->calls++;
	a->bytes = bytes;
	return a->rc ? kc_err_set(err, a->rc, "admit: spool full") : 0;
}

static void test_admit_callback(void)
{
	char out[256];
	struct admit_ctx a = { 0 };
	struct kc_snapshot_ops ops = { .ctx = &a, .admit = admit_cb };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_snapshot_stats st;
	struct kc_err err = { "" };
	uint32_t t[] = { 1, 2, 3 };
	char entry[512];
	uint64_t du = 0;
	struct stat sb;
	const char *files[] = { "manifest.json", "name_resolution_history.json", "READY" };

	snprintf(out, sizeof(out), "%s/admit", root);
	s = make(out, &p, &ops);
	if (s == NULL)
		return;
	write_stream(out, "a", t, 3, 0);
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), &err), 0);
	CHECK_EQ(a.calls, 1);
	/* exact size of the entry's files */
	CHECK_EQ(stat(fmt("%s/%s.pcap", entry, strrchr(entry, '/') + 1), &sb), 0);
	du = (uint64_t)sb.st_size;
	CHECK_EQ(du, 24 + 3 * (16 + 46));
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ(stat(fmt("%s/%s", entry, files[i]), &sb), 0);
		du += (uint64_t)sb.st_size;
	}
	CHECK_EQ(a.bytes, du);
	/* refused by the owner of the spool: discarded and counted */
	a.rc = -ENOSPC;
	write_stream(out, "a", t, 3, 0);
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, &err), -ENOSPC);
	CHECK_STR(err.msg, "admit: spool full");
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
	/* a failing admit keeps the streams for the next run */
	a.rc = -EIO;
	write_stream(out, "b", t, 3, 0);
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, &err), -EIO);
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 1);
	a.rc = 0;
	CHECK_EQ(kc_snapshot_run_once(s, entry, sizeof(entry), &err), 0);
	CHECK_EQ(read_capture(fmt("%s/%s.pcap", entry, strrchr(entry, '/') + 1), t, 3), 3);
	kc_snapshot_get_stats(s, &st);
	CHECK_EQ(st.refused_quota, 1);
	CHECK_EQ(st.failed, 1);
	CHECK_EQ(st.snapshots, 2);
	CHECK_EQ(st.recovered_dirs, 1);
	CHECK_EQ(count_entries(fmt("%s/spool", out), false), 2);
	kc_snapshot_destroy(s);
}

static int check_spool(const char *out, unsigned *seen, size_t nseen);

/* A writer thread appends to stream files non-stop while the job rotates
 * under it through kc_snapshot_gate: no packet is lost or duplicated. */
enum { LW_STREAMS = 16, LW_TOTAL = 60000 };

struct live_writer {
	char out[256];
	struct kc_snapshot_gate gate;
	atomic_bool written, stop;
	int pauses, cancels, bad;
};

static int lw_begin(void *ctx)
{
	return kc_snapshot_gate_begin(&((struct live_writer *)ctx)->gate, 2000);
}

static void lw_end(void *ctx, int status)
{
	kc_snapshot_gate_end(&((struct live_writer *)ctx)->gate, status);
}

static void lw_close_all(struct live_writer *lw, struct kc_pcap_writer **w)
{
	for (int k = 0; k < LW_STREAMS; k++) {
		if (w[k] != NULL && kc_pcap_writer_close(w[k]) != 0)
			lw->bad++;
		w[k] = NULL;
	}
}

static void lw_service(struct live_writer *lw, struct kc_pcap_writer **w)
{
	int st;

	if (!kc_snapshot_gate_requested(&lw->gate))
		return;
	lw_close_all(lw, w);
	st = kc_snapshot_gate_pause(&lw->gate);
	if (st == -ECANCELED)
		lw->cancels++;
	else if (st != 0)
		lw->bad++;
	lw->pauses++;
}

static void *lw_main(void *arg)
{
	struct live_writer *lw = arg;
	struct kc_pcap_writer *w[LW_STREAMS] = { 0 };
	static uint8_t pkt[256];
	char path[512];

	for (uint32_t tag = 0; tag < LW_TOTAL; tag++) {
		int k = (int)(tag % LW_STREAMS);
		size_t len;

		lw_service(lw, w);
		if (w[k] == NULL) {
			snprintf(path, sizeof(path), "%s/live/st%02d.pcap", lw->out, k);
			w[k] = kc_pcap_writer_open(path, KC_PCAP_W_APPEND, 4096, NULL);
			if (w[k] == NULL) {
				lw->bad++;
				continue;
			}
		}
		len = build_pkt(pkt, tag, 100);
		if (kc_pcap_writer_write(w[k], 1700000000000000000ull + tag * 1000ull, pkt,
					 (uint32_t)len, (uint32_t)len) != 0)
			lw->bad++;
		if (tag % 250 == 0) {
			struct timespec d = { 0, 1000 * 1000 };

			nanosleep(&d, NULL); /* spread the writing over ~30 snapshots */
		}
	}
	lw_close_all(lw, w);
	atomic_store(&lw->written, true);
	while (!atomic_load(&lw->stop)) {
		struct timespec d = { 0, 100 * 1000 };

		lw_service(lw, w);
		nanosleep(&d, NULL);
	}
	return NULL;
}

static void test_live_writer(void)
{
	static struct live_writer lw;
	static unsigned seen[LW_TOTAL];
	struct kc_snapshot_ops ops = { .ctx = &lw, .rotate_begin = lw_begin, .rotate_end = lw_end };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_snapshot_stats st;
	pthread_t th;
	int runs = 0;

	snprintf(lw.out, sizeof(lw.out), "%s/livewriter", root);
	kc_snapshot_gate_init(&lw.gate);
	s = make(lw.out, &p, &ops);
	if (s == NULL)
		return;
	CHECK_EQ(pthread_create(&th, NULL, lw_main, &lw), 0);
	while (!atomic_load(&lw.written)) {
		struct timespec d = { 0, 3 * 1000 * 1000 };

		CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, NULL), 0);
		runs++;
		nanosleep(&d, NULL);
	}
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, NULL), 0); /* the rest */
	atomic_store(&lw.stop, true);
	pthread_join(th, NULL);
	CHECK_EQ(lw.bad, 0);
	CHECK_EQ(lw.cancels, 0);
	CHECK_EQ(lw.pauses, runs + 1);
	CHECK(runs >= 3);
	kc_snapshot_get_stats(s, &st);
	CHECK_EQ(st.packets, LW_TOTAL);
	kc_snapshot_destroy(s);
	check_spool(lw.out, seen, LW_TOTAL);
	for (int i = 0; i < LW_TOTAL; i++)
		if (seen[i] != 1) {
			CHECK_EQ(seen[i], 1);
			fprintf(stderr, "tag %d seen %u times\n", i, seen[i]);
			break;
		}
	printf("live writer: %d packets over %d snapshots, writer paused %d times\n",
	       LW_TOTAL, runs + 1, lw.pauses);
}

static void test_gate_timeout(void)
{
	struct kc_snapshot_gate g;
	uint64_t t0;

	kc_snapshot_gate_init(&g);
	t0 = kc_now_us();
	CHECK_EQ(kc_snapshot_gate_begin(&g, 30), -ETIMEDOUT);
	CHECK(kc_now_us() - t0 >= 30000);
	/* withdrawn: a late writer is told so and carries on */
	CHECK(!kc_snapshot_gate_requested(&g));
	CHECK_EQ(kc_snapshot_gate_pause(&g), -ECANCELED);
	/* a pending request refuses a second one */
	atomic_store(&g.state, KC_SNAPSHOT_GATE_REQUESTED);
	CHECK_EQ(kc_snapshot_gate_begin(&g, 1), -EBUSY);
}

static void test_meta_errors(void)
{
	struct kc_snapshot_stream_meta m = { .name = "../evil", .family = AF_INET };
	struct kc_err err = { "" };
	struct stat sb;

	CHECK_EQ(kc_snapshot_meta_write(root, &m, &err), -EINVAL);
	CHECK_STR(err.msg, "sidecar: bad stream name '../evil'");
	m.name = "ok";
	m.family = 12345;
	CHECK_EQ(kc_snapshot_meta_write(root, &m, &err), -EINVAL);
	CHECK_STR(err.msg, "sidecar ok: bad address family 12345");
	m.family = AF_INET6;
	m.items_json = "[{";
	CHECK_EQ(kc_snapshot_meta_write(root, &m, &err), -EINVAL);
	CHECK_STR(err.msg, "sidecar ok: items_json is not JSON");
	m.items_json = NULL;
	m.ip_proto = 6;
	CHECK_EQ(kc_snapshot_meta_write(root, &m, &err), 0);
	CHECK_EQ(stat(fmt("%s/ok.meta.json", root), &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	{
		cJSON *j = read_json(fmt("%s/ok.meta.json", root));

		CHECK_STR(jstr(j, "src"), "::");
		CHECK_STR(jstr(j, "proto"), "tcp");
		cJSON_Delete(j);
	}
	CHECK_EQ(kc_snapshot_meta_write(fmt("%s/nodir", root), &m, &err), -ENOENT);
}

static int job_spooled;
static void on_spooled(void *ctx, const char *dir)
{
	__atomic_add_fetch(&job_spooled, 1, __ATOMIC_SEQ_CST);
}

/* An entry leaves the spool once its upload is confirmed; a snapshot later
 * in the same second must still get a name of its own, or it overwrites the
 * first in the archive (seen live: a job woken at second T by the precise
 * clock named its entry after time(), still T - 1). */
static void test_names_never_repeat(void)
{
	char out[256], e1[512], e2[512], e3[512];
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_err err = { "" };
	uint32_t a[] = { 1 };
	uint64_t t1, t2, t3;

	snprintf(out, sizeof(out), "%s/names", root);
	s = make(out, &p, NULL);
	if (s == NULL)
		return;
	write_stream(out, "s1", a, 1, 0);
	CHECK_EQ(kc_snapshot_run_once(s, e1, sizeof(e1), &err), 0);
	CHECK_EQ(system(fmt("rm -rf '%s'", e1)), 0); /* "uploaded and confirmed" */
	write_stream(out, "s2", a, 1, 0);
	CHECK_EQ(kc_snapshot_run_once(s, e2, sizeof(e2), &err), 0);
	CHECK_EQ(system(fmt("rm -rf '%s'", e2)), 0);
	CHECK_EQ(kc_snapshot_run_once(s, e3, sizeof(e3), &err), 0);
	t1 = strtoull(strrchr(e1, '/') + 1, NULL, 10);
	t2 = strtoull(strrchr(e2, '/') + 1, NULL, 10);
	t3 = strtoull(strrchr(e3, '/') + 1, NULL, 10);
	CHECK(t2 > t1);
	CHECK(t3 > t2);
	/* ahead of the clock by at most the snapshots taken this second */
	CHECK(t3 <= (uint64_t)time(NULL) + 3);
	kc_snapshot_destroy(s);
}

static void test_job_thread(void)
{
	char out[256];

	snprintf(out, sizeof(out), "%s/job", root);
	struct kc_snapshot_ops ops = { .spooled = on_spooled };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	struct kc_snapshot_stats st;
	struct kc_err err = { "" };
	uint32_t a[] = { 1 };
	struct timespec d = { 0, 20 * 1000 * 1000 };

	CHECK_EQ(kc_cron_parse("* * * * * *", &p.schedule, NULL), 0);
	s = make(out, &p, &ops);
	if (s == NULL)
		return;
	CHECK_EQ(kc_snapshot_job_start(s, &err), 0);
	CHECK_EQ(kc_snapshot_job_start(s, &err), -EALREADY);
	/* every second: within 3.5 s at least two snapshots */
	for (int i = 0; i < 175 && __atomic_load_n(&job_spooled, __ATOMIC_SEQ_CST) < 2; i++)
		nanosleep(&d, NULL);
	CHECK(__atomic_load_n(&job_spooled, __ATOMIC_SEQ_CST) >= 2);
	write_stream(out, "last", a, 1, 0);
	CHECK_EQ(kc_snapshot_job_stop(s, true, &err), 0);
	kc_snapshot_get_stats(s, &st);
	CHECK(st.snapshots >= 3);
	CHECK_EQ(st.packets, 1); /* the final snapshot took the last stream */
	CHECK(access(fmt("%s/live/last.pcap", out), F_OK) != 0);
	kc_snapshot_destroy(s);

	/* a schedule that never fires is refused */
	CHECK_EQ(kc_cron_parse("0 0 0 30 2 *", &p.schedule, NULL), 0);
	s = make(fmt("%s/job2", root), &p, NULL);
	CHECK_EQ(kc_snapshot_job_start(s, &err), -EINVAL);
	CHECK_STR(err.msg, "snapshot: the schedule never fires");
	kc_snapshot_destroy(s);
}

/* Every complete entry is whole: READY lists existing files, the manifest
 * parses, the capture reads to the end. Adds the entry's tags to seen[]. */
static int check_spool(const char *out, unsigned *seen, size_t nseen)
{
	char cmd[512], name[64];
	FILE *ls;
	int entries = 0;

	snprintf(cmd, sizeof(cmd), "ls '%s/spool'", out);
	ls = popen(cmd, "r");
	while (ls != NULL && fscanf(ls, "%63s", name) == 1) {
		char ready[512] = "", *line, *save = NULL;
		FILE *f = fopen(fmt("%s/spool/%s/READY", out, name), "r");
		cJSON *m;
		size_t n;

		if (f == NULL) {
			failed++;
			fprintf(stderr, "FAIL: spool entry %s has no READY\n", name);
			continue;
		}
		n = fread(ready, 1, sizeof(ready) - 1, f);
		ready[n] = 0;
		fclose(f);
		for (line = strtok_r(ready, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (access(fmt("%s/spool/%s/%s", out, name, line), R_OK) != 0) {
				failed++;
				fprintf(stderr, "FAIL: %s lists missing %s\n", name, line);
			}
		m = read_json(fmt("%s/spool/%s/manifest.json", out, name));
		if (m == NULL) {
			failed++;
			fprintf(stderr, "FAIL: %s: manifest does not parse\n", name);
		} else {
			struct kc_pcap_reader *r = kc_pcap_reader_open(
				fmt("%s/spool/%s/%s.pcap", out, name, name), NULL);
			struct kc_pcap_rec rec;
			double want = jnum(cJSON_GetObjectItem(m, "capture"), "packets");
			int rc, got = 0;

			while (r != NULL && (rc = kc_pcap_reader_next(r, &rec)) == 1) {
				uint32_t t;

				memcpy(&t, rec.data + rec.caplen - 4, 4);
				if (t < nseen)
					seen[t]++;
				got++;
			}
			CHECK(r != NULL && !kc_pcap_reader_truncated(r));
			CHECK_EQ(got, want);
			kc_pcap_reader_close(r);
			cJSON_Delete(m);
		}
		entries++;
	}
	if (ls != NULL)
		pclose(ls);
	return entries;
}

static int crash_target;
static void crash_at(void *ctx, enum kc_snapshot_step st)
{
	if ((int)st == crash_target)
		_exit(9); /* like SIGKILL: no cleanup, no atexit */
}

/* Deterministic: die right after each step in turn; nothing is ever lost or
 * duplicated, and no partial entry is visible. */
static void test_crash_each_step(void)
{
	enum { STEPS = KC_SNAPSHOT_STEP_CLEANED, PER = 50, TOTAL = (STEPS + 1) * 2 * PER };
	char out[256];
	static unsigned seen[TOTAL];
	static uint32_t tags[PER];
	struct kc_snapshot_ops ops = { .progress = crash_at };
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;

	snprintf(out, sizeof(out), "%s/steps", root);
	for (int st = 0; st <= STEPS; st++) {
		pid_t pid;
		int status;

		kc_snapshot_destroy(make(out, &p, NULL));
		for (int k = 0; k < 2; k++) {
			for (int j = 0; j < PER; j++)
				tags[j] = (uint32_t)((st * 2 + k) * PER + j);
			write_stream(out, fmt("st%d-%d", st, k), tags, PER, 20);
		}
		crash_target = st == STEPS ? 0 : st + 1;
		pid = fork();
		if (pid == 0) {
			struct kc_snapshot *c = kc_snapshot_create(&p, &ops, NULL);

			_exit(c != NULL && kc_snapshot_run_once(c, NULL, 0, NULL) == 0 ? 0 : 3);
		}
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), st == STEPS ? 0 : 9);
		{
			static unsigned dummy[1];

			check_spool(out, dummy, 0);
		}
	}
	s = make(out, &p, NULL);
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, NULL), 0);
	kc_snapshot_destroy(s);
	memset(seen, 0, sizeof(seen));
	check_spool(out, seen, TOTAL);
	for (int i = 0; i < TOTAL; i++)
		if (seen[i] != 1) {
			CHECK_EQ(seen[i], 1);
			fprintf(stderr, "tag %d seen %u times\n", i, seen[i]);
			break;
		}
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
	CHECK_EQ(count_entries(fmt("%s/spool", out), true), 0);
}

static void test_kill_atomicity(void)
{
	enum { ITER = 8, STREAMS = 8, PER = 1500, TOTAL = ITER * STREAMS * PER };
	char out[256];

	snprintf(out, sizeof(out), "%s/kill", root);
	static unsigned seen[TOTAL];
	static uint32_t tags[PER];
	struct kc_snapshot_params p = { .format = KC_PCAP_FMT_PCAP };
	struct kc_snapshot *s;
	int killed = 0, completed = 0;
	uint64_t t_full = 0;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	s = make(out, &p, NULL); /* creates the layout */
	kc_snapshot_destroy(s);
	for (int it = 0; it < ITER; it++) {
		pid_t pid;
		int status;
		uint64_t t0;

		/* a restart after the kill: create() restores OUT/live if the kill
		 * fell between rename and mkdir */
		kc_snapshot_destroy(make(out, &p, NULL));
		for (int k = 0; k < STREAMS; k++) {
			for (int j = 0; j < PER; j++)
				tags[j] = (uint32_t)(((it * STREAMS + k) * PER) + j);
			write_stream(out, fmt("it%d-s%d", it, k), tags, PER, 400);
		}
		t0 = kc_now_us();
		pid = fork();
		if (pid == 0) {
			struct kc_snapshot *c = kc_snapshot_create(&p, NULL, NULL);

			_exit(c != NULL && kc_snapshot_run_once(c, NULL, 0, NULL) == 0 ? 0 : 3);
		}
		CHECK(pid > 0);
		if (it == 0) {
			/* measure one full run to aim the kills inside it */
			waitpid(pid, &status, 0);
			t_full = kc_now_us() - t0;
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			completed++;
		} else {
			struct timespec d;
			/* some kills land after the commit (a third of the range) */
			uint64_t at = (uint64_t)rand() % (t_full * 3 / 2 + 1);

			d.tv_sec = (time_t)(at / 1000000u);
			d.tv_nsec = (long)(at % 1000000u) * 1000;
			nanosleep(&d, NULL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			if (WIFSIGNALED(status))
				killed++;
			else
				completed++;
		}
		/* between runs: never a partial entry */
		{
			static unsigned dummy[1];

			check_spool(out, dummy, 0);
		}
	}
	/* restart: one clean run picks up everything left over */
	s = make(out, &p, NULL);
	CHECK_EQ(kc_snapshot_run_once(s, NULL, 0, NULL), 0);
	kc_snapshot_destroy(s);
	memset(seen, 0, sizeof(seen));
	check_spool(out, seen, TOTAL);
	{
		int missing = 0, dup = 0;

		for (int i = 0; i < TOTAL; i++) {
			missing += seen[i] == 0;
			dup += seen[i] > 1;
		}
		CHECK_EQ(missing, 0);
		CHECK_EQ(dup, 0);
	}
	CHECK_EQ(count_entries(fmt("%s/rotating", out), false), 0);
	CHECK_EQ(count_entries(fmt("%s/spool", out), true), 0);
	printf("kill loop: one snapshot of %d packets took %.1f ms; %d runs killed, %d completed\n",
	       STREAMS * PER, (double)t_full / 1000.0, killed, completed);
}

int main(void)
{
	char cmd[256];

	snprintf(root, sizeof(root), "/tmp/kc-snapshot-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	have_tshark = system("command -v tshark >/dev/null 2>&1") == 0;
	test_meta_errors();
	test_basic();
	test_gzip();
	test_flow_v6_vlan();
	test_pcapng();
	test_names_history();
	test_crash_leftovers();
	test_quota();
	test_admit_callback();
	test_names_never_repeat();
	test_job_thread();
	test_gate_timeout();
	test_live_writer();
	test_crash_each_step();
	test_kill_atomicity();
	if (failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	} else {
		fprintf(stderr, "files kept in %s\n", root);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
