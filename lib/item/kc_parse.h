/**
 * @file
 * The contract between stream reassembly and the application dissectors
 * (style.md rule 5): a dissector is fed in-order bytes of one direction and
 * answers with one of three results. It never keeps a copy of bytes beyond its
 * own bounded per-flow state: unconsumed bytes are re-presented by the caller,
 * together with what arrived next, until the per-flow bound says no.
 *
 * Items are handed out through a kc_item_emit_fn; the item is borrowed for the
 * duration of the call only (copy it to keep it).
 */
#ifndef KC_PARSE_H
#define KC_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_item.h"

enum kc_parse_status {
	KC_PARSE_OK = 0,    /**< consumed bytes; call again with the rest */
	KC_PARSE_NEED_MORE, /**< nothing more can be done until `needed` more bytes arrive */
	KC_PARSE_ERROR,     /**< not this protocol / unrecoverable: stop feeding this direction */
};

struct kc_parse_res {
	uint8_t status;    /**< enum kc_parse_status */
	uint32_t consumed; /**< bytes of the input that may be released */
	uint32_t needed;   /**< with NEED_MORE: a hint, 0 when unknown */
};

/** Direction of bytes within a flow: the client is the side that opened it
 *  (SYN sender, first UDP datagram's source, or the guessed client). */
enum kc_dir {
	KC_DIR_C2S = 0,
	KC_DIR_S2C = 1,
};

/** Where a dissector delivers a finished item. @p item is borrowed. */
typedef void (*kc_item_emit_fn)(void *ctx, const struct kc_item *item);

/** Addressing of a flow, copied into every item a dissector builds.
 *  Client is src, server is dst. */
struct kc_flow_info {
	uint64_t stream_id;
	uint8_t family;   /**< 4 or 6 */
	uint8_t l4;       /**< IPPROTO_TCP / IPPROTO_UDP */
	uint8_t worker;
	uint16_t src_port, dst_port;
	uint8_t src_ip[16], dst_ip[16];
};

/**
 * Copy the addressing of @p fi into @p it (stream id, worker, family, l4,
 * client as src, server as dst). Does not touch index, flags or times.
 */
static inline void kc_item_set_flow(struct kc_item *it, const struct kc_flow_info *fi)
{
	it->stream_id = fi->stream_id;
	it->worker = fi->worker;
	it->family = fi->family;
	it->l4 = fi->l4;
	it->src_port = fi->src_port;
	it->dst_port = fi->dst_port;
	for (unsigned i = 0; i < 16; i++) {
		it->src_ip[i] = fi->src_ip[i];
		it->dst_ip[i] = fi->dst_ip[i];
	}
}

#endif /* KC_PARSE_H */
