/**
 * @file
 * DNS name decoding with compression (RFC 1035 4.1.4) and the bounds that make
 * it safe on hostile input.
 */
#include "dns_internal.h"

/* Append one byte of a label in master-file form (RFC 1035 5.1): printable
 * ASCII as is, '.' and '\\' backslash-escaped, anything else "\DDD". */
static size_t put_label_byte(char *out, size_t cap, size_t o, uint8_t c)
{
	char tmp[4];
	size_t n;

	if (c == '.' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		n = 2;
	} else if (c > 0x20 && c < 0x7f) {
		tmp[0] = (char)c;
		n = 1;
	} else {
		tmp[0] = '\\';
		tmp[1] = (char)('0' + c / 100);
		tmp[2] = (char)('0' + (c / 10) % 10);
		tmp[3] = (char)('0' + c % 10);
		n = 4;
	}
	if (out != NULL) {
		for (size_t i = 0; i < n && o + i < cap; i++)
			out[o + i] = tmp[i];
	}
	return o + n;
}

/*
 * Loop safety: every pointer must point before the start of the run of labels
 * that led to it (seg_start). Runs start at strictly decreasing offsets, so a
 * loop is impossible; the hop limit and the 255-octet limit bound the work on
 * long but loop-free chains.
 */
enum dns_name_rc dns_name_decode(const uint8_t *msg, size_t len, size_t *pos, char *out,
				 size_t cap, size_t *out_len)
{
	size_t p = *pos;
	size_t seg_start = p;
	size_t end = 0;      /* where the name ends in place; 0 = not yet known */
	size_t wire = 0;     /* octets of the uncompressed name so far */
	size_t o = 0;        /* text length */
	unsigned hops = 0;
	bool first = true;
	bool too_long = false;

	for (;;) {
		if (p >= len)
			return DNS_NAME_TRUNCATED;
		uint8_t c = msg[p];

		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				return DNS_NAME_TRUNCATED;
			size_t target = ((size_t)(c & 0x3f) << 8) | msg[p + 1];

			if (too_long) {
				/* Only the end was still wanted: here it is. */
				if (end == 0)
					end = p + 2;
				break;
			}
			if (target >= seg_start)
				return DNS_NAME_BAD_PTR;
			if (++hops > KC_DNS_MAX_PTR_HOPS)
				return DNS_NAME_PTR_HOPS;
			if (end == 0)
				end = p + 2;
			p = target;
			seg_start = target;
			continue;
		}
		if (c & 0xc0)
			return DNS_NAME_BAD_LABEL; /* 01 is obsolete EDNS, 10 reserved */
		if (c == 0) {
			wire += 1;
			p++;
			break;
		}
		/* RFC 1035 3.1: the total, length octets included, is at most 255.
		 * Past that we stop rendering but keep walking to find where the
		 * name ends, so the rest of the message can still be read (as
		 * Wireshark does); the walk stays bounded because labels move
		 * forward and pointers strictly backwards, at most
		 * KC_DNS_MAX_PTR_HOPS times. */
		wire += (size_t)c + 1;
		if (wire + 1 > KC_DNS_MAX_NAME_WIRE) {
			too_long = true;
			if (end != 0)
				break; /* behind a pointer: the end is known */
		}
		if (p + 1 + c > len)
			return DNS_NAME_TRUNCATED;
		if (too_long) {
			p += (size_t)c + 1;
			continue;
		}
		if (!first) {
			if (out != NULL && o < cap)
				out[o] = '.';
			o++;
		}
		first = false;
		for (size_t i = 0; i < c; i++) {
			uint8_t b = msg[p + 1 + i];

			/* Fast path: a plain byte goes straight in. */
			if (b > 0x20 && b < 0x7f && b != '.' && b != '\\' && out != NULL &&
			    o < cap) {
				out[o++] = (char)b;
				continue;
			}
			o = put_label_byte(out, cap, o, b);
		}
		p += (size_t)c + 1;
	}
	*pos = end != 0 ? end : p;
	if (too_long) {
		if (out_len != NULL)
			*out_len = 0;
		return DNS_NAME_TOO_LONG;
	}
	if (first) {
		/* The root: "." so that the view is not mistaken for "absent". */
		if (out != NULL && cap > 0)
			out[0] = '.';
		o = 1;
	}
	if (out_len != NULL)
		*out_len = KC_MIN(o, cap);
	return DNS_NAME_OK;
}

void dns_count_name_fault(struct kc_dns_stats *st, enum dns_name_rc rc)
{
	if (st == NULL)
		return;
	switch (rc) {
	case DNS_NAME_OK:
		break;
	case DNS_NAME_TRUNCATED:
		st->name_truncated++;
		break;
	case DNS_NAME_BAD_LABEL:
		st->bad_label_type++;
		break;
	case DNS_NAME_BAD_PTR:
		st->bad_pointer++;
		break;
	case DNS_NAME_PTR_HOPS:
		st->ptr_hops++;
		break;
	case DNS_NAME_TOO_LONG:
		st->name_too_long++;
		break;
	}
}
