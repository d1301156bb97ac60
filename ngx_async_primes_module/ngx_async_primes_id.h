
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_ID_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_ID_H_INCLUDED_


#include <stddef.h>


/* a UUID v4 in its canonical lowercase text form */
#define NGX_ASYNC_PRIMES_ID_LEN  36


/*
 * Writes NGX_ASYNC_PRIMES_ID_LEN characters, no NUL; -1 if RAND_bytes
 * fails.  One thread at a time: the random bytes are drawn in batches.
 */
int ngx_async_primes_id_generate(unsigned char *id);

/* 1 if id is a lowercase UUID v4 as ngx_async_primes_id_generate() writes */
int ngx_async_primes_id_valid(const unsigned char *id, size_t len);


#endif /* _NGX_ASYNC_PRIMES_ID_H_INCLUDED_ */
