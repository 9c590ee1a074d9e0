/*
 * Private to lib/decode and its tests.
 */
#ifndef KC_DECODE_INTERNAL_H
#define KC_DECODE_INTERNAL_H

#include "kc_decode.h"

/*
 * kc_decode_eth() without its fast path: the general decoder, which handles
 * every frame. kc_decode_eth() must give the same result and fill the same
 * fields with the same values for any frame; the decode tests and fuzz_decode
 * compare the two.
 */
enum kc_decode_res kc_decode_eth_general(const uint8_t *data, uint32_t caplen, struct kc_pkt *p);

#endif /* KC_DECODE_INTERNAL_H */
