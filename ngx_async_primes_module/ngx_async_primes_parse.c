
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdio.h>

#include "ngx_async_primes_parse.h"


/*
 * A single pass over untrusted bytes: every read is checked against len,
 * nothing needs a NUL terminator, and nothing recurses (a nested object or
 * array is refused where it starts).  Errors are reported in the order of
 * the document, so the first problem is the one the client sees.
 */


/* the longest member name quoted back in "unknown member <name>" */
#define NGX_ASYNC_PRIMES_PARSE_NAME_LEN  32

/* decoded strings are kept up to this; longer ones are only measured */
#define NGX_ASYNC_PRIMES_PARSE_STR_LEN   64

#define NGX_ASYNC_PRIMES_PARSE_MAX_DIGITS  20

#define NGX_ASYNC_PRIMES_PARSE_POSITIVE  "must be a positive integer"
#define NGX_ASYNC_PRIMES_PARSE_FRACTION  "must be an integer, not a fraction"
#define NGX_ASYNC_PRIMES_PARSE_EXPONENT                                      \
    "must be an integer without an exponent"
#define NGX_ASYNC_PRIMES_PARSE_TOO_LARGE                                     \
    "is too large (the largest is 18446744073709551615)"


typedef struct {
    const unsigned char        *p;
    size_t                      len;
    size_t                      pos;
    ngx_async_primes_body_t    *body;
} ngx_async_primes_parser_t;


typedef struct {
    size_t                      len;
    unsigned                    digits:1;
    unsigned char               data[NGX_ASYNC_PRIMES_PARSE_STR_LEN];
} ngx_async_primes_str_t;


static int ngx_async_primes_parse_member(ngx_async_primes_parser_t *ps,
    unsigned *seen);
static int ngx_async_primes_parse_value(ngx_async_primes_parser_t *ps,
    char name, uint64_t *value);
static int ngx_async_primes_parse_number(ngx_async_primes_parser_t *ps,
    char name, uint64_t *value);
static int ngx_async_primes_parse_digits(const unsigned char *p, size_t n,
    uint64_t *value);
static int ngx_async_primes_parse_literal(ngx_async_primes_parser_t *ps,
    const char *literal);
static int ngx_async_primes_parse_delimited(ngx_async_primes_parser_t *ps);
static int ngx_async_primes_parse_string(ngx_async_primes_parser_t *ps,
    ngx_async_primes_str_t *str);
static int ngx_async_primes_parse_escape(ngx_async_primes_parser_t *ps,
    uint32_t *cp);
static int ngx_async_primes_parse_hex4(ngx_async_primes_parser_t *ps,
    uint32_t *cp);
static int ngx_async_primes_parse_utf8(ngx_async_primes_parser_t *ps,
    uint32_t *cp);
static void ngx_async_primes_parse_put(ngx_async_primes_str_t *str,
    uint32_t cp);
static void ngx_async_primes_parse_ws(ngx_async_primes_parser_t *ps);
static int ngx_async_primes_parse_malformed(ngx_async_primes_parser_t *ps);
static int ngx_async_primes_parse_error(ngx_async_primes_parser_t *ps,
    char name, const char *what);
static void ngx_async_primes_parse_unknown(ngx_async_primes_parser_t *ps,
    ngx_async_primes_str_t *key);


int
ngx_async_primes_parse_body(const unsigned char *p, size_t len,
    ngx_async_primes_body_t *body)
{
    unsigned                   seen;
    ngx_async_primes_parser_t  ps;

    body->a = 0;
    body->b = 0;
    body->error[0] = '\0';

    ps.p = p;
    ps.len = len;
    ps.pos = 0;
    ps.body = body;

    ngx_async_primes_parse_ws(&ps);

    if (ps.pos == len) {
        snprintf(body->error, sizeof(body->error), "request body is empty");
        return -1;
    }

    if (p[ps.pos] != '{') {

        /* the start of some other JSON value, or not JSON at all */

        switch (p[ps.pos]) {

        case '[': case '"': case '-': case 't': case 'f': case 'n':
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            snprintf(body->error, sizeof(body->error),
                     "request body must be a JSON object");
            return -1;

        default:
            return ngx_async_primes_parse_malformed(&ps);
        }
    }

    ps.pos++;
    ngx_async_primes_parse_ws(&ps);

    seen = 0;

    if (ps.pos < len && p[ps.pos] == '}') {
        ps.pos++;

    } else {

        for ( ;; ) {
            if (ngx_async_primes_parse_member(&ps, &seen) != 0) {
                return -1;
            }

            ngx_async_primes_parse_ws(&ps);

            if (ps.pos < len && p[ps.pos] == ',') {
                ps.pos++;
                ngx_async_primes_parse_ws(&ps);
                continue;
            }

            if (ps.pos < len && p[ps.pos] == '}') {
                ps.pos++;
                break;
            }

            return ngx_async_primes_parse_malformed(&ps);
        }
    }

    ngx_async_primes_parse_ws(&ps);

    if (ps.pos != len) {
        return ngx_async_primes_parse_malformed(&ps);
    }

    if (!(seen & 1)) {
        snprintf(body->error, sizeof(body->error), "member a is missing");
        return -1;
    }

    if (!(seen & 2)) {
        snprintf(body->error, sizeof(body->error), "member b is missing");
        return -1;
    }

    return 0;
}


/* "name": value, with the name decoded so that "\u0061" is "a" */

static int
ngx_async_primes_parse_member(ngx_async_primes_parser_t *ps, unsigned *seen)
{
    char                    name;
    unsigned                bit;
    uint64_t               *value;
    ngx_async_primes_str_t  key;

    if (ps->pos == ps->len || ps->p[ps->pos] != '"') {
        return ngx_async_primes_parse_malformed(ps);
    }

    if (ngx_async_primes_parse_string(ps, &key) != 0) {
        return -1;
    }

    ngx_async_primes_parse_ws(ps);

    if (ps->pos == ps->len || ps->p[ps->pos] != ':') {
        return ngx_async_primes_parse_malformed(ps);
    }

    ps->pos++;
    ngx_async_primes_parse_ws(ps);

    if (key.len == 1 && key.data[0] == 'a') {
        name = 'a';
        bit = 1;
        value = &ps->body->a;

    } else if (key.len == 1 && key.data[0] == 'b') {
        name = 'b';
        bit = 2;
        value = &ps->body->b;

    } else {
        ngx_async_primes_parse_unknown(ps, &key);
        return -1;
    }

    if (*seen & bit) {
        snprintf(ps->body->error, sizeof(ps->body->error),
                 "duplicate member %c", name);
        return -1;
    }

    *seen |= bit;

    return ngx_async_primes_parse_value(ps, name, value);
}


static int
ngx_async_primes_parse_value(ngx_async_primes_parser_t *ps, char name,
    uint64_t *value)
{
    ngx_async_primes_str_t  str;

    if (ps->pos == ps->len) {
        return ngx_async_primes_parse_malformed(ps);
    }

    switch (ps->p[ps->pos]) {

    case '"':
        if (ngx_async_primes_parse_string(ps, &str) != 0) {
            return -1;
        }

        /* only the digits a JSON number would have, quoted */

        if (!str.digits || str.len == 0 || str.data[0] == '0') {
            return ngx_async_primes_parse_error(ps, name,
                                            NGX_ASYNC_PRIMES_PARSE_POSITIVE);
        }

        if (str.len > NGX_ASYNC_PRIMES_PARSE_MAX_DIGITS
            || ngx_async_primes_parse_digits(str.data, str.len, value) != 0)
        {
            return ngx_async_primes_parse_error(ps, name,
                                           NGX_ASYNC_PRIMES_PARSE_TOO_LARGE);
        }

        return 0;

    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return ngx_async_primes_parse_number(ps, name, value);

    case 't':
        if (ngx_async_primes_parse_literal(ps, "true") != 0) {
            return -1;
        }

        break;

    case 'f':
        if (ngx_async_primes_parse_literal(ps, "false") != 0) {
            return -1;
        }

        break;

    case 'n':
        if (ngx_async_primes_parse_literal(ps, "null") != 0) {
            return -1;
        }

        break;

    case '{':
    case '[':
        /* refused without descending: nothing here needs nesting */
        break;

    default:
        return ngx_async_primes_parse_malformed(ps);
    }

    return ngx_async_primes_parse_error(ps, name,
                                        NGX_ASYNC_PRIMES_PARSE_POSITIVE);
}


/*
 * A JSON number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?;
 * anything off the grammar is malformed JSON, anything on it but not a
 * positive integer says what is wrong with it.
 */

static int
ngx_async_primes_parse_number(ngx_async_primes_parser_t *ps, char name,
    uint64_t *value)
{
    size_t                int_start, int_len;
    unsigned              negative, fraction, exponent;
    const unsigned char  *p;

    p = ps->p;

    negative = 0;
    fraction = 0;
    exponent = 0;

    if (p[ps->pos] == '-') {
        negative = 1;
        ps->pos++;
    }

    if (ps->pos == ps->len || p[ps->pos] < '0' || p[ps->pos] > '9') {
        return ngx_async_primes_parse_malformed(ps);
    }

    int_start = ps->pos;

    if (p[ps->pos] == '0') {
        /* no leading zeros: a digit after this one is off the grammar */
        ps->pos++;

    } else {
        while (ps->pos < ps->len && p[ps->pos] >= '0' && p[ps->pos] <= '9') {
            ps->pos++;
        }
    }

    int_len = ps->pos - int_start;

    if (ps->pos < ps->len && p[ps->pos] == '.') {
        fraction = 1;
        ps->pos++;

        if (ps->pos == ps->len || p[ps->pos] < '0' || p[ps->pos] > '9') {
            return ngx_async_primes_parse_malformed(ps);
        }

        while (ps->pos < ps->len && p[ps->pos] >= '0' && p[ps->pos] <= '9') {
            ps->pos++;
        }
    }

    if (ps->pos < ps->len && (p[ps->pos] == 'e' || p[ps->pos] == 'E')) {
        exponent = 1;
        ps->pos++;

        if (ps->pos < ps->len && (p[ps->pos] == '+' || p[ps->pos] == '-')) {
            ps->pos++;
        }

        if (ps->pos == ps->len || p[ps->pos] < '0' || p[ps->pos] > '9') {
            return ngx_async_primes_parse_malformed(ps);
        }

        while (ps->pos < ps->len && p[ps->pos] >= '0' && p[ps->pos] <= '9') {
            ps->pos++;
        }
    }

    /* "01" is not "0" followed by garbage but a malformed number */

    if (ngx_async_primes_parse_delimited(ps) != 0) {
        return -1;
    }

    if (negative || p[int_start] == '0') {
        if (fraction && !negative) {
            return ngx_async_primes_parse_error(ps, name,
                                            NGX_ASYNC_PRIMES_PARSE_FRACTION);
        }

        return ngx_async_primes_parse_error(ps, name,
                                            NGX_ASYNC_PRIMES_PARSE_POSITIVE);
    }

    if (fraction) {
        return ngx_async_primes_parse_error(ps, name,
                                            NGX_ASYNC_PRIMES_PARSE_FRACTION);
    }

    if (exponent) {
        return ngx_async_primes_parse_error(ps, name,
                                            NGX_ASYNC_PRIMES_PARSE_EXPONENT);
    }

    if (int_len > NGX_ASYNC_PRIMES_PARSE_MAX_DIGITS
        || ngx_async_primes_parse_digits(p + int_start, int_len, value) != 0)
    {
        return ngx_async_primes_parse_error(ps, name,
                                           NGX_ASYNC_PRIMES_PARSE_TOO_LARGE);
    }

    return 0;
}


/* n decimal digits; -1 if the value does not fit 64 bits */

static int
ngx_async_primes_parse_digits(const unsigned char *p, size_t n,
    uint64_t *value)
{
    size_t    i;
    uint64_t  v, d;

    v = 0;

    for (i = 0; i < n; i++) {
        d = p[i] - '0';

        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    *value = v;

    return 0;
}


static int
ngx_async_primes_parse_literal(ngx_async_primes_parser_t *ps,
    const char *literal)
{
    for ( /* void */ ; *literal != '\0'; literal++) {

        if (ps->pos == ps->len
            || ps->p[ps->pos] != (unsigned char) *literal)
        {
            return ngx_async_primes_parse_malformed(ps);
        }

        ps->pos++;
    }

    return ngx_async_primes_parse_delimited(ps);
}


/* a number or a literal ends where something else may follow it */

static int
ngx_async_primes_parse_delimited(ngx_async_primes_parser_t *ps)
{
    if (ps->pos == ps->len) {
        return 0;
    }

    switch (ps->p[ps->pos]) {

    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case ',':
    case '}':
    case ']':
        return 0;

    default:
        return ngx_async_primes_parse_malformed(ps);
    }
}


/*
 * A JSON string at ps->pos, its opening quote included.  The decoded text
 * is UTF-8; str->data keeps its first bytes, str->len counts them all, and
 * str->digits tells whether they all are ASCII digits.
 */

static int
ngx_async_primes_parse_string(ngx_async_primes_parser_t *ps,
    ngx_async_primes_str_t *str)
{
    uint32_t       cp;
    unsigned char  c;

    str->len = 0;
    str->digits = 1;

    /* the opening quote */
    ps->pos++;

    for ( ;; ) {

        if (ps->pos == ps->len) {
            return ngx_async_primes_parse_malformed(ps);
        }

        c = ps->p[ps->pos];

        if (c == '"') {
            ps->pos++;
            return 0;
        }

        if (c < 0x20) {
            return ngx_async_primes_parse_malformed(ps);
        }

        if (c == '\\') {
            if (ngx_async_primes_parse_escape(ps, &cp) != 0) {
                return -1;
            }

        } else if (c >= 0x80) {
            if (ngx_async_primes_parse_utf8(ps, &cp) != 0) {
                return -1;
            }

        } else {
            cp = c;
            ps->pos++;
        }

        ngx_async_primes_parse_put(str, cp);
    }
}


/* a backslash escape; a surrogate must come as a high and low pair */

static int
ngx_async_primes_parse_escape(ngx_async_primes_parser_t *ps, uint32_t *cp)
{
    uint32_t  lo;

    /* the backslash */
    ps->pos++;

    if (ps->pos == ps->len) {
        return ngx_async_primes_parse_malformed(ps);
    }

    switch (ps->p[ps->pos]) {

    case '"':
    case '\\':
    case '/':
        *cp = ps->p[ps->pos];
        break;

    case 'b':
        *cp = '\b';
        break;

    case 'f':
        *cp = '\f';
        break;

    case 'n':
        *cp = '\n';
        break;

    case 'r':
        *cp = '\r';
        break;

    case 't':
        *cp = '\t';
        break;

    case 'u':
        ps->pos++;

        if (ngx_async_primes_parse_hex4(ps, cp) != 0) {
            return -1;
        }

        if (*cp >= 0xdc00 && *cp <= 0xdfff) {
            ps->pos -= 6;
            return ngx_async_primes_parse_malformed(ps);
        }

        if (*cp >= 0xd800 && *cp <= 0xdbff) {

            if (ps->len - ps->pos < 2
                || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u')
            {
                return ngx_async_primes_parse_malformed(ps);
            }

            ps->pos += 2;

            if (ngx_async_primes_parse_hex4(ps, &lo) != 0) {
                return -1;
            }

            if (lo < 0xdc00 || lo > 0xdfff) {
                ps->pos -= 6;
                return ngx_async_primes_parse_malformed(ps);
            }

            *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        return 0;

    default:
        return ngx_async_primes_parse_malformed(ps);
    }

    ps->pos++;

    return 0;
}


static int
ngx_async_primes_parse_hex4(ngx_async_primes_parser_t *ps, uint32_t *cp)
{
    size_t         i;
    uint32_t       v;
    unsigned char  c;

    v = 0;

    for (i = 0; i < 4; i++) {

        if (ps->pos == ps->len) {
            return ngx_async_primes_parse_malformed(ps);
        }

        c = ps->p[ps->pos];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            v = v * 16 + (c - 'a' + 10);

        } else if (c >= 'A' && c <= 'F') {
            v = v * 16 + (c - 'A' + 10);

        } else {
            return ngx_async_primes_parse_malformed(ps);
        }

        ps->pos++;
    }

    *cp = v;

    return 0;
}


/*
 * A UTF-8 sequence of two to four bytes, strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */

static int
ngx_async_primes_parse_utf8(ngx_async_primes_parser_t *ps, uint32_t *cp)
{
    size_t         i, n;
    uint32_t       v;
    unsigned char  c, min, max;

    c = ps->p[ps->pos];

    /* the range of the second byte depends on the first */

    min = 0x80;
    max = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        v = c & 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        v = c & 0x0f;

        if (c == 0xe0) {
            min = 0xa0;

        } else if (c == 0xed) {
            max = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        v = c & 0x07;

        if (c == 0xf0) {
            min = 0x90;

        } else if (c == 0xf4) {
            max = 0x8f;
        }

    } else {
        return ngx_async_primes_parse_malformed(ps);
    }

    ps->pos++;

    for (i = 0; i < n; i++) {

        if (ps->pos == ps->len) {
            return ngx_async_primes_parse_malformed(ps);
        }

        c = ps->p[ps->pos];

        if (c < min || c > max) {
            return ngx_async_primes_parse_malformed(ps);
        }

        v = (v << 6) | (c & 0x3f);

        min = 0x80;
        max = 0xbf;
        ps->pos++;
    }

    *cp = v;

    return 0;
}


static void
ngx_async_primes_parse_put(ngx_async_primes_str_t *str, uint32_t cp)
{
    size_t         i, n;
    unsigned char  buf[4];

    if (cp < 0x80) {
        buf[0] = (unsigned char) cp;
        n = 1;

    } else if (cp < 0x800) {
        buf[0] = (unsigned char) (0xc0 | (cp >> 6));
        buf[1] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 2;

    } else if (cp < 0x10000) {
        buf[0] = (unsigned char) (0xe0 | (cp >> 12));
        buf[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 3;

    } else {
        buf[0] = (unsigned char) (0xf0 | (cp >> 18));
        buf[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        buf[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        buf[3] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 4;
    }

    if (cp < '0' || cp > '9') {
        str->digits = 0;
    }

    for (i = 0; i < n; i++) {
        if (str->len < NGX_ASYNC_PRIMES_PARSE_STR_LEN) {
            str->data[str->len] = buf[i];
        }

        /* the count goes on: a long string is measured, not kept */
        str->len++;
    }
}


static void
ngx_async_primes_parse_ws(ngx_async_primes_parser_t *ps)
{
    while (ps->pos < ps->len) {

        switch (ps->p[ps->pos]) {

        case ' ':
        case '\t':
        case '\r':
        case '\n':
            ps->pos++;
            break;

        default:
            return;
        }
    }
}


/* at ps->pos: the offending byte, or the end of a truncated document */

static int
ngx_async_primes_parse_malformed(ngx_async_primes_parser_t *ps)
{
    snprintf(ps->body->error, sizeof(ps->body->error),
             "malformed JSON at offset %zu", ps->pos);

    return -1;
}


static int
ngx_async_primes_parse_error(ngx_async_primes_parser_t *ps, char name,
    const char *what)
{
    snprintf(ps->body->error, sizeof(ps->body->error), "%c %s", name, what);

    return -1;
}


/*
 * The name goes back to the client inside a JSON string, so only a short
 * one of plain printable ASCII is quoted, and never a double quote.
 */

static void
ngx_async_primes_parse_unknown(ngx_async_primes_parser_t *ps,
    ngx_async_primes_str_t *key)
{
    size_t  i;

    if (key->len == 0) {
        snprintf(ps->body->error, sizeof(ps->body->error),
                 "unknown member with an empty name");
        return;
    }

    if (key->len > NGX_ASYNC_PRIMES_PARSE_NAME_LEN) {
        goto anonymous;
    }

    for (i = 0; i < key->len; i++) {
        if (key->data[i] <= 0x20 || key->data[i] >= 0x7f
            || key->data[i] == '"')
        {
            goto anonymous;
        }
    }

    snprintf(ps->body->error, sizeof(ps->body->error), "unknown member %.*s",
             (int) key->len, key->data);
    return;

anonymous:

    snprintf(ps->body->error, sizeof(ps->body->error), "unknown member");
}
