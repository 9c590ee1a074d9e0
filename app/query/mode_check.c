/* kflcap-query --check: compile, print the normalised filter or the error. */
#include <stdio.h>

#include "query.h"

struct kc_kfl_prog *kq_compile(const char *text, FILE *err)
{
	struct kc_kfl_prog *p = NULL;
	struct kc_err e = { { 0 } };

	if (kc_kfl_compile(text, &p, &e) != 0) {
		fprintf(err, "%s\n", e.msg);
		return NULL;
	}
	return p;
}

int kq_mode_check(const struct kq_opts *o, FILE *out, FILE *err)
{
	struct kc_kfl_prog *p = kq_compile(o->kfl, err);

	if (p == NULL)
		return KQ_EXIT_FAIL;
	fprintf(out, "%s\n", kc_kfl_prog_text(p));
	kc_kfl_prog_free(p);
	return KQ_EXIT_OK;
}
