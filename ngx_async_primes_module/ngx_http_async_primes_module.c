
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * Directives, configuration and the worker's start and exit.
 */


#include "ngx_http_async_primes.h"

#if (NGX_HAVE_DLOPEN)
#include <dlfcn.h>
#endif


#define NGX_HTTP_ASYNC_PRIMES_REDIS_DEFAULT  "127.0.0.1:6379"
#define NGX_HTTP_ASYNC_PRIMES_MAX_DEFAULT    ((uint64_t) -1)
#define NGX_HTTP_ASYNC_PRIMES_WORK_DEFAULT   10000
#define NGX_HTTP_ASYNC_PRIMES_TTL_DEFAULT    (3 * 60 * 1000)
#define NGX_HTTP_ASYNC_PRIMES_LEASE_DEFAULT  10000
#define NGX_HTTP_ASYNC_PRIMES_JOBS_DEFAULT   1024
#define NGX_HTTP_ASYNC_PRIMES_WAIT_DEFAULT   30000

/*
 * A thread has a priority of its own on Linux only: elsewhere a nice value
 * would slow the event loop as well.
 */
#if (NGX_LINUX)
#define NGX_HTTP_ASYNC_PRIMES_PRIORITY_DEFAULT  19
#else
#define NGX_HTTP_ASYNC_PRIMES_PRIORITY_DEFAULT                               \
    NGX_HTTP_ASYNC_PRIMES_PRIORITY_OFF
#endif



static void *ngx_http_async_primes_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_async_primes_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_async_primes_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_async_primes_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_async_primes_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_async_primes(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_async_primes_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_async_primes_parse_redis(ngx_conf_t *cf,
    ngx_http_async_primes_main_conf_t *amcf, ngx_str_t *address);
static char *ngx_http_async_primes_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_async_primes_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_async_primes_max_number(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_async_primes_redis_auth(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_async_primes_check_database(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_check_timeout(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_check_threads(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_check_prefix(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_check_lease(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_check_jobs(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_async_primes_compute_priority(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_async_primes_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_async_primes_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_async_primes_watch_shutdown(ngx_cycle_t *cycle,
    ngx_http_async_primes_main_conf_t *amcf);
static void ngx_http_async_primes_shutdown_handler(ngx_event_t *ev);
static void ngx_http_async_primes_stay_loaded(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_async_primes_database_post =
    ngx_http_async_primes_check_database;

static ngx_conf_post_handler_pt  ngx_http_async_primes_threads_post =
    ngx_http_async_primes_check_threads;

static ngx_conf_post_handler_pt  ngx_http_async_primes_timeout_post =
    ngx_http_async_primes_check_timeout;

static ngx_conf_post_handler_pt  ngx_http_async_primes_prefix_post =
    ngx_http_async_primes_check_prefix;

static ngx_conf_post_handler_pt  ngx_http_async_primes_lease_post =
    ngx_http_async_primes_check_lease;

static ngx_conf_post_handler_pt  ngx_http_async_primes_jobs_post =
    ngx_http_async_primes_check_jobs;

static void ngx_http_async_primes_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_async_primes_commands[] = {

    { ngx_string("async_primes"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_async_primes,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_async_primes_main_conf_t, redis.timeout),
      &ngx_http_async_primes_timeout_post },

    { ngx_string("async_primes_key_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_async_primes_main_conf_t, key_prefix),
      &ngx_http_async_primes_prefix_post },

    { ngx_string("async_primes_max_jobs"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_async_primes_main_conf_t, max_jobs),
      &ngx_http_async_primes_jobs_post },

    { ngx_string("async_primes_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_ttl,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_lease"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_async_primes_loc_conf_t, lease),
      &ngx_http_async_primes_lease_post },

    { ngx_string("async_primes_wait_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_async_primes_loc_conf_t, wait_max),
      NULL },

    { ngx_string("async_primes_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_async_primes_status,
      0,
      0,
      NULL },

    { ngx_string("async_primes_reuse"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_async_primes_loc_conf_t, reuse),
      NULL },

    { ngx_string("async_primes_max_work"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_async_primes_loc_conf_t, max_work),
      NULL },

    { ngx_string("async_primes_job_threads"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_async_primes_loc_conf_t, job_threads),
      &ngx_http_async_primes_threads_post },

    { ngx_string("async_primes_max_number"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_max_number,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_redis_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_async_primes_redis_auth,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_redis_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_async_primes_main_conf_t, redis.database),
      &ngx_http_async_primes_database_post },

    { ngx_string("async_primes_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("async_primes_compute_priority"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_async_primes_compute_priority,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_async_primes_module_ctx = {
    ngx_http_async_primes_add_variables,   /* preconfiguration */
    ngx_http_async_primes_postconfiguration, /* postconfiguration */

    ngx_http_async_primes_create_main_conf, /* create main configuration */
    ngx_http_async_primes_init_main_conf,  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_async_primes_create_loc_conf, /* create location configuration */
    ngx_http_async_primes_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_async_primes_module = {
    NGX_MODULE_V1,
    &ngx_http_async_primes_module_ctx,     /* module context */
    ngx_http_async_primes_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_async_primes_init_module,     /* init module */
    ngx_http_async_primes_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_async_primes_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_async_primes_default_pool = ngx_string("default");

#if (NGX_LINUX)

#define NGX_HTTP_ASYNC_PRIMES_THREAD_OWN      0  /* lowered for parts */
#define NGX_HTTP_ASYNC_PRIMES_THREAD_FAILED   1  /* cannot be lowered */
#define NGX_HTTP_ASYNC_PRIMES_THREAD_LOWERED  2  /* cannot be raised back */

static __thread ngx_uint_t  ngx_http_async_primes_thread_state;

/* the nice value a thread takes back after a part */
static __thread int  ngx_http_async_primes_thread_nice;

/* a failure is logged once per worker, not by every thread */
/*
 * A pool thread that cannot change its priority does not log it: a thread
 * left running at the worker's exit would write through a log already
 * freed.  It records the error once (0 to 1), and the event loop logs it
 * at the next completion (1 to 2).
 */
static ngx_atomic_t  ngx_http_async_primes_priority_failed;
static ngx_atomic_t  ngx_http_async_primes_restore_failed;
static ngx_err_t     ngx_http_async_primes_priority_err;
static ngx_err_t     ngx_http_async_primes_restore_err;
static ngx_int_t     ngx_http_async_primes_failed_priority;

#endif



static void *
ngx_http_async_primes_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_async_primes_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->redis.user = { 0, NULL };
     *     amcf->redis.password = { 0, NULL };
     *     amcf->redis_address = { 0, NULL };
     *     amcf->key_prefix = { 0, NULL };
     *     amcf->enabled = 0;
     *     amcf->njobs = 0;
     */

    amcf->redis.database = NGX_CONF_UNSET;
    amcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    amcf->max_jobs = NGX_CONF_UNSET_UINT;
    amcf->compute_priority = NGX_CONF_UNSET;
    amcf->cache = NGX_CONF_UNSET_PTR;
    ngx_queue_init(&amcf->jobs);

    if (ngx_array_init(&amcf->pools, cf->pool, 2,
                       sizeof(ngx_http_async_primes_pool_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static char *
ngx_http_async_primes_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_async_primes_main_conf_t  *amcf = conf;

    ngx_str_t  address;

    ngx_conf_init_value(amcf->redis.database, 0);
    ngx_conf_init_msec_value(amcf->redis.timeout, 1000);
    ngx_conf_init_uint_value(amcf->max_jobs,
                             NGX_HTTP_ASYNC_PRIMES_JOBS_DEFAULT);
    ngx_conf_init_value(amcf->compute_priority,
                        NGX_HTTP_ASYNC_PRIMES_PRIORITY_DEFAULT);
    ngx_conf_init_ptr_value(amcf->cache, NULL);

    if (amcf->key_prefix.data == NULL) {
        ngx_str_set(&amcf->key_prefix, NGX_HTTP_ASYNC_PRIMES_KEY_PREFIX);
    }

    if (amcf->redis_address.data == NULL) {
        ngx_str_set(&address, NGX_HTTP_ASYNC_PRIMES_REDIS_DEFAULT);
        return ngx_http_async_primes_parse_redis(cf, amcf, &address);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_async_primes_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_async_primes_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_async_primes_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->pool = NULL;
     */

    alcf->enable = NGX_CONF_UNSET;
    alcf->ttl = NGX_CONF_UNSET_MSEC;
    alcf->lease = NGX_CONF_UNSET_MSEC;
    alcf->reuse = NGX_CONF_UNSET;
    alcf->max_work = NGX_CONF_UNSET_MSEC;
    alcf->job_threads = NGX_CONF_UNSET_UINT;
    alcf->wait_max = NGX_CONF_UNSET_MSEC;
    alcf->max_number = (uint64_t) -1;
    alcf->max_number_set = 0;

    return alcf;
}


static char *
ngx_http_async_primes_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_async_primes_loc_conf_t  *prev = parent;
    ngx_http_async_primes_loc_conf_t  *conf = child;

    ngx_http_async_primes_main_conf_t  *amcf;

    /* not inherited: the handler belongs to its own location only */
    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable = 0;
    }

    ngx_conf_merge_msec_value(conf->ttl, prev->ttl,
                              NGX_HTTP_ASYNC_PRIMES_TTL_DEFAULT);
    /*
     * Only a lease set somewhere is inherited: by default a short TTL
     * shortens the lease with it.
     */
    ngx_conf_merge_msec_value(conf->lease, prev->lease, NGX_CONF_UNSET_MSEC);

    conf->job_lease = conf->lease;

    if (conf->lease == NGX_CONF_UNSET_MSEC) {
        conf->job_lease = ngx_min(NGX_HTTP_ASYNC_PRIMES_LEASE_DEFAULT,
                                  conf->ttl / 2);
    }

    /*
     * A renewal that times out must leave time for another before the
     * lease ends, or a slow Redis hands a live worker's jobs to others.
     */
    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_async_primes_module);

    if (conf->enable && conf->job_lease < 2 * amcf->redis.timeout) {
        if (conf->lease == NGX_CONF_UNSET_MSEC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the lease of a job, %Mms (half of "
                               "\"async_primes_ttl\"), must be at least "
                               "twice \"async_primes_redis_timeout\" "
                               "(%Mms): set a longer \"async_primes_ttl\", "
                               "or \"async_primes_lease\"",
                               conf->job_lease, amcf->redis.timeout);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"async_primes_lease\" (%Mms) must be at "
                               "least twice \"async_primes_redis_timeout\" "
                               "(%Mms)",
                               conf->job_lease, amcf->redis.timeout);
        }

        return NGX_CONF_ERROR;
    }

    /* a record that expires before its lease loses a dead worker's job */
    if (conf->enable && conf->job_lease >= conf->ttl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"async_primes_lease\" (%Mms) must be shorter "
                           "than \"async_primes_ttl\" (%Mms)",
                           conf->job_lease, conf->ttl);
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_msec_value(conf->max_work, prev->max_work,
                              NGX_HTTP_ASYNC_PRIMES_WORK_DEFAULT);
    ngx_conf_merge_uint_value(conf->job_threads, prev->job_threads, 1);
    ngx_conf_merge_value(conf->reuse, prev->reuse, 0);
    ngx_conf_merge_msec_value(conf->wait_max, prev->wait_max,
                              NGX_HTTP_ASYNC_PRIMES_WAIT_DEFAULT);

    /* some poll may wait: the worker subscribes, and publishes ends */
    if (conf->enable && conf->wait_max) {
        amcf->wait_enabled = 1;
    }

    if (!conf->max_number_set) {
        conf->max_number = prev->max_number_set
                           ? prev->max_number
                           : NGX_HTTP_ASYNC_PRIMES_MAX_DEFAULT;
        conf->max_number_set = prev->max_number_set;
    }

    if (conf->pool == NULL) {
        conf->pool = prev->pool;
    }

    if (conf->enable && conf->pool == NULL) {
        conf->pool = ngx_http_async_primes_pool_add(cf,
                                        &ngx_http_async_primes_default_pool);
        if (conf->pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_async_primes_postconfiguration(ngx_conf_t *cf)
{
    return ngx_http_async_primes_filter_init(cf);
}


static char *
ngx_http_async_primes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_async_primes_loc_conf_t  *alcf = conf;

    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    if (alcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"async_primes\" needs a prefix location, "
                           "not the regex location \"%V\"", &clcf->name);
        return NGX_CONF_ERROR;
    }
#endif

    if (clcf->exact_match) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"async_primes\" needs a prefix location, "
                           "not the exact match location \"%V\": its jobs "
                           "could not be polled", &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (clcf->named) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"async_primes\" needs a prefix location, "
                           "not the named location \"%V\"", &clcf->name);
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_async_primes_handler;
    alcf->enable = 1;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_async_primes_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_async_primes_main_conf_t  *amcf = conf;

    ngx_str_t  *value;

    if (amcf->redis_address.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_async_primes_parse_redis(cf, amcf, &value[1]);
}


/*
 * A host name is resolved here, once: at run time hiredis would resolve it
 * with a blocking getaddrinfo() inside the event loop.
 */

static char *
ngx_http_async_primes_parse_redis(ngx_conf_t *cf,
    ngx_http_async_primes_main_conf_t *amcf, ngx_str_t *address)
{
    u_char     *p;
    size_t      len;
    ngx_url_t   u;

    amcf->redis_address = *address;
    amcf->redis.name = *address;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *address;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"async_primes_redis\" address \"%V\"",
                               u.err, address);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for \"async_primes_redis\" \"%V\"",
                           address);
        return NGX_CONF_ERROR;
    }

#if (NGX_HAVE_UNIX_DOMAIN)
    if (u.family == AF_UNIX) {
        len = address->len - 5;

        amcf->redis.path = ngx_pnalloc(cf->pool, len + 1);
        if (amcf->redis.path == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(amcf->redis.path, address->data + 5, len);
        amcf->redis.path[len] = '\0';

        return NGX_CONF_OK;
    }
#endif

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';

    amcf->redis.host = p;
    amcf->redis.port = u.port;

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"async_primes_redis\" \"%V\" has %ui addresses, "
                           "using %s", address, u.naddrs, p);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_async_primes_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->pool) {
        return "is duplicate";
    }

    value = cf->args->elts;

    alcf->pool = ngx_http_async_primes_pool_add(cf, &value[1]);
    if (alcf->pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_ttl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_async_primes_loc_conf_t  *alcf = conf;

    ngx_int_t   ttl;
    ngx_str_t  *value;

    if (alcf->ttl != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ttl = ngx_parse_time(&value[1], 0);

    if (ttl == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\"", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* the record is refreshed every third of it while its job computes */
    if (ttl < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be at least 1s, not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    alcf->ttl = (ngx_msec_t) ttl;

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_max_number(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_async_primes_loc_conf_t  *alcf = conf;

    u_char     *p, *last;
    uint64_t    n, digit;
    ngx_str_t  *value;

    if (alcf->max_number_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = value[1].data;
    last = p + value[1].len;

    if (p == last) {
        goto invalid;
    }

    n = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p < '0' || *p > '9') {
            goto invalid;
        }

        digit = *p - '0';

        if (n > (UINT64_MAX - digit) / 10) {
            goto invalid;
        }

        n = n * 10 + digit;
    }

    if (n == 0) {
        goto invalid;
    }

    alcf->max_number = n;
    alcf->max_number_set = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be a whole number from 1 to "
                       "18446744073709551615, not \"%V\"",
                       &cmd->name, &value[1]);

    return NGX_CONF_ERROR;
}


/*
 * The password is never quoted back, in an error or anywhere else: "nginx
 * -t" output ends up in places the configuration file does not.
 */

static char *
ngx_http_async_primes_redis_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_async_primes_main_conf_t  *amcf = conf;

    ngx_str_t  *value;

    if (amcf->redis.password.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 3) {
        if (value[1].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty user name in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        amcf->redis.user = value[1];
    }

    amcf->redis.password = value[cf->args->nelts - 1];

    if (amcf->redis.password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty password in \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_compute_priority(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_async_primes_main_conf_t  *amcf = conf;

    ngx_str_t  *value;
#if (NGX_LINUX)
    ngx_int_t   n;
#endif

    if (amcf->compute_priority != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        amcf->compute_priority = NGX_HTTP_ASYNC_PRIMES_PRIORITY_OFF;
        return NGX_CONF_OK;
    }

#if (NGX_LINUX)

    if (ngx_strcmp(value[1].data, "idle") == 0) {
        amcf->compute_priority = NGX_HTTP_ASYNC_PRIMES_PRIORITY_IDLE;
        return NGX_CONF_OK;
    }

    /* signed, as in worker_priority */
    if (value[1].len > 1 && value[1].data[0] == '-') {
        n = ngx_atoi(value[1].data + 1, value[1].len - 1);
        if (n != NGX_ERROR) {
            n = -n;
        }

    } else if (value[1].len > 1 && value[1].data[0] == '+') {
        n = ngx_atoi(value[1].data + 1, value[1].len - 1);

    } else {
        n = ngx_atoi(value[1].data, value[1].len);
    }

    if (n == NGX_ERROR || n < -20 || n > 19) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be \"off\", \"idle\" or a nice "
                           "value from -20 to 19, not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    amcf->compute_priority = n;

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" can only be \"off\" on this system: its "
                       "threads have no priority of their own",
                       &cmd->name);

    return NGX_CONF_ERROR;

#endif
}


static char *
ngx_http_async_primes_check_database(ngx_conf_t *cf, void *post, void *data)
{
    ngx_int_t  *database = data;

    /* SELECT takes a C int; the "databases" of the server bounds it more */
    if (*database > NGX_MAX_INT32_VALUE) {
        return "must be from 0 to 2147483647";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_check_timeout(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *timeout = data;

    if (*timeout == 0) {
        return "must be at least 1ms";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_check_threads(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *threads = data;

    if (*threads < 1 || *threads > NGX_HTTP_ASYNC_PRIMES_MAX_PARTS) {
        return "must be from 1 to 16";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_check_prefix(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *prefix = data;

    if (prefix->len > NGX_HTTP_ASYNC_PRIMES_PREFIX_MAX) {
        return "must be at most 64 bytes long";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_check_lease(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *lease = data;

    /* renewed every third of it: shorter would be mostly renewals */
    if (*lease < 1000) {
        return "must be at least 1s";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_async_primes_check_jobs(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *jobs = data;

    if (*jobs < 1) {
        return "must be at least 1";
    }

    return NGX_CONF_OK;
}


/*
 * Called by a pool thread before a part it computes; returns 1 if the
 * thread is to call ngx_http_async_primes_thread_restore() after it.  On
 * Linux a nice value and a scheduling policy belong to one thread, so the
 * event loop keeps its own and the kernel runs it first whenever it has
 * work.  The thread takes its priority back after the part: the pool may
 * be shared (NGINX's "default" pool is also aio's), and other tasks must
 * not run at the module's priority.  A worker may raise a thread back only
 * within RLIMIT_NICE, which the master sets for it (init module).
 */

ngx_uint_t
ngx_http_async_primes_thread_lower(ngx_int_t priority)
{
#if (NGX_LINUX)
    int                 rc;
    ngx_err_t           err;
    ngx_tid_t           tid;
    struct sched_param  sp;

    if (priority == NGX_HTTP_ASYNC_PRIMES_PRIORITY_OFF
        || ngx_http_async_primes_thread_state
           != NGX_HTTP_ASYNC_PRIMES_THREAD_OWN)
    {
        return 0;
    }

    tid = ngx_thread_tid();

    if (priority == NGX_HTTP_ASYNC_PRIMES_PRIORITY_IDLE) {
        ngx_memzero(&sp, sizeof(struct sched_param));
        rc = sched_setscheduler(tid, SCHED_IDLE, &sp);

    } else {
        errno = 0;
        ngx_http_async_primes_thread_nice = getpriority(PRIO_PROCESS, tid);

        rc = (errno == 0) ? setpriority(PRIO_PROCESS, tid, (int) priority)
                          : -1;
    }

    if (rc == 0) {
        return 1;
    }

    err = ngx_errno;

    /* a failure would fail again: not tried for every part */
    ngx_http_async_primes_thread_state = NGX_HTTP_ASYNC_PRIMES_THREAD_FAILED;

    if (ngx_http_async_primes_priority_failed == 0) {
        ngx_http_async_primes_priority_err = err;
        ngx_http_async_primes_failed_priority = priority;
        (void) ngx_atomic_cmp_set(&ngx_http_async_primes_priority_failed, 0, 1);
    }
#endif

    return 0;
}


void
ngx_http_async_primes_thread_restore(ngx_int_t priority)
{
#if (NGX_LINUX)
    int                 rc;
    ngx_err_t           err;
    ngx_tid_t           tid;
    struct sched_param  sp;

    tid = ngx_thread_tid();

    if (priority == NGX_HTTP_ASYNC_PRIMES_PRIORITY_IDLE) {
        ngx_memzero(&sp, sizeof(struct sched_param));
        rc = sched_setscheduler(tid, SCHED_OTHER, &sp);

    } else {
        rc = setpriority(PRIO_PROCESS, tid,
                         ngx_http_async_primes_thread_nice);
    }

    if (rc == 0) {
        return;
    }

    err = ngx_errno;

    /* lowered for good: the thread computes the next parts as it is */
    ngx_http_async_primes_thread_state = NGX_HTTP_ASYNC_PRIMES_THREAD_LOWERED;

    if (ngx_http_async_primes_restore_failed == 0) {
        ngx_http_async_primes_restore_err = err;
        (void) ngx_atomic_cmp_set(&ngx_http_async_primes_restore_failed, 0, 1);
    }
#endif
}


/* in the event loop: what the pool threads could not log themselves */

void
ngx_http_async_primes_thread_report(ngx_log_t *log)
{
    /* the sums are still right, only the event loop may wait for them */

    if (ngx_http_async_primes_priority_failed == 1
        && ngx_atomic_cmp_set(&ngx_http_async_primes_priority_failed, 1, 2))
    {
        if (ngx_http_async_primes_failed_priority
            == NGX_HTTP_ASYNC_PRIMES_PRIORITY_IDLE)
        {
            ngx_log_error(NGX_LOG_WARN, log,
                          ngx_http_async_primes_priority_err,
                          "async_primes: sched_setscheduler(SCHED_IDLE) "
                          "failed, jobs compute at the priority of the "
                          "event loop");

        } else {
            ngx_log_error(NGX_LOG_WARN, log,
                          ngx_http_async_primes_priority_err,
                          "async_primes: setpriority(%i) failed, jobs "
                          "compute at the priority of the event loop",
                          ngx_http_async_primes_failed_priority);
        }
    }

    if (ngx_http_async_primes_restore_failed == 1
        && ngx_atomic_cmp_set(&ngx_http_async_primes_restore_failed, 1, 2))
    {
        ngx_log_error(NGX_LOG_WARN, log, ngx_http_async_primes_restore_err,
                      "async_primes: a pool thread could not take its "
                      "priority back, and keeps the one of "
                      "async_primes_compute_priority for the other tasks of "
                      "its pool: give the module a thread pool of its own");
    }
}


/*
 * In the master: a worker may raise a pool thread back to its own nice
 * value (worker_priority) once the part is done.
 */

static ngx_int_t
ngx_http_async_primes_init_module(ngx_cycle_t *cycle)
{
#if (NGX_LINUX)
    rlim_t                              need;
    struct rlimit                       rlmt;
    ngx_core_conf_t                    *ccf;
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_async_primes_module);

    if (amcf == NULL
        || !amcf->enabled
        || amcf->compute_priority == NGX_HTTP_ASYNC_PRIMES_PRIORITY_OFF)
    {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* RLIMIT_NICE n allows nice values down to 20 - n */
    need = 20 - ccf->priority;

    if (getrlimit(RLIMIT_NICE, &rlmt) == -1 || rlmt.rlim_cur >= need) {
        return NGX_OK;
    }

    rlmt.rlim_cur = need;

    if (rlmt.rlim_max < need) {
        rlmt.rlim_max = need;
    }

    /* not root: the threads stay lowered, as the workers will log */
    if (setrlimit(RLIMIT_NICE, &rlmt) == -1) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, cycle->log, ngx_errno,
                       "async_primes: setrlimit(RLIMIT_NICE, %d) failed",
                       (int) need);
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_async_primes_init_process(ngx_cycle_t *cycle)
{
    ngx_http_async_primes_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_async_primes_module);

    if (amcf == NULL) {
        return NGX_OK;
    }

    ngx_http_async_primes_metrics_init(amcf->metrics);

    if (!amcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_async_primes_watch_shutdown(cycle, amcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_async_primes_stay_loaded(cycle);

    /* the subscriber: ended jobs wake polls, cancelled ones stop here */
    if (ngx_http_async_primes_wait_init(amcf, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_async_primes_store_init(&amcf->redis);

    return ngx_http_async_primes_redis_init(&amcf->redis, cycle->log);
}


/*
 * When a worker exits, NGINX unloads the module (a cleanup of the cycle's
 * pool) after the thread pools have stopped, but a pool whose queue is full
 * does not wait for its threads: one may still be running a part, or may
 * start a queued one.  In a worker, the module stays loaded until the
 * process ends; in the master, a reload still loads it anew.
 */

static void
ngx_http_async_primes_stay_loaded(ngx_cycle_t *cycle)
{
#if (NGX_HAVE_DLOPEN)
    Dl_info  info;

    if (dladdr((void *) ngx_http_async_primes_stay_loaded, &info) == 0
        || info.dli_fname == NULL)
    {
        return;
    }

    /* NULL in a static build: the binary itself is never unloaded */
    if (dlopen(info.dli_fname, RTLD_NOW|RTLD_NOLOAD|RTLD_NODELETE) == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "async_primes: dlopen(\"%s\", RTLD_NODELETE) failed",
                       info.dli_fname);
    }
#endif
}


/*
 * NGINX tells a module that worker_shutdown_timeout has expired only by
 * closing the module's connections.  A worker keeps one connection that is
 * never added to the event loop, on /dev/null, so that it is told even
 * while it has no connection to Redis.
 */

static ngx_int_t
ngx_http_async_primes_watch_shutdown(ngx_cycle_t *cycle,
    ngx_http_async_primes_main_conf_t *amcf)
{
    ngx_fd_t           fd;
    ngx_connection_t  *c;

    fd = ngx_open_file("/dev/null", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"/dev/null\" failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);

    if (c == NULL) {
        if (ngx_close_file(fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          ngx_close_file_n " \"/dev/null\" failed");
        }

        return NGX_ERROR;
    }

    c->data = amcf;
    c->read->handler = ngx_http_async_primes_shutdown_handler;
    c->read->log = cycle->log;
    c->write->log = cycle->log;

    /* the start of a graceful shutdown closes the idle connections */
    c->idle = 1;

    amcf->shutdown = c;

    return NGX_OK;
}


/*
 * worker_shutdown_timeout has expired: the jobs stop, to be taken over by
 * other workers once their leases run out, and Redis is given up, every
 * waiting request answered.
 */

static void
ngx_http_async_primes_shutdown_handler(ngx_event_t *ev)
{
    ngx_connection_t                   *c;
    ngx_http_async_primes_main_conf_t  *amcf;

    c = ev->data;

    if (!c->close) {
        return;
    }

    amcf = c->data;

    /*
     * A graceful shutdown begins: the polls that wait are answered now,
     * and the connection stays for worker_shutdown_timeout.
     */
    if (c->idle) {
        c->idle = 0;
        c->close = 0;

        ngx_http_async_primes_wait_all(amcf, 1);

        if (amcf->redis.ctx) {
            ngx_http_async_primes_adapter_flush(amcf->redis.ctx);
        }

        return;
    }

    ngx_close_connection(c);
    amcf->shutdown = NULL;

    ngx_http_async_primes_jobs_abandon(amcf);
    ngx_http_async_primes_redis_exit(&amcf->redis);

    ngx_http_async_primes_redis_exit(&amcf->subscriber);
}


/*
 * By now the thread pools have run every queued task (their module exits
 * first), but no completion handler will run: the jobs still held are
 * freed here, once.
 */

static void
ngx_http_async_primes_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_async_primes_module);

    if (amcf == NULL || !amcf->enabled) {
        return;
    }

    if (amcf->shutdown) {
        ngx_close_connection(amcf->shutdown);
        amcf->shutdown = NULL;
    }

    ngx_http_async_primes_redis_exit(&amcf->redis);

    ngx_http_async_primes_redis_exit(&amcf->subscriber);

    ngx_http_async_primes_jobs_exit(amcf);
}
