/*
 * HPACK Huffman decoding (RFC 7541 5.2 and Appendix B).
 *
 * The Appendix B code is canonical: codes of one length are consecutive
 * integers, assigned in order of (length, symbol). So four small tables
 * derived from the code lengths decode it (the lengths, and everything below,
 * were generated from the RFC's table and checked against every code there):
 *   huff_sym_by_rank   symbols sorted by (code length, symbol)
 *   huff_first_code[L] numeric value of the first code of length L
 *   huff_first_rank[L] rank of that code in huff_sym_by_rank
 *   huff_count[L]      how many codes have length L
 * A code of length L read as an integer c is the symbol of rank
 * first_rank[L] + (c - first_code[L]) when c - first_code[L] < count[L].
 * Decoding walks bit by bit (at most 30 per symbol): header strings are short
 * and this keeps the tables under 1 KiB.
 */
#include <errno.h>

#include "kc_hpack.h"

static const uint16_t huff_sym_by_rank[257] = {
	48, 49, 50, 97, 99, 101, 105, 111, 115, 116, 32, 37, 45, 46, 47, 51,
	52, 53, 54, 55, 56, 57, 61, 65, 95, 98, 100, 102, 103, 104, 108, 109,
	110, 112, 114, 117, 58, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76,
	77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89, 106, 107, 113, 118,
	119, 120, 121, 122, 38, 42, 44, 59, 88, 90, 33, 34, 40, 41, 63, 39,
	43, 124, 35, 62, 0, 36, 64, 91, 93, 126, 94, 125, 60, 96, 123, 92,
	195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161, 167, 172, 176, 177,
	179, 209, 216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154, 156, 160,
	163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232,
	233, 1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157,
	158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239, 9, 142,
	144, 145, 148, 159, 171, 206, 215, 225, 236, 237, 199, 207, 234, 235, 192, 193,
	200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255, 203, 204, 211,
	212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254,
	2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20,
	21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127, 220, 249, 10, 13, 22,
	256,
};
static const uint32_t huff_first_code[31] = {
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x14, 0x5c,
	0xf8, 0x0, 0x3f8, 0x7fa, 0xffa, 0x1ff8, 0x3ffc, 0x7ffc,
	0x0, 0x0, 0x0, 0x7fff0, 0xfffe6, 0x1fffdc, 0x3fffd2, 0x7fffd8,
	0xffffea, 0x1ffffec, 0x3ffffe0, 0x7ffffde, 0xfffffe2, 0x0, 0x3ffffffc,
};
static const uint16_t huff_first_rank[31] = {
	0, 0, 0, 0, 0, 0, 10, 36, 68, 0, 74, 79, 82, 84, 90, 92,
	0, 0, 0, 95, 98, 106, 119, 145, 174, 186, 190, 205, 224, 0, 253,
};
static const uint16_t huff_count[31] = {
	0, 0, 0, 0, 0, 10, 26, 32, 6, 0, 5, 3, 2, 6, 2, 3,
	0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19, 29, 0, 4,
};

/* Code length of each symbol, 256 = EOS (Appendix B, "len in bits"). */
static const uint8_t huff_bits[257] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
	28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
	6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
	5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
	13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
	15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
	6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
	20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
	22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
	21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
	19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
	20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
	30,
};

unsigned kc_hpack_huffman_bits(unsigned sym)
{
	return sym <= 256 ? huff_bits[sym] : 0;
}

int kc_hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap,
			    size_t *out_len)
{
	uint32_t code = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		for (int shift = 7; shift >= 0; shift--) {
			uint32_t rel;

			code = (code << 1) | ((in[i] >> shift) & 1u);
			bits++;
			if (bits > 30)
				return -EINVAL;
			if (huff_count[bits] == 0)
				continue;
			rel = code - huff_first_code[bits];
			if (rel >= huff_count[bits])
				continue;
			{
				unsigned sym = huff_sym_by_rank[huff_first_rank[bits] + rel];

				/* 5.2: "A Huffman-encoded string literal containing
				 * the EOS symbol MUST be treated as a decoding error." */
				if (sym == 256)
					return -EINVAL;
				if (n < out_cap)
					out[n] = (uint8_t)sym;
				n++;
			}
			code = 0;
			bits = 0;
		}
	}
	/* 5.2: padding longer than 7 bits, or not the most significant bits of
	 * EOS (all ones), is a decoding error. */
	if (bits > 7 || code != ((1u << bits) - 1u))
		return -EINVAL;
	*out_len = n;
	return 0;
}
