/*
 * kc-store-tool: drives lib/storage from the command line for the storage
 * tests (and by hand). Not installed.
 *
 *   kc-store-tool upload --spool DIR --dest URL [options]   run the uploader
 *        until the spool is empty; exit 0 empty, 1 entries left (FAILED or
 *        credentials refused), 3 timeout (--timeout-ms)
 *   kc-store-tool fetch --url URL --out DIR [options]        offline fetch
 *   kc-store-tool admit --spool DIR --bytes N [options]      quota check;
 *        exit 0 admitted, 4 refused
 *   kc-store-tool print-config --dest URL [options]          masked config
 *
 * Options: --gcs-key JSON|PATH --gcs-endpoint URL --gcs-chunk N
 *   --s3-endpoint URL --s3-region R --s3-path-style --s3-access-key K
 *   --s3-secret-key S --s3-multipart-threshold N --s3-part-size N
 *   --ca-file F --host H --ip I --run-id R --quota-bytes N
 *   --quota-policy refuse-new|drop-oldest --retry-max N --backoff-base-ms N
 *   --backoff-cap-ms N --rescan-ms N --auth-retry-ms N --timeout-s N --timeout-ms N
 *   --until-empty (upload: keep waiting through credential pauses until the
 *   spool is empty or --timeout-ms passes)
 *   --stop-after-ms N --stop-timeout-ms M (upload: stop the uploader after N
 *   ms with kc_uploader_stop(M) instead of waiting for an empty spool; prints
 *   stop_ms=<time the stop took>; exit 0 spool empty, 1 entries left)
 * Secrets may also come from the environment: KC_GCS_KEY, KC_S3_SECRET_KEY
 * (preferred: argv is visible to other users of the machine).
 * Exit 2: usage or configuration error. Counters go to stdout as
 * "storage.<name>=<value>" lines; log lines to stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "kc_storage.h"

/* wait_idle() once; with --until-empty, again while the uploader is paused on
 * a credential error, until the spool is empty or the deadline passes. */
static int wait_empty(struct kc_uploader *u, uint64_t timeout_ms, bool until_empty, struct kc_err *err)
{
	uint64_t deadline = kc_now_us() + timeout_ms * 1000;
	int rc;

	for (;;) {
		uint64_t now = kc_now_us();
		uint64_t left = timeout_ms == 0 ? 0 : now >= deadline ? 1 : (deadline - now) / 1000 + 1;
		struct timespec pause = { 0, 100 * 1000000 };

		rc = kc_uploader_wait_idle(u, (uint32_t)KC_MIN(left, UINT32_MAX), err);
		if (rc != -EIO || !until_empty || (timeout_ms != 0 && kc_now_us() >= deadline))
			return rc;
		nanosleep(&pause, NULL);
	}
}

static void log_stderr(void *arg, enum kc_store_log_level lvl, const char *msg)
{
	static const char *names[] = { [KC_STORE_LOG_ERR] = "ERR", [KC_STORE_LOG_WARN] = "WARN",
				       [KC_STORE_LOG_INFO] = "INFO" };

	fprintf(stderr, "kc-store-tool: %s: %s\n", names[lvl] ? names[lvl] : "?", msg);
}

static int usage(void)
{
	fprintf(stderr, "usage: kc-store-tool upload|fetch|admit|print-config [options] (see source header)\n");
	return 2;
}

static int setstr(char *dst, size_t n, const char *v, const char *key)
{
	if (strlen(v) >= n) {
		fprintf(stderr, "kc-store-tool: %s: value too long\n", key);
		return -1;
	}
	snprintf(dst, n, "%s", v);
	return 0;
}

static int setnum(uint64_t *dst, const char *v, const char *key)
{
	if (kc_parse_u64(v, 0, UINT64_MAX, dst) != 0) {
		fprintf(stderr, "kc-store-tool: %s=%s: not a number\n", key, v);
		return -1;
	}
	return 0;
}

static void print_stats(const struct kc_store_stats *s)
{
#define P(f) printf("storage." #f "=%llu\n", (unsigned long long)s->f)
	P(entries_uploaded);
	P(files_uploaded);
	P(bytes_uploaded);
	P(requests);
	P(retries);
	P(fail_transient);
	P(fail_permanent);
	P(fail_auth);
	P(fail_integrity);
	P(token_fetches);
	P(sessions_resumed);
	P(already_present);
	P(spool_entries);
	P(spool_bytes);
	P(quota_refused);
	P(quota_dropped);
	P(quota_dropped_bytes);
#undef P
	printf("storage.halted=%d\n", s->halted ? 1 : 0);
}

int main(int argc, char **argv)
{
	static struct kc_store_cfg cfg;
	const char *cmd, *spool = NULL, *url = NULL, *out = NULL, *env;
	uint64_t bytes = 0, timeout_ms = 0, v, stop_after = 0, stop_timeout = 1000;
	struct kc_err err = { "" };
	bool until_empty = false;
	int rc;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	kc_store_cfg_init(&cfg);
	cfg.log = log_stderr;
	if ((env = getenv("KC_GCS_KEY")) != NULL && setstr(cfg.gcs_key, sizeof(cfg.gcs_key), env, "KC_GCS_KEY"))
		return 2;
	if ((env = getenv("KC_S3_SECRET_KEY")) != NULL &&
	    setstr(cfg.s3_secret_key, sizeof(cfg.s3_secret_key), env, "KC_S3_SECRET_KEY"))
		return 2;
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (strcmp(k, "--s3-path-style") == 0) {
			cfg.s3_path_style = true;
			continue;
		}
		if (strcmp(k, "--until-empty") == 0) {
			until_empty = true;
			continue;
		}
		if (val == NULL)
			return usage();
		i++;
		if (strcmp(k, "--spool") == 0)
			spool = val;
		else if (strcmp(k, "--url") == 0)
			url = val;
		else if (strcmp(k, "--out") == 0)
			out = val;
		else if (strcmp(k, "--dest") == 0)
			bad = setstr(cfg.dest, sizeof(cfg.dest), val, k);
		else if (strcmp(k, "--gcs-key") == 0)
			bad = setstr(cfg.gcs_key, sizeof(cfg.gcs_key), val, k);
		else if (strcmp(k, "--gcs-endpoint") == 0)
			bad = setstr(cfg.gcs_endpoint, sizeof(cfg.gcs_endpoint), val, k);
		else if (strcmp(k, "--s3-endpoint") == 0)
			bad = setstr(cfg.s3_endpoint, sizeof(cfg.s3_endpoint), val, k);
		else if (strcmp(k, "--s3-region") == 0)
			bad = setstr(cfg.s3_region, sizeof(cfg.s3_region), val, k);
		else if (strcmp(k, "--s3-access-key") == 0)
			bad = setstr(cfg.s3_access_key, sizeof(cfg.s3_access_key), val, k);
		else if (strcmp(k, "--s3-secret-key") == 0)
			bad = setstr(cfg.s3_secret_key, sizeof(cfg.s3_secret_key), val, k);
		else if (strcmp(k, "--ca-file") == 0)
			bad = setstr(cfg.ca_file, sizeof(cfg.ca_file), val, k);
		else if (strcmp(k, "--host") == 0)
			bad = setstr(cfg.host, sizeof(cfg.host), val, k);
		else if (strcmp(k, "--ip") == 0)
			bad = setstr(cfg.ip, sizeof(cfg.ip), val, k);
		else if (strcmp(k, "--run-id") == 0)
			bad = setstr(cfg.run_id, sizeof(cfg.run_id), val, k);
		else if (strcmp(k, "--quota-policy") == 0) {
			if (strcmp(val, "refuse-new") == 0)
				cfg.quota_policy = KC_STORE_QUOTA_REFUSE_NEW;
			else if (strcmp(val, "drop-oldest") == 0)
				cfg.quota_policy = KC_STORE_QUOTA_DROP_OLDEST;
			else
				bad = -1;
		} else if (strcmp(k, "--bytes") == 0)
			bad = setnum(&bytes, val, k);
		else if (strcmp(k, "--stop-after-ms") == 0)
			bad = setnum(&stop_after, val, k);
		else if (strcmp(k, "--stop-timeout-ms") == 0)
			bad = setnum(&stop_timeout, val, k);
		else if (strcmp(k, "--timeout-ms") == 0)
			bad = setnum(&timeout_ms, val, k);
		else if (strcmp(k, "--quota-bytes") == 0)
			bad = setnum(&cfg.quota_bytes, val, k);
		else if (strcmp(k, "--s3-multipart-threshold") == 0)
			bad = setnum(&cfg.s3_multipart_threshold, val, k);
		else if (strcmp(k, "--s3-part-size") == 0)
			bad = setnum(&cfg.s3_part_size, val, k);
		else if (setnum(&v, val, k) != 0)
			bad = -1;
		else if (v > UINT32_MAX)
			bad = -1;
		else if (strcmp(k, "--gcs-chunk") == 0)
			cfg.gcs_chunk = (uint32_t)v;
		else if (strcmp(k, "--retry-max") == 0)
			cfg.retry_max = (uint32_t)v;
		else if (strcmp(k, "--backoff-base-ms") == 0)
			cfg.backoff_base_ms = (uint32_t)v;
		else if (strcmp(k, "--backoff-cap-ms") == 0)
			cfg.backoff_cap_ms = (uint32_t)v;
		else if (strcmp(k, "--rescan-ms") == 0)
			cfg.rescan_ms = (uint32_t)v;
		else if (strcmp(k, "--auth-retry-ms") == 0)
			cfg.auth_retry_ms = (uint32_t)v;
		else if (strcmp(k, "--timeout-s") == 0)
			cfg.timeout_s = (uint32_t)v;
		else {
			fprintf(stderr, "kc-store-tool: unknown option %s\n", k);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "kc-store-tool: bad value for %s\n", k);
			return 2;
		}
	}
	if (kc_store_global_init() != 0)
		return 2;

	if (strcmp(cmd, "print-config") == 0) {
		char buf[8192];

		kc_store_cfg_print_masked(&cfg, buf, sizeof(buf));
		fputs(buf, stdout);
		rc = kc_store_cfg_validate(&cfg, &err);
		if (rc != 0)
			fprintf(stderr, "kc-store-tool: %s\n", err.msg);
		kc_store_cfg_wipe(&cfg);
		return rc == 0 ? 0 : 2;
	}
	if (strcmp(cmd, "admit") == 0) {
		struct kc_store_stats st = { 0 };

		if (spool == NULL)
			return usage();
		rc = kc_store_spool_admit(spool, &cfg, bytes, &st, &err);
		if (rc != 0)
			fprintf(stderr, "kc-store-tool: %s\n", err.msg);
		print_stats(&st);
		return rc == 0 ? 0 : rc == -ENOSPC ? 4 : 1;
	}
	if (strcmp(cmd, "fetch") == 0) {
		if (url == NULL || out == NULL)
			return usage();
		rc = kc_store_fetch(url, out, &cfg, &err);
		kc_store_cfg_wipe(&cfg);
		if (rc < 0) {
			fprintf(stderr, "kc-store-tool: fetch %s: %s\n", url, err.msg);
			return rc == -EINVAL ? 2 : 1;
		}
		printf("fetched=%d\n", rc);
		return 0;
	}
	if (strcmp(cmd, "upload") == 0) {
		struct kc_uploader *u;
		struct kc_store_stats st;

		if (spool == NULL)
			return usage();
		u = kc_uploader_start(&cfg, spool, &err);
		kc_store_cfg_wipe(&cfg); /* the uploader keeps its own copy */
		if (u == NULL) {
			fprintf(stderr, "kc-store-tool: %s\n", err.msg);
			return 2;
		}
		if (stop_after > 0) {
			struct timespec ts = { (time_t)(stop_after / 1000), (long)(stop_after % 1000) * 1000000 };
			uint64_t t0;

			nanosleep(&ts, NULL);
			kc_uploader_stats(u, &st);
			t0 = kc_now_us();
			rc = kc_uploader_stop(u, (uint32_t)KC_MIN(stop_timeout, UINT32_MAX));
			printf("stop_ms=%llu\n", (unsigned long long)((kc_now_us() - t0) / 1000));
			print_stats(&st);
			return rc == 0 ? 0 : 1;
		}
		rc = wait_empty(u, timeout_ms, until_empty, &err);
		if (rc != 0)
			fprintf(stderr, "kc-store-tool: spool not empty: %s\n", err.msg);
		kc_uploader_stats(u, &st);
		kc_uploader_stop(u, 1000);
		print_stats(&st);
		return rc == 0 ? 0 : rc == -ETIMEDOUT ? 3 : 1;
	}
	return usage();
}
