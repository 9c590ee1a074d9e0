/**
 * @file
 * Text names used in rendered items, shared by the DNS and TLS dissectors and
 * the JSON renderer: DNS types, classes, response codes and opcodes in the
 * spelling Kubeshark uses (gopacket's), TLS versions.
 *
 * Every function returns a pointer to a static string, or NULL when the
 * value has no name (callers render the number). Any thread may call them.
 */
#ifndef KC_ITEM_NAMES_H
#define KC_ITEM_NAMES_H

#include <stdint.h>

/** "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "OPT", "URI",
 *  "HTTPS", ...; NULL when unnamed. */
const char *kc_item_dns_type_name(uint16_t type);

/** "IN", "CS", "CH", "HS", "Any"; NULL when unnamed. The mDNS cache-flush /
 *  unicast-response bit (0x8000) is ignored. */
const char *kc_item_dns_class_name(uint16_t class_);

/** "No Error", "Format Error", "Server Failure", "Non-Existent Domain",
 *  "Not Implemented", "Refused", ...; NULL when unnamed. */
const char *kc_item_dns_rcode_name(uint8_t rcode);

/** "Query", "IQuery", "Status", "Notify", "Update"; NULL when unnamed. */
const char *kc_item_dns_opcode_name(uint8_t opcode);

/** "TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0", "SSL 3.0"; NULL otherwise
 *  (GREASE and unknown values). */
const char *kc_item_tls_version_name(uint16_t v);

/** IANA name of a TLS cipher suite ("TLS_AES_128_GCM_SHA256"); NULL when not
 *  in the (common-suites) table. */
const char *kc_item_tls_cipher_name(uint16_t cs);

#endif /* KC_ITEM_NAMES_H */
