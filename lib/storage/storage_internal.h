/*
 * Private interfaces of lib/storage, shared by its .c files and its unit
 * tests. Not part of the public API.
 */
#ifndef KC_STORAGE_INTERNAL_H
#define KC_STORAGE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "kc_storage.h"

/* ---- destination URL ---------------------------------------------------- */

struct kc_store_url {
	enum kc_store_kind kind;
	char bucket[256];  /* gs/s3 */
	char prefix[1024]; /* gs/s3: no leading or trailing '/', may be "" */
	char path[1024];   /* file: absolute directory */
};

/* Parse file:///DIR, gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX].
 * @return 0 or -EINVAL with @p err. */
int kc_store_url_parse(const char *url, struct kc_store_url *out, struct kc_err *err);

/* Directory part of object names: "<prefix>/<host>_<ip>_<run>" (no '/' at the
 * ends; prefix omitted when empty). @return 0 or -ENAMETOOLONG. */
int kc_store_object_dir(const struct kc_store_cfg *cfg, const struct kc_store_url *u, char *out,
			size_t n);

/* ---- codecs (codec.c) --------------------------------------------------- */

/* Base64 (RFC 4648 §4) or base64url without padding (§5, JWT). @return
 * output length (NUL-terminated), or 0 if @p outn is too small. */
size_t kc_b64_encode(const void *in, size_t n, char *out, size_t outn, bool url_nopad);
/* Decode standard base64 (padding optional). @return 0 or -EINVAL. */
int kc_b64_decode(const char *in, size_t n, uint8_t *out, size_t outn, size_t *outlen);
/* Lower-case hex of @p n bytes into @p out (2n+1 bytes). */
void kc_hex_lower(const uint8_t *in, size_t n, char *out);
/* Percent-encode everything except A-Za-z0-9-._~ and the chars in @p keep.
 * @return 0 or -ENAMETOOLONG. */
int kc_pct_encode(const char *in, char *out, size_t outn, const char *keep);
/* GCS crc32c text: base64 of the big-endian 4 bytes (e.g. "4waSgw=="). */
void kc_crc32c_b64(uint32_t crc, char out[9]);

/* The portable table (slicing-by-8) CRC32C; kc_store_crc32c() uses SSE4.2
 * when the CPU has it. Same contract. */
uint32_t kc_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Digests of a file or of a byte range of an open file; any output may be
 * NULL. @return 0 or -errno. */
int kc_fd_digests(int fd, uint64_t off, uint64_t len, uint32_t *crc, uint8_t md5[16],
		  uint8_t sha256[32]);
int kc_file_digests(const char *path, uint64_t *size, uint32_t *crc, uint8_t md5[16],
		    uint8_t sha256[32]);

/* Truncated exponential backoff with jitter: min(base*2^n + jitter, cap) with
 * jitter = @p rnd % (base + 1). Pure, for tests. */
uint64_t kc_store_backoff_ms(uint32_t n, uint32_t base_ms, uint32_t cap_ms, uint32_t rnd);

/* ---- tiny response parsers (parse.c; fuzzed) ------------------------------ */

/* First <tag>value</tag> at or after *pos in an XML body, entity-decoded
 * (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;). *pos is advanced past it.
 * @return 0, -ENOENT (absent), -EINVAL (malformed), -ENAMETOOLONG (too long). */
int kc_xml_tag(const char *body, size_t len, size_t *pos, const char *tag, char *out,
	       size_t outn);
/* "bytes=0-N" → N+1 persisted bytes; absent/empty → 0. @return 0 or -EINVAL. */
int kc_gcs_parse_range(const char *range, uint64_t *persisted);
/* Find "crc32c=<b64>" in an x-goog-hash header value. @return 0 or -ENOENT. */
int kc_gcs_hash_crc(const char *hdr, char out[16]);

/* ---- SigV4 (sigv4.c) -------------------------------------------------- */

struct kc_kv {
	const char *k;
	const char *v;
};

struct kc_sigv4_req {
	const char *method;
	const char *path;          /* raw (unencoded) absolute path */
	const struct kc_kv *query; /* raw names/values; v may be NULL ("name=") */
	size_t nquery;
	const struct kc_kv *hdrs;  /* every header to sign, incl. host and x-amz-date */
	size_t nhdrs;
	const char *payload_hash;  /* hex sha256 or "UNSIGNED-PAYLOAD" */
	const char *amz_date;      /* YYYYMMDDTHHMMSSZ */
	const char *region;
	const char *service;       /* "s3" */
	const char *access_key;
	const char *secret;
};

/* Canonical path ("/a%20b/c") and canonical query ("a=1&b=") as used both in
 * the signature and on the wire. @return 0 or -ENAMETOOLONG. */
int kc_sigv4_path(const char *raw, char *out, size_t n);
int kc_sigv4_query(const struct kc_kv *q, size_t nq, char *out, size_t n);
/* Build the canonical request and string to sign (either buffer may be NULL)
 * and the Authorization header value. @return 0, -ENAMETOOLONG, -EINVAL. */
int kc_sigv4_sign(const struct kc_sigv4_req *r, char *creq, size_t creq_n, char *sts,
		  size_t sts_n, char *auth, size_t auth_n);

/* ---- shared per-thread context --------------------------------------- */

struct kc_gcs;
struct kc_s3;

struct kc_store_ctx {
	const struct kc_store_cfg *cfg;
	struct kc_store_url url;
	CURL *curl;
	atomic_int *abort;             /* nonzero: abandon transfers and waits */
	atomic_int own_abort;          /* used when the caller gave none */
	struct kc_store_stats *stats;  /* updated under @mu when mu != NULL */
	pthread_mutex_t *mu;
	struct kc_gcs *gcs;
	struct kc_s3 *s3;
	uint32_t rnd;                  /* jitter PRNG state */
};

#define KC_STAT_ADD(ctx, field, n)                                     \
	do {                                                           \
		if ((ctx)->stats != NULL) {                            \
			if ((ctx)->mu)                                 \
				pthread_mutex_lock((ctx)->mu);         \
			(ctx)->stats->field += (n);                    \
			if ((ctx)->mu)                                 \
				pthread_mutex_unlock((ctx)->mu);       \
		}                                                      \
	} while (0)

void kc_store_log(const struct kc_store_ctx *ctx, enum kc_store_log_level lvl, const char *fmt,
		  ...) kc_printf_like(3, 4);

int kc_store_ctx_init(struct kc_store_ctx *ctx, const struct kc_store_cfg *cfg, const char *url,
		      atomic_int *abort, struct kc_err *err);
void kc_store_ctx_fini(struct kc_store_ctx *ctx);

/* Sleep for the backoff of attempt @p n. @return 0, or -ECANCELED if aborted. */
int kc_store_backoff_sleep(struct kc_store_ctx *ctx, uint32_t n);
/* Sleep up to @p ms, waking early on abort. @return 0 or -ECANCELED. */
int kc_store_sleep_ms(struct kc_store_ctx *ctx, uint64_t ms);

/* ---- HTTP (http.c) ------------------------------------------------------ */

struct kc_http_req {
	const char *method;
	const char *url;
	struct curl_slist *headers;
	const void *body;      /* memory body, or NULL */
	size_t body_len;
	int fd;                /* file body when >= 0: [off, off+len) */
	uint64_t off;
	uint64_t len;
	FILE *out;             /* response body to a file (downloads), else memory */
	size_t body_max;       /* memory body cap (default 1 MiB) */
};

struct kc_http_resp {
	long status;
	CURLcode cc;
	char location[4096];
	char range[128];
	char etag[256];
	char goog_hash[256];
	uint64_t content_length;
	bool has_content_length;
	char *body;            /* NUL-terminated, malloc'ed; kc_http_resp_free */
	size_t len;
	bool truncated;
};

/* One request, no retry. @return 0 when a response arrived (any status), or
 * -ECANCELED (abort), -EIO (connection-level error, rs->cc set). */
int kc_http_do(struct kc_store_ctx *ctx, const struct kc_http_req *rq, struct kc_http_resp *rs);
void kc_http_resp_free(struct kc_http_resp *rs);
/* Retry-worthy: connection error / timeout, 408, 429, 5xx. */
bool kc_http_transient(int rc, const struct kc_http_resp *rs);
/* A short description of a failed response without secrets: "HTTP 403
 * (reason: message)" from a GCS JSON or S3 XML error body. */
void kc_http_describe(const struct kc_http_resp *rs, int rc, char *out, size_t n);
/* Is @p url allowed (https, or http for an explicitly configured endpoint)? */
bool kc_http_url_allowed(const char *url, const char *explicit_endpoint);

/* ---- backends ------------------------------------------------------------
 * put: upload @p entry_dir/@p file as @p object and confirm it.
 * @return 0 confirmed, -EAGAIN transient (retry budget spent; try next
 * pass), -EACCES credentials/bucket (halt), -EIO permanent for this file
 * (mark FAILED), -ECANCELED aborted.
 * list: call @p cb for each object under @p prefix ("" = all).
 * get: download @p object into the open @p out and check it.  */
typedef int (*kc_store_list_fn)(void *arg, const char *name, uint64_t size);

int kc_gcs_open(struct kc_store_ctx *ctx, struct kc_err *err);
void kc_gcs_close(struct kc_store_ctx *ctx);
int kc_gcs_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
	       const char *object, struct kc_err *err);
int kc_gcs_list(struct kc_store_ctx *ctx, const char *prefix, kc_store_list_fn cb, void *arg,
		struct kc_err *err);
int kc_gcs_get(struct kc_store_ctx *ctx, const char *object, const char *tmp_path,
	       struct kc_err *err);

int kc_s3_open(struct kc_store_ctx *ctx, struct kc_err *err);
void kc_s3_close(struct kc_store_ctx *ctx);
int kc_s3_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
	      const char *object, struct kc_err *err);
int kc_s3_list(struct kc_store_ctx *ctx, const char *prefix, kc_store_list_fn cb, void *arg,
	       struct kc_err *err);
int kc_s3_get(struct kc_store_ctx *ctx, const char *object, const char *tmp_path,
	      struct kc_err *err);

int kc_file_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
		const char *object, struct kc_err *err);

/* GCS service-account key and token (gcs_auth.c). */
struct kc_gcs_key {
	char client_email[256];
	char private_key_id[128];
	char token_uri[512];
	char *pem;        /* secret; wiped on free */
	void *pkey;       /* EVP_PKEY * */
};
/* Load and check a key from JSON text or a path. @return 0 or -EINVAL/-EIO. */
int kc_gcs_key_load(const char *json_or_path, struct kc_gcs_key *key, struct kc_err *err);
void kc_gcs_key_free(struct kc_gcs_key *key);
/* Signed JWT assertion for @p scope at time @p now_s. @return 0 or -EIO. */
int kc_gcs_jwt(const struct kc_gcs_key *key, const char *scope, int64_t now_s, char *out,
	       size_t n, struct kc_err *err);

/* ---- spool (spool.c) ---------------------------------------------------- */

struct kc_spool_ent {
	char name[256];
	uint64_t bytes;
	bool ready;  /* READY present */
	bool failed; /* FAILED present */
};

/* Visible entries (names not starting with '.') sorted by name, and their
 * total bytes (hidden directories are not counted). *out is malloc'ed.
 * @return 0 or -errno. */
int kc_spool_scan(const char *dir, struct kc_spool_ent **out, size_t *n, uint64_t *total);
/* Quota policy; @p busy (may be NULL) is never dropped. Counters under @p mu
 * (may be NULL). @return 0, -ENOSPC, -EIO. */
int kc_spool_admit(const char *dir, const struct kc_store_cfg *cfg, uint64_t bytes,
		   const char *busy, struct kc_store_stats *st, pthread_mutex_t *mu,
		   struct kc_err *err);
/* Remove entry @p name: rename to .del-<name> (atomic), then delete. */
int kc_spool_remove(const char *dir, const char *name);
/* Delete .del-* leftovers of an interrupted removal. */
void kc_spool_cleanup(const char *dir);

/* fsync a directory. @return 0 or -errno. */
int kc_store_fsync_dir(const char *dir);
/* Remove a directory tree (depth 1 + files). @return 0 or -errno. */
int kc_store_rm_entry(const char *dir);

#endif /* KC_STORAGE_INTERNAL_H */
