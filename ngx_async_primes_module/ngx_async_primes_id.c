
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <string.h>
#include <pthread.h>

#include <openssl/rand.h>

#include "ngx_async_primes_id.h"


/*
 * RAND_bytes() is called for many ids at a time: each call costs a
 * microsecond or so (OpenSSL 3 finds its generator again on every call),
 * as much as the rest of a small request.  The random bytes stay the
 * process's own: a child of fork() draws new ones instead of handing out
 * the ids its parent will, told by a pthread_atfork() handler rather than
 * by getpid(), a system call on every id.  Not for several threads at once.
 */

#define NGX_ASYNC_PRIMES_ID_BATCH  128


static unsigned char  ngx_async_primes_id_random[NGX_ASYNC_PRIMES_ID_BATCH
                                                 * 16];
static size_t         ngx_async_primes_id_left;
static int            ngx_async_primes_id_watching;


static void
ngx_async_primes_id_forget(void)
{
    ngx_async_primes_id_left = 0;
}


int
ngx_async_primes_id_generate(unsigned char *id)
{
    size_t          i, n;
    unsigned char  *bytes;

    static const char  hex[] = "0123456789abcdef";

    if (ngx_async_primes_id_left == 0) {

        if (!ngx_async_primes_id_watching) {
            if (pthread_atfork(NULL, NULL, ngx_async_primes_id_forget) != 0) {
                return -1;
            }

            ngx_async_primes_id_watching = 1;
        }

        if (RAND_bytes(ngx_async_primes_id_random,
                       sizeof(ngx_async_primes_id_random))
            != 1)
        {
            ngx_async_primes_id_left = 0;
            return -1;
        }

        ngx_async_primes_id_left = NGX_ASYNC_PRIMES_ID_BATCH;
    }

    bytes = ngx_async_primes_id_random + --ngx_async_primes_id_left * 16;

    /* RFC 4122: version 4 in the high nibble of byte 6, variant 10xx */

    bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);

    n = 0;

    for (i = 0; i < 16; i++) {

        if (i == 4 || i == 6 || i == 8 || i == 10) {
            id[n++] = '-';
        }

        id[n++] = hex[bytes[i] >> 4];
        id[n++] = hex[bytes[i] & 0x0f];
    }

    /* an id handed out is not kept in memory */
    memset(bytes, 0, 16);

    return 0;
}


int
ngx_async_primes_id_valid(const unsigned char *id, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len != NGX_ASYNC_PRIMES_ID_LEN) {
        return 0;
    }

    for (i = 0; i < NGX_ASYNC_PRIMES_ID_LEN; i++) {
        c = id[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    /* only what ngx_async_primes_id_generate() writes: version 4, RFC 4122 */

    return id[14] == '4'
           && (id[19] == '8' || id[19] == '9' || id[19] == 'a'
               || id[19] == 'b');
}
