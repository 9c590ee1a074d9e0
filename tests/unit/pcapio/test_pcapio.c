/*
 * Unit tests for lib/pcapio: writer/reader round trip, append-reopen and
 * repair, truncated tails, merge order, bounded open files, gzip and pcapng
 * output (validated with tshark/capinfos when they are installed).
 *
 * argv[1]: directory holding zeek-wikipedia.pcap (tests/data/pcapio).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kc_pcapio.h"

static int passed, failed;
static char tmpdir[256];
static const char *datadir = "tests/data/pcapio";
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

static char *path(const char *name)
{
	static char buf[16][512];
	static int k;

	k = (k + 1) % 16;
	if (snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name) >= (int)sizeof(buf[k]))
		abort();
	return buf[k];
}

/* Ethernet + IPv4 + UDP with a 4-byte tag payload. */
static size_t build_v4(uint8_t *p, const char *src, const char *dst, uint16_t sport,
		       uint16_t dport, uint32_t tag)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00 };
	uint8_t *ip = p + 14, *udp = ip + 20;
	uint32_t sum = 0;

	memcpy(p, eth, 14);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = 0;
	udp[5] = 12;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, &tag, 4);
	return 14 + 20 + 8 + 4;
}

static size_t build_v6(uint8_t *p, const char *src, const char *dst, uint32_t tag)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd };
	uint8_t *ip = p + 14, *udp = ip + 40;

	memcpy(p, eth, 14);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[5] = 12;
	ip[6] = 17;
	ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	memset(udp, 0, 8);
	udp[1] = 53;
	udp[3] = 53;
	udp[5] = 12;
	memcpy(udp + 8, &tag, 4);
	return 14 + 40 + 8 + 4;
}

static uint32_t tag_of(const struct kc_pcap_rec *r)
{
	uint32_t t;

	memcpy(&t, r->data + r->caplen - 4, 4);
	return t;
}

static void test_roundtrip(bool ns)
{
	const char *p = path(ns ? "rt-ns.pcap" : "rt-us.pcap");
	struct kc_err err = { "" };
	struct kc_pcap_writer *w = kc_pcap_writer_open(p, ns ? KC_PCAP_W_NS : 0, 0, &err);
	uint8_t pkt[128];
	struct kc_pcap_rec rec;
	struct kc_pcap_reader *r;
	struct stat sb;
	size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, 7);
	const uint64_t ts0 = 1700000000123456789ull;

	CHECK(w != NULL);
	if (w == NULL)
		return;
	CHECK_EQ(kc_pcap_writer_write(w, ts0, pkt, (uint32_t)len, (uint32_t)len), 0);
	CHECK_EQ(kc_pcap_writer_write(w, ts0 + 1000, pkt, 10, 1500), 0);
	{
		struct iovec iov[3] = {
			{ pkt, 14 }, { pkt + 14, 20 }, { pkt + 34, len - 34 },
		};

		CHECK_EQ(kc_pcap_writer_writev(w, ts0 + 2000000000ull, iov, 3, 0), 0);
	}
	CHECK_EQ(kc_pcap_writer_close(w), 0);
	CHECK_EQ(stat(p, &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	CHECK_EQ(sb.st_size, 24 + 3 * 16 + (long long)len * 2 + 10);

	r = kc_pcap_reader_open(p, &err);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ(kc_pcap_reader_is_ns(r), ns);
	CHECK_EQ(kc_pcap_reader_linktype(r), 1);
	CHECK_EQ(kc_pcap_reader_next(r, &rec), 1);
	CHECK_EQ(rec.ts_ns, ns ? ts0 : ts0 / 1000 * 1000);
	CHECK_EQ(rec.caplen, len);
	CHECK_EQ(rec.origlen, len);
	CHECK(memcmp(rec.data, pkt, len) == 0);
	CHECK_EQ(kc_pcap_reader_next(r, &rec), 1);
	CHECK_EQ(rec.caplen, 10);
	CHECK_EQ(rec.origlen, 1500);
	CHECK_EQ(rec.ts_ns, ns ? ts0 + 1000 : (ts0 + 1000) / 1000 * 1000);
	CHECK_EQ(kc_pcap_reader_next(r, &rec), 1);
	CHECK_EQ(rec.caplen, len);
	CHECK(memcmp(rec.data, pkt, len) == 0);
	CHECK_EQ(kc_pcap_reader_next(r, &rec), 0);
	CHECK(!kc_pcap_reader_truncated(r));
	kc_pcap_reader_close(r);
	if (have_tshark) {
		char cmd[1024], out[256] = "";
		FILE *f;

		snprintf(cmd, sizeof(cmd), "tshark -r %s -T fields -e frame.len -e udp.dstport 2>/dev/null", p);
		f = popen(cmd, "r");
		if (f != NULL) {
			size_t n = fread(out, 1, sizeof(out) - 1, f);

			out[n] = 0;
			pclose(f);
		}
		CHECK(strcmp(out, "46\t53\n1500\t\n46\t53\n") == 0);
		if (strcmp(out, "46\t53\n1500\t\n46\t53\n") != 0)
			fprintf(stderr, "tshark said: '%s'\n", out);
	}
}

static void test_snaplen_and_errors(void)
{
	static uint8_t big[300000];
	struct kc_err err = { "" };
	struct kc_pcap_writer *w = kc_pcap_writer_open(path("big.pcap"), 0, 4096, &err);
	struct kc_pcap_writer_stats st;
	struct kc_pcap_reader *r;
	struct kc_pcap_rec rec;

	CHECK(w != NULL);
	if (w == NULL)
		return;
	memset(big, 0xab, sizeof(big));
	CHECK_EQ(kc_pcap_writer_write(w, 5000000000ull, big, sizeof(big), sizeof(big)), 0);
	kc_pcap_writer_stats(w, &st);
	CHECK_EQ(st.snap_truncated, 1);
	CHECK_EQ(st.packets, 1);
	CHECK_EQ(st.bytes, 24 + 16 + KC_PCAP_SNAPLEN);
	CHECK_EQ(kc_pcap_writer_close(w), 0);
	r = kc_pcap_reader_open(path("big.pcap"), NULL);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK_EQ(kc_pcap_reader_next(r, &rec), 1);
		CHECK_EQ(rec.caplen, KC_PCAP_SNAPLEN);
		CHECK_EQ(rec.origlen, 300000);
		CHECK_EQ(rec.ts_ns, 5000000000ull);
		kc_pcap_reader_close(r);
	}

	/* a full disk fails at open: the header write is not silently short */
	errno = 0;
	w = kc_pcap_writer_open("/dev/full", 0, 0, &err);
	CHECK(w == NULL);
	CHECK_EQ(errno, ENOSPC);
	CHECK(strstr(err.msg, "/dev/full: write header") != NULL);
	errno = 0;
	CHECK(kc_pcap_writer_open(path("nodir/x.pcap"), 0, 0, &err) == NULL);
	CHECK_EQ(errno, ENOENT);
	CHECK(kc_pcap_writer_open(path("x.pcap"), 0x100, 0, &err) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kc_pcap_reader_open(path("missing.pcap"), &err) == NULL);
	CHECK_EQ(errno, ENOENT);
	{
		FILE *f = fopen(path("junk.pcap"), "w");

		fputs("this is not a capture file at all, sorry", f);
		fclose(f);
	}
	CHECK(kc_pcap_reader_open(path("junk.pcap"), &err) == NULL);
	CHECK_EQ(errno, EBADMSG);
	CHECK(strstr(err.msg, "not a classic pcap file") != NULL);
}

/* Write tags [from, to) one per ms into file @p name. */
static void write_tags(const char *name, unsigned flags, uint32_t from, uint32_t to)
{
	struct kc_pcap_writer *w = kc_pcap_writer_open(path(name), flags, 0, NULL);
	uint8_t pkt[128];

	CHECK(w != NULL);
	if (w == NULL)
		return;
	for (uint32_t t = from; t < to; t++) {
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, t);

		CHECK_EQ(kc_pcap_writer_write(w, 1700000000000000000ull + t * 1000000ull, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
	}
	CHECK_EQ(kc_pcap_writer_close(w), 0);
}

static int read_tags(const char *p, uint32_t *tags, int max, bool *truncated)
{
	struct kc_pcap_reader *r = kc_pcap_reader_open(p, NULL);
	struct kc_pcap_rec rec;
	int n = 0, rc;

	if (r == NULL)
		return -1;
	while ((rc = kc_pcap_reader_next(r, &rec)) == 1 && n < max)
		tags[n++] = tag_of(&rec);
	if (truncated)
		*truncated = kc_pcap_reader_truncated(r);
	kc_pcap_reader_close(r);
	return rc < 0 ? rc : n;
}

static void test_append_and_repair(void)
{
	uint32_t tags[16];
	bool trunc;
	struct kc_err err = { "" };
	struct kc_pcap_writer *w;
	struct kc_pcap_writer_stats st;
	struct stat sb;

	write_tags("app.pcap", 0, 0, 2);
	/* reopen: NS ignored, the file's microsecond header wins */
	w = kc_pcap_writer_open(path("app.pcap"), KC_PCAP_W_APPEND | KC_PCAP_W_NS, 0, &err);
	CHECK(w != NULL);
	if (w != NULL) {
		uint8_t pkt[128];
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1, 2, 2);

		CHECK(!kc_pcap_writer_is_ns(w));
		CHECK_EQ(kc_pcap_writer_write(w, 1700000000000000000ull, pkt, (uint32_t)len,
					      (uint32_t)len), 0);
		CHECK_EQ(kc_pcap_writer_close(w), 0);
	}
	CHECK_EQ(read_tags(path("app.pcap"), tags, 16, &trunc), 3);
	CHECK(tags[0] == 0 && tags[1] == 1 && tags[2] == 2);
	CHECK(!trunc);

	/* append to a missing file creates it */
	w = kc_pcap_writer_open(path("app-new.pcap"), KC_PCAP_W_APPEND, 0, &err);
	CHECK(w != NULL);
	CHECK_EQ(kc_pcap_writer_close(w), 0);
	CHECK_EQ(stat(path("app-new.pcap"), &sb), 0);
	CHECK_EQ(sb.st_size, 24);

	/* refuse to append to something else */
	errno = 0;
	CHECK(kc_pcap_writer_open(path("junk.pcap"), KC_PCAP_W_APPEND, 0, &err) == NULL);
	CHECK_EQ(errno, EBADMSG);
	CHECK(strstr(err.msg, "refusing to append") != NULL);

	/* torn tail: cut 5 bytes off the last record, reopen with repair */
	write_tags("torn.pcap", 0, 0, 3);
	CHECK_EQ(stat(path("torn.pcap"), &sb), 0);
	CHECK_EQ(truncate(path("torn.pcap"), sb.st_size - 5), 0);
	CHECK_EQ(read_tags(path("torn.pcap"), tags, 16, &trunc), 2);
	CHECK(trunc);
	w = kc_pcap_writer_open(path("torn.pcap"), KC_PCAP_W_APPEND | KC_PCAP_W_REPAIR, 0, &err);
	CHECK(w != NULL);
	if (w != NULL) {
		uint8_t pkt[128];
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1, 2, 9);

		kc_pcap_writer_stats(w, &st);
		CHECK_EQ(st.repaired_bytes, 16 + 46 - 5);
		CHECK_EQ(kc_pcap_writer_write(w, 1700000000000000000ull, pkt, (uint32_t)len,
					      (uint32_t)len), 0);
		CHECK_EQ(kc_pcap_writer_close(w), 0);
	}
	CHECK_EQ(read_tags(path("torn.pcap"), tags, 16, &trunc), 3);
	CHECK(tags[0] == 0 && tags[1] == 1 && tags[2] == 9);
	CHECK(!trunc);

	/* torn inside a record header */
	write_tags("torn2.pcap", 0, 0, 2);
	CHECK_EQ(stat(path("torn2.pcap"), &sb), 0);
	CHECK_EQ(truncate(path("torn2.pcap"), sb.st_size - 46 - 9), 0);
	CHECK_EQ(read_tags(path("torn2.pcap"), tags, 16, &trunc), 1);
	CHECK(trunc);
	/* torn header of a new file (crash at create): append restarts it */
	CHECK_EQ(truncate(path("torn2.pcap"), 10), 0);
	w = kc_pcap_writer_open(path("torn2.pcap"), KC_PCAP_W_APPEND, 0, &err);
	CHECK(w != NULL);
	CHECK_EQ(kc_pcap_writer_close(w), 0);
	CHECK_EQ(read_tags(path("torn2.pcap"), tags, 16, &trunc), 0);
}

static void test_merge_order(void)
{
	/* a: 0 3 6 ..., b: 1 4 7 ..., c: 2 5 8 ... plus equal timestamps */
	struct kc_pcap_writer *w[3];
	struct kc_pcap_merge_input in[5] = {
		{ .path = path("m-a.pcap") }, { .path = path("m-b.pcap") },
		{ .path = path("m-c.pcap") }, { .path = path("m-missing.pcap") },
		{ .path = path("junk.pcap") },
	};
	struct kc_pcap_merge_stats st;
	struct kc_err err = { "" };
	uint8_t pkt[128];
	uint32_t tags[64];
	bool trunc;
	struct stat sb;
	int n;

	for (int f = 0; f < 3; f++) {
		w[f] = kc_pcap_writer_open(in[f].path, f == 1 ? KC_PCAP_W_NS : 0, 0, NULL);
		CHECK(w[f] != NULL);
		if (w[f] == NULL)
			return;
	}
	for (uint32_t t = 0; t < 30; t++) {
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, t);
		int f = (int)(t % 3);

		CHECK_EQ(kc_pcap_writer_write(w[f], 1700000000000000000ull + t * 1000000ull, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
	}
	/* a tag on a and one on c at the same time; c's (last in c) is then torn */
	{
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, 101);

		CHECK_EQ(kc_pcap_writer_write(w[2], 1700000000000000000ull + 40000000ull, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
		build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, 100);
		CHECK_EQ(kc_pcap_writer_write(w[0], 1700000000000000000ull + 40000000ull, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
	}
	for (int f = 0; f < 3; f++)
		CHECK_EQ(kc_pcap_writer_close(w[f]), 0);
	/* c's last record torn: tolerated and counted */
	CHECK_EQ(stat(in[2].path, &sb), 0);
	CHECK_EQ(truncate(in[2].path, sb.st_size - 3), 0);

	CHECK_EQ(kc_pcap_merge(in, 5, path("merged.pcap"), NULL, &st, &err), 0);
	CHECK_EQ(st.packets, 31);
	CHECK_EQ(st.truncated_inputs, 1);
	CHECK_EQ(st.failed_inputs, 2);
	CHECK_EQ(in[3].error, -ENOENT);
	CHECK_EQ(in[4].error, -EBADMSG);
	CHECK(in[2].truncated_tail);
	CHECK_EQ(in[0].packets, 11);
	CHECK_EQ(in[1].packets, 10);
	CHECK_EQ(in[2].packets, 10);
	CHECK_EQ(in[0].bytes, 11 * 46);
	CHECK_EQ(in[1].first_ts_ns, 1700000000001000000ull);
	CHECK_EQ(in[1].last_ts_ns, 1700000000028000000ull);
	CHECK_EQ(st.first_ts_ns, 1700000000000000000ull);
	CHECK_EQ(st.last_ts_ns, 1700000000040000000ull);
	CHECK_EQ(stat(path("merged.pcap"), &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	CHECK_EQ(st.bytes_out, sb.st_size);
	CHECK(access(path("merged.pcap.tmp"), F_OK) != 0);
	n = read_tags(path("merged.pcap"), tags, 64, &trunc);
	CHECK_EQ(n, 31);
	for (int i = 0; i < 30 && i < n; i++)
		CHECK_EQ(tags[i], i);
	CHECK_EQ(tags[30], 100);
	/* auto resolution: one input was ns -> ns output */
	{
		struct kc_pcap_reader *r = kc_pcap_reader_open(path("merged.pcap"), NULL);

		CHECK(r != NULL && kc_pcap_reader_is_ns(r));
		kc_pcap_reader_close(r);
	}
	/* equal timestamps keep input order: d's tag 1007 has b's tag 7 time */
	{
		struct kc_pcap_writer *wd = kc_pcap_writer_open(path("m-d.pcap"), 0, 0, NULL);
		size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1000, 53, 1007);
		struct kc_pcap_merge_input in2[2] = {
			{ .path = path("m-b.pcap") }, { .path = path("m-d.pcap") },
		};
		struct kc_pcap_merge_opts o = { .tsres = KC_PCAP_TS_US };

		CHECK(wd != NULL);
		if (wd == NULL)
			return;
		CHECK_EQ(kc_pcap_writer_write(wd, 1700000000007000000ull, pkt, (uint32_t)len,
					      (uint32_t)len), 0);
		CHECK_EQ(kc_pcap_writer_close(wd), 0);
		CHECK_EQ(kc_pcap_merge(in2, 2, path("merged2.pcap"), &o, &st, &err), 0);
		n = read_tags(path("merged2.pcap"), tags, 64, &trunc);
		CHECK_EQ(n, 11);
		CHECK(tags[0] == 1 && tags[1] == 4 && tags[2] == 7 && tags[3] == 1007 &&
		      tags[4] == 10);
		in2[0].path = path("m-d.pcap");
		in2[1].path = path("m-b.pcap");
		CHECK_EQ(kc_pcap_merge(in2, 2, path("merged2.pcap"), &o, &st, &err), 0);
		n = read_tags(path("merged2.pcap"), tags, 64, &trunc);
		CHECK_EQ(n, 11);
		CHECK(tags[2] == 1007 && tags[3] == 7);
	}
	/* output path in a missing directory: error, nothing left behind */
	CHECK(kc_pcap_merge(in, 3, path("nodir/out.pcap"), NULL, NULL, &err) == -ENOENT);
	/* empty merge: a valid empty capture */
	CHECK_EQ(kc_pcap_merge(NULL, 0, path("empty.pcap"), NULL, &st, &err), 0);
	CHECK_EQ(read_tags(path("empty.pcap"), tags, 64, &trunc), 0);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 3; /* ., .., the DIR's own fd */
}

static void test_merge_many(void)
{
	enum { N = 60 };
	struct kc_pcap_merge_input in[N];
	char names[N][32];
	struct kc_pcap_merge_opts o = { .max_open = 4 };
	struct kc_pcap_merge_stats st;
	static uint32_t tags[N * 5];
	int base = count_fds(), n;

	memset(in, 0, sizeof(in));
	for (int i = 0; i < N; i++) {
		struct kc_pcap_writer *w;
		uint8_t pkt[128];

		snprintf(names[i], sizeof(names[i]), "many-%02d.pcap", i);
		w = kc_pcap_writer_open(path(names[i]), 0, 0, NULL);
		for (uint32_t k = 0; w != NULL && k < 5; k++) {
			uint32_t tag = k * N + (uint32_t)i; /* global order k, then i */
			size_t len = build_v4(pkt, "10.0.0.1", "10.0.0.2", 1, 2, tag);

			CHECK_EQ(kc_pcap_writer_write(w, 1700000000000000000ull + tag * 1000ull, pkt,
						      (uint32_t)len, (uint32_t)len), 0);
		}
		CHECK_EQ(kc_pcap_writer_close(w), 0);
		in[i].path = strdup(path(names[i]));
	}
	CHECK_EQ(kc_pcap_merge(in, N, path("many.pcap"), &o, &st, NULL), 0);
	CHECK_EQ(count_fds(), base);
	CHECK_EQ(st.packets, N * 5);
	CHECK_EQ(st.failed_inputs, 0);
	n = read_tags(path("many.pcap"), tags, N * 5, NULL);
	CHECK_EQ(n, N * 5);
	for (int i = 0; i < n; i++)
		if (tags[i] != (uint32_t)i) {
			CHECK_EQ(tags[i], i);
			break;
		}
	for (int i = 0; i < N; i++)
		free((char *)in[i].path);
}

static void test_gzip(void)
{
	struct kc_pcap_merge_input in[2] = {
		{ .path = path("m-a.pcap") }, { .path = path("m-b.pcap") },
	};
	struct kc_pcap_merge_opts o = { .gzip = true, .gzip_level = 6, .tsres = KC_PCAP_TS_US };
	struct kc_pcap_merge_stats st;
	struct kc_err err = { "" };
	static uint8_t buf[65536];
	gzFile gz;
	int n;
	struct stat sb;

	CHECK_EQ(kc_pcap_merge(in, 2, path("gz.pcap.gz"), &o, &st, &err), 0);
	CHECK_EQ(st.packets, 21);
	CHECK_EQ(stat(path("gz.pcap.gz"), &sb), 0);
	CHECK_EQ(st.bytes_out, sb.st_size);
	gz = gzopen(path("gz.pcap.gz"), "rb");
	CHECK(gz != NULL);
	if (gz == NULL)
		return;
	CHECK_EQ(gzdirect(gz), 0); /* really compressed */
	n = gzread(gz, buf, sizeof(buf));
	gzclose(gz);
	CHECK_EQ(n, 24 + 21 * (16 + 46));
	{
		uint32_t magic;

		memcpy(&magic, buf, 4);
		CHECK_EQ(magic, 0xa1b2c3d4u);
	}
	if (have_tshark) {
		char cmd[1024], out[64] = "";
		FILE *f;

		snprintf(cmd, sizeof(cmd), "zcat %s | tshark -r - 2>/dev/null | wc -l",
			 path("gz.pcap.gz"));
		f = popen(cmd, "r");
		if (f != NULL) {
			if (fgets(out, sizeof(out), f) == NULL)
				out[0] = 0;
			pclose(f);
		}
		CHECK_EQ(atoi(out), 21);
		snprintf(cmd, sizeof(cmd), "capinfos -c -M %s 2>&1 | grep 'Number of packets'",
			 path("gz.pcap.gz"));
		f = popen(cmd, "r");
		out[0] = 0;
		if (f != NULL) {
			if (fgets(out, sizeof(out), f) == NULL)
				out[0] = 0;
			pclose(f);
		}
		CHECK(strstr(out, "21") != NULL);
	}
}

/* Walk pcapng blocks: each total length must match its trailer. */
static int walk_pcapng(const char *p, int *epbs, int *nrbs)
{
	FILE *f = fopen(p, "rb");
	uint32_t h[2], tail;
	int blocks = 0;

	*epbs = *nrbs = 0;
	if (f == NULL)
		return -1;
	while (fread(h, 4, 2, f) == 2) {
		if (h[1] < 12 || h[1] % 4 || fseek(f, h[1] - 12, SEEK_CUR) != 0 ||
		    fread(&tail, 4, 1, f) != 1 || tail != h[1]) {
			fclose(f);
			return -1;
		}
		if (h[0] == 6)
			(*epbs)++;
		if (h[0] == 4)
			(*nrbs)++;
		blocks++;
	}
	fclose(f);
	return blocks;
}

static void run(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;

	out[0] = 0;
	if (f == NULL)
		return;
	n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	pclose(f);
}

static void test_pcapng(void)
{
	struct kc_pcap_writer *w1 = kc_pcap_writer_open(path("ng-1.pcap"), 0, 0, NULL);
	struct kc_pcap_writer *w2 = kc_pcap_writer_open(path("ng-2.pcap"), KC_PCAP_W_NS, 0, NULL);
	struct kc_pcap_merge_input in[2] = {
		{ .path = path("ng-1.pcap"), .comment = "stream 1: http GET /a matched" },
		{ .path = path("ng-2.pcap"), .comment = "stream 2: dns" },
	};
	struct kc_pcap_name names[2] = {
		{ .family = AF_INET, .name = "alpha.example" },
		{ .family = AF_INET6, .name = "beta6.example" },
	};
	struct kc_pcap_merge_opts o = {
		.format = KC_PCAP_FMT_PCAPNG, .names = names, .n_names = 2,
		.shb_comment = "kflcap snapshot",
	};
	struct kc_pcap_merge_stats st;
	struct kc_err err = { "" };
	uint8_t pkt[128];
	int epbs, nrbs;

	inet_pton(AF_INET, "10.1.1.1", names[0].addr);
	inet_pton(AF_INET6, "2001:db8::1", names[1].addr);
	CHECK(w1 != NULL && w2 != NULL);
	if (w1 == NULL || w2 == NULL)
		return;
	for (uint32_t t = 0; t < 3; t++) {
		size_t len = build_v4(pkt, "10.1.1.1", "10.1.1.2", 40000, 80, t);

		CHECK_EQ(kc_pcap_writer_write(w1, 1700000000000000000ull + t * 2000ull, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
		len = build_v6(pkt, "2001:db8::1", "2001:db8::2", 100 + t);
		CHECK_EQ(kc_pcap_writer_write(w2, 1700000000000000000ull + t * 2000ull + 1001, pkt,
					      (uint32_t)len, (uint32_t)len), 0);
	}
	CHECK_EQ(kc_pcap_writer_close(w1), 0);
	CHECK_EQ(kc_pcap_writer_close(w2), 0);
	CHECK_EQ(kc_pcap_merge(in, 2, path("out.pcapng"), &o, &st, &err), 0);
	CHECK_EQ(st.packets, 6);
	CHECK_EQ(st.names_written, 2);
	CHECK_EQ(walk_pcapng(path("out.pcapng"), &epbs, &nrbs), 1 + 1 + 1 + 6);
	CHECK_EQ(epbs, 6);
	CHECK_EQ(nrbs, 1);
	/* bad family */
	names[1].family = 99;
	CHECK_EQ(kc_pcap_merge(in, 2, path("bad.pcapng"), &o, &st, &err), -EINVAL);
	CHECK(strstr(err.msg, "family 99") != NULL);
	names[1].family = AF_INET6;
	if (have_tshark) {
		char cmd[1024], out[2048];

		snprintf(cmd, sizeof(cmd),
			 "tshark -r %s -T fields -e frame.comment -e frame.time_epoch 2>/dev/null",
			 path("out.pcapng"));
		run(cmd, out, sizeof(out));
		/* ns timestamps preserved; comments only on each stream's first packet */
		CHECK(strcmp(out,
			     "stream 1: http GET /a matched\t1700000000.000000000\n"
			     "stream 2: dns\t1700000000.000001001\n"
			     "\t1700000000.000002000\n"
			     "\t1700000000.000003001\n"
			     "\t1700000000.000004000\n"
			     "\t1700000000.000005001\n") == 0);
		if (failed)
			fprintf(stderr, "tshark said:\n%s", out);
		snprintf(cmd, sizeof(cmd),
			 "tshark -r %s -N n -T fields -e ip.src_host -e ipv6.src_host 2>/dev/null | sort -u",
			 path("out.pcapng"));
		run(cmd, out, sizeof(out));
		CHECK(strstr(out, "alpha.example\t\n") != NULL);
		CHECK(strstr(out, "\tbeta6.example\n") != NULL);
		if (strstr(out, "beta6.example") == NULL)
			fprintf(stderr, "tshark -N n said:\n%s", out);
	}
}

/* A real capture survives split-into-streams + merge byte for byte. */
static int cmp_key(const void *a, const void *b);
static uint64_t *g_ts;

static int cmp_key(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b;

	if (g_ts[i] != g_ts[j])
		return g_ts[i] < g_ts[j] ? -1 : 1;
	if (i % 3 != j % 3)
		return i % 3 - j % 3;
	return i - j;
}

static void test_real_capture(void)
{
	char src[512];
	struct kc_pcap_reader *r;
	struct kc_pcap_rec rec;
	struct kc_pcap_writer *w[3];
	static uint8_t *data[256];
	static uint32_t caplen[256], origlen[256];
	static uint64_t ts[256];
	static int order[256];
	int n = 0;
	struct kc_pcap_merge_input in[3] = {
		{ .path = path("real-0.pcap") }, { .path = path("real-1.pcap") },
		{ .path = path("real-2.pcap") },
	};
	struct kc_pcap_merge_stats st;

	snprintf(src, sizeof(src), "%s/zeek-wikipedia.pcap", datadir);
	r = kc_pcap_reader_open(src, NULL);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	for (int f = 0; f < 3; f++)
		w[f] = kc_pcap_writer_open(in[f].path, 0, 1024, NULL);
	while (n < 256 && kc_pcap_reader_next(r, &rec) == 1) {
		data[n] = malloc(rec.caplen);
		memcpy(data[n], rec.data, rec.caplen);
		caplen[n] = rec.caplen;
		origlen[n] = rec.origlen;
		ts[n] = rec.ts_ns;
		CHECK_EQ(kc_pcap_writer_write(w[n % 3], rec.ts_ns, rec.data, rec.caplen,
					      rec.origlen), 0);
		order[n] = n;
		n++;
	}
	CHECK(!kc_pcap_reader_truncated(r));
	kc_pcap_reader_close(r);
	CHECK_EQ(n, 136);
	for (int f = 0; f < 3; f++)
		CHECK_EQ(kc_pcap_writer_close(w[f]), 0);
	CHECK_EQ(kc_pcap_merge(in, 3, path("real.pcap"), NULL, &st, NULL), 0);
	CHECK_EQ(st.packets, 136);
	g_ts = ts;
	qsort(order, (size_t)n, sizeof(order[0]), cmp_key);
	r = kc_pcap_reader_open(path("real.pcap"), NULL);
	CHECK(r != NULL);
	for (int k = 0; r != NULL && k < n; k++) {
		int i = order[k];

		if (kc_pcap_reader_next(r, &rec) != 1 || rec.ts_ns != ts[i] ||
		    rec.caplen != caplen[i] || rec.origlen != origlen[i] ||
		    memcmp(rec.data, data[i], caplen[i]) != 0) {
			failed++;
			fprintf(stderr, "FAIL: real capture record %d differs\n", k);
			break;
		}
		if (k == n - 1)
			passed++;
	}
	kc_pcap_reader_close(r);
	for (int i = 0; i < n; i++)
		free(data[i]);
	if (have_tshark) {
		char cmd[1024], out[64];

		snprintf(cmd, sizeof(cmd), "tshark -r %s -Y http.request 2>/dev/null | wc -l",
			 path("real.pcap"));
		run(cmd, out, sizeof(out));
		CHECK(atoi(out) > 0);
	}
}

int main(int argc, char **argv)
{
	char cmd[600];

	if (argc > 1)
		datadir = argv[1];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kc-pcapio-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	have_tshark = system("command -v tshark >/dev/null 2>&1 && "
			     "command -v capinfos >/dev/null 2>&1") == 0;
	if (!have_tshark)
		printf("tshark/capinfos not found: external validation skipped\n");
	test_roundtrip(false);
	test_roundtrip(true);
	test_snaplen_and_errors();
	test_append_and_repair();
	test_merge_order();
	test_merge_many();
	test_gzip();
	test_pcapng();
	test_real_capture();
	if (failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	} else {
		fprintf(stderr, "files kept in %s\n", tmpdir);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
