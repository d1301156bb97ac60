
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * Metrics, as stub_status keeps its own: atomic counters in a small zone
 * of shared memory that every worker adds to, read by a location with
 * "async_primes_status".  The gauges (jobs in flight, polls waiting, tasks
 * in the thread pools) go up and down with the events that change them; a
 * worker that is killed leaves what it held in them, as NGINX's own
 * active connections do.  Plain text by default; Prometheus's text
 * exposition format (0.0.4) for "?format=prometheus" or an Accept that
 * asks for it.
 */


#include "ngx_http_async_primes.h"


/* the bounds of the buckets of Redis's reply times, in ms */
static ngx_msec_t  ngx_http_async_primes_buckets[] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000
};

#define NGX_HTTP_ASYNC_PRIMES_NBUCKETS                                       \
    (sizeof(ngx_http_async_primes_buckets)                                   \
     / sizeof(ngx_http_async_primes_buckets[0]))


typedef struct {
    ngx_atomic_t                        counter[NGX_HTTP_ASYNC_PRIMES_METRICS];
    ngx_atomic_t                        bucket[NGX_HTTP_ASYNC_PRIMES_NBUCKETS];
} ngx_http_async_primes_shm_metrics_t;


typedef struct {
    const char                         *name;     /* Prometheus's */
    const char                         *type;
    const char                         *help;
} ngx_http_async_primes_metric_t;


/* in the order of ngx_http_async_primes_metric_e */
static ngx_http_async_primes_metric_t  ngx_http_async_primes_metric[] = {
    { "async_primes_jobs_submitted_total", "counter",
      "Jobs accepted with a 202 (or answered 200 after Prefer: wait)" },
    { "async_primes_jobs_taken_over_total", "counter",
      "Jobs of a worker whose lease expired, computed again here" },
    { "async_primes_jobs_finished_total", "counter",
      "Jobs whose FINISHED record was written" },
    { "async_primes_jobs_failed_total", "counter",
      "Jobs whose FAILED record was written" },
    { "async_primes_jobs_cancelled_total", "counter",
      "Jobs whose CANCELLED record was written" },
    { "async_primes_submits_refused_bad_input_total", "counter",
      "Submits refused: a bad body, type or range (400, 413, 415, 422)" },
    { "async_primes_submits_refused_over_budget_total", "counter",
      "Submits refused: over async_primes_max_work (422)" },
    { "async_primes_submits_refused_queue_full_total", "counter",
      "Submits refused: the thread pool's queue was full (503)" },
    { "async_primes_submits_refused_too_many_jobs_total", "counter",
      "Submits refused: async_primes_max_jobs in the worker (503)" },
    { "async_primes_submits_refused_redis_down_total", "counter",
      "Submits refused: Redis was unavailable (503)" },
    { "async_primes_jobs_in_flight", "gauge",
      "Jobs held by the workers: storing, computing or writing" },
    { "async_primes_polls_waiting", "gauge",
      "Polls held until their job ends (?wait=, Prefer: wait)" },
    { "async_primes_thread_pool_tasks", "gauge",
      "Parts of jobs in the thread pools: queued, running, or done and "
      "not yet handled" },
    { "async_primes_redis_reconnects_total", "counter",
      "Connections to Redis made again after a failure" },
    { "async_primes_redis_reply_seconds_sum", "", "" },
    { "async_primes_redis_reply_seconds_count", "", "" }
};


static ngx_int_t ngx_http_async_primes_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_async_primes_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_async_primes_wants_prometheus(
    ngx_http_request_t *r);


static ngx_str_t  ngx_http_async_primes_metrics_zone =
    ngx_string("async_primes_metrics");

static ngx_http_async_primes_shm_metrics_t  *ngx_http_async_primes_metrics;


/* one zone per NGINX, made with the first location of the module */

ngx_int_t
ngx_http_async_primes_metrics_add(ngx_conf_t *cf)
{
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_async_primes_module);

    if (amcf->metrics) {
        return NGX_OK;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_async_primes_metrics_zone,
                                     8 * ngx_pagesize,
                                     &ngx_http_async_primes_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_async_primes_metrics_init_zone;
    amcf->metrics = shm_zone;

    return NGX_OK;
}


/* in a worker: the zone of its own cycle, if the configuration has one */

void
ngx_http_async_primes_metrics_init(ngx_shm_zone_t *zone)
{
    ngx_http_async_primes_metrics = zone ? zone->data : NULL;
}


static ngx_int_t
ngx_http_async_primes_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                      *shpool;
    ngx_http_async_primes_shm_metrics_t  *m;

    /* a reload keeps the counts */
    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_async_primes_shm_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    shm_zone->data = m;

    return NGX_OK;
}


void
ngx_http_async_primes_metrics_add_to(ngx_uint_t metric, ngx_atomic_int_t n)
{
    if (ngx_http_async_primes_metrics) {
        (void) ngx_atomic_fetch_add(
                        &ngx_http_async_primes_metrics->counter[metric], n);
    }
}


/* the time Redis took to answer a command, in the histogram */

void
ngx_http_async_primes_metrics_reply(ngx_msec_t ms)
{
    ngx_uint_t                            i;
    ngx_http_async_primes_shm_metrics_t  *m;

    m = ngx_http_async_primes_metrics;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_ASYNC_PRIMES_NBUCKETS; i++) {
        if (ms <= ngx_http_async_primes_buckets[i]) {
            (void) ngx_atomic_fetch_add(&m->bucket[i], 1);
            break;
        }
    }

    (void) ngx_atomic_fetch_add(
                &m->counter[NGX_HTTP_ASYNC_PRIMES_REDIS_REPLY_MS], ms);
    (void) ngx_atomic_fetch_add(
                &m->counter[NGX_HTTP_ASYNC_PRIMES_REDIS_REPLIES], 1);
}


char *
ngx_http_async_primes_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_async_primes_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_async_primes_status_handler;

    if (ngx_http_async_primes_metrics_add(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_async_primes_status_handler(ngx_http_request_t *r)
{
    u_char                               *p;
    size_t                                size;
    ngx_int_t                             rc;
    ngx_buf_t                            *b;
    ngx_uint_t                            i, prometheus;
    ngx_chain_t                           out;
    ngx_atomic_uint_t                     v, ms, cumulative;
    ngx_http_async_primes_metric_t       *metric;
    ngx_http_async_primes_shm_metrics_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_async_primes_metrics;

    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    prometheus = ngx_http_async_primes_wants_prometheus(r);

    /* every line, generously: a name, its help, a 20-digit value */
    size = (NGX_HTTP_ASYNC_PRIMES_METRICS + NGX_HTTP_ASYNC_PRIMES_NBUCKETS
            + 4) * 256;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    for (i = 0; i < NGX_HTTP_ASYNC_PRIMES_REDIS_REPLY_MS; i++) {
        metric = &ngx_http_async_primes_metric[i];
        v = m->counter[i];

        if (prometheus) {
            p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n%s %uA\n",
                            metric->name, metric->help, metric->name,
                            metric->type, metric->name, v);

        } else {
            /* without the prefix and the suffix: "jobs_submitted 12" */
            p = ngx_sprintf(p, "%s %uA\n", metric->name + 13, v);
        }
    }

    /* the times Redis took to answer, as a Prometheus histogram */

    if (prometheus) {
        p = ngx_sprintf(p, "# HELP async_primes_redis_reply_seconds "
                        "Time from a command to its reply (ms resolution)\n"
                        "# TYPE async_primes_redis_reply_seconds "
                        "histogram\n");
    }

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_ASYNC_PRIMES_NBUCKETS; i++) {
        cumulative += m->bucket[i];

        if (prometheus) {
            p = ngx_sprintf(p, "async_primes_redis_reply_seconds_bucket"
                            "{le=\"%.3f\"} %uA\n",
                            (double) ngx_http_async_primes_buckets[i] / 1000,
                            cumulative);

        } else {
            p = ngx_sprintf(p, "redis_reply_ms_le_%M %uA\n",
                            ngx_http_async_primes_buckets[i], cumulative);
        }
    }

    v = m->counter[NGX_HTTP_ASYNC_PRIMES_REDIS_REPLIES];
    ms = m->counter[NGX_HTTP_ASYNC_PRIMES_REDIS_REPLY_MS];

    if (prometheus) {
        p = ngx_sprintf(p, "async_primes_redis_reply_seconds_bucket"
                        "{le=\"+Inf\"} %uA\n"
                        "async_primes_redis_reply_seconds_sum %.3f\n"
                        "async_primes_redis_reply_seconds_count %uA\n",
                        v, (double) ms / 1000, v);

    } else {
        p = ngx_sprintf(p, "redis_replies %uA\nredis_reply_ms_sum %uA\n",
                        v, ms);
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/plain");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* "?format=prometheus", or an Accept of Prometheus's text format */

static ngx_uint_t
ngx_http_async_primes_wants_prometheus(ngx_http_request_t *r)
{
    ngx_str_t  value;

    if (r->args.len
        && ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK)
    {
        return value.len == 10
               && ngx_strncmp(value.data, "prometheus", 10) == 0;
    }

#if (NGX_HTTP_HEADERS)
    if (r->headers_in.accept
        && ngx_strlcasestrn(r->headers_in.accept->value.data,
                            r->headers_in.accept->value.data
                            + r->headers_in.accept->value.len,
                            (u_char *) "version=0.0.4", 13 - 1)
           != NULL)
    {
        return 1;
    }
#endif

    return 0;
}
