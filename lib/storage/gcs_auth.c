/* Google service-account keys and the RS256 JWT assertion exchanged for an
 * OAuth2 access token (RFC 7523 jwt-bearer grant). Key material is wiped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "storage_internal.h"

#define KEY_FILE_MAX (64u << 10)

/* Read a key file (bounded). The caller wipes and frees the text. */
static int read_key_file(const char *path, char **out, size_t *outlen, struct kc_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return kc_err_set(err, -EIO, "gcs key %s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > KEY_FILE_MAX) {
		close(fd);
		return kc_err_set(err, -EINVAL, "gcs key %s: not a regular file of 1..%u bytes", path,
				  KEY_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return kc_err_set(err, -ENOMEM, "gcs key: out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return 0;
}

static int field(const cJSON *j, const char *name, char *out, size_t n, struct kc_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return kc_err_set(err, -EINVAL, "gcs key: field '%s' missing or not a string", name);
	if (strlen(v->valuestring) >= n)
		return kc_err_set(err, -EINVAL, "gcs key: field '%s' too long", name);
	snprintf(out, n, "%s", v->valuestring);
	return 0;
}

static bool json_safe(const char *s)
{
	/* Values we place into JWT JSON by hand: no quotes, backslashes or controls. */
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int kc_gcs_key_load(const char *src, struct kc_gcs_key *key, struct kc_err *err)
{
	char *text = NULL;
	size_t tlen = 0;
	const char *json = src;
	cJSON *j = NULL;
	const cJSON *pk, *type;
	BIO *bio = NULL;
	EVP_PKEY *p = NULL;
	int rc;

	memset(key, 0, sizeof(*key));
	if (src == NULL || src[0] == '\0')
		return kc_err_set(err, -EINVAL, "gcs key: not set (GCS_SA_KEY_JSON: the key JSON or a path to it)");
	while (*json == ' ' || *json == '\n' || *json == '\t' || *json == '\r')
		json++;
	if (*json != '{') {
		if ((rc = read_key_file(src, &text, &tlen, err)) != 0)
			return rc;
		json = text;
	}
	j = cJSON_Parse(json);
	if (j == NULL) {
		rc = kc_err_set(err, -EINVAL, "gcs key: not valid JSON");
		goto out;
	}
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "service_account") != 0) {
		rc = kc_err_set(err, -EINVAL, "gcs key: field 'type' is not \"service_account\"");
		goto out;
	}
	if ((rc = field(j, "client_email", key->client_email, sizeof(key->client_email), err)) ||
	    (rc = field(j, "token_uri", key->token_uri, sizeof(key->token_uri), err)))
		goto out;
	if (field(j, "private_key_id", key->private_key_id, sizeof(key->private_key_id), NULL) != 0)
		key->private_key_id[0] = '\0'; /* optional: only the JWT "kid" */
	if (strchr(key->client_email, '@') == NULL || !json_safe(key->client_email) ||
	    !json_safe(key->private_key_id) || !json_safe(key->token_uri)) {
		rc = kc_err_set(err, -EINVAL, "gcs key: client_email/private_key_id/token_uri malformed");
		goto out;
	}
	if (strncmp(key->token_uri, "https://", 8) != 0 && strncmp(key->token_uri, "http://", 7) != 0) {
		rc = kc_err_set(err, -EINVAL, "gcs key: token_uri is not an http(s) URL");
		goto out;
	}
	pk = cJSON_GetObjectItemCaseSensitive(j, "private_key");
	if (!cJSON_IsString(pk) ||
	    strstr(pk->valuestring, "-----BEGIN PRIVATE KEY-----") == NULL) {
		rc = kc_err_set(err, -EINVAL, "gcs key: field 'private_key' is not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
		goto out;
	}
	bio = BIO_new_mem_buf(pk->valuestring, -1);
	p = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (p == NULL || EVP_PKEY_get_base_id(p) != EVP_PKEY_RSA || EVP_PKEY_get_bits(p) < 2048) {
		/* OpenSSL's error queue may quote the input: drop it. */
		rc = kc_err_set(err, -EINVAL, "gcs key: 'private_key' does not parse as an RSA key of >= 2048 bits");
		EVP_PKEY_free(p);
		p = NULL;
		goto out;
	}
	key->pkey = p;
	key->pem = strdup(pk->valuestring);
	if (key->pem == NULL) {
		rc = kc_err_set(err, -ENOMEM, "gcs key: out of memory");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	if (j != NULL) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "private_key");

		if (cJSON_IsString(s))
			OPENSSL_cleanse(s->valuestring, strlen(s->valuestring));
		cJSON_Delete(j);
	}
	if (text != NULL) {
		OPENSSL_cleanse(text, tlen);
		free(text);
	}
	if (rc != 0)
		kc_gcs_key_free(key);
	return rc;
}

void kc_gcs_key_free(struct kc_gcs_key *key)
{
	if (key->pem != NULL) {
		OPENSSL_cleanse(key->pem, strlen(key->pem));
		free(key->pem);
	}
	EVP_PKEY_free(key->pkey); /* OpenSSL clears private key material on free */
	memset(key, 0, sizeof(*key));
}

int kc_gcs_jwt(const struct kc_gcs_key *key, const char *scope, int64_t now_s, char *out,
	       size_t n, struct kc_err *err)
{
	char hdr[256], claims[1536], b64[2048];
	uint8_t sig[1024];
	size_t siglen = sizeof(sig), o, l;
	EVP_MD_CTX *md = NULL;
	int rc = -EIO;

	if (key->private_key_id[0] != '\0')
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
			 key->private_key_id);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	/* Google rejects windows longer than one hour (exp - iat <= 3600). */
	snprintf(claims, sizeof(claims),
		 "{\"iss\":\"%s\",\"scope\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
		 key->client_email, scope, key->token_uri, (long long)now_s,
		 (long long)now_s + 3600);
	o = kc_b64_encode(hdr, strlen(hdr), out, n, true);
	if (o == 0 || o + 2 >= n)
		return kc_err_set(err, -ENAMETOOLONG, "gcs jwt: buffer too small");
	out[o++] = '.';
	l = kc_b64_encode(claims, strlen(claims), out + o, n - o, true);
	if (l == 0)
		return kc_err_set(err, -ENAMETOOLONG, "gcs jwt: buffer too small");
	o += l;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const uint8_t *)out, o) != 1) {
		kc_err_set(err, -EIO, "gcs jwt: RS256 signing failed");
		goto done;
	}
	l = kc_b64_encode(sig, siglen, b64, sizeof(b64), true);
	if (l == 0 || o + 1 + l + 1 > n) {
		kc_err_set(err, -ENAMETOOLONG, "gcs jwt: buffer too small");
		goto done;
	}
	out[o++] = '.';
	memcpy(out + o, b64, l + 1);
	rc = 0;
done:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return rc;
}
