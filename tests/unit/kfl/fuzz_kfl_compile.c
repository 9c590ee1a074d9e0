/*
 * Fuzz target: the KFL compiler.
 *
 * Input layout: the whole input is the filter text (a NUL byte ends it
 * early, as a C string would). Checks: compile never crashes or leaks; a
 * rejected filter has a message with a caret and a column inside the text;
 * an accepted filter's normalised text compiles again to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc_kfl.h"
#include "fuzz_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct kc_kfl_prog *p = NULL, *q = NULL;
	struct kc_err err;
	uint32_t line = 0, col = 0;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int rc = kc_kfl_compile_at(text, 1678675066172ULL, &p, &err, &line, &col);
	if (rc == -EINVAL) {
		if (strchr(err.msg, '^') == NULL || col == 0 || line == 0)
			__builtin_trap();
	} else if (rc == 0) {
		const char *norm = kc_kfl_prog_text(p);
		if (kc_kfl_compile_at(norm, 1678675066172ULL, &q, &err, NULL, NULL) != 0 ||
		    strcmp(kc_kfl_prog_text(q), norm) != 0)
			__builtin_trap(); /* normalisation must round-trip */
	}
	kc_kfl_prog_free(q);
	kc_kfl_prog_free(p);
	free(text);
	return 0;
}
