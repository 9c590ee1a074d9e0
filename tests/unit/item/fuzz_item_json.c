/*
 * Fuzz target: the JSON renderer on arbitrary item bytes.
 *
 * Input layout: the bytes of a struct kc_item, copied over a zeroed item
 * (shorter inputs leave the rest zero; longer ones are cut). byte 0 of the
 * struct's proto field is reduced modulo KC_ITEM_PROTO_MAX + 1 so every
 * protocol branch (and one unknown value) is reached. Views, counts and
 * strings are whatever the input says: the renderer must clamp them, never
 * read outside the item, and always produce parseable JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item.h"
#include "kc_item_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_item *it = calloc(1, sizeof(*it));
	char *buf = malloc(1 << 18);
	cJSON *back;

	if (it == NULL || buf == NULL)
		abort();
	memcpy(it, data, size < sizeof(*it) ? size : sizeof(*it));
	it->proto = (uint8_t)(it->proto % (KC_ITEM_PROTO_MAX + 1));
	if (kc_item_to_json(it, buf, 1 << 18, NULL) == 0) {
		back = cJSON_Parse(buf);
		if (back == NULL)
			abort(); /* rendered text must be valid JSON */
		cJSON_Delete(back);
	}
	free(buf);
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
