
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The job store: every Redis command of the module is built here.  A
 * command is put together by a small builder that counts its arguments and
 * bytes itself, so that nothing is sized by hand: a command that would not
 * fit is refused with an alert, never written past its arrays.
 *
 * The records that several workers may write (a renewal, a takeover, a
 * final write that checks the owner, a submit with an Idempotency-Key or
 * reuse) are read and written by Lua scripts, each in one atomic step.
 * The scripts are the files in lua/, made into C strings by "config".
 * Each connection loads them in its handshake (SCRIPT LOAD) and commands
 * call them by their SHA1 (EVALSHA); a Redis that has lost them since
 * (restarted, SCRIPT FLUSH) answers NOSCRIPT, and the command goes once
 * more as EVAL with the script's text, which loads it again.
 */


#include <openssl/sha.h>

#include "ngx_http_async_primes.h"
#include "ngx_http_async_primes_scripts.h"


/* the longest command: EVALSHA, its SHA1, the key count, 3 keys, 5 args */
#define NGX_HTTP_ASYNC_PRIMES_ARGS      12

/* keys, records and numbers formatted for one command */
#define NGX_HTTP_ASYNC_PRIMES_ARGS_BUF  2048


typedef struct {
    int                                 argc;
    ngx_uint_t                          overflow;
    ngx_uint_t                          nkeys;     /* argc before the keys */
    ngx_uint_t                          keys_done; /* the count is set */
    ngx_http_async_primes_script_t     *script;    /* or NULL */
    u_char                             *last;      /* free space in buf */
    const char                         *argv[NGX_HTTP_ASYNC_PRIMES_ARGS];
    size_t                              argvlen[NGX_HTTP_ASYNC_PRIMES_ARGS];
    u_char                              buf[NGX_HTTP_ASYNC_PRIMES_ARGS_BUF];
} ngx_http_async_primes_args_t;


/*
 * A script command, kept with its arguments until the reply: it is sent
 * once more with the script's text if Redis answers NOSCRIPT.
 */
typedef struct {
    ngx_http_async_primes_redis_handler_pt  handler;
    void                                   *data;
    ngx_http_async_primes_redis_t          *redis;
    ngx_http_async_primes_script_t         *script;   /* NULL once resent */
    int                                     argc;
    size_t                                  argvlen[NGX_HTTP_ASYNC_PRIMES_ARGS];
    u_char                                 *args[NGX_HTTP_ASYNC_PRIMES_ARGS];
} ngx_http_async_primes_eval_t;


static void ngx_http_async_primes_args_init(
    ngx_http_async_primes_args_t *args, const char *command);
static void ngx_http_async_primes_args_script(
    ngx_http_async_primes_args_t *args, ngx_uint_t script);
static u_char *ngx_http_async_primes_args_space(
    ngx_http_async_primes_args_t *args, size_t size);
static void ngx_http_async_primes_args_add(ngx_http_async_primes_args_t *args,
    const void *data, size_t len);
static void ngx_http_async_primes_args_keys_end(
    ngx_http_async_primes_args_t *args);
static void ngx_http_async_primes_args_key(ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_main_conf_t *amcf, const char *kind,
    const u_char *name, size_t len);
static void ngx_http_async_primes_args_job_key(
    ngx_http_async_primes_args_t *args, ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_args_sum_key(
    ngx_http_async_primes_args_t *args, ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_args_msec(
    ngx_http_async_primes_args_t *args, ngx_msec_t ms);
static ngx_int_t ngx_http_async_primes_store_send(
    ngx_http_async_primes_main_conf_t *amcf,
    ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    void ***detach);
static void ngx_http_async_primes_store_evaluated(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_async_primes_store_lease(
    ngx_http_async_primes_job_t *job, ngx_uint_t script, ngx_uint_t permille,
    ngx_http_async_primes_redis_handler_pt handler);


ngx_http_async_primes_script_t  ngx_http_async_primes_scripts[] = {

    { "submit", ngx_http_async_primes_submit_lua,
      sizeof(ngx_http_async_primes_submit_lua) - 1, "" },

    { "renew", ngx_http_async_primes_renew_lua,
      sizeof(ngx_http_async_primes_renew_lua) - 1, "" },

    { "takeover", ngx_http_async_primes_takeover_lua,
      sizeof(ngx_http_async_primes_takeover_lua) - 1, "" },

    { "final", ngx_http_async_primes_final_lua,
      sizeof(ngx_http_async_primes_final_lua) - 1, "" },

    { "cancel", ngx_http_async_primes_cancel_lua,
      sizeof(ngx_http_async_primes_cancel_lua) - 1, "" },

    { NULL, NULL, 0, "" }
};


/* the SHA1 of each script, as Redis names it */

void
ngx_http_async_primes_store_init(ngx_http_async_primes_redis_t *redis)
{
    ngx_http_async_primes_script_t  *script;
    u_char                           digest[SHA_DIGEST_LENGTH];

    for (script = ngx_http_async_primes_scripts; script->name; script++) {
        SHA1((const u_char *) script->text, script->len, digest);
        ngx_hex_dump(script->sha1, digest, SHA_DIGEST_LENGTH);
    }

    redis->scripts = ngx_http_async_primes_scripts;
}


/*
 * A new job: its record in progress, with a plain SET, or with the submit
 * script when an Idempotency-Key or a stored sum may answer instead.
 */

ngx_int_t
ngx_http_async_primes_store_submit(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler)
{
    u_char                        *p, *flags, *record;
    size_t                         len;
    ngx_http_async_primes_args_t   args;
    u_char                         doc[NGX_HTTP_ASYNC_PRIMES_DOC_LEN];

    /* its first lease is by this host's clock; renewals use Redis's */
    len = ngx_async_primes_json_progress(doc, job->id,
                                         NGX_ASYNC_PRIMES_ID_LEN, 0);

    if (!job->idem.len && !job->reuse) {
        ngx_http_async_primes_args_init(&args, "SET");
        ngx_http_async_primes_args_job_key(&args, job);
    } else {
        ngx_http_async_primes_args_script(&args,
                                          NGX_HTTP_ASYNC_PRIMES_SCRIPT_SUBMIT);
        ngx_http_async_primes_args_job_key(&args, job);

        if (job->idem.len) {
            ngx_http_async_primes_args_key(&args, job->amcf,
                                           NGX_HTTP_ASYNC_PRIMES_IDEM_KIND,
                                           job->idem.data, job->idem.len);
        }

        if (job->reuse) {
            ngx_http_async_primes_args_sum_key(&args, job);
        }

        ngx_http_async_primes_args_keys_end(&args);
    }

    record = ngx_http_async_primes_args_space(&args,
                                      NGX_ASYNC_PRIMES_RECORD_HEADER_MAX
                                      + len);
    if (record) {
        ngx_http_async_primes_args_add(&args, record,
                           ngx_async_primes_record_write(record, job->owner,
                                       NGX_ASYNC_PRIMES_ID_LEN,
                                       ngx_http_async_primes_now()
                                       + job->lease,
                                       job->a, job->b, job->eta, doc, len));
    }

    if (args.script == NULL) {
        ngx_http_async_primes_args_add(&args, "PX", 2);
        ngx_http_async_primes_args_msec(&args, job->ttl);

        return ngx_http_async_primes_store_send(job->amcf, &args, handler,
                                                job, NULL);
    }

    ngx_http_async_primes_args_msec(&args, job->ttl);

    /* what the key keeps: "<requestId> <a> <b>" */
    p = ngx_http_async_primes_args_space(&args, NGX_ASYNC_PRIMES_ID_LEN
                                                + 2 * NGX_INT64_LEN + 2);
    if (p) {
        ngx_http_async_primes_args_add(&args, p,
                                       ngx_sprintf(p, "%*s %uL %uL",
                                             (size_t) NGX_ASYNC_PRIMES_ID_LEN,
                                             job->id, job->a, job->b)
                                       - p);
    }

    ngx_http_async_primes_args_add(&args, job->id, NGX_ASYNC_PRIMES_ID_LEN);

    /* which keys follow the record's: "i" the key's, "r" the sum's */
    flags = ngx_http_async_primes_args_space(&args, 2);
    if (flags) {
        p = flags;

        if (job->idem.len) {
            *p++ = 'i';
        }

        if (job->reuse) {
            *p++ = 'r';
        }

        ngx_http_async_primes_args_add(&args, flags, p - flags);
    }

    return ngx_http_async_primes_store_send(job->amcf, &args, handler, job,
                                            NULL);
}


/* nobody will compute the job: neither it nor its key may say otherwise */

ngx_int_t
ngx_http_async_primes_store_delete(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler)
{
    ngx_http_async_primes_args_t  args;

    ngx_http_async_primes_args_init(&args, "DEL");
    ngx_http_async_primes_args_job_key(&args, job);

    if (job->idem.len) {
        ngx_http_async_primes_args_key(&args, job->amcf,
                                       NGX_HTTP_ASYNC_PRIMES_IDEM_KIND,
                                       job->idem.data, job->idem.len);
    }

    return ngx_http_async_primes_store_send(job->amcf, &args, handler, job,
                                            NULL);
}


ngx_int_t
ngx_http_async_primes_store_renew(ngx_http_async_primes_job_t *job,
    ngx_uint_t permille, ngx_http_async_primes_redis_handler_pt handler)
{
    return ngx_http_async_primes_store_lease(job,
                                         NGX_HTTP_ASYNC_PRIMES_SCRIPT_RENEW,
                                         permille, handler);
}


ngx_int_t
ngx_http_async_primes_store_takeover(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler)
{
    return ngx_http_async_primes_store_lease(job,
                                      NGX_HTTP_ASYNC_PRIMES_SCRIPT_TAKEOVER,
                                      0, handler);
}


/* the renewal and the takeover: the record in progress, a new lease */

static ngx_int_t
ngx_http_async_primes_store_lease(ngx_http_async_primes_job_t *job,
    ngx_uint_t script, ngx_uint_t permille,
    ngx_http_async_primes_redis_handler_pt handler)
{
    u_char                        *tail;
    size_t                         len;
    ngx_http_async_primes_args_t   args;
    u_char                         doc[NGX_HTTP_ASYNC_PRIMES_DOC_LEN];

    ngx_http_async_primes_args_script(&args, script);
    ngx_http_async_primes_args_job_key(&args, job);
    ngx_http_async_primes_args_key(&args, job->amcf,
                                   NGX_HTTP_ASYNC_PRIMES_CANCEL_KIND,
                                   job->id, NGX_ASYNC_PRIMES_ID_LEN);
    ngx_http_async_primes_args_keys_end(&args);

    ngx_http_async_primes_args_add(&args, job->owner,
                                   NGX_ASYNC_PRIMES_ID_LEN);
    ngx_http_async_primes_args_msec(&args, job->lease);
    ngx_http_async_primes_args_msec(&args, job->ttl);

    len = ngx_async_primes_json_progress(doc, job->id,
                                         NGX_ASYNC_PRIMES_ID_LEN, permille);

    tail = ngx_http_async_primes_args_space(&args,
                                      NGX_ASYNC_PRIMES_RECORD_HEADER_MAX
                                      + len);
    if (tail) {
        ngx_http_async_primes_args_add(&args, tail,
                               ngx_async_primes_record_tail(tail, job->a,
                                                            job->b, job->eta,
                                                            doc, len));
    }

    return ngx_http_async_primes_store_send(job->amcf, &args, handler, job,
                                            NULL);
}


/*
 * The final record, job->doc: with a plain SET when the caller knows that
 * nobody can have taken the job over, else with the script that checks the
 * owner (and keeps the sum for reuse).
 */

ngx_int_t
ngx_http_async_primes_store_final(ngx_http_async_primes_job_t *job,
    ngx_uint_t plain, ngx_http_async_primes_redis_handler_pt handler)
{
    ngx_uint_t                    keep;
    ngx_http_async_primes_args_t  args;

    if (plain) {
        ngx_http_async_primes_args_init(&args, "SET");
        ngx_http_async_primes_args_job_key(&args, job);
        ngx_http_async_primes_args_add(&args, job->doc, job->doc_len);
        ngx_http_async_primes_args_add(&args, "PX", 2);
        ngx_http_async_primes_args_msec(&args, job->ttl);

        return ngx_http_async_primes_store_send(job->amcf, &args, handler,
                                                job, NULL);
    }

    /* a sum is kept for the next submit of the same range */
    keep = job->reuse && job->payload_len;

    ngx_http_async_primes_args_script(&args,
                                      NGX_HTTP_ASYNC_PRIMES_SCRIPT_FINAL);
    ngx_http_async_primes_args_job_key(&args, job);

    if (keep) {
        ngx_http_async_primes_args_sum_key(&args, job);
    }

    ngx_http_async_primes_args_keys_end(&args);

    ngx_http_async_primes_args_add(&args, job->owner,
                                   NGX_ASYNC_PRIMES_ID_LEN);
    ngx_http_async_primes_args_add(&args, job->doc, job->doc_len);
    ngx_http_async_primes_args_msec(&args, job->ttl);

    if (keep) {
        ngx_http_async_primes_args_add(&args, job->payload,
                                       job->payload_len);
    }

    return ngx_http_async_primes_store_send(job->amcf, &args, handler, job,
                                            NULL);
}


/* the job has ended: the polls that wait for it, on any host, are woken */

ngx_int_t
ngx_http_async_primes_store_publish(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler)
{
    ngx_http_async_primes_args_t  args;

    ngx_http_async_primes_args_init(&args, "PUBLISH");
    ngx_http_async_primes_args_key(&args, job->amcf,
                                   NGX_HTTP_ASYNC_PRIMES_DONE_CHANNEL,
                                   (u_char *) "", 0);
    ngx_http_async_primes_args_add(&args, job->id, NGX_ASYNC_PRIMES_ID_LEN);

    return ngx_http_async_primes_store_send(job->amcf, &args, handler, job,
                                            NULL);
}


/*
 * A cancellation: the record of a job nobody holds becomes CANCELLED at
 * once; one held is marked, and its worker told, to stop it.
 */

ngx_int_t
ngx_http_async_primes_store_cancel(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, ngx_msec_t ttl,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    void ***detach)
{
    u_char                        *doc;
    ngx_http_async_primes_args_t   args;

    ngx_http_async_primes_args_script(&args,
                                      NGX_HTTP_ASYNC_PRIMES_SCRIPT_CANCEL);
    ngx_http_async_primes_args_key(&args, amcf,
                                   NGX_HTTP_ASYNC_PRIMES_KEY_KIND,
                                   id, NGX_ASYNC_PRIMES_ID_LEN);
    ngx_http_async_primes_args_key(&args, amcf,
                                   NGX_HTTP_ASYNC_PRIMES_CANCEL_KIND,
                                   id, NGX_ASYNC_PRIMES_ID_LEN);
    ngx_http_async_primes_args_keys_end(&args);

    doc = ngx_http_async_primes_args_space(&args,
                                           NGX_HTTP_ASYNC_PRIMES_DOC_LEN);
    if (doc) {
        ngx_http_async_primes_args_add(&args, doc,
                        ngx_async_primes_json_record(doc, id,
                                           NGX_ASYNC_PRIMES_ID_LEN,
                                           NGX_ASYNC_PRIMES_STATUS_CANCELLED,
                                           NULL, 0, NULL, 0));
    }

    ngx_http_async_primes_args_msec(&args, ttl);
    ngx_http_async_primes_args_key(&args, amcf,
                                   NGX_HTTP_ASYNC_PRIMES_CANCEL_CHANNEL,
                                   (u_char *) "", 0);
    ngx_http_async_primes_args_add(&args, id, NGX_ASYNC_PRIMES_ID_LEN);

    return ngx_http_async_primes_store_send(amcf, &args, handler, data,
                                            detach);
}


/* a poll: the record of a job, whoever wrote it */

ngx_int_t
ngx_http_async_primes_store_get(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, ngx_http_async_primes_redis_handler_pt handler,
    void *data, void ***detach)
{
    ngx_http_async_primes_args_t  args;

    ngx_http_async_primes_args_init(&args, "GET");
    ngx_http_async_primes_args_key(&args, amcf,
                                   NGX_HTTP_ASYNC_PRIMES_KEY_KIND,
                                   id, NGX_ASYNC_PRIMES_ID_LEN);

    return ngx_http_async_primes_store_send(amcf, &args, handler, data,
                                            detach);
}


static void
ngx_http_async_primes_args_init(ngx_http_async_primes_args_t *args,
    const char *command)
{
    args->argc = 0;
    args->overflow = 0;
    args->nkeys = 0;
    args->keys_done = 0;
    args->script = NULL;
    args->last = args->buf;

    ngx_http_async_primes_args_add(args, command, ngx_strlen(command));
}


/* EVALSHA <sha1> <numkeys>: the count is filled in by args_keys_end() */

static void
ngx_http_async_primes_args_script(ngx_http_async_primes_args_t *args,
    ngx_uint_t script)
{
    ngx_http_async_primes_args_init(args, "EVALSHA");

    args->script = &ngx_http_async_primes_scripts[script];

    ngx_http_async_primes_args_add(args, args->script->sha1,
                                   sizeof(args->script->sha1));
    ngx_http_async_primes_args_add(args, "", 0);

    args->nkeys = args->argc;
}


static void
ngx_http_async_primes_args_keys_end(ngx_http_async_primes_args_t *args)
{
    u_char  *p;

    p = ngx_http_async_primes_args_space(args, NGX_INT_T_LEN);

    if (p == NULL || args->argc < (int) args->nkeys) {
        args->overflow = 1;
        return;
    }

    args->keys_done = 1;
    args->argv[args->nkeys - 1] = (const char *) p;
    args->argvlen[args->nkeys - 1] = ngx_sprintf(p, "%i",
                                          (ngx_int_t) (args->argc
                                                       - args->nkeys))
                                     - p;
    args->last = p + args->argvlen[args->nkeys - 1];
}


/*
 * Room for an argument formatted in place, at most size bytes; NULL (and
 * the command refused) if there is none.
 */

static u_char *
ngx_http_async_primes_args_space(ngx_http_async_primes_args_t *args,
    size_t size)
{
    if ((size_t) (args->buf + sizeof(args->buf) - args->last) < size) {
        args->overflow = 1;
        return NULL;
    }

    return args->last;
}


/* an argument; one formatted at args->last takes its bytes from the room */

static void
ngx_http_async_primes_args_add(ngx_http_async_primes_args_t *args,
    const void *data, size_t len)
{
    if (args->argc == NGX_HTTP_ASYNC_PRIMES_ARGS) {
        args->overflow = 1;
        return;
    }

    args->argv[args->argc] = data;
    args->argvlen[args->argc] = len;
    args->argc++;

    if (data == args->last) {
        args->last += len;
    }
}


/* "<prefix><kind><name>": every key of the module */

static void
ngx_http_async_primes_args_key(ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_main_conf_t *amcf, const char *kind,
    const u_char *name, size_t len)
{
    u_char  *p, *key;
    size_t   kind_len;

    kind_len = ngx_strlen(kind);

    key = ngx_http_async_primes_args_space(args,
                                           amcf->key_prefix.len + kind_len
                                           + len);
    if (key == NULL) {
        return;
    }

    p = ngx_cpymem(key, amcf->key_prefix.data, amcf->key_prefix.len);
    p = ngx_cpymem(p, kind, kind_len);
    p = ngx_cpymem(p, name, len);

    ngx_http_async_primes_args_add(args, key, p - key);
}


/* the key of the job's record */

static void
ngx_http_async_primes_args_job_key(ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_job_t *job)
{
    ngx_http_async_primes_args_key(args, job->amcf,
                                   NGX_HTTP_ASYNC_PRIMES_KEY_KIND,
                                   job->id, NGX_ASYNC_PRIMES_ID_LEN);
}


/* the key that keeps the sum of a range for async_primes_reuse */

static void
ngx_http_async_primes_args_sum_key(ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_job_t *job)
{
    u_char  range[2 * NGX_INT64_LEN + 1];

    ngx_http_async_primes_args_key(args, job->amcf,
                                   NGX_HTTP_ASYNC_PRIMES_SUM_KIND, range,
                                   ngx_sprintf(range, "%uL:%uL",
                                               job->a, job->b)
                                   - range);
}


static void
ngx_http_async_primes_args_msec(ngx_http_async_primes_args_t *args,
    ngx_msec_t ms)
{
    u_char  *p;

    p = ngx_http_async_primes_args_space(args, NGX_INT_T_LEN);
    if (p) {
        ngx_http_async_primes_args_add(args, p, ngx_sprintf(p, "%M", ms) - p);
    }
}


/*
 * With detach, the caller gets where the reply's data is kept: setting it
 * to NULL (a request that goes away) sends the reply nowhere.
 */

static ngx_int_t
ngx_http_async_primes_store_send(ngx_http_async_primes_main_conf_t *amcf,
    ngx_http_async_primes_args_t *args,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    void ***detach)
{
    int                            i;
    u_char                        *p;
    size_t                         size;
    ngx_int_t                      rc;
    ngx_http_async_primes_cmd_t   *cmd;
    ngx_http_async_primes_eval_t  *eval;

    if (args->overflow || (args->script && !args->keys_done)) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "async_primes: the redis command %s could not be "
                      "built (at most %d arguments and %uz bytes), not sent",
                      args->argv[0],
                      NGX_HTTP_ASYNC_PRIMES_ARGS,
                      sizeof(args->buf));
        return NGX_ERROR;
    }

    if (args->script == NULL) {
        rc = ngx_http_async_primes_redis_command(&amcf->redis, handler,
                                                 data, &cmd, args->argc,
                                                 args->argv, args->argvlen);
        if (rc == NGX_OK && detach) {
            *detach = &cmd->data;
        }

        return rc;
    }

    /* the arguments after the SHA1 are kept for a NOSCRIPT */

    size = sizeof(ngx_http_async_primes_eval_t);

    for (i = 2; i < args->argc; i++) {
        size += args->argvlen[i];
    }

    eval = ngx_alloc(size, ngx_cycle->log);
    if (eval == NULL) {
        return NGX_ERROR;
    }

    eval->handler = handler;
    eval->data = data;
    eval->redis = &amcf->redis;
    eval->script = args->script;
    eval->argc = args->argc;

    p = (u_char *) eval + sizeof(ngx_http_async_primes_eval_t);

    for (i = 2; i < args->argc; i++) {
        eval->args[i] = p;
        eval->argvlen[i] = args->argvlen[i];
        p = ngx_cpymem(p, args->argv[i], args->argvlen[i]);
    }

    rc = ngx_http_async_primes_redis_command(&amcf->redis,
                                         ngx_http_async_primes_store_evaluated,
                                         eval, NULL, args->argc, args->argv,
                                         args->argvlen);
    if (rc != NGX_OK) {
        ngx_free(eval);
        return rc;
    }

    /* kept over a NOSCRIPT: the same eval goes again */
    if (detach) {
        *detach = &eval->data;
    }

    return NGX_OK;
}


static void
ngx_http_async_primes_store_evaluated(void *data, redisReply *reply)
{
    ngx_http_async_primes_eval_t  *eval = data;

    int                              i;
    ngx_int_t                        rc;
    ngx_http_async_primes_script_t  *script;
    const char                      *argv[NGX_HTTP_ASYNC_PRIMES_ARGS];

    script = eval->script;

    if (reply != NULL
        && reply->type == REDIS_REPLY_ERROR
        && script != NULL
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "async_primes: redis has lost the script \"%s\", "
                      "sending it again", script->name);

        /* once: a second NOSCRIPT reaches the handler as an error */
        eval->script = NULL;

        argv[0] = "EVAL";
        eval->argvlen[0] = sizeof("EVAL") - 1;
        argv[1] = script->text;
        eval->argvlen[1] = script->len;

        for (i = 2; i < eval->argc; i++) {
            argv[i] = (const char *) eval->args[i];
        }

        rc = ngx_http_async_primes_redis_command(eval->redis,
                                         ngx_http_async_primes_store_evaluated,
                                         eval, NULL, eval->argc, argv,
                                         eval->argvlen);
        if (rc == NGX_OK) {
            return;
        }

        reply = NULL;
    }

    eval->handler(eval->data, reply);

    ngx_free(eval);
}
