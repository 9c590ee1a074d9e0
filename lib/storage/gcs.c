/* Google Cloud Storage JSON API backend: OAuth2 token cache, resumable
 * uploads with CRC32C and ifGenerationMatch=0, list and download.
 * Protocol notes: docs/object-storage.md §1-2. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "storage_internal.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"
/* Renew this long before expires_in runs out, as Google's libraries do. */
#define TOKEN_EARLY_US (300ull * 1000000)

struct kc_gcs {
	struct kc_gcs_key key;
	char endpoint[512];
	char token[4096];       /* secret; wiped */
	uint64_t token_exp_us;  /* monotonic; 0 = none */
	char sess[4096];        /* current session URI (secret-ish) */
};

int kc_gcs_open(struct kc_store_ctx *ctx, struct kc_err *err)
{
	struct kc_gcs *g = calloc(1, sizeof(*g));
	int rc;

	if (g == NULL)
		return kc_err_set(err, -ENOMEM, "gcs: out of memory");
	if ((rc = kc_gcs_key_load(ctx->cfg->gcs_key, &g->key, err)) != 0) {
		free(g);
		return rc;
	}
	snprintf(g->endpoint, sizeof(g->endpoint), "%s",
		 ctx->cfg->gcs_endpoint[0] ? ctx->cfg->gcs_endpoint : GCS_DEFAULT_ENDPOINT);
	for (size_t n = strlen(g->endpoint); n > 0 && g->endpoint[n - 1] == '/'; n--)
		g->endpoint[n - 1] = '\0';
	if (!kc_http_url_allowed(g->key.token_uri, ctx->cfg->gcs_endpoint) ||
	    !kc_http_url_allowed(g->endpoint, ctx->cfg->gcs_endpoint)) {
		kc_gcs_key_free(&g->key);
		free(g);
		return kc_err_set(err, -EINVAL, "gcs: token_uri/endpoint must be https:// (http:// only with an explicit http:// gcs_endpoint)");
	}
	ctx->gcs = g;
	return 0;
}

void kc_gcs_close(struct kc_store_ctx *ctx)
{
	struct kc_gcs *g = ctx->gcs;

	if (g == NULL)
		return;
	kc_gcs_key_free(&g->key);
	OPENSSL_cleanse(g, sizeof(*g));
	free(g);
	ctx->gcs = NULL;
}

/* Get (or renew with @p force) the access token.
 * @return 0, -EACCES (refused: bad key/clock), -EAGAIN, -ECANCELED. */
static int token_get(struct kc_store_ctx *ctx, bool force, struct kc_err *err)
{
	struct kc_gcs *g = ctx->gcs;
	char *jwt, *body;
	struct curl_slist *h = NULL;
	int rc = -EAGAIN;

	if (!force && g->token[0] != '\0' && kc_now_us() < g->token_exp_us)
		return 0;
	OPENSSL_cleanse(g->token, sizeof(g->token));
	g->token_exp_us = 0;
	jwt = malloc(4096);
	body = malloc(4096 + 128);
	if (jwt == NULL || body == NULL) {
		free(jwt);
		free(body);
		return kc_err_set(err, -ENOMEM, "gcs token: out of memory");
	}
	h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	for (uint32_t attempt = 0;; attempt++) {
		struct kc_http_resp rs;
		struct kc_http_req rq = { .method = "POST", .url = g->key.token_uri, .headers = h,
					  .fd = -1 };
		char why[400];

		/* A fresh assertion per attempt: iat must track the clock. */
		if ((rc = kc_gcs_jwt(&g->key, GCS_SCOPE, (int64_t)(kc_wall_us() / 1000000), jwt, 4096,
				     err)) != 0)
			break;
		snprintf(body, 4096 + 128,
			 "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s",
			 jwt);
		rq.body = body;
		rq.body_len = strlen(body);
		rc = kc_http_do(ctx, &rq, &rs);
		if (rc == 0 && rs.status == 200) {
			cJSON *j = cJSON_ParseWithLength(rs.body ? rs.body : "", rs.len);
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "expires_in");

			if (cJSON_IsString(t) && strlen(t->valuestring) < sizeof(g->token) &&
			    t->valuestring[0] != '\0' && strpbrk(t->valuestring, "\r\n") == NULL) {
				uint64_t life = cJSON_IsNumber(e) && e->valuedouble > 0 &&
							e->valuedouble < 86400 * 7
							? (uint64_t)e->valuedouble * 1000000
							: 3600ull * 1000000;

				snprintf(g->token, sizeof(g->token), "%s", t->valuestring);
				OPENSSL_cleanse(t->valuestring, strlen(t->valuestring));
				/* Renew 5 min early, or at 90% of a short lifetime. */
				g->token_exp_us = kc_now_us() + (life > 2 * TOKEN_EARLY_US
									 ? life - TOKEN_EARLY_US
									 : life * 9 / 10);
				KC_STAT_ADD(ctx, token_fetches, 1);
				rc = 0;
			} else {
				rc = kc_err_set(err, -EAGAIN, "gcs token %s: 200 without a usable access_token",
						g->key.token_uri);
			}
			cJSON_Delete(j);
			if (rs.body)
				OPENSSL_cleanse(rs.body, rs.len);
			kc_http_resp_free(&rs);
			if (rc == 0)
				break;
		} else {
			kc_http_describe(&rs, rc, why, sizeof(why));
			if (rs.body)
				OPENSSL_cleanse(rs.body, rs.len);
			kc_http_resp_free(&rs);
			if (rc == -ECANCELED)
				break;
			if (!kc_http_transient(rc, &rs)) {
				/* 4xx: wrong key, revoked account or clock skew. Not retried. */
				rc = kc_err_set(err, -EACCES, "gcs token %s for %s: %s", g->key.token_uri,
						g->key.client_email, why);
				break;
			}
			rc = kc_err_set(err, -EAGAIN, "gcs token %s: %s", g->key.token_uri, why);
		}
		if (attempt + 1 >= ctx->cfg->retry_max)
			break;
		KC_STAT_ADD(ctx, retries, 1);
		kc_store_log(ctx, KC_STORE_LOG_WARN, "%s; retry %u", err ? err->msg : "gcs token failed",
			     attempt + 1);
		if (kc_store_backoff_sleep(ctx, attempt) != 0) {
			rc = -ECANCELED;
			break;
		}
	}
	curl_slist_free_all(h);
	OPENSSL_cleanse(jwt, 4096);
	OPENSSL_cleanse(body, 4096 + 128);
	free(jwt);
	free(body);
	return rc;
}

static struct curl_slist *auth_headers(struct kc_gcs *g, struct curl_slist *h)
{
	char line[4200];

	snprintf(line, sizeof(line), "Authorization: Bearer %s", g->token);
	h = curl_slist_append(h, line);
	OPENSSL_cleanse(line, sizeof(line));
	return h;
}

static void wipe_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* Object resource JSON: size and crc32c. @return 0 or -EINVAL. */
static int parse_resource(const char *body, size_t len, uint64_t *size, char crc[16])
{
	cJSON *j = cJSON_ParseWithLength(body ? body : "", len);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "size");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "crc32c");
	int rc = -EINVAL;

	/* The JSON API sends size as a decimal string (int64 rule). */
	if (cJSON_IsString(s) && cJSON_IsString(c) && strlen(c->valuestring) < 16 &&
	    kc_parse_u64(s->valuestring, 0, UINT64_MAX, size) == 0) {
		snprintf(crc, 16, "%s", c->valuestring);
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

/* GET the object's metadata. @return 0 (found), -ENOENT, -EAGAIN, -EACCES,
 * -ECANCELED. */
static int gcs_stat(struct kc_store_ctx *ctx, const char *object, uint64_t *size, char crc[16],
		    struct kc_err *err)
{
	struct kc_gcs *g = ctx->gcs;
	char enc[3200], url[4096], why[400];
	bool renewed = false;
	int rc;

	if (kc_pct_encode(object, enc, sizeof(enc), NULL) != 0)
		return kc_err_set(err, -EINVAL, "gcs: object name too long");
	snprintf(url, sizeof(url), "%s/storage/v1/b/%s/o/%s", g->endpoint, ctx->url.bucket, enc);
	for (uint32_t attempt = 0;; attempt++) {
		struct kc_http_resp rs;
		struct curl_slist *h;
		struct kc_http_req rq = { .method = "GET", .url = url, .fd = -1 };

		if ((rc = token_get(ctx, false, err)) != 0)
			return rc;
		h = auth_headers(g, NULL);
		rq.headers = h;
		rc = kc_http_do(ctx, &rq, &rs);
		wipe_headers(h);
		if (rc == 0 && rs.status == 200) {
			rc = parse_resource(rs.body, rs.len, size, crc);
			kc_http_resp_free(&rs);
			return rc == 0 ? 0 : kc_err_set(err, -EAGAIN, "gcs metadata of %s: unparsable", object);
		}
		kc_http_describe(&rs, rc, why, sizeof(why));
		kc_http_resp_free(&rs);
		if (rc == -ECANCELED)
			return rc;
		if (rc == 0 && rs.status == 404)
			return -ENOENT;
		if (rc == 0 && rs.status == 401 && !renewed) {
			renewed = true;
			if ((rc = token_get(ctx, true, err)) != 0)
				return rc;
			continue;
		}
		if (!kc_http_transient(rc, &rs))
			return kc_err_set(err, -EACCES, "gcs metadata of %s: %s", object, why);
		if (attempt + 1 >= ctx->cfg->retry_max)
			return kc_err_set(err, -EAGAIN, "gcs metadata of %s: %s", object, why);
		KC_STAT_ADD(ctx, retries, 1);
		if (kc_store_backoff_sleep(ctx, attempt) != 0)
			return -ECANCELED;
	}
}

/* A 412 means an object of that name exists: ours from an earlier attempt
 * whose answer was lost, or someone else's. Compare, never assume. */
static int check_existing(struct kc_store_ctx *ctx, const char *object, uint64_t size,
			  const char *crc, struct kc_err *err)
{
	uint64_t rsize;
	char rcrc[16];
	int rc = gcs_stat(ctx, object, &rsize, rcrc, err);

	if (rc == -ENOENT)
		return kc_err_set(err, -EAGAIN, "gcs %s: 412 but no object; retrying", object);
	if (rc != 0)
		return rc;
	if (rsize == size && strcmp(rcrc, crc) == 0) {
		KC_STAT_ADD(ctx, already_present, 1);
		return 0;
	}
	KC_STAT_ADD(ctx, fail_integrity, 1);
	return kc_err_set(err, -EIO, "gcs %s: a different object already exists (size %" PRIu64 " crc32c %s, local %" PRIu64 " %s)",
			  object, rsize, rcrc, size, crc);
}

static int sidecar_path(const char *entry_dir, const char *file, char *out, size_t n)
{
	int w = snprintf(out, n, "%s/.gcs.%s", entry_dir, file);

	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static int sidecar_write(const char *path, const char *uri)
{
	char tmp[4200];
	int fd, rc = 0;
	size_t l = strlen(uri);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, uri, l) != (ssize_t)l || fsync(fd) != 0)
		rc = -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static void sidecar_read(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	out[0] = '\0';
	if (fd < 0)
		return;
	r = read(fd, out, n - 1);
	close(fd);
	out[r > 0 ? r : 0] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
}

enum step { ST_NEW, ST_QUERY, ST_SEND };

int kc_gcs_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
	       const char *object, struct kc_err *err)
{
	struct kc_gcs *g = ctx->gcs;
	char path[2048], side[2200], enc[3200], url[4096], why[400], crc_b64[9], meta[3400];
	uint64_t size, off = 0;
	uint32_t crc, attempt = 0;
	bool renewed = false;
	enum step st = ST_NEW;
	struct stat sb;
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/%s", entry_dir, file) >= (int)sizeof(path) ||
	    sidecar_path(entry_dir, file, side, sizeof(side)) != 0 ||
	    kc_pct_encode(object, enc, sizeof(enc), NULL) != 0)
		return kc_err_set(err, -EIO, "gcs %s: name too long", object);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = kc_err_set(err, -EIO, "gcs: cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size = (uint64_t)sb.st_size;
	if ((rc = kc_fd_digests(fd, 0, size, &crc, NULL, NULL)) != 0) {
		close(fd);
		return kc_err_set(err, -EIO, "gcs: cannot read %s: %s", path, strerror(-rc));
	}
	kc_crc32c_b64(crc, crc_b64);

	/* A session persisted by an earlier run: ask how far it got. */
	sidecar_read(side, g->sess, sizeof(g->sess));
	if (g->sess[0] != '\0' && kc_http_url_allowed(g->sess, ctx->cfg->gcs_endpoint)) {
		st = ST_QUERY;
		KC_STAT_ADD(ctx, sessions_resumed, 1);
	} else {
		g->sess[0] = '\0';
	}

	for (;;) {
		struct kc_http_resp rs;
		struct kc_http_req rq = { .fd = -1 };
		struct curl_slist *h = NULL;
		char line[256];
		bool progressed = false;

		if ((rc = token_get(ctx, false, err)) != 0)
			break;
		h = auth_headers(g, NULL);
		if (st == ST_NEW) {
			/* Initiate; the metadata carries crc32c so the server verifies the
			 * whole object, and ifGenerationMatch=0 makes a retry unable to
			 * overwrite (a second create gets 412). */
			snprintf(url, sizeof(url),
				 "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s&ifGenerationMatch=0",
				 g->endpoint, ctx->url.bucket, enc);
			snprintf(meta, sizeof(meta),
				 "{\"name\":\"%s\",\"contentType\":\"application/octet-stream\",\"crc32c\":\"%s\"}",
				 object, crc_b64);
			h = curl_slist_append(h, "Content-Type: application/json; charset=UTF-8");
			snprintf(line, sizeof(line), "X-Upload-Content-Length: %" PRIu64, size);
			h = curl_slist_append(h, line);
			h = curl_slist_append(h, "X-Upload-Content-Type: application/octet-stream");
			rq.method = "POST";
			rq.url = url;
			rq.body = meta;
			rq.body_len = strlen(meta);
		} else if (st == ST_QUERY) {
			/* Status query: empty PUT with "bytes * /SIZE" (§2 step 5). */
			snprintf(line, sizeof(line), "Content-Range: bytes */%" PRIu64, size);
			h = curl_slist_append(h, line);
			rq.method = "PUT";
			rq.url = g->sess;
			rq.body = "";
			rq.body_len = 0;
		} else {
			uint64_t len = KC_MIN((uint64_t)ctx->cfg->gcs_chunk, size - off);

			/* Every chunk but the last is a multiple of 256 KiB (gcs_chunk is). */
			if (size == 0)
				snprintf(line, sizeof(line), "Content-Range: bytes */0");
			else
				snprintf(line, sizeof(line), "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
					 off, off + len - 1, size);
			h = curl_slist_append(h, line);
			if (off + len == size) {
				snprintf(line, sizeof(line), "X-Goog-Hash: crc32c=%s", crc_b64);
				h = curl_slist_append(h, line);
			}
			rq.method = "PUT";
			rq.url = g->sess;
			rq.fd = fd;
			rq.off = off;
			rq.len = len;
		}
		rq.headers = h;
		rc = kc_http_do(ctx, &rq, &rs);
		wipe_headers(h);

		if (rc == 0 && st == ST_NEW && rs.status == 200 && rs.location[0] != '\0') {
			if (!kc_http_url_allowed(rs.location, ctx->cfg->gcs_endpoint)) {
				kc_http_resp_free(&rs);
				rc = kc_err_set(err, -EIO, "gcs %s: session URI with a disallowed scheme", object);
				break;
			}
			snprintf(g->sess, sizeof(g->sess), "%s", rs.location);
			if (sidecar_write(side, g->sess) != 0)
				kc_store_log(ctx, KC_STORE_LOG_WARN, "gcs %s: cannot persist the session (upload continues, resume after a crash restarts it)", object);
			kc_http_resp_free(&rs);
			st = ST_SEND;
			off = 0;
			continue;
		}
		if (rc == 0 && (rs.status == 200 || rs.status == 201) && st != ST_NEW) {
			uint64_t rsize;
			char rcrc[16];

			if (parse_resource(rs.body, rs.len, &rsize, rcrc) != 0) {
				kc_http_resp_free(&rs);
				/* Finished but unreadable answer: confirm by metadata. */
				rc = check_existing(ctx, object, size, crc_b64, err);
			} else {
				kc_http_resp_free(&rs);
				if (rsize == size && strcmp(rcrc, crc_b64) == 0) {
					rc = 0;
				} else {
					KC_STAT_ADD(ctx, fail_integrity, 1);
					rc = kc_err_set(err, -EIO, "gcs %s: stored size %" PRIu64 " crc32c %s differ from local %" PRIu64 " %s",
							object, rsize, rcrc, size, crc_b64);
				}
			}
			if (rc != -EAGAIN)
				unlink(side);
			break;
		}
		if (rc == 0 && rs.status == 308 && st != ST_NEW) {
			uint64_t persisted;

			/* Continue from what the server kept, never from what we sent. */
			if (kc_gcs_parse_range(rs.range, &persisted) != 0 || persisted > size) {
				kc_http_resp_free(&rs);
				rc = kc_err_set(err, -EAGAIN, "gcs %s: bad Range in 308", object);
				goto transient;
			}
			kc_http_resp_free(&rs);
			progressed = st == ST_QUERY || persisted > off;
			if (st == ST_SEND && persisted < off + KC_MIN((uint64_t)ctx->cfg->gcs_chunk, size - off))
				kc_store_log(ctx, KC_STORE_LOG_INFO, "gcs %s: server kept %" PRIu64 " of %" PRIu64 " bytes; resending from there",
					     object, persisted, KC_MIN(off + ctx->cfg->gcs_chunk, size));
			off = persisted;
			st = ST_SEND;
			if (progressed)
				attempt = 0;
			if (off < size)
				continue;
			/* 308 with everything persisted but not finalised: query again. */
			st = ST_QUERY;
			rc = kc_err_set(err, -EAGAIN, "gcs %s: complete but not finalised", object);
			goto transient;
		}
		if (rc == 0 && rs.status == 412) {
			kc_http_resp_free(&rs);
			rc = check_existing(ctx, object, size, crc_b64, err);
			if (rc == 0 || rc == -EIO)
				unlink(side);
			if (rc == -EAGAIN)
				goto transient;
			break;
		}
		if (rc == 0 && (rs.status == 404 || rs.status == 410) && st != ST_NEW) {
			/* The session expired or failed for good: start over. */
			kc_http_resp_free(&rs);
			kc_store_log(ctx, KC_STORE_LOG_WARN, "gcs %s: session gone (HTTP %ld); new session", object, rs.status);
			unlink(side);
			g->sess[0] = '\0';
			st = ST_NEW;
			off = 0;
			if (++attempt >= ctx->cfg->retry_max) {
				rc = kc_err_set(err, -EAGAIN, "gcs %s: sessions keep disappearing", object);
				break;
			}
			continue;
		}
		if (rc == 0 && rs.status == 401 && !renewed) {
			/* Token expired or revoked: renew once, then the same request. */
			kc_http_resp_free(&rs);
			renewed = true;
			if ((rc = token_get(ctx, true, err)) != 0)
				break;
			if (st == ST_SEND)
				st = ST_QUERY;
			continue;
		}
		kc_http_describe(&rs, rc, why, sizeof(why));
		kc_http_resp_free(&rs);
		if (rc == -ECANCELED)
			break;
		if (!kc_http_transient(rc, &rs)) {
			if (rc != 0 || rs.status == 401 || rs.status == 403 ||
			    (st == ST_NEW && rs.status == 404)) {
				rc = kc_err_set(err, -EACCES, "gcs gs://%s: %s (%s)", ctx->url.bucket, why,
						rc != 0 ? "TLS or endpoint configuration"
						: rs.status == 404 ? "no such bucket" : "credentials refused");
			} else {
				/* GCS: "Provided CRC32C ... doesn't match calculated ..." */
				if (rs.status == 400 && (strstr(why, "CRC32C") != NULL || strstr(why, "MD5") != NULL))
					KC_STAT_ADD(ctx, fail_integrity, 1);
				rc = kc_err_set(err, -EIO, "gcs %s: %s", object, why);
			}
			break;
		}
		rc = kc_err_set(err, -EAGAIN, "gcs %s: %s", object, why);
transient:
		if (++attempt >= ctx->cfg->retry_max)
			break;
		KC_STAT_ADD(ctx, retries, 1);
		kc_store_log(ctx, KC_STORE_LOG_WARN, "%s; retry %u/%u", err ? err->msg : "gcs: transient error",
			     attempt, ctx->cfg->retry_max - 1);
		if (kc_store_backoff_sleep(ctx, attempt - 1) != 0) {
			rc = -ECANCELED;
			break;
		}
		/* After an error in a session, learn what the server kept. */
		if (st == ST_SEND)
			st = ST_QUERY;
	}
	close(fd);
	OPENSSL_cleanse(g->sess, sizeof(g->sess));
	return rc;
}

int kc_gcs_list(struct kc_store_ctx *ctx, const char *prefix, kc_store_list_fn cb, void *arg,
		struct kc_err *err)
{
	struct kc_gcs *g = ctx->gcs;
	char pfx[3200], url[8192], page[1024] = "", encpage[3100], why[400];
	int rc, count = 0;
	uint32_t attempt = 0;
	bool renewed = false;

	if (kc_pct_encode(prefix, pfx, sizeof(pfx), NULL) != 0)
		return kc_err_set(err, -EINVAL, "gcs list: prefix too long");
	for (;;) {
		struct kc_http_resp rs;
		struct curl_slist *h;
		struct kc_http_req rq = { .method = "GET", .url = url, .fd = -1, .body_max = 16u << 20 };

		if (kc_pct_encode(page, encpage, sizeof(encpage), NULL) != 0)
			return kc_err_set(err, -EIO, "gcs list: page token too long");
		snprintf(url, sizeof(url), "%s/storage/v1/b/%s/o?prefix=%s%s%s", g->endpoint,
			 ctx->url.bucket, pfx, page[0] ? "&pageToken=" : "", encpage);
		if ((rc = token_get(ctx, false, err)) != 0)
			return rc;
		h = auth_headers(g, NULL);
		rq.headers = h;
		rc = kc_http_do(ctx, &rq, &rs);
		wipe_headers(h);
		if (rc == 0 && rs.status == 200) {
			cJSON *j = cJSON_ParseWithLength(rs.body ? rs.body : "", rs.len);
			const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items"), *it;
			const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "nextPageToken");

			kc_http_resp_free(&rs);
			if (j == NULL) {
				return kc_err_set(err, -EIO, "gcs list: unparsable answer");
			}
			cJSON_ArrayForEach(it, items) {
				const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
				const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "size");
				uint64_t sz = 0;

				if (!cJSON_IsString(n))
					continue;
				if (cJSON_IsString(s))
					(void)!kc_parse_u64(s->valuestring, 0, UINT64_MAX, &sz);
				if ((rc = cb(arg, n->valuestring, sz)) != 0) {
					cJSON_Delete(j);
					return rc;
				}
				count++;
			}
			if (cJSON_IsString(next) && next->valuestring[0] != '\0' &&
			    strlen(next->valuestring) < sizeof(page)) {
				snprintf(page, sizeof(page), "%s", next->valuestring);
				cJSON_Delete(j);
				attempt = 0;
				continue;
			}
			cJSON_Delete(j);
			return count;
		}
		kc_http_describe(&rs, rc, why, sizeof(why));
		kc_http_resp_free(&rs);
		if (rc == -ECANCELED)
			return rc;
		if (rc == 0 && rs.status == 401 && !renewed) {
			renewed = true;
			if ((rc = token_get(ctx, true, err)) != 0)
				return rc;
			continue;
		}
		if (!kc_http_transient(rc, &rs))
			return kc_err_set(err, rs.status == 404 ? -ENOENT : -EACCES, "gcs list gs://%s/%s: %s",
					  ctx->url.bucket, prefix, why);
		if (++attempt >= ctx->cfg->retry_max)
			return kc_err_set(err, -EIO, "gcs list gs://%s/%s: %s", ctx->url.bucket, prefix, why);
		KC_STAT_ADD(ctx, retries, 1);
		if (kc_store_backoff_sleep(ctx, attempt - 1) != 0)
			return -ECANCELED;
	}
}

int kc_gcs_get(struct kc_store_ctx *ctx, const char *object, const char *tmp_path,
	       struct kc_err *err)
{
	struct kc_gcs *g = ctx->gcs;
	char enc[3200], url[4096], why[400];
	uint32_t attempt = 0;
	bool renewed = false;
	int rc;

	if (kc_pct_encode(object, enc, sizeof(enc), NULL) != 0)
		return kc_err_set(err, -EINVAL, "gcs get: name too long");
	snprintf(url, sizeof(url), "%s/storage/v1/b/%s/o/%s?alt=media", g->endpoint, ctx->url.bucket, enc);
	for (;;) {
		struct kc_http_resp rs;
		struct curl_slist *h;
		FILE *f = fopen(tmp_path, "wb");
		struct kc_http_req rq = { .method = "GET", .url = url, .fd = -1, .out = f };

		if (f == NULL)
			return kc_err_set(err, -EIO, "gcs get: cannot write %s: %s", tmp_path, strerror(errno));
		if ((rc = token_get(ctx, false, err)) != 0) {
			fclose(f);
			return rc;
		}
		h = auth_headers(g, NULL);
		rq.headers = h;
		rc = kc_http_do(ctx, &rq, &rs);
		wipe_headers(h);
		if (fflush(f) != 0 || fsync(fileno(f)) != 0)
			rc = rc ? rc : -EIO;
		fclose(f);
		if (rc == 0 && rs.status == 200) {
			char want[16], got[9];
			uint32_t crc;
			uint64_t sz;

			if (kc_gcs_hash_crc(rs.goog_hash, want) != 0) {
				kc_http_resp_free(&rs);
				return kc_err_set(err, -EIO, "gcs get %s: no crc32c in x-goog-hash", object);
			}
			kc_http_resp_free(&rs);
			if ((rc = kc_file_digests(tmp_path, &sz, &crc, NULL, NULL)) != 0)
				return kc_err_set(err, -EIO, "gcs get %s: %s", tmp_path, strerror(-rc));
			kc_crc32c_b64(crc, got);
			if (strcmp(want, got) == 0)
				return 0;
			rc = kc_err_set(err, -EIO, "gcs get %s: crc32c %s, expected %s", object, got, want);
			if (++attempt >= ctx->cfg->retry_max)
				return rc;
			continue;
		}
		kc_http_describe(&rs, rc, why, sizeof(why));
		kc_http_resp_free(&rs);
		if (rc == -ECANCELED)
			return rc;
		if (rc == 0 && rs.status == 401 && !renewed) {
			renewed = true;
			if ((rc = token_get(ctx, true, err)) != 0)
				return rc;
			continue;
		}
		if (!kc_http_transient(rc, &rs))
			return kc_err_set(err, rs.status == 404 ? -ENOENT : -EACCES, "gcs get %s: %s", object, why);
		if (++attempt >= ctx->cfg->retry_max)
			return kc_err_set(err, -EIO, "gcs get %s: %s", object, why);
		KC_STAT_ADD(ctx, retries, 1);
		if (kc_store_backoff_sleep(ctx, attempt - 1) != 0)
			return -ECANCELED;
	}
}
