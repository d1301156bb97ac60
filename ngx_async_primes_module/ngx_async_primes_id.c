
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <openssl/rand.h>

#include "ngx_async_primes_id.h"


int
ngx_async_primes_id_generate(unsigned char *id)
{
    size_t         i, n;
    unsigned char  bytes[16];

    static const char  hex[] = "0123456789abcdef";

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return -1;
    }

    /* RFC 4122: version 4 in the high nibble of byte 6, variant 10xx */

    bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);

    n = 0;

    for (i = 0; i < sizeof(bytes); i++) {

        if (i == 4 || i == 6 || i == 8 || i == 10) {
            id[n++] = '-';
        }

        id[n++] = hex[bytes[i] >> 4];
        id[n++] = hex[bytes[i] & 0x0f];
    }

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
