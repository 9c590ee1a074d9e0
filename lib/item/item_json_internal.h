/*
 * Shared by the two renderers of lib/item: the cJSON tree (item_json.c, used
 * for evaluation and as the reference text in the tests) and the direct text
 * writer (item_json_text.c, used for output). Both must follow the contract
 * at the top of item_json.c byte for byte; these helpers are the parts they
 * share so that they cannot drift apart.
 */
#ifndef KC_ITEM_JSON_INTERNAL_H
#define KC_ITEM_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kc_item.h"

/* Object keys (header, cookie, query names): at most this many input bytes. */
#define KC_ITEM_JSON_KEY_MAX 255

/* Clamp every view of @p it to its arena and every count to its table (the
 * renderers trust nothing they did not build). */
void kc_item_json_sanitize(struct kc_item *it);

/* RFC 3339 UTC of @p ts_us with the fraction's trailing zeros dropped
 * ("2024-01-02T03:04:05.1Z"); @p cap >= 40. */
void kc_item_json_rfc3339(uint64_t ts_us, char *buf, size_t cap);

/* The protocol object's macro and version of @p it ("http" and "1.1" from
 * "HTTP/1.1", "tls" and "1.3", ...). @p arena: where the item's strings are
 * (the text writer reads them in place, not from a copy of the item). */
const char *kc_item_json_proto_version(const struct kc_item *it, const char *arena, char ver[32]);

/* Standard base64 of @p n bytes, with padding, into @p out (room for
 * (n + 2) / 3 * 4 bytes; no NUL written). @return the length written. */
size_t kc_item_json_base64(const unsigned char *s, size_t n, char *out);

/* Is @p s valid UTF-8 (the renderers' rule) with no NUL byte? */
int kc_item_json_body_is_text(const unsigned char *s, size_t n);

#endif /* KC_ITEM_JSON_INTERNAL_H */
