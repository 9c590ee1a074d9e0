/* Tiny parsers for what storage servers send back: S3 XML elements, the GCS
 * resumable Range header and x-goog-hash. They read untrusted bytes and are
 * fuzzed (tests/unit/storage/fuzz_response.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "storage_internal.h"

static const char *memfind(const char *h, size_t hl, const char *n, size_t nl)
{
	if (nl == 0 || hl < nl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* Append one code point as UTF-8. @return bytes written or -1. */
static int put_utf8(char *out, size_t room, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	if (cp < 0x80 && room >= 1) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800 && room >= 2) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000 && room >= 3) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp >= 0x10000 && room >= 4) {
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
		return 4;
	}
	return -1;
}

int kc_xml_tag(const char *body, size_t len, size_t *pos, const char *tag, char *out,
	       size_t outn)
{
	char open[80], close[80];
	const char *s, *e, *v;
	size_t o = 0;
	int ol = snprintf(open, sizeof(open), "<%s>", tag);
	int cl = snprintf(close, sizeof(close), "</%s>", tag);

	if (ol < 0 || cl < 0 || (size_t)ol >= sizeof(open) || (size_t)cl >= sizeof(close) ||
	    outn == 0 || *pos > len)
		return -EINVAL;
	s = memfind(body + *pos, len - *pos, open, (size_t)ol);
	if (s == NULL)
		return -ENOENT;
	v = s + ol;
	e = memfind(v, len - (size_t)(v - body), close, (size_t)cl);
	if (e == NULL)
		return -EINVAL;
	for (const char *p = v; p < e;) {
		if (*p != '&') {
			if (o + 1 >= outn)
				return -ENAMETOOLONG;
			out[o++] = *p++;
			continue;
		}
		const char *semi = memchr(p, ';', (size_t)(e - p));
		size_t el;
		int w;

		if (semi == NULL)
			return -EINVAL;
		el = (size_t)(semi - p) + 1;
		char c = 0;
		if (el == 5 && memcmp(p, "&amp;", 5) == 0)
			c = '&';
		else if (el == 4 && memcmp(p, "&lt;", 4) == 0)
			c = '<';
		else if (el == 4 && memcmp(p, "&gt;", 4) == 0)
			c = '>';
		else if (el == 6 && memcmp(p, "&quot;", 6) == 0)
			c = '"';
		else if (el == 6 && memcmp(p, "&apos;", 6) == 0)
			c = '\'';
		if (c != 0) {
			if (o + 1 >= outn)
				return -ENAMETOOLONG;
			out[o++] = c;
		} else if (el >= 4 && el <= 12 && p[1] == '#') {
			char num[16];
			char *end;
			bool hex = p[2] == 'x' || p[2] == 'X';
			size_t nl = el - (hex ? 4 : 3);
			unsigned long cp;

			if (nl == 0 || nl >= sizeof(num))
				return -EINVAL;
			memcpy(num, p + (hex ? 3 : 2), nl);
			num[nl] = '\0';
			if (num[0] == '-' || num[0] == '+' || num[0] == ' ')
				return -EINVAL;
			cp = strtoul(num, &end, hex ? 16 : 10);
			if (*end != '\0')
				return -EINVAL;
			w = put_utf8(out + o, outn - o - 1, cp);
			if (w < 0)
				return -EINVAL;
			o += (size_t)w;
		} else {
			return -EINVAL;
		}
		p = semi + 1;
	}
	out[o] = '\0';
	*pos = (size_t)(e - body) + (size_t)cl;
	return 0;
}

int kc_gcs_parse_range(const char *range, uint64_t *persisted)
{
	const char *p;
	char *end;
	unsigned long long first, last;

	*persisted = 0;
	if (range == NULL || range[0] == '\0')
		return 0;
	/* RFC 9110 §14.1.2 byte range, as GCS sends it: "bytes=0-N". */
	if (strncmp(range, "bytes=", 6) != 0)
		return -EINVAL;
	p = range + 6;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	first = strtoull(p, &end, 10);
	if (errno != 0 || *end != '-' || first != 0)
		return -EINVAL;
	p = end + 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	last = strtoull(p, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != '\r' && *end != '\n') || last == UINT64_MAX)
		return -EINVAL;
	*persisted = (uint64_t)last + 1;
	return 0;
}

int kc_gcs_hash_crc(const char *hdr, char out[16])
{
	const char *p = hdr;

	while (p != NULL && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "crc32c=", 7) == 0) {
			size_t n = strcspn(p + 7, ", \r\n");

			if (n == 0 || n > 15)
				return -ENOENT;
			memcpy(out, p + 7, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, ',');
	}
	return -ENOENT;
}
