
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _ASYNCPRIMES_H_INCLUDED_
#define _ASYNCPRIMES_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif


/*
 * libasyncprimes: a client of ngx_async_primes that makes the service feel
 * synchronous.  ap_sum() submits a job, polls it as the server asks
 * (Retry-After), and returns the sum; submits are retried safely with an
 * Idempotency-Key, hosts are failed over, and every call has a deadline.
 *
 * A client may be used from several threads at once.  The first
 * ap_client_new() initializes libcurl (curl_global_init) once per process;
 * a program that uses libcurl itself should call curl_global_init() before
 * it starts threads.  See docs/client.md.
 */


#define AP_ID_SIZE       64     /* a request id and its NUL */
#define AP_PAYLOAD_SIZE  48     /* a sum in decimal and its NUL: < 2^128 */
#define AP_MESSAGE_SIZE  256    /* an error message and its NUL */
#define AP_RECORD_SIZE   1024   /* a record as the server sent it */


typedef enum {
    AP_OK = 0,
    AP_EBADINPUT,       /* refused as a bad job: 400, 413, 415, 422 */
    AP_ETIMEOUT,        /* the job did not end before the deadline */
    AP_EUNAVAILABLE,    /* no host could serve the call before the deadline */
    AP_ENOTFOUND,       /* 404: unknown or expired request id */
    AP_EFAILED,         /* the job ended FAILED, or was cancelled */
    AP_EPROTOCOL,       /* an answer the protocol does not allow */
    AP_ENOMEM,
    AP_EINVAL,          /* a bad argument to the library */
    AP_EENDED           /* 409: the job had ended, it is not cancelled */
} ap_code_t;


typedef enum {
    AP_IN_PROGRESS = 0,
    AP_FINISHED,
    AP_FAILED,
    AP_CANCELLED
} ap_job_status_e;


typedef struct {
    char             request_id[AP_ID_SIZE];
    ap_job_status_e  status;
    /* FINISHED: the sum in decimal; it may exceed 2^64 */
    char             payload[AP_PAYLOAD_SIZE];
    /* IN_PROGRESS: 0..1 when the server says it, else -1 */
    double           progress;
    /* IN_PROGRESS: the server's Retry-After in milliseconds, 0 if none */
    uint64_t         retry_after_ms;
    /* FAILED: why */
    char             error[AP_MESSAGE_SIZE];
    /* the record as the server sent it, without its final newline */
    char             raw[AP_RECORD_SIZE];
} ap_record_t;


typedef struct {
    ap_code_t  code;
    /* the HTTP status of the last answer, 0 if there was none */
    int        http_status;
    /* the server's "error" text when there is one, else the library's */
    char       message[AP_MESSAGE_SIZE];
} ap_error_t;


/*
 * Every member left 0 takes its default (in brackets).
 */
typedef struct {
    /* one HTTP exchange, connection included [10000] */
    unsigned long  request_timeout_ms;
    /* the TCP connection [2000] */
    unsigned long  connect_timeout_ms;
    /* backoff between attempts when the server says no Retry-After:
     * full jitter in [floor, min(cap, floor * 2^attempt)] [100, 5000] */
    unsigned long  backoff_floor_ms;
    unsigned long  backoff_cap_ms;
    /* a host's circuit opens after this many consecutive failures [5] */
    unsigned       breaker_threshold;
    /* and lets one trial through this long after it opened [5000] */
    unsigned long  breaker_cooldown_ms;
    /* sent as User-Agent [async-primes/VERSION] */
    const char    *user_agent;
} ap_client_options_t;


typedef enum {
    AP_BREAKER_CLOSED = 0,
    AP_BREAKER_OPEN,
    AP_BREAKER_HALF_OPEN
} ap_breaker_state_e;


typedef struct {
    ap_breaker_state_e  state;
    unsigned            consecutive_failures;
    /* counters since the client was made */
    uint64_t            requests;
    uint64_t            failures;
    uint64_t            opened;
} ap_host_stats_t;


typedef struct ap_client_s  ap_client_t;

/*
 * Called by ap_wait() and ap_sum() with each IN_PROGRESS record, in the
 * calling thread.
 */
typedef void (*ap_progress_pt)(const ap_record_t *record, void *user);


/*
 * base_urls: n URLs of the service, tried in turn; any host may answer any
 * call.  "http://host:port" means the location /sumPrime; a URL with a
 * path, "http://host:port/jobs", names the location.  opts may be NULL.
 * Returns NULL, with err filled in when err is not NULL, on a bad URL or
 * no memory.
 */
ap_client_t *ap_client_new(const char *const *base_urls, size_t n,
    const ap_client_options_t *opts, ap_error_t *err);
void ap_client_free(ap_client_t *client);

/*
 * Submits the job [a, b]: record_out is IN_PROGRESS, or FINISHED when the
 * server answered with a result it had already.
 */
ap_code_t ap_submit(ap_client_t *client, uint64_t a, uint64_t b,
    unsigned long timeout_ms, ap_record_t *record_out, ap_error_t *err);

/* one poll: the record, whatever its status */
ap_code_t ap_status(ap_client_t *client, const char *id,
    unsigned long timeout_ms, ap_record_t *record_out, ap_error_t *err);

/*
 * Polls the job until it ends: AP_OK with a FINISHED record, AP_EFAILED
 * with the FAILED record, or another code.  progress may be NULL.
 */
ap_code_t ap_wait(ap_client_t *client, const char *id,
    unsigned long timeout_ms, ap_progress_pt progress, void *user,
    ap_record_t *record_out, ap_error_t *err);

/*
 * DELETE of the job: AP_OK with its record, CANCELLED, or IN_PROGRESS
 * while the worker computing it stops it (poll it to see CANCELLED);
 * AP_EENDED if it had ended, AP_ENOTFOUND if there is no such job.
 */
ap_code_t ap_cancel(ap_client_t *client, const char *id,
    unsigned long timeout_ms, ap_record_t *record_out, ap_error_t *err);

/* ap_submit() then ap_wait(), all within timeout_ms */
ap_code_t ap_sum(ap_client_t *client, uint64_t a, uint64_t b,
    unsigned long timeout_ms, ap_progress_pt progress, void *user,
    ap_record_t *record_out, ap_error_t *err);

/* host i (0 <= i < n) as this client sees it; AP_EINVAL for a bad i */
ap_code_t ap_client_host_stats(ap_client_t *client, size_t i,
    ap_host_stats_t *stats_out);

const char *ap_strerror(ap_code_t code);
const char *ap_version(void);


#ifdef __cplusplus
}
#endif

#endif /* _ASYNCPRIMES_H_INCLUDED_ */
