/*
 * Name tables for rendered items. The DNS strings are gopacket's (layers/dns.go
 * String() methods), which is what Kubeshark's DNS entries show; "Refused" is
 * the spelling the project's issue asks for.
 */
#include <stddef.h>

#include "kc_item_names.h"

const char *kc_item_dns_type_name(uint16_t type)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 3: return "MD";
	case 4: return "MF";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 7: return "MB";
	case 8: return "MG";
	case 9: return "MR";
	case 10: return "NULL";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 35: return "NAPTR";
	case 39: return "DNAME";
	case 41: return "OPT";
	case 43: return "DS";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 252: return "AXFR";
	case 255: return "ANY";
	case 256: return "URI";
	case 257: return "CAA";
	default: return NULL;
	}
}

const char *kc_item_dns_class_name(uint16_t class_)
{
	switch (class_ & 0x7fffu) {
	case 1: return "IN";
	case 2: return "CS";
	case 3: return "CH";
	case 4: return "HS";
	case 255: return "Any";
	default: return NULL;
	}
}

const char *kc_item_dns_rcode_name(uint8_t rcode)
{
	switch (rcode) {
	case 0: return "No Error";
	case 1: return "Format Error";
	case 2: return "Server Failure";
	case 3: return "Non-Existent Domain";
	case 4: return "Not Implemented";
	case 5: return "Refused";
	case 6: return "YXDomain";
	case 7: return "YXRRSet";
	case 8: return "NXRRSet";
	case 9: return "Not Authorized";
	case 10: return "NotZone";
	default: return NULL;
	}
}

const char *kc_item_dns_opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case 0: return "Query";
	case 1: return "IQuery";
	case 2: return "Status";
	case 4: return "Notify";
	case 5: return "Update";
	default: return NULL;
	}
}

const char *kc_item_tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0300: return "SSL 3.0";
	case 0x0301: return "TLS 1.0";
	case 0x0302: return "TLS 1.1";
	case 0x0303: return "TLS 1.2";
	case 0x0304: return "TLS 1.3";
	default: return NULL;
	}
}

const char *kc_item_tls_cipher_name(uint16_t cs)
{
	switch (cs) {
	case 0x1301: return "TLS_AES_128_GCM_SHA256";
	case 0x1302: return "TLS_AES_256_GCM_SHA384";
	case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
	case 0x002f: return "TLS_RSA_WITH_AES_128_CBC_SHA";
	case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA";
	case 0x009c: return "TLS_RSA_WITH_AES_128_GCM_SHA256";
	case 0x009d: return "TLS_RSA_WITH_AES_256_GCM_SHA384";
	case 0xc009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA";
	case 0xc00a: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA";
	case 0xc013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA";
	case 0xc014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA";
	case 0xc02b: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
	case 0xc02c: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
	case 0xc02f: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
	case 0xc030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384";
	case 0xcca8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
	case 0xcca9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
	default: return NULL;
	}
}
