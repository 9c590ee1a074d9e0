// RE2 shim: the only C++ in lib/kfl. RE2 runs in linear time (no
// backtracking), which is why a filter written by anyone can be run on every
// item of a span port. Search is unanchored (RE2::PartialMatch), as KFL's
// regex equality is a search (kfl.md section 6).
#include <re2/re2.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

// kfl_internal.h pulls in C11 <stdatomic.h>, so the three prototypes are
// repeated here; kfl_internal.h declares the same ones for C.
extern "C" {
void *kfl_re_compile(const char *pat, size_t len, char *err, size_t errlen);
bool kfl_re_search(const void *re, const char *s, size_t len);
void kfl_re_free(void *re);
}

extern "C" void *kfl_re_compile(const char *pat, size_t len, char *err, size_t errlen)
{
	RE2::Options o;
	o.set_log_errors(false);
	// Bodies may hold any bytes; Latin-1 would change what '.' means for
	// UTF-8 text, so keep UTF-8 (invalid bytes simply do not match a rune).
	RE2 *re = new (std::nothrow) RE2(re2::StringPiece(pat, len), o);
	if (re == nullptr) {
		if (err != nullptr && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return nullptr;
	}
	if (!re->ok()) {
		if (err != nullptr && errlen > 0)
			snprintf(err, errlen, "%s", re->error().c_str());
		delete re;
		return nullptr;
	}
	return re;
}

extern "C" bool kfl_re_search(const void *re, const char *s, size_t len)
{
	return RE2::PartialMatch(re2::StringPiece(s, len), *static_cast<const RE2 *>(re));
}

extern "C" void kfl_re_free(void *re)
{
	delete static_cast<RE2 *>(re);
}
