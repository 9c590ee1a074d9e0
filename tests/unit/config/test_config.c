/*
 * Unit tests for lib/config: defaults, file, environment, command line and
 * their precedence, every type's errors (exact messages), unknown keys,
 * derived values, secret masking, and that conf/ and docs/ match the table.
 *
 * argv[1]: source root (to find conf/kflcap.json and docs/configuration.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc_config.h"

static int passed, failed;
static const char *srcroot = ".";
static char tmpdir[128];

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

static char *empty_env[] = { NULL };

static const char *write_file(const char *name, const char *text)
{
	static char p[16][256];
	static int k;
	FILE *f;

	k = (k + 1) % 16;
	if (snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name) >= (int)sizeof(p[k]))
		abort();
	f = fopen(p[k], "w");
	fputs(text, f);
	fclose(f);
	return p[k];
}

static void test_defaults(void)
{
	struct kc_config *c = kc_config_new();
	struct kc_err err = { "" };

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->out_dir, "./kflcap-out");
	CHECK_EQ(c->record_all, false);
	CHECK_STR(c->kfl, "");
	CHECK_EQ(c->retain_seconds, 10);
	CHECK_STR(c->snapshot_cron, "0 */5 * * * *");
	CHECK_EQ(c->snapshot_format, KC_CONFIG_FORMAT_PCAP);
	CHECK_EQ(c->spool_quota_policy, KC_CONFIG_QUOTA_REFUSE_NEW);
	CHECK_EQ(c->ring_size, 4096);
	CHECK_EQ(c->telemetry, true);
	CHECK_STR(c->gcs_endpoint, "https://storage.googleapis.com");
	CHECK_EQ(kc_config_source_of(c, "mbufs"), KC_CONFIG_SRC_DEFAULT);
	CHECK_EQ(kc_config_source_of(c, "nope"), -1);
	CHECK_EQ(kc_config_finish(c, &err), 0);
	/* Relative paths are made absolute from the working directory. */
	{
		char cwd[4096], want[4200];

		CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
		snprintf(want, sizeof(want), "file://%s/kflcap-out/archive", cwd);
		CHECK_STR(c->dest, want);
		snprintf(want, sizeof(want), "%s/kflcap-out/spool", cwd);
		CHECK_STR(c->spool_dir, want);
		snprintf(want, sizeof(want), "%s/kflcap-out", cwd);
		CHECK_STR(c->out_dir, want);
	}
	/* the parsed schedule is the default one: next after 00:00:00 is 00:05:00 */
	CHECK_EQ(kc_cron_next(&c->snapshot_schedule, 1704067200), 1704067200 + 300);
	kc_config_free(c);
	/* every default passes its own checks and every key has help */
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);

		CHECK(k->help != NULL && k->help[0] != '\0');
		CHECK(kc_config_key_find(k->name) == k);
	}
	CHECK(kc_config_key_at(kc_config_key_count()) == NULL);
}

static void test_file_env_cli(void)
{
	const char *p = write_file("a.json",
		"{\n"
		"  \"_comment\": \"ignored\",\n"
		"  \"out_dir\": \"/var/lib/kflcap\",\n"
		"  \"mbufs\": 131071,\n"
		"  \"record_all\": true,\n"
		"  \"kfl\": \"http\",\n"
		"  \"snapshot_format\": \"pcapng\",\n"
		"  \"ring_size\": 8192,\n"
		"  \"retain_seconds\": 20\n"
		"}\n");
	char *env[] = {
		"PATH=/usr/bin", "KFLCAP_MBUFS=8191", "RECORDING_KFL=dns", "GCS_BUCKET=my-bucket",
		"KFLCAP_SNAPSHOT_GZIP=yes", "KFLCAP_CONFIG=/ignored.json", NULL,
	};
	char *env2[] = { "RECORDING_KFL=dns", "KFLCAP_KFL=tls", NULL };
	struct kc_err err = { "" };
	struct kc_config *c = kc_config_load(p, empty_env, &err);

	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	CHECK_STR(c->out_dir, "/var/lib/kflcap");
	CHECK_EQ(c->mbufs, 131071);
	CHECK_EQ(c->record_all, true);
	CHECK_EQ(c->snapshot_format, KC_CONFIG_FORMAT_PCAPNG);
	CHECK_EQ(c->ring_size, 8192);
	CHECK_EQ(kc_config_source_of(c, "mbufs"), KC_CONFIG_SRC_FILE);
	CHECK_EQ(kc_config_source_of(c, "rxq"), KC_CONFIG_SRC_DEFAULT);
	kc_config_free(c);

	c = kc_config_load(p, env, &err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_EQ(c->mbufs, 8191);                 /* env over file */
	CHECK_STR(c->kfl, "dns");                 /* seed name over file */
	CHECK_STR(c->gcs_bucket, "my-bucket");
	CHECK_EQ(c->snapshot_gzip, true);
	CHECK_EQ(c->retain_seconds, 20);          /* file over default */
	CHECK_EQ(kc_config_source_of(c, "mbufs"), KC_CONFIG_SRC_ENV);
	/* command line over env */
	CHECK_EQ(kc_config_set(c, "mbufs", "2047", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(c->mbufs, 2047);
	CHECK_EQ(kc_config_source_of(c, "mbufs"), KC_CONFIG_SRC_CLI);
	/* order does not matter: a later env or file load does not beat CLI */
	CHECK_EQ(kc_config_load_env(c, env, &err), 0);
	CHECK_EQ(c->mbufs, 2047);
	CHECK_EQ(kc_config_load_file(c, p, &err), 0);
	CHECK_EQ(c->mbufs, 2047);
	CHECK_STR(c->kfl, "dns");
	/* CLI applied before env still wins */
	CHECK_EQ(kc_config_set(c, "retain_seconds", "5", KC_CONFIG_SRC_CLI, &err), 0);
	{
		char *env3[] = { "KFLCAP_RETAIN_SECONDS=7", NULL };

		CHECK_EQ(kc_config_load_env(c, env3, &err), 0);
		CHECK_EQ(c->retain_seconds, 5);
	}
	/* the KFLCAP_ name beats the seed name */
	CHECK_EQ(kc_config_load_env(c, env2, &err), 0);
	CHECK_STR(c->kfl, "tls");
	/* empty RECORDING_KFL = record nothing */
	{
		char *env4[] = { "RECORDING_KFL=", NULL };
		struct kc_config *d = kc_config_load(p, env4, &err);

		CHECK(d != NULL && strcmp(d->kfl, "") == 0);
		kc_config_free(d);
	}
	/* finish: gcs_bucket -> gs:// dest, which then needs a key */
	CHECK_EQ(kc_config_finish(c, &err), -EINVAL);
	CHECK_STR(err.msg, "key 'dest' is gs://my-bucket: key 'gcs_sa_key_json' "
		  "(env GCS_SA_KEY_JSON) is required");
	CHECK_EQ(kc_config_set(c, "gcs_sa_key_json", "{\"type\":\"service_account\"}",
			       KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_finish(c, &err), 0);
	CHECK_STR(c->dest, "gs://my-bucket");
	CHECK_STR(c->spool_dir, "/var/lib/kflcap/spool");
	kc_config_free(c);
}

static void expect_set(const char *key, const char *value, int rc, const char *msg)
{
	struct kc_config *c = kc_config_new();
	struct kc_err err = { "" };

	CHECK_EQ(kc_config_set(c, key, value, KC_CONFIG_SRC_CLI, &err), rc);
	CHECK_STR(err.msg, msg);
	kc_config_free(c);
}

static void expect_json(const char *json, int rc, const char *msg)
{
	struct kc_config *c = kc_config_new();
	struct kc_err err = { "" };

	CHECK_EQ(kc_config_load_json(c, json, strlen(json), "t.json", &err), rc);
	CHECK_STR(err.msg, msg);
	kc_config_free(c);
}

static void test_errors(void)
{
	static char longv[5000];
	struct kc_err err = { "" };
	struct kc_config *c;

	expect_set("mbufs", "abc", -EINVAL,
		   "command line: key 'mbufs': value 'abc': not an unsigned decimal integer");
	expect_set("mbufs", "-5", -EINVAL,
		   "command line: key 'mbufs': value '-5': not an unsigned decimal integer");
	expect_set("mbufs", "10", -ERANGE,
		   "command line: key 'mbufs': value '10': out of range [1023, 16777216]");
	expect_set("retain_max_mbuf_share_pct", "95", -ERANGE,
		   "command line: key 'retain_max_mbuf_share_pct': value '95': out of range [1, 90]");
	expect_set("ring_size", "1000", -EINVAL,
		   "command line: key 'ring_size': value '1000': not a power of two");
	expect_set("ring_size", "32", -ERANGE,
		   "command line: key 'ring_size': value '32': out of range [64, 16777216]");
	expect_set("record_all", "maybe", -EINVAL,
		   "command line: key 'record_all': value 'maybe': not a boolean "
		   "(true/false, 1/0, yes/no, on/off)");
	expect_set("snapshot_format", "pcapx", -EINVAL,
		   "command line: key 'snapshot_format': value 'pcapx': must be one of pcap, pcapng");
	expect_set("spool_quota_policy", "drop-newest", -EINVAL,
		   "command line: key 'spool_quota_policy': value 'drop-newest': must be one of "
		   "refuse-new, drop-oldest");
	expect_set("snapshot_cron", "0 61 * * * *", -EINVAL,
		   "command line: key 'snapshot_cron': value '0 61 * * * *': cron: field 'minute': "
		   "bad token '61' (allowed 0-59)");
	expect_set("dest", "ftp://x", -EINVAL,
		   "command line: key 'dest': value 'ftp://x': scheme must be file://, gs:// or s3://");
	expect_set("dest", "gs://", -EINVAL,
		   "command line: key 'dest': value 'gs://': needs a bucket name");
	expect_set("dest", "s3://Bad_Bucket", -EINVAL,
		   "command line: key 'dest': value 's3://Bad_Bucket': bucket names use a-z 0-9 - . _");
	expect_set("out_dir", "", -EINVAL,
		   "command line: key 'out_dir': value '': must not be empty");
	expect_set("bogus", "1", -EINVAL, "command line: unknown key 'bogus'");
	memset(longv, 'a', sizeof(longv) - 1);
	expect_set("out_dir", longv, -ERANGE,
		   "command line: key 'out_dir': value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': "
		   "longer than 4096 bytes");
	/* valid values of each type */
	c = kc_config_new();
	CHECK_EQ(kc_config_set(c, "record_all", "ON", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(c->record_all, true);
	CHECK_EQ(kc_config_set(c, "record_all", "0", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(c->record_all, false);
	CHECK_EQ(kc_config_set(c, "ring_size", "65536", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(c->ring_size, 65536);
	CHECK_EQ(kc_config_set(c, "spool_quota_policy", "drop-oldest", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(c->spool_quota_policy, KC_CONFIG_QUOTA_DROP_OLDEST);
	CHECK_EQ(kc_config_set(c, "snapshot_cron", "*/10 * * * * *", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_set(c, "dest", "s3://snaps/prefix/a", KC_CONFIG_SRC_CLI, &err), 0);
	/* a rejected value leaves the old one */
	CHECK_EQ(kc_config_set(c, "ring_size", "3", KC_CONFIG_SRC_CLI, &err), -ERANGE);
	CHECK_EQ(c->ring_size, 65536);
	/* s3 needs keys */
	CHECK_EQ(kc_config_finish(c, &err), -EINVAL);
	CHECK_STR(err.msg, "key 'dest' is s3://snaps/prefix/a: keys 's3_access_key' and "
		  "'s3_secret_key' (env AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are required");
	CHECK_EQ(kc_config_set(c, "dest", "file:///tmp/x", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_set(c, "upload_backoff_base_ms", "5000", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_set(c, "upload_backoff_max_ms", "100", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_finish(c, &err), -EINVAL);
	CHECK_STR(err.msg, "keys 'upload_backoff_base_ms' (5000) and 'upload_backoff_max_ms' "
		  "(100): base must not exceed max");
	kc_config_free(c);

	/* file: JSON types and syntax */
	expect_json("{\"mbufs\": \"100\"}", -EINVAL,
		    "config file t.json: key 'mbufs': expected a non-negative integer, got a string");
	expect_json("{\"mbufs\": -1}", -EINVAL,
		    "config file t.json: key 'mbufs': value -1: not a non-negative integer");
	expect_json("{\"mbufs\": 2047.5}", -EINVAL,
		    "config file t.json: key 'mbufs': value 2047.5: not a non-negative integer");
	expect_json("{\"mbufs\": 100}", -ERANGE,
		    "config file t.json: key 'mbufs': value '100': out of range [1023, 16777216]");
	expect_json("{\"record_all\": 1}", -EINVAL,
		    "config file t.json: key 'record_all': expected true or false, got a number");
	expect_json("{\"out_dir\": null}", -EINVAL,
		    "config file t.json: key 'out_dir': expected a string, got null");
	expect_json("{\"kfl\": [\"http\"]}", -EINVAL,
		    "config file t.json: key 'kfl': expected a string, got an array");
	expect_json("{\"bogus\": 1}", -EINVAL, "config file t.json: unknown key 'bogus'");
	expect_json("[1, 2]", -EINVAL, "config file t.json: top level must be a JSON object");
	expect_json("{\n\"mbufs\": 2047,\n\"kfl\": \"x\" oops\n}", -EINVAL,
		    "config file t.json: JSON syntax error near line 3");
	/* file errors */
	c = kc_config_new();
	CHECK_EQ(kc_config_load_file(c, "/nonexistent/k.json", &err), -ENOENT);
	CHECK_STR(err.msg, "config file /nonexistent/k.json: No such file or directory");
	kc_config_free(c);
	errno = 0;
	CHECK(kc_config_load("/nonexistent/k.json", empty_env, &err) == NULL);
	CHECK_EQ(errno, ENOENT);
	/* environment errors */
	{
		char *e1[] = { "KFLCAP_RETAIN_SECONDS=abc", NULL };
		char *e2[] = { "KFLCAP_BOGUS=1", NULL };
		char *e3[] = { "KFLCAP_MBUFS=", NULL };

		CHECK(kc_config_load(NULL, e1, &err) == NULL);
		CHECK_STR(err.msg, "environment KFLCAP_RETAIN_SECONDS: key 'retain_seconds': "
			  "value 'abc': not an unsigned decimal integer");
		CHECK(kc_config_load(NULL, e2, &err) == NULL);
		CHECK_STR(err.msg, "environment: unknown variable KFLCAP_BOGUS");
		CHECK(kc_config_load(NULL, e3, &err) == NULL);
		CHECK_STR(err.msg, "environment KFLCAP_MBUFS: key 'mbufs': value '': not an "
			  "unsigned decimal integer");
	}
}

static char *print_to_string(const struct kc_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(kc_config_print(c, f), 0);
	fclose(f);
	return buf;
}

static void test_secrets(void)
{
	const char *keyfile = write_file("sa.json", "{\"private_key\": \"PRIVKEYFROMFILE\"}");
	char *env[] = {
		"AWS_SECRET_ACCESS_KEY=SuperSecret123", "AWS_ACCESS_KEY_ID=AKIDPUBLIC",
		"GCS_SA_KEY_JSON={\"private_key\": \"PRIVKEYMATERIAL\"}", NULL,
	};
	struct kc_err err = { "" };
	struct kc_config *c = kc_config_load(NULL, env, &err);
	char *out, *key = NULL;

	CHECK(c != NULL);
	if (c == NULL)
		return;
	out = print_to_string(c);
	CHECK(strstr(out, "SuperSecret123") == NULL);
	CHECK(strstr(out, "PRIVKEYMATERIAL") == NULL);
	CHECK(strstr(out, "\"s3_secret_key\":\t\"***\"") != NULL);
	CHECK(strstr(out, "\"gcs_sa_key_json\":\t\"***\"") != NULL);
	CHECK(strstr(out, "\"s3_access_key\":\t\"AKIDPUBLIC\"") != NULL);
	CHECK(strstr(out, "\"snapshot_cron\":\t\"0 */5 * * * *\"") != NULL);
	CHECK(strstr(out, "\"mbufs\":\t65535") != NULL);
	CHECK(strstr(out, "\"telemetry\":\ttrue") != NULL);
	free(out);
	CHECK_EQ(kc_config_gcs_key(c, &key, &err), 0);
	CHECK_STR(key, "{\"private_key\": \"PRIVKEYMATERIAL\"}");
	free(key);
	/* secrets never appear in error messages */
	CHECK_EQ(kc_config_set(c, "s3_secret_key", "", KC_CONFIG_SRC_CLI, &err), 0);
	{
		static char big[2000];

		memset(big, 'S', sizeof(big) - 1);
		CHECK_EQ(kc_config_set(c, "s3_secret_key", big, KC_CONFIG_SRC_CLI, &err), -ERANGE);
		CHECK_STR(err.msg, "command line: key 's3_secret_key': value ***: longer than 1024 bytes");
	}
	CHECK_EQ(kc_config_set(c, "gcs_sa_key_json", "/nonexistent/SECRETPATH.json",
			       KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_set(c, "dest", "gs://b", KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_finish(c, &err), -EINVAL);
	CHECK_STR(err.msg, "key 'gcs_sa_key_json': value '***': neither inline JSON nor a readable file");
	CHECK(strstr(err.msg, "SECRETPATH") == NULL);
	/* unset secret prints as "" */
	out = print_to_string(c);
	CHECK(strstr(out, "\"s3_secret_key\":\t\"\"") != NULL);
	CHECK(strstr(out, "SECRETPATH") == NULL);
	free(out);
	/* key from a file */
	CHECK_EQ(kc_config_set(c, "gcs_sa_key_json", keyfile, KC_CONFIG_SRC_CLI, &err), 0);
	CHECK_EQ(kc_config_finish(c, &err), 0);
	CHECK_EQ(kc_config_gcs_key(c, &key, &err), 0);
	CHECK_STR(key, "{\"private_key\": \"PRIVKEYFROMFILE\"}");
	free(key);
	kc_config_free(c);
}

/* print -> load -> print gives the same text (for a config without secrets) */
static void test_print_roundtrip(void)
{
	struct kc_config *a = kc_config_new(), *b = kc_config_new();
	struct kc_err err = { "" };
	char *t1, *t2;

	CHECK_EQ(kc_config_set(a, "kfl", "http and request.path == \"/x\"", KC_CONFIG_SRC_CLI,
			       &err), 0);
	CHECK_EQ(kc_config_set(a, "spool_quota_bytes", "5000000000000", KC_CONFIG_SRC_CLI, &err), 0);
	t1 = print_to_string(a);
	CHECK_EQ(kc_config_load_json(b, t1, strlen(t1), "printed", &err), 0);
	t2 = print_to_string(b);
	CHECK_STR(t2, t1);
	CHECK_EQ(b->spool_quota_bytes, 5000000000000ull);
	free(t1);
	free(t2);
	kc_config_free(a);
	kc_config_free(b);
}

/* The shipped example loads, and the docs list every key and its env name. */
static void test_shipped_files(void)
{
	char p[512];
	struct kc_err err = { "" };
	struct kc_config *c;
	FILE *f;
	static char doc[256 * 1024];
	size_t n;

	snprintf(p, sizeof(p), "%s/conf/kflcap.json", srcroot);
	c = kc_config_load(p, empty_env, &err);
	CHECK(c != NULL);
	if (c == NULL)
		fprintf(stderr, "conf/kflcap.json: %s\n", err.msg);
	else
		CHECK_EQ(kc_config_finish(c, &err), 0);
	kc_config_free(c);
	snprintf(p, sizeof(p), "%s/docs/configuration.md", srcroot);
	f = fopen(p, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = 0;
	fclose(f);
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);
		char want[160], env[100];
		size_t j;

		snprintf(want, sizeof(want), "| `%s` |", k->name);
		for (j = 0; k->name[j] && j + 1 < sizeof(env); j++)
			env[j] = (char)(k->name[j] >= 'a' && k->name[j] <= 'z' ? k->name[j] - 32
									      : k->name[j]);
		env[j] = 0;
		if (strstr(doc, want) == NULL) {
			failed++;
			fprintf(stderr, "FAIL: docs/configuration.md lacks a row for %s\n", k->name);
		} else {
			/* | `name` | type | `default` | ...: the default column matches */
			const char *row = strstr(doc, want) + strlen(want);
			const char *cell = strchr(row, '|');
			char def[128];

			snprintf(def, sizeof(def), k->def[0] ? " `%s` |" : " \"\" |", k->def);
			if (cell == NULL || strncmp(cell + 1, def, strlen(def)) != 0) {
				failed++;
				fprintf(stderr, "FAIL: docs/configuration.md: default of %s is not%s\n",
					k->name, def);
			} else {
				passed++;
			}
		}
		snprintf(want, sizeof(want), "`KFLCAP_%s`", env);
		CHECK(strstr(doc, want) != NULL);
		if (k->seed_env) {
			snprintf(want, sizeof(want), "`%s`", k->seed_env);
			CHECK(strstr(doc, want) != NULL);
		}
	}
}

int main(int argc, char **argv)
{
	char cmd[200];

	if (argc > 1)
		srcroot = argv[1];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kc-config-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_defaults();
	test_file_env_cli();
	test_errors();
	test_secrets();
	test_print_roundtrip();
	test_shipped_files();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
