/* The key table: one row per option. Adding an option = a field in struct
 * kc_config + one row here + a line in docs/configuration.md. */
#include <stddef.h>
#include <string.h>

#include "config_internal.h"

static const char *const formats[] = { "pcap", "pcapng", NULL };
static const char *const quota_policies[] = { "refuse-new", "drop-oldest", NULL };

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)
#define STR_MAX 4096
#define SECRET_MAX (64 * 1024)

#define ROW(n, t, d, lo, hi, env, sec, ch, h) \
	{ #n, KC_CFG_##t, d, lo, hi, env, sec, offsetof(struct kc_config, n), ch, h }

static const struct kc_config_key keys[] = {
	ROW(out_dir, STRING, "./kflcap-out", 1, STR_MAX, NULL, false, NULL,
	    "output root: live/, rotating/, spool/ live below it"),
	ROW(record_all, BOOL, "false", 0, 0, NULL, false, NULL,
	    "record every stream, ignoring kfl"),
	ROW(kfl, STRING, "", 0, STR_MAX, "RECORDING_KFL", false, NULL,
	    "KFL filter: a stream is recorded when one of its items matches; empty = none"),
	ROW(items_log, STRING, "", 0, STR_MAX, NULL, false, NULL,
	    "path of a JSON-lines log of matched items; empty = off"),
	ROW(rxq, U64, "0", 0, 1024, NULL, false, NULL,
	    "RX queues (= worker lcores); 0 = one per worker lcore"),
	ROW(mbufs, U64, "65535", 1023, 16 * MIB, NULL, false, NULL,
	    "mbufs in the packet pool (2^n - 1 is optimal)"),
	ROW(mbuf_cache, U64, "256", 0, 512, NULL, false, NULL,
	    "per-lcore mempool cache size"),
	ROW(ring_size, POW2, "4096", 64, 16 * MIB, NULL, false, NULL,
	    "entries of each worker-to-management ring (power of two)"),
	ROW(flow_table_size, U64, "262144", 1024, 64 * MIB, NULL, false, NULL,
	    "flow entries per worker"),
	ROW(flow_timeout_tcp_syn_s, U64, "30", 1, 86400, NULL, false, NULL,
	    "idle timeout of a TCP flow not yet established"),
	ROW(flow_timeout_tcp_established_s, U64, "600", 1, 7 * 86400, NULL, false, NULL,
	    "idle timeout of an established TCP flow"),
	ROW(flow_timeout_tcp_closed_s, U64, "10", 1, 3600, NULL, false, NULL,
	    "time a closed TCP flow lingers for late packets"),
	ROW(flow_timeout_udp_s, U64, "60", 1, 86400, NULL, false, NULL,
	    "idle timeout of a UDP flow"),
	ROW(max_open_files, U64, "512", 16, 1 * MIB, NULL, false, NULL,
	    "stream files the writer keeps open; the least recent is closed beyond"),
	ROW(retain_seconds, U64, "10", 0, 3600, NULL, false, NULL,
	    "how long a live stream keeps its recent packets before a match"),
	ROW(retain_max_packets_per_stream, U64, "1000", 1, 16 * MIB, NULL, false, NULL,
	    "retained packets per stream (more are evicted, stream marked truncated)"),
	ROW(retain_max_bytes_per_stream, U64, "1048576", 1500, 4 * GIB, NULL, false, NULL,
	    "retained bytes per stream"),
	ROW(retain_max_mbuf_share_pct, U64, "50", 1, 90, NULL, false, NULL,
	    "share of the mbuf pool retained packets may hold, percent"),
	ROW(snapshot_cron, CRON, KC_CRON_DEFAULT, 0, 255, NULL, false, NULL,
	    "snapshot schedule, cron with seconds: sec min hour dom month dow"),
	ROW(snapshot_cron_local, BOOL, "false", 0, 0, NULL, false, NULL,
	    "evaluate snapshot_cron in local time (TZ) instead of UTC"),
	ROW(snapshot_gzip, BOOL, "false", 0, 0, NULL, false, NULL,
	    "gzip the merged snapshot capture (.pcap.gz / .pcapng.gz)"),
	ROW(snapshot_format, ENUM, "pcap", 0, 0, NULL, false, formats,
	    "merged capture format: pcap or pcapng (with names and stream comments)"),
	ROW(spool_dir, STRING, "", 0, STR_MAX, NULL, false, NULL,
	    "spool directory; empty = <out_dir>/spool"),
	ROW(spool_quota_bytes, U64, "10737418240", 1 * MIB, 1024 * TIB, NULL, false, NULL,
	    "bytes the spool may hold"),
	ROW(spool_quota_policy, ENUM, "refuse-new", 0, 0, NULL, false, quota_policies,
	    "when the spool is full: refuse-new or drop-oldest (both counted)"),
	ROW(dest, URL, "", 0, STR_MAX, NULL, false, NULL,
	    "destination: file://DIR, gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX]; "
	    "empty = gs://<gcs_bucket> if set, else file://<out_dir>/archive"),
	ROW(gcs_bucket, STRING, "", 0, 222, "GCS_BUCKET", false, NULL,
	    "GCS bucket (seed name GCS_BUCKET); used when dest is empty"),
	ROW(gcs_sa_key_json, STRING, "", 0, SECRET_MAX, "GCS_SA_KEY_JSON", true, NULL,
	    "GCS service-account key: inline JSON or a file path (secret)"),
	ROW(gcs_endpoint, STRING, "https://storage.googleapis.com", 1, STR_MAX, NULL, false, NULL,
	    "GCS JSON API base URL (tests point it at a local emulator)"),
	ROW(ca_file, STRING, "", 0, STR_MAX, NULL, false, NULL,
	    "CA bundle for TLS to storage; empty = system default"),
	ROW(s3_endpoint, STRING, "", 0, STR_MAX, NULL, false, NULL,
	    "S3 endpoint URL; empty = https://s3.<s3_region>.amazonaws.com"),
	ROW(s3_region, STRING, "us-east-1", 1, 64, "AWS_REGION", false, NULL,
	    "S3 region used in SigV4 signing"),
	ROW(s3_path_style, BOOL, "false", 0, 0, NULL, false, NULL,
	    "path-style S3 URLs (http://host/BUCKET/KEY) instead of virtual-host"),
	ROW(s3_access_key, STRING, "", 0, 256, "AWS_ACCESS_KEY_ID", false, NULL,
	    "S3 access key id"),
	ROW(s3_secret_key, STRING, "", 0, 1024, "AWS_SECRET_ACCESS_KEY", true, NULL,
	    "S3 secret access key (secret)"),
	ROW(s3_multipart_threshold, U64, "67108864", 5 * MIB, 5 * GIB, NULL, false, NULL,
	    "objects at least this large use multipart upload (part size too)"),
	ROW(upload_retry_max, U64, "8", 0, 1000, NULL, false, NULL,
	    "retries of one upload before it waits for the next cycle"),
	ROW(upload_backoff_base_ms, U64, "500", 1, 3600000, NULL, false, NULL,
	    "first retry delay; doubles per retry (with jitter)"),
	ROW(upload_backoff_max_ms, U64, "60000", 1, 3600000, NULL, false, NULL,
	    "retry delay cap"),
	ROW(names_max_entries, U64, "65536", 16, 16 * MIB, NULL, false, NULL,
	    "address-to-name entries kept for name_resolution_history.json"),
	ROW(status_interval_s, U64, "10", 0, 86400, NULL, false, NULL,
	    "seconds between status lines on stdout; 0 = off"),
	ROW(telemetry, BOOL, "true", 0, 0, NULL, false, NULL,
	    "expose counters through DPDK telemetry under /kflcap/"),
};

_Static_assert(KC_ARRAY_SIZE(keys) <= sizeof(((struct kc_config *)0)->src),
	       "struct kc_config src[] too small for the key table");

size_t kc_config_key_count(void)
{
	return KC_ARRAY_SIZE(keys);
}

const struct kc_config_key *kc_config_key_at(size_t i)
{
	return i < KC_ARRAY_SIZE(keys) ? &keys[i] : NULL;
}

const struct kc_config_key *kc_config_key_find(const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

size_t config_key_index(const struct kc_config_key *k)
{
	return (size_t)(k - keys);
}
