/* Storage configuration: defaults, validation, destination URLs, masked
 * printing, wiping; plus the per-thread context shared by the backends. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "storage_internal.h"

int kc_store_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void kc_store_cfg_init(struct kc_store_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->gcs_chunk = KC_STORE_DEFAULT_GCS_CHUNK;
	cfg->s3_multipart_threshold = KC_STORE_DEFAULT_S3_MULTIPART;
	cfg->s3_part_size = KC_STORE_DEFAULT_S3_PART;
	cfg->timeout_s = KC_STORE_DEFAULT_TIMEOUT_S;
	cfg->quota_bytes = KC_STORE_DEFAULT_QUOTA_BYTES;
	cfg->quota_policy = KC_STORE_QUOTA_REFUSE_NEW;
	cfg->retry_max = KC_STORE_DEFAULT_RETRY_MAX;
	cfg->backoff_base_ms = KC_STORE_DEFAULT_BACKOFF_BASE_MS;
	cfg->backoff_cap_ms = KC_STORE_DEFAULT_BACKOFF_CAP_MS;
	cfg->rescan_ms = KC_STORE_DEFAULT_RESCAN_MS;
	snprintf(cfg->host, sizeof(cfg->host), "localhost");
	snprintf(cfg->ip, sizeof(cfg->ip), "0.0.0.0");
	snprintf(cfg->run_id, sizeof(cfg->run_id), "0");
}

void kc_store_cfg_wipe(struct kc_store_cfg *cfg)
{
	OPENSSL_cleanse(cfg->gcs_key, sizeof(cfg->gcs_key));
	OPENSSL_cleanse(cfg->s3_secret_key, sizeof(cfg->s3_secret_key));
	OPENSSL_cleanse(cfg->s3_session_token, sizeof(cfg->s3_session_token));
}

/* Bucket names: GCS and S3 both allow lower-case letters, digits, '-', '_'
 * and '.' (S3 forbids '_'; the store itself will refuse that). */
static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 222)
		return false;
	for (const char *p = b; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

int kc_store_url_parse(const char *url, struct kc_store_url *u, struct kc_err *err)
{
	const char *rest;
	size_t bl;

	memset(u, 0, sizeof(*u));
	if (url == NULL || url[0] == '\0')
		return kc_err_set(err, -EINVAL, "storage dest: empty (want file:///DIR, gs://BUCKET/PREFIX or s3://BUCKET/PREFIX)");
	if (strncmp(url, "file://", 7) == 0) {
		u->kind = KC_STORE_FILE;
		rest = url + 7;
		if (rest[0] != '/')
			return kc_err_set(err, -EINVAL, "storage dest %s: file:// needs an absolute path (file:///DIR)", url);
		if (strlen(rest) >= sizeof(u->path))
			return kc_err_set(err, -EINVAL, "storage dest: path too long");
		snprintf(u->path, sizeof(u->path), "%s", rest);
		for (size_t n = strlen(u->path); n > 1 && u->path[n - 1] == '/'; n--)
			u->path[n - 1] = '\0';
		return 0;
	}
	if (strncmp(url, "gs://", 5) == 0)
		u->kind = KC_STORE_GCS;
	else if (strncmp(url, "s3://", 5) == 0)
		u->kind = KC_STORE_S3;
	else
		return kc_err_set(err, -EINVAL, "storage dest %s: unknown scheme (want file://, gs:// or s3://)", url);
	rest = url + 5;
	bl = strcspn(rest, "/");
	if (bl >= sizeof(u->bucket))
		return kc_err_set(err, -EINVAL, "storage dest %s: bucket name too long", url);
	memcpy(u->bucket, rest, bl);
	u->bucket[bl] = '\0';
	if (!bucket_ok(u->bucket))
		return kc_err_set(err, -EINVAL, "storage dest %s: bad bucket name '%s' (3-222 of a-z 0-9 - _ .)", url, u->bucket);
	rest += bl;
	while (*rest == '/')
		rest++;
	if (strlen(rest) >= sizeof(u->prefix) - 256)
		return kc_err_set(err, -EINVAL, "storage dest %s: prefix too long", url);
	snprintf(u->prefix, sizeof(u->prefix), "%s", rest);
	for (size_t n = strlen(u->prefix); n > 0 && u->prefix[n - 1] == '/'; n--)
		u->prefix[n - 1] = '\0';
	/* GCS object names: no CR/LF, no "." or ".." components (§2 names). */
	for (const char *p = u->prefix; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '#' || *p == '?' ||
		    *p == '[' || *p == ']' || *p == '*')
			return kc_err_set(err, -EINVAL, "storage dest %s: prefix has a control or reserved character", url);
	if (strstr(u->prefix, "//") != NULL || strcmp(u->prefix, ".") == 0 ||
	    strcmp(u->prefix, "..") == 0 || strncmp(u->prefix, "./", 2) == 0 ||
	    strncmp(u->prefix, "../", 3) == 0 || strstr(u->prefix, "/../") != NULL ||
	    strstr(u->prefix, "/./") != NULL)
		return kc_err_set(err, -EINVAL, "storage dest %s: prefix has empty, '.' or '..' parts", url);
	return 0;
}

int kc_store_object_dir(const struct kc_store_cfg *cfg, const struct kc_store_url *u, char *out,
			size_t n)
{
	int w;

	if (u->kind != KC_STORE_FILE && u->prefix[0] != '\0')
		w = snprintf(out, n, "%s/%s_%s_%s", u->prefix, cfg->host, cfg->ip, cfg->run_id);
	else
		w = snprintf(out, n, "%s_%s_%s", cfg->host, cfg->ip, cfg->run_id);
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static bool name_part_ok(const char *s)
{
	if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == ':' ||
		      *s == '@'))
			return false;
	return true;
}

bool kc_http_url_allowed(const char *url, const char *explicit_endpoint)
{
	if (strncmp(url, "https://", 8) == 0)
		return true;
	/* Plain http only towards an emulator the operator named explicitly. */
	return strncmp(url, "http://", 7) == 0 && explicit_endpoint != NULL &&
	       strncmp(explicit_endpoint, "http://", 7) == 0;
}

static int endpoint_ok(const char *key, const char *v, struct kc_err *err)
{
	if (v[0] == '\0')
		return 0;
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return kc_err_set(err, -EINVAL, "storage %s=%s: want http(s)://HOST[:PORT]", key, v);
	if (strchr(v, ' ') != NULL || strchr(v, '?') != NULL || strchr(v, '#') != NULL)
		return kc_err_set(err, -EINVAL, "storage %s=%s: no spaces, query or fragment", key, v);
	return 0;
}

int kc_store_cfg_validate(const struct kc_store_cfg *cfg, struct kc_err *err)
{
	struct kc_store_url u;
	int rc = kc_store_url_parse(cfg->dest, &u, err);

	if (rc != 0)
		return rc;
	if (!name_part_ok(cfg->host))
		return kc_err_set(err, -EINVAL, "storage host=%s: want [A-Za-z0-9.:@-]+", cfg->host);
	if (!name_part_ok(cfg->ip))
		return kc_err_set(err, -EINVAL, "storage ip=%s: want [A-Za-z0-9.:@-]+", cfg->ip);
	if (!name_part_ok(cfg->run_id))
		return kc_err_set(err, -EINVAL, "storage run_id=%s: want [A-Za-z0-9.:@-]+", cfg->run_id);
	if (cfg->quota_bytes < (1u << 20))
		return kc_err_set(err, -EINVAL, "storage quota_bytes=%llu: below the minimum 1048576",
				  (unsigned long long)cfg->quota_bytes);
	if (cfg->quota_policy != KC_STORE_QUOTA_REFUSE_NEW &&
	    cfg->quota_policy != KC_STORE_QUOTA_DROP_OLDEST)
		return kc_err_set(err, -EINVAL, "storage quota_policy=%d: want refuse-new or drop-oldest",
				  (int)cfg->quota_policy);
	if (cfg->retry_max < 1 || cfg->retry_max > 1000)
		return kc_err_set(err, -EINVAL, "storage retry_max=%u: want 1..1000", cfg->retry_max);
	if (cfg->backoff_base_ms < 1 || cfg->backoff_base_ms > 60000)
		return kc_err_set(err, -EINVAL, "storage backoff_base_ms=%u: want 1..60000", cfg->backoff_base_ms);
	if (cfg->backoff_cap_ms < cfg->backoff_base_ms || cfg->backoff_cap_ms > 3600000)
		return kc_err_set(err, -EINVAL, "storage backoff_cap_ms=%u: want backoff_base_ms..3600000", cfg->backoff_cap_ms);
	if (cfg->rescan_ms < 10 || cfg->rescan_ms > 3600000)
		return kc_err_set(err, -EINVAL, "storage rescan_ms=%u: want 10..3600000", cfg->rescan_ms);
	if (cfg->timeout_s < 1 || cfg->timeout_s > 3600)
		return kc_err_set(err, -EINVAL, "storage timeout_s=%u: want 1..3600", cfg->timeout_s);
	if (cfg->ca_file[0] != '\0' && access(cfg->ca_file, R_OK) != 0)
		return kc_err_set(err, -EINVAL, "storage ca_file=%s: not readable", cfg->ca_file);
	if (u.kind == KC_STORE_GCS) {
		struct kc_gcs_key key;

		if ((rc = endpoint_ok("gcs_endpoint", cfg->gcs_endpoint, err)) != 0)
			return rc;
		if (cfg->gcs_chunk < KC_STORE_GCS_CHUNK_UNIT || cfg->gcs_chunk % KC_STORE_GCS_CHUNK_UNIT ||
		    cfg->gcs_chunk > (1u << 30))
			return kc_err_set(err, -EINVAL, "storage gcs_chunk=%u: want a multiple of 262144 up to 1 GiB",
					  cfg->gcs_chunk);
		if ((rc = kc_gcs_key_load(cfg->gcs_key, &key, err)) != 0)
			return rc;
		if (!kc_http_url_allowed(key.token_uri, cfg->gcs_endpoint))
			rc = kc_err_set(err, -EINVAL, "storage gcs key token_uri %s: must be https:// (http:// only with an explicit http:// gcs_endpoint)",
					key.token_uri);
		kc_gcs_key_free(&key);
		return rc;
	}
	if (u.kind == KC_STORE_S3) {
		if ((rc = endpoint_ok("s3_endpoint", cfg->s3_endpoint, err)) != 0)
			return rc;
		if (cfg->s3_access_key[0] == '\0' || cfg->s3_secret_key[0] == '\0')
			return kc_err_set(err, -EINVAL, "storage s3_access_key/s3_secret_key: both required for s3://");
		for (const char *p = cfg->s3_access_key; *p; p++)
			if (*p <= ' ' || *p == '/' || *p == ',' || *p == 0x7f)
				return kc_err_set(err, -EINVAL, "storage s3_access_key: bad character");
		for (const char *p = cfg->s3_region; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
				return kc_err_set(err, -EINVAL, "storage s3_region=%s: want [a-z0-9-]", cfg->s3_region);
		if (cfg->s3_part_size < KC_STORE_S3_MIN_PART || cfg->s3_part_size > (5ull << 30))
			return kc_err_set(err, -EINVAL, "storage s3_part_size=%llu: want 5 MiB..5 GiB",
					  (unsigned long long)cfg->s3_part_size);
		if (cfg->s3_multipart_threshold < 1 || cfg->s3_multipart_threshold > (5ull << 30))
			return kc_err_set(err, -EINVAL, "storage s3_multipart_threshold=%llu: want 1..5 GiB",
					  (unsigned long long)cfg->s3_multipart_threshold);
	}
	return 0;
}

int kc_store_cfg_from_seed(struct kc_store_cfg *cfg, const char *bucket, const char *key,
			   struct kc_err *err)
{
	bool hb = bucket != NULL && bucket[0] != '\0', hk = key != NULL && key[0] != '\0';
	int w;

	if (!hb && !hk)
		return 0;
	if (hb != hk)
		return kc_err_set(err, -EINVAL, "GCS_BUCKET and GCS_SA_KEY_JSON: set both or neither");
	if (strlen(key) >= sizeof(cfg->gcs_key))
		return kc_err_set(err, -EINVAL, "GCS_SA_KEY_JSON: longer than %zu bytes", sizeof(cfg->gcs_key) - 1);
	w = snprintf(cfg->dest, sizeof(cfg->dest), "gs://%s", bucket);
	if (w < 0 || (size_t)w >= sizeof(cfg->dest))
		return kc_err_set(err, -EINVAL, "GCS_BUCKET: too long");
	snprintf(cfg->gcs_key, sizeof(cfg->gcs_key), "%s", key);
	return 0;
}

#define PR(...)                                                                         \
	do {                                                                            \
		int w_ = snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, __VA_ARGS__); \
		if (w_ > 0)                                                             \
			o += (size_t)w_;                                                \
	} while (0)

size_t kc_store_cfg_print_masked(const struct kc_store_cfg *cfg, char *buf, size_t n)
{
	static const char *pol[] = { "refuse-new", "drop-oldest" };
	size_t o = 0;
	char email[300] = "";
	struct kc_gcs_key key;

	if (n > 0)
		buf[0] = '\0';
	/* The key is shown only by its (public) client_email. */
	if (cfg->gcs_key[0] != '\0') {
		if (kc_gcs_key_load(cfg->gcs_key, &key, NULL) == 0) {
			snprintf(email, sizeof(email), "<set: %s>", key.client_email);
			kc_gcs_key_free(&key);
		} else {
			snprintf(email, sizeof(email), "<set: invalid>");
		}
	}
	PR("dest=%s\n", cfg->dest);
	PR("gcs_key=%s\n", email[0] ? email : "<unset>");
	PR("gcs_endpoint=%s\n", cfg->gcs_endpoint);
	PR("gcs_chunk=%u\n", cfg->gcs_chunk);
	PR("s3_endpoint=%s\n", cfg->s3_endpoint);
	PR("s3_region=%s\n", cfg->s3_region[0] ? cfg->s3_region : "us-east-1");
	PR("s3_path_style=%s\n", cfg->s3_path_style ? "true" : "false");
	PR("s3_access_key=%s\n", cfg->s3_access_key);
	PR("s3_secret_key=%s\n", cfg->s3_secret_key[0] ? "<set>" : "<unset>");
	PR("s3_session_token=%s\n", cfg->s3_session_token[0] ? "<set>" : "<unset>");
	PR("s3_multipart_threshold=%llu\n", (unsigned long long)cfg->s3_multipart_threshold);
	PR("s3_part_size=%llu\n", (unsigned long long)cfg->s3_part_size);
	PR("ca_file=%s\n", cfg->ca_file);
	PR("timeout_s=%u\n", cfg->timeout_s);
	PR("quota_bytes=%llu\n", (unsigned long long)cfg->quota_bytes);
	PR("quota_policy=%s\n", (unsigned)cfg->quota_policy < 2 ? pol[cfg->quota_policy] : "?");
	PR("retry_max=%u\nbackoff_base_ms=%u\nbackoff_cap_ms=%u\nrescan_ms=%u\n", cfg->retry_max,
	   cfg->backoff_base_ms, cfg->backoff_cap_ms, cfg->rescan_ms);
	PR("host=%s\nip=%s\nrun_id=%s\n", cfg->host, cfg->ip, cfg->run_id);
	return o;
}

void kc_store_log(const struct kc_store_ctx *ctx, enum kc_store_log_level lvl, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (ctx->cfg == NULL || ctx->cfg->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->cfg->log(ctx->cfg->log_arg, lvl, msg);
}

int kc_store_ctx_init(struct kc_store_ctx *ctx, const struct kc_store_cfg *cfg, const char *url,
		      atomic_int *abort_flag, struct kc_err *err)
{
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	atomic_init(&ctx->own_abort, 0);
	ctx->abort = abort_flag != NULL ? abort_flag : &ctx->own_abort;
	ctx->rnd = ((uint32_t)kc_now_us() ^ (uint32_t)getpid() * 2654435761u) | 1u;
	if ((rc = kc_store_url_parse(url, &ctx->url, err)) != 0)
		return rc;
	if (ctx->url.kind == KC_STORE_FILE)
		return 0;
	ctx->curl = curl_easy_init();
	if (ctx->curl == NULL)
		return kc_err_set(err, -ENOMEM, "storage: curl_easy_init failed");
	rc = ctx->url.kind == KC_STORE_GCS ? kc_gcs_open(ctx, err) : kc_s3_open(ctx, err);
	if (rc != 0) {
		curl_easy_cleanup(ctx->curl);
		ctx->curl = NULL;
	}
	return rc;
}

void kc_store_ctx_fini(struct kc_store_ctx *ctx)
{
	if (ctx->gcs != NULL)
		kc_gcs_close(ctx);
	if (ctx->s3 != NULL)
		kc_s3_close(ctx);
	if (ctx->curl != NULL)
		curl_easy_cleanup(ctx->curl);
	ctx->curl = NULL;
}

int kc_store_sleep_ms(struct kc_store_ctx *ctx, uint64_t ms)
{
	uint64_t end = kc_now_us() + ms * 1000;

	/* Short naps so an abort (stop deadline) is honoured within ~20 ms. */
	for (;;) {
		uint64_t now = kc_now_us();
		uint64_t left;
		struct timespec ts;

		if (atomic_load(ctx->abort))
			return -ECANCELED;
		if (now >= end)
			return 0;
		left = KC_MIN(end - now, 20000u);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000;
		nanosleep(&ts, NULL);
	}
}

int kc_store_backoff_sleep(struct kc_store_ctx *ctx, uint32_t n)
{
	/* xorshift32: jitter only, not security relevant. */
	ctx->rnd ^= ctx->rnd << 13;
	ctx->rnd ^= ctx->rnd >> 17;
	ctx->rnd ^= ctx->rnd << 5;
	return kc_store_sleep_ms(ctx, kc_store_backoff_ms(n, ctx->cfg->backoff_base_ms,
							 ctx->cfg->backoff_cap_ms, ctx->rnd));
}
