/*
 * KFL conformance beyond the worked examples: operators on every value type,
 * precedence and associativity, the collapse rule, every helper and macro,
 * regex edge cases, comments and quoting, malformed filters with their error
 * columns, the normalised text, limits, redact, and the run-time slot.
 */
#include "kfl_test.h"

static const char X[] =
	"{\"s\":\"abc\",\"e\":\"\",\"n\":5,\"neg\":-3,\"f\":1.5,\"big\":1678675066172,\"ts\":1678675066172,"
	"\"t\":true,\"fl\":false,\"z\":null,\"a\":[1,2,3],\"sa\":[\"x\",\"y\"],\"ea\":[],"
	"\"o\":{\"k\":\"v\",\"n\":{\"deep\":\"d\"}},\"eo\":{},\"num\":\"10\",\"nn\":\"null\","
	"\"h\":{\"Content-Type\":\"text/plain\"},\"q\":\"a\\\\\\\"b\","
	"\"b64\":\"eyJhIjpbMSx7ImIiOiJjIn1dfQ==\",\"js\":\"{\\\"x\\\":{\\\"y\\\":[10,20]},\\\"u\\\":\\\"\\\\u00e9\\\"}\","
	"\"xml\":\"<?xml version=\\\"1.0\\\"?><r><i>1</i><i>2</i><n a=\\\"z>\\\">t&amp;u</n><e/><!-- c --><c><![CDATA[<x>]]></c></r>\","
	"\"aa\":[1,2],\"ab\":[1,2],\"ac\":[2,1],\"oa\":[{\"k\":1},{\"k\":2}],"
	"\"protocol\":{\"name\":\"redis\",\"abbr\":\"REDIS\"},\"tls\":true,\"error\":null,"
	"\"d\":{\"x\":{\"name\":\"n1\",\"y\":{\"name\":\"n2\"}},\"z\":[{\"name\":\"n3\"}]}}";

#define T(f, want) EXPECT_JSON(f, X, want)

static void values(void)
{
	/* strings */
	T("s == \"abc\"", true);
	T("s != \"abc\"", false);
	T("s == \"ABC\"", false);
	T("e == \"\"", true);
	T("e", false);
	T("s", true);
	T("q == \"a\\\"b\"", true);            /* escapes stay verbatim */
	T("\"\\x41\" == \"A\"", false);
	T("s == `abc`", false);                 /* delimiters kept */
	T("'abc' == s", false);
	T("`abc` == `abc`", true);
	T("\"\" == e", true);
	/* numbers */
	T("n == 5", true);
	T("n == \"5\"", true);
	T("n == 5.0", true);
	T("n == 5.5", false);
	T("f == 1.5", true);
	T("f == \"1.5\"", true);
	T("big == 1678675066172", false);       /* literal prints %.6g */
	T("big >= 1678675066172", true);
	T("big == \"1678675066172\"", true);
	T("neg < 0", true);
	T("neg", false);
	T("n", true);
	T("0", false);
	T("1", true);
	T("-1", false);
	T("--1 == 1", true);
	T("-(1)", false);
	T("-n < 0", false);                     /* JSON integers are not negated */
	T("-f < 0", true);
	T("\"b\" > \"a\"", false);              /* no string ordering */
	T("num > 9", true);
	T("\"1e3\" >= 1000", true);
	T("\"1e3\" == 1000", false);
	T("\" 5\" > 4", false);                 /* ParseFloat takes no spaces */
	T(".5 == 0.5", true);
	T("5. == 5", true);
	T("1e3 == 1000", true);
	T("1000000 == 1e6", true);
	T("1234567 == 1234567", true);
	T("n >= 5 and n <= 5 and n > 4 and n < 6", true);
	/* booleans and nil */
	T("t == true", true);
	T("t == \"true\"", true);
	T("fl == false", true);
	T("fl", false);
	T("t", true);
	T("!t", false);
	T("!fl", true);
	T("!!t", true);
	T("true", true);
	T("false", false);
	T("nil", false);
	T("z == nil", true);
	T("nn == nil", true);                   /* "null" text */
	T("z", false);
	T("!z", false);                         /* ! leaves null alone */
	T("!s == \"abc\"", true);
	T("!n == 5", true);
	T("t > 0", true);
	T("fl < t", true);
	/* arrays */
	T("a == 2", true);
	T("a != 2", false);
	T("a != 9", true);
	T("2 == a", true);
	T("a == \"2\"", true);
	T("a > 2", true);
	T("a > 3", false);
	T("0 < a", true);
	T("4 < a", false);
	T("aa == ab", true);
	T("aa == ac", false);
	T("aa != ac", true);
	T("aa == a", false);
	T("aa < ac", false);                    /* every pair */
	T("aa <= a", false);
	T("ea < a", true);                      /* vacuous */
	T("sa == r\"x\"", false);               /* not element-wise */
	T("r\"x\" == sa", false);
	T("ea", false);
	T("a", true);
	T("sa[1] == \"y\"", true);
	T("sa[2] == \"y\"", false);
	T("!(sa[2] == \"y\")", true);
	T("sa[\"x\"] == 1", false);
	T("oa.*.k == 2", true);
	T("oa[1].k == 2", true);
	T("oa.*.k > 1", true);
	/* objects */
	T("o", false);
	T("eo", false);
	T("o == \"\"", true);                   /* text of an object is "" */
	T("o.k == \"v\"", true);
	T("o[\"k\"] == \"v\"", true);
	T("o[\"n\"].deep == \"d\"", true);
	T("o.n.deep == \"d\"", true);
	T("o[0] == 1", false);
	T("o.* == \"v\"", true);                /* two matches -> array */
	T("o.*.deep == \"d\"", true);           /* one match -> scalar */
	T("o..deep == \"d\"", true);
	T("d..name == \"n3\"", true);
	T("d..name == \"n1\"", true);
	T("d..name != \"n4\"", true);
	T("d..missing == 1", false);
	T("h[\"Content-Type\"] == \"text/plain\"", true);
	T("h[\"content-type\"] == \"text/plain\"", false);
	T("o[*] == 1", false);                  /* key named "*" */
}

static void precedence(void)
{
	T("true or true and false", true);      /* true or (true and false) */
	T("false and false or true", false);    /* false and (...) */
	T("false or true and false", false);
	T("(true or true) and false", false);
	T("true and false or true", true);      /* true and (false or true) */
	T("1 == 1 == true", false);
	T("n > 4 == true", true);
	T("1 < 2 < 3", false);                  /* 1 < (2 < 3) = 1 < true, and num(true) is 1 */
	T("(1 == 1) == true", true);
	T("!(n == 5)", false);
	T("!n == 5", true);
	T("t and t and t and fl", false);
	T("fl or fl or fl or t", true);
	T("n == 5 and s == \"abc\" or n == 0", true);
}

static void missing(void)
{
	T("missing == nil", false);
	T("missing != 1", false);
	T("missing or true", false);
	T("true or missing", true);
	T("false and missing", false);
	T("true and missing", false);
	T("(missing) or true", true);
	T("(missing == 1) or t", true);
	T("!missing", false);
	T("!(missing)", true);
	T("true and (missing == 1 or true)", false);
	T("-missing", false);
	T("missing > 0 or missing <= 0", false);
	T("missing.startsWith(\"a\")", false);  /* string helper: false, not collapse */
	T("!missing.startsWith(\"a\")", true);
	T("missing.startsWith(\"fa\")", false); /* divergence: not the text "false" */
	T("s.foo(\"x\")", false);               /* unknown helper collapses */
	T("!s.foo(\"x\")", false);
	T("(s.foo(\"x\")) or true", true);
	T("s.startsWith()", false);             /* empty args: a field lookup */
	T("!s.startsWith()", false);
	T("o.startsWith(\"\")", true);
	T("s.contains(missing)", false);        /* missing argument collapses */
	T("(s.contains(missing)) or t", true);
}

static void helpers(void)
{
	T("s.startsWith(\"ab\")", true);
	T("s.startsWith(\"b\")", false);
	T("s.startsWith(\"abcd\")", false);
	T("s.endsWith(\"bc\")", true);
	T("s.endsWith(\"ab\")", false);
	T("s.contains(\"b\")", true);
	T("s.contains(\"\")", true);
	T("s.contains(\"x\")", false);
	T("n.startsWith(\"5\")", true);
	T("t.startsWith(\"tr\")", true);
	T("a.contains(\"1\")", false);          /* arrays are "" */
	T("a.contains(\"\")", true);
	T("o.*.contains(\"v\")", false);        /* two matches */
	T("o.n.*.contains(\"d\")", true);       /* one match */
	T("s.startsWith(o.k)", false);
	T("h[\"Content-Type\"].startsWith(\"text/\")", true);
	T("s.contains(\"b\") == true", true);
	T("num.contains(1)", true);             /* argument text "1" */
	/* json() */
	T("b64.json().a[1].b == \"c\"", true);
	T("b64.json().a[0] == 1", true);
	T("js.json().x.y[1] == 20", true);
	T("js.json().x.y == 10", true);
	T("js.json()..y == 20", true);
	T("js.json().u == \"\xc3\xa9\"", true);   /* \u00e9 decoded */
	T("js.json().x.y[0].startsWith(\"1\")", true);
	T("js.json()[\"x\"].y[1] == 20", true);
	T("js.json().nope == 1", false);
	T("js.json().nope != 1", true);         /* false, not a collapse */
	T("s.json().x == 1", false);
	T("s.json().x != 1", true);
	T("!(s.json().x == 1)", true);
	T("missing.json().x != 1", true);
	T("n.json() == 5", true);
	T("js.json().x.y.*.startsWith(\"2\")", false);
	/* xml() */
	T("xml.xml().r.i[1] == \"2\"", true);
	T("xml.xml().r.i == \"1\"", true);
	T("xml.xml().r.n == \"t&u\"", true);
	T("xml.xml().r.e == \"\"", true);
	T("xml.xml().r.c == \"<x>\"", true);
	T("xml.xml()..i == \"2\"", true);
	T("xml.xml().r.zz == 1", false);
	T("s.xml().r == 1", false);
	T("s.xml().r != 1", true);
	/* time */
	T("ts == datetime(\"3/13/2023, 2:37:46.172 AM\")", true);
	T("datetime(\"03/13/2023, 02:37:46.172 AM\") == ts", true);
	T("datetime(\"1/1/1970, 12:00:00.000 AM\") == 0", true);
	T("datetime(\"1/1/1970, 12:00:00.000 PM\") == \"43200000\"", true);
	T("datetime(\"2/29/2024, 12:00:00.000 PM\") == \"1709208000000\"", true);
	T("datetime(\"2/29/2023, 1:00:00.000 PM\") == false", true);  /* no such day */
	T("datetime(\"3/13/2023, 2:37:46.172 am\") == false", true);  /* upper-case AM only */
	T("datetime(\"3/13/2023, 2:37:46.17 AM\") == false", true);   /* 3-digit ms */
	T("datetime(\"3/13/2023, 13:37:46.172 AM\") == false", true);
	T("datetime(\"3/13/2023 2:37:46.172 AM\") == false", true);
	T("datetime(\"x\") < 1", true);                             /* false -> 0 */
	T("ts == now()", true);
	T("seconds(-10) < ts", true);
	T("seconds(10) > ts", true);
	T("minutes(-1) == \"1678675006172\"", true);
	T("hours(1) > ts", true);
	T("days(-1) < ts and weeks(1) > ts", true);
	T("months(-1) == \"1676083066172\"", true);                  /* 30 days */
	T("years(1) == \"1710211066172\"", true);                    /* 365 days */
	T("days(-0.5) == \"1678631866172\"", true);
	/* limit, redact */
	T("limit(5)", true);
	T("s == \"x\" and limit(5)", false);
	T("redact(\"s\")", true);
	T("redact(\"s\") and s == \"abc\"", true); /* read-only evaluation does not redact */
}

static void macros(void)
{
	T("redis", true);
	T("kafka", false);
	T("http", false);
	T("tls", true);                   /* the tls field of Kubeshark items */
	T("error", false);                /* error: null */
	T("http.x", false);               /* a selector, not the macro */
	T("!http", true);
	T("redis and s == \"abc\"", true);
	EXPECT_JSON("request.httpVersion == \"HTTP/1.1\"", H_JSON, true); /* no substring expansion */
	EXPECT_JSON("tls", H_JSON, false);
	EXPECT_JSON("tls", "{\"protocol\":{\"name\":\"tls\"},\"tls\":false}", true);
	EXPECT_JSON("tls", "{\"protocol\":{\"name\":\"tcp\"}}", false);
	EXPECT_JSON("tcp", "{\"protocol\":{\"name\":\"tcp\"}}", true);
	EXPECT_JSON("udp", "{\"protocol\":{\"name\":\"udp\"}}", true);
	EXPECT_JSON("http2", "{\"protocol\":{\"abbr\":\"HTTP/2\"}}", true);
	EXPECT_JSON("grpc", "{\"protocol\":{\"abbr\":\"gRPC\"}}", true);
	EXPECT_JSON("gql", "{\"protocol\":{\"abbr\":\"GQL\"}}", true);
	EXPECT_JSON("amqp", "{\"protocol\":{\"name\":\"amqp\"}}", true);
	EXPECT_JSON("kafka", "{\"protocol\":{\"name\":\"kafka\"}}", true);
	EXPECT_JSON("error", "{\"error\":{\"type\":\"x\"}}", true);
	EXPECT_JSON("http or missing.x", "{\"protocol\":{\"abbr\":\"HTTP\"}}", true);
	EXPECT_JSON("http", "{}", false);
	EXPECT_JSON("!http", "{}", true);  /* the macro is a group: its collapse is false */

	static struct kc_item it;
	t_base(&it, KC_ITEM_TLS, 6, "10.0.0.2", 1, "10.0.0.1", 443);
	EXPECT_ITEM("tls", &it, true);
	EXPECT_ITEM("tcp", &it, false);
	t_base(&it, KC_ITEM_TCP, 6, "10.0.0.2", 1, "10.0.0.1", 5432);
	EXPECT_ITEM("tcp and dst.port == 5432", &it, true);
	EXPECT_ITEM("tls", &it, false);
	t_base(&it, KC_ITEM_UDP, 17, "10.0.0.2", 1, "10.0.0.1", 53);
	EXPECT_ITEM("udp", &it, true);
	t_item_h(&it);
	it.proto = KC_ITEM_HTTP2;
	EXPECT_ITEM("http2 and not_here == 1", &it, false);
	EXPECT_ITEM("http2 and protocol.name == \"http\"", &it, true);
	EXPECT_ITEM("http", &it, false);
}

static void regexes(void)
{
	T("s == r\"^a\"", true);
	T("r\"^a\" == s", true);
	T("s == r\"^b\"", false);
	T("s != r\"b\"", false);
	T("s == r\"(?i)ABC\"", true);
	T("s == r\"ABC\"", false);
	T("s == r\"^abc$\"", true);
	T("s == r\"[.]\"", false);
	T("s == r\"\"", true);
	T("n == r\"^5$\"", true);
	T("t == r\"ru\"", true);
	T("z == r\"null\"", true);
	T("o == r\".\"", false);                /* object text "" */
	T("s == r \"b\"", true);                /* space allowed */
	T("s == r\"a|z\"", true);
	T("e == r\"^$\"", true);
	T("q == r\"a\\\\\"", true);             /* \\ reaches RE2 as a literal backslash */
	T("s == r\"\\x61\"", true);             /* \xhh is a valid escape for both */
	T("r\"b\" == r\"b\"", false);           /* regex vs regex: text "" */
	T("s == r\"(a)(b)(c)\"", true);
}

static void lexical(void)
{
	T("/* c */ s == \"abc\" // tail", true);
	T("s == \"abc\"\nand\n\tn == 5", true);
	T("s==\"abc\"and n==5", true);
	T("(s == \"abc\")and(n == 5)", true);
	T("", true);
	T("   \n\t ", true);
	T("// nothing", true);
	T("/* nothing */", true);
}

struct err_case {
	const char *f;
	int col;
};

static void errors(void)
{
	static const struct err_case cases[] = {
		{ "a ==", 5 },          { "(a == 1", 8 },        { "a == 1)", 7 },
		{ "a = 1", 3 },         { "a && b", 3 },         { "a || b", 3 },
		{ "a AND b", 3 },       { "a == 0x10", 6 },      { "a == \"x", 6 },
		{ "a == \"\\d\"", 7 },  { "a == \"\\.\"", 7 },   { "a == \"\\'\"", 7 },
		{ "a == 'x\\\"'", 8 },  { "a == \"\\x4\"", 7 },  { "a == \"\\u12\"", 7 },
		{ "r\"(\"", 2 },        { "s == r\"a{2,1}\"", 7 }, { "s == r\"(?P<x\"", 7 },
		{ "a[\"x\"][\"y\"]", 7 }, { "a[0][1]", 5 },      { "a.0 == 1", 2 },
		{ "a.[1]", 3 },         { "a[-1]", 3 },          { "a[1.5]", 3 },
		{ "a[1", 4 },           { "a.. == 1", 5 },       { "a. == 1", 4 },
		{ "startsWith(\"a\", \"b\")", 1 }, { "s.contains()()", 13 },
		{ "datetime(a)", 1 },   { "datetime()x", 11 },   { "limit(0)", 1 },
		{ "limit(\"x\")", 1 },  { "limit(-1)", 1 },      { "seconds(a)", 1 },
		{ "seconds(1, 2)", 1 }, { "redact(a)", 8 },      { "redact(\"a.json()\")", 0 },
		{ "redact(\"\")", 0 },  { "redact(\"a[\")", 0 }, { "/* x", 1 },
		{ "a == 1e", 7 },       { "and", 1 },            { "a and", 6 },
		{ "!", 2 },             { "a == 1 b", 8 },       { "a == 'x", 6 },
		{ "$x", 1 },            { "a @ b", 3 },          { "true.x", 5 },
		{ "a == (", 7 },        { "()", 2 },             { "a ==== b", 5 },
		{ "a == \"x\" == ", 13 }, { "a,b", 2 },          { "a(", 3 },
		{ "a(b", 4 },           { "a(b,", 5 },           { "x: 1", 2 },
		{ "in(a)", 0 },         { "a == null b", 11 },   { "OR", 0 },
		{ "a\xff", 2 },         { "r\"x\"(1)", 5 },      { "a == -", 7 },
		{ "nil.x", 4 },
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		/* in(a) and OR are valid: an unknown helper and a field */
		if (strcmp(cases[i].f, "in(a)") == 0 || strcmp(cases[i].f, "OR") == 0) {
			struct kc_kfl_prog *p = t_compile(cases[i].f);
			CHECK(p != NULL, "[%s] should compile", cases[i].f);
			kc_kfl_prog_free(p);
			continue;
		}
		EXPECT_ERR(cases[i].f, cases[i].col);
	}

	/* line and column on a multi-line filter, message layout */
	struct kc_kfl_prog *p = NULL;
	struct kc_err e;
	uint32_t line = 0, col = 0;
	int rc = kc_kfl_compile_at("http and\n  dst.port = 80", T_NOW_MS, &p, &e, &line, &col);
	CHECK(rc == -EINVAL && line == 2 && col == 12, "multi-line error at %u:%u rc %d", line, col, rc);
	CHECK(strstr(e.msg, "line 2, column 12") != NULL, "msg: %s", e.msg);
	CHECK(strstr(e.msg, "\n    dst.port = 80\n             ^") != NULL, "caret layout: %s", e.msg);
	rc = kc_kfl_compile_at("request.method = \"GET\"", T_NOW_MS, &p, &e, &line, &col);
	CHECK(strcmp(e.msg, "kfl: unexpected '=': expected '==' (KFL has no assignment) (at column 16)\n"
		      "  request.method = \"GET\"\n                 ^") == 0, "exact message: [%s]", e.msg);
	/* long lines are windowed so the caret stays visible */
	char longf[400];
	memset(longf, 'a', 300);
	strcpy(longf + 300, " = 1");
	rc = kc_kfl_compile_at(longf, T_NOW_MS, &p, &e, &line, &col);
	CHECK(rc == -EINVAL && col == 302 && strstr(e.msg, "...") != NULL, "long line: %u %s", col,
	      e.msg);

	/* limits: nesting depth, text size, node count */
	char deep[1000];
	size_t k = 0;
	for (int i = 0; i < 200; i++)
		deep[k++] = '(';
	deep[k++] = 'a';
	for (int i = 0; i < 200; i++)
		deep[k++] = ')';
	deep[k] = '\0';
	rc = kc_kfl_compile_at(deep, T_NOW_MS, &p, &e, NULL, NULL);
	CHECK(rc == -E2BIG && p == NULL, "deep parens rc %d", rc);
	memset(deep, '!', 300);
	strcpy(deep + 300, "t");
	rc = kc_kfl_compile_at(deep, T_NOW_MS, &p, &e, NULL, NULL);
	CHECK(rc == -E2BIG, "deep ! rc %d", rc);
	char *big = malloc(KC_KFL_MAX_TEXT + 2);
	memset(big, ' ', KC_KFL_MAX_TEXT + 1);
	big[KC_KFL_MAX_TEXT + 1] = '\0';
	rc = kc_kfl_compile_at(big, T_NOW_MS, &p, &e, NULL, NULL);
	CHECK(rc == -E2BIG, "huge text rc %d", rc);
	free(big);
	/* a long or-chain is fine (parsed and evaluated iteratively) */
	size_t cap = 1500 * 16;
	char *chain = malloc(cap);
	k = 0;
	for (int i = 0; i < 1499; i++)
		k += (size_t)snprintf(chain + k, cap - k, "n == %d or ", 1000 + i);
	snprintf(chain + k, cap - k, "n == 5");
	T(chain, true);
	/* more than KC_KFL_MAX_NODES nodes */
	char *huge = malloc(9000 * 8);
	k = 0;
	for (int i = 0; i < 8999; i++)
		k += (size_t)sprintf(huge + k, "t or ");
	sprintf(huge + k, "t");
	rc = kc_kfl_compile_at(huge, T_NOW_MS, &p, &e, NULL, NULL);
	CHECK(rc == -E2BIG, "too many nodes rc %d", rc);
	free(huge);
	free(chain);
	rc = kc_kfl_compile_at(NULL, T_NOW_MS, &p, &e, NULL, NULL);
	CHECK(rc == -EINVAL, "NULL text");
}

static void normalised(void)
{
	static const char *const pairs[][2] = {
		{ "http  and(response.status==500)", "http and (response.status == 500)" },
		{ "request.headers[\"User-Agent\"].startsWith( \"x\" )",
		  "request.headers[\"User-Agent\"].startsWith(\"x\")" },
		{ "a..b.*[0].json().c", "a..b.*[0].json().c" },
		{ "datetime( \"1/1/1970, 12:00:00.000 AM\" ) < t", "datetime(\"1/1/1970, 12:00:00.000 AM\") < t" },
		{ "- 5", "-5" },
		{ "! (a)", "!(a)" },
		{ "now()<x", "now() < x" },
		{ "limit( 10 )", "limit(10)" },
		{ "redact(\"a\",\"b\")", "redact(\"a\", \"b\")" },
		{ "/* c */ a // d", "a" },
		{ "a\n==\n'x'", "a == 'x'" },
		{ "r \"x\" == s", "r\"x\" == s" },
		{ "a[*]", "a[*]" },
		{ "a.xml()[1]", "a.xml()[1]" },
		{ "x.startsWith()", "x.startsWith()" },
		{ "seconds(-5) > 1e3", "seconds(-5) > 1e3" },
		{ "f(tag: 1)", "f(1)" },
		{ "", "" },
		{ "dns or tls or error", "dns or tls or error" },
		{ "a>=1==b<=2!=c", "a >= 1 == b <= 2 != c" },
	};
	for (size_t i = 0; i < KC_ARRAY_SIZE(pairs); i++) {
		struct kc_kfl_prog *p = t_compile(pairs[i][0]);
		if (p == NULL)
			continue;
		CHECK(strcmp(kc_kfl_prog_text(p), pairs[i][1]) == 0, "normalise [%s] -> [%s] want [%s]",
		      pairs[i][0], kc_kfl_prog_text(p), pairs[i][1]);
		struct kc_kfl_prog *q = t_compile(kc_kfl_prog_text(p));
		if (q != NULL)
			CHECK(strcmp(kc_kfl_prog_text(q), kc_kfl_prog_text(p)) == 0, "round trip [%s]",
			      pairs[i][0]);
		kc_kfl_prog_free(q);
		kc_kfl_prog_free(p);
	}
	struct kc_kfl_prog *p = t_compile("");
	CHECK(p && kc_kfl_prog_is_match_all(p), "empty is match-all");
	kc_kfl_prog_free(p);
	p = t_compile("limit(5) and limit(7) and redact(\"x\")");
	CHECK(p && kc_kfl_prog_limit(p) == 5 && kc_kfl_prog_has_redact(p), "first limit wins");
	kc_kfl_prog_free(p);
	p = t_compile("http");
	CHECK(p && kc_kfl_prog_limit(p) == 0 && !kc_kfl_prog_has_redact(p) && !kc_kfl_prog_is_match_all(p),
	      "no limit");
	kc_kfl_prog_free(p);
}

static void redact(void)
{
	const char *doc = "{\"request\":{\"headers\":{\"Authorization\":\"x\",\"Cookie\":\"c\"}},"
			  "\"a\":[{\"Authorization\":\"y\"}],\"dst\":{\"name\":\"x\"},\"l\":[1,2]}";
	struct kc_kfl_prog *p = t_compile("redact(\"..Authorization\") and "
					  "request.headers.Authorization == \"[REDACTED]\"");
	cJSON *j = cJSON_Parse(doc);
	CHECK(p && j && !kc_kfl_eval_json(p, j, t_scratch()), "read-only eval leaves values");
	CHECK(p && j && kc_kfl_eval_json_mut(p, j, t_scratch()), "mut eval sees redacted values");
	cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "a"), 0);
	CHECK(a0 && strcmp(cJSON_GetObjectItem(a0, "Authorization")->valuestring, "[REDACTED]") == 0,
	      "..Authorization reached the array");
	kc_kfl_prog_free(p);
	cJSON_Delete(j);

	p = t_compile("redact(\"dst.name\") and dst.name == \"x\"");
	j = cJSON_Parse(doc);
	CHECK(p && j && !kc_kfl_eval_json_mut(p, j, t_scratch()), "kfl.md 8: later comparisons see it");
	kc_kfl_prog_free(p);
	cJSON_Delete(j);

	p = t_compile("http and redact(\"request.headers['Cookie']\", \"l[1]\", \"$.a[*].Authorization\", \"nope.x\")");
	j = cJSON_Parse(doc);
	int n = p && j ? kc_kfl_redact_json(p, j) : -1;
	CHECK(n == 3, "redact_json replaced %d, want 3", n);
	char *txt = cJSON_PrintUnformatted(j);
	CHECK(txt && strcmp(txt, "{\"request\":{\"headers\":{\"Authorization\":\"x\",\"Cookie\":\"[REDACTED]\"}},"
			    "\"a\":[{\"Authorization\":\"[REDACTED]\"}],\"dst\":{\"name\":\"x\"},"
			    "\"l\":[1,\"[REDACTED]\"]}") == 0, "redacted doc %s", txt);
	free(txt);
	kc_kfl_prog_free(p);
	cJSON_Delete(j);
}

static struct kc_kfl_prog *g_retired;

static void retire(void *ctx, struct kc_kfl_prog *old)
{
	(*(int *)ctx)++;
	g_retired = old;
}

static void slot(void)
{
	struct kc_kfl_slot s;
	int calls = 0;
	kc_kfl_slot_init(&s, NULL);
	CHECK(kc_kfl_slot_get(&s) == NULL, "empty slot");
	struct kc_kfl_prog *a = t_compile("http"), *b = t_compile("dns");
	kc_kfl_slot_publish(&s, a, retire, &calls);
	CHECK(calls == 0 && kc_kfl_slot_get(&s) == a, "first publish retires nothing");
	kc_kfl_slot_publish(&s, b, retire, &calls);
	CHECK(calls == 1 && g_retired == a && kc_kfl_slot_get(&s) == b, "swap retires the old one");
	kc_kfl_prog_free(g_retired);
	kc_kfl_slot_publish(&s, NULL, retire, &calls);
	CHECK(calls == 2 && g_retired == b && kc_kfl_slot_get(&s) == NULL, "unpublish");
	kc_kfl_prog_free(g_retired);
}

static void scratch(void)
{
	CHECK(kc_kfl_scratch_create(100) == NULL && errno == EINVAL, "tiny scratch refused");
	struct kc_kfl_scratch *s = kc_kfl_scratch_create(4096);
	struct kc_kfl_prog *p = t_compile("js.json().x.y[1] == 20");
	cJSON *j = cJSON_Parse(X);
	CHECK(s && p && j && kc_kfl_eval_json(p, j, s), "json() fits 4 KiB");
	/* a .* step over 400 elements needs more than a 4 KiB arena holds: the
	 * matches collected so far are used and the overflow is counted */
	kc_kfl_prog_free(p);
	cJSON_Delete(j);
	char big[4000];
	size_t k = (size_t)sprintf(big, "{\"big\":[");
	for (int i = 0; i < 400; i++)
		k += (size_t)sprintf(big + k, "%s%d", i ? "," : "", i == 399 ? 1 : 0);
	sprintf(big + k, "]}");
	j = cJSON_Parse(big);
	p = t_compile("big.* == 1");
	uint64_t before = kc_kfl_scratch_stats(s)->overflows;
	CHECK(p && j && !kc_kfl_eval_json(p, j, s), "overflow truncates the match set");
	CHECK(kc_kfl_scratch_stats(s)->overflows > before, "overflow counted");
	CHECK(kc_kfl_scratch_stats(s)->evals == 2, "evals counted");
	struct kc_kfl_scratch *s2 = kc_kfl_scratch_create(0);
	CHECK(s2 && kc_kfl_eval_json(p, j, s2) && kc_kfl_scratch_stats(s2)->overflows == 0,
	      "64 KiB holds 400 matches");
	kc_kfl_scratch_free(s2);
	kc_kfl_prog_free(p);
	cJSON_Delete(j);
	kc_kfl_scratch_free(s);
	kc_kfl_scratch_free(NULL);
	kc_kfl_prog_free(NULL);
}

int main(void)
{
	values();
	precedence();
	missing();
	helpers();
	macros();
	regexes();
	lexical();
	errors();
	normalised();
	redact();
	slot();
	scratch();
	kc_kfl_scratch_free(g_scratch);
	return test_done();
}
