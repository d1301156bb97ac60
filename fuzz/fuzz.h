
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * A broken property aborts: libFuzzer keeps the input as a crash, and the
 * corpus replay of t/001-fuzz-corpus.t dies with the message.
 */

#define fuzz_check(expr)                                                     \
    if (!(expr)) {                                                           \
        fuzz_fail(__FILE__, __LINE__, #expr);                                \
    }


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static inline void
fuzz_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: property broken: %s\n", file, line, expr);
    fflush(stderr);

    abort();
}


static inline unsigned char *
fuzz_alloc(size_t len)
{
    unsigned char  *p;

    p = calloc(len ? len : 1, 1);
    if (p == NULL) {
        abort();
    }

    return p;
}


/*
 * A copy in a buffer of exactly len bytes, so that AddressSanitizer sees a
 * read past the end of a derived input as it sees one past the original.
 */

static inline unsigned char *
fuzz_dup(const void *src, size_t len)
{
    unsigned char  *p;

    p = fuzz_alloc(len);

    if (len) {
        memcpy(p, src, len);
    }

    return p;
}


#endif /* _FUZZ_H_INCLUDED_ */
