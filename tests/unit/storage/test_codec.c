/* CRC32C, base64, hex, percent-encoding, backoff and the response parsers. */
#include <errno.h>
#include <stdlib.h>

#include "storage_internal.h"
#include "harness.h"

static void test_crc32c(void)
{
	uint8_t buf[32];
	char b64[9];

	CHECK_EQ_U(kc_store_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_U(kc_store_crc32c(0, "", 0), 0);
	/* RFC 3720 §B.4 vectors. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ_U(kc_store_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	CHECK_EQ_U(kc_store_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ_U(kc_store_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CHECK_EQ_U(kc_store_crc32c(0, buf, 32), 0x113FDB5Cu);
	/* Incremental == one shot, across the 8-byte slicing boundary. */
	for (size_t cut = 0; cut <= 9; cut++) {
		static const char digits[] = "123456789";
		uint32_t c = kc_store_crc32c(0, digits, cut);

		CHECK_EQ_U(kc_store_crc32c(c, &digits[cut], 9 - cut), 0xE3069283u);
	}
	/* The hardware path (when present) and the table agree everywhere. */
	{
		static uint8_t big[4096 + 16];
		uint32_t x = 12345;

		for (size_t i = 0; i < sizeof(big); i++) {
			x = x * 1103515245u + 12345u;
			big[i] = (uint8_t)(x >> 16);
		}
		for (size_t off = 0; off < 9; off++)
			for (size_t n = 0; n < 4096; n += 1 + n / 3)
				if (kc_store_crc32c(0x1234u, big + off, n) != kc_crc32c_sw(0x1234u, big + off, n)) {
					CHECK(!"hw and sw CRC32C differ");
					off = 9;
					break;
				}
		CHECK_EQ_U(kc_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	}
	/* GCS form: base64 of the big-endian bytes. */
	kc_crc32c_b64(0xE3069283u, b64);
	CHECK_STR(b64, "4waSgw==");
	kc_crc32c_b64(0, b64);
	CHECK_STR(b64, "AAAAAA==");
}

static void test_b64(void)
{
	char out[64];
	uint8_t dec[64];
	size_t n;

	/* RFC 4648 §10 vectors. */
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		CHECK_EQ_U(kc_b64_encode(in[i], strlen(in[i]), out, sizeof(out), false), strlen(std[i]));
		CHECK_STR(out, std[i]);
		kc_b64_encode(in[i], strlen(in[i]), out, sizeof(out), true);
		CHECK_STR(out, url[i]);
		CHECK(kc_b64_decode(std[i], strlen(std[i]), dec, sizeof(dec), &n) == 0);
		CHECK(n == strlen(in[i]) && memcmp(dec, in[i], n) == 0);
	}
	CHECK_EQ_U(kc_b64_encode("\xfb\xff", 2, out, sizeof(out), true), 3);
	CHECK_STR(out, "-_8");
	CHECK(kc_b64_encode("foobar", 6, out, 8, false) == 0); /* needs 9 */
	CHECK(kc_b64_decode("Zm9v!", 5, dec, sizeof(dec), &n) == -EINVAL);
	CHECK(kc_b64_decode("Z", 1, dec, sizeof(dec), &n) == -EINVAL);
	CHECK(kc_b64_decode("Zm9vYmFy", 8, dec, 5, &n) == -EINVAL);
}

static void test_hex_pct(void)
{
	char out[128];

	kc_hex_lower((const uint8_t *)"\x00\x9f\xff", 3, out);
	CHECK_STR(out, "009fff");
	CHECK(kc_pct_encode("a b/c~d.e_f-g", out, sizeof(out), NULL) == 0);
	CHECK_STR(out, "a%20b%2Fc~d.e_f-g");
	CHECK(kc_pct_encode("p/x+y=z", out, sizeof(out), "/") == 0);
	CHECK_STR(out, "p/x%2By%3Dz");
	CHECK(kc_pct_encode("\xc3\xa9", out, sizeof(out), NULL) == 0);
	CHECK_STR(out, "%C3%A9");
	CHECK(kc_pct_encode("abc", out, 3, NULL) == -ENAMETOOLONG);
	CHECK(kc_pct_encode(" ", out, 3, NULL) == -ENAMETOOLONG);
	CHECK(kc_pct_encode(" ", out, 4, NULL) == 0);
}

static void test_backoff(void)
{
	/* min(base*2^n + rnd % (base+1), cap) */
	CHECK_EQ_U(kc_store_backoff_ms(0, 1000, 32000, 0), 1000);
	CHECK_EQ_U(kc_store_backoff_ms(0, 1000, 32000, 1000), 2000);
	CHECK_EQ_U(kc_store_backoff_ms(0, 1000, 32000, 1001), 1000);
	CHECK_EQ_U(kc_store_backoff_ms(3, 1000, 32000, 250), 8250);
	CHECK_EQ_U(kc_store_backoff_ms(5, 1000, 32000, 500), 32000);
	CHECK_EQ_U(kc_store_backoff_ms(40, 1000, 32000, 7), 32000);
	CHECK_EQ_U(kc_store_backoff_ms(2, 10, 1000, 3), 43);
}

static void test_parsers(void)
{
	uint64_t p;
	char out[64], crc[16];
	size_t pos = 0;
	const char *x = "<R><UploadId>abc&amp;d&#65;&#x42;</UploadId><Key>k1</Key><Key>k2</Key></R>";

	CHECK(kc_gcs_parse_range("bytes=0-262143", &p) == 0);
	CHECK_EQ_U(p, 262144);
	CHECK(kc_gcs_parse_range("", &p) == 0);
	CHECK_EQ_U(p, 0);
	CHECK(kc_gcs_parse_range(NULL, &p) == 0);
	CHECK(kc_gcs_parse_range("bytes=1-5", &p) == -EINVAL);
	CHECK(kc_gcs_parse_range("bytes=0-", &p) == -EINVAL);
	CHECK(kc_gcs_parse_range("bytes=0-5x", &p) == -EINVAL);
	CHECK(kc_gcs_parse_range("items=0-5", &p) == -EINVAL);
	CHECK(kc_gcs_parse_range("bytes=0-18446744073709551615", &p) == -EINVAL);

	CHECK(kc_xml_tag(x, strlen(x), &pos, "UploadId", out, sizeof(out)) == 0);
	CHECK_STR(out, "abc&dAB");
	CHECK(kc_xml_tag(x, strlen(x), &pos, "Key", out, sizeof(out)) == 0);
	CHECK_STR(out, "k1");
	CHECK(kc_xml_tag(x, strlen(x), &pos, "Key", out, sizeof(out)) == 0);
	CHECK_STR(out, "k2");
	CHECK(kc_xml_tag(x, strlen(x), &pos, "Key", out, sizeof(out)) == -ENOENT);
	pos = 0;
	CHECK(kc_xml_tag("<a>x", 4, &pos, "a", out, sizeof(out)) == -EINVAL);
	pos = 0;
	CHECK(kc_xml_tag("<a>&bogus;</a>", 14, &pos, "a", out, sizeof(out)) == -EINVAL);
	pos = 0;
	CHECK(kc_xml_tag("<a>&#0;</a>", 11, &pos, "a", out, sizeof(out)) == -EINVAL);
	pos = 0;
	CHECK(kc_xml_tag("<a>abcdef</a>", 13, &pos, "a", out, 4) == -ENAMETOOLONG);

	CHECK(kc_gcs_hash_crc("crc32c=4waSgw==,md5=JfnnlDI7RTiF9RgfG2JNCw==", crc) == 0);
	CHECK_STR(crc, "4waSgw==");
	CHECK(kc_gcs_hash_crc("md5=JfnnlDI7RTiF9RgfG2JNCw==, crc32c=AAAAAA==", crc) == 0);
	CHECK_STR(crc, "AAAAAA==");
	CHECK(kc_gcs_hash_crc("md5=xx", crc) == -ENOENT);
	CHECK(kc_gcs_hash_crc("", crc) == -ENOENT);
}

int main(void)
{
	test_crc32c();
	test_b64();
	test_hex_pct();
	test_backoff();
	test_parsers();
	return t_report();
}
