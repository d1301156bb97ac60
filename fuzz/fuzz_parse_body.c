
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ngx_async_primes_parse.h"
#include "fuzz.h"


/*
 * ngx_async_primes_parse_body() reads the body of a POST as the client sent
 * it (JSON, or a form type that curl -d sends and that is read as JSON).
 * Beyond not crashing:
 *
 *   - it answers 0 or -1, the same twice, whatever the body held before;
 *   - an error is a non-empty line of printable ASCII without a double
 *     quote, NUL-terminated in its buffer: it goes to the client inside a
 *     JSON string; a "malformed JSON at offset N" has N within the body;
 *   - a success gives 1 <= a, b <= 2^64 - 1 that come back the same from
 *     canonical bodies written with them, and from the body itself with
 *     whitespace around it;
 *   - a successful body cut before its closing brace is malformed at the
 *     cut (or empty), and one with a byte after it is malformed there.
 */


#define FUZZ_PARSE_PREFIXES  64


static int parse(const unsigned char *p, size_t len,
    ngx_async_primes_body_t *body);
static void check_error(const ngx_async_primes_body_t *body, size_t len);
static void check_same(const char *doc, uint64_t a, uint64_t b);
static void check_truncated(const uint8_t *data, size_t size,
    size_t closing);
static int malformed_at(const ngx_async_primes_body_t *body, size_t offset);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       rc, rc2;
    char                      doc[128];
    size_t                    closing;
    unsigned char            *copy;
    ngx_async_primes_body_t   body, body2;

    memset(&body, 0x00, sizeof(body));
    rc = parse(data, size, &body);

    fuzz_check(rc == 0 || rc == -1);

    memset(&body2, 0xa5, sizeof(body2));
    rc2 = parse(data, size, &body2);

    fuzz_check(rc2 == rc);
    fuzz_check(strcmp(body2.error, body.error) == 0);

    if (rc == -1) {
        check_error(&body, size);
        return 0;
    }

    fuzz_check(body.error[0] == '\0');
    fuzz_check(body2.a == body.a && body2.b == body.b);
    fuzz_check(body.a >= 1 && body.b >= 1);

    snprintf(doc, sizeof(doc), "{\"a\":%llu,\"b\":%llu}",
             (unsigned long long) body.a, (unsigned long long) body.b);
    check_same(doc, body.a, body.b);

    snprintf(doc, sizeof(doc), "{\"b\": \"%llu\", \"a\": \"%llu\"}",
             (unsigned long long) body.b, (unsigned long long) body.a);
    check_same(doc, body.a, body.b);

    snprintf(doc, sizeof(doc), "{\"\\u0061\":%llu,\"\\u0062\":%llu}\n",
             (unsigned long long) body.a, (unsigned long long) body.b);
    check_same(doc, body.a, body.b);

    /* the same body between whitespace */

    copy = fuzz_alloc(size + 4);
    copy[0] = ' ';
    copy[1] = '\t';
    memcpy(copy + 2, data, size);
    copy[size + 2] = '\r';
    copy[size + 3] = '\n';

    rc2 = parse(copy, size + 4, &body2);

    fuzz_check(rc2 == 0 && body2.a == body.a && body2.b == body.b);

    /* and with one more byte, which cannot be whitespace */

    copy[size + 3] = 'x';

    rc2 = parse(copy, size + 4, &body2);

    fuzz_check(rc2 == -1 && malformed_at(&body2, size + 3));

    free(copy);

    closing = size;

    while (closing > 0 && data[closing - 1] != '}') {
        closing--;
    }

    /* a success ends with an object, and only whitespace may follow it */
    fuzz_check(closing > 0);

    check_truncated(data, size, closing - 1);

    return 0;
}


/* in a buffer of exactly len bytes: the parser must not read past it */

static int
parse(const unsigned char *p, size_t len, ngx_async_primes_body_t *body)
{
    int             rc;
    unsigned char  *copy;

    copy = fuzz_dup(p, len);

    rc = ngx_async_primes_parse_body(copy, len, body);

    free(copy);

    return rc;
}


static void
check_error(const ngx_async_primes_body_t *body, size_t len)
{
    size_t              n;
    unsigned long long  offset;

    n = strnlen(body->error, sizeof(body->error));

    fuzz_check(n > 0 && n < sizeof(body->error));

    for (n = 0; body->error[n] != '\0'; n++) {
        fuzz_check(body->error[n] >= 0x20 && body->error[n] <= 0x7e
                   && body->error[n] != '"');
    }

    if (sscanf(body->error, "malformed JSON at offset %llu", &offset) == 1) {
        fuzz_check(offset <= len);
    }
}


static void
check_same(const char *doc, uint64_t a, uint64_t b)
{
    int                      rc;
    ngx_async_primes_body_t  body;

    rc = parse((const unsigned char *) doc, strlen(doc), &body);

    fuzz_check(rc == 0 && body.a == a && body.b == b);
}


/*
 * Every cut before the closing brace, or a sample of them in a long body:
 * a truncated document is malformed at its end, never a different error,
 * and never a success.
 */

static void
check_truncated(const uint8_t *data, size_t size, size_t closing)
{
    int                      rc;
    size_t                   k, step, ws;
    ngx_async_primes_body_t  body;

    step = closing / FUZZ_PARSE_PREFIXES + 1;

    ws = 0;

    while (ws < size && (data[ws] == ' ' || data[ws] == '\t'
                         || data[ws] == '\r' || data[ws] == '\n'))
    {
        ws++;
    }

    for (k = closing; ; k = k > step ? k - step : 0) {

        rc = parse(data, k, &body);

        fuzz_check(rc == -1);

        if (k <= ws) {
            fuzz_check(strcmp(body.error, "request body is empty") == 0);

        } else {
            fuzz_check(malformed_at(&body, k));
        }

        if (k == 0) {
            break;
        }
    }

    /* only whitespace follows the brace: a cut just after it parses */

    if (closing + 1 < size) {
        rc = parse(data, closing + 1, &body);
        fuzz_check(rc == 0);
    }
}


static int
malformed_at(const ngx_async_primes_body_t *body, size_t offset)
{
    char  expected[NGX_ASYNC_PRIMES_PARSE_ERROR_LEN];

    snprintf(expected, sizeof(expected), "malformed JSON at offset %zu",
             offset);

    return strcmp(body->error, expected) == 0;
}
