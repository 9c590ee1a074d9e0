/*
 * cJSON backend: presents any cJSON tree (Kubeshark entries, kflcap's item
 * log) through struct kfl_val, so every selector works on fields our item
 * model does not have. cJSON keeps no integer/float distinction, so a number
 * is an integer when it has no fraction and fits in 64 bits (exact up to
 * 2^53, which covers millisecond timestamps).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "kfl_internal.h"

static const struct kfl_ops json_ops;

void kfl_json_val(const cJSON *j, struct kfl_val *out)
{
	memset(out, 0, sizeof(*out));
	switch (j->type & 0xff) {
	case cJSON_False:
	case cJSON_True:
		out->t = KFL_BOOL;
		out->u.b = (j->type & 0xff) == cJSON_True;
		return;
	case cJSON_Number: {
		double d = j->valuedouble;
		if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
			out->t = KFL_INT;
			out->u.i = (int64_t)d;
		} else {
			out->t = KFL_FLOAT;
			out->u.f = d;
		}
		return;
	}
	case cJSON_String:
	case cJSON_Raw:
		out->t = KFL_STR;
		out->u.s = j->valuestring ? j->valuestring : "";
		out->len = (uint32_t)strlen(out->u.s);
		return;
	case cJSON_Array:
	case cJSON_Object:
		out->t = (j->type & 0xff) == cJSON_Array ? KFL_ARR : KFL_OBJ;
		out->u.p = j;
		out->ops = &json_ops;
		return;
	default:
		out->t = KFL_NULL;
		return;
	}
}

static uint32_t j_count(const struct kfl_val *c, struct kfl_ctx *x)
{
	uint32_t n = 0;
	for (const cJSON *e = ((const cJSON *)c->u.p)->child; e != NULL; e = e->next)
		n++;
	return n;
}

static int j_at(const struct kfl_val *c, uint32_t i, struct kfl_val *out, struct kfl_ctx *x)
{
	const cJSON *e = ((const cJSON *)c->u.p)->child;
	if (c->t != KFL_ARR)
		return -ENOENT;
	while (e != NULL && i > 0) {
		e = e->next;
		i--;
	}
	if (e == NULL)
		return -ENOENT;
	kfl_json_val(e, out);
	return 0;
}

static int j_get(const struct kfl_val *c, const char *key, size_t klen, struct kfl_val *out,
		 struct kfl_ctx *x)
{
	if (c->t != KFL_OBJ)
		return -ENOENT;
	for (const cJSON *e = ((const cJSON *)c->u.p)->child; e != NULL; e = e->next) {
		if (e->string != NULL && strncmp(e->string, key, klen) == 0 && e->string[klen] == '\0') {
			kfl_json_val(e, out);
			return 0;
		}
	}
	return -ENOENT;
}

static int j_each(const struct kfl_val *c, kfl_each_fn fn, void *arg, struct kfl_ctx *x)
{
	bool obj = c->t == KFL_OBJ;
	for (const cJSON *e = ((const cJSON *)c->u.p)->child; e != NULL; e = e->next) {
		struct kfl_val v;
		kfl_json_val(e, &v);
		const char *k = obj && e->string ? e->string : NULL;
		int r = fn(arg, k, k ? strlen(k) : 0, &v);
		if (r)
			return r;
	}
	return 0;
}

static const struct kfl_ops json_ops = {
	.count = j_count, .at = j_at, .get = j_get, .each = j_each,
};
