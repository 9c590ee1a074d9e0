/* Private to lib/config. */
#ifndef KC_CONFIG_INTERNAL_H
#define KC_CONFIG_INTERNAL_H

#include "kc_config.h"

/* Position of a row in the key table (index into struct kc_config.src). */
size_t config_key_index(const struct kc_config_key *k);

#endif
