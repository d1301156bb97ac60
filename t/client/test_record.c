
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <string.h>

#include "ap_record.h"
#include "tap.h"


#define ID  "0f8fad5b-d9cb-469f-a165-70867728950e"


static const char *show(const char *json);
static void good(const char *json, ap_job_status_e status,
    const char *payload, double progress, const char *error);
static void bad(const char *json, const char *why);
static void test_records(void);
static void test_errors(void);
static void test_ids(void);


int
main(void)
{
    test_records();
    test_errors();
    test_ids();

    return tap_done();
}


/* the JSON on one line of TAP */

static const char *
show(const char *json)
{
    size_t       i;
    static char  buf[300];

    for (i = 0; json[i] != '\0' && i < sizeof(buf) - 1; i++) {
        buf[i] = (unsigned char) json[i] < 0x20 ? ' ' : json[i];
    }

    buf[i] = '\0';

    return buf;
}


static void
good(const char *json, ap_job_status_e status, const char *payload,
    double progress, const char *error)
{
    const char   *reason;
    ap_record_t   record;

    reason = NULL;

    if (!tap_ok(ap_record_parse(json, strlen(json), &record, &reason) == 0,
                "reads %s", show(json)))
    {
        tap_diag("reason: %s", reason);
        return;
    }

    tap_ok(strcmp(record.request_id, ID) == 0 && record.status == status
           && strcmp(record.payload, payload) == 0
           && record.progress > progress - 1e-9
           && record.progress < progress + 1e-9
           && strcmp(record.error, error) == 0,
           "  status %d, payload \"%s\", progress %g, error \"%s\"",
           status, payload, progress, error);

    if (strcmp(record.payload, payload) != 0
        || strcmp(record.error, error) != 0)
    {
        tap_diag("got payload \"%s\", error \"%s\", progress %g",
                 record.payload, record.error, record.progress);
    }
}


static void
bad(const char *json, const char *why)
{
    int           rc;
    const char   *reason;
    ap_record_t   record;

    reason = NULL;
    rc = ap_record_parse(json, strlen(json), &record, &reason);

    tap_ok(rc == -1 && reason != NULL, "refuses %s: %s (%s)", show(json),
           why, reason ? reason : "no reason");
}


static void
test_records(void)
{
    const char   *reason;
    ap_record_t   record;
    char          long_json[2048];

    good("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
         "\"payload\":null}\n", AP_IN_PROGRESS, "", -1, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
         "\"payload\":null,\"progress\":0.425}\n",
         AP_IN_PROGRESS, "", 0.425, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
         "\"payload\":null,\"progress\":0}", AP_IN_PROGRESS, "", 0, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
         "\"payload\":null,\"progress\":1.5}", AP_IN_PROGRESS, "", 1, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
         "\"payload\":null,\"progress\":5e-1}", AP_IN_PROGRESS, "", 0.5, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
         "\"payload\":\"1060\"}\n", AP_FINISHED, "1060", -1, "");

    /* over 2^64: a string, never a number */
    good("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
         "\"payload\":\"387381625547900573443\"}",
         AP_FINISHED, "387381625547900573443", -1, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"FAILED\",\"payload\":null,"
         "\"error\":\"the server ran out of memory computing the sum\"}\n",
         AP_FAILED, "", -1, "the server ran out of memory computing the sum");

    /* any order, spaces, escapes, members a newer server may add */
    good(" {\n \"payload\" : \"2\" , \"status\":\"FINISHED\", \"extra\": "
         "{\"x\":[1, 2.5, true, false, null, \"]}\"]}, "
         "\"requ\\u0065stId\":\"" ID "\" } ", AP_FINISHED, "2", -1, "");
    good("{\"requestId\":\"" ID "\",\"status\":\"FAILED\",\"payload\":null,"
         "\"error\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/\"}",
         AP_FAILED, "", -1, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ /");

    bad("", "empty");
    bad("[]", "an array");
    bad("{\"requestId\":\"" ID "\"}", "no status");
    bad("{\"status\":\"FINISHED\",\"payload\":\"1\"}", "no requestId");
    bad("{\"requestId\":\"" ID "\",\"status\":\"DONE\"}", "unknown status");
    bad("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
        "\"payload\":null}", "FINISHED without payload");
    bad("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
        "\"payload\":1060}", "a payload as a number");
    bad("{\"requestId\":\"" ID "\",\"status\":\"FINISHED\","
        "\"payload\":\"10a\"}", "a payload not digits");
    bad("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\","
        "\"progress\":\"half\"}", "progress as a string");
    bad("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\"", "truncated");
    bad("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\"} x",
        "trailing bytes");
    bad("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\",\"x\":01}",
        "a leading zero");
    bad("{\"requestId\":\"\\ud800\",\"status\":\"IN_PROGRESS\"}",
        "a lone surrogate");
    bad("{\"requestId\":\"a\nb\",\"status\":\"IN_PROGRESS\"}",
        "a raw newline in a string");
    bad("{\"requestId\":\"" ID ID "\",\"status\":\"IN_PROGRESS\"}",
        "an id too long");
    bad("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]],\"requestId\":\"" ID "\",\"status\":\"FAILED\"}",
        "nested too deep");

    /* the raw record is kept, without its newline, truncated if need be */
    ap_record_parse("{\"requestId\":\"" ID "\",\"status\":\"IN_PROGRESS\"}\n",
                    sizeof("{\"requestId\":\"" ID "\",\"status\":"
                           "\"IN_PROGRESS\"}\n") - 1, &record, &reason);
    tap_ok(strcmp(record.raw, "{\"requestId\":\"" ID "\",\"status\":"
                  "\"IN_PROGRESS\"}") == 0, "raw is the record: %s",
           record.raw);

    memset(long_json, ' ', sizeof(long_json));
    memcpy(long_json, "{\"requestId\":\"" ID "\",\"status\":\"FAILED\"",
           sizeof("{\"requestId\":\"" ID "\",\"status\":\"FAILED\"") - 1);
    long_json[sizeof(long_json) - 1] = '}';

    tap_ok(ap_record_parse(long_json, sizeof(long_json), &record, &reason)
           == 0 && strlen(record.raw) == sizeof(record.raw) - 1,
           "a long record is read whole, raw is truncated");
}


static void
test_errors(void)
{
    char  buf[16];

#define ERR(json)  json, sizeof(json) - 1

    tap_ok(ap_error_parse(ERR("{\"error\":\"a must not be greater than b\"}\n"),
                          buf, sizeof(buf)) == 0
           && strcmp(buf, "a must not be g") == 0,
           "an error message, truncated to its buffer: \"%s\"", buf);
    tap_ok(ap_error_parse(ERR("{\"x\":1,\"error\":\"e\\n\"}"), buf,
                          sizeof(buf)) == 0 && strcmp(buf, "e\n") == 0,
           "an error among other members, escaped");
    tap_ok(ap_error_parse(ERR("{\"x\":1}"), buf, sizeof(buf)) == -1,
           "no error member");
    tap_ok(ap_error_parse(ERR("<html>"), buf, sizeof(buf)) == -1,
           "not JSON");
    tap_ok(ap_error_parse(ERR("{\"error\":5}"), buf, sizeof(buf)) == -1,
           "an error that is not a string");

#undef ERR
}


static void
test_ids(void)
{
    tap_ok(ap_id_valid(ID), "a UUID is an id");
    tap_ok(ap_id_valid("A.b_c~d-1"), "unreserved characters are an id");
    tap_ok(!ap_id_valid(""), "empty is not");
    tap_ok(!ap_id_valid(".") && !ap_id_valid(".."), "dot segments are not");
    tap_ok(!ap_id_valid("a/b") && !ap_id_valid("a?b") && !ap_id_valid("a b")
           && !ap_id_valid("a%2f") && !ap_id_valid("a#"),
           "characters that change a URL are not");
    tap_ok(!ap_id_valid(ID ID), "an id of 72 characters is not");
}
