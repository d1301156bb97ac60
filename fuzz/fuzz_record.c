
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ngx_async_primes_record.h"
#include "fuzz.h"


/*
 * ngx_async_primes_record_parse() reads what a poll gets back from Redis,
 * where anybody with access may have written anything, and its fields
 * drive a takeover.  The reader accepts only the canonical form, so a
 * value it reads as a job in progress must be written back, byte for
 * byte, by ngx_async_primes_record_write() from the fields it read.  The
 * same holds for ngx_async_primes_record_range(), which reads what an
 * Idempotency-Key keeps.
 */


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                         rc;
    size_t                      n;
    uint64_t                    a, b;
    unsigned char              *copy, *out;
    ngx_async_primes_record_t   rec;
    char                        range[64];

    copy = fuzz_dup(data, size);
    rc = ngx_async_primes_record_parse(copy, size, &rec);

    fuzz_check(rc == -1 || rc == 0 || rc == 1);

    if (rc == 0) {
        fuzz_check(rec.doc == copy && rec.doc_len == size);
        fuzz_check(size > 0 && copy[0] == '{');
    }

    if (rc == 1) {
        fuzz_check(rec.owner_len >= 1
                   && rec.owner_len <= NGX_ASYNC_PRIMES_RECORD_OWNER_MAX);
        fuzz_check(rec.a <= rec.b);
        fuzz_check(rec.doc > copy && rec.doc + rec.doc_len == copy + size);
        fuzz_check(rec.doc_len > 0 && rec.doc[0] == '{');

        n = ngx_async_primes_record_write(NULL, rec.owner, rec.owner_len,
                                          rec.lease, rec.a, rec.b, rec.eta,
                                          rec.doc, rec.doc_len);
        fuzz_check(n == size);

        out = malloc(n);
        fuzz_check(out != NULL);

        fuzz_check(ngx_async_primes_record_write(out, rec.owner,
                                                 rec.owner_len, rec.lease,
                                                 rec.a, rec.b, rec.eta,
                                                 rec.doc, rec.doc_len)
                   == n);
        fuzz_check(memcmp(out, copy, n) == 0);
        free(out);
    }

    if (ngx_async_primes_record_range(copy, size, &a, &b) == 0) {
        n = (size_t) snprintf(range, sizeof(range), "%" PRIu64 " %" PRIu64,
                              a, b);
        fuzz_check(n == size && memcmp(range, copy, n) == 0);
    }

    free(copy);

    return 0;
}
