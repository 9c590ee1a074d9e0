/* Checksums and text codecs for the storage backends: CRC32C, base64,
 * hex, percent-encoding, file digests and the backoff formula. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "storage_internal.h"

/*
 * CRC32C (Castagnoli), reflected polynomial 0x82F63B78, init and final XOR
 * 0xFFFFFFFF (RFC 3720 §B.4). Slicing-by-8: eight 256-entry tables let the
 * loop fold eight input bytes per step; the tables are built once, lazily,
 * under pthread_once so any thread may call.
 */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t kc_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&crc_once, crc_init);
	while (len >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;

		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xff];
	return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* SSE4.2's crc32 instruction is CRC32C (same reflected polynomial); the
 * init/final inversion stays ours. Picked at run time. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc & 0xffffffffu;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t kc_store_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, buf, len);
#endif
	return kc_crc32c_sw(crc, buf, len);
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kc_b64_encode(const void *in, size_t n, char *out, size_t outn, bool url_nopad)
{
	const uint8_t *p = in;
	const char *a = url_nopad ? b64url : b64std;
	size_t need = url_nopad ? (n * 4 + 2) / 3 : (n + 2) / 3 * 4;
	size_t o = 0;

	if (need + 1 > outn)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rem = n - i;

		if (rem > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (rem > 2)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (rem > 1)
			out[o++] = a[(v >> 6) & 63];
		else if (!url_nopad)
			out[o++] = '=';
		if (rem > 2)
			out[o++] = a[v & 63];
		else if (!url_nopad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int kc_b64_decode(const char *in, size_t n, uint8_t *out, size_t outn, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outn)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* A lone sextet (n % 4 == 1) cannot encode a byte. */
	if (bits >= 6)
		return -EINVAL;
	*outlen = o;
	return 0;
}

void kc_hex_lower(const uint8_t *in, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[in[i] >> 4];
		out[2 * i + 1] = h[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int kc_pct_encode(const char *in, char *out, size_t outn, const char *keep)
{
	static const char h[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			     *p == '~' || (keep != NULL && *p != 0 && strchr(keep, *p) != NULL);

		if (o + (plain ? 1 : 3) >= outn)
			return -ENAMETOOLONG;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = h[*p >> 4];
			out[o++] = h[*p & 15];
		}
	}
	if (o >= outn)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

void kc_crc32c_b64(uint32_t crc, char out[9])
{
	/* GCS: base64 of the four bytes in big-endian order. */
	uint8_t be[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
			  (uint8_t)crc };

	kc_b64_encode(be, 4, out, 9, false);
}

int kc_fd_digests(int fd, uint64_t off, uint64_t len, uint32_t *crc, uint8_t md5[16],
		  uint8_t sha256[32])
{
	static const size_t bufsz = 1 << 16;
	EVP_MD_CTX *m = NULL, *s = NULL;
	uint8_t *buf = malloc(bufsz);
	uint32_t c = 0;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	if (md5 != NULL && ((m = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(m, EVP_md5(), NULL)))
		rc = -ENOMEM;
	if (rc == 0 && sha256 != NULL &&
	    ((s = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(s, EVP_sha256(), NULL)))
		rc = -ENOMEM;
	while (rc == 0 && len > 0) {
		ssize_t r = pread(fd, buf, KC_MIN(bufsz, len), (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0) {
			rc = -EIO; /* file shorter than expected */
			break;
		}
		c = kc_store_crc32c(c, buf, (size_t)r);
		if (m != NULL)
			EVP_DigestUpdate(m, buf, (size_t)r);
		if (s != NULL)
			EVP_DigestUpdate(s, buf, (size_t)r);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	if (rc == 0) {
		if (crc != NULL)
			*crc = c;
		if (m != NULL)
			EVP_DigestFinal_ex(m, md5, NULL);
		if (s != NULL)
			EVP_DigestFinal_ex(s, sha256, NULL);
	}
	EVP_MD_CTX_free(m);
	EVP_MD_CTX_free(s);
	free(buf);
	return rc;
}

int kc_file_digests(const char *path, uint64_t *size, uint32_t *crc, uint8_t md5[16],
		    uint8_t sha256[32])
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = kc_fd_digests(fd, 0, (uint64_t)st.st_size, crc, md5, sha256);
	close(fd);
	if (rc == 0 && size != NULL)
		*size = (uint64_t)st.st_size;
	return rc;
}

uint64_t kc_store_backoff_ms(uint32_t n, uint32_t base_ms, uint32_t cap_ms, uint32_t rnd)
{
	uint64_t d = n >= 32 ? cap_ms : (uint64_t)base_ms << n;

	d += rnd % ((uint64_t)base_ms + 1);
	return d > cap_ms ? cap_ms : d;
}
