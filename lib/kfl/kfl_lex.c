/*
 * KFL lexer. The reference tokenises with Go's text/scanner (kfl.md section
 * 3), so this follows its rules: // and block comments, Go string escapes
 * validated but not decoded, '...' and `...` accepted with their delimiters,
 * no prefixed numbers. Identifiers are ASCII (letters, digits, '_').
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl_internal.h"

static void lex_error(struct kfl_lexer *lx, size_t off, const char *msg)
{
	if (lx->err)
		return;
	lx->err = -EINVAL;
	lx->err_off = (uint32_t)off;
	snprintf(lx->err_msg, sizeof(lx->err_msg), "%s", msg);
}

static bool is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_oct(int c)
{
	return c >= '0' && c <= '7';
}

/* Skip white space and comments; false on an unterminated block comment. */
static bool skip_space(struct kfl_lexer *lx)
{
	const char *s = lx->text;

	for (;;) {
		while (lx->pos < lx->n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
					   s[lx->pos] == '\r' || s[lx->pos] == '\n'))
			lx->pos++;
		if (lx->pos + 1 < lx->n && s[lx->pos] == '/' && s[lx->pos + 1] == '/') {
			while (lx->pos < lx->n && s[lx->pos] != '\n')
				lx->pos++;
			continue;
		}
		if (lx->pos + 1 < lx->n && s[lx->pos] == '/' && s[lx->pos + 1] == '*') {
			size_t start = lx->pos;
			lx->pos += 2;
			while (lx->pos + 1 < lx->n && !(s[lx->pos] == '*' && s[lx->pos + 1] == '/'))
				lx->pos++;
			if (lx->pos + 1 >= lx->n) {
				lex_error(lx, start, "comment not terminated: expected '*/'");
				return false;
			}
			lx->pos += 2;
			continue;
		}
		return true;
	}
}

/* Go's scanEscape: the escapes a Go string literal may contain. Only the
 * literal's own quote may be escaped ("\'" is invalid inside "..."). */
static bool scan_escape(struct kfl_lexer *lx, char quote)
{
	const char *s = lx->text;
	size_t at = lx->pos - 1; /* the backslash */
	int need = 0, base = 0;

	if (lx->pos >= lx->n) {
		lex_error(lx, at, "string not terminated: expected '\"'");
		return false;
	}
	char c = s[lx->pos];
	switch (c) {
	case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
		lx->pos++;
		return true;
	case 'x': need = 2; base = 16; lx->pos++; break;
	case 'u': need = 4; base = 16; lx->pos++; break;
	case 'U': need = 8; base = 16; lx->pos++; break;
	default:
		if (c == quote) {
			lx->pos++;
			return true;
		}
		if (is_oct((unsigned char)c)) {
			need = 3;
			base = 8;
			break;
		}
		lex_error(lx, at, "invalid escape sequence in string: expected one of \\a \\b \\f "
			  "\\n \\r \\t \\v \\\\ \\\" \\ooo \\xhh \\uhhhh (KFL strings cannot hold \\d or \\.; "
			  "use [0-9] or [.] in regexes)");
		return false;
	}
	for (int i = 0; i < need; i++) {
		int d = lx->pos < lx->n ? (unsigned char)s[lx->pos] : 0;
		bool ok = base == 8 ? is_oct(d) : isxdigit(d) != 0;
		if (!ok) {
			lex_error(lx, at, base == 8 ? "invalid escape sequence in string: expected 3 octal digits after '\\'" :
				  need == 2 ? "invalid escape sequence in string: expected 2 hex digits after \\x" :
				  need == 4 ? "invalid escape sequence in string: expected 4 hex digits after \\u" :
				  "invalid escape sequence in string: expected 8 hex digits after \\U");
			return false;
		}
		lx->pos++;
	}
	return true;
}

static void scan_quoted(struct kfl_lexer *lx, struct kfl_token *t, char quote)
{
	const char *s = lx->text;

	lx->pos++; /* opening quote */
	for (;;) {
		if (lx->pos >= lx->n || (quote != '`' && s[lx->pos] == '\n')) {
			char msg[64];
			snprintf(msg, sizeof(msg), "string not terminated: expected %c", quote);
			lex_error(lx, t->off, msg);
			t->type = T_EOF;
			return;
		}
		char c = s[lx->pos++];
		if (c == quote)
			break;
		if (c == '\\' && quote != '`' && !scan_escape(lx, quote)) {
			t->type = T_EOF;
			return;
		}
	}
	t->type = quote == '"' ? T_STRING : quote == '\'' ? T_SQSTR : T_BQSTR;
	t->len = (uint32_t)(lx->pos - t->off);
}

static void scan_number(struct kfl_lexer *lx, struct kfl_token *t)
{
	const char *s = lx->text;
	size_t p = lx->pos;
	bool digits = false;

	t->is_int = true;
	if (s[p] == '0' && p + 1 < lx->n && strchr("xXoObB", s[p + 1]) != NULL) {
		lex_error(lx, p, "prefixed numbers (0x, 0o, 0b) are not KFL: expected a decimal number");
		t->type = T_EOF;
		return;
	}
	while (p < lx->n && isdigit((unsigned char)s[p])) {
		p++;
		digits = true;
	}
	if (p < lx->n && s[p] == '.') {
		t->is_int = false;
		p++;
		while (p < lx->n && isdigit((unsigned char)s[p])) {
			p++;
			digits = true;
		}
	}
	if (digits && p < lx->n && (s[p] == 'e' || s[p] == 'E')) {
		size_t e = p++;
		t->is_int = false;
		if (p < lx->n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= lx->n || !isdigit((unsigned char)s[p])) {
			lex_error(lx, e, "exponent has no digits: expected a digit");
			t->type = T_EOF;
			return;
		}
		while (p < lx->n && isdigit((unsigned char)s[p]))
			p++;
	}
	/* Copy: the text is not NUL-terminated at p. Numbers are short in sane
	 * filters; a 300-digit literal is still parsed whole. */
	char buf[512];
	size_t len = p - lx->pos;
	if (len >= sizeof(buf)) {
		lex_error(lx, lx->pos, "number too long: expected at most 500 characters");
		t->type = T_EOF;
		return;
	}
	memcpy(buf, s + lx->pos, len);
	buf[len] = '\0';
	t->num = strtod(buf, NULL);
	t->type = T_NUMBER;
	t->len = (uint32_t)len;
	lx->pos = p;
}

void kfl_lex_next(struct kfl_lexer *lx, struct kfl_token *t)
{
	const char *s = lx->text;

	memset(t, 0, sizeof(*t));
	t->type = T_EOF;
	if (lx->err || !skip_space(lx)) {
		t->off = (uint32_t)lx->pos;
		return;
	}
	t->off = (uint32_t)lx->pos;
	if (lx->pos >= lx->n)
		return;

	char c = s[lx->pos];
	char d = lx->pos + 1 < lx->n ? s[lx->pos + 1] : '\0';

	if (is_ident_start((unsigned char)c)) {
		size_t p = lx->pos;
		while (p < lx->n && is_ident((unsigned char)s[p]))
			p++;
		t->type = T_IDENT;
		t->len = (uint32_t)(p - lx->pos);
		lx->pos = p;
		return;
	}
	if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)d))) {
		scan_number(lx, t);
		return;
	}
	if (c == '"' || c == '\'' || c == '`') {
		scan_quoted(lx, t, c);
		return;
	}

	t->len = 1;
	switch (c) {
	case '=':
		if (d == '=') {
			t->type = T_EQ;
			t->len = 2;
		} else {
			lex_error(lx, lx->pos, "unexpected '=': expected '==' (KFL has no assignment)");
			return;
		}
		break;
	case '!':
		if (d == '=') {
			t->type = T_NE;
			t->len = 2;
		} else {
			t->type = T_NOT;
		}
		break;
	case '>':
		t->type = d == '=' ? T_GE : T_GT;
		t->len = d == '=' ? 2 : 1;
		break;
	case '<':
		t->type = d == '=' ? T_LE : T_LT;
		t->len = d == '=' ? 2 : 1;
		break;
	case '-': t->type = T_MINUS; break;
	case '(': t->type = T_LPAREN; break;
	case ')': t->type = T_RPAREN; break;
	case '[': t->type = T_LBRACK; break;
	case ']': t->type = T_RBRACK; break;
	case ',': t->type = T_COMMA; break;
	case '*': t->type = T_STAR; break;
	case ':': t->type = T_COLON; break;
	case '.':
		if (d == '.') {
			t->type = T_DOTDOT;
			t->len = 2;
		} else {
			t->type = T_DOT;
		}
		break;
	case '&':
		lex_error(lx, lx->pos, d == '&' ? "unexpected '&&': expected 'and'" :
			  "unexpected '&': expected an operator");
		return;
	case '|':
		lex_error(lx, lx->pos, d == '|' ? "unexpected '||': expected 'or'" :
			  "unexpected '|': expected an operator");
		return;
	default: {
		char msg[80];
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			snprintf(msg, sizeof(msg), "unexpected character '%c': expected an operator or operand", c);
		else
			snprintf(msg, sizeof(msg), "unexpected byte 0x%02x: expected ASCII", (unsigned char)c);
		lex_error(lx, lx->pos, msg);
		return;
	}
	}
	lx->pos += t->len;
}
