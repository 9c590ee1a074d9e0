/* AWS Signature Version 4 (header form), our own signer: libcurl 7.88's
 * CURLOPT_AWS_SIGV4 mis-canonicalises "?uploads" and '/' in query values
 * (docs/object-storage.md §3), and cannot be checked against fixed vectors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "storage_internal.h"

/* S3 does not double-encode: each segment is URI-encoded, '/' kept. */
int kc_sigv4_path(const char *raw, char *out, size_t n)
{
	if (raw == NULL || raw[0] == '\0')
		raw = "/";
	return kc_pct_encode(raw, out, n, "/");
}

struct qpair {
	char k[1024];
	char v[2048];
};

static int qcmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c != 0 ? c : strcmp(x->v, y->v);
}

int kc_sigv4_query(const struct kc_kv *q, size_t nq, char *out, size_t n)
{
	struct qpair *p;
	size_t o = 0;
	int rc = 0;

	out[0] = '\0';
	if (nq == 0)
		return 0;
	p = calloc(nq, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nq && rc == 0; i++) {
		rc = kc_pct_encode(q[i].k, p[i].k, sizeof(p[i].k), NULL);
		if (rc == 0)
			rc = kc_pct_encode(q[i].v ? q[i].v : "", p[i].v, sizeof(p[i].v), NULL);
	}
	/* Sorted by encoded name, then value (SigV4 canonical query string). */
	qsort(p, nq, sizeof(*p), qcmp);
	for (size_t i = 0; i < nq && rc == 0; i++) {
		int w = snprintf(out + o, n - o, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);

		if (w < 0 || (size_t)w >= n - o)
			rc = -ENAMETOOLONG;
		else
			o += (size_t)w;
	}
	free(p);
	return rc;
}

struct hdr {
	char name[128];
	char value[2048];
};

static int hcmp(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* Value: leading/trailing spaces removed, inner runs collapsed to one. */
static int trim_value(const char *in, char *out, size_t n)
{
	size_t o = 0;
	bool space = false;

	while (*in == ' ' || *in == '\t')
		in++;
	for (; *in; in++) {
		if (*in == ' ' || *in == '\t') {
			space = true;
			continue;
		}
		if (space && o > 0) {
			if (o + 1 >= n)
				return -ENAMETOOLONG;
			out[o++] = ' ';
		}
		space = false;
		if (o + 1 >= n)
			return -ENAMETOOLONG;
		out[o++] = *in;
	}
	out[o] = '\0';
	return 0;
}

static int hmac(const void *key, size_t kl, const void *msg, size_t ml, uint8_t out[32])
{
	unsigned int ol = 32;

	return HMAC(EVP_sha256(), key, (int)kl, msg, ml, out, &ol) ? 0 : -EIO;
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
	uint8_t h[32];

	EVP_Digest(d, n, h, NULL, EVP_sha256(), NULL);
	kc_hex_lower(h, 32, out);
}

#define APPEND(buf, cap, off, ...)                                              \
	do {                                                                    \
		int w_ = snprintf((buf) + (off), (cap) - (off), __VA_ARGS__);   \
		if (w_ < 0 || (size_t)w_ >= (cap) - (off)) {                    \
			rc = -ENAMETOOLONG;                                     \
			goto out;                                               \
		}                                                               \
		(off) += (size_t)w_;                                            \
	} while (0)

int kc_sigv4_sign(const struct kc_sigv4_req *r, char *creq_out, size_t creq_n, char *sts_out,
		  size_t sts_n, char *auth, size_t auth_n)
{
	const size_t cap = 32768;
	char *creq = malloc(cap), *sts = malloc(1024);
	char path[4096], query[8192], signed_h[1024], date[9], hash[65], scope[256], kbuf[300];
	struct hdr *h = calloc(r->nhdrs ? r->nhdrs : 1, sizeof(*h));
	uint8_t k1[32], k2[32], k3[32], k4[32], sig[32];
	char sighex[65];
	size_t o = 0, so = 0;
	int rc = 0;

	if (creq == NULL || sts == NULL || h == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (strlen(r->amz_date) != 16 || r->amz_date[8] != 'T') {
		rc = -EINVAL;
		goto out;
	}
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';
	if ((rc = kc_sigv4_path(r->path, path, sizeof(path))) != 0 ||
	    (rc = kc_sigv4_query(r->query, r->nquery, query, sizeof(query))) != 0)
		goto out;
	for (size_t i = 0; i < r->nhdrs; i++) {
		size_t l = strlen(r->hdrs[i].k);

		if (l == 0 || l >= sizeof(h[i].name)) {
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j <= l; j++)
			h[i].name[j] = (char)((r->hdrs[i].k[j] >= 'A' && r->hdrs[i].k[j] <= 'Z')
						      ? r->hdrs[i].k[j] + 32
						      : r->hdrs[i].k[j]);
		if ((rc = trim_value(r->hdrs[i].v, h[i].value, sizeof(h[i].value))) != 0)
			goto out;
	}
	qsort(h, r->nhdrs, sizeof(*h), hcmp);

	/* 1. Canonical request. */
	APPEND(creq, cap, o, "%s\n%s\n%s\n", r->method, path, query);
	for (size_t i = 0; i < r->nhdrs; i++)
		APPEND(creq, cap, o, "%s:%s\n", h[i].name, h[i].value);
	APPEND(creq, cap, o, "\n");
	for (size_t i = 0, so2 = 0; i < r->nhdrs; i++)
		APPEND(signed_h, sizeof(signed_h), so2, "%s%s", i ? ";" : "", h[i].name);
	if (r->nhdrs == 0)
		signed_h[0] = '\0';
	APPEND(creq, cap, o, "%s\n%s", signed_h, r->payload_hash);

	/* 2. String to sign. */
	sha256_hex(creq, o, hash);
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, r->region, r->service);
	APPEND(sts, 1024, so, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, hash);

	/* 3. Signing key: HMAC chain from "AWS4" + secret. */
	if (snprintf(kbuf, sizeof(kbuf), "AWS4%s", r->secret) >= (int)sizeof(kbuf)) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = hmac(kbuf, strlen(kbuf), date, 8, k1)) != 0 ||
	    (rc = hmac(k1, 32, r->region, strlen(r->region), k2)) != 0 ||
	    (rc = hmac(k2, 32, r->service, strlen(r->service), k3)) != 0 ||
	    (rc = hmac(k3, 32, "aws4_request", 12, k4)) != 0 ||
	    (rc = hmac(k4, 32, sts, so, sig)) != 0)
		goto out;
	kc_hex_lower(sig, 32, sighex);

	/* 4. Authorization header value. */
	if (auth != NULL) {
		int w = snprintf(auth, auth_n,
				 "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
				 r->access_key, scope, signed_h, sighex);
		if (w < 0 || (size_t)w >= auth_n)
			rc = -ENAMETOOLONG;
	}
	if (rc == 0 && creq_out != NULL) {
		if (o >= creq_n)
			rc = -ENAMETOOLONG;
		else
			memcpy(creq_out, creq, o + 1);
	}
	if (rc == 0 && sts_out != NULL) {
		if (so >= sts_n)
			rc = -ENAMETOOLONG;
		else
			memcpy(sts_out, sts, so + 1);
	}
out:
	OPENSSL_cleanse(kbuf, sizeof(kbuf));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	free(creq);
	free(sts);
	free(h);
	return rc;
}
