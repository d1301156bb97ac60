
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncprimes.h"


/*
 * async-primes: the service from a shell, as if it were synchronous.
 * See docs/client.md; the exit codes are the AP_EXIT_* below.
 */


#define AP_EXIT_OK           0
#define AP_EXIT_FAILED       1      /* the job ended FAILED or CANCELLED */
#define AP_EXIT_USAGE        2
#define AP_EXIT_BADINPUT     3
#define AP_EXIT_NOTFOUND     4
#define AP_EXIT_TIMEOUT      5
#define AP_EXIT_UNAVAILABLE  6
#define AP_EXIT_ERROR        7      /* a protocol error, no memory */
#define AP_EXIT_ENDED        8      /* cancel: the job had ended */

#define AP_MAX_URLS          16
#define AP_DEFAULT_URL       "http://127.0.0.1:8080"

/* a job shorter than this shows no progress bar */
#define AP_BAR_DELAY_MS      500
#define AP_BAR_WIDTH         30


typedef struct {
    int          tty;
    int          shown;
    uint64_t     start_ms;
} ap_bar_t;


static void ap_usage(FILE *out);
static int ap_exit_code(ap_code_t code);
static int ap_parse_u64(const char *s, uint64_t *value);
static int ap_parse_seconds(const char *s, unsigned long *ms);
static uint64_t ap_now_ms(void);
static void ap_bar_update(const ap_record_t *record, void *user);
static void ap_bar_clear(ap_bar_t *bar);
static void ap_print_record(const ap_record_t *record);


static const char  *ap_program = "async-primes";


static void
ap_usage(FILE *out)
{
    fprintf(out,
        "usage: async-primes sum A B [options]     print the sum of the "
        "primes in [A, B]\n"
        "       async-primes submit A B [options]  submit the job, print "
        "its id\n"
        "       async-primes status ID [options]   print the job's record\n"
        "       async-primes wait ID [options]     wait for the job, print "
        "its sum\n"
        "       async-primes cancel ID [options]   cancel the job, print "
        "its record\n"
        "\n"
        "options:\n"
        "  --url URL      a host of the service, repeatable (default: "
        "$ASYNC_PRIMES_URL,\n"
        "                 or " AP_DEFAULT_URL "); \"http://host:port\" "
        "means /sumPrime\n"
        "  --timeout S    give up after S seconds (default 60)\n"
        "  --json         print the job's record rather than the sum or "
        "the id\n"
        "  --help, --version\n"
        "\n"
        "exit codes: 0 done, 1 the job failed, 2 usage, 3 bad input, "
        "4 no such job,\n"
        "            5 timeout, 6 the service is unavailable, 7 other "
        "errors,\n"
        "            8 (cancel) the job had ended\n");
}


static int
ap_exit_code(ap_code_t code)
{
    switch (code) {
    case AP_OK:
        return AP_EXIT_OK;
    case AP_EBADINPUT:
        return AP_EXIT_BADINPUT;
    case AP_ETIMEOUT:
        return AP_EXIT_TIMEOUT;
    case AP_EUNAVAILABLE:
        return AP_EXIT_UNAVAILABLE;
    case AP_ENOTFOUND:
        return AP_EXIT_NOTFOUND;
    case AP_EFAILED:
        return AP_EXIT_FAILED;
    case AP_EENDED:
        return AP_EXIT_ENDED;
    default:
        return AP_EXIT_ERROR;
    }
}


/* decimal digits only, 0 to 2^64 - 1 */

static int
ap_parse_u64(const char *s, uint64_t *value)
{
    uint64_t  v;

    if (*s == '\0') {
        return -1;
    }

    for (v = 0; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10) {
            return -1;
        }

        v = v * 10 + (uint64_t) (*s - '0');
    }

    *value = v;

    return 0;
}


/* "30" or "2.5": seconds, up to a day, at least a millisecond */

static int
ap_parse_seconds(const char *s, unsigned long *ms)
{
    unsigned long  whole, fraction, scale;

    whole = 0;
    fraction = 0;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    while (*s >= '0' && *s <= '9') {
        whole = whole * 10 + (*s++ - '0');

        if (whole > 86400) {
            return -1;
        }
    }

    if (*s == '.') {
        s++;

        for (scale = 100; *s >= '0' && *s <= '9'; s++, scale /= 10) {
            fraction += (*s - '0') * scale;
        }
    }

    if (*s != '\0') {
        return -1;
    }

    *ms = whole * 1000 + fraction;

    return *ms > 0 ? 0 : -1;
}


static uint64_t
ap_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


/*
 * A bar on a terminal only: a redirected stderr is for messages that a
 * log keeps, not for carriage returns.
 */

static void
ap_bar_update(const ap_record_t *record, void *user)
{
    int        i, filled;
    double     seconds;
    ap_bar_t  *bar;
    char       cells[AP_BAR_WIDTH + 1];

    bar = user;

    if (!bar->tty) {
        return;
    }

    seconds = (ap_now_ms() - bar->start_ms) / 1000.0;

    if (seconds * 1000 < AP_BAR_DELAY_MS) {
        return;
    }

    if (record->progress >= 0) {
        filled = (int) (record->progress * AP_BAR_WIDTH + 0.5);

        for (i = 0; i < AP_BAR_WIDTH; i++) {
            cells[i] = i < filled ? '#' : '.';
        }

        cells[AP_BAR_WIDTH] = '\0';

        fprintf(stderr, "\r[%s] %3d%%  %.1f s", cells,
                (int) (record->progress * 100 + 0.5), seconds);

    } else {
        fprintf(stderr, "\rcomputing...  %.1f s", seconds);
    }

    fflush(stderr);
    bar->shown = 1;
}


static void
ap_bar_clear(ap_bar_t *bar)
{
    if (bar->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        bar->shown = 0;
    }
}


static void
ap_print_record(const ap_record_t *record)
{
    printf("%s\n", record->raw);
}


int
main(int argc, char **argv)
{
    int                   i, json, nurls, nargs;
    char                 *env, *token, *save, *env_copy;
    uint64_t              a, b;
    ap_bar_t              bar;
    ap_code_t             rc;
    ap_error_t            err;
    const char           *command, *args[2], *urls[AP_MAX_URLS];
    ap_record_t           record;
    ap_client_t          *client;
    unsigned long         timeout_ms;
    ap_client_options_t   opts;

    json = 0;
    nurls = 0;
    nargs = 0;
    timeout_ms = 60000;
    command = NULL;
    env_copy = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ap_usage(stdout);
            return AP_EXIT_OK;
        }

        if (strcmp(argv[i], "--version") == 0) {
            printf("async-primes %s\n", ap_version());
            return AP_EXIT_OK;
        }

        if (strcmp(argv[i], "--json") == 0) {
            json = 1;

        } else if (strcmp(argv[i], "--url") == 0
                   || strcmp(argv[i], "--timeout") == 0)
        {
            if (i + 1 == argc) {
                fprintf(stderr, "%s: %s needs a value\n", ap_program,
                        argv[i]);
                return AP_EXIT_USAGE;
            }

            if (argv[i][2] == 'u') {
                if (nurls == AP_MAX_URLS) {
                    fprintf(stderr, "%s: at most %d URLs\n", ap_program,
                            AP_MAX_URLS);
                    return AP_EXIT_USAGE;
                }

                urls[nurls++] = argv[++i];

            } else if (ap_parse_seconds(argv[++i], &timeout_ms) != 0) {
                fprintf(stderr, "%s: --timeout \"%s\" is not a number of "
                        "seconds (0 < S <= 86400)\n", ap_program, argv[i]);
                return AP_EXIT_USAGE;
            }

        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "%s: unknown option \"%s\"\n", ap_program,
                    argv[i]);
            ap_usage(stderr);
            return AP_EXIT_USAGE;

        } else if (command == NULL) {
            command = argv[i];

        } else if (nargs < 2) {
            args[nargs++] = argv[i];

        } else {
            fprintf(stderr, "%s: too many arguments\n", ap_program);
            ap_usage(stderr);
            return AP_EXIT_USAGE;
        }
    }

    if (command == NULL
        || !((strcmp(command, "sum") == 0 && nargs == 2)
             || (strcmp(command, "submit") == 0 && nargs == 2)
             || (strcmp(command, "status") == 0 && nargs == 1)
             || (strcmp(command, "wait") == 0 && nargs == 1)
             || (strcmp(command, "cancel") == 0 && nargs == 1)))
    {
        ap_usage(stderr);
        return AP_EXIT_USAGE;
    }

    a = 0;
    b = 0;

    if (nargs == 2) {
        for (i = 0; i < 2; i++) {
            if (ap_parse_u64(args[i], i == 0 ? &a : &b) != 0) {
                fprintf(stderr, "%s: %s \"%s\" is not an integer from 0 to "
                        "18446744073709551615\n", ap_program,
                        i == 0 ? "A" : "B", args[i]);
                return AP_EXIT_BADINPUT;
            }
        }
    }

    if (nurls == 0) {
        env = getenv("ASYNC_PRIMES_URL");

        if (env != NULL && *env != '\0') {
            env_copy = strdup(env);

            if (env_copy == NULL) {
                fprintf(stderr, "%s: out of memory\n", ap_program);
                return AP_EXIT_ERROR;
            }

            for (token = strtok_r(env_copy, " ,\t", &save);
                 token != NULL && nurls < AP_MAX_URLS;
                 token = strtok_r(NULL, " ,\t", &save))
            {
                urls[nurls++] = token;
            }
        }

        if (nurls == 0) {
            urls[nurls++] = AP_DEFAULT_URL;
        }
    }

    memset(&opts, 0, sizeof(opts));

    client = ap_client_new(urls, nurls, &opts, &err);

    if (client == NULL) {
        fprintf(stderr, "%s: %s\n", ap_program, err.message);
        free(env_copy);
        return err.code == AP_EINVAL ? AP_EXIT_USAGE : AP_EXIT_ERROR;
    }

    bar.tty = isatty(STDERR_FILENO);
    bar.shown = 0;
    bar.start_ms = ap_now_ms();

    if (strcmp(command, "sum") == 0) {
        rc = ap_sum(client, a, b, timeout_ms, ap_bar_update, &bar, &record,
                    &err);
        ap_bar_clear(&bar);

        if (rc == AP_OK || rc == AP_EFAILED) {
            if (json) {
                ap_print_record(&record);

            } else if (rc == AP_OK) {
                printf("%s\n", record.payload);
            }
        }

    } else if (strcmp(command, "submit") == 0) {
        rc = ap_submit(client, a, b, timeout_ms, &record, &err);

        if (rc == AP_OK) {
            if (json) {
                ap_print_record(&record);

            } else {
                printf("%s\n", record.request_id);
            }
        }

    } else if (strcmp(command, "wait") == 0) {
        rc = ap_wait(client, args[0], timeout_ms, ap_bar_update, &bar,
                     &record, &err);
        ap_bar_clear(&bar);

        if (rc == AP_OK || rc == AP_EFAILED) {
            if (json) {
                ap_print_record(&record);

            } else if (rc == AP_OK) {
                printf("%s\n", record.payload);
            }
        }

    } else if (strcmp(command, "cancel") == 0) {
        rc = ap_cancel(client, args[0], timeout_ms, &record, &err);

        if (rc == AP_OK) {
            ap_print_record(&record);
        }

    } else {
        rc = ap_status(client, args[0], timeout_ms, &record, &err);

        if (rc == AP_OK) {
            ap_print_record(&record);
        }
    }

    if (rc != AP_OK) {
        fprintf(stderr, "%s: %s%s\n", ap_program,
                rc == AP_EFAILED ? "the job failed: " : "", err.message);
    }

    ap_client_free(client);
    free(env_copy);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output: %s\n", ap_program,
                strerror(errno));
        return AP_EXIT_ERROR;
    }

    return ap_exit_code(rc);
}
