/**
 * @file
 * Rendering of a struct kc_item as Kubeshark's entry JSON (kfl.md sections 10
 * and 11). The exact field mapping is the contract written at the top of
 * item_json.c; the KFL accessors follow the same mapping.
 *
 * Off the hot path: the tree functions allocate (cJSON); kc_item_to_json()
 * does not. Thread safety: they only read @p it (scratch is per thread); any
 * thread may call them concurrently on different outputs.
 */
#ifndef KC_ITEM_JSON_H
#define KC_ITEM_JSON_H

#include <stddef.h>

#include <cJSON.h>

#include "kc_item.h"

/** Optional inputs of the renderer that are not part of the item. */
struct kc_item_json_opts {
	const char *src_name; /**< src.name (resolved name, "service.namespace"); NULL = "" */
	const char *dst_name; /**< dst.name; NULL = "" */
};

/**
 * Build the JSON tree of @p it, with the names in @p opts (may be NULL).
 * @return as kc_item_to_cjson().
 */
cJSON *kc_item_to_cjson_opts(const struct kc_item *it, const struct kc_item_json_opts *opts);

/**
 * Build the JSON tree of @p it.
 * @param it  the item (borrowed for the call).
 * @return a new tree the caller frees with cJSON_Delete(), or NULL with errno
 *         ENOMEM.
 */
cJSON *kc_item_to_cjson(const struct kc_item *it);

/**
 * Render @p it as one line of compact JSON (no newline) into @p buf,
 * NUL-terminated. Writes the text directly (no tree, no allocation): the
 * bytes are those cJSON prints for kc_item_to_cjson()'s tree, whole numbers
 * included (kc_item_to_json_cjson() is that reference).
 * @param it   the item (borrowed).
 * @param buf  output buffer of @p cap bytes.
 * @param len  when not NULL, receives the length without the NUL.
 * @return 0, or -ENOSPC (@p buf too small for the text and its NUL; @p buf
 *         then holds no valid JSON).
 */
int kc_item_to_json(const struct kc_item *it, char *buf, size_t cap, size_t *len);

/**
 * The reference for kc_item_to_json(): the same text printed through a cJSON
 * tree (slow: one allocation per node). For the tests and fuzz targets.
 * @return 0, -ENOMEM (allocation failed) or -ENOSPC (@p buf too small; cJSON
 *         asks for a few bytes of slack, so it can fail where
 *         kc_item_to_json() still fits).
 */
int kc_item_to_json_cjson(const struct kc_item *it, char *buf, size_t cap, size_t *len);

#endif /* KC_ITEM_JSON_H */
