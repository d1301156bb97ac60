
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "asyncprimes.h"
#include "ap_record.h"
#include "ap_retry.h"


#define AP_EXPORT  __attribute__((visibility("default")))

#ifndef AP_VERSION
#define AP_VERSION  "0.0.0"
#endif

#define AP_DEFAULT_TIMEOUT_MS          60000
#define AP_DEFAULT_REQUEST_TIMEOUT_MS  10000
#define AP_DEFAULT_CONNECT_TIMEOUT_MS  2000
#define AP_DEFAULT_BACKOFF_FLOOR_MS    100
#define AP_DEFAULT_BACKOFF_CAP_MS      5000
#define AP_DEFAULT_BREAKER_THRESHOLD   5
#define AP_DEFAULT_BREAKER_COOLDOWN_MS 5000

/* no answer of the service is near this; more is not the service */
#define AP_BODY_MAX  65536

/* the longest a poll asks the server to hold it, in seconds */
#define AP_WAIT_MAX  30

/* 128 random bits in hex */
#define AP_KEY_SIZE  33


typedef struct {
    char             *submit_url;
    char             *job_url;          /* the prefix of a job's URL */
    ap_breaker_t      breaker;
    /* Retry-After or backoff: no request to the host before this */
    uint64_t          not_before_ms;
    uint64_t          requests;
    uint64_t          failures;
    uint64_t          opened;
} ap_host_t;


struct ap_client_s {
    pthread_mutex_t      mutex;
    ap_host_t           *hosts;
    size_t               nhosts;
    size_t               next;          /* where the next call starts */
    ap_client_options_t  opts;
    char                *user_agent;
};


typedef enum {
    AP_OUTCOME_ANSWER = 0,      /* an answer for the caller to read */
    AP_OUTCOME_RETRY,           /* try again, on this host or another */
    AP_OUTCOME_NOMEM
} ap_outcome_e;


/* one call of the API: one thread, one curl handle, one deadline */

typedef struct {
    ap_client_t        *client;
    CURL               *curl;
    uint64_t            deadline_ms;
    uint64_t            random;
    unsigned            failures;

    long                http_status;
    char               *body;
    size_t              body_len;
    int                 body_overflow;
    int                 has_retry_after;
    uint64_t            retry_after_ms;

    /*
     * A poll sent with "Prefer: wait=N" (seconds, 0: none), and whether
     * the server says it held it ("Preference-Applied: wait=N")
     */
    unsigned            prefer_wait;
    int                 waited;

    /* another method than GET (a poll) or POST (a submit): DELETE */
    const char         *method;

    /* why the last attempt failed, for the error the caller gets */
    int                 last_status;
    char                last_error[AP_MESSAGE_SIZE];
    char                curl_error[CURL_ERROR_SIZE];
} ap_call_t;


static void ap_curl_init_once(void);
static uint64_t ap_now_ms(void);
static void ap_sleep_until(uint64_t when_ms);
static int ap_random_bytes(void *buf, size_t len);
static ap_code_t ap_check_job(ap_client_t *client, const char *id,
    ap_record_t *record, ap_error_t *err);
static ap_code_t ap_fail(ap_error_t *err, ap_code_t code, int http_status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static char *ap_strdup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static ap_code_t ap_host_init(ap_host_t *host, const char *base,
    ap_error_t *err);
static ap_code_t ap_call_init(ap_call_t *call, ap_client_t *client,
    unsigned long timeout_ms, ap_error_t *err);
static void ap_call_free(ap_call_t *call);
static size_t ap_write_body(char *data, size_t size, size_t n, void *ctx);
static size_t ap_read_header(char *data, size_t size, size_t n, void *ctx);
static ap_host_t *ap_pick_host(ap_call_t *call, uint64_t now,
    uint64_t *wait_until);
static void ap_host_report(ap_call_t *call, ap_host_t *host,
    int failed, int neutral, uint64_t not_before);
static int ap_memmem(const char *data, size_t len, const char *s, size_t n);
static ap_code_t ap_request(ap_call_t *call, const char *id,
    const char *body, const char *key, ap_error_t *err);
static void ap_note_failure(ap_call_t *call, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
static struct curl_slist *ap_headers(const char *body, const char *key,
    unsigned prefer_wait);
static ap_outcome_e ap_attempt(ap_call_t *call, ap_host_t *host,
    const char *id, const char *body, const char *key);
static ap_code_t ap_answer_error(ap_call_t *call, ap_error_t *err);
static ap_code_t ap_read_record(ap_call_t *call, ap_record_t *record,
    ap_error_t *err);
static ap_code_t ap_call_submit(ap_call_t *call, uint64_t a, uint64_t b,
    ap_record_t *record, ap_error_t *err);
static ap_code_t ap_call_status(ap_call_t *call, const char *id,
    ap_record_t *record, ap_error_t *err);
static ap_code_t ap_call_wait(ap_call_t *call, const char *id,
    uint64_t first_delay_ms, ap_progress_pt progress, void *user,
    ap_record_t *record, ap_error_t *err);
static ap_code_t ap_ok(ap_error_t *err);


/*
 * curl_global_init() is not thread-safe and must run once per process:
 * the one piece of state shared by all clients.
 */
static pthread_once_t  ap_curl_once = PTHREAD_ONCE_INIT;
static CURLcode        ap_curl_init_rc = CURLE_FAILED_INIT;


static void
ap_curl_init_once(void)
{
    ap_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}


static uint64_t
ap_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


static void
ap_sleep_until(uint64_t when_ms)
{
    uint64_t         now, left;
    struct timespec  ts;

    for ( ;; ) {
        now = ap_now_ms();

        if (now >= when_ms) {
            return;
        }

        left = when_ms - now;
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (long) (left % 1000) * 1000000;

        (void) nanosleep(&ts, NULL);
    }
}


static int
ap_random_bytes(void *buf, size_t len)
{
    int      fd;
    ssize_t  n;
    size_t   got;

    got = 0;

    while (got < len) {
        n = getrandom((char *) buf + got, len - got, 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            break;
        }

        got += n;
    }

    if (got == len) {
        return 0;
    }

    /* a kernel without getrandom() */

    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        return -1;
    }

    got = 0;

    while (got < len) {
        n = read(fd, (char *) buf + got, len - got);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }

            close(fd);
            return -1;
        }

        got += n;
    }

    close(fd);

    return 0;
}


static ap_code_t
ap_fail(ap_error_t *err, ap_code_t code, int http_status, const char *fmt,
    ...)
{
    va_list  args;

    if (err != NULL) {
        err->code = code;
        err->http_status = http_status;

        va_start(args, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, args);
        va_end(args);
    }

    return code;
}


static char *
ap_strdup_printf(const char *fmt, ...)
{
    int      n;
    char    *s;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (n < 0) {
        return NULL;
    }

    s = malloc(n + 1);

    if (s == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    vsnprintf(s, n + 1, fmt, args);
    va_end(args);

    return s;
}


/*
 * "http://host:port" means the location /sumPrime; a URL with a path names
 * the location.  A job is polled at the submit URL, a "/" unless it ends
 * with one, and its id: where the server's Location points.
 */

static ap_code_t
ap_host_init(ap_host_t *host, const char *base, ap_error_t *err)
{
    size_t       len;
    const char  *authority, *path;

    memset(host, 0, sizeof(*host));

    if (strncasecmp(base, "http://", 7) == 0) {
        authority = base + 7;

    } else if (strncasecmp(base, "https://", 8) == 0) {
        authority = base + 8;

    } else {
        return ap_fail(err, AP_EINVAL, 0,
                       "\"%s\" is not an http:// or https:// URL", base);
    }

    if (*authority == '\0' || *authority == '/'
        || strpbrk(base, " \t\r\n?#") != NULL)
    {
        return ap_fail(err, AP_EINVAL, 0,
                       "\"%s\" is not a URL of the service: no host, "
                       "or a query or fragment", base);
    }

    path = strchr(authority, '/');
    len = strlen(base);

    if (path == NULL || strcmp(path, "/") == 0) {
        len -= path != NULL;
        host->submit_url = ap_strdup_printf("%.*s/sumPrime", (int) len, base);

    } else {
        host->submit_url = ap_strdup_printf("%s", base);
    }

    if (host->submit_url == NULL) {
        return ap_fail(err, AP_ENOMEM, 0, "out of memory");
    }

    len = strlen(host->submit_url);

    host->job_url = ap_strdup_printf("%s%s", host->submit_url,
                                     host->submit_url[len - 1] == '/'
                                     ? "" : "/");

    if (host->job_url == NULL) {
        free(host->submit_url);
        host->submit_url = NULL;
        return ap_fail(err, AP_ENOMEM, 0, "out of memory");
    }

    return AP_OK;
}


AP_EXPORT ap_client_t *
ap_client_new(const char *const *base_urls, size_t n,
    const ap_client_options_t *opts, ap_error_t *err)
{
    size_t        i;
    ap_client_t  *client;

    if (base_urls == NULL || n == 0) {
        (void) ap_fail(err, AP_EINVAL, 0, "no URL of the service");
        return NULL;
    }

    pthread_once(&ap_curl_once, ap_curl_init_once);

    if (ap_curl_init_rc != CURLE_OK) {
        (void) ap_fail(err, AP_ENOMEM, 0, "curl_global_init() failed: %s",
                       curl_easy_strerror(ap_curl_init_rc));
        return NULL;
    }

    client = calloc(1, sizeof(ap_client_t));

    if (client == NULL) {
        (void) ap_fail(err, AP_ENOMEM, 0, "out of memory");
        return NULL;
    }

    if (pthread_mutex_init(&client->mutex, NULL) != 0) {
        (void) ap_fail(err, AP_ENOMEM, 0, "pthread_mutex_init() failed");
        free(client);
        return NULL;
    }

    if (opts != NULL) {
        client->opts = *opts;
    }

#define ap_default(member, value)                                            \
    if (client->opts.member == 0) {                                          \
        client->opts.member = value;                                         \
    }

    ap_default(request_timeout_ms, AP_DEFAULT_REQUEST_TIMEOUT_MS);
    ap_default(connect_timeout_ms, AP_DEFAULT_CONNECT_TIMEOUT_MS);
    ap_default(backoff_floor_ms, AP_DEFAULT_BACKOFF_FLOOR_MS);
    ap_default(backoff_cap_ms, AP_DEFAULT_BACKOFF_CAP_MS);
    ap_default(breaker_threshold, AP_DEFAULT_BREAKER_THRESHOLD);
    ap_default(breaker_cooldown_ms, AP_DEFAULT_BREAKER_COOLDOWN_MS);

#undef ap_default

    if (client->opts.backoff_cap_ms < client->opts.backoff_floor_ms) {
        client->opts.backoff_cap_ms = client->opts.backoff_floor_ms;
    }

    client->user_agent = ap_strdup_printf("%s",
                                          client->opts.user_agent != NULL
                                          ? client->opts.user_agent
                                          : "async-primes/" AP_VERSION);

    /* the caller's string need not outlive the call */
    client->opts.user_agent = NULL;

    client->hosts = calloc(n, sizeof(ap_host_t));

    if (client->user_agent == NULL || client->hosts == NULL) {
        (void) ap_fail(err, AP_ENOMEM, 0, "out of memory");
        ap_client_free(client);
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (base_urls[i] == NULL) {
            (void) ap_fail(err, AP_EINVAL, 0, "URL %zu is NULL", i);
            ap_client_free(client);
            return NULL;
        }

        if (ap_host_init(&client->hosts[i], base_urls[i], err) != AP_OK) {
            ap_client_free(client);
            return NULL;
        }

        client->nhosts++;
    }

    return client;
}


AP_EXPORT void
ap_client_free(ap_client_t *client)
{
    size_t  i;

    if (client == NULL) {
        return;
    }

    for (i = 0; i < client->nhosts; i++) {
        free(client->hosts[i].submit_url);
        free(client->hosts[i].job_url);
    }

    (void) pthread_mutex_destroy(&client->mutex);

    free(client->hosts);
    free(client->user_agent);
    free(client);
}


AP_EXPORT ap_code_t
ap_client_host_stats(ap_client_t *client, size_t i, ap_host_stats_t *stats)
{
    ap_host_t  *host;

    if (client == NULL || stats == NULL || i >= client->nhosts) {
        return AP_EINVAL;
    }

    host = &client->hosts[i];

    pthread_mutex_lock(&client->mutex);

    stats->state = host->breaker.state;
    stats->consecutive_failures = host->breaker.failures;
    stats->requests = host->requests;
    stats->failures = host->failures;
    stats->opened = host->opened;

    pthread_mutex_unlock(&client->mutex);

    return AP_OK;
}


static ap_code_t
ap_call_init(ap_call_t *call, ap_client_t *client, unsigned long timeout_ms,
    ap_error_t *err)
{
    memset(call, 0, sizeof(*call));

    call->client = client;
    call->deadline_ms = ap_now_ms()
                        + (timeout_ms ? timeout_ms : AP_DEFAULT_TIMEOUT_MS);

    if (ap_random_bytes(&call->random, sizeof(call->random)) != 0) {
        return ap_fail(err, AP_EUNAVAILABLE, 0,
                       "no random bytes from the system");
    }

    /* xorshift never leaves 0 */
    call->random |= 1;

    call->curl = curl_easy_init();

    if (call->curl == NULL) {
        return ap_fail(err, AP_ENOMEM, 0, "curl_easy_init() failed");
    }

    /* signals are the application's; timeouts work without them */
    curl_easy_setopt(call->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(call->curl, CURLOPT_USERAGENT, client->user_agent);
    curl_easy_setopt(call->curl, CURLOPT_ERRORBUFFER, call->curl_error);
    curl_easy_setopt(call->curl, CURLOPT_WRITEFUNCTION, ap_write_body);
    curl_easy_setopt(call->curl, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(call->curl, CURLOPT_HEADERFUNCTION, ap_read_header);
    curl_easy_setopt(call->curl, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(call->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(call->curl, CURLOPT_PROTOCOLS_STR, "http,https");

    return AP_OK;
}


static void
ap_call_free(ap_call_t *call)
{
    if (call->curl != NULL) {
        curl_easy_cleanup(call->curl);
    }

    free(call->body);
}


static size_t
ap_write_body(char *data, size_t size, size_t n, void *ctx)
{
    size_t      len;
    ap_call_t  *call;

    call = ctx;
    len = size * n;

    if (call->body_len + len > AP_BODY_MAX) {
        call->body_overflow = 1;
        return 0;
    }

    if (call->body == NULL) {
        call->body = malloc(AP_BODY_MAX + 1);

        if (call->body == NULL) {
            return 0;
        }
    }

    memcpy(call->body + call->body_len, data, len);
    call->body_len += len;
    call->body[call->body_len] = '\0';

    return len;
}


static size_t
ap_read_header(char *data, size_t size, size_t n, void *ctx)
{
    size_t      len;
    uint64_t    ms;
    ap_call_t  *call;

    call = ctx;
    len = size * n;

    /* a status line starts the headers of each answer, interim ones too */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        call->has_retry_after = 0;
        call->retry_after_ms = 0;
        call->waited = 0;
        return len;
    }

    if (len > 19 && strncasecmp(data, "Preference-Applied:", 19) == 0
        && ap_memmem(data + 19, len - 19, "wait=", 5))
    {
        call->waited = 1;
    }

    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0
        && ap_retry_after_parse(data + 12, len - 12, time(NULL), &ms) == 0)
    {
        call->has_retry_after = 1;
        call->retry_after_ms = ms;
    }

    return len;
}


/*
 * The next host in turn that may be asked now: its Retry-After or backoff
 * has passed and its circuit lets the request through.  Without one,
 * *wait_until is when the first will.
 */

static ap_host_t *
ap_pick_host(ap_call_t *call, uint64_t now, uint64_t *wait_until)
{
    size_t        k, i;
    uint64_t      ready, earliest;
    ap_host_t    *host;
    ap_client_t  *client;

    client = call->client;
    earliest = UINT64_MAX;

    pthread_mutex_lock(&client->mutex);

    for (k = 0; k < client->nhosts; k++) {
        i = (client->next + k) % client->nhosts;
        host = &client->hosts[i];

        ready = ap_breaker_ready_at(&host->breaker, now,
                                    client->opts.breaker_cooldown_ms);

        if (host->not_before_ms > ready) {
            ready = host->not_before_ms;
        }

        if (ready <= now
            && ap_breaker_allow(&host->breaker, now,
                                client->opts.breaker_cooldown_ms))
        {
            client->next = i + 1;
            host->requests++;
            pthread_mutex_unlock(&client->mutex);
            return host;
        }

        if (ready < earliest) {
            earliest = ready > now ? ready : now + 1;
        }
    }

    pthread_mutex_unlock(&client->mutex);

    *wait_until = earliest;

    return NULL;
}


static void
ap_host_report(ap_call_t *call, ap_host_t *host, int failed, int neutral,
    uint64_t not_before)
{
    ap_client_t  *client;

    client = call->client;

    pthread_mutex_lock(&client->mutex);

    if (failed) {
        host->failures++;

        if (ap_breaker_failure(&host->breaker, ap_now_ms(),
                               client->opts.breaker_threshold))
        {
            host->opened++;
        }

    } else if (neutral) {
        ap_breaker_neutral(&host->breaker);

    } else {
        ap_breaker_success(&host->breaker);
    }

    if (not_before > host->not_before_ms) {
        host->not_before_ms = not_before;
    }

    pthread_mutex_unlock(&client->mutex);
}


/*
 * Sends the request to one host after another until one answers with
 * something other than "try again" or the deadline comes: a POST when id
 * is NULL, else the poll of job id.  A POST is sent again only because it
 * carries the Idempotency-Key key: the server then keeps one job.
 */

static ap_code_t
ap_request(ap_call_t *call, const char *id, const char *body,
    const char *key, ap_error_t *err)
{
    uint64_t    now, wait_until;
    ap_host_t  *host;

    call->last_status = 0;
    call->last_error[0] = '\0';

    for ( ;; ) {
        now = ap_now_ms();

        if (now >= call->deadline_ms) {
            break;
        }

        host = ap_pick_host(call, now, &wait_until);

        if (host == NULL) {
            if (wait_until >= call->deadline_ms) {
                /* the server asked for more time than there is */
                break;
            }

            ap_sleep_until(wait_until);
            continue;
        }

        switch (ap_attempt(call, host, id, body, key)) {

        case AP_OUTCOME_ANSWER:
            return AP_OK;

        case AP_OUTCOME_NOMEM:
            return ap_fail(err, AP_ENOMEM, 0, "out of memory");

        default:
            break;
        }
    }

    if (call->last_error[0] == '\0') {
        return ap_fail(err, AP_EUNAVAILABLE, 0,
                       "no host of the service could be asked before the "
                       "deadline: their circuits are open");
    }

    return ap_fail(err, AP_EUNAVAILABLE, call->last_status,
                   "no answer before the deadline; the last: %s",
                   call->last_error);
}


/* why the last attempt failed: the error if the deadline comes next */

static void
ap_note_failure(ap_call_t *call, int status, const char *fmt, ...)
{
    va_list  args;

    call->last_status = status;

    va_start(args, fmt);
    vsnprintf(call->last_error, sizeof(call->last_error), fmt, args);
    va_end(args);
}


/* does the header value hold the string? */

static int
ap_memmem(const char *data, size_t len, const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i + n <= len; i++) {
        if (strncasecmp(data + i, s, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static struct curl_slist *
ap_headers(const char *body, const char *key, unsigned prefer_wait)
{
    size_t              i, n;
    const char         *lines[5];
    struct curl_slist  *list, *next;
    char                key_header[AP_KEY_SIZE + 32];
    char                prefer_header[32];

    n = 0;
    lines[n++] = "Accept: application/json";

    /* a server that can hold the poll answers when the job ends */
    if (body == NULL && prefer_wait > 0) {
        snprintf(prefer_header, sizeof(prefer_header), "Prefer: wait=%u",
                 prefer_wait);
        lines[n++] = prefer_header;
    }

    if (body != NULL) {
        lines[n++] = "Content-Type: application/json";

        /* no "Expect: 100-continue" and its wait: the body is a few bytes */
        lines[n++] = "Expect:";

        if (key != NULL) {
            snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s",
                     key);
            lines[n++] = key_header;
        }
    }

    list = NULL;

    for (i = 0; i < n; i++) {
        next = curl_slist_append(list, lines[i]);

        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }

        list = next;
    }

    return list;
}


static ap_outcome_e
ap_attempt(ap_call_t *call, ap_host_t *host, const char *id,
    const char *body, const char *key)
{
    int                 cut, failed;
    char               *url, message[AP_MESSAGE_SIZE];
    CURLcode            rc;
    uint64_t            now, timeout, limit, connect_timeout, wait;
    ap_client_t        *client;
    struct curl_slist  *headers;

    client = call->client;

    url = id != NULL ? ap_strdup_printf("%s%s", host->job_url, id)
                     : host->submit_url;
    headers = ap_headers(body, key, call->prefer_wait);

    if (url == NULL || headers == NULL) {
        if (url != NULL && url != host->submit_url) {
            free(url);
        }

        curl_slist_free_all(headers);
        ap_host_report(call, host, 0, 1, 0);
        return AP_OUTCOME_NOMEM;
    }

    call->body_len = 0;
    call->body_overflow = 0;
    call->has_retry_after = 0;
    call->retry_after_ms = 0;
    call->http_status = 0;
    call->curl_error[0] = '\0';

    now = ap_now_ms();
    timeout = call->deadline_ms - now;

    /* a poll the server may hold has that much more time */
    limit = client->opts.request_timeout_ms
            + (uint64_t) call->prefer_wait * 1000;
    cut = timeout < limit;

    if (!cut) {
        timeout = limit;
    }

    connect_timeout = client->opts.connect_timeout_ms < timeout
                      ? client->opts.connect_timeout_ms : timeout;

    curl_easy_setopt(call->curl, CURLOPT_URL, url);
    curl_easy_setopt(call->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(call->curl, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(call->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) connect_timeout);

    if (body != NULL) {
        curl_easy_setopt(call->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(call->curl, CURLOPT_POSTFIELDSIZE,
                         (long) strlen(body));

    } else {
        curl_easy_setopt(call->curl, CURLOPT_HTTPGET, 1L);
    }

    curl_easy_setopt(call->curl, CURLOPT_CUSTOMREQUEST, call->method);

    rc = curl_easy_perform(call->curl);

    curl_easy_setopt(call->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);

    now = ap_now_ms();

    if (rc == CURLE_OK || call->body_overflow) {
        curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE,
                          &call->http_status);
    }

    if (rc != CURLE_OK && !call->body_overflow) {
        ap_note_failure(call, 0, "%s: %s", url,
                        call->curl_error[0] ? call->curl_error
                                            : curl_easy_strerror(rc));

        wait = ap_backoff_ms(client->opts.backoff_floor_ms,
                             client->opts.backoff_cap_ms, call->failures++,
                             ap_random_next(&call->random));

        /* a request cut short by the caller's deadline blames no host */
        failed = !(cut && rc == CURLE_OPERATION_TIMEDOUT);

        ap_host_report(call, host, failed, !failed, now + wait);

        goto retry;
    }

    switch (call->http_status) {

    case 429:
    case 502:
    case 503:
    case 504:
        if (call->body == NULL
            || ap_error_parse(call->body, call->body_len, message,
                              sizeof(message)) != 0)
        {
            snprintf(message, sizeof(message), "no error message");
        }

        ap_note_failure(call, (int) call->http_status, "%s: %ld %s", url,
                        call->http_status, message);

        if (call->has_retry_after) {
            wait = ap_retry_after_wait_ms(call->retry_after_ms,
                                          ap_random_next(&call->random));
            call->failures++;

        } else {
            wait = ap_backoff_ms(client->opts.backoff_floor_ms,
                                 client->opts.backoff_cap_ms,
                                 call->failures++,
                                 ap_random_next(&call->random));
        }

        /* a 429 throttles this client; the host itself is well */
        ap_host_report(call, host, call->http_status != 429, 0, now + wait);

        goto retry;

    default:
        ap_host_report(call, host, 0, 0, 0);
        break;
    }

    if (url != host->submit_url) {
        free(url);
    }

    return AP_OUTCOME_ANSWER;

retry:

    if (url != host->submit_url) {
        free(url);
    }

    return AP_OUTCOME_RETRY;
}


/* the error for an answer that is not the one hoped for */

static ap_code_t
ap_answer_error(ap_call_t *call, ap_error_t *err)
{
    int   status;
    char  message[AP_MESSAGE_SIZE];

    status = (int) call->http_status;

    if (call->body == NULL || call->body_overflow
        || ap_error_parse(call->body, call->body_len, message,
                          sizeof(message)) != 0)
    {
        snprintf(message, sizeof(message), "HTTP status %d", status);
    }

    switch (status) {

    case 400:
    case 413:
    case 415:
    case 422:
        return ap_fail(err, AP_EBADINPUT, status, "%s", message);

    case 404:
        return ap_fail(err, AP_ENOTFOUND, status, "%s", message);

    case 409:
        return ap_fail(err, AP_EENDED, status, "%s", message);

    default:
        if (status >= 500) {
            return ap_fail(err, AP_EUNAVAILABLE, status, "%s", message);
        }

        return ap_fail(err, AP_EPROTOCOL, status,
                       "unexpected answer %d: %s", status, message);
    }
}


static ap_code_t
ap_read_record(ap_call_t *call, ap_record_t *record, ap_error_t *err)
{
    const char  *reason;

    if (call->body == NULL || call->body_overflow) {
        return ap_fail(err, AP_EPROTOCOL, (int) call->http_status,
                       "an answer %ld without a job record",
                       call->http_status);
    }

    if (ap_record_parse(call->body, call->body_len, record, &reason) != 0) {
        return ap_fail(err, AP_EPROTOCOL, (int) call->http_status,
                       "a bad job record in an answer %ld: %s",
                       call->http_status, reason);
    }

    if (!ap_id_valid(record->request_id)) {
        return ap_fail(err, AP_EPROTOCOL, (int) call->http_status,
                       "a job record with a request id that is not safe "
                       "in a URL");
    }

    record->retry_after_ms = call->has_retry_after ? call->retry_after_ms
                                                   : 0;

    return AP_OK;
}


static ap_code_t
ap_call_submit(ap_call_t *call, uint64_t a, uint64_t b, ap_record_t *record,
    ap_error_t *err)
{
    char           key[AP_KEY_SIZE], body[64];
    size_t         i;
    ap_code_t      rc;
    unsigned char  bytes[(AP_KEY_SIZE - 1) / 2];

    /* one key per submit, the same for all its retries */
    if (ap_random_bytes(bytes, sizeof(bytes)) != 0) {
        return ap_fail(err, AP_EUNAVAILABLE, 0,
                       "no random bytes for the Idempotency-Key");
    }

    for (i = 0; i < sizeof(bytes); i++) {
        snprintf(key + 2 * i, 3, "%02x", bytes[i]);
    }

    snprintf(body, sizeof(body), "{\"a\":%" PRIu64 ",\"b\":%" PRIu64 "}",
             a, b);

    rc = ap_request(call, NULL, body, key, err);

    if (rc != AP_OK) {
        return rc;
    }

    if (call->http_status != 202 && call->http_status != 200) {
        return ap_answer_error(call, err);
    }

    return ap_read_record(call, record, err);
}


static ap_code_t
ap_call_status(ap_call_t *call, const char *id, ap_record_t *record,
    ap_error_t *err)
{
    ap_code_t  rc;

    rc = ap_request(call, id, NULL, NULL, err);

    if (rc != AP_OK) {
        return rc;
    }

    if (call->http_status != 200) {
        return ap_answer_error(call, err);
    }

    rc = ap_read_record(call, record, err);

    if (rc != AP_OK) {
        return rc;
    }

    if (strcmp(record->request_id, id) != 0) {
        return ap_fail(err, AP_EPROTOCOL, 200,
                       "the poll of job %s answered with job %s",
                       id, record->request_id);
    }

    return AP_OK;
}


static ap_code_t
ap_call_wait(ap_call_t *call, const char *id, uint64_t first_delay_ms,
    ap_progress_pt progress, void *user, ap_record_t *record,
    ap_error_t *err)
{
    unsigned   polls;
    uint64_t   delay, wake, now, left;
    ap_code_t  rc;

    delay = first_delay_ms;
    polls = 0;

    for ( ;; ) {
        if (delay > 0) {
            wake = ap_now_ms() + delay;

            /* no poll before the server said: give up rather than wait */
            if (wake >= call->deadline_ms) {
                return ap_fail(err, AP_ETIMEOUT, 0,
                               "job %s did not end before the deadline "
                               "(the next poll was due %" PRIu64 " ms later)",
                               id, wake - call->deadline_ms);
            }

            ap_sleep_until(wake);
        }

        /*
         * "Prefer: wait=N": a server that holds polls answers when the job
         * ends, and says so; N leaves a second of the deadline for that.
         */
        now = ap_now_ms();
        left = call->deadline_ms > now ? (call->deadline_ms - now) / 1000
                                       : 0;
        call->prefer_wait = left > 1 ? (unsigned) (left - 1 < AP_WAIT_MAX
                                                   ? left - 1 : AP_WAIT_MAX)
                                     : 0;

        rc = ap_call_status(call, id, record, err);

        call->prefer_wait = 0;

        if (rc != AP_OK) {
            return rc;
        }

        switch (record->status) {

        case AP_FINISHED:
            return AP_OK;

        case AP_FAILED:
            return ap_fail(err, AP_EFAILED, 200, "%s",
                           record->error[0] ? record->error
                                            : "the job failed");

        case AP_CANCELLED:
            return ap_fail(err, AP_EFAILED, 200, "the job was cancelled");

        default:
            break;
        }

        if (progress != NULL) {
            progress(record, user);
        }

        /* held until its time was up: the next poll may be held at once */
        if (call->waited) {
            delay = 0;

        } else if (record->retry_after_ms > 0) {
            delay = ap_retry_after_wait_ms(record->retry_after_ms,
                                           ap_random_next(&call->random));

        } else {
            delay = ap_backoff_ms(call->client->opts.backoff_floor_ms,
                                  call->client->opts.backoff_cap_ms,
                                  polls++, ap_random_next(&call->random));
        }
    }
}


static ap_code_t
ap_ok(ap_error_t *err)
{
    if (err != NULL) {
        err->code = AP_OK;
        err->http_status = 0;
        err->message[0] = '\0';
    }

    return AP_OK;
}


AP_EXPORT ap_code_t
ap_submit(ap_client_t *client, uint64_t a, uint64_t b,
    unsigned long timeout_ms, ap_record_t *record, ap_error_t *err)
{
    ap_code_t  rc;
    ap_call_t  call;

    if (client == NULL || record == NULL) {
        return ap_fail(err, AP_EINVAL, 0, "no client or no record");
    }

    rc = ap_call_init(&call, client, timeout_ms, err);

    if (rc == AP_OK) {
        rc = ap_call_submit(&call, a, b, record, err);
    }

    ap_call_free(&call);

    return rc == AP_OK ? ap_ok(err) : rc;
}


/* the arguments of a call about one job: a client, a record, an id */

static ap_code_t
ap_check_job(ap_client_t *client, const char *id, ap_record_t *record,
    ap_error_t *err)
{
    if (client == NULL || record == NULL || id == NULL) {
        return ap_fail(err, AP_EINVAL, 0, "no client, id or record");
    }

    if (!ap_id_valid(id)) {
        return ap_fail(err, AP_EBADINPUT, 0, "\"%.64s\" is not a request id",
                       id);
    }

    return AP_OK;
}


AP_EXPORT ap_code_t
ap_status(ap_client_t *client, const char *id, unsigned long timeout_ms,
    ap_record_t *record, ap_error_t *err)
{
    ap_code_t  rc;
    ap_call_t  call;

    rc = ap_check_job(client, id, record, err);

    if (rc != AP_OK) {
        return rc;
    }

    rc = ap_call_init(&call, client, timeout_ms, err);

    if (rc == AP_OK) {
        rc = ap_call_status(&call, id, record, err);
    }

    ap_call_free(&call);

    return rc == AP_OK ? ap_ok(err) : rc;
}


AP_EXPORT ap_code_t
ap_cancel(ap_client_t *client, const char *id, unsigned long timeout_ms,
    ap_record_t *record, ap_error_t *err)
{
    ap_code_t  rc;
    ap_call_t  call;

    rc = ap_check_job(client, id, record, err);

    if (rc != AP_OK) {
        return rc;
    }

    rc = ap_call_init(&call, client, timeout_ms, err);

    if (rc == AP_OK) {
        call.method = "DELETE";

        rc = ap_request(&call, id, NULL, NULL, err);

        if (rc == AP_OK) {
            rc = (call.http_status == 200 || call.http_status == 202)
                 ? ap_read_record(&call, record, err)
                 : ap_answer_error(&call, err);
        }
    }

    ap_call_free(&call);

    return rc == AP_OK ? ap_ok(err) : rc;
}


AP_EXPORT ap_code_t
ap_wait(ap_client_t *client, const char *id, unsigned long timeout_ms,
    ap_progress_pt progress, void *user, ap_record_t *record,
    ap_error_t *err)
{
    ap_code_t  rc;
    ap_call_t  call;

    rc = ap_check_job(client, id, record, err);

    if (rc != AP_OK) {
        return rc;
    }

    rc = ap_call_init(&call, client, timeout_ms, err);

    if (rc == AP_OK) {
        rc = ap_call_wait(&call, id, 0, progress, user, record, err);
    }

    ap_call_free(&call);

    return rc == AP_OK ? ap_ok(err) : rc;
}


AP_EXPORT ap_code_t
ap_sum(ap_client_t *client, uint64_t a, uint64_t b, unsigned long timeout_ms,
    ap_progress_pt progress, void *user, ap_record_t *record,
    ap_error_t *err)
{
    char       id[AP_ID_SIZE];
    uint64_t   delay;
    ap_code_t  rc;
    ap_call_t  call;

    if (client == NULL || record == NULL) {
        return ap_fail(err, AP_EINVAL, 0, "no client or no record");
    }

    rc = ap_call_init(&call, client, timeout_ms, err);

    if (rc == AP_OK) {
        rc = ap_call_submit(&call, a, b, record, err);
    }

    if (rc == AP_OK && record->status == AP_FAILED) {
        rc = ap_fail(err, AP_EFAILED, (int) call.http_status, "%s",
                     record->error[0] ? record->error : "the job failed");

    } else if (rc == AP_OK && record->status == AP_CANCELLED) {
        rc = ap_fail(err, AP_EFAILED, (int) call.http_status,
                     "the job was cancelled");

    } else if (rc == AP_OK && record->status == AP_IN_PROGRESS) {
        if (progress != NULL) {
            progress(record, user);
        }

        delay = record->retry_after_ms > 0
                ? ap_retry_after_wait_ms(record->retry_after_ms,
                                         ap_random_next(&call.random))
                : client->opts.backoff_floor_ms;

        memcpy(id, record->request_id, sizeof(id));

        rc = ap_call_wait(&call, id, delay, progress, user, record, err);
    }

    ap_call_free(&call);

    return rc == AP_OK ? ap_ok(err) : rc;
}


AP_EXPORT const char *
ap_strerror(ap_code_t code)
{
    switch (code) {
    case AP_OK:
        return "success";
    case AP_EBADINPUT:
        return "the job was refused as bad input";
    case AP_ETIMEOUT:
        return "the job did not end before the deadline";
    case AP_EUNAVAILABLE:
        return "the service is unavailable";
    case AP_ENOTFOUND:
        return "no such job";
    case AP_EFAILED:
        return "the job failed";
    case AP_EPROTOCOL:
        return "the service answered against the protocol";
    case AP_ENOMEM:
        return "out of memory";
    case AP_EINVAL:
        return "invalid argument";
    case AP_EENDED:
        return "the job had ended";
    }

    return "unknown error";
}


AP_EXPORT const char *
ap_version(void)
{
    return AP_VERSION;
}
