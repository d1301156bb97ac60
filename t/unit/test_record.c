
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_record.h"
#include "tap.h"


#define OWNER  "0f8fad5b-d9cb-469f-a165-70867728950e"
#define DOC    "{\"requestId\":\"x\",\"status\":\"IN_PROGRESS\"}\n"


static void test_round_trip(void);
static void test_final(void);
static void test_malformed(void);
static void test_range(void);
static int parse(const char *value, ngx_async_primes_record_t *rec);
static uint64_t rnd(void);


static uint64_t  rnd_state = 0x5eed0f1ea5e5ULL;


int
main(void)
{
    test_round_trip();
    test_final();
    test_malformed();
    test_range();

    return tap_done();
}


static void
test_round_trip(void)
{
    int                         i, rc;
    size_t                      n, measured;
    uint64_t                    a, b, lease, eta;
    ngx_async_primes_record_t   rec;
    unsigned char               buf[NGX_ASYNC_PRIMES_RECORD_HEADER_MAX
                                    + sizeof(DOC)];

    measured = ngx_async_primes_record_write(NULL, (unsigned char *) OWNER,
                                             sizeof(OWNER) - 1, 1, 2, 3, 4,
                                             (unsigned char *) DOC,
                                             sizeof(DOC) - 1);
    n = ngx_async_primes_record_write(buf, (unsigned char *) OWNER,
                                      sizeof(OWNER) - 1, 1, 2, 3, 4,
                                      (unsigned char *) DOC,
                                      sizeof(DOC) - 1);

    tap_ok(n == measured && n == sizeof("ap1 " OWNER " 1 2 3 4\n" DOC) - 1
           && memcmp(buf, "ap1 " OWNER " 1 2 3 4\n" DOC, n) == 0,
           "writes the header line, then the document");

    for (i = 0; i < 1000; i++) {
        lease = rnd() >> (rnd() % 64);
        a = rnd() >> (rnd() % 64);
        b = a + ((UINT64_MAX - a) >> (rnd() % 65 == 64 ? 63 : 1));
        eta = (i == 0) ? UINT64_MAX : rnd() >> (rnd() % 64);

        if (i == 1) {
            lease = 0;
            a = 0;
            b = 0;
            eta = 0;
        }

        n = ngx_async_primes_record_write(buf, (unsigned char *) OWNER,
                                          sizeof(OWNER) - 1, lease, a, b,
                                          eta, (unsigned char *) DOC,
                                          sizeof(DOC) - 1);

        rc = ngx_async_primes_record_parse(buf, n, &rec);

        if (rc != 1 || rec.lease != lease || rec.a != a || rec.b != b
            || rec.eta != eta || rec.owner_len != sizeof(OWNER) - 1
            || memcmp(rec.owner, OWNER, rec.owner_len) != 0
            || rec.doc_len != sizeof(DOC) - 1
            || memcmp(rec.doc, DOC, rec.doc_len) != 0)
        {
            tap_ok(0, "round trip of %llu %llu %llu %llu",
                   (unsigned long long) lease, (unsigned long long) a,
                   (unsigned long long) b, (unsigned long long) eta);
            return;
        }
    }

    tap_ok(1, "1000 random headers read back as written, 0 and 2^64-1 too");

    n = ngx_async_primes_record_tail(NULL, 5, 7, 9, (unsigned char *) DOC,
                                     sizeof(DOC) - 1);
    tap_ok(n == sizeof(" 5 7 9\n" DOC) - 1, "the tail measures itself");
}


static void
test_final(void)
{
    ngx_async_primes_record_t  rec;

    tap_ok(parse("{\"status\":\"FINISHED\"}\n", &rec) == 0
           && rec.doc_len == sizeof("{\"status\":\"FINISHED\"}\n") - 1,
           "a final document is the whole value");
}


static void
test_malformed(void)
{
    size_t                      i;
    ngx_async_primes_record_t   rec;

    static const char  *bad[] = {
        "",
        "ap1 ",
        "ap1",
        "ap2 o 1 2 3 4\n{}",
        "[1]",
        "ap1 o 1 2 3 4\n",
        "ap1 o 1 2 3 4\nx",
        "ap1 o 1 2 3 4{}",
        "ap1 o 1 2 3\n{}",
        "ap1 o 1 2 3 4 5\n{}",
        "ap1  1 2 3 4\n{}",
        "ap1 o\n 1 2 3 4\n{}",
        "ap1 o 01 2 3 4\n{}",
        "ap1 o +1 2 3 4\n{}",
        "ap1 o -1 2 3 4\n{}",
        "ap1 o 1  2 3 4\n{}",
        "ap1 o 1 18446744073709551616 18446744073709551616 4\n{}",
        "ap1 o 18446744073709551616 1 2 4\n{}",
        "ap1 o 1 3 2 4\n{}",
        "ap1 o 1 2 3 4",
        "ap1 o 1 2 3 ",
        "ap1 o 1 2 3",
        "ap1 o",
        "ap1 o ",
        "ap1 0123456789012345678901234567890123456789012345678901234567890"
            "1234 1 2 3 4\n{}",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(parse(bad[i], &rec) == -1, "refuses malformed value %zu", i);
    }

    tap_ok(parse("ap1 0123456789012345678901234567890123456789012345678901"
                 "234567890123 1 2 3 4\n{}", &rec) == 1,
           "an owner of 64 bytes is accepted");

    tap_ok(parse("ap1 o 0 18446744073709551615 18446744073709551615 0\n{",
                 &rec) == 1
           && rec.a == UINT64_MAX && rec.doc_len == 1,
           "2^64-1 is a number");
}


/* through a copy of exactly its length, so that ASan sees any overread */

static int
parse(const char *value, ngx_async_primes_record_t *rec)
{
    int             rc;
    size_t          len;
    unsigned char  *copy;

    len = strlen(value);

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return -2;
    }

    memcpy(copy, value, len);
    rc = ngx_async_primes_record_parse(copy, len, rec);
    free(copy);

    return rc;
}


static uint64_t
rnd(void)
{
    return tap_rnd(&rnd_state);
}


static void
test_range(void)
{
    size_t     i;
    uint64_t   a, b;

    static const char  *bad[] = {
        "", " 1 2", "1 2 ", "1  2", "1", "1 ", "01 2", "1 -2", "1 2x",
        "18446744073709551616 1", "1\n2"
    };

    tap_ok(ngx_async_primes_record_range((unsigned char *) "17 42", 5, &a, &b)
           == 0 && a == 17 && b == 42, "reads a range");

    tap_ok(ngx_async_primes_record_range(
               (unsigned char *) "0 18446744073709551615", 22, &a, &b)
           == 0 && a == 0 && b == UINT64_MAX, "reads 0 and 2^64-1");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(ngx_async_primes_record_range((unsigned char *) bad[i],
                                             strlen(bad[i]), &a, &b)
               == -1, "refuses malformed range %zu", i);
    }
}
