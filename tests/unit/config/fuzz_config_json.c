/*
 * Fuzz target: the configuration file parser (kc_config_load_json), then
 * kc_config_finish() and kc_config_print().
 *
 * Input layout: the whole input is the JSON document. Invariants: an error
 * always carries a message; printing never fails on a loaded config.
 *
 * Built with -Dfuzz=true (clang, libFuzzer); otherwise the same file builds a
 * replay driver (KC_FUZZ_STANDALONE) that runs the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kc_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct kc_config *c;
	struct kc_err err = { "" };

	if (devnull == NULL)
		devnull = fopen("/dev/null", "w");
	c = kc_config_new();
	if (c == NULL)
		return 0;
	if (kc_config_load_json(c, (const char *)data, size, "fuzz", &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
	} else {
		err.msg[0] = '\0';
		if (kc_config_finish(c, &err) < 0 && err.msg[0] == '\0')
			abort();
		if (devnull != NULL && kc_config_print(c, devnull) != 0)
			abort();
	}
	kc_config_free(c);
	return 0;
}

#ifdef KC_FUZZ_STANDALONE
#include "fuzz_replay.h"
#endif
