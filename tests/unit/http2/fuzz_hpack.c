/*
 * Fuzz target for the HPACK decoder (kc_hpack_decode).
 *
 * Input layout:
 *   byte 0      options: bit 0 start partial (mid-stream join);
 *               bits 1-2 SETTINGS_HEADER_TABLE_SIZE: 0 -> 4096, 1 -> 256,
 *               2 -> 0, 3 -> 65536 (larger than the table cap)
 *   bytes 1..   header blocks separated by the 4 bytes "HPK|", decoded in
 *               order by one decoder (so table state carries over)
 *
 * Checked after every block that decoded (0 or -ENOENT): the table's size is
 * the sum of its entries, within max_size and KC_HPACK_TABLE_CAP, and every
 * entry lies inside the data store. After -EINVAL the decoder is dropped, as
 * the dissector does. Without -DKC_FUZZING this builds a replay driver that
 * runs each corpus file given on the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_hpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int field_fn(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		    size_t vlen, unsigned flags)
{
	size_t *sum = ctx;
	volatile uint8_t x = 0;

	/* touch every byte so ASan sees the views */
	for (size_t i = 0; i < nlen; i++)
		x ^= name[i];
	for (size_t i = 0; i < vlen; i++)
		x ^= value[i];
	(void)x;
	/* a cut string is exactly KC_HPACK_MAX_STRING long */
	if ((flags & KC_HPACK_F_TRUNCATED) && nlen != KC_HPACK_MAX_STRING &&
	    vlen != KC_HPACK_MAX_STRING)
		abort();
	*sum += nlen + vlen;
	return 0;
}

static void check_table(const struct kc_hpack_dec *d)
{
	uint32_t sum = 0;

	if (d->count > KC_HPACK_MAX_ENTRIES || d->size > KC_HPACK_TABLE_CAP ||
	    d->size > d->max_size || d->data_start > d->data_end ||
	    d->data_end > KC_HPACK_TABLE_CAP)
		abort();
	for (unsigned i = 1; i <= d->count; i++) {
		const uint8_t *n, *v;
		size_t nl, vl;

		if (kc_hpack_dec_entry(d, i, &n, &nl, &v, &vl) != 0)
			abort();
		if (n < d->data || v + vl > d->data + d->data_end)
			abort();
		sum += (uint32_t)(nl + vl + 32);
	}
	if (sum != d->size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kc_hpack_dec d;
	static const uint32_t limits[4] = { 4096, 256, 0, 65536 };
	size_t off = 1, sum = 0;

	if (size < 1)
		return 0;
	kc_hpack_dec_init(&d, limits[(data[0] >> 1) & 3]);
	if (data[0] & 1)
		kc_hpack_dec_set_partial(&d);
	while (off <= size) {
		size_t end = off;
		int rc;

		while (end + 4 <= size && memcmp(data + end, "HPK|", 4) != 0)
			end++;
		if (end + 4 > size)
			end = size;
		rc = kc_hpack_decode(&d, data + off, end - off, field_fn, &sum);
		if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
			abort();
		if (rc == -EINVAL)
			break;
		check_table(&d);
		off = end + 4;
	}
	return 0;
}

#ifndef KC_FUZZING
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int files = 0;

	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		size_t n;

		if (fp == NULL) {
			fprintf(stderr, "cannot open %s\n", argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, n);
		files++;
	}
	printf("%d corpus files replayed\n", files);
	return files > 0 ? 0 : 1;
}
#endif
