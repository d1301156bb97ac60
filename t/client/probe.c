
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asyncprimes.h"


/*
 * A driver of libasyncprimes for t/100-client.t, linked with the shared
 * library.  Options make the client; then it reads commands from stdin,
 * one a line, and answers each with one line:
 *
 *   sum A B              OK <payload> | <code> <message>
 *   status ID            OK <record> | <code> <message>
 *   threads N A B        OK <payload> when N threads summing at once agree
 *   stats I              state=<s> failures=<n> requests=<n> opened=<n>
 *
 * Options: --url URL (repeatable), --threshold N, --cooldown MS,
 * --floor MS, --cap MS, --request-timeout MS, --timeout MS (each call).
 */


typedef struct {
    ap_client_t  *client;
    uint64_t      a;
    uint64_t      b;
    ap_code_t     rc;
    ap_record_t   record;
    ap_error_t    err;
} probe_job_t;


static void *probe_thread(void *arg);
static const char *probe_code(ap_code_t rc);


static unsigned long  probe_timeout_ms = 30000;


static const char *
probe_code(ap_code_t rc)
{
    static const char  *names[] = {
        "OK", "EBADINPUT", "ETIMEOUT", "EUNAVAILABLE", "ENOTFOUND",
        "EFAILED", "EPROTOCOL", "ENOMEM", "EINVAL"
    };

    return (size_t) rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "?";
}


static void *
probe_thread(void *arg)
{
    probe_job_t  *job;

    job = arg;
    job->rc = ap_sum(job->client, job->a, job->b, probe_timeout_ms, NULL,
                     NULL, &job->record, &job->err);

    return NULL;
}


int
main(int argc, char **argv)
{
    int                   i, n, nurls, agree;
    char                  line[512], id[128];
    size_t                host;
    uint64_t              a, b;
    ap_code_t             rc;
    pthread_t             threads[16];
    ap_error_t            err;
    const char           *urls[8];
    const char           *states[] = { "closed", "open", "half-open" };
    probe_job_t           jobs[16];
    ap_record_t           record;
    ap_client_t          *client;
    ap_host_stats_t       stats;
    ap_client_options_t   opts;

    memset(&opts, 0, sizeof(opts));
    nurls = 0;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0 && nurls < 8) {
            urls[nurls++] = argv[i + 1];

        } else if (strcmp(argv[i], "--threshold") == 0) {
            opts.breaker_threshold = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "--cooldown") == 0) {
            opts.breaker_cooldown_ms = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "--floor") == 0) {
            opts.backoff_floor_ms = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "--cap") == 0) {
            opts.backoff_cap_ms = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "--request-timeout") == 0) {
            opts.request_timeout_ms = strtoul(argv[i + 1], NULL, 10);

        } else if (strcmp(argv[i], "--timeout") == 0) {
            probe_timeout_ms = strtoul(argv[i + 1], NULL, 10);

        } else {
            fprintf(stderr, "probe: bad option %s\n", argv[i]);
            return 2;
        }
    }

    client = ap_client_new(urls, nurls, &opts, &err);

    if (client == NULL) {
        fprintf(stderr, "probe: %s\n", err.message);
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    while (fgets(line, sizeof(line), stdin) != NULL) {

        if (sscanf(line, "sum %" SCNu64 " %" SCNu64, &a, &b) == 2) {
            rc = ap_sum(client, a, b, probe_timeout_ms, NULL, NULL, &record,
                        &err);
            printf("%s %s\n", probe_code(rc),
                   rc == AP_OK ? record.payload : err.message);

        } else if (sscanf(line, "status %127s", id) == 1) {
            rc = ap_status(client, id, probe_timeout_ms, &record, &err);
            printf("%s %s\n", probe_code(rc),
                   rc == AP_OK ? record.raw : err.message);

        } else if (sscanf(line, "threads %d %" SCNu64 " %" SCNu64,
                          &n, &a, &b) == 3 && n > 0 && n <= 16)
        {
            for (i = 0; i < n; i++) {
                jobs[i].client = client;
                jobs[i].a = a;
                jobs[i].b = b + i % 2;
                pthread_create(&threads[i], NULL, probe_thread, &jobs[i]);
            }

            agree = 1;

            for (i = 0; i < n; i++) {
                pthread_join(threads[i], NULL);
                agree &= jobs[i].rc == AP_OK
                         && strcmp(jobs[i].record.payload,
                                   jobs[i % 2].record.payload) == 0;
            }

            printf("%s %s\n", agree ? "OK" : probe_code(jobs[0].rc),
                   agree ? jobs[0].record.payload : jobs[0].err.message);

        } else if (sscanf(line, "stats %zu", &host) == 1
                   && ap_client_host_stats(client, host, &stats) == AP_OK)
        {
            printf("state=%s failures=%u requests=%" PRIu64 " opened=%"
                   PRIu64 "\n", states[stats.state],
                   stats.consecutive_failures, stats.requests,
                   stats.opened);

        } else {
            printf("EINVAL bad command: %s", line);
        }
    }

    ap_client_free(client);

    return 0;
}
