/*
 * Fuzz target: the KFL evaluator.
 *
 * Input layout: <filter text> NUL <JSON document>. Without a NUL the whole
 * input is the filter and the document is kfl.md's item H.
 * For each input that compiles: judge the document (read-only and with
 * redact applied), and judge items H and D both as struct kc_item and as
 * their kc_item_to_cjson() rendering; the two must agree (a differential
 * check of lib/kfl/kfl_item.c against lib/item/item_json.c).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item_json.h"
#include "kfl_test.h"
#include "fuzz_driver.h"

static struct kc_item g_h, g_d;
static cJSON *g_hj, *g_dj;
static struct kc_kfl_scratch *g_s;

static void init(void)
{
	if (g_s != NULL)
		return;
	t_item_h(&g_h);
	t_item_d(&g_d);
	g_hj = kc_item_to_cjson(&g_h);
	g_dj = kc_item_to_cjson(&g_d);
	g_s = kc_kfl_scratch_create(0);
	if (g_hj == NULL || g_dj == NULL || g_s == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	char *text = malloc(flen + 1);
	struct kc_kfl_prog *p = NULL;

	init();
	if (text == NULL)
		return 0;
	memcpy(text, data, flen);
	text[flen] = '\0';
	if (kc_kfl_compile_at(text, T_NOW_MS, &p, NULL, NULL, NULL) != 0) {
		free(text);
		return 0;
	}
	cJSON *doc = nul ? cJSON_ParseWithLength((const char *)nul + 1, size - flen - 1) :
			   cJSON_Parse(H_JSON);
	if (doc != NULL) {
		(void)kc_kfl_eval_json(p, doc, g_s);
		(void)kc_kfl_eval_json_mut(p, doc, g_s);
		(void)kc_kfl_redact_json(p, doc);
		cJSON_Delete(doc);
	}
	/* Skipped when the scratch overflowed: a full arena is a documented,
	 * counted degraded mode, and the two views use it differently. */
	uint64_t ov = kc_kfl_scratch_stats(g_s)->overflows;
	bool hi = kc_kfl_eval_item(p, &g_h, g_s), hj = kc_kfl_eval_json(p, g_hj, g_s);
	bool di = kc_kfl_eval_item(p, &g_d, g_s), dj = kc_kfl_eval_json(p, g_dj, g_s);
	if ((hi != hj || di != dj) && kc_kfl_scratch_stats(g_s)->overflows == ov)
		__builtin_trap(); /* struct view and JSON rendering disagree */
	kc_kfl_prog_free(p);
	free(text);
	return 0;
}
