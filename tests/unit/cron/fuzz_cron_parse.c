/*
 * Fuzz target: kc_cron_parse() and kc_cron_next().
 *
 * Input layout: the whole input is the cron expression text (a NUL is
 * appended; embedded NULs end it early). When it parses, kc_cron_next() is
 * run from three reference times and must return -1 or a time strictly
 * after the reference that itself matches (checked by asking again from one
 * second earlier).
 *
 * Built with -Dfuzz=true (clang, libFuzzer); otherwise the same file builds a
 * replay driver (KC_FUZZ_STANDALONE) that runs every file of the seed corpus
 * directories given as arguments.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t refs[] = { 0, 1709164799, 4102444800 - 86400 };
	struct kc_cron c;
	struct kc_err err;
	char *s;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (kc_cron_parse(s, &c, &err) == 0) {
		for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
			time_t t = kc_cron_next(&c, refs[i]);

			if (t != -1 && (t <= refs[i] || kc_cron_next(&c, t - 1) != t))
				abort();
		}
	} else if (err.msg[0] == '\0') {
		abort(); /* every error carries a message */
	}
	free(s);
	return 0;
}

#ifdef KC_FUZZ_STANDALONE
#include "fuzz_replay.h"
#endif
