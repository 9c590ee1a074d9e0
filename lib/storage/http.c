/* One HTTP request over libcurl for the storage backends: bodies from memory
 * or from a byte range of a file, responses to memory (capped) or a file,
 * the few response headers the protocols need, and abort on stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "storage_internal.h"

#define DEFAULT_BODY_MAX (1u << 20)

struct xfer {
	struct kc_store_ctx *ctx;
	const struct kc_http_req *rq;
	struct kc_http_resp *rs;
	uint64_t sent;   /* request body bytes handed to curl */
	size_t body_cap; /* allocated size of rs->body */
	int io_err;      /* local read/write error (-errno) */
};

static size_t read_cb(char *buf, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	const struct kc_http_req *rq = x->rq;
	uint64_t total = rq->fd >= 0 ? rq->len : rq->body_len;
	size_t want = sz * nm, n;

	if (x->sent >= total)
		return 0;
	n = (size_t)KC_MIN((uint64_t)want, total - x->sent);
	if (rq->fd >= 0) {
		ssize_t r;

		do {
			r = pread(rq->fd, buf, n, (off_t)(rq->off + x->sent));
		} while (r < 0 && errno == EINTR);
		if (r <= 0) {
			x->io_err = r < 0 ? -errno : -EIO;
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)r;
	} else {
		memcpy(buf, (const char *)rq->body + x->sent, n);
	}
	x->sent += n;
	return n;
}

static size_t write_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	struct kc_http_resp *rs = x->rs;
	size_t n = sz * nm;
	size_t max = x->rq->body_max ? x->rq->body_max : DEFAULT_BODY_MAX;

	/* Downloads go to the caller's file only on success; error bodies are
	 * kept in memory so they can be described. */
	if (x->rq->out != NULL && rs->status >= 200 && rs->status < 300) {
		if (fwrite(p, 1, n, x->rq->out) != n) {
			x->io_err = -EIO;
			return 0;
		}
		return n;
	}
	if (rs->len + n > max) {
		rs->truncated = true;
		n = max - rs->len;
		if (n == 0)
			return sz * nm;
	}
	if (rs->len + n + 1 > x->body_cap) {
		size_t cap = KC_MAX(x->body_cap * 2, rs->len + n + 1);
		char *b = realloc(rs->body, cap);

		if (b == NULL) {
			x->io_err = -ENOMEM;
			return 0;
		}
		rs->body = b;
		x->body_cap = cap;
	}
	memcpy(rs->body + rs->len, p, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
	return sz * nm;
}

static void copy_hdr(char *dst, size_t dn, const char *v, size_t vl)
{
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	while (vl > 0 && *v == ' ') {
		v++;
		vl--;
	}
	if (vl >= dn)
		vl = dn - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

static size_t header_cb(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	struct kc_http_resp *rs = x->rs;
	size_t n = sz * nm;
	const char *colon = memchr(p, ':', n);
	size_t nl;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new status line (e.g. after 100 Continue): reset what we kept. */
		rs->location[0] = rs->range[0] = rs->etag[0] = rs->goog_hash[0] = '\0';
		rs->has_content_length = false;
		long st = 0;
		const char *sp = memchr(p, ' ', n);
		if (sp != NULL)
			st = strtol(sp + 1, NULL, 10);
		rs->status = st;
		return n;
	}
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - p);
	colon++;
	if (nl == 8 && strncasecmp(p, "location", 8) == 0)
		copy_hdr(rs->location, sizeof(rs->location), colon, n - nl - 1);
	else if (nl == 5 && strncasecmp(p, "range", 5) == 0)
		copy_hdr(rs->range, sizeof(rs->range), colon, n - nl - 1);
	else if (nl == 4 && strncasecmp(p, "etag", 4) == 0)
		copy_hdr(rs->etag, sizeof(rs->etag), colon, n - nl - 1);
	else if (nl == 11 && strncasecmp(p, "x-goog-hash", 11) == 0) {
		/* GCS sends one x-goog-hash per algorithm: join them. */
		char v[128];
		size_t l = strlen(rs->goog_hash);

		copy_hdr(v, sizeof(v), colon, n - nl - 1);
		snprintf(rs->goog_hash + l, sizeof(rs->goog_hash) - l, "%s%s", l ? "," : "", v);
	} else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
		char v[32];

		copy_hdr(v, sizeof(v), colon, n - nl - 1);
		rs->has_content_length = kc_parse_u64(v, 0, UINT64_MAX, &rs->content_length) == 0;
	}
	return n;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;

	return atomic_load(x->ctx->abort) ? 1 : 0;
}

int kc_http_do(struct kc_store_ctx *ctx, const struct kc_http_req *rq, struct kc_http_resp *rs)
{
	CURL *c = ctx->curl;
	struct xfer x = { .ctx = ctx, .rq = rq, .rs = rs };
	struct curl_slist *h = rq->headers;
	bool has_body = rq->fd >= 0 || rq->body != NULL || strcmp(rq->method, "PUT") == 0 ||
			strcmp(rq->method, "POST") == 0;
	uint64_t blen = rq->fd >= 0 ? rq->len : rq->body_len;
	CURLcode cc;

	memset(rs, 0, sizeof(*rs));
	if (atomic_load(ctx->abort))
		return -ECANCELED;
	curl_easy_reset(c); /* keeps the connection cache */
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled transfer (under 1 byte/s for timeout_s) is a transient error. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ctx->cfg->timeout_s);
	/* Peer verification stays on (the default); only the CA set may change. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ctx->cfg->ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cfg->ca_file);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	/* No "Expect: 100-continue" round trip: the servers answer errors anyway. */
	h = curl_slist_append(h, "Expect:");
	if (h == NULL)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	KC_STAT_ADD(ctx, requests, 1);
	cc = curl_easy_perform(c);
	/* Detach our "Expect:" node from the caller's list before freeing it. */
	if (rq->headers == NULL) {
		curl_slist_free_all(h);
	} else {
		struct curl_slist *p = rq->headers;

		while (p->next != NULL && p->next->next != NULL)
			p = p->next;
		curl_slist_free_all(p->next);
		p->next = NULL;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	rs->cc = cc;
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	if (x.io_err != 0 && cc != CURLE_OK)
		return x.io_err == -ENOMEM ? -ENOMEM : -EIO;
	if (cc == CURLE_ABORTED_BY_CALLBACK || atomic_load(ctx->abort))
		return -ECANCELED;
	if (cc != CURLE_OK)
		return -EIO;
	return 0;
}

void kc_http_resp_free(struct kc_http_resp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
}

bool kc_http_transient(int rc, const struct kc_http_resp *rs)
{
	if (rc == -ECANCELED || rc == -ENOMEM)
		return false;
	/* A peer that fails verification stays wrong until someone fixes the
	 * CA or the endpoint: report it once instead of retrying. */
	if (rc != 0 && (rs->cc == CURLE_PEER_FAILED_VERIFICATION || rs->cc == CURLE_SSL_CACERT_BADFILE ||
			rs->cc == CURLE_SSL_CERTPROBLEM || rs->cc == CURLE_UNSUPPORTED_PROTOCOL ||
			rs->cc == CURLE_URL_MALFORMAT))
		return false;
	if (rc != 0)
		return true; /* connection refused/reset, timeout, TLS hiccup */
	return rs->status == 408 || rs->status == 429 || rs->status >= 500;
}

void kc_http_describe(const struct kc_http_resp *rs, int rc, char *out, size_t n)
{
	char code[128] = "", msg[256] = "";

	if (rc == -ECANCELED) {
		snprintf(out, n, "aborted (stopping)");
		return;
	}
	if (rc != 0) {
		snprintf(out, n, "connection error: %s", curl_easy_strerror(rs->cc));
		return;
	}
	if (rs->body != NULL && rs->len > 0 && rs->body[0] == '{') {
		cJSON *j = cJSON_ParseWithLength(rs->body, rs->len);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "error_description");

		if (cJSON_IsString(e))
			snprintf(code, sizeof(code), "%s", e->valuestring);
		if (cJSON_IsString(m))
			snprintf(msg, sizeof(msg), "%s", m->valuestring);
		else if (cJSON_IsString(d))
			snprintf(msg, sizeof(msg), "%s", d->valuestring);
		cJSON_Delete(j);
	} else if (rs->body != NULL && rs->len > 0) {
		size_t pos = 0;

		kc_xml_tag(rs->body, rs->len, &pos, "Code", code, sizeof(code));
		pos = 0;
		kc_xml_tag(rs->body, rs->len, &pos, "Message", msg, sizeof(msg));
	}
	snprintf(out, n, "HTTP %ld%s%s%s%s%s", rs->status, code[0] || msg[0] ? " (" : "", code,
		 code[0] && msg[0] ? ": " : "", msg, code[0] || msg[0] ? ")" : "");
}
