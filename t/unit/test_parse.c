
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_parse.h"
#include "tap.h"


/* a literal with its length, so that NUL bytes can be part of a body */
#define S(s)  (const unsigned char *) (s), sizeof(s) - 1

#define M64  18446744073709551615ULL

#define POSITIVE   " must be a positive integer"
#define FRACTION   " must be an integer, not a fraction"
#define EXPONENT   " must be an integer without an exponent"
#define TOO_LARGE  " is too large (the largest is 18446744073709551615)"


static int parse(const unsigned char *p, size_t len,
    ngx_async_primes_body_t *body);
static const char *show(const unsigned char *p, size_t len);
static int message_ok(const char *error);
static void valid(const unsigned char *p, size_t len, uint64_t a, uint64_t b);
static void invalid(const unsigned char *p, size_t len, const char *error);
static void test_valid(void);
static void test_structure(void);
static void test_names(void);
static void test_values(void);
static void test_prefixes(void);
static void test_random(void);
static uint64_t rnd(void);


static uint64_t  rnd_state = 0x2545f4914f6cdd1dULL;


int
main(void)
{
    test_valid();
    test_structure();
    test_names();
    test_values();
    test_prefixes();
    test_random();

    return tap_done();
}


/* the body in a buffer of exactly its size: a sanitizer sees overreads */

static int
parse(const unsigned char *p, size_t len, ngx_async_primes_body_t *body)
{
    int             rc;
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, p, len);
    memset(body, 0x5a, sizeof(*body));

    rc = ngx_async_primes_parse_body(copy, len, body);

    free(copy);

    return rc;
}


/* a body fit for a TAP line: controls and high bytes as "?" */

static const char *
show(const unsigned char *p, size_t len)
{
    size_t       i;
    static char  buf[100];

    for (i = 0; i < len && i < sizeof(buf) - 1; i++) {
        buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char) p[i] : '?';
    }

    buf[i] = '\0';

    return buf;
}


/* terminated, printable ASCII, no double quote */

static int
message_ok(const char *error)
{
    size_t  i;

    for (i = 0; i < NGX_ASYNC_PRIMES_PARSE_ERROR_LEN; i++) {
        if (error[i] == '\0') {
            return i > 0;
        }

        if (error[i] < 0x20 || error[i] > 0x7e || error[i] == '"') {
            return 0;
        }
    }

    return 0;
}


static void
valid(const unsigned char *p, size_t len, uint64_t a, uint64_t b)
{
    int                      rc;
    ngx_async_primes_body_t  body;

    rc = parse(p, len, &body);

    if (!tap_ok(rc == 0 && body.a == a && body.b == b, "valid: %s",
                show(p, len)))
    {
        tap_diag("rc %d, a %llu, b %llu, error: %s", rc,
                 (unsigned long long) body.a, (unsigned long long) body.b,
                 show((unsigned char *) body.error,
                      strnlen(body.error, sizeof(body.error))));
    }
}


static void
invalid(const unsigned char *p, size_t len, const char *error)
{
    int                      rc;
    ngx_async_primes_body_t  body;

    rc = parse(p, len, &body);

    if (!tap_ok(rc == -1 && message_ok(body.error)
                && strcmp(body.error, error) == 0,
                "%s: %s", error, show(p, len)))
    {
        tap_diag("rc %d, error: %s", rc,
                 show((unsigned char *) body.error,
                      strnlen(body.error, sizeof(body.error))));
    }
}


static void
test_valid(void)
{
    valid(S("{\"a\": 1, \"b\": 2}"), 1, 2);
    valid(S("{\"a\":1,\"b\":2}"), 1, 2);
    valid(S(" \t\r\n{ \n\"a\" \t: \r 10 ,\n \"b\"\t:\n20 \r\n} \n\t "),
          10, 20);
    valid(S("{\"b\": 5, \"a\": 3}"), 3, 5);
    valid(S("{\"a\": 9, \"b\": 1}"), 9, 1);
    valid(S("{\"a\": \"1\", \"b\": \"18446744073709551615\"}"), 1, M64);
    valid(S("{\"a\": 18446744073709551615, \"b\": 18446744073709551615}"),
          M64, M64);
    valid(S("{\"a\": 10000000000000000000, \"b\": 99}"),
          10000000000000000000ULL, 99);
    valid(S("{\"\\u0061\": 7, \"\\u0062\": 8}"), 7, 8);
    valid(S("{\"\\u0061\": \"\\u0031\\u0032\", \"b\": 13}"), 12, 13);
    valid(S("{\"a\": 1234567890, \"b\": 9876543210}"), 1234567890,
          9876543210ULL);
}


static void
test_structure(void)
{
    int                      rc;
    ngx_async_primes_body_t  body;

    invalid(S(""), "request body is empty");
    invalid(S(" \t\r\n "), "request body is empty");

    rc = ngx_async_primes_parse_body(NULL, 0, &body);
    tap_ok(rc == -1 && strcmp(body.error, "request body is empty") == 0,
           "request body is empty: NULL");

    invalid(S("[1, 2]"), "request body must be a JSON object");
    invalid(S("\"a\""), "request body must be a JSON object");
    invalid(S("42"), "request body must be a JSON object");
    invalid(S("-1"), "request body must be a JSON object");
    invalid(S("null"), "request body must be a JSON object");
    invalid(S("true"), "request body must be a JSON object");
    invalid(S("  false"), "request body must be a JSON object");

    invalid(S("hello"), "malformed JSON at offset 0");
    invalid(S("a=1&b=2"), "malformed JSON at offset 0");
    invalid(S("\xef\xbb\xbf{\"a\": 1, \"b\": 2}"),
            "malformed JSON at offset 0");
    invalid(S("\0{\"a\": 1, \"b\": 2}"), "malformed JSON at offset 0");
    invalid(S("{"), "malformed JSON at offset 1");
    invalid(S("  {  "), "malformed JSON at offset 5");
    invalid(S("{\"a\": 1, \"b\": 2"), "malformed JSON at offset 15");
    invalid(S("{\"a\": 1, \"b\": 2}}"), "malformed JSON at offset 16");
    invalid(S("{\"a\": 1, \"b\": 2} x"), "malformed JSON at offset 17");
    invalid(S("{\"a\": 1, \"b\": 2}\0"), "malformed JSON at offset 16");
    invalid(S("{\"a\": 1, \"b\": 2}{}"), "malformed JSON at offset 16");
    invalid(S("{\"a\": 1, \"b\": 2,}"), "malformed JSON at offset 16");
    invalid(S("{,\"a\": 1, \"b\": 2}"), "malformed JSON at offset 1");
    invalid(S("{\"a\": 1,, \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1 \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1; \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\" 1}"), "malformed JSON at offset 5");
    invalid(S("{\"a\"}"), "malformed JSON at offset 4");
    invalid(S("{\"a\":}"), "malformed JSON at offset 5");
    invalid(S("{\"a\":"), "malformed JSON at offset 5");
    invalid(S("{a: 1}"), "malformed JSON at offset 1");
    invalid(S("{'a': 1}"), "malformed JSON at offset 1");
    invalid(S("{\"a\": 1,\v\"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1,\f\"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1, \"b\": 2}\x80"), "malformed JSON at offset 16");

    invalid(S("{}"), "member a is missing");
    invalid(S(" { } "), "member a is missing");
    invalid(S("{\"a\": 1}"), "member b is missing");
    invalid(S("{\"b\": 1}"), "member a is missing");
}


static void
test_names(void)
{
    invalid(S("{\"a\": 1, \"a\": 2}"), "duplicate member a");
    invalid(S("{\"a\": 1, \"\\u0061\": 2}"), "duplicate member a");
    invalid(S("{\"b\": 1, \"b\": 2, \"a\": 3}"), "duplicate member b");
    invalid(S("{\"a\": 1, \"b\": 2, \"b\": -1}"), "duplicate member b");

    invalid(S("{\"c\": 1}"), "unknown member c");
    invalid(S("{\"a\": 1, \"b\": 2, \"c\": 3}"), "unknown member c");
    invalid(S("{\"A\": 1, \"b\": 2}"), "unknown member A");
    invalid(S("{\"ab\": 1}"), "unknown member ab");
    invalid(S("{\"a\\\\\": 1}"), "unknown member a\\");
    invalid(S("{\"\\/\": 1}"), "unknown member /");
    invalid(S("{\"\": 1}"), "unknown member with an empty name");
    invalid(S("{\"abcdefghijklmnopqrstuvwxyz012345\": 1}"),
            "unknown member abcdefghijklmnopqrstuvwxyz012345");
    invalid(S("{\"abcdefghijklmnopqrstuvwxyz0123456\": 1}"),
            "unknown member");
    invalid(S("{\"a b\": 1}"), "unknown member");
    invalid(S("{\"a\\\"b\": 1}"), "unknown member");
    invalid(S("{\"\\u0000\": 1}"), "unknown member");
    invalid(S("{\"a\\n\": 1}"), "unknown member");
    invalid(S("{\"\\u0061\\u0000\": 1}"), "unknown member");
    invalid(S("{\"\xc3\xa9\": 1}"), "unknown member");
    invalid(S("{\"\\u00e9\": 1}"), "unknown member");
    invalid(S("{\"\\ud83d\\ude00\": 1}"), "unknown member");
    invalid(S("{\"\xf0\x9f\x98\x80\": 1}"), "unknown member");
    invalid(S("{\"\x7f\": 1}"), "unknown member");

    /* strings that are not JSON */

    invalid(S("{\"a"), "malformed JSON at offset 3");
    invalid(S("{\"a\\"), "malformed JSON at offset 4");
    invalid(S("{\"a\n\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"a\t\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"a\0\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\\x61\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\\a\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\\u006\": 1}"), "malformed JSON at offset 7");
    invalid(S("{\"\\u00g1\": 1}"), "malformed JSON at offset 6");
    invalid(S("{\"\\U0061\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\\ud800\": 1}"), "malformed JSON at offset 8");
    invalid(S("{\"\\ud800\\u0061\": 1}"), "malformed JSON at offset 8");
    invalid(S("{\"\\ud800\\n\": 1}"), "malformed JSON at offset 8");
    invalid(S("{\"\\udc00\": 1}"), "malformed JSON at offset 2");
    invalid(S("{\"\\ud800\\ud800\": 1}"), "malformed JSON at offset 8");
    invalid(S("{\"\xff\": 1}"), "malformed JSON at offset 2");
    invalid(S("{\"\x80\": 1}"), "malformed JSON at offset 2");
    invalid(S("{\"\xc0\xaf\": 1}"), "malformed JSON at offset 2");
    invalid(S("{\"\xe0\x80\xaf\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\xed\xa0\x80\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\xf4\x90\x80\x80\": 1}"), "malformed JSON at offset 3");
    invalid(S("{\"\xf5\x80\x80\x80\": 1}"), "malformed JSON at offset 2");
    invalid(S("{\"\xe2\x82\": 1}"), "malformed JSON at offset 4");
    invalid(S("{\"\xe2\x82"), "malformed JSON at offset 4");
}


static void
test_values(void)
{
    invalid(S("{\"a\": -1, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": 0, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": -0, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": 0e5, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": -1.5, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": true, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": false, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": null, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": {}, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": [], \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": {\"x\": [1, 2]}, \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[["), "a" POSITIVE);
    invalid(S("{\"a\": \"\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"abc\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"0\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"01\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \" 1\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"1 \", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"-1\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"+1\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"1.5\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"1e3\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": \"\xd9\xa1\", \"b\": 2}"), "a" POSITIVE);
    invalid(S("{\"a\": 1, \"b\": -5}"), "b" POSITIVE);
    invalid(S("{\"b\": 0, \"a\": -5}"), "b" POSITIVE);

    invalid(S("{\"a\": 1.5, \"b\": 2}"), "a" FRACTION);
    invalid(S("{\"a\": 1.0, \"b\": 2}"), "a" FRACTION);
    invalid(S("{\"a\": 0.5, \"b\": 2}"), "a" FRACTION);
    invalid(S("{\"a\": 1.5e3, \"b\": 2}"), "a" FRACTION);
    invalid(S("{\"a\": 1, \"b\": 2.25}"), "b" FRACTION);

    invalid(S("{\"a\": 1e3, \"b\": 2}"), "a" EXPONENT);
    invalid(S("{\"a\": 1E+3, \"b\": 2}"), "a" EXPONENT);
    invalid(S("{\"a\": 1e-3, \"b\": 2}"), "a" EXPONENT);
    invalid(S("{\"a\": 1, \"b\": 2E0}"), "b" EXPONENT);

    invalid(S("{\"a\": 18446744073709551616, \"b\": 2}"), "a" TOO_LARGE);
    invalid(S("{\"a\": 20000000000000000000, \"b\": 2}"), "a" TOO_LARGE);
    invalid(S("{\"a\": 100000000000000000000, \"b\": 2}"), "a" TOO_LARGE);
    invalid(S("{\"a\": 1, \"b\": 99999999999999999999999999999999999999999"
              "999999999999999999999999999999999999999999999999999999999}"),
            "b" TOO_LARGE);
    invalid(S("{\"a\": \"18446744073709551616\", \"b\": 2}"), "a" TOO_LARGE);
    invalid(S("{\"a\": \"123456789012345678901\", \"b\": 2}"),
            "a" TOO_LARGE);
    invalid(S("{\"a\": \"1234567890123456789012345678901234567890123456789"
              "01234567890123456789012345678901234567890\", \"b\": 2}"),
            "a" TOO_LARGE);

    /* off the JSON number grammar */

    invalid(S("{\"a\": 01, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": 00, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": -01, \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1., \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": .5, \"b\": 2}"), "malformed JSON at offset 6");
    invalid(S("{\"a\": +1, \"b\": 2}"), "malformed JSON at offset 6");
    invalid(S("{\"a\": -, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": --1, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": 1e, \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 1e+, \"b\": 2}"), "malformed JSON at offset 9");
    invalid(S("{\"a\": 1x, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": 0x10, \"b\": 2}"), "malformed JSON at offset 7");
    invalid(S("{\"a\": 1 2, \"b\": 2}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": 12abc}"), "malformed JSON at offset 8");
    invalid(S("{\"a\": Infinity, \"b\": 2}"), "malformed JSON at offset 6");
    invalid(S("{\"a\": NaN, \"b\": 2}"), "malformed JSON at offset 6");
    invalid(S("{\"a\": tru, \"b\": 2}"), "malformed JSON at offset 9");
    invalid(S("{\"a\": trueish, \"b\": 2}"), "malformed JSON at offset 10");
    invalid(S("{\"a\": nul"), "malformed JSON at offset 9");
    invalid(S("{\"a\": \"12"), "malformed JSON at offset 9");
    invalid(S("{\"a\": 1"), "malformed JSON at offset 7");
    invalid(S("{\"a\": 1.5"), "a" FRACTION);
}


/* every proper prefix of a valid body is an error, and a clean one */

static void
test_prefixes(void)
{
    int                      rc, bad;
    size_t                   i, j, len;
    ngx_async_primes_body_t  body;

    static const char  *docs[] = {
        "{\"a\": 1, \"b\": 2}",
        " {\"\\u0062\" : \"18446744073709551615\" ,\"a\":18446744073709551615}",
        "{\"a\":\"\\ud83d\\ude00\"}"
    };

    bad = 0;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        len = strlen(docs[i]);

        for (j = 0; j < len; j++) {
            rc = parse((const unsigned char *) docs[i], j, &body);

            if ((rc != -1 || !message_ok(body.error)) && bad++ == 0) {
                tap_diag("prefix %zu of %s: rc %d, error: %s", j, docs[i],
                         rc, show((unsigned char *) body.error,
                                  strnlen(body.error, sizeof(body.error))));
            }
        }
    }

    tap_ok(bad == 0, "every proper prefix fails cleanly");
}


/*
 * Random bytes and mutated bodies: no crash or overread (under the
 * sanitizers), and a clean result either way.
 */

static void
test_random(void)
{
    int                      rc, bad, ok;
    size_t                   i, j, len;
    const char              *seed;
    unsigned char            buf[96];
    ngx_async_primes_body_t  body;

    static const char  *seeds[] = {
        "{\"a\": \"\\u0031\", \"b\": [1, {\"c\": 1.5e-3}], \"\\ud83d\": 0}",
        "{\"\\ud83d\\ude00\": true, \"b\": 18446744073709551615}",
        "{\"a\": 12345, \"b\": \"67890\"}",
        "{\"\\u0061\":1,\"b\":\"\\u0032\"}"
    };
    static const char  alphabet[] = "{}[]\":,\\u0123456789abeEfnlrst.-+ \n";

    bad = 0;
    ok = 0;

    for (i = 0; i < 200000; i++) {

        if (i % 4 == 0) {
            len = rnd() % sizeof(buf);

            for (j = 0; j < len; j++) {
                buf[j] = (unsigned char) rnd();
            }

        } else {
            seed = seeds[rnd() % (sizeof(seeds) / sizeof(seeds[0]))];
            len = strlen(seed);
            memcpy(buf, seed, len);

            for (j = rnd() % 4 + 1; j > 0; j--) {
                switch (rnd() % 3) {
                case 0:
                    buf[rnd() % len] = (unsigned char) rnd();
                    break;
                case 1:
                    buf[rnd() % len] =
                        alphabet[rnd() % (sizeof(alphabet) - 1)];
                    break;
                default:
                    len = rnd() % len + 1;
                    break;
                }
            }
        }

        rc = parse(buf, len, &body);

        if (rc == 0) {
            ok++;

            if (body.a == 0 || body.b == 0) {
                rc = 1;
            }

        } else if (rc != -1 || !message_ok(body.error)) {
            rc = 1;
        }

        if (rc == 1 && bad++ == 0) {
            tap_diag("body %s: rc %d, error %s", show(buf, len), rc,
                     show((unsigned char *) body.error,
                          strnlen(body.error, sizeof(body.error))));
        }
    }

    tap_ok(bad == 0, "200000 random and mutated bodies fail cleanly");
    tap_diag("%d of them were valid", ok);
}


static uint64_t
rnd(void)
{
    return tap_rnd(&rnd_state);
}
