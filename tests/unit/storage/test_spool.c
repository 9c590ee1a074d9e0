/* The spool and the uploader end to end against a file:// destination:
 * READY gating, hidden/incomplete entries, .done sidecars, FAILED entries,
 * leftovers of an interrupted removal, quota policies, stop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_internal.h"
#include "harness.h"

static char root[256], spool[300], archive[300];
static int log_lines;

static void on_log(void *arg, enum kc_store_log_level lvl, const char *msg)
{
	log_lines++;
}

static void write_file(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "wb");

	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 131 + seed * 7) & 0xff), f);
	fclose(f);
}

static void make_entry(const char *name, bool ready, size_t big)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", spool, name);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/%s/1700000000.pcap.gz", spool, name);
	write_file(p, big, 1);
	snprintf(p, sizeof(p), "%s/%s/manifest.json", spool, name);
	write_file(p, 1234, 2);
	snprintf(p, sizeof(p), "%s/%s/name_resolution_history.json", spool, name);
	write_file(p, 0, 3);
	if (ready) {
		snprintf(p, sizeof(p), "%s/%s/READY", spool, name);
		write_file(p, 0, 0);
	}
}

static bool same_file(const char *a, const char *b)
{
	uint64_t sa, sb;
	uint32_t ca, cb;

	if (kc_file_digests(a, &sa, &ca, NULL, NULL) != 0 || kc_file_digests(b, &sb, &cb, NULL, NULL) != 0)
		return false;
	return sa == sb && ca == cb;
}

/* exists(dir, rel1, rel2): is dir/rel1[/rel2] there? */
static bool exists3(const char *d, const char *a, const char *b)
{
	char p[1024];

	if (b != NULL)
		snprintf(p, sizeof(p), "%s/%s/%s", d, a, b);
	else
		snprintf(p, sizeof(p), "%s/%s", d, a);
	return access(p, F_OK) == 0;
}

static void cfg_for(struct kc_store_cfg *c)
{
	kc_store_cfg_init(c);
	snprintf(c->dest, sizeof(c->dest), "file://%s", archive);
	snprintf(c->host, sizeof(c->host), "rec1");
	snprintf(c->ip, sizeof(c->ip), "10.1.2.3");
	snprintf(c->run_id, sizeof(c->run_id), "r42");
	c->rescan_ms = 50;
	c->backoff_base_ms = 5;
	c->backoff_cap_ms = 20;
	c->log = on_log;
}

static void test_upload(void)
{
	struct kc_store_cfg c;
	struct kc_store_stats st;
	struct kc_err e = { "" };
	struct kc_uploader *u;
	char a[1024], b[1024];
	const char *files[] = { "1700000000.pcap.gz", "manifest.json", "name_resolution_history.json" };

	make_entry("0001", true, 300000);
	make_entry("0002", false, 1000);   /* still being written */
	make_entry(".tmp-0003", true, 10); /* hidden: ignored */
	mkdir(archive, 0700);
	/* Leftover of a removal interrupted by a crash. */
	snprintf(a, sizeof(a), "%s/.del-0000", spool);
	mkdir(a, 0700);
	snprintf(a, sizeof(a), "%s/.del-0000/x", spool);
	write_file(a, 10, 0);

	cfg_for(&c);
	u = kc_uploader_start(&c, spool, &e);
	CHECK(u != NULL);
	if (u == NULL) {
		fprintf(stderr, "start: %s\n", e.msg);
		return;
	}
	CHECK(kc_uploader_wait_idle(u, 10000, &e) == 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "%s/rec1_10.1.2.3_r42/0001/%s", archive, files[i]);
		snprintf(b, sizeof(b), "%s/0001/%s", spool, files[i]);
		CHECK(access(a, F_OK) == 0);
	}
	CHECK(!exists3(spool, "0001", NULL));
	CHECK(exists3(spool, "0002", NULL));
	CHECK(exists3(spool, ".tmp-0003", NULL));
	CHECK(!exists3(spool, ".del-0000", NULL));
	CHECK(!exists3(archive, "rec1_10.1.2.3_r42", "0002"));
	kc_uploader_stats(u, &st);
	CHECK_EQ_U(st.entries_uploaded, 1);
	CHECK_EQ_U(st.files_uploaded, 3);
	CHECK_EQ_U(st.bytes_uploaded, 300000 + 1234);
	CHECK_EQ_U(st.spool_entries, 0);

	/* The producer finishes 0002; a kick sends it. Byte-identical copies. */
	snprintf(a, sizeof(a), "%s/0002/READY", spool);
	write_file(a, 0, 0);
	snprintf(a, sizeof(a), "%s/0002/manifest.json", spool);
	snprintf(b, sizeof(b), "%s/keep-manifest", root);
	{
		char cmd[2100];

		snprintf(cmd, sizeof(cmd), "cp %.1000s %.1000s", a, b);
		CHECK(system(cmd) == 0);
	}
	kc_uploader_kick(u);
	CHECK(kc_uploader_wait_idle(u, 10000, &e) == 0);
	snprintf(a, sizeof(a), "%s/rec1_10.1.2.3_r42/0002/manifest.json", archive);
	CHECK(same_file(a, b));
	CHECK(!exists3(spool, "0002", NULL));

	/* .done sidecar from an earlier run: that file is not sent again. */
	make_entry("0004", true, 10);
	snprintf(a, sizeof(a), "%s/0004/.done.manifest.json", spool);
	write_file(a, 0, 0);
	/* FAILED entry: kept, skipped, reported. */
	make_entry("0005", true, 10);
	snprintf(a, sizeof(a), "%s/0005/FAILED", spool);
	write_file(a, 5, 0);
	kc_uploader_kick(u);
	CHECK(kc_uploader_wait_idle(u, 10000, &e) == -EIO);
	CHECK(!exists3(archive, "rec1_10.1.2.3_r42/0004", "manifest.json"));
	CHECK(exists3(archive, "rec1_10.1.2.3_r42/0004", "1700000000.pcap.gz"));
	CHECK(!exists3(spool, "0004", NULL));
	CHECK(exists3(spool, "0005", NULL));
	kc_uploader_stats(u, &st);
	CHECK_EQ_U(st.entries_uploaded, 3);
	CHECK_EQ_U(st.spool_entries, 1);
	CHECK(log_lines >= 6);
	CHECK(kc_uploader_stop(u, 2000) == -EAGAIN);
	snprintf(a, sizeof(a), "%s/0005/FAILED", spool);
	unlink(a);
	u = kc_uploader_start(&c, spool, &e);
	CHECK(u != NULL && kc_uploader_wait_idle(u, 10000, &e) == 0);
	CHECK(kc_uploader_stop(u, 2000) == 0);
	CHECK(exists3(archive, "rec1_10.1.2.3_r42/0005", "manifest.json"));
}

/* A file name that cannot become an object name: FAILED with the reason,
 * nothing sent, the entry kept. */
static void test_bad_name(void)
{
	struct kc_store_cfg c;
	struct kc_err e = { "" };
	struct kc_uploader *u;
	char p[512], msg[512] = "";
	FILE *f;

	make_entry("0007", true, 10);
	snprintf(p, sizeof(p), "%s/0007/bad\"name", spool);
	write_file(p, 3, 0);
	cfg_for(&c);
	u = kc_uploader_start(&c, spool, &e);
	CHECK(u != NULL);
	if (u == NULL)
		return;
	CHECK(kc_uploader_wait_idle(u, 10000, &e) == -EIO);
	CHECK(kc_uploader_stop(u, 1000) == -EAGAIN);
	snprintf(p, sizeof(p), "%s/0007/FAILED", spool);
	f = fopen(p, "r");
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(fgets(msg, sizeof(msg), f) != NULL);
		fclose(f);
	}
	CHECK(strstr(msg, "reserved character") != NULL);
	CHECK(!exists3(archive, "rec1_10.1.2.3_r42/0007", "bad\"name"));
	snprintf(p, sizeof(p), "rm -rf %s/0007", spool);
	CHECK(system(p) == 0);
}

/* READY lists the files to ship: exactly those go; a listed file that is
 * missing makes the entry FAILED and nothing of it is sent. */
static void test_ready_list(void)
{
	struct kc_store_cfg c;
	struct kc_err e = { "" };
	struct kc_uploader *u;
	char p[512];
	FILE *f;

	make_entry("0008", false, 100);
	snprintf(p, sizeof(p), "%s/0008/extra.tmpfile", spool);
	write_file(p, 7, 0);
	snprintf(p, sizeof(p), "%s/0008/READY", spool);
	f = fopen(p, "w");
	fputs("1700000000.pcap.gz\nmanifest.json\n\nname_resolution_history.json\n", f);
	fclose(f);
	make_entry("0009", false, 100);
	snprintf(p, sizeof(p), "%s/0009/READY", spool);
	f = fopen(p, "w");
	fputs("manifest.json\nmissing.pcap\n", f);
	fclose(f);
	cfg_for(&c);
	u = kc_uploader_start(&c, spool, &e);
	CHECK(u != NULL);
	if (u == NULL)
		return;
	CHECK(kc_uploader_wait_idle(u, 10000, &e) == -EIO);
	CHECK(kc_uploader_stop(u, 1000) == -EAGAIN);
	CHECK(exists3(archive, "rec1_10.1.2.3_r42/0008", "1700000000.pcap.gz"));
	CHECK(exists3(archive, "rec1_10.1.2.3_r42/0008", "name_resolution_history.json"));
	CHECK(!exists3(archive, "rec1_10.1.2.3_r42/0008", "extra.tmpfile"));
	CHECK(!exists3(spool, "0008", NULL));
	CHECK(exists3(spool, "0009", "FAILED"));
	CHECK(!exists3(archive, "rec1_10.1.2.3_r42/0009", "manifest.json"));
	snprintf(p, sizeof(p), "rm -rf %s/0009", spool);
	CHECK(system(p) == 0);
}

static void test_quota(void)
{
	struct kc_store_cfg c;
	struct kc_store_stats st = { 0 };
	struct kc_err e;
	uint64_t n, bytes;

	cfg_for(&c);
	c.quota_bytes = 1 << 20;
	make_entry("q1", true, 400000);
	make_entry("q2", true, 400000);
	make_entry("q3", false, 100000); /* not READY: never dropped */
	CHECK(kc_store_spool_usage(spool, &n, &bytes) == 0);
	CHECK_EQ_U(n, 2);
	/* Visible entries only: the hidden .tmp-0003 is not counted. */
	CHECK_EQ_U(bytes, 900000 + 3 * 1234);
	/* Fits. */
	CHECK(kc_store_spool_admit(spool, &c, 100000, &st, &e) == 0);
	/* refuse-new: nothing deleted, counted, message names the policy. */
	CHECK(kc_store_spool_admit(spool, &c, 300000, &st, &e) == -ENOSPC);
	CHECK(strstr(e.msg, "refuse-new") != NULL);
	CHECK_EQ_U(st.quota_refused, 1);
	CHECK(exists3(spool, "q1", NULL));
	/* drop-oldest: q1 goes, q2 and q3 stay. */
	c.quota_policy = KC_STORE_QUOTA_DROP_OLDEST;
	CHECK(kc_store_spool_admit(spool, &c, 300000, &st, &e) == 0);
	CHECK_EQ_U(st.quota_dropped, 1);
	CHECK_EQ_U(st.quota_dropped_bytes, 400000 + 1234);
	CHECK(!exists3(spool, "q1", NULL));
	CHECK(exists3(spool, "q2", NULL));
	/* Larger than what can be freed (q3 is not droppable): refused. */
	CHECK(kc_store_spool_admit(spool, &c, 1000000, &st, &e) == -ENOSPC);
	CHECK_EQ_U(st.quota_dropped, 2);
	CHECK_EQ_U(st.quota_refused, 2);
	CHECK(exists3(spool, "q3", NULL));
}

int main(void)
{
	char cmd[600];

	snprintf(root, sizeof(root), "/tmp/kc_test_spool_XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(spool, sizeof(spool), "%s/spool", root);
	snprintf(archive, sizeof(archive), "%s/archive", root);
	mkdir(spool, 0700);
	test_upload();
	test_bad_name();
	test_ready_list();
	test_quota();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", root);
	return t_report();
}
