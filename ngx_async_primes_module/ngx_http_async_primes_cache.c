
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * async_primes_cache: the final records of jobs computed by this NGINX, in
 * a zone of shared memory every worker reads, so that a poll of a finished
 * job is answered without a round trip to Redis.  A final record never
 * changes; an entry lives no longer than the record in Redis (its TTL from
 * when the record was sent), and the least recently used entries make room
 * for new ones.
 */


#include "ngx_http_async_primes.h"


#define NGX_HTTP_ASYNC_PRIMES_CACHE_NAME  "async_primes_cache"


typedef struct {
    ngx_rbtree_t                        rbtree;
    ngx_rbtree_node_t                   sentinel;
    ngx_queue_t                         queue;    /* most recently used first */
} ngx_http_async_primes_cache_sh_t;


typedef struct {
    ngx_http_async_primes_cache_sh_t   *sh;
    ngx_slab_pool_t                    *shpool;
} ngx_http_async_primes_cache_t;


/* the id is sn.str, and the document follows it in data */
typedef struct {
    ngx_str_node_t                      sn;
    ngx_queue_t                         queue;
    ngx_msec_t                          expires;
    size_t                              len;
    u_char                              data[1];
} ngx_http_async_primes_cache_node_t;


static ngx_int_t ngx_http_async_primes_cache_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_http_async_primes_cache_node_t *ngx_http_async_primes_cache_lookup(
    ngx_http_async_primes_cache_t *cache, const u_char *id, uint32_t hash);
static void ngx_http_async_primes_cache_delete(
    ngx_http_async_primes_cache_t *cache,
    ngx_http_async_primes_cache_node_t *cn);
static void ngx_http_async_primes_cache_expire(
    ngx_http_async_primes_cache_t *cache, ngx_uint_t force);


char *
ngx_http_async_primes_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_async_primes_main_conf_t  *amcf = conf;

    ssize_t                         size;
    ngx_str_t                      *value, name;
    ngx_http_async_primes_cache_t  *cache;

    if (amcf->cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        amcf->cache = NULL;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be \"off\" or a size, not \"%V\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" of %V is too small: at least %uzk",
                           &cmd->name, &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_async_primes_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, NGX_HTTP_ASYNC_PRIMES_CACHE_NAME);

    amcf->cache = ngx_shared_memory_add(cf, &name, size,
                                        &ngx_http_async_primes_module);
    if (amcf->cache == NULL) {
        return NGX_CONF_ERROR;
    }

    amcf->cache->init = ngx_http_async_primes_cache_init_zone;
    amcf->cache->data = cache;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_async_primes_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_async_primes_cache_t  *ocache = data;

    size_t                          len;
    ngx_http_async_primes_cache_t  *cache;

    cache = shm_zone->data;

    /* a reload with the same size keeps the entries */
    if (ocache) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_http_async_primes_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    /* in the NGINX binary, not in this module: it outlives a reload */
    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_queue_init(&cache->sh->queue);

    len = sizeof(" in async_primes_cache zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in async_primes_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is the normal case: the oldest entries make room */
    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * Copies the final record of job id into the pool: NGX_OK, NGX_DECLINED if
 * it is not in the cache, NGX_ERROR if the pool has no memory.
 */

ngx_int_t
ngx_http_async_primes_cache_get(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, ngx_pool_t *pool, ngx_str_t *doc)
{
    uint32_t                             hash;
    ngx_int_t                            rc;
    ngx_http_async_primes_cache_t       *cache;
    ngx_http_async_primes_cache_node_t  *cn;

    cache = amcf->cache->data;

    hash = ngx_crc32_short((u_char *) id, NGX_ASYNC_PRIMES_ID_LEN);

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_http_async_primes_cache_lookup(cache, id, hash);

    if (cn == NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    if ((ngx_msec_int_t) (cn->expires - ngx_current_msec) <= 0) {
        ngx_http_async_primes_cache_delete(cache, cn);
        rc = NGX_DECLINED;
        goto done;
    }

    doc->data = ngx_pnalloc(pool, cn->len);
    if (doc->data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_memcpy(doc->data, cn->data + NGX_ASYNC_PRIMES_ID_LEN, cn->len);
    doc->len = cn->len;

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    rc = NGX_OK;

done:

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


/*
 * Keeps the final record of job id until expires (ngx_current_msec's
 * clock), in place of the entry it may have with replace.  A record that
 * does not fit, even after the oldest entries made room, is simply not
 * kept: Redis has it.
 */

void
ngx_http_async_primes_cache_put(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, const u_char *doc, size_t len, ngx_msec_t expires,
    ngx_uint_t replace)
{
    size_t                               size;
    uint32_t                             hash;
    ngx_uint_t                           tries;
    ngx_http_async_primes_cache_t       *cache;
    ngx_http_async_primes_cache_node_t  *cn;

    cache = amcf->cache->data;

    hash = ngx_crc32_short((u_char *) id, NGX_ASYNC_PRIMES_ID_LEN);

    size = offsetof(ngx_http_async_primes_cache_node_t, data)
           + NGX_ASYNC_PRIMES_ID_LEN + len;

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* a job taken over, or written again, replaces its entry */
    if (replace) {
        cn = ngx_http_async_primes_cache_lookup(cache, id, hash);

        if (cn) {
            ngx_http_async_primes_cache_delete(cache, cn);
        }
    }

    ngx_http_async_primes_cache_expire(cache, 0);

    for (tries = 0; /* void */ ; tries++) {
        cn = ngx_slab_alloc_locked(cache->shpool, size);

        if (cn || tries == 8 || ngx_queue_empty(&cache->sh->queue)) {
            break;
        }

        ngx_http_async_primes_cache_expire(cache, 1);
    }

    if (cn == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "async_primes: the result of job %*s is not cached: "
                      "async_primes_cache is too small",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, id);
        return;
    }

    ngx_memcpy(cn->data, id, NGX_ASYNC_PRIMES_ID_LEN);
    ngx_memcpy(cn->data + NGX_ASYNC_PRIMES_ID_LEN, doc, len);

    cn->sn.node.key = hash;
    cn->sn.str.data = cn->data;
    cn->sn.str.len = NGX_ASYNC_PRIMES_ID_LEN;
    cn->expires = expires;
    cn->len = len;

    ngx_rbtree_insert(&cache->sh->rbtree, &cn->sn.node);
    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


static ngx_http_async_primes_cache_node_t *
ngx_http_async_primes_cache_lookup(ngx_http_async_primes_cache_t *cache,
    const u_char *id, uint32_t hash)
{
    ngx_str_t        name;
    ngx_str_node_t  *sn;

    name.data = (u_char *) id;
    name.len = NGX_ASYNC_PRIMES_ID_LEN;

    sn = ngx_str_rbtree_lookup(&cache->sh->rbtree, &name, hash);

    if (sn == NULL) {
        return NULL;
    }

    return (ngx_http_async_primes_cache_node_t *) sn;
}


static void
ngx_http_async_primes_cache_delete(ngx_http_async_primes_cache_t *cache,
    ngx_http_async_primes_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &cn->sn.node);
    ngx_slab_free_locked(cache->shpool, cn);
}


/*
 * Deletes up to two expired entries from the least recently used end, as
 * every insertion does, so that expired entries do not pile up; with force,
 * the least recently used entry goes whether it has expired or not.
 */

static void
ngx_http_async_primes_cache_expire(ngx_http_async_primes_cache_t *cache,
    ngx_uint_t force)
{
    ngx_uint_t                           n;
    ngx_queue_t                         *q;
    ngx_http_async_primes_cache_node_t  *cn;

    for (n = 0; n < 2 + force; n++) {

        if (ngx_queue_empty(&cache->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&cache->sh->queue);
        cn = ngx_queue_data(q, ngx_http_async_primes_cache_node_t, queue);

        if (!(force && n == 0)
            && (ngx_msec_int_t) (cn->expires - ngx_current_msec) > 0)
        {
            return;
        }

        ngx_http_async_primes_cache_delete(cache, cn);
    }
}
