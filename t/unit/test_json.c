
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_json.h"
#include "tap.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1

#define ID  "0f8fad5b-d9cb-469f-a165-70867728950e"

#define IN_PROGRESS  NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS
#define FINISHED     NGX_ASYNC_PRIMES_STATUS_FINISHED
#define FAILED       NGX_ASYNC_PRIMES_STATUS_FAILED
#define UNKNOWN      NGX_ASYNC_PRIMES_STATUS_UNKNOWN


static const char *show(const unsigned char *p, size_t len);
static int same(const unsigned char *got, size_t n, size_t measured,
    const char *expected, size_t len, const char *what);
static void escape(const unsigned char *src, size_t len,
    const char *expected, size_t expected_len);
static void record(const char *id, ngx_async_primes_status_e status,
    const char *payload, const char *error, const char *expected);
static void error(const unsigned char *msg, size_t len,
    const char *expected);
static void status(const unsigned char *doc, size_t len,
    ngx_async_primes_status_e expected, const char *what);
static void test_escape(void);
static void test_record(void);
static void test_status(void);
static void test_progress(void);
static uint64_t rnd(void);


static uint64_t  rnd_state = 0x853c49e6748fea9bULL;


int
main(void)
{
    test_escape();
    test_record();
    test_status();
    test_progress();

    return tap_done();
}


static const char *
show(const unsigned char *p, size_t len)
{
    size_t       i;
    static char  buf[200];

    for (i = 0; i < len && i < sizeof(buf) - 1; i++) {
        buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char) p[i] : '?';
    }

    buf[i] = '\0';

    return buf;
}


/* the output, its measured length, and nothing written past it */

static int
same(const unsigned char *got, size_t n, size_t measured,
    const char *expected, size_t len, const char *what)
{
    int  ok;

    ok = (n == len && measured == len && memcmp(got, expected, len) == 0
          && got[n] == 0xa5);

    if (!tap_ok(ok, "%s", what)) {
        tap_diag("expected %zu bytes: %s", len,
                 show((const unsigned char *) expected, len));
        tap_diag("got %zu bytes (measured %zu): %s", n, measured,
                 show(got, n));
    }

    return ok;
}


static void
escape(const unsigned char *src, size_t len, const char *expected,
    size_t expected_len)
{
    size_t         n, m;
    unsigned char  buf[256];
    char           what[128];

    memset(buf, 0xa5, sizeof(buf));

    m = ngx_async_primes_json_escape(NULL, src, len);
    n = ngx_async_primes_json_escape(buf, src, len);

    snprintf(what, sizeof(what), "escape %s", show(src, len));

    same(buf, n, m, expected, expected_len, what);
}


static void
record(const char *id, ngx_async_primes_status_e st, const char *payload,
    const char *err, const char *expected)
{
    size_t         n, m;
    unsigned char  buf[512];
    char           what[300];

    memset(buf, 0xa5, sizeof(buf));

    m = ngx_async_primes_json_record(NULL, (const unsigned char *) id,
              strlen(id), st, (const unsigned char *) payload,
              payload ? strlen(payload) : 0, (const unsigned char *) err,
              err ? strlen(err) : 0);

    n = ngx_async_primes_json_record(buf, (const unsigned char *) id,
              strlen(id), st, (const unsigned char *) payload,
              payload ? strlen(payload) : 0, (const unsigned char *) err,
              err ? strlen(err) : 0);

    snprintf(what, sizeof(what), "record %s",
             show((const unsigned char *) expected, strlen(expected) - 1));

    if (same(buf, n, m, expected, strlen(expected), what)) {

        /* and it reads back */

        tap_ok(ngx_async_primes_json_record_status(buf, n) == st,
               "its status reads back");
    }
}


static void
error(const unsigned char *msg, size_t len, const char *expected)
{
    size_t         n, m;
    unsigned char  buf[256];
    char           what[300];

    memset(buf, 0xa5, sizeof(buf));

    m = ngx_async_primes_json_error(NULL, msg, len);
    n = ngx_async_primes_json_error(buf, msg, len);

    snprintf(what, sizeof(what), "error %s",
             show((const unsigned char *) expected, strlen(expected) - 1));

    same(buf, n, m, expected, strlen(expected), what);
}


static void
test_escape(void)
{
    escape(S(""), "", 0);
    escape(S("abc 123"), "abc 123", 7);
    escape(S("\""), "\\\"", 2);
    escape(S("\\"), "\\\\", 2);
    escape(S("/"), "/", 1);
    escape(S("\n\r\t\b\f"), "\\n\\r\\t\\b\\f", 10);
    escape(S("\x01\x1f"), "\\u0001\\u001f", 12);
    escape(S("a\0b"), "a\\u0000b", 8);
    escape(S("\x7f"), "\x7f", 1);
    escape(S("caf\xc3\xa9 \xff\x80"), "caf\xc3\xa9 \xff\x80", 8);
    escape(S("say \"hi\"\\n"), "say \\\"hi\\\"\\\\n", 13);
}


static void
test_record(void)
{
    record(ID, IN_PROGRESS, NULL, NULL,
           "{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
           "\"payload\":null}\n");
    record(ID, FINISHED, "1060", NULL,
           "{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
           "\"payload\":\"1060\"}\n");
    record(ID, FINISHED, "340282366920938463463374607431768211455",
           "ignored",
           "{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
           "\"payload\":\"340282366920938463463374607431768211455\"}\n");
    record(ID, FINISHED, "", NULL,
           "{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
           "\"payload\":\"\"}\n");
    record(ID, FAILED, NULL, "the job timed out",
           "{\"requestId\":\"" ID "\",\"status\":\"FAILED\","
           "\"payload\":null,\"error\":\"the job timed out\"}\n");
    record(ID, FAILED, NULL, NULL,
           "{\"requestId\":\"" ID "\",\"status\":\"FAILED\","
           "\"payload\":null}\n");
    record(ID, FAILED, NULL, "",
           "{\"requestId\":\"" ID "\",\"status\":\"FAILED\","
           "\"payload\":null,\"error\":\"\"}\n");
    record(ID, FAILED, "x\"y", "a \"b\"\n\\",
           "{\"requestId\":\"" ID "\",\"status\":\"FAILED\","
           "\"payload\":\"x\\\"y\",\"error\":\"a \\\"b\\\"\\n\\\\\"}\n");
    record(ID, IN_PROGRESS, NULL, "ignored",
           "{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
           "\"payload\":null}\n");
    record("", FINISHED, "2", NULL,
           "{\"requestId\":\"\",\"status\":\"FINISHED\","
           "\"payload\":\"2\"}\n");
    record("a\"b", FAILED, NULL, "e",
           "{\"requestId\":\"a\\\"b\",\"status\":\"FAILED\","
           "\"payload\":null,\"error\":\"e\"}\n");

    error(S("member a is missing"), "{\"error\":\"member a is missing\"}\n");
    error(S(""), "{\"error\":\"\"}\n");
    error(S("x\"\\\n\x01"), "{\"error\":\"x\\\"\\\\\\n\\u0001\"}\n");
}


static void
status(const unsigned char *doc, size_t len,
    ngx_async_primes_status_e expected, const char *what)
{
    unsigned char              *copy;
    ngx_async_primes_status_e   st;

    /* exactly sized, so that a sanitizer sees overreads */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, doc, len);
    st = ngx_async_primes_json_record_status(copy, len);
    free(copy);

    if (!tap_ok(st == expected, "status of %s", what)) {
        tap_diag("got %d, expected %d", (int) st, (int) expected);
    }
}


static void
test_status(void)
{
    int                         bad;
    size_t                      i, j, n, len;
    unsigned char               doc[512], *copy;
    ngx_async_primes_status_e   st, expected;

    static const ngx_async_primes_status_e  all[] = {
        IN_PROGRESS, FINISHED, FAILED
    };

    status(S(""), UNKNOWN, "an empty document");
    status(S("{"), UNKNOWN, "{");
    status(S("\"status\":\""), UNKNOWN, "a bare status key");
    status(S("\"status\":\"FAILED\""), FAILED, "a bare status member");
    status(S("{\"status\":\"FINISHED"), UNKNOWN, "an unterminated status");
    status(S("{\"status\":\"FINISHEDX\"}"), UNKNOWN, "FINISHEDX");
    status(S("{\"status\":\"FINISHE\"}"), UNKNOWN, "FINISHE");
    status(S("{\"status\":\"failed\"}"), UNKNOWN, "lowercase");
    status(S("{\"status\": \"FAILED\"}"), UNKNOWN, "a space (not ours)");
    status(S("{\"status\":\"\"}"), UNKNOWN, "an empty status");
    status(S("{\"requestId\":\"" ID "\",\"status\":\"BOGUS\","
             "\"payload\":null}\n"), UNKNOWN, "a record with a bad status");
    status(S("{\"requestId\":\"" ID "\",\"state\":\"FAILED\","
             "\"payload\":\"\\\"status\\\":\\\"FINISHED\\\"\"}\n"), UNKNOWN,
           "an escaped status in a payload");
    status(S("{\"requestId\":\"x\",\"status\":\"IN_PROGRESS\"}"),
           IN_PROGRESS, "a short id");
    status(S("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
             "\"payload\":\"\\\"status\\\":\\\"FAILED\\\"\"}\n"), FINISHED,
           "a payload that quotes another status");
    status(S("\0\0\0\"status\":\"IN_PROGRESS\"\0"), IN_PROGRESS,
           "NUL bytes around");

    /* truncated records: the right status or none, never another */

    bad = 0;

    for (i = 0; i < 3; i++) {
        len = ngx_async_primes_json_record(doc, (const unsigned char *) ID,
                                           36, all[i], NULL, 0,
                                           (const unsigned char *) "e", 1);

        for (n = 0; n <= len; n++) {
            copy = malloc(n ? n : 1);
            if (copy == NULL) {
                abort();
            }

            memcpy(copy, doc, n);
            st = ngx_async_primes_json_record_status(copy, n);
            free(copy);

            if (st != UNKNOWN && st != all[i] && bad++ == 0) {
                tap_diag("status %d from %zu bytes of %s", (int) st, n,
                         show(doc, len));
            }

            if (n == len && st != all[i] && bad++ == 0) {
                tap_diag("status %d from %s", (int) st, show(doc, len));
            }
        }
    }

    tap_ok(bad == 0, "truncated records");

    /* random bytes, and records with random bytes spliced in */

    bad = 0;

    for (i = 0; i < 100000; i++) {
        expected = UNKNOWN;

        if (i % 2) {
            len = rnd() % 128;

            for (j = 0; j < len; j++) {
                doc[j] = (unsigned char) rnd();
            }

        } else {
            len = ngx_async_primes_json_record(doc,
                                               (const unsigned char *) ID, 36,
                                               all[i % 3], NULL, 0, NULL, 0);
            j = rnd() % len;
            doc[j] = (unsigned char) rnd();

            /* a change after the status leaves it readable */
            if (j >= 62 + 12) {
                expected = all[i % 3];
            }
        }

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, doc, len);
        st = ngx_async_primes_json_record_status(copy, len);
        free(copy);

        if (expected != UNKNOWN && st != expected && bad++ == 0) {
            tap_diag("status %d from %s", (int) st, show(doc, len));
        }
    }

    tap_ok(bad == 0, "random and damaged documents");
}


static uint64_t
rnd(void)
{
    return tap_rnd(&rnd_state);
}


static void
test_progress(void)
{
    size_t          n, measured;
    unsigned        i;
    unsigned char   buf[256];

    static const struct {
        unsigned     permille;
        const char  *number;
    } cases[] = {
        { 0, "0.000" }, { 7, "0.007" }, { 425, "0.425" }, { 999, "0.999" },
        { 1000, "1.000" }, { 1500, "1.000" }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  expected[128], what[64];

        snprintf(expected, sizeof(expected),
                 "{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
                 "\"payload\":null,\"progress\":%s}\n", cases[i].number);

        snprintf(what, sizeof(what), "progress of %u thousandths",
                 cases[i].permille);

        memset(buf, 0xa5, sizeof(buf));

        measured = ngx_async_primes_json_progress(NULL, S(ID),
                                                  cases[i].permille);
        n = ngx_async_primes_json_progress(buf, S(ID), cases[i].permille);

        (void) same(buf, n, measured, expected, strlen(expected), what);
    }

    n = ngx_async_primes_json_progress(buf, S(ID), 425);
    status(buf, n, IN_PROGRESS, "a record with progress");
}
