/* SigV4 against AWS's published vectors: the aws-sig-v4-test-suite cases
 * (service "service", us-east-1, 20150830T123600Z, AKIDEXAMPLE) and the S3
 * GET example of the S3 API reference (sig-v4-header-based-auth). */
#include "storage_internal.h"
#include "harness.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SCOPE "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static void suite(const char *name, const char *method, const char *path, const struct kc_kv *q,
		  size_t nq, const struct kc_kv *extra, size_t nextra, const char *payload,
		  const char *want_auth, const char *want_creq, const char *want_sts)
{
	struct kc_kv h[8] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" } };
	struct kc_sigv4_req r = { .method = method, .path = path, .query = q, .nquery = nq, .hdrs = h,
				  .nhdrs = 2 + nextra, .payload_hash = payload,
				  .amz_date = "20150830T123600Z", .region = "us-east-1",
				  .service = "service", .access_key = "AKIDEXAMPLE",
				  .secret = SUITE_SECRET };
	char creq[4096], sts[1024], auth[1024];
	int rc;

	for (size_t i = 0; i < nextra; i++)
		h[2 + i] = extra[i];
	rc = kc_sigv4_sign(&r, creq, sizeof(creq), sts, sizeof(sts), auth, sizeof(auth));
	CHECK(rc == 0);
	if (strcmp(auth, want_auth) != 0)
		fprintf(stderr, "vector %s:\n%s\n---\n%s\n", name, creq, sts);
	CHECK_STR(auth, want_auth);
	if (want_creq != NULL)
		CHECK_STR(creq, want_creq);
	if (want_sts != NULL)
		CHECK_STR(sts, want_sts);
}

int main(void)
{
	suite("get-vanilla", "GET", "/", NULL, 0, NULL, 0, EMPTY,
	      SCOPE "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
	      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	{
		struct kc_kv q[] = { { "Param2", "value2" }, { "Param1", "value1" } };

		suite("get-vanilla-query-order-key-case", "GET", "/", q, 2, NULL, 0, EMPTY,
		      SCOPE "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		      "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
	}
	suite("post-vanilla", "POST", "/", NULL, 0, NULL, 0, EMPTY,
	      SCOPE "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	      NULL, NULL);
	{
		struct kc_kv e[] = { { "My-Header1", "VALUE1" } };

		suite("post-header-value-case", "POST", "/", NULL, 0, e, 1, EMPTY,
		      SCOPE "SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
		      NULL, NULL);
	}
	{
		struct kc_kv e[] = { { "My-Header1", " value1" }, { "My-Header2", "\"a   b   c\"" } };

		suite("get-header-value-trim", "GET", "/", NULL, 0, e, 2, EMPTY,
		      SCOPE "SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
		      "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" EMPTY,
		      NULL);
	}
	suite("get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	      NULL, 0, NULL, 0, EMPTY,
	      SCOPE "SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
	      NULL, NULL);
	{
		struct kc_kv e[] = { { "Content-Type", "application/x-www-form-urlencoded" } };

		/* payload hash = sha256("Param1=value1") */
		suite("post-x-www-form-urlencoded", "POST", "/", NULL, 0, e, 1,
		      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		      SCOPE "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
		      NULL, NULL);
	}
	{
		/* S3 API reference, GET Object example. */
		struct kc_kv h[] = { { "host", "examplebucket.s3.amazonaws.com" },
				     { "range", "bytes=0-9" },
				     { "x-amz-content-sha256", EMPTY },
				     { "x-amz-date", "20130524T000000Z" } };
		struct kc_sigv4_req r = { .method = "GET", .path = "/test.txt", .hdrs = h, .nhdrs = 4,
					  .payload_hash = EMPTY, .amz_date = "20130524T000000Z",
					  .region = "us-east-1", .service = "s3",
					  .access_key = "AKIAIOSFODNN7EXAMPLE",
					  .secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
		char sts[1024], auth[1024];

		CHECK(kc_sigv4_sign(&r, NULL, 0, sts, sizeof(sts), auth, sizeof(auth)) == 0);
		CHECK_STR(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
		CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	}
	{
		/* The cases libcurl 7.88 gets wrong: "uploads=" and '/' in values. */
		struct kc_kv q[] = { { "uploads", NULL } };
		struct kc_kv q2[] = { { "prefix", "a/b c" }, { "list-type", "2" } };
		char out[256], p[256];

		CHECK(kc_sigv4_query(q, 1, out, sizeof(out)) == 0);
		CHECK_STR(out, "uploads=");
		CHECK(kc_sigv4_query(q2, 2, out, sizeof(out)) == 0);
		CHECK_STR(out, "list-type=2&prefix=a%2Fb%20c");
		CHECK(kc_sigv4_path("/bucket/pfx/h_1.2.3.4_r/e 1/a+b.json", p, sizeof(p)) == 0);
		CHECK_STR(p, "/bucket/pfx/h_1.2.3.4_r/e%201/a%2Bb.json");
	}
	return t_report();
}
