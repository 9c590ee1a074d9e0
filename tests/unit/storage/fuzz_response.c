/*
 * Fuzz target for the parsers that read what storage servers send back:
 * kc_xml_tag (S3 XML: UploadId, Key/Size lists, Error codes),
 * kc_gcs_parse_range (the resumable 308 Range header) and kc_gcs_hash_crc
 * (x-goog-hash), plus kc_b64_decode.
 *
 * Input layout: byte 0 selects the XML tag to look for (index into a table
 * of the tags we parse, modulo its size); bytes 1.. are the body. The body
 * is also split at its first NUL: the part before is given, as a C string,
 * to the Range and x-goog-hash parsers. The XML parser is called in a loop
 * as the list parser does, so consecutive elements and the position
 * arithmetic are exercised.
 *
 * Built with -fsanitize=fuzzer when -Dfuzz=true; otherwise with
 * KC_FUZZ_REPLAY it is a normal test that replays every file of the seed
 * corpus directory given as argv[1].
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *tags[] = { "UploadId", "Key", "Size", "Code", "Message", "IsTruncated",
				      "NextContinuationToken", "ETag" };
	char out[256], hdr[512], crc[16];
	uint8_t dec[256];
	size_t pos = 0, n, dl;
	uint64_t persisted;
	const char *body;
	int guard = 0;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	n = size - 1;
	while (guard++ < 10000) {
		size_t before = pos;
		int rc = kc_xml_tag(body, n, &pos, tags[data[0] % KC_ARRAY_SIZE(tags)], out, sizeof(out));

		if (rc != 0)
			break;
		/* Progress is guaranteed: the position must move forward. */
		if (pos <= before || pos > n)
			abort();
		if (strlen(out) >= sizeof(out))
			abort();
	}
	dl = strnlen(body, KC_MIN(n, sizeof(hdr) - 1));
	memcpy(hdr, body, dl);
	hdr[dl] = '\0';
	if (kc_gcs_parse_range(hdr, &persisted) == 0 && hdr[0] != '\0' && persisted == 0)
		abort(); /* "bytes=0-N" always means N+1 >= 1 bytes */
	if (kc_gcs_hash_crc(hdr, crc) == 0 && strlen(crc) >= sizeof(crc))
		abort();
	if (kc_b64_decode(hdr, dl, dec, sizeof(dec), &n) == 0 && n > sizeof(dec))
		abort();
	return 0;
}

#ifdef KC_FUZZ_REPLAY
int main(int argc, char **argv)
{
	DIR *d;
	struct dirent *e;
	int files = 0;

	if (argc < 2 || (d = opendir(argv[1])) == NULL) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char p[4096];
		FILE *f;
		uint8_t *buf;
		long len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", argv[1], e->d_name);
		if ((f = fopen(p, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (buf != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len) {
			LLVMFuzzerTestOneInput(buf, (size_t)len);
			files++;
		}
		free(buf);
		fclose(f);
	}
	closedir(d);
	printf("%d corpus files replayed, 0 failed\n", files);
	return files > 0 ? 0 : 1;
}
#endif
