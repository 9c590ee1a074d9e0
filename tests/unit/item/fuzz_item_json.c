/*
 * Fuzz target: the JSON renderer on arbitrary item bytes.
 *
 * Input layout: the bytes of a struct kc_item, copied over a zeroed item
 * (shorter inputs leave the rest zero; longer ones are cut). byte 0 of the
 * struct's proto field is reduced modulo KC_ITEM_PROTO_MAX + 1 so every
 * protocol branch (and one unknown value) is reached. Views, counts and
 * strings are whatever the input says: the renderers must clamp them, never
 * read outside the item, and always produce parseable JSON; and the direct
 * text writer (kc_item_to_json) must give the same bytes as its cJSON
 * reference (kc_item_to_json_cjson), and fit wherever the reference fits.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item.h"
#include "kc_item_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for any item's text (under 9 MiB: every view at most 6 x 8 KiB
 * escaped); allocated once, the fuzzer calls us millions of times. */
#define OUT_CAP (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *buf, *ref;
	struct kc_item *it = calloc(1, sizeof(*it));
	size_t len = 0, rlen = 0;
	int rc, rrc;
	char *exact;
	cJSON *back;

	if (buf == NULL) {
		buf = malloc(OUT_CAP);
		ref = malloc(OUT_CAP);
	}
	if (it == NULL || buf == NULL || ref == NULL)
		abort();
	memcpy(it, data, size < sizeof(*it) ? size : sizeof(*it));
	it->proto = (uint8_t)(it->proto % (KC_ITEM_PROTO_MAX + 1));
	rc = kc_item_to_json(it, buf, OUT_CAP, &len);
	rrc = kc_item_to_json_cjson(it, ref, OUT_CAP, &rlen);
	if (rc != 0 || (rrc == 0 && (rlen != len || memcmp(ref, buf, len + 1) != 0)))
		abort(); /* the direct writer must match its reference byte for byte */
	back = cJSON_Parse(buf);
	if (back == NULL)
		abort(); /* rendered text must be valid JSON */
	cJSON_Delete(back);
	/* Exactly the text and its NUL fits; one byte less fails cleanly. The
	 * buffers have exactly cap bytes, so ASan sees any write past cap. */
	exact = malloc(len + 1);
	if (exact == NULL)
		abort();
	if (kc_item_to_json(it, exact, len + 1, &rlen) != 0 || rlen != len ||
	    memcmp(exact, buf, len + 1) != 0)
		abort();
	if (kc_item_to_json(it, exact, len, NULL) != -ENOSPC)
		abort();
	free(exact);
	free(it);
	return 0;
}

#ifndef KC_FUZZING
/* Regular build: replay each corpus file named on the command line. */
int main(int argc, char **argv)
{
	static uint8_t in[sizeof(struct kc_item)];
	int n = 0;

	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		size_t len;

		if (fp == NULL) {
			fprintf(stderr, "%s: cannot open\n", argv[i]);
			return 1;
		}
		len = fread(in, 1, sizeof(in), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(in, len);
		n++;
	}
	printf("%d inputs replayed, invariants held\n", n);
	return n == 0;
}
#endif
