/**
 * @file
 * kflcap configuration: one JSON file, overridden by environment variables,
 * overridden by command-line options.
 *
 * Every option is one row of a table (lib/config/keys.c: name, type,
 * default, range, seed environment name, secret flag, offset into struct
 * kc_config); adding a key is a field here plus one row there. Values are
 * typed and range-checked when set; unknown keys are rejected; an error names
 * the source, the key, the value (never a secret's) and the reason.
 *
 * Precedence: default < file < environment < command line. Each key
 * remembers the source that set it; a set from a lower source than the
 * current one is ignored, so the order of calls does not matter.
 *
 * Sources:
 * - File: a JSON object of key/value pairs. Keys starting with '_' are
 *   comments and ignored ("_comment": "..."). Strings are JSON strings,
 *   booleans true/false, integers JSON numbers (non-negative, whole).
 * - Environment: KFLCAP_<KEY IN UPPER CASE> for every key, plus the seed
 *   names RECORDING_KFL, GCS_BUCKET, GCS_SA_KEY_JSON, AWS_ACCESS_KEY_ID,
 *   AWS_SECRET_ACCESS_KEY, AWS_REGION. When both a seed name and the KFLCAP_
 *   name are set, the KFLCAP_ name wins. Any other KFLCAP_* variable is an
 *   error, except KFLCAP_CONFIG (reserved for the application: the file path).
 *   A variable that is set but empty sets the empty string (for
 *   RECORDING_KFL this means "record nothing"); for numbers it is an error.
 * - Command line: the application parses argv and calls kc_config_set()
 *   with KC_CONFIG_SRC_CLI for each option.
 *
 * Lifecycle and reload: kc_config_load() builds a fresh struct from defaults,
 * file and environment; the application applies command-line options with
 * kc_config_set(), then kc_config_finish() for cross-key checks and derived
 * values. On SIGHUP it does the same into a new struct and swaps pointers
 * (RCU-style for readers); kc_config_free() the old one when no reader uses
 * it. A struct kc_config is read-only after kc_config_finish(): any number
 * of threads may read it; building it is single-threaded.
 *
 * Secrets (gcs_sa_key_json, s3_secret_key) never appear in error messages or
 * in kc_config_print() output, and are wiped before their memory is freed.
 */
#ifndef KC_CONFIG_H
#define KC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kc_common.h"
#include "kc_cron.h"

/** Where a value came from, in increasing precedence. */
enum kc_config_source {
	KC_CONFIG_SRC_DEFAULT = 0,
	KC_CONFIG_SRC_FILE = 1,
	KC_CONFIG_SRC_ENV = 2,
	KC_CONFIG_SRC_CLI = 3,
};

enum kc_config_type {
	KC_CFG_STRING, /**< char *, never NULL after load ("" when unset) */
	KC_CFG_BOOL,   /**< bool: true/false (env/CLI: also 1/0, yes/no, on/off) */
	KC_CFG_U64,    /**< uint64_t in [min, max] */
	KC_CFG_POW2,   /**< uint64_t in [min, max], a power of two */
	KC_CFG_ENUM,   /**< int: index into the key's choices */
	KC_CFG_CRON,   /**< char * holding a cron expression that parses */
	KC_CFG_URL,    /**< char *: "" or file://PATH, gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX] */
};

enum kc_config_format {
	KC_CONFIG_FORMAT_PCAP = 0,
	KC_CONFIG_FORMAT_PCAPNG = 1,
};

enum kc_config_quota_policy {
	KC_CONFIG_QUOTA_REFUSE_NEW = 0,  /**< keep the spool, refuse (and count) new snapshots */
	KC_CONFIG_QUOTA_DROP_OLDEST = 1, /**< delete the oldest spool entries (counted) */
};

/** Every option. Field names equal key names. */
struct kc_config {
	/* capture and recording */
	char *out_dir;
	bool record_all;
	char *kfl;
	char *items_log;
	uint64_t rxq;
	uint64_t mbufs;
	uint64_t mbuf_cache;
	uint64_t ring_size;
	uint64_t flow_table_size;
	uint64_t flow_timeout_tcp_syn_s;
	uint64_t flow_timeout_tcp_established_s;
	uint64_t flow_timeout_tcp_closed_s;
	uint64_t flow_timeout_udp_s;
	uint64_t max_open_files;
	uint64_t retain_seconds;
	uint64_t retain_max_packets_per_stream;
	uint64_t retain_max_bytes_per_stream;
	uint64_t retain_max_mbuf_share_pct;
	/* snapshots and spool */
	char *snapshot_cron;
	bool snapshot_cron_local;
	bool snapshot_gzip;
	int snapshot_format;       /**< enum kc_config_format */
	char *spool_dir;           /**< after finish: never "" (default OUT/spool) */
	uint64_t spool_quota_bytes;
	int spool_quota_policy;    /**< enum kc_config_quota_policy */
	/* storage */
	char *dest;                /**< after finish: never "" */
	char *gcs_bucket;
	char *gcs_sa_key_json;     /**< SECRET: inline JSON or a file path */
	char *gcs_endpoint;
	char *ca_file;
	char *s3_endpoint;
	char *s3_region;
	bool s3_path_style;
	char *s3_access_key;
	char *s3_secret_key;       /**< SECRET */
	uint64_t s3_multipart_threshold;
	uint64_t upload_retry_max;
	uint64_t upload_backoff_base_ms;
	uint64_t upload_backoff_max_ms;
	/* names, status */
	uint64_t names_max_entries;
	uint64_t status_interval_s;
	bool telemetry;

	/* derived by kc_config_finish() */
	struct kc_cron snapshot_schedule; /**< parsed snapshot_cron (+ local flag) */

	/* bookkeeping: source of each key, indexed like the key table */
	unsigned char src[64];
};

/** One row of the key table (read-only, static storage). */
struct kc_config_key {
	const char *name;
	enum kc_config_type type;
	const char *def;            /**< default, as text */
	uint64_t min, max;          /**< numbers: range; strings: max length in max */
	const char *seed_env;       /**< extra environment name, or NULL */
	bool secret;
	size_t off;                 /**< offsetof(struct kc_config, field) */
	const char *const *choices; /**< KC_CFG_ENUM: NULL-terminated names */
	const char *help;           /**< one line for --help and docs */
};

/* GCC >= 11 binds constructor and destructor (style.md rule 6); clang 14 does
 * not know the two-argument form. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define KC_CONFIG_MALLOC(dealloc) __attribute__((malloc, malloc(dealloc, 1)))
#else
#define KC_CONFIG_MALLOC(dealloc) __attribute__((malloc))
#endif

void kc_config_free(struct kc_config *cfg);

/** Number of keys, and the i-th key (i < count) in documentation order. */
size_t kc_config_key_count(void);
const struct kc_config_key *kc_config_key_at(size_t i);

/** Look a key up by name. @return the row, or NULL if unknown. */
const struct kc_config_key *kc_config_key_find(const char *name);

/**
 * A struct with every key at its default (source KC_CONFIG_SRC_DEFAULT).
 * @return the config (free with kc_config_free()), or NULL with errno ENOMEM.
 */
struct kc_config *kc_config_new(void) KC_CONFIG_MALLOC(kc_config_free);

/**
 * Defaults, then the JSON file @p path (if not NULL), then the environment
 * @p envp (NULL = the process environment; pass an empty array for none).
 * Does not run kc_config_finish().
 *
 * @return the config, or NULL with errno (EINVAL: bad file content, unknown
 *         key or invalid value; ENOENT/EACCES/...: file unreadable; ENOMEM)
 *         and @p err filled.
 */
struct kc_config *kc_config_load(const char *path, char *const *envp, struct kc_err *err)
	KC_CONFIG_MALLOC(kc_config_free);

/**
 * Apply a JSON file. Keys apply in file order; the first error stops.
 * @return 0, -EINVAL (syntax, not an object, unknown key, wrong JSON type,
 *         invalid value), -EFBIG (file over 1 MiB), -ENOMEM, or the errno of
 *         open/read.
 */
int kc_config_load_file(struct kc_config *cfg, const char *path, struct kc_err *err);

/** Apply a JSON document held in memory; @p origin names it in errors.
 *  Same return values as kc_config_load_file(). */
int kc_config_load_json(struct kc_config *cfg, const char *json, size_t len, const char *origin,
			struct kc_err *err);

/**
 * Apply environment variables (NULL = the process environment).
 * @return 0, -EINVAL (unknown KFLCAP_ variable or invalid value), -ENOMEM.
 */
int kc_config_load_env(struct kc_config *cfg, char *const *envp, struct kc_err *err);

/**
 * Set one key from text, as the command line does.
 *
 * @param key    key name (as in the file).
 * @param value  text value; bools accept true/false/1/0/yes/no/on/off.
 * @param src    the value's source; ignored (return 0, nothing changes) if
 *               lower than the source that set the key already.
 * @return 0, -EINVAL (unknown key; not a number/bool/choice; bad cron or
 *         URL; not a power of two), -ERANGE (outside [min, max]; string too
 *         long), -ENOMEM.
 */
int kc_config_set(struct kc_config *cfg, const char *key, const char *value,
		  enum kc_config_source src, struct kc_err *err);

/**
 * Cross-key checks and derived values, after all sets:
 * dest "" becomes gs://<gcs_bucket> when gcs_bucket is set, else
 * file://<out_dir>/archive; spool_dir "" becomes <out_dir>/spool;
 * snapshot_schedule is parsed; gs:// needs gcs_sa_key_json, s3:// needs both
 * S3 keys; upload_backoff_base_ms <= upload_backoff_max_ms; a gcs_sa_key_json
 * that does not start with '{' must name a readable file.
 * @return 0, -EINVAL (a rule broken; @p err names the keys), -ENOMEM.
 */
int kc_config_finish(struct kc_config *cfg, struct kc_err *err);

/** Source that set @p key, or -1 for an unknown key. */
int kc_config_source_of(const struct kc_config *cfg, const char *key);

/**
 * Print the effective configuration as one JSON object (keys in table
 * order), secrets as "***" when set.
 * @return 0, -ENOMEM, or -EIO (write to @p out failed).
 */
int kc_config_print(const struct kc_config *cfg, FILE *out);

/**
 * The service-account key JSON: gcs_sa_key_json itself when it starts with
 * '{', else the content of the file it names (at most 64 KiB).
 * @param out  receives a malloc'd NUL-terminated copy; caller wipes and frees.
 * @return 0, -ENOENT (key not configured), -EFBIG, -ENOMEM, or the errno of
 *         open/read. Error text never contains the key.
 */
int kc_config_gcs_key(const struct kc_config *cfg, char **out, struct kc_err *err);

/** Name of a source ("default", "file", "env", "cli"). */
const char *kc_config_source_name(enum kc_config_source src);

/** Wipe secrets, free everything. NULL is a no-op. */
void kc_config_free(struct kc_config *cfg);

#endif /* KC_CONFIG_H */
