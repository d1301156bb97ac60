
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <string.h>

#include "ngx_async_primes_json.h"
#include "fuzz.h"


/*
 * ngx_async_primes_json_record_status() reads what Redis answers to a
 * poll's GET: a record this module wrote, or whatever else is under the key.
 * The input is used twice:
 *
 *   - as the reply itself: the answer must be the reference's, a plain
 *     byte by byte reading of the function's contract (the status after
 *     "status":" at the offset a 36 character id puts it, if it names one,
 *     else after the first "status":" in the document);
 *
 *   - as the fields of a record, which ngx_async_primes_json_record() writes
 *     (measuring first, then writing exactly as much) and which must be read
 *     back with the status it was written with.  The first byte holds the
 *     status and whether payload and error are NULL, the next two the
 *     lengths of the id and the payload, the rest the id, the payload and
 *     the error.
 */


#define FUZZ_STATUS  "\"status\":\""

/* {"requestId":" with a 36 character id, its closing quote and a comma */
#define FUZZ_STATUS_OFFSET  (sizeof("{\"requestId\":\"") - 1 + 36 + 2)


static void check_reply(const uint8_t *data, size_t size);
static void check_record(const uint8_t *data, size_t size);
static ngx_async_primes_status_e reference(const uint8_t *doc, size_t len);
static ngx_async_primes_status_e reference_at(const uint8_t *p,
    size_t len);
static ngx_async_primes_status_e status_of(const uint8_t *doc, size_t len);


static const char  *names[] = { "UNKNOWN", "IN_PROGRESS", "FINISHED",
                                "FAILED" };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_reply(data, size);
    check_record(data, size);

    return 0;
}


static void
check_reply(const uint8_t *data, size_t size)
{
    ngx_async_primes_status_e  status;

    status = status_of(data, size);

    fuzz_check(status >= NGX_ASYNC_PRIMES_STATUS_UNKNOWN
               && status <= NGX_ASYNC_PRIMES_STATUS_FAILED);
    fuzz_check(status == reference(data, size));
}


static void
check_record(const uint8_t *data, size_t size)
{
    size_t                     id_len, payload_len, error_len, len, n;
    unsigned char             *doc, flags;
    const uint8_t             *id, *payload, *error;
    ngx_async_primes_status_e  status;

    if (size < 3) {
        return;
    }

    flags = data[0];
    status = (ngx_async_primes_status_e) (flags & 3);

    id_len = data[1];
    payload_len = data[2];

    data += 3;
    size -= 3;

    id_len = id_len < size ? id_len : size;
    id = data;
    data += id_len;
    size -= id_len;

    payload_len = payload_len < size ? payload_len : size;
    payload = (flags & 4) ? NULL : data;
    data += payload_len;
    size -= payload_len;

    error_len = size;
    error = (flags & 8) ? NULL : data;

    len = ngx_async_primes_json_record(NULL, id, id_len, status,
                                       payload, payload_len,
                                       error, error_len);

    doc = fuzz_alloc(len);

    n = ngx_async_primes_json_record(doc, id, id_len, status,
                                     payload, payload_len, error, error_len);

    fuzz_check(n == len);
    fuzz_check(len >= 2 && doc[len - 2] == '}' && doc[len - 1] == '\n');

    fuzz_check(ngx_async_primes_json_record_status(doc, len) == status);

    free(doc);
}


static ngx_async_primes_status_e
reference(const uint8_t *doc, size_t len)
{
    size_t                     i, plen;
    ngx_async_primes_status_e  status;

    plen = sizeof(FUZZ_STATUS) - 1;

    if (len >= FUZZ_STATUS_OFFSET + plen
        && memcmp(doc, "{\"requestId\":\"", 14) == 0
        && memcmp(doc + FUZZ_STATUS_OFFSET, FUZZ_STATUS, plen) == 0)
    {
        status = reference_at(doc + FUZZ_STATUS_OFFSET + plen,
                              len - FUZZ_STATUS_OFFSET - plen);

        if (status != NGX_ASYNC_PRIMES_STATUS_UNKNOWN) {
            return status;
        }
    }

    for (i = 0; i + plen <= len; i++) {
        if (memcmp(doc + i, FUZZ_STATUS, plen) == 0) {
            return reference_at(doc + i + plen, len - i - plen);
        }
    }

    return NGX_ASYNC_PRIMES_STATUS_UNKNOWN;
}


static ngx_async_primes_status_e
reference_at(const uint8_t *p, size_t len)
{
    size_t  i, n;

    for (i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i]);

        if (len >= n + 1 && memcmp(p, names[i], n) == 0 && p[n] == '"') {
            return (ngx_async_primes_status_e) i;
        }
    }

    return NGX_ASYNC_PRIMES_STATUS_UNKNOWN;
}


/* hiredis ends a reply with a NUL, which the reader must not need */

static ngx_async_primes_status_e
status_of(const uint8_t *doc, size_t len)
{
    unsigned char             *copy;
    ngx_async_primes_status_e  status;

    copy = fuzz_dup(doc, len);
    status = ngx_async_primes_json_record_status(copy, len);
    free(copy);

    return status;
}
