/*
 * Item construction helpers: reset, arena puts, protocol names, header-name
 * canonicalisation. No allocation, no shared state.
 */
#include <string.h>

#include "kc_item.h"

void kc_item_reset(struct kc_item *it, enum kc_item_proto proto)
{
	/* Everything before the arena; the arena bytes are dead once
	 * arena_used is 0, so clearing 8 KiB per item would be wasted work. */
	memset(it, 0, offsetof(struct kc_item, arena));
	it->proto = (uint8_t)proto;
	if (proto == KC_ITEM_HTTP || proto == KC_ITEM_HTTP2 || proto == KC_ITEM_GRPC) {
		it->u.http.req_headers_size = -1;
		it->u.http.resp_headers_size = -1;
		it->u.http.req_body_size = -1;
		it->u.http.resp_body_size = -1;
		it->u.http.grpc_status = -1;
	}
}

int kc_item_put(struct kc_item *it, const void *data, size_t len, struct kc_str *out)
{
	out->off = 0;
	out->len = 0;
	if (len == 0)
		return 0;
	if (len > (size_t)KC_ITEM_ARENA_SIZE - it->arena_used) {
		it->flags |= KC_ITEM_F_TRUNCATED;
		return -ENOSPC;
	}
	memcpy(it->arena + it->arena_used, data, len);
	out->off = it->arena_used;
	out->len = (uint16_t)len;
	it->arena_used = (uint16_t)(it->arena_used + len);
	return 0;
}

int kc_item_append(struct kc_item *it, struct kc_str *s, const void *data, size_t len)
{
	size_t room = (size_t)KC_ITEM_ARENA_SIZE - it->arena_used;
	int at_end = s->len > 0 && (size_t)s->off + s->len == it->arena_used;

	if (len == 0)
		return 0;
	if (s->len == 0)
		return kc_item_put(it, data, len, s);
	if (at_end) {
		if (len > room) {
			it->flags |= KC_ITEM_F_TRUNCATED;
			return -ENOSPC;
		}
		memcpy(it->arena + it->arena_used, data, len);
		it->arena_used = (uint16_t)(it->arena_used + len);
		s->len = (uint16_t)(s->len + len);
		return 0;
	}
	/* Not the last string: move it to the end, then grow it there. The
	 * source lies wholly below arena_used, so memcpy cannot overlap. */
	if ((size_t)s->len + len > room) {
		it->flags |= KC_ITEM_F_TRUNCATED;
		return -ENOSPC;
	}
	memcpy(it->arena + it->arena_used, it->arena + s->off, s->len);
	memcpy(it->arena + it->arena_used + s->len, data, len);
	s->off = it->arena_used;
	s->len = (uint16_t)(s->len + len);
	it->arena_used = (uint16_t)(it->arena_used + s->len);
	return 0;
}

/* RFC 7230 section 3.2.6 tchar; Go's validHeaderFieldByte is the same set. */
static int is_tchar(unsigned char c)
{
	if ((unsigned)(c - 'a') < 26u || (unsigned)(c - 'A') < 26u || (unsigned)(c - '0') < 10u)
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	default:
		return 0;
	}
}

void kc_item_canon_header(char *name, size_t len)
{
	int upper = 1;

	/* Go leaves a key with any non-token byte alone (so ":path" and keys
	 * with spaces stay as sent). */
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)name[i]))
			return;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		name[i] = c;
		upper = c == '-';
	}
}

const struct kc_kv *kc_item_header_find(const struct kc_item *it, const struct kc_kv *kv,
					unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (kc_item_str_eq(it, kv[i].name, name))
			return &kv[i];
	return NULL;
}

static const char *const proto_names[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "tcp",   [KC_ITEM_UDP] = "udp",   [KC_ITEM_HTTP] = "http",
	[KC_ITEM_HTTP2] = "http", [KC_ITEM_GRPC] = "http", [KC_ITEM_DNS] = "dns",
	[KC_ITEM_TLS] = "tls",
};

static const char *const proto_abbrs[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "TCP",     [KC_ITEM_UDP] = "UDP",   [KC_ITEM_HTTP] = "HTTP",
	[KC_ITEM_HTTP2] = "HTTP/2", [KC_ITEM_GRPC] = "gRPC", [KC_ITEM_DNS] = "DNS",
	[KC_ITEM_TLS] = "TLS",
};

const char *kc_item_proto_name(enum kc_item_proto p)
{
	return (unsigned)p < KC_ITEM_PROTO_MAX ? proto_names[p] : "unknown";
}

const char *kc_item_proto_abbr(enum kc_item_proto p)
{
	return (unsigned)p < KC_ITEM_PROTO_MAX ? proto_abbrs[p] : "UNKNOWN";
}

uint64_t kc_item_elapsed_ms(const struct kc_item *it)
{
	if (it->resp_ts_us == 0 || it->ts_us == 0 || it->resp_ts_us < it->ts_us)
		return 0;
	/* Rounded to the nearest millisecond (kfl.md 10.1). */
	return (it->resp_ts_us - it->ts_us + 500) / 1000;
}
