/* Config validation, destination URLs, masked printing, seed compatibility,
 * service-account key checks and the RS256 JWT (verified with the public
 * half of a key generated here). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "storage_internal.h"
#include "harness.h"

static EVP_PKEY *pkey;
static char *key_json;   /* a valid test key (JSON) */
static char pem_body_marker[64]; /* a line of the PEM body, must never leak */

static char *make_key_json(const char *type, const char *email, const char *pem, const char *uri)
{
	cJSON *j = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddStringToObject(j, "project_id", "kflcap-test");
	cJSON_AddStringToObject(j, "private_key_id", "0123456789abcdef");
	cJSON_AddStringToObject(j, "private_key", pem);
	cJSON_AddStringToObject(j, "client_email", email);
	cJSON_AddStringToObject(j, "token_uri", uri);
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static void setup_key(void)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem, *nl;
	long n;

	pkey = EVP_RSA_gen(2048);
	PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &pem);
	pem = strndup(pem, (size_t)n);
	BIO_free(b);
	nl = strchr(pem, '\n');
	snprintf(pem_body_marker, sizeof(pem_body_marker), "%.40s", nl + 1);
	key_json = make_key_json("service_account", "rec@kflcap-test.iam.gserviceaccount.com", pem,
				 "https://oauth2.example.test/token");
	free(pem);
}

static void test_url(void)
{
	struct kc_store_url u;
	struct kc_err e;
	char d[256];
	struct kc_store_cfg c;

	CHECK(kc_store_url_parse("gs://my-bucket/a/b/", &u, &e) == 0);
	CHECK(u.kind == KC_STORE_GCS);
	CHECK_STR(u.bucket, "my-bucket");
	CHECK_STR(u.prefix, "a/b");
	CHECK(kc_store_url_parse("s3://bkt", &u, &e) == 0);
	CHECK(u.kind == KC_STORE_S3);
	CHECK_STR(u.prefix, "");
	CHECK(kc_store_url_parse("file:///var/kflcap/archive/", &u, &e) == 0);
	CHECK(u.kind == KC_STORE_FILE);
	CHECK_STR(u.path, "/var/kflcap/archive");
	CHECK(kc_store_url_parse("file://relative", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("http://x/y", &u, &e) == -EINVAL);
	CHECK(strstr(e.msg, "unknown scheme") != NULL);
	CHECK(kc_store_url_parse("gs://UPPER/x", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("gs://ab", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("gs://bucket/a/../b", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("gs://bucket/a//b", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("gs://bucket/a\nb", &u, &e) == -EINVAL);
	CHECK(kc_store_url_parse("", &u, &e) == -EINVAL);

	kc_store_cfg_init(&c);
	snprintf(c.host, sizeof(c.host), "rec1");
	snprintf(c.ip, sizeof(c.ip), "10.0.0.7");
	snprintf(c.run_id, sizeof(c.run_id), "1700000000");
	CHECK(kc_store_url_parse("gs://bkt/pfx/x", &u, &e) == 0);
	CHECK(kc_store_object_dir(&c, &u, d, sizeof(d)) == 0);
	CHECK_STR(d, "pfx/x/rec1_10.0.0.7_1700000000");
	CHECK(kc_store_url_parse("s3://bkt", &u, &e) == 0);
	CHECK(kc_store_object_dir(&c, &u, d, sizeof(d)) == 0);
	CHECK_STR(d, "rec1_10.0.0.7_1700000000");
}

static void test_validate(void)
{
	struct kc_store_cfg c;
	struct kc_err e;
	char *bad;

	kc_store_cfg_init(&c);
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL); /* no dest */
	snprintf(c.dest, sizeof(c.dest), "file:///tmp/x");
	CHECK(kc_store_cfg_validate(&c, &e) == 0);
	c.quota_bytes = 1000;
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	CHECK(strstr(e.msg, "quota_bytes=1000") != NULL);
	c.quota_bytes = 1ull << 30;
	c.backoff_cap_ms = 10;
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	CHECK(strstr(e.msg, "backoff_cap_ms") != NULL);
	c.backoff_cap_ms = 32000;
	snprintf(c.host, sizeof(c.host), "a/b");
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	snprintf(c.host, sizeof(c.host), "rec-1");

	/* S3 */
	snprintf(c.dest, sizeof(c.dest), "s3://bucket/p");
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	CHECK(strstr(e.msg, "s3_access_key") != NULL);
	snprintf(c.s3_access_key, sizeof(c.s3_access_key), "AKID");
	snprintf(c.s3_secret_key, sizeof(c.s3_secret_key), "SECRETVALUE123");
	CHECK(kc_store_cfg_validate(&c, &e) == 0);
	c.s3_part_size = 1 << 20;
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	CHECK(strstr(e.msg, "SECRETVALUE123") == NULL);
	c.s3_part_size = KC_STORE_DEFAULT_S3_PART;
	snprintf(c.s3_endpoint, sizeof(c.s3_endpoint), "ftp://x");
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	c.s3_endpoint[0] = '\0';

	/* GCS */
	snprintf(c.dest, sizeof(c.dest), "gs://bucket/p");
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL); /* no key */
	snprintf(c.gcs_key, sizeof(c.gcs_key), "%s", key_json);
	CHECK(kc_store_cfg_validate(&c, &e) == 0);
	c.gcs_chunk = 100000;
	CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	CHECK(strstr(e.msg, "gcs_chunk") != NULL);
	c.gcs_chunk = 512 << 10;
	CHECK(kc_store_cfg_validate(&c, &e) == 0);

	/* http token_uri only with an explicit http:// endpoint */
	bad = make_key_json("service_account", "a@b.c", "x", "http://127.0.0.1:9/token");
	free(bad);
	{
		cJSON *j = cJSON_Parse(key_json);
		char *s;

		cJSON_ReplaceItemInObject(j, "token_uri", cJSON_CreateString("http://127.0.0.1:9/token"));
		s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		snprintf(c.gcs_key, sizeof(c.gcs_key), "%s", s);
		free(s);
		CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
		CHECK(strstr(e.msg, "token_uri") != NULL);
		snprintf(c.gcs_endpoint, sizeof(c.gcs_endpoint), "http://127.0.0.1:9");
		CHECK(kc_store_cfg_validate(&c, &e) == 0);
		snprintf(c.gcs_endpoint, sizeof(c.gcs_endpoint), "https://storage.example.test");
		CHECK(kc_store_cfg_validate(&c, &e) == -EINVAL);
	}
}

static void test_key(void)
{
	struct kc_gcs_key k;
	struct kc_err e;
	char *j, path[] = "/tmp/kc_test_key_XXXXXX";
	int fd;

	CHECK(kc_gcs_key_load(key_json, &k, &e) == 0);
	CHECK_STR(k.client_email, "rec@kflcap-test.iam.gserviceaccount.com");
	CHECK_STR(k.token_uri, "https://oauth2.example.test/token");
	kc_gcs_key_free(&k);

	/* From a path. */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, key_json, strlen(key_json)) == (ssize_t)strlen(key_json));
	close(fd);
	CHECK(kc_gcs_key_load(path, &k, &e) == 0);
	kc_gcs_key_free(&k);
	unlink(path);
	CHECK(kc_gcs_key_load("/nonexistent/key.json", &k, &e) == -EIO);

	j = make_key_json("authorized_user", "a@b.c", "x", "https://t");
	CHECK(kc_gcs_key_load(j, &k, &e) == -EINVAL);
	CHECK(strstr(e.msg, "type") != NULL);
	free(j);
	j = make_key_json("service_account", "a@b.c",
			  "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "https://t");
	CHECK(kc_gcs_key_load(j, &k, &e) == -EINVAL);
	CHECK(strstr(e.msg, "private_key") != NULL && strstr(e.msg, "AAAA") == NULL);
	free(j);
	j = make_key_json("service_account", "no-at-sign", "x", "https://t");
	CHECK(kc_gcs_key_load(j, &k, &e) == -EINVAL);
	free(j);
	CHECK(kc_gcs_key_load("{not json", &k, &e) == -EINVAL);
	CHECK(kc_gcs_key_load("", &k, &e) == -EINVAL);
}

static void test_jwt(void)
{
	struct kc_gcs_key k;
	struct kc_err e;
	char jwt[4096], part[2048];
	uint8_t dec[2048], sig[512];
	size_t n, sl;
	char *d1, *d2;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	cJSON *h, *c;

	CHECK(kc_gcs_key_load(key_json, &k, &e) == 0);
	CHECK(kc_gcs_jwt(&k, "https://www.googleapis.com/auth/devstorage.read_write", 1700000000,
			 jwt, sizeof(jwt), &e) == 0);
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	CHECK(d1 != NULL && d2 != NULL);
	if (d1 == NULL || d2 == NULL)
		return;
	/* Header and claims (base64url without padding → add it back). */
	snprintf(part, sizeof(part), "%.*s", (int)(d1 - jwt), jwt);
	CHECK(kc_b64_decode(part, strlen(part), dec, sizeof(dec), &n) == 0);
	dec[n] = 0;
	h = cJSON_Parse((char *)dec);
	CHECK_STR(cJSON_GetObjectItem(h, "alg")->valuestring, "RS256");
	CHECK_STR(cJSON_GetObjectItem(h, "typ")->valuestring, "JWT");
	CHECK_STR(cJSON_GetObjectItem(h, "kid")->valuestring, "0123456789abcdef");
	cJSON_Delete(h);
	snprintf(part, sizeof(part), "%.*s", (int)(d2 - d1 - 1), d1 + 1);
	CHECK(kc_b64_decode(part, strlen(part), dec, sizeof(dec), &n) == 0);
	dec[n] = 0;
	c = cJSON_Parse((char *)dec);
	CHECK_STR(cJSON_GetObjectItem(c, "iss")->valuestring, "rec@kflcap-test.iam.gserviceaccount.com");
	CHECK_STR(cJSON_GetObjectItem(c, "aud")->valuestring, "https://oauth2.example.test/token");
	CHECK_STR(cJSON_GetObjectItem(c, "scope")->valuestring,
		  "https://www.googleapis.com/auth/devstorage.read_write");
	CHECK_EQ_U(cJSON_GetObjectItem(c, "iat")->valuedouble, 1700000000);
	CHECK_EQ_U(cJSON_GetObjectItem(c, "exp")->valuedouble, 1700003600);
	cJSON_Delete(c);
	/* The signature verifies with the public half over "header.claims". */
	CHECK(strchr(d2 + 1, '=') == NULL && strchr(jwt, '+') == NULL && strchr(jwt, '/') == NULL);
	CHECK(kc_b64_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig), &sl) == 0);
	CHECK_EQ_U(sl, 256);
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
	CHECK(EVP_DigestVerify(md, sig, sl, (uint8_t *)jwt, (size_t)(d2 - jwt)) == 1);
	/* A tampered claim fails. */
	EVP_MD_CTX_reset(md);
	jwt[d1 - jwt + 3] ^= 1;
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
	CHECK(EVP_DigestVerify(md, sig, sl, (uint8_t *)jwt, (size_t)(d2 - jwt)) != 1);
	EVP_MD_CTX_free(md);
	kc_gcs_key_free(&k);
}

static void test_masked(void)
{
	struct kc_store_cfg c;
	struct kc_err e;
	char buf[4096];
	size_t n;

	kc_store_cfg_init(&c);
	CHECK(kc_store_cfg_from_seed(&c, "seed-bucket", key_json, &e) == 0);
	CHECK_STR(c.dest, "gs://seed-bucket");
	CHECK(kc_store_cfg_validate(&c, &e) == 0);
	snprintf(c.s3_secret_key, sizeof(c.s3_secret_key), "S3SECRETVALUE");
	snprintf(c.s3_session_token, sizeof(c.s3_session_token), "S3TOKENVALUE");
	n = kc_store_cfg_print_masked(&c, buf, sizeof(buf));
	CHECK(n > 100 && n < sizeof(buf));
	CHECK(strstr(buf, "gcs_key=<set: rec@kflcap-test.iam.gserviceaccount.com>") != NULL);
	CHECK(strstr(buf, "s3_secret_key=<set>") != NULL);
	CHECK(strstr(buf, "S3SECRETVALUE") == NULL);
	CHECK(strstr(buf, "S3TOKENVALUE") == NULL);
	CHECK(strstr(buf, pem_body_marker) == NULL);
	CHECK(strstr(buf, "PRIVATE KEY") == NULL);
	/* Truncation is safe and reports the full length. */
	CHECK_EQ_U(kc_store_cfg_print_masked(&c, buf, 10), n);
	CHECK_EQ_U(strlen(buf), 9);

	CHECK(kc_store_cfg_from_seed(&c, "b", NULL, &e) == -EINVAL);
	CHECK(kc_store_cfg_from_seed(&c, NULL, NULL, &e) == 0);
	kc_store_cfg_wipe(&c);
	CHECK(c.gcs_key[0] == 0 && c.s3_secret_key[0] == 0 && c.s3_session_token[0] == 0);
}

int main(void)
{
	setup_key();
	test_url();
	test_validate();
	test_key();
	test_jwt();
	test_masked();
	free(key_json);
	EVP_PKEY_free(pkey);
	return t_report();
}
