
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_HTTP_ASYNC_PRIMES_H_INCLUDED_
#define _NGX_HTTP_ASYNC_PRIMES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_async_primes_sum.h"
#include "ngx_async_primes_parse.h"
#include "ngx_async_primes_json.h"
#include "ngx_async_primes_id.h"
#include "ngx_async_primes_record.h"


#define NGX_HTTP_ASYNC_PRIMES_KEY_PREFIX     "async_primes:"
#define NGX_HTTP_ASYNC_PRIMES_KEY_KIND       "job:"
#define NGX_HTTP_ASYNC_PRIMES_PREFIX_MAX     64
#define NGX_HTTP_ASYNC_PRIMES_IDEM_KIND      "idem:"
#define NGX_HTTP_ASYNC_PRIMES_SUM_KIND       "sum:"

/* the channel, under the prefix, of the ids of the jobs that have ended */
#define NGX_HTTP_ASYNC_PRIMES_DONE_CHANNEL   "done"

/* the mark of a job to cancel, and the channel that tells its worker */
#define NGX_HTTP_ASYNC_PRIMES_CANCEL_KIND    "cancel:"
#define NGX_HTTP_ASYNC_PRIMES_CANCEL_CHANNEL "cancel"

/* the longest Idempotency-Key accepted */
#define NGX_HTTP_ASYNC_PRIMES_IDEM_MAX       255

/*
 * The estimated work (microseconds) from which a part lowers the priority
 * of the thread that computes it, for as long as it computes it: a shorter
 * one is over before it could keep an event loop waiting for long.
 */
#define NGX_HTTP_ASYNC_PRIMES_LOWER_WORK     1000

/* the most thread tasks one job is split into */
#define NGX_HTTP_ASYNC_PRIMES_MAX_PARTS      16

/* NGINX 1.22 has no name for it */
#define NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE  422

/* a record with its longest payload and error message fits */
#define NGX_HTTP_ASYNC_PRIMES_DOC_LEN        256

/* the 503 of every request that needs Redis while it is out */
#define NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE                                    \
    "the job store (redis) is unavailable"

/* seconds a client is told to wait before it polls again */
#define NGX_HTTP_ASYNC_PRIMES_RETRY_AFTER    "1"

/* async_primes_compute_priority: a nice value (-20 to 19), or one of these */
#define NGX_HTTP_ASYNC_PRIMES_PRIORITY_OFF   100
#define NGX_HTTP_ASYNC_PRIMES_PRIORITY_IDLE  101


/* the metrics, in ngx_http_async_primes_metrics.c */
typedef enum {
    NGX_HTTP_ASYNC_PRIMES_SUBMITTED = 0,
    NGX_HTTP_ASYNC_PRIMES_TAKEN_OVER,
    NGX_HTTP_ASYNC_PRIMES_FINISHED,
    NGX_HTTP_ASYNC_PRIMES_FAILED,
    NGX_HTTP_ASYNC_PRIMES_CANCELLED,
    NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT,
    NGX_HTTP_ASYNC_PRIMES_REFUSED_OVER_BUDGET,
    NGX_HTTP_ASYNC_PRIMES_REFUSED_QUEUE_FULL,
    NGX_HTTP_ASYNC_PRIMES_REFUSED_TOO_MANY_JOBS,
    NGX_HTTP_ASYNC_PRIMES_REFUSED_REDIS_DOWN,
    NGX_HTTP_ASYNC_PRIMES_IN_FLIGHT,
    NGX_HTTP_ASYNC_PRIMES_WAITING,
    NGX_HTTP_ASYNC_PRIMES_TASKS,
    NGX_HTTP_ASYNC_PRIMES_RECONNECTS,
    NGX_HTTP_ASYNC_PRIMES_REDIS_REPLY_MS,
    NGX_HTTP_ASYNC_PRIMES_REDIS_REPLIES,
    NGX_HTTP_ASYNC_PRIMES_METRICS
} ngx_http_async_primes_metric_e;

#define ngx_http_async_primes_count(metric)                                  \
    ngx_http_async_primes_metrics_add_to(metric, 1)


/*
 * Called once per command: with the reply, or with NULL when the command
 * failed (not connected, timed out, connection lost).
 */
typedef void (*ngx_http_async_primes_redis_handler_pt)(void *data,
    redisReply *reply);


/* NGINX has closed the connection of the context */
typedef void (*ngx_http_async_primes_adapter_closed_pt)(
    redisAsyncContext *ac);


typedef struct ngx_http_async_primes_redis_s  ngx_http_async_primes_redis_t;
typedef struct ngx_http_async_primes_cmd_s    ngx_http_async_primes_cmd_t;


/* a Lua script of the store (lua/<name>.lua), called by its SHA1 */
typedef struct {
    const char                         *name;
    const char                         *text;
    size_t                              len;
    u_char                              sha1[40];
} ngx_http_async_primes_script_t;


/* the scripts, in ngx_http_async_primes_scripts[] */
#define NGX_HTTP_ASYNC_PRIMES_SCRIPT_SUBMIT    0
#define NGX_HTTP_ASYNC_PRIMES_SCRIPT_RENEW     1
#define NGX_HTTP_ASYNC_PRIMES_SCRIPT_TAKEOVER  2
#define NGX_HTTP_ASYNC_PRIMES_SCRIPT_FINAL     3
#define NGX_HTTP_ASYNC_PRIMES_SCRIPT_CANCEL    4


struct ngx_http_async_primes_cmd_s {
    ngx_queue_t                         queue;
    ngx_msec_t                          deadline;
    ngx_http_async_primes_redis_handler_pt  handler;
    void                               *data;
    ngx_http_async_primes_redis_t      *redis;
};


struct ngx_http_async_primes_redis_s {
    redisAsyncContext                  *ctx;
    ngx_log_t                          *log;

    ngx_str_t                           name;
    u_char                             *host;     /* numeric, NUL-ended */
    u_char                             *path;     /* unix socket or NULL */
    int                                 port;
    ngx_msec_t                          timeout;

    ngx_str_t                           user;     /* of AUTH, or empty */
    ngx_str_t                           password; /* no AUTH if empty */
    ngx_int_t                           database; /* SELECT unless 0 */

    /* loaded in each handshake; the list ends with a NULL name */
    ngx_http_async_primes_script_t     *scripts;

    /* a subscriber: its channels, and what it calls */
    ngx_str_t                          *channels;
    ngx_uint_t                          nchannels;
    void                              (*message)(
                                    ngx_http_async_primes_redis_t *redis,
                                    ngx_uint_t channel, u_char *data,
                                    size_t len);
    void                              (*subscribed)(
                                    ngx_http_async_primes_redis_t *redis);
    void                               *data;

    /* in the log after the name: "", or " (subscriber)" */
    const char                         *role;

    ngx_event_t                         timer;    /* connect, commands */
    ngx_event_t                         reconnect;
    ngx_msec_t                          backoff;

    ngx_queue_t                         pending;  /* in reply order */

    /* the handshake command whose refusal was logged in this outage */
    const char                         *refused;

    unsigned                            ready:1;
    unsigned                            failing:1;
    unsigned                            exiting:1;
};


typedef struct ngx_http_async_primes_part_s  ngx_http_async_primes_part_t;


/*
 * A thread pool as a worker sees it: how many of its tasks are in the pool,
 * how many the pool took before it refused one (unset if none was
 * refused), the jobs whose parts wait for room, in order, and the last
 * tiny part made a task, which later tiny parts may ride on; its task is
 * posted at the end of the event loop's cycle ("flush").
 */
typedef struct {
    ngx_thread_pool_t                  *thread_pool;
    ngx_str_t                           name;
    ngx_uint_t                          tasks;
    ngx_uint_t                          capacity;
    ngx_queue_t                         waiting;
    ngx_event_t                         retry;
    ngx_http_async_primes_part_t       *carrier;
    ngx_uint_t                          riders;
    ngx_event_t                         flush;
} ngx_http_async_primes_pool_t;


typedef struct {
    ngx_http_async_primes_redis_t       redis;

    /* the channel of ended jobs, for the polls that wait */
    ngx_http_async_primes_redis_t       subscriber;
    ngx_rbtree_t                        waits;
    ngx_rbtree_node_t                   waits_sentinel;
    ngx_uint_t                          wait_enabled; /* in some location */
    ngx_str_t                           redis_address;
    ngx_flag_t                          enabled;  /* in some location */
    ngx_str_t                           key_prefix;
    ngx_uint_t                          max_jobs;
    ngx_queue_t                         jobs;     /* this worker's */
    ngx_uint_t                          njobs;
    ngx_int_t                           compute_priority;
    ngx_shm_zone_t                     *cache;    /* or NULL */
    ngx_connection_t                   *shutdown; /* see module.c */
    ngx_shm_zone_t                     *metrics;  /* or NULL */
    ngx_array_t                         pools;    /* of pool pointers */

    /* ms this host's clock is ahead of Redis's, by the last takeover */
    int64_t                             clock_ahead;
} ngx_http_async_primes_main_conf_t;


typedef struct {
    ngx_flag_t                          enable;
    ngx_http_async_primes_pool_t       *pool;
    ngx_msec_t                          ttl;
    ngx_msec_t                          lease;      /* as set, or unset */
    ngx_msec_t                          job_lease;  /* in effect */
    ngx_msec_t                          max_work;
    ngx_uint_t                          job_threads;
    uint64_t                            max_number;
    ngx_uint_t                          max_number_set;
    ngx_flag_t                          reuse;
    ngx_msec_t                          wait_max;
} ngx_http_async_primes_loc_conf_t;


typedef struct ngx_http_async_primes_waited_s  ngx_http_async_primes_waited_t;


typedef struct {
    unsigned                            own_response:1;
    unsigned                            replace_body:1;
    ngx_str_t                           document;   /* the 202 body */

    /* a submit with "Prefer: respond-async, wait=N" */
    ngx_uint_t                          prefer_wait;  /* N as applied */
    unsigned                            prefer_async:1;
    unsigned                            prefer_held:1;

    /* the variables: the record answered, the job computed for it */
    u_char                             *answer_id;
    ngx_async_primes_status_e           answer_status;
    ngx_msec_t                          compute_ms;
    unsigned                            computed:1;

    /* a poll */
    ngx_http_request_t                 *request;
    u_char                             *id;
    void                              **reply_to;   /* of its command */
    ngx_msec_t                          wait_end;   /* the wait, or 0 */
    ngx_http_async_primes_waited_t     *waited;     /* while it waits */
    ngx_queue_t                         waiting;    /* in waited */
    ngx_event_t                         wait_timer;
} ngx_http_async_primes_ctx_t;


/* the polls of one job that wait for it to end, in one worker */
struct ngx_http_async_primes_waited_s {
    ngx_rbtree_node_t                   node;       /* the id's CRC32 */
    ngx_queue_t                         polls;
    u_char                              id[NGX_ASYNC_PRIMES_ID_LEN];
};


typedef enum {
    NGX_HTTP_ASYNC_PRIMES_JOB_TAKING = 0,
    NGX_HTTP_ASYNC_PRIMES_JOB_EARLY,
    NGX_HTTP_ASYNC_PRIMES_JOB_STORING,
    NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING,
    NGX_HTTP_ASYNC_PRIMES_JOB_WRITING
} ngx_http_async_primes_job_state_e;


typedef struct ngx_http_async_primes_job_s  ngx_http_async_primes_job_t;


/*
 * A range of a job computed by one thread task, or, where the job's parts
 * share a plan, a thread's share of the whole.  A tiny part may instead
 * ride on the task of another (see ngx_http_async_primes_job_post_parts()).
 */
struct ngx_http_async_primes_part_s {
    ngx_thread_task_t                   task;
    ngx_http_async_primes_job_t        *job;
    uint64_t                            lo;
    uint64_t                            hi;
    ngx_async_primes_sum_plan_t        *plan;

    /* written by the thread, read after its completion */
    ngx_async_primes_sum_ctx_t          sum_ctx;
    ngx_async_primes_uint128_t          sum;
    int                                 rc;

    /* long enough to compute at async_primes_compute_priority */
    ngx_int_t                           priority;
    unsigned                            lower:1;

    /*
     * Of a tiny part's task: the parts riding on it, newest first, pushed
     * by the event loop until its thread takes them (atomic, ..._CLOSED
     * then); the same in order, as its thread took them; the next rider.
     */
    unsigned                            tiny:1;
    ngx_http_async_primes_part_t       *riders;
    ngx_http_async_primes_part_t       *taken;
    ngx_http_async_primes_part_t       *next;
};


/*
 * A job outlives the POST that created it: it is allocated on its own,
 * lives in the worker's list of jobs, and is freed only by
 * ngx_http_async_primes_job_free().
 */
struct ngx_http_async_primes_job_s {
    ngx_queue_t                         queue;
    ngx_http_async_primes_job_state_e   state;

    u_char                              id[NGX_ASYNC_PRIMES_ID_LEN];
    uint64_t                            a;
    uint64_t                            b;
    ngx_msec_t                          ttl;

    /* the lease on the record: who holds it and for how long a renewal */
    u_char                              owner[NGX_ASYNC_PRIMES_ID_LEN];
    ngx_msec_t                          lease;
    ngx_msec_t                          leased;     /* when it was taken */
    uint64_t                            eta;        /* ms since the epoch */

    ngx_http_request_t                 *request;   /* until the 202 */
    ngx_pool_cleanup_t                 *cleanup;   /* in its pool */
    ngx_http_async_primes_main_conf_t  *amcf;
    ngx_http_async_primes_pool_t       *pool;

    /* refreshes the record while computing, retries the final write */
    ngx_event_t                         refresh;
    ngx_msec_t                          write_deadline;
    ngx_msec_t                          written;    /* the last attempt */
    ngx_uint_t                          commands;   /* awaiting replies */
    unsigned                            finished:1;
    unsigned                            lost:1;     /* lease taken away */
    unsigned                            reuse:1;    /* store the result */
    unsigned                            held:1;     /* "Prefer: wait" */
    unsigned                            cancelled:1;
    unsigned                            ready:1;    /* computed, unstored */

    /* the Idempotency-Key of the POST, if any, in the same allocation */
    ngx_str_t                           idem;

    u_char                              payload[NGX_ASYNC_PRIMES_UINT128_LEN];
    size_t                              payload_len;

    u_char                              doc[NGX_HTTP_ASYNC_PRIMES_DOC_LEN];
    size_t                              doc_len;

    /* answers a submit held by "Prefer: wait" when its time is up */
    ngx_event_t                         respond;

    /* when the parts were first posted, and how long they computed */
    ngx_msec_t                          started;
    ngx_msec_t                          compute_ms;

    /* in the pool's queue while parts wait for room */
    ngx_queue_t                         wait;
    unsigned                            waiting:1;

    ngx_http_async_primes_part_t       *parts;
    ngx_uint_t                          nparts;

    /* what the parts share, if they share a computation; freed with it */
    ngx_async_primes_sum_plan_t        *plan;
    ngx_uint_t                          posted;
    ngx_uint_t                          computed;
};


extern ngx_module_t  ngx_http_async_primes_module;


/* redis */
ngx_int_t ngx_http_async_primes_redis_init(ngx_http_async_primes_redis_t *redis,
    ngx_log_t *log);
void ngx_http_async_primes_redis_exit(ngx_http_async_primes_redis_t *redis);
ngx_int_t ngx_http_async_primes_redis_command(
    ngx_http_async_primes_redis_t *redis,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    ngx_http_async_primes_cmd_t **cmdp, int argc, const char **argv,
    const size_t *argvlen);

/* store */
void ngx_http_async_primes_store_init(ngx_http_async_primes_redis_t *redis);
ngx_int_t ngx_http_async_primes_store_submit(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler);
ngx_int_t ngx_http_async_primes_store_delete(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler);
ngx_int_t ngx_http_async_primes_store_renew(ngx_http_async_primes_job_t *job,
    ngx_uint_t permille, ngx_http_async_primes_redis_handler_pt handler);
ngx_int_t ngx_http_async_primes_store_takeover(
    ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler);
ngx_int_t ngx_http_async_primes_store_final(ngx_http_async_primes_job_t *job,
    ngx_uint_t plain, ngx_http_async_primes_redis_handler_pt handler);
ngx_int_t ngx_http_async_primes_store_get(
    ngx_http_async_primes_main_conf_t *amcf, const u_char *id,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    void ***detach);
ngx_int_t ngx_http_async_primes_store_cancel(
    ngx_http_async_primes_main_conf_t *amcf, const u_char *id,
    ngx_msec_t ttl, ngx_http_async_primes_redis_handler_pt handler,
    void *data, void ***detach);

ngx_int_t ngx_http_async_primes_store_publish(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler);

/* variables */
ngx_int_t ngx_http_async_primes_add_variables(ngx_conf_t *cf);
void ngx_http_async_primes_variables_answer(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx, u_char *body, size_t len);

/* metrics */
ngx_int_t ngx_http_async_primes_metrics_add(ngx_conf_t *cf);
void ngx_http_async_primes_metrics_init(ngx_shm_zone_t *zone);
void ngx_http_async_primes_metrics_add_to(ngx_uint_t metric,
    ngx_atomic_int_t n);
void ngx_http_async_primes_metrics_reply(ngx_msec_t ms);
char *ngx_http_async_primes_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* long polls */
ngx_int_t ngx_http_async_primes_wait_init(
    ngx_http_async_primes_main_conf_t *amcf, ngx_log_t *log);
ngx_int_t ngx_http_async_primes_wait(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx);
void ngx_http_async_primes_wait_done(ngx_http_async_primes_ctx_t *ctx);
void ngx_http_async_primes_wait_all(ngx_http_async_primes_main_conf_t *amcf,
    ngx_uint_t last);

/* adapter */
ngx_int_t ngx_http_async_primes_adapter_attach(redisAsyncContext *ac,
    ngx_log_t *log, ngx_http_async_primes_adapter_closed_pt closed);
void ngx_http_async_primes_adapter_flush(redisAsyncContext *ac);

/* jobs */
ngx_int_t ngx_http_async_primes_job_start(ngx_http_request_t *r,
    uint64_t a, uint64_t b, ngx_str_t *idem);
void ngx_http_async_primes_job_takeover(ngx_http_request_t *r,
    const u_char *id, ngx_async_primes_record_t *rec);
ngx_http_async_primes_pool_t *ngx_http_async_primes_pool_add(ngx_conf_t *cf,
    ngx_str_t *name);
void ngx_http_async_primes_jobs_abandon(
    ngx_http_async_primes_main_conf_t *amcf);
void ngx_http_async_primes_jobs_exit(ngx_http_async_primes_main_conf_t *amcf);
void ngx_http_async_primes_jobs_cancel(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id);
uint64_t ngx_http_async_primes_now(void);

/* handler */
ngx_int_t ngx_http_async_primes_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_async_primes_send(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_async_primes_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
ngx_http_async_primes_ctx_t *ngx_http_async_primes_get_ctx(
    ngx_http_request_t *r);
ngx_int_t ngx_http_async_primes_retry_after(ngx_http_request_t *r,
    uint64_t eta, uint64_t now);
ngx_int_t ngx_http_async_primes_poll_get(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx);
ngx_int_t ngx_http_async_primes_preference_applied(ngx_http_request_t *r,
    ngx_uint_t status);

/* cache */
char *ngx_http_async_primes_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_async_primes_cache_get(
    ngx_http_async_primes_main_conf_t *amcf, const u_char *id,
    ngx_pool_t *pool, ngx_str_t *doc);
void ngx_http_async_primes_cache_put(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, const u_char *doc, size_t len, ngx_msec_t expires,
    ngx_uint_t replace);

/* filter */
ngx_int_t ngx_http_async_primes_filter_init(ngx_conf_t *cf);

/* module */
ngx_uint_t ngx_http_async_primes_thread_lower(ngx_int_t priority);
void ngx_http_async_primes_thread_restore(ngx_int_t priority);
void ngx_http_async_primes_thread_report(ngx_log_t *log);


#endif /* _NGX_HTTP_ASYNC_PRIMES_H_INCLUDED_ */
