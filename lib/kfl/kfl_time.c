/*
 * datetime(): Go's reference layout "1/2/2006, 3:04:05.000 PM" in UTC, as
 * the reference evaluator parses it (kfl.md section 8), folded to
 * milliseconds since the epoch at compile time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kfl_internal.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01 (proleptic Gregorian). */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool getnum(const char **s, const char *end, int fixed, int *out)
{
	const char *p = *s;
	int v = 0, n = 0, max = fixed ? fixed : 2;

	while (p < end && n < max && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0 || (fixed && n != fixed))
		return false;
	*s = p;
	*out = v;
	return true;
}

static bool lit(const char **s, const char *end, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(end - *s) < n || memcmp(*s, w, n) != 0)
		return false;
	*s += n;
	return true;
}

/* Go layout "1/2/2006, 3:04:05.000 PM" in UTC (kfl.md section 8). */
bool kfl_parse_datetime(const char *s, size_t n, int64_t *ms)
{
	const char *end = s + n;
	int mo, d, y, h, mi, se, frac;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (!getnum(&s, end, 0, &mo) || !lit(&s, end, "/") || !getnum(&s, end, 0, &d) ||
	    !lit(&s, end, "/") || !getnum(&s, end, 4, &y) || !lit(&s, end, ", ") ||
	    !getnum(&s, end, 0, &h) || !lit(&s, end, ":") || !getnum(&s, end, 2, &mi) ||
	    !lit(&s, end, ":") || !getnum(&s, end, 2, &se) || !lit(&s, end, ".") ||
	    !getnum(&s, end, 3, &frac) || !lit(&s, end, " "))
		return false;
	bool pm;
	if (lit(&s, end, "PM"))
		pm = true;
	else if (lit(&s, end, "AM"))
		pm = false;
	else
		return false;
	if (s != end || mo < 1 || mo > 12 || h > 12 || mi > 59 || se > 59)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	int dim = mdays[mo - 1] + (mo == 2 && leap);
	if (d < 1 || d > dim)
		return false;
	if (pm && h < 12)
		h += 12;
	else if (!pm && h == 12)
		h = 0;
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*ms = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000) + frac;
	return true;
}

