
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The engine's benchmarks: ngx_async_primes_sum() against primesieve
 * summing primes in the same run.  The results are ratios of two times
 * measured here, each the best of a few runs; the times are printed only
 * to show where a ratio comes from, as the machine may be shared and
 * noisy.  Every sum is checked, against primesieve's or a known value
 * (OEIS A046731); a wrong or missing sum fails the program (exit status
 * 1), a missed target is only reported.
 *
 * Each run is a child process of its own, so its peak memory (ru_maxrss)
 * is its own, and a run over the time limit is killed without stopping the
 * others.  The runs of the things compared alternate, so that a busy
 * neighbour slows both.
 *
 *   bench-engine [--smoke] [--big] [--reps N] [--timeout SECONDS]
 *
 * --smoke   every case scaled down to finish in seconds; targets not judged
 * --big     S(10^15) as well, with its peak memory
 */


/* sched_getaffinity(), CPU_COUNT() */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <primesieve.h>

#include "ngx_async_primes_sum.h"
#include "ngx_async_primes_prefix.h"


#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS  "unknown"
#endif

#define M64          18446744073709551615ULL

/* the largest prime below 2^64: primesieve stops with an error after it */
#define LAST_PRIME   18446744073709551557ULL

#define E6           1000000ULL
#define E7           10000000ULL
#define E8           100000000ULL
#define E9           1000000000ULL
#define E10          10000000000ULL
#define E12          1000000000000ULL
#define E18          1000000000000000000ULL

/* the most numbers primesieve's speedup is measured on */
#define BENCH_REF_SPAN  (4 * E9)


typedef ngx_async_primes_uint128_t  u128;


/* how a job is computed, in a child process */
enum {
    BENCH_OURS = 0,           /* ngx_async_primes_sum(a, b), one thread */
    BENCH_OURS_SPLIT,         /* as the server runs a job on two threads */
    BENCH_PRIMESIEVE,         /* a primesieve_iterator, one thread */
    BENCH_PRIMESIEVE_2        /* two iterators on halves, two threads */
};

/* the verdict of a row */
enum {
    BENCH_PASS = 0,
    BENCH_MISSED,
    BENCH_OVERTIME,           /* ours ran over the time limit: missed */
    BENCH_UNSPLIT,            /* split into one part: no speedup, missed */
    BENCH_INFO,               /* no target */
    BENCH_WRONG               /* a sum wrong or missing */
};

/* how a run ended */
enum {
    BENCH_DONE = 0,
    BENCH_TIMEOUT,            /* killed at the time limit */
    BENCH_FAILED              /* an error or a crash: no sum */
};


typedef struct {
    int                         what;
    uint64_t                    a;
    uint64_t                    b;
} bench_job_t;


/* what a child sends back through its pipe */
typedef struct {
    int                         rc;
    unsigned                    parts;
    double                      seconds;
    u128                        sum;
} bench_report_t;


typedef struct {
    int                         state;
    int                         runs;
    unsigned                    parts;
    double                      best;
    long                        rss_kib;
    u128                        sum;
    char                        error[128];
} bench_result_t;


typedef struct {
    uint64_t                    a;
    uint64_t                    b;
    int                         prime_sieve;
    ngx_async_primes_sum_plan_t  *plan;
    int                         rc;
    u128                        sum;
} bench_thread_t;


/* a case judged by a ratio: ours over a reference */
typedef struct {
    const char                 *name;
    int                         what;
    uint64_t                    a;
    uint64_t                    b;

    /* the expected sum, decimal, or NULL for primesieve's */
    const char                 *expected;

    /* ratio <= max (or speedup >= min in the two-thread table); 0: info */
    double                      target;
} bench_case_t;


static void bench_usage(void);
static void bench_machine(void);
static void bench_windows(const bench_case_t *cases, size_t n);
static void bench_against(const char *title, const bench_case_t *cases,
    size_t n, uint64_t ref_b, const char *ref_name,
    const char *ref_expected);
static void bench_threads(const bench_case_t *cases, size_t n);
static void bench_measure(const bench_job_t *jobs, bench_result_t *results,
    size_t n, int reps);
static void bench_run(const bench_job_t *job, bench_result_t *result);
static void bench_child(const bench_job_t *job, int fd);
static int bench_ours(uint64_t a, uint64_t b, u128 *sum);
static int bench_ours_split(uint64_t a, uint64_t b, u128 *sum,
    unsigned *parts);
static int bench_primesieve(uint64_t a, uint64_t b, u128 *sum);
static int bench_primesieve_2(uint64_t a, uint64_t b, u128 *sum);
static void *bench_thread(void *data);
static int bench_check(const char *name, const bench_result_t *r,
    const u128 *expected, const char *from);
static const char *bench_time(const bench_result_t *r, char *buf);
static const char *bench_rss(const bench_result_t *r, char *buf);
static const char *bench_estimate(uint64_t a, uint64_t b, char *buf);
static int bench_judge(int right, const bench_result_t *r0,
    const bench_result_t *r1, double target, int at_most, char *ratio);
static const char *bench_verdict(int verdict);
static u128 bench_parse(const char *s);
static const char *bench_dec(u128 v, char *buf);
static double bench_now(void);


static int          bench_smoke;
static int          bench_big;
static int          bench_reps = 3;
static unsigned     bench_timeout = 300;
static double       bench_rep_limit = 30.0;
static int          bench_wrong;
static int          bench_missed;


/* S(10^k), the sum of the primes up to 10^k (OEIS A046731) */
static const char  *bench_s10[] = {
    "0", "17", "1060", "76127", "5736396", "454396537", "37550402023",
    "3203324994356", "279209790387276", "24739512092254535",
    "2220822432581729238", "201467077743744681014",
    "18435588552550705911377", "1699246443377779418889494",
    "157589260710736940541561021", "14692398516908006398225702366"
};


/*
 * The cases of the issue; --smoke scales each down (same shape, far fewer
 * numbers) and judges no target.
 */

static const bench_case_t  bench_windows_full[] = {
    { "[10^12, 10^12 + 10^9]", BENCH_OURS, E12, E12 + E9, NULL, 1.5 },
    { "[10^18, 10^18 + 10^8]", BENCH_OURS, E18, E18 + E8, NULL, 1.0 },
    { "[2^64 - 10^8, 2^64 - 1]", BENCH_OURS, M64 - E8 + 1, M64, NULL, 1.0 }
};

static const bench_case_t  bench_windows_smoke[] = {
    { "[10^12, 10^12 + 10^7]", BENCH_OURS, E12, E12 + E7, NULL, 1.5 },
    { "[10^18, 10^18 + 10^6]", BENCH_OURS, E18, E18 + E6, NULL, 1.0 },
    { "[2^64 - 10^6, 2^64 - 1]", BENCH_OURS, M64 - E6 + 1, M64, NULL, 1.0 }
};

static const bench_case_t  bench_prefix_full[] = {
    { "S(10^9)", BENCH_OURS, 1, E9, "24739512092254535", 0 },
    { "S(10^10)", BENCH_OURS, 1, E10, "2220822432581729238", 0 },
    { "S(10^11)", BENCH_OURS, 1, 100 * E9, "201467077743744681014", 0 },
    { "S(10^12)", BENCH_OURS, 1, E12, "18435588552550705911377", 4 },
    { "S(10^13)", BENCH_OURS, 1, 10 * E12,
      "1699246443377779418889494", 2.6 },
    { "S(10^13), two threads", BENCH_OURS_SPLIT, 1, 10 * E12,
      "1699246443377779418889494", 0 },
    { "S(10^15), two threads", BENCH_OURS_SPLIT, 1, 1000 * E12,
      "14692398516908006398225702366", 20 },
    { "[2^64 - 10^6, 2^64 - 1]", BENCH_OURS, M64 - E6 + 1, M64, NULL, 2 }
};

static const bench_case_t  bench_prefix_smoke[] = {
    { "S(10^7)", BENCH_OURS, 1, E7, "3203324994356", 0 },
    { "S(10^8)", BENCH_OURS, 1, E8, "279209790387276", 0 },
    { "S(10^9)", BENCH_OURS, 1, E9, "24739512092254535", 4 },
    { "S(10^10)", BENCH_OURS, 1, E10, "2220822432581729238", 2.6 },
    { "S(10^10), two threads", BENCH_OURS_SPLIT, 1, E10,
      "2220822432581729238", 0 },
    { "S(10^11), two threads", BENCH_OURS_SPLIT, 1, 100 * E9,
      "201467077743744681014", 20 },
    { "[2^64 - 10^4, 2^64 - 1]", BENCH_OURS, M64 - 10000 + 1, M64, NULL, 2 }
};

static const bench_case_t  bench_big_full[] = {
    { "S(10^15)", BENCH_OURS, 1, 1000 * E12,
      "14692398516908006398225702366", 0 }
};

static const bench_case_t  bench_big_smoke[] = {
    { "S(10^11)", BENCH_OURS, 1, 100 * E9, "201467077743744681014", 0 }
};

/*
 * The engine splits a window it sieves when each part's work outweighs
 * finding its sieving primes again, and shares a prefix sum when each
 * thread's share is worth 10 ms: [1, 10^12] and [10^12, 10^12 + 4*10^9]
 * go to the prefix method, shared.  The last case is as wide a window
 * higher up, where sieving is the only way: split.
 */

static const bench_case_t  bench_threads_full[] = {
    { "[1, 10^12]", BENCH_OURS_SPLIT, 1, E12, "18435588552550705911377",
      1.6 },
    { "[10^12, 10^12 + 4*10^9]", BENCH_OURS_SPLIT, E12, E12 + 4 * E9, NULL,
      1.6 },
    { "[10^15, 10^15 + 4*10^9]", BENCH_OURS_SPLIT, 1000 * E12,
      1000 * E12 + 4 * E9, NULL, 1.6 }
};

static const bench_case_t  bench_threads_smoke[] = {
    { "[1, 10^10]", BENCH_OURS_SPLIT, 1, E10, "2220822432581729238", 1.6 },
    { "[10^12, 10^12 + 4*10^7]", BENCH_OURS_SPLIT, E12, E12 + 4 * E7, NULL,
      1.6 },
    { "[10^15, 10^15 + 4*10^8]", BENCH_OURS_SPLIT, 1000 * E12,
      1000 * E12 + 4 * E8, NULL, 1.6 }
};


#define bench_nelts(a)  (sizeof(a) / sizeof((a)[0]))


int
main(int argc, char **argv)
{
    int          i;
    char        *end;
    double       start;
    const char  *arg;

    for (i = 1; i < argc; i++) {
        arg = argv[i];

        if (strcmp(arg, "--smoke") == 0) {
            bench_smoke = 1;

        } else if (strcmp(arg, "--big") == 0) {
            bench_big = 1;

        } else if (strcmp(arg, "--reps") == 0 && i + 1 < argc) {
            bench_reps = (int) strtol(argv[++i], &end, 10);
            if (*end != '\0' || bench_reps < 1 || bench_reps > 100) {
                bench_usage();
            }

        } else if (strcmp(arg, "--timeout") == 0 && i + 1 < argc) {
            bench_timeout = (unsigned) strtoul(argv[++i], &end, 10);
            if (*end != '\0' || bench_timeout < 1) {
                bench_usage();
            }

        } else {
            bench_usage();
        }
    }

    if (bench_smoke) {
        bench_reps = 1;
        if (bench_timeout > 60) {
            bench_timeout = 60;
        }
    }

    /* the iterator is single-threaded; this is for the rest of the API */
    primesieve_set_num_threads(1);

    start = bench_now();

    bench_machine();

    if (bench_smoke) {
        bench_windows(bench_windows_smoke, bench_nelts(bench_windows_smoke));
        bench_against("Prefixes, and a window high up",
                      bench_prefix_smoke, bench_nelts(bench_prefix_smoke),
                      E7, "[1, 10^7]", bench_s10[7]);
        if (bench_big) {
            bench_against("--big", bench_big_smoke,
                          bench_nelts(bench_big_smoke),
                          E7, "[1, 10^7]", bench_s10[7]);
        }
        bench_threads(bench_threads_smoke, bench_nelts(bench_threads_smoke));

    } else {
        bench_windows(bench_windows_full, bench_nelts(bench_windows_full));
        bench_against("Prefixes, and a window high up",
                      bench_prefix_full, bench_nelts(bench_prefix_full),
                      E9, "[1, 10^9]", bench_s10[9]);
        if (bench_big) {
            bench_against("--big", bench_big_full,
                          bench_nelts(bench_big_full),
                          E9, "[1, 10^9]", bench_s10[9]);
        }
        bench_threads(bench_threads_full, bench_nelts(bench_threads_full));
    }

    printf("\n%s in %.0f s: %s; %d target%s missed or timed out%s\n",
           bench_smoke ? "smoke run" : "run", bench_now() - start,
           bench_wrong ? "WRONG SUMS (see above)" : "all sums right",
           bench_missed, bench_missed == 1 ? "" : "s",
           bench_smoke ? " (not judged: --smoke)" : "");

    return bench_wrong ? 1 : 0;
}


static void
bench_usage(void)
{
    fprintf(stderr, "usage: bench-engine [--smoke] [--big] [--reps N] "
                    "[--timeout SECONDS]\n");
    exit(2);
}


static void
bench_machine(void)
{
    int         cpus, i;
    char        line[256], model[256], load[256], *p;
    FILE       *f;
    cpu_set_t   set;

    cpus = (int) sysconf(_SC_NPROCESSORS_ONLN);

    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        cpus = CPU_COUNT(&set);
    }

    strcpy(model, "unknown");

    f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0
                && (p = strchr(line, ':')) != NULL)
            {
                p += 1 + strspn(p + 1, " \t");
                p[strcspn(p, "\n")] = '\0';
                snprintf(model, sizeof(model), "%s", p);
                break;
            }
        }
        fclose(f);
    }

    strcpy(load, "unknown");

    f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(line, sizeof(line), f) != NULL) {
            /* the first three fields: 1, 5 and 15 minutes */
            p = line;
            for (i = 0; i < 3 && p != NULL; i++) {
                p = strchr(p + 1, ' ');
            }
            if (p != NULL) {
                *p = '\0';
            }
            snprintf(load, sizeof(load), "%s", line);
        }
        fclose(f);
    }

    printf("# engine benchmarks%s\n\n", bench_smoke ? " (--smoke)" : "");
    printf("machine: %d CPUs available (nproc), %s; "
           "load average before the run: %s\n", cpus, model, load);
    printf("primesieve %s; built with %s\n", primesieve_version(),
           BENCH_CFLAGS);
    printf("each time is the best of %d run%s, each run a process of its "
           "own, killed after %u s\n", bench_reps, bench_reps == 1 ? "" : "s",
           bench_timeout);
    if (bench_smoke) {
        printf("--smoke: every case scaled down; sums are checked, "
               "targets are not judged\n");
    }
    fflush(stdout);
}


/*
 * Ours against primesieve summing the same window, both in one thread.
 */

static void
bench_windows(const bench_case_t *cases, size_t n)
{
    int              right, verdict;
    char             t1[32], t2[32], r[32], m[32], e[32];
    size_t           i;
    bench_job_t      jobs[2];
    bench_result_t   res[2];

    printf("\n## Windows, one thread: ours / primesieve on the same window\n"
           "\n"
           "| case | ours | primesieve | ratio | target | result "
           "| ours peak | estimate |\n"
           "|------|-----:|-----------:|------:|-------:|--------"
           "|----------:|---------:|\n");
    fflush(stdout);

    for (i = 0; i < n; i++) {
        jobs[0].what = cases[i].what;
        jobs[0].a = cases[i].a;
        jobs[0].b = cases[i].b;
        jobs[1].what = BENCH_PRIMESIEVE;
        jobs[1].a = cases[i].a;
        jobs[1].b = cases[i].b;

        bench_measure(jobs, res, 2, bench_reps);

        right = bench_check(cases[i].name, &res[1], NULL, NULL)
                && bench_check(cases[i].name, &res[0], &res[1].sum,
                               "primesieve");

        verdict = bench_judge(right, &res[0], &res[1], cases[i].target, 1,
                              r);

        printf("| %s | %s | %s | %s | <= %g | %s | %s | %s |\n",
               cases[i].name, bench_time(&res[0], t1),
               bench_time(&res[1], t2), r, cases[i].target,
               bench_verdict(verdict), bench_rss(&res[0], m),
               bench_estimate(cases[i].a, cases[i].b, e));
        fflush(stdout);
    }
}


/*
 * Ours against one fixed reference, primesieve summing [1, ref_b] in one
 * thread (P), measured again with every case in this run: S(x) by the
 * prefix method, and a window high up that no sieve of [1, x] helps with.
 */

static void
bench_against(const char *title, const bench_case_t *cases, size_t n,
    uint64_t ref_b, const char *ref_name, const char *ref_expected)
{
    int              right, verdict;
    char             t1[32], t2[32], r[32], m[32], e[32], tg[32];
    u128             expected;
    size_t           i;
    bench_job_t      jobs[2], same;
    bench_result_t   res[2], check;

    printf("\n## %s: ours / P, P = primesieve summing %s in one thread\n\n"
           "| case | ours | P | ratio | target | result "
           "| ours peak | estimate |\n"
           "|------|-----:|--:|------:|-------:|--------"
           "|----------:|---------:|\n", title, ref_name);
    fflush(stdout);

    jobs[1].what = BENCH_PRIMESIEVE;
    jobs[1].a = 1;
    jobs[1].b = ref_b;

    for (i = 0; i < n; i++) {
        jobs[0].what = cases[i].what;
        jobs[0].a = cases[i].a;
        jobs[0].b = cases[i].b;

        bench_measure(jobs, res, 2, bench_reps);

        expected = bench_parse(ref_expected);
        right = bench_check(ref_name, &res[1], &expected, "OEIS A046731");

        if (cases[i].expected != NULL) {
            expected = bench_parse(cases[i].expected);
            right = bench_check(cases[i].name, &res[0], &expected,
                                "OEIS A046731")
                    && right;

        } else {
            /* primesieve on the same window, not timed */
            same = jobs[0];
            same.what = BENCH_PRIMESIEVE;
            bench_run(&same, &check);

            right = bench_check(cases[i].name, &check, NULL, NULL)
                    && bench_check(cases[i].name, &res[0], &check.sum,
                                   "primesieve")
                    && right;
        }

        verdict = bench_judge(right, &res[0], &res[1], cases[i].target, 1,
                              r);

        if (cases[i].target > 0) {
            snprintf(tg, sizeof(tg), "<= %g", cases[i].target);

        } else {
            strcpy(tg, "info");
        }

        printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n",
               cases[i].name, bench_time(&res[0], t1),
               bench_time(&res[1], t2), r, tg, bench_verdict(verdict),
               bench_rss(&res[0], m),
               bench_estimate(cases[i].a, cases[i].b, e));
        fflush(stdout);
    }
}


/*
 * One job split with ngx_async_primes_sum_split(a, b, 2) and computed in
 * two threads, against the same job unsplit in one thread: the speedup a
 * job gets from a second core.  Beside it, measured in turn with it,
 * primesieve's speedup on the same range (two iterators on its halves in
 * two threads against one): what the machine gives a second thread at the
 * time, as another process may hold a core.  Every sum must be the
 * expected one.
 */

static void
bench_threads(const bench_case_t *cases, size_t n)
{
    int              right, verdict, trimmed;
    char             t1[32], t2[32], r[32], ps[32], m[32], a[48], b[48];
    u128             expected;
    size_t           i, j;
    const char      *from;
    bench_job_t      jobs[4];
    bench_result_t   res[4];

    printf("\n## Two threads on one job: one thread / two threads\n\n"
           "| case | 1 thread | 2 threads | speedup | target | result "
           "| parts | primesieve speedup | peak, 2 threads |\n"
           "|------|---------:|----------:|--------:|-------:|--------"
           "|------:|-------------------:|----------------:|\n");
    fflush(stdout);

    for (i = 0; i < n; i++) {
        jobs[0].what = BENCH_OURS;
        jobs[1].what = BENCH_OURS_SPLIT;
        jobs[2].what = BENCH_PRIMESIEVE;
        jobs[3].what = BENCH_PRIMESIEVE_2;

        for (j = 0; j < 4; j++) {
            jobs[j].a = cases[i].a;
            jobs[j].b = cases[i].b;
        }

        /*
         * primesieve's speedup says what a second thread gives at that
         * time, on at most BENCH_REF_SPAN numbers of the range: [1, 10^12]
         * would take it minutes
         */

        trimmed = cases[i].expected != NULL
                  && cases[i].b - cases[i].a >= BENCH_REF_SPAN;

        if (trimmed) {
            jobs[2].b = cases[i].a + BENCH_REF_SPAN - 1;
            jobs[3].b = jobs[2].b;
        }

        bench_measure(jobs, res, 4, bench_reps);

        right = bench_check(cases[i].name, &res[2], NULL, NULL);

        if (cases[i].expected != NULL) {
            expected = bench_parse(cases[i].expected);
            from = "OEIS A046731";

            if (!trimmed) {
                right = bench_check(cases[i].name, &res[2], &expected, from)
                        && right;
            }

        } else {
            expected = res[2].sum;
            from = "primesieve";
        }

        right = bench_check(cases[i].name, &res[3],
                            trimmed ? &res[2].sum : &expected,
                            trimmed ? "primesieve" : from)
                && right;

        if (res[0].state == BENCH_DONE && res[1].state == BENCH_DONE
            && res[0].sum != res[1].sum)
        {
            fprintf(stderr, "bench-engine: %s: WRONG SUM: two threads %s, "
                    "one thread %s\n", cases[i].name,
                    bench_dec(res[1].sum, a), bench_dec(res[0].sum, b));
            bench_wrong = 1;
            right = 0;
        }

        right = bench_check(cases[i].name, &res[0], &expected, from)
                && bench_check(cases[i].name, &res[1], &expected, from)
                && right;

        /* the speedups: one thread's time over two threads' */
        bench_judge(1, &res[2], &res[3], 0, 0, ps);
        verdict = bench_judge(right, &res[0], &res[1], cases[i].target, 0,
                              r);

        if (verdict == BENCH_MISSED && res[1].parts == 1) {
            verdict = BENCH_UNSPLIT;
        }

        printf("| %s | %s | %s | %s | >= %g | %s | %u | %s | %s |\n",
               cases[i].name, bench_time(&res[0], t1),
               bench_time(&res[1], t2), r, cases[i].target,
               bench_verdict(verdict), res[1].parts, ps,
               bench_rss(&res[1], m));
        fflush(stdout);
    }
}


/*
 * Runs the jobs in turn, reps times, and keeps the best time of each.  A
 * job whose run takes over bench_rep_limit seconds, or fails, is not run
 * again: noise is small next to it, and the others still alternate.
 */

static void
bench_measure(const bench_job_t *jobs, bench_result_t *results, size_t n,
    int reps)
{
    int              rep;
    char             a[40], b[40];
    size_t           i;
    bench_result_t   r, *res;

    for (i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(bench_result_t));
    }

    for (rep = 0; rep < reps; rep++) {
        for (i = 0; i < n; i++) {
            res = &results[i];

            if (rep > 0
                && (res->state != BENCH_DONE || res->best > bench_rep_limit))
            {
                continue;
            }

            bench_run(&jobs[i], &r);

            if (r.rss_kib > res->rss_kib) {
                res->rss_kib = r.rss_kib;
            }

            if (r.state != BENCH_DONE) {
                res->state = r.state;
                memcpy(res->error, r.error, sizeof(r.error));
                continue;
            }

            if (res->runs > 0 && r.sum != res->sum) {
                res->state = BENCH_FAILED;
                snprintf(res->error, sizeof(res->error),
                         "two runs disagree: %s and %s",
                         bench_dec(res->sum, a), bench_dec(r.sum, b));
                continue;
            }

            if (res->runs == 0 || r.best < res->best) {
                res->best = r.best;
            }

            res->sum = r.sum;
            res->parts = r.parts;
            res->runs++;
        }
    }
}


static void
bench_run(const bench_job_t *job, bench_result_t *result)
{
    int              fds[2], status;
    pid_t            pid;
    ssize_t          got;
    struct rusage    ru;
    bench_report_t   report;

    memset(result, 0, sizeof(bench_result_t));
    result->state = BENCH_FAILED;

    fflush(stdout);
    fflush(stderr);

    if (pipe(fds) == -1) {
        perror("bench-engine: pipe");
        exit(1);
    }

    pid = fork();

    if (pid == -1) {
        perror("bench-engine: fork");
        exit(1);
    }

    if (pid == 0) {
        close(fds[0]);
        bench_child(job, fds[1]);
        _exit(0);
    }

    close(fds[1]);

    do {
        got = read(fds[0], &report, sizeof(report));
    } while (got == -1 && errno == EINTR);

    close(fds[0]);

    while (wait4(pid, &status, 0, &ru) == -1) {
        if (errno != EINTR) {
            perror("bench-engine: wait4");
            exit(1);
        }
    }

    result->rss_kib = ru.ru_maxrss;

    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        result->state = BENCH_TIMEOUT;
        snprintf(result->error, sizeof(result->error),
                 "over the limit of %u s", bench_timeout);
        return;
    }

    if (got != (ssize_t) sizeof(report)) {
        if (WIFSIGNALED(status)) {
            snprintf(result->error, sizeof(result->error),
                     "killed by signal %d", WTERMSIG(status));

        } else {
            snprintf(result->error, sizeof(result->error),
                     "exited with status %d without a result",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }

        return;
    }

    if (report.rc != NGX_ASYNC_PRIMES_SUM_OK) {
        snprintf(result->error, sizeof(result->error),
                 "returned %d", report.rc);
        return;
    }

    result->state = BENCH_DONE;
    result->best = report.seconds;
    result->sum = report.sum;
    result->parts = report.parts;
    result->runs = 1;
}


static void
bench_child(const bench_job_t *job, int fd)
{
    double           start;
    bench_report_t   report;

    memset(&report, 0, sizeof(report));
    report.parts = 1;

    /* SIGALRM's default action ends the process: the parent sees it */
    alarm(bench_timeout);

    start = bench_now();

    switch (job->what) {

    case BENCH_OURS:
        report.rc = bench_ours(job->a, job->b, &report.sum);
        break;

    case BENCH_OURS_SPLIT:
        report.rc = bench_ours_split(job->a, job->b, &report.sum,
                                     &report.parts);
        break;

    case BENCH_PRIMESIEVE:
        report.rc = bench_primesieve(job->a, job->b, &report.sum);
        break;

    default: /* BENCH_PRIMESIEVE_2 */
        report.rc = bench_primesieve_2(job->a, job->b, &report.sum);
        report.parts = 2;
        break;
    }

    report.seconds = bench_now() - start;

    if (write(fd, &report, sizeof(report)) != (ssize_t) sizeof(report)) {
        _exit(1);
    }
}


static int
bench_ours(uint64_t a, uint64_t b, u128 *sum)
{
    ngx_async_primes_sum_ctx_t  ctx;

    memset(&ctx, 0, sizeof(ctx));

    return ngx_async_primes_sum(a, b, sum, &ctx);
}


static int
bench_ours_split(uint64_t a, uint64_t b, u128 *sum, unsigned *parts)
{
    int              rc;
    unsigned         i, n;
    uint64_t                      lo[2], hi[2];
    pthread_t                     tid[2];
    bench_thread_t                t[2];
    ngx_async_primes_sum_plan_t  *plan;

    n = ngx_async_primes_sum_split(a, b, 2, lo, hi);

    if (n < 1 || n > 2) {
        return -100;
    }

    plan = NULL;

    /* not split: the threads may share S(b) - S(a - 1) */

    if (n == 1 && ngx_async_primes_sum_shared(a, b, 2) == 2) {
        plan = ngx_async_primes_sum_plan(a, b, 2);
        if (plan == NULL) {
            return NGX_ASYNC_PRIMES_SUM_NOMEM;
        }

        n = 2;
        lo[1] = lo[0];
        hi[1] = hi[0];
    }

    *parts = n;

    for (i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof(bench_thread_t));
        t[i].a = lo[i];
        t[i].b = hi[i];
        t[i].plan = plan;
    }

    if (n == 1) {
        bench_thread(&t[0]);

    } else {
        if (pthread_create(&tid[0], NULL, bench_thread, &t[0]) != 0) {
            return -101;
        }

        /* the second part runs in this thread: two threads in all */
        bench_thread(&t[1]);
        pthread_join(tid[0], NULL);
    }

    *sum = 0;
    rc = NGX_ASYNC_PRIMES_SUM_OK;

    for (i = 0; i < n; i++) {
        if (t[i].rc != NGX_ASYNC_PRIMES_SUM_OK) {
            rc = t[i].rc;
        }
        *sum += t[i].sum;
    }

    ngx_async_primes_sum_plan_free(plan);

    return rc;
}


static void *
bench_thread(void *data)
{
    bench_thread_t  *t = data;

    if (t->prime_sieve) {
        t->rc = bench_primesieve(t->a, t->b, &t->sum);

    } else if (t->plan != NULL) {
        t->rc = ngx_async_primes_sum_share(t->plan, &t->sum, NULL);

    } else {
        t->rc = bench_ours(t->a, t->b, &t->sum);
    }

    return NULL;
}


/*
 * The reference: the primes of [a, b] from a primesieve_iterator, summed in
 * 128 bits, a batch at a time (primesieve's fastest way to visit primes).
 */

static int
bench_primesieve(uint64_t a, uint64_t b, u128 *sum)
{
    u128                  total;
    size_t                i;
    uint64_t              last;
    primesieve_iterator   it;

    total = 0;

    if (a > b) {
        *sum = 0;
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    primesieve_init(&it);
    primesieve_jump_to(&it, a, b);

    for ( ;; ) {
        primesieve_generate_next_primes(&it);

        if (it.is_error) {
            primesieve_free_iterator(&it);
            return -200;
        }

        last = it.primes[it.size - 1];

        if (last > b) {
            for (i = 0; i < it.size && it.primes[i] <= b; i++) {
                total += it.primes[i];
            }
            break;
        }

        for (i = 0; i < it.size; i++) {
            total += it.primes[i];
        }

        if (last == b || last == LAST_PRIME) {
            break;
        }
    }

    primesieve_free_iterator(&it);

    *sum = total;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static int
bench_primesieve_2(uint64_t a, uint64_t b, u128 *sum)
{
    pthread_t        tid;
    bench_thread_t   t[2];

    memset(t, 0, sizeof(t));

    t[0].a = a;
    t[0].b = a + (b - a) / 2;
    t[0].prime_sieve = 1;
    t[1].a = t[0].b + 1;
    t[1].b = b;
    t[1].prime_sieve = 1;

    if (pthread_create(&tid, NULL, bench_thread, &t[0]) != 0) {
        return -201;
    }

    bench_thread(&t[1]);
    pthread_join(tid, NULL);

    if (t[0].rc != NGX_ASYNC_PRIMES_SUM_OK) {
        return t[0].rc;
    }

    *sum = t[0].sum + t[1].sum;

    return t[1].rc;
}


/*
 * Returns 1 if r holds the expected sum (or, without one, any sum), and
 * otherwise says so loudly and marks the program failed.
 */

static int
bench_check(const char *name, const bench_result_t *r, const u128 *expected,
    const char *from)
{
    char  a[48], b[48];

    if (r->state == BENCH_TIMEOUT) {
        fprintf(stderr, "bench-engine: %s: TIMEOUT, %s\n", name, r->error);
        return 1;
    }

    if (r->state != BENCH_DONE) {
        fprintf(stderr, "bench-engine: %s: NO SUM: %s\n", name, r->error);
        bench_wrong = 1;
        return 0;
    }

    if (expected != NULL && r->sum != *expected) {
        fprintf(stderr, "bench-engine: %s: WRONG SUM: %s, expected %s (%s)\n",
                name, bench_dec(r->sum, a), bench_dec(*expected, b), from);
        bench_wrong = 1;
        return 0;
    }

    return 1;
}


static const char *
bench_time(const bench_result_t *r, char *buf)
{
    if (r->state == BENCH_TIMEOUT) {
        sprintf(buf, "> %u s", bench_timeout);

    } else if (r->state != BENCH_DONE) {
        strcpy(buf, "failed");

    } else if (r->best < 0.1) {
        sprintf(buf, "%.2f ms", r->best * 1000);

    } else {
        sprintf(buf, "%.3f s", r->best);
    }

    return buf;
}


static const char *
bench_rss(const bench_result_t *r, char *buf)
{
    sprintf(buf, "%.1f MiB", r->rss_kib / 1024.0);

    return buf;
}


/* the engine's own estimate of its time, on the reference machine */

static const char *
bench_estimate(uint64_t a, uint64_t b, char *buf)
{
    double  s;

    s = ngx_async_primes_sum_cost(a, b) / 1e6;

    if (s < 0.1) {
        sprintf(buf, "%.2f ms", s * 1000);

    } else {
        sprintf(buf, "%.3f s", s);
    }

    return buf;
}


/*
 * The verdict of a row: r0's time over r1's against the target, at most
 * (windows, P) or at least (speedups); ratio gets the ratio printed.
 */

static int
bench_judge(int right, const bench_result_t *r0, const bench_result_t *r1,
    double target, int at_most, char *ratio)
{
    double  v;

    strcpy(ratio, "-");

    if (!right) {
        return BENCH_WRONG;
    }

    if (r0->state != BENCH_DONE || r1->state != BENCH_DONE) {
        return BENCH_OVERTIME;
    }

    v = r0->best / r1->best;
    sprintf(ratio, v < 0.1 ? "%.4f" : "%.2f", v);

    if (target <= 0) {
        return BENCH_INFO;
    }

    if (at_most ? (v <= target) : (v >= target)) {
        return BENCH_PASS;
    }

    return BENCH_MISSED;
}


static const char *
bench_verdict(int verdict)
{
    switch (verdict) {

    case BENCH_WRONG:
        return "**WRONG**";

    case BENCH_INFO:
        return "-";

    case BENCH_OVERTIME:
        bench_missed++;
        return "timeout";

    case BENCH_UNSPLIT:
        if (bench_smoke) {
            return "(smoke) not split";
        }
        bench_missed++;
        return "missed: not split";

    default:
        break;
    }

    if (bench_smoke) {
        return "(smoke)";
    }

    if (verdict == BENCH_MISSED) {
        bench_missed++;
        return "missed";
    }

    return "pass";
}


static u128
bench_parse(const char *s)
{
    u128  v;

    for (v = 0; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (unsigned) (*s - '0');
    }

    return v;
}


static const char *
bench_dec(u128 v, char *buf)
{
    size_t  len;

    len = ngx_async_primes_uint128_to_decimal(v, buf);
    buf[len] = '\0';

    return buf;
}


static double
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}
