
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _AP_RECORD_H_INCLUDED_
#define _AP_RECORD_H_INCLUDED_


#include <stddef.h>

#include "asyncprimes.h"


/*
 * Reading the JSON the service answers with: job records and error
 * bodies.  Pure functions, no allocation.
 */


/*
 * Reads a job record into *record (request_id, status, payload, progress,
 * error, raw; retry_after_ms is left alone).  Members the client does not
 * know are skipped, so that a newer server may add some.  Returns 0, or -1
 * with *reason saying what is wrong.
 */
int ap_record_parse(const char *json, size_t len, ap_record_t *record,
    const char **reason);

/*
 * Copies the "error" member of an error body such as {"error":"..."} into
 * buf (truncated to size - 1 bytes).  Returns 0, or -1 when the body is
 * not a JSON object with a string "error".
 */
int ap_error_parse(const char *json, size_t len, char *buf, size_t size);

/* 1 when id may be put in a URL path as it is: [A-Za-z0-9._~-]{1,63} */
int ap_id_valid(const char *id);


#endif /* _AP_RECORD_H_INCLUDED_ */
