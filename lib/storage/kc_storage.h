/**
 * @file
 * Durable snapshot spool and its uploader to a local directory (file://),
 * Google Cloud Storage (gs://) or an S3-compatible store (s3://).
 *
 * THE SPOOL UNIT. One spool entry is one directory OUT/spool/<name>/ that
 * holds regular files (e.g. 1700000000.pcap.gz, manifest.json,
 * name_resolution_history.json) and, written LAST, a marker file named READY
 * (KC_STORE_READY). READY lists the entry's files, one name per line, and
 * exactly those are shipped (lib/snapshot writes it so); an empty READY
 * means "every regular, non-hidden file". A READY naming a file that is not
 * there makes the entry FAILED (never ship part of a snapshot). The
 * producer (lib/snapshot) writes each file,
 * fsyncs it, then creates READY, fsyncs it and fsyncs the entry directory;
 * writing the files in a hidden directory OUT/spool/.tmp-<name>/ and renaming
 * it to OUT/spool/<name>/ after READY is the same thing and also fine. The
 * uploader ignores:
 *   - entries without READY (still being written, or torn by a crash),
 *   - names starting with '.' (temporaries, entries being deleted),
 *   - entries holding a FAILED file (a permanent error; the file says why;
 *     delete FAILED to retry, the data stays in the spool).
 * Entries are uploaded oldest first (by name, so names should sort by time:
 * e.g. the snapshot's epoch seconds, zero-padded).
 *
 * Inside an entry the uploader keeps its own hidden sidecar files:
 *   .done.<file>   <file> was confirmed by the destination (size + checksum);
 *   .gcs.<file>    the GCS resumable session URI of <file> (mode 0600: the URI
 *                  alone authorises the upload, it is treated like a token);
 *   .s3.<file>     the S3 multipart UploadId of <file> (aborted on restart).
 * An entry leaves the spool only after every file in it is confirmed: it is
 * renamed to .del-<name> (atomic) and then removed; leftovers of that step are
 * removed at the next start. A crash at any point loses nothing; at worst a
 * file is sent again, and the destination sees it once (GCS uses
 * ifGenerationMatch=0 and compares crc32c/size on 412; S3 and file:// write
 * the same name with the same bytes).
 *
 * OBJECT NAMES: <prefix>/<host>_<ip>_<run-id>/<entry>/<file>, so many
 * recorders can share one bucket and per-snapshot files (manifest.json) never
 * collide (docs/storage.md).
 *
 * THREADS. kc_uploader_start() starts one pthread that owns every network
 * call; nothing here is meant for an lcore. The kc_uploader_* functions may be
 * called from any one control thread (kick and admit from any thread). The
 * other functions are reentrant and keep no global state except libcurl's
 * global init, done once (kc_store_global_init()).
 *
 * SECRETS. The service-account private key, OAuth tokens, S3 secret and GCS
 * session URIs never appear in an error message, a log line or
 * kc_store_cfg_print_masked(); key material is wiped (OPENSSL_cleanse) before
 * it is freed. TLS peers are always verified; ca_file adds a CA bundle for
 * test servers, and http:// is accepted only for an explicitly configured
 * endpoint (an emulator).
 */
#ifndef KC_STORAGE_H
#define KC_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"

#define KC_STORE_READY "READY"   /**< marker written last into a spool entry */
#define KC_STORE_FAILED "FAILED" /**< written by the uploader on a permanent error */

#define KC_STORE_DEFAULT_QUOTA_BYTES (10ull << 30)   /**< 10 GiB of spool */
#define KC_STORE_DEFAULT_RETRY_MAX 8                 /**< attempts per request */
#define KC_STORE_DEFAULT_BACKOFF_BASE_MS 1000        /**< Google: 1 s, doubling */
#define KC_STORE_DEFAULT_BACKOFF_CAP_MS 32000        /**< Google: 32 s cap */
#define KC_STORE_DEFAULT_RESCAN_MS 5000              /**< spool rescan without kick */
#define KC_STORE_DEFAULT_GCS_CHUNK (8u << 20)        /**< 8 MiB, multiple of 256 KiB */
#define KC_STORE_GCS_CHUNK_UNIT (256u << 10)         /**< GCS resumable chunk unit */
#define KC_STORE_DEFAULT_S3_MULTIPART (64ull << 20)  /**< multipart above 64 MiB */
#define KC_STORE_DEFAULT_S3_PART (16ull << 20)       /**< part size */
#define KC_STORE_S3_MIN_PART (5ull << 20)            /**< S3: every part but last >= 5 MiB */
#define KC_STORE_DEFAULT_TIMEOUT_S 60                /**< stalled transfer timeout */

enum kc_store_kind {
	KC_STORE_FILE = 0, /**< file:///DIR: a local (or mounted) directory */
	KC_STORE_GCS,      /**< gs://BUCKET/PREFIX */
	KC_STORE_S3,       /**< s3://BUCKET/PREFIX */
};

/** What to do when a new snapshot would push the spool over its quota. */
enum kc_store_quota_policy {
	KC_STORE_QUOTA_REFUSE_NEW = 0, /**< keep what is spooled, refuse the new one (default) */
	KC_STORE_QUOTA_DROP_OLDEST,    /**< delete the oldest entries until it fits */
};

enum kc_store_log_level { KC_STORE_LOG_ERR = 3, KC_STORE_LOG_WARN = 4, KC_STORE_LOG_INFO = 6 };

/** Log sink for the uploader thread (libraries never print). Called from the
 *  uploader thread; @p msg never holds a secret and is valid during the call. */
typedef void (*kc_store_log_fn)(void *arg, enum kc_store_log_level level, const char *msg);

/**
 * Storage configuration. Fill with kc_store_cfg_init(), set fields, then
 * kc_store_cfg_validate(). Plain arrays so the config module can copy values
 * in; wipe with kc_store_cfg_wipe() when done (it holds secrets).
 */
struct kc_store_cfg {
	char dest[1024];          /**< file:///DIR, gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX] */
	/* GCS */
	char gcs_key[16384];      /**< service-account key: the JSON itself or a path to it */
	char gcs_endpoint[512];   /**< "" = https://storage.googleapis.com; http:// only here */
	uint32_t gcs_chunk;       /**< resumable chunk bytes, multiple of 256 KiB */
	/* S3 */
	char s3_endpoint[512];    /**< "" = https://s3.<region>.amazonaws.com */
	char s3_region[64];       /**< "" = us-east-1 */
	bool s3_path_style;       /**< https://host/BUCKET/KEY instead of BUCKET.host */
	char s3_access_key[128];
	char s3_secret_key[256];  /**< secret */
	char s3_session_token[2048]; /**< optional STS token (secret) */
	uint64_t s3_multipart_threshold; /**< files >= this use multipart */
	uint64_t s3_part_size;    /**< >= 5 MiB */
	/* transport */
	char ca_file[512];        /**< extra CA bundle (CURLOPT_CAINFO), "" = system */
	uint32_t timeout_s;       /**< abort a transfer stalled this long */
	/* spool */
	uint64_t quota_bytes;     /**< spool size limit (>= 1 MiB) */
	enum kc_store_quota_policy quota_policy;
	/* retries: wait min(base * 2^n + rand(0..base), cap) between attempts */
	uint32_t retry_max;       /**< attempts per request before the entry waits for the next pass */
	uint32_t backoff_base_ms;
	uint32_t backoff_cap_ms;
	uint32_t rescan_ms;       /**< rescan the spool this often without a kick */
	uint32_t auth_retry_ms;   /**< after a credential/bucket error, try again after this
	                               (0: 60 s), doubling per failure up to 1 h */
	/* object naming: <prefix>/<host>_<ip>_<run_id>/<entry>/<file> */
	char host[64];
	char ip[64];
	char run_id[64];
	/* logging */
	kc_store_log_fn log;      /**< may be NULL */
	void *log_arg;
};

/** Uploader counters (names storage.<field> in telemetry). */
struct kc_store_stats {
	uint64_t entries_uploaded;  /**< entries confirmed and removed from the spool */
	uint64_t files_uploaded;    /**< files confirmed (incl. found already present) */
	uint64_t bytes_uploaded;    /**< bytes of confirmed files */
	uint64_t requests;          /**< HTTP requests sent (all kinds) */
	uint64_t retries;           /**< requests repeated after a retryable failure */
	uint64_t fail_transient;    /**< uploads given up for this pass (retry budget spent) */
	uint64_t fail_permanent;    /**< entries marked FAILED (4xx, integrity, local I/O) */
	uint64_t fail_auth;         /**< credential failures (uploader halts) */
	uint64_t fail_integrity;    /**< checksum or size mismatch reported or detected */
	uint64_t token_fetches;     /**< OAuth tokens obtained */
	uint64_t sessions_resumed;  /**< GCS sessions continued from a persisted URI or Range */
	uint64_t already_present;   /**< 412 resolved as "same object already there" */
	uint64_t spool_entries;     /**< READY entries currently in the spool */
	uint64_t spool_bytes;       /**< bytes currently in the spool (all entries) */
	uint64_t quota_refused;     /**< new entries refused by refuse-new */
	uint64_t quota_dropped;     /**< entries deleted by drop-oldest */
	uint64_t quota_dropped_bytes;
	bool halted;                /**< paused on a credential/bucket error (retried after auth_retry_ms) */
};

struct kc_uploader;
int kc_uploader_stop(struct kc_uploader *u, uint32_t timeout_ms);

/* GCC >= 11 pairs a constructor with its destructor (clang 14 lacks the
 * two-argument form). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define KC_STORE_UPLOADER_CTOR __attribute__((malloc, malloc(kc_uploader_stop, 1)))
#else
#define KC_STORE_UPLOADER_CTOR
#endif

/** Once per process before any other call (curl_global_init). Thread-unsafe.
 *  @return 0 or -EIO. */
int kc_store_global_init(void);

/** Defaults: dest "" (must be set), quotas/retries from the KC_STORE_DEFAULT_*
 *  constants, quota policy refuse-new, host "localhost", ip "0.0.0.0",
 *  run_id "0". Never fails. */
void kc_store_cfg_init(struct kc_store_cfg *cfg);

/**
 * Check every field (URL form, GCS key fields and PEM, S3 credentials, sizes,
 * http:// rules); names the key and value that are wrong, never a secret.
 * @return 0, or -EINVAL (bad value; @p err says which).
 */
int kc_store_cfg_validate(const struct kc_store_cfg *cfg, struct kc_err *err) kc_must_check;

/**
 * Seed compatibility: GCS_BUCKET and GCS_SA_KEY_JSON (inline JSON or a path)
 * select gs://BUCKET (with an optional /PREFIX in @p bucket). Either may be
 * NULL/empty, in which case @p cfg is left unchanged and 0 returned.
 * @return 0, -EINVAL (only one of the two set, or too long).
 */
int kc_store_cfg_from_seed(struct kc_store_cfg *cfg, const char *gcs_bucket,
			   const char *gcs_sa_key_json, struct kc_err *err) kc_must_check;

/** Print the config as "key=value" lines into @p buf with every secret masked
 *  ("<set>"/"<unset>"; the key shows only client_email). Always NUL-terminates.
 *  @return the length that would have been written (snprintf-like). */
size_t kc_store_cfg_print_masked(const struct kc_store_cfg *cfg, char *buf, size_t n);

/** Wipe the secret fields (OPENSSL_cleanse). */
void kc_store_cfg_wipe(struct kc_store_cfg *cfg);

/**
 * Start the uploader thread on @p spool_dir (created 0700 if missing). It
 * cleans leftovers (.del-*), resumes every READY entry, then waits for kicks.
 * @p cfg is copied (and validated). Thread-safety: call from a control thread.
 * @return the uploader, or NULL with errno EINVAL (bad cfg), ENOMEM, EIO
 *         (spool dir or key unusable) and @p err set.
 */
struct kc_uploader *kc_uploader_start(const struct kc_store_cfg *cfg, const char *spool_dir,
				      struct kc_err *err) KC_STORE_UPLOADER_CTOR;

/** A new entry is READY: wake the thread now (else it rescans every
 *  rescan_ms). Any thread. NULL is ignored. */
void kc_uploader_kick(struct kc_uploader *u);

/**
 * Make room for a new entry of @p bytes before committing it (quota policy).
 * The quota covers the visible entries (complete or not); hidden directories
 * (.tmp-* being built, .del-* being removed) are not counted, so a producer
 * may call this with the exact size of its finished .tmp-<name> directory.
 * refuse-new → -ENOSPC if it does not fit; drop-oldest → delete the oldest
 * entries (never the one being uploaded) until it fits, counted and logged.
 * Any thread. @return 0, -ENOSPC (refused, counted), -EIO (scan failed).
 */
int kc_uploader_admit(struct kc_uploader *u, uint64_t bytes, struct kc_err *err) kc_must_check;

/**
 * Wait until the spool holds no entry the uploader can still send (empty, or
 * only FAILED ones, or the uploader halted). For tools and shutdown.
 * @return 0 spool empty, -EIO entries remain (FAILED or halted; last error in
 *         @p err), -ETIMEDOUT after @p timeout_ms (0 = wait forever).
 */
int kc_uploader_wait_idle(struct kc_uploader *u, uint32_t timeout_ms, struct kc_err *err);

/** Copy the counters (consistent snapshot). Any thread. */
void kc_uploader_stats(struct kc_uploader *u, struct kc_store_stats *out);

/**
 * Stop: keep uploading for up to @p timeout_ms, then abort the transfer in
 * flight (it resumes at the next start), join the thread and free @p u
 * (NULL is fine). What was not sent stays in the spool. The abort is seen
 * by libcurl's progress callback, so it can take up to ~1 s more while a
 * server is silent. Call from the thread that started @p u.
 * @return 0 if the spool was empty when it stopped, -EAGAIN otherwise.
 */
int kc_uploader_stop(struct kc_uploader *u, uint32_t timeout_ms);

/**
 * Quota check without an uploader (same policy as kc_uploader_admit()).
 * @p stats may be NULL; its quota_* counters are incremented.
 * @return 0, -ENOSPC, -EIO.
 */
int kc_store_spool_admit(const char *spool_dir, const struct kc_store_cfg *cfg, uint64_t bytes,
			 struct kc_store_stats *stats, struct kc_err *err) kc_must_check;

/** Count READY entries and the bytes of all visible entries (complete or
 *  not; hidden .tmp-/.del- directories excluded) in @p spool_dir.
 *  @return 0 or -errno. */
int kc_store_spool_usage(const char *spool_dir, uint64_t *entries, uint64_t *bytes);

/**
 * Offline fetch: list every object under @p url (gs://BUCKET/PREFIX,
 * s3://BUCKET/PREFIX or file:///DIR) and download it to @p local_dir, keeping
 * the path below PREFIX (write to temp, verify crc32c / MD5 where the store
 * gives one, rename over any existing file). Names that would leave
 * @p local_dir (absolute, "..", empty parts) are skipped. Blocking; any thread.
 * Credentials and endpoints come from @p cfg (its dest is ignored).
 * @return number of files fetched (>= 0), or -EINVAL (url), -EACCES
 *         (credentials), -EIO (transfer/integrity/local write), -ENOENT (bucket).
 */
int kc_store_fetch(const char *url, const char *local_dir, const struct kc_store_cfg *cfg,
		   struct kc_err *err);

/** CRC32C (Castagnoli, reflected 0x82F63B78). Start with crc = 0; feed the
 *  previous result to continue. "123456789" → 0xE3069283. */
uint32_t kc_store_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* KC_STORAGE_H */
