
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <string.h>

#include "ngx_async_primes_id.h"
#include "fuzz.h"


/*
 * ngx_async_primes_id_valid() reads the last segment of a poll's URI.  It
 * must say 1 exactly for the ids ngx_async_primes_id_generate() can write:
 * the canonical lowercase text of 16 bytes with the version 4 and RFC 4122
 * variant bits.  The reference here says it the other way round: decode
 * the hex digits, check the bits, encode again and compare.  Any 16 bytes
 * of the input, given those bits, make an id that must be valid.
 */


static int reference(const uint8_t *data, size_t size);
static void encode(const unsigned char *bytes, unsigned char *id);
static int hex(unsigned char c);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             valid;
    unsigned char  *copy, bytes[16], id[NGX_ASYNC_PRIMES_ID_LEN];

    copy = fuzz_dup(data, size);
    valid = ngx_async_primes_id_valid(copy, size);
    free(copy);

    fuzz_check(valid == 0 || valid == 1);
    fuzz_check(valid == reference(data, size));

    if (size >= sizeof(bytes)) {
        memcpy(bytes, data, sizeof(bytes));

        bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
        bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);

        encode(bytes, id);

        copy = fuzz_dup(id, sizeof(id));
        fuzz_check(ngx_async_primes_id_valid(copy, sizeof(id)) == 1);
        free(copy);
    }

    return 0;
}


static int
reference(const uint8_t *data, size_t size)
{
    int            d;
    size_t         i, n;
    unsigned char  bytes[16], id[NGX_ASYNC_PRIMES_ID_LEN];

    if (size != NGX_ASYNC_PRIMES_ID_LEN) {
        return 0;
    }

    memset(bytes, 0, sizeof(bytes));
    n = 0;

    for (i = 0; i < size; i++) {
        d = hex(data[i]);

        /* dashes are not decoded: the comparison below checks them */
        if (d < 0 || n == 2 * sizeof(bytes)) {
            continue;
        }

        bytes[n / 2] |= (unsigned char) (d << (n % 2 ? 0 : 4));
        n++;
    }

    if (n != 2 * sizeof(bytes)) {
        return 0;
    }

    if (bytes[6] >> 4 != 4 || (bytes[8] & 0xc0) != 0x80) {
        return 0;
    }

    encode(bytes, id);

    return memcmp(id, data, sizeof(id)) == 0;
}


static void
encode(const unsigned char *bytes, unsigned char *id)
{
    size_t  i, n;

    static const char  digits[] = "0123456789abcdef";

    n = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            id[n++] = '-';
        }

        id[n++] = digits[bytes[i] >> 4];
        id[n++] = digits[bytes[i] & 0x0f];
    }
}


/* either case: an uppercase id decodes, and fails the comparison */

static int
hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}
