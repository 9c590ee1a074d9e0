/* S3-compatible backend: our SigV4 signer on every request (re-signed per
 * retry), single PUT with Content-MD5 and the real payload hash, multipart
 * above a threshold (Complete's "200 with <Error>" handled, abort on giving
 * up), list-type=2 and download. docs/object-storage.md §3. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "storage_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_PARTS 10000

struct kc_s3 {
	char scheme[8];      /* "https" or "http" */
	char host[300];      /* host[:port] as sent in Host */
	char region[64];
	bool path_style;
};

int kc_s3_open(struct kc_store_ctx *ctx, struct kc_err *err)
{
	const struct kc_store_cfg *cfg = ctx->cfg;
	struct kc_s3 *s = calloc(1, sizeof(*s));
	const char *ep = cfg->s3_endpoint, *h;
	size_t hl;

	if (s == NULL)
		return kc_err_set(err, -ENOMEM, "s3: out of memory");
	snprintf(s->region, sizeof(s->region), "%s", cfg->s3_region[0] ? cfg->s3_region : "us-east-1");
	if (ep[0] == '\0') {
		snprintf(s->scheme, sizeof(s->scheme), "https");
		snprintf(s->host, sizeof(s->host), "s3.%s.amazonaws.com", s->region);
	} else {
		if (!kc_http_url_allowed(ep, ep)) {
			free(s);
			return kc_err_set(err, -EINVAL, "s3_endpoint %s: want http(s)://HOST[:PORT]", ep);
		}
		snprintf(s->scheme, sizeof(s->scheme), "%s", strncmp(ep, "https://", 8) == 0 ? "https" : "http");
		h = strstr(ep, "://") + 3;
		hl = strcspn(h, "/");
		if (hl == 0 || hl >= sizeof(s->host)) {
			free(s);
			return kc_err_set(err, -EINVAL, "s3_endpoint %s: bad host", ep);
		}
		memcpy(s->host, h, hl);
		s->host[hl] = '\0';
	}
	s->path_style = cfg->s3_path_style;
	ctx->s3 = s;
	return 0;
}

void kc_s3_close(struct kc_store_ctx *ctx)
{
	free(ctx->s3);
	ctx->s3 = NULL;
}

struct s3_body {
	const void *mem;
	size_t mem_len;
	int fd;
	uint64_t off, len;
	const char *sha256; /* hex; NULL = empty body */
	const char *md5_b64;
	const char *content_type;
};

/* Sign and send one request. @return as kc_http_do. */
static int s3_once(struct kc_store_ctx *ctx, const char *method, const char *key,
		   const struct kc_kv *q, size_t nq, const struct s3_body *b, FILE *out,
		   struct kc_http_resp *rs)
{
	const struct kc_store_cfg *cfg = ctx->cfg;
	struct kc_s3 *s = ctx->s3;
	char raw[3300], cpath[9000], cquery[8192], host[600], url[20000], amz[20], auth[1024];
	char line[2400];
	struct kc_kv hd[7];
	size_t nh = 0;
	struct curl_slist *h = NULL;
	struct tm tm;
	time_t now = time(NULL);
	int rc;
	struct kc_sigv4_req sr;

	if (s->path_style) {
		snprintf(host, sizeof(host), "%s", s->host);
		if (snprintf(raw, sizeof(raw), "/%s%s%s", ctx->url.bucket, key[0] ? "/" : "", key) >= (int)sizeof(raw))
			return -ENAMETOOLONG;
	} else {
		snprintf(host, sizeof(host), "%s.%s", ctx->url.bucket, s->host);
		if (snprintf(raw, sizeof(raw), "/%s", key) >= (int)sizeof(raw))
			return -ENAMETOOLONG;
	}
	if ((rc = kc_sigv4_path(raw, cpath, sizeof(cpath))) != 0 ||
	    (rc = kc_sigv4_query(q, nq, cquery, sizeof(cquery))) != 0)
		return rc;
	snprintf(url, sizeof(url), "%s://%s%s%s%s", s->scheme, host, cpath, cquery[0] ? "?" : "", cquery);
	gmtime_r(&now, &tm);
	strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm);
	hd[nh++] = (struct kc_kv){ "host", host };
	hd[nh++] = (struct kc_kv){ "x-amz-date", amz };
	hd[nh++] = (struct kc_kv){ "x-amz-content-sha256", b && b->sha256 ? b->sha256 : EMPTY_SHA256 };
	if (cfg->s3_session_token[0])
		hd[nh++] = (struct kc_kv){ "x-amz-security-token", cfg->s3_session_token };
	if (b && b->md5_b64)
		hd[nh++] = (struct kc_kv){ "content-md5", b->md5_b64 };
	if (b && b->content_type)
		hd[nh++] = (struct kc_kv){ "content-type", b->content_type };
	sr = (struct kc_sigv4_req){ .method = method, .path = raw, .query = q, .nquery = nq,
				    .hdrs = hd, .nhdrs = nh, .payload_hash = hd[2].v, .amz_date = amz,
				    .region = s->region, .service = "s3",
				    .access_key = cfg->s3_access_key, .secret = cfg->s3_secret_key };
	if ((rc = kc_sigv4_sign(&sr, NULL, 0, NULL, 0, auth, sizeof(auth))) != 0)
		return rc;
	snprintf(line, sizeof(line), "Authorization: %s", auth);
	h = curl_slist_append(h, line);
	for (size_t i = 0; i < nh; i++) {
		snprintf(line, sizeof(line), "%s: %s", hd[i].k, hd[i].v);
		h = curl_slist_append(h, line);
	}
	OPENSSL_cleanse(line, sizeof(line));
	{
		struct kc_http_req rq = { .method = method, .url = url, .headers = h, .fd = -1, .out = out };

		if (b != NULL && b->fd >= 0) {
			rq.fd = b->fd;
			rq.off = b->off;
			rq.len = b->len;
		} else if (b != NULL) {
			rq.body = b->mem ? b->mem : "";
			rq.body_len = b->mem_len;
		}
		rc = kc_http_do(ctx, &rq, rs);
	}
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(h);
	return rc;
}

/* S3's own transient answers beyond 5xx/429: 400 RequestTimeout. */
static bool s3_transient(int rc, const struct kc_http_resp *rs)
{
	if (kc_http_transient(rc, rs))
		return true;
	return rc == 0 && rs->status == 400 && rs->body != NULL &&
	       strstr(rs->body, "<Code>RequestTimeout</Code>") != NULL;
}

/* Send with retries on transient failures (re-signed each time). On return
 * 0, @p rs holds a non-transient answer the caller must free. @return 0,
 * -EAGAIN (budget spent, @p err set), -ECANCELED, -ENOMEM. */
static int s3_call(struct kc_store_ctx *ctx, const char *what, const char *method,
		   const char *key, const struct kc_kv *q, size_t nq, const struct s3_body *b,
		   const char *out_path, struct kc_http_resp *rs, struct kc_err *err)
{
	char why[400];

	for (uint32_t attempt = 0;; attempt++) {
		FILE *out = NULL;
		int rc;

		if (out_path != NULL && (out = fopen(out_path, "wb")) == NULL)
			return kc_err_set(err, -EIO, "s3 %s: cannot write %s", what, out_path);
		rc = s3_once(ctx, method, key, q, nq, b, out, rs);
		if (out != NULL && (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0) && rc == 0) {
			kc_http_resp_free(rs);
			return kc_err_set(err, -EIO, "s3 %s: cannot write %s", what, out_path);
		}
		if (rc == -ECANCELED || rc == -ENOMEM || rc == -ENAMETOOLONG) {
			kc_http_resp_free(rs);
			return rc == -ENAMETOOLONG ? kc_err_set(err, -EIO, "s3 %s: name too long", what) : rc;
		}
		if (rc != 0 && !s3_transient(rc, rs)) {
			kc_http_describe(rs, rc, why, sizeof(why));
			kc_http_resp_free(rs);
			return kc_err_set(err, -EACCES, "s3 %s: %s (TLS or endpoint configuration)", what, why);
		}
		if (!s3_transient(rc, rs))
			return 0;
		kc_http_describe(rs, rc, why, sizeof(why));
		kc_http_resp_free(rs);
		kc_err_set(err, -EAGAIN, "s3 %s: %s", what, why);
		if (attempt + 1 >= ctx->cfg->retry_max)
			return -EAGAIN;
		KC_STAT_ADD(ctx, retries, 1);
		kc_store_log(ctx, KC_STORE_LOG_WARN, "s3 %s: %s; retry %u/%u", what, why, attempt + 1,
			     ctx->cfg->retry_max - 1);
		if (kc_store_backoff_sleep(ctx, attempt) != 0)
			return -ECANCELED;
	}
}

/* Map a final non-2xx answer to our return codes and a message. */
static int s3_fail(struct kc_store_ctx *ctx, const char *what, struct kc_http_resp *rs,
		   struct kc_err *err)
{
	char why[400];
	int rc;

	kc_http_describe(rs, 0, why, sizeof(why));
	if (rs->status == 401 || rs->status == 403 ||
	    (rs->status == 404 && rs->body && strstr(rs->body, "NoSuchBucket"))) {
		rc = kc_err_set(err, -EACCES, "s3 s3://%s %s: %s", ctx->url.bucket, what, why);
	} else {
		if (rs->body && (strstr(rs->body, "BadDigest") || strstr(rs->body, "XAmzContentSHA256Mismatch")))
			KC_STAT_ADD(ctx, fail_integrity, 1);
		rc = kc_err_set(err, rs->status == 404 ? -ENOENT : -EIO, "s3 %s: %s", what, why);
	}
	kc_http_resp_free(rs);
	return rc;
}

static void unquote(const char *in, char *out, size_t n)
{
	size_t l;

	while (*in == '"' || *in == ' ')
		in++;
	l = strnlen(in, n - 1);
	memcpy(out, in, l);
	out[l] = '\0';
	while (l > 0 && (out[l - 1] == '"' || out[l - 1] == ' '))
		out[--l] = '\0';
}

/* Confirm by HEAD: size equal, ETag one of the expected forms. */
static int s3_confirm(struct kc_store_ctx *ctx, const char *object, uint64_t size,
		      const char *etag_a, const char *etag_b, struct kc_err *err)
{
	struct kc_http_resp rs;
	char et[256];
	int rc = s3_call(ctx, object, "HEAD", object, NULL, 0, NULL, NULL, &rs, err);

	if (rc != 0)
		return rc;
	if (rs.status != 200)
		return s3_fail(ctx, object, &rs, err);
	unquote(rs.etag, et, sizeof(et));
	kc_http_resp_free(&rs);
	if (!rs.has_content_length || rs.content_length != size ||
	    (strcmp(et, etag_a) != 0 && (etag_b == NULL || strcmp(et, etag_b) != 0))) {
		KC_STAT_ADD(ctx, fail_integrity, 1);
		return kc_err_set(err, -EIO, "s3 %s: stored size %" PRIu64 " etag %s differ from local %" PRIu64 " %s",
				  object, rs.content_length, et, size, etag_a);
	}
	return 0;
}

static int s3_put_single(struct kc_store_ctx *ctx, int fd, uint64_t size, const char *object,
			 struct kc_err *err)
{
	uint8_t md5[16], sha[32];
	char md5b64[32], md5hex[33], shahex[65], et[256];
	struct kc_http_resp rs;
	struct s3_body b = { .fd = fd, .off = 0, .len = size, .sha256 = shahex, .md5_b64 = md5b64,
			     .content_type = "application/octet-stream" };
	int rc;

	if ((rc = kc_fd_digests(fd, 0, size, NULL, md5, sha)) != 0)
		return kc_err_set(err, -EIO, "s3 %s: local read: %s", object, strerror(-rc));
	kc_b64_encode(md5, 16, md5b64, sizeof(md5b64), false);
	kc_hex_lower(md5, 16, md5hex);
	kc_hex_lower(sha, 32, shahex);
	if ((rc = s3_call(ctx, object, "PUT", object, NULL, 0, &b, NULL, &rs, err)) != 0)
		return rc;
	if (rs.status != 200)
		return s3_fail(ctx, object, &rs, err);
	unquote(rs.etag, et, sizeof(et));
	kc_http_resp_free(&rs);
	/* Content-MD5 made the server verify the body; the ETag of a plain PUT
	 * is that MD5. Anything else (e.g. SSE-KMS): confirm by HEAD size. */
	if (strcmp(et, md5hex) == 0)
		return 0;
	return s3_confirm(ctx, object, size, md5hex, et, err);
}

static int sidecar(const char *entry_dir, const char *file, char *out, size_t n)
{
	int w = snprintf(out, n, "%s/.s3.%s", entry_dir, file);

	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static void s3_abort(struct kc_store_ctx *ctx, const char *object, const char *upload_id)
{
	struct kc_kv q[1] = { { "uploadId", upload_id } };
	struct kc_http_resp rs;
	struct kc_err e;

	/* Best effort: parts of an unfinished upload are billed until aborted. */
	if (s3_call(ctx, object, "DELETE", object, q, 1, NULL, NULL, &rs, &e) == 0)
		kc_http_resp_free(&rs);
}

static int s3_put_multipart(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
			    int fd, uint64_t size, const char *object, struct kc_err *err)
{
	const uint64_t psz = ctx->cfg->s3_part_size;
	uint64_t nparts = (size + psz - 1) / psz;
	char side[2200], id[1024] = "", what[600];
	char (*etags)[80] = NULL;
	char *xml = NULL;
	size_t xo = 0, xcap;
	struct kc_http_resp rs;
	EVP_MD_CTX *mm = NULL;
	uint8_t md5cat[16], part_md5[16], sha[32];
	char want_mp[64], md5hex[33];
	int rc;

	if (nparts > MAX_PARTS)
		return kc_err_set(err, -EIO, "s3 %s: %" PRIu64 " parts exceed 10000; raise s3_part_size", object, nparts);
	if (sidecar(entry_dir, file, side, sizeof(side)) != 0)
		return kc_err_set(err, -EIO, "s3 %s: name too long", object);
	/* An upload left by an earlier run: abort it and start over (simple and
	 * correct; a part PUT is idempotent but we kept no part list). */
	{
		int sfd = open(side, O_RDONLY | O_CLOEXEC);

		if (sfd >= 0) {
			ssize_t r = read(sfd, id, sizeof(id) - 1);

			close(sfd);
			id[r > 0 ? r : 0] = '\0';
			id[strcspn(id, "\r\n")] = '\0';
			if (id[0])
				s3_abort(ctx, object, id);
			unlink(side);
			id[0] = '\0';
		}
	}
	{
		struct kc_kv q[1] = { { "uploads", NULL } };
		struct s3_body b = { .fd = -1, .content_type = "application/octet-stream" };
		size_t pos = 0;

		snprintf(what, sizeof(what), "%s (initiate multipart)", object);
		if ((rc = s3_call(ctx, what, "POST", object, q, 1, &b, NULL, &rs, err)) != 0)
			return rc;
		if (rs.status != 200)
			return s3_fail(ctx, what, &rs, err);
		rc = rs.body ? kc_xml_tag(rs.body, rs.len, &pos, "UploadId", id, sizeof(id)) : -ENOENT;
		kc_http_resp_free(&rs);
		if (rc != 0 || id[0] == '\0')
			return kc_err_set(err, -EAGAIN, "s3 %s: no UploadId in the answer", what);
	}
	{
		int sfd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (sfd >= 0) {
			if (write(sfd, id, strlen(id)) < 0 || fsync(sfd) != 0)
				kc_store_log(ctx, KC_STORE_LOG_WARN, "s3 %s: cannot persist the UploadId", object);
			close(sfd);
		}
	}
	etags = calloc(nparts, sizeof(*etags));
	xcap = 128 + nparts * 160;
	xml = malloc(xcap);
	mm = EVP_MD_CTX_new();
	if (etags == NULL || xml == NULL || mm == NULL || !EVP_DigestInit_ex(mm, EVP_md5(), NULL)) {
		rc = kc_err_set(err, -ENOMEM, "s3 %s: out of memory", object);
		goto abort;
	}
	for (uint64_t n = 0; n < nparts; n++) {
		uint64_t off = n * psz, len = KC_MIN(psz, size - off);
		char pn[16], md5b64[32], shahex[65];
		struct kc_kv q[2] = { { "partNumber", pn }, { "uploadId", id } };
		struct s3_body b = { .fd = fd, .off = off, .len = len, .sha256 = shahex, .md5_b64 = md5b64 };

		snprintf(pn, sizeof(pn), "%" PRIu64, n + 1);
		if ((rc = kc_fd_digests(fd, off, len, NULL, part_md5, sha)) != 0) {
			rc = kc_err_set(err, -EIO, "s3 %s: local read: %s", object, strerror(-rc));
			goto abort;
		}
		EVP_DigestUpdate(mm, part_md5, 16);
		kc_b64_encode(part_md5, 16, md5b64, sizeof(md5b64), false);
		kc_hex_lower(sha, 32, shahex);
		snprintf(what, sizeof(what), "%s (part %s/%" PRIu64 ")", object, pn, nparts);
		if ((rc = s3_call(ctx, what, "PUT", object, q, 2, &b, NULL, &rs, err)) != 0) {
			if (rc == -EAGAIN || rc == -ECANCELED)
				goto keep; /* resumable later: keep the sidecar */
			goto abort;
		}
		if (rs.status != 200) {
			rc = s3_fail(ctx, what, &rs, err);
			goto abort;
		}
		unquote(rs.etag, etags[n], sizeof(etags[n]));
		kc_http_resp_free(&rs);
		kc_hex_lower(part_md5, 16, md5hex);
		if (strcmp(etags[n], md5hex) != 0) {
			KC_STAT_ADD(ctx, fail_integrity, 1);
			rc = kc_err_set(err, -EAGAIN, "s3 %s: part ETag %s is not its MD5 %s", what, etags[n], md5hex);
			goto keep;
		}
	}
	xo = (size_t)snprintf(xml, xcap, "<CompleteMultipartUpload>");
	for (uint64_t n = 0; n < nparts; n++)
		xo += (size_t)snprintf(xml + xo, xcap - xo,
				       "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>\"%s\"</ETag></Part>",
				       n + 1, etags[n]);
	xo += (size_t)snprintf(xml + xo, xcap - xo, "</CompleteMultipartUpload>");
	{
		uint8_t xsha[32];
		char shahex[65];
		struct kc_kv q[1] = { { "uploadId", id } };
		struct s3_body b = { .mem = xml, .mem_len = xo, .fd = -1, .sha256 = shahex,
				     .content_type = "application/xml" };

		EVP_Digest(xml, xo, xsha, NULL, EVP_sha256(), NULL);
		kc_hex_lower(xsha, 32, shahex);
		snprintf(what, sizeof(what), "%s (complete multipart)", object);
		for (uint32_t attempt = 0;; attempt++) {
			char code[128] = "";
			size_t pos = 0;

			if ((rc = s3_call(ctx, what, "POST", object, q, 1, &b, NULL, &rs, err)) != 0)
				goto keep;
			if (rs.status == 404 && attempt > 0) {
				/* An earlier Complete did finish (its answer said otherwise or
				 * was lost): the upload id is gone. The HEAD below decides. */
				kc_http_resp_free(&rs);
				break;
			}
			if (rs.status != 200) {
				rc = s3_fail(ctx, what, &rs, err);
				goto abort;
			}
			/* Complete may answer 200 and then an <Error> body (it streams
			 * whitespace while it works): the status alone proves nothing. */
			if (rs.body != NULL && strstr(rs.body, "<Error>") != NULL) {
				kc_xml_tag(rs.body, rs.len, &pos, "Code", code, sizeof(code));
				kc_http_resp_free(&rs);
				rc = kc_err_set(err, -EAGAIN, "s3 %s: 200 with error %s", what, code);
				if ((strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0 ||
				     strcmp(code, "ServiceUnavailable") == 0) && attempt + 1 < ctx->cfg->retry_max) {
					KC_STAT_ADD(ctx, retries, 1);
					if (kc_store_backoff_sleep(ctx, attempt) != 0) {
						rc = -ECANCELED;
						goto keep;
					}
					continue;
				}
				if (strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0)
					goto keep;
				rc = kc_err_set(err, -EIO, "s3 %s: 200 with error %s", what, code);
				goto abort;
			}
			kc_http_resp_free(&rs);
			break;
		}
	}
	EVP_DigestFinal_ex(mm, md5cat, NULL);
	EVP_Digest(md5cat, 16, part_md5, NULL, EVP_md5(), NULL);
	kc_hex_lower(part_md5, 16, md5hex);
	snprintf(want_mp, sizeof(want_mp), "%s-%" PRIu64, md5hex, nparts);
	{
		uint8_t whole[16];
		char wholehex[33];

		if ((rc = kc_fd_digests(fd, 0, size, NULL, whole, NULL)) != 0) {
			rc = kc_err_set(err, -EIO, "s3 %s: local read", object);
			goto keep;
		}
		kc_hex_lower(whole, 16, wholehex);
		/* AWS: md5(md5(p1)||..)-N; some stores (s3rver) give the plain MD5. */
		rc = s3_confirm(ctx, object, size, want_mp, wholehex, err);
	}
	unlink(side);
	goto out;
abort:
	s3_abort(ctx, object, id);
	unlink(side);
	goto out;
keep:
	/* Leave the sidecar: the next pass aborts it and restarts. */
out:
	EVP_MD_CTX_free(mm);
	free(etags);
	free(xml);
	return rc;
}

int kc_s3_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
	      const char *object, struct kc_err *err)
{
	char path[2048];
	struct stat sb;
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/%s", entry_dir, file) >= (int)sizeof(path))
		return kc_err_set(err, -EIO, "s3: path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = kc_err_set(err, -EIO, "s3: cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if ((uint64_t)sb.st_size >= ctx->cfg->s3_multipart_threshold &&
	    (uint64_t)sb.st_size > ctx->cfg->s3_part_size)
		rc = s3_put_multipart(ctx, entry_dir, file, fd, (uint64_t)sb.st_size, object, err);
	else
		rc = s3_put_single(ctx, fd, (uint64_t)sb.st_size, object, err);
	close(fd);
	if (rc == -ENOENT)
		rc = -EIO;
	return rc;
}

int kc_s3_list(struct kc_store_ctx *ctx, const char *prefix, kc_store_list_fn cb, void *arg,
	       struct kc_err *err)
{
	char token[2048] = "";
	int count = 0, rc;

	for (;;) {
		struct kc_kv q[3] = { { "list-type", "2" }, { "prefix", prefix }, { "continuation-token", token } };
		struct kc_http_resp rs;
		size_t pos = 0;
		char key[2048], szs[32], trunc[16] = "";

		rc = s3_call(ctx, "list", "GET", "", q, token[0] ? 3 : 2, NULL, NULL, &rs, err);
		if (rc != 0)
			return rc == -EAGAIN ? -EIO : rc;
		if (rs.status != 200)
			return s3_fail(ctx, "list", &rs, err);
		if (rs.body == NULL) {
			kc_http_resp_free(&rs);
			return count;
		}
		for (;;) {
			size_t cpos = pos;
			uint64_t sz = 0;

			if (kc_xml_tag(rs.body, rs.len, &cpos, "Key", key, sizeof(key)) != 0)
				break;
			pos = cpos;
			if (kc_xml_tag(rs.body, rs.len, &cpos, "Size", szs, sizeof(szs)) == 0)
				(void)!kc_parse_u64(szs, 0, UINT64_MAX, &sz);
			if ((rc = cb(arg, key, sz)) != 0) {
				kc_http_resp_free(&rs);
				return rc;
			}
			count++;
		}
		pos = 0;
		kc_xml_tag(rs.body, rs.len, &pos, "IsTruncated", trunc, sizeof(trunc));
		pos = 0;
		if (strcmp(trunc, "true") == 0 &&
		    kc_xml_tag(rs.body, rs.len, &pos, "NextContinuationToken", token, sizeof(token)) == 0 &&
		    token[0] != '\0') {
			kc_http_resp_free(&rs);
			continue;
		}
		kc_http_resp_free(&rs);
		return count;
	}
}

int kc_s3_get(struct kc_store_ctx *ctx, const char *object, const char *tmp_path,
	      struct kc_err *err)
{
	struct kc_http_resp rs;
	char et[256], md5hex[33];
	uint8_t md5[16];
	uint64_t sz;
	int rc = s3_call(ctx, object, "GET", object, NULL, 0, NULL, tmp_path, &rs, err);

	if (rc != 0)
		return rc == -EAGAIN ? -EIO : rc;
	if (rs.status != 200)
		return s3_fail(ctx, object, &rs, err);
	unquote(rs.etag, et, sizeof(et));
	kc_http_resp_free(&rs);
	if ((rc = kc_file_digests(tmp_path, &sz, NULL, md5, NULL)) != 0)
		return kc_err_set(err, -EIO, "s3 get %s: %s", tmp_path, strerror(-rc));
	kc_hex_lower(md5, 16, md5hex);
	if (rs.has_content_length && rs.content_length != sz)
		return kc_err_set(err, -EIO, "s3 get %s: %" PRIu64 " bytes, expected %" PRIu64, object, sz,
				  rs.content_length);
	/* A plain ETag is the MD5; a multipart one ("...-N") is not checkable. */
	if (strchr(et, '-') == NULL && strlen(et) == 32 && strcmp(et, md5hex) != 0)
		return kc_err_set(err, -EIO, "s3 get %s: MD5 %s, ETag %s", object, md5hex, et);
	return 0;
}
