
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ngx_async_primes_id.h"
#include "tap.h"


#define N  10000

#define VALID  "123e4567-e89b-42d3-a456-426614174000"


static int well_formed(const unsigned char *id);
static int compare(const void *a, const void *b);
static void check(const char *id, size_t len, int expected, const char *what);
static void test_generate(void);
static void test_fork(void);
static void test_valid(void);


int
main(void)
{
    test_generate();
    test_fork();
    test_valid();

    return tap_done();
}


/* the format spelled out again, independently of the module */

static int
well_formed(const unsigned char *id)
{
    size_t  i;

    for (i = 0; i < NGX_ASYNC_PRIMES_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (id[i] != '-') {
                return 0;
            }

        } else if (strchr("0123456789abcdef", id[i]) == NULL
                   || id[i] == '\0')
        {
            return 0;
        }
    }

    return id[14] == '4' && strchr("89ab", id[19]) != NULL && id[19] != 0;
}


static int
compare(const void *a, const void *b)
{
    return memcmp(a, b, NGX_ASYNC_PRIMES_ID_LEN);
}


static void
test_generate(void)
{
    int             bad, rc;
    size_t          i, j, dups, differ;
    unsigned char  *ids, buf[NGX_ASYNC_PRIMES_ID_LEN + 1];
    unsigned char   seen[256];

    memset(buf, 0xa5, sizeof(buf));

    rc = ngx_async_primes_id_generate(buf);

    tap_ok(rc == 0 && buf[NGX_ASYNC_PRIMES_ID_LEN] == 0xa5,
           "generate writes 36 bytes: %.36s", buf);

    ids = malloc(N * NGX_ASYNC_PRIMES_ID_LEN);
    if (ids == NULL) {
        abort();
    }

    bad = 0;
    memset(seen, 0, sizeof(seen));

    for (i = 0; i < N; i++) {
        rc = ngx_async_primes_id_generate(ids + i * NGX_ASYNC_PRIMES_ID_LEN);

        if ((rc != 0
             || !well_formed(ids + i * NGX_ASYNC_PRIMES_ID_LEN)
             || !ngx_async_primes_id_valid(ids + i * NGX_ASYNC_PRIMES_ID_LEN,
                                           NGX_ASYNC_PRIMES_ID_LEN))
            && bad++ == 0)
        {
            tap_diag("rc %d, id %.36s", rc,
                     ids + i * NGX_ASYNC_PRIMES_ID_LEN);
        }

        seen[ids[i * NGX_ASYNC_PRIMES_ID_LEN + 19]] = 1;
    }

    tap_ok(bad == 0, "%d generated ids are well formed and valid", N);

    tap_ok(seen['8'] && seen['9'] && seen['a'] && seen['b'],
           "the variant nibble takes all of 8, 9, a, b");

    /* every random position varies */

    differ = 0;

    for (j = 0; j < NGX_ASYNC_PRIMES_ID_LEN; j++) {
        for (i = 1; i < N; i++) {
            if (ids[i * NGX_ASYNC_PRIMES_ID_LEN + j] != ids[j]) {
                differ++;
                break;
            }
        }
    }

    /* 36 positions less 4 hyphens and the version */
    tap_ok(differ == 31, "31 positions vary");

    qsort(ids, N, NGX_ASYNC_PRIMES_ID_LEN, compare);

    dups = 0;

    for (i = 1; i < N; i++) {
        if (compare(ids + (i - 1) * NGX_ASYNC_PRIMES_ID_LEN,
                    ids + i * NGX_ASYNC_PRIMES_ID_LEN) == 0)
        {
            dups++;
        }
    }

    tap_ok(dups == 0, "no duplicates among %d ids", N);

    free(ids);
}


/*
 * NGINX forks its workers: a worker must not hand out the ids its master,
 * or another worker, drew before the fork.
 */

static void
test_fork(void)
{
    int            fds[2], status;
    pid_t          pid;
    ssize_t        n;
    unsigned char  parent[NGX_ASYNC_PRIMES_ID_LEN];
    unsigned char  child[NGX_ASYNC_PRIMES_ID_LEN];

    /* random bytes are drawn before the fork, and some are left */
    if (ngx_async_primes_id_generate(parent) != 0 || pipe(fds) != 0) {
        abort();
    }

    pid = fork();
    if (pid < 0) {
        abort();
    }

    if (pid == 0) {
        close(fds[0]);

        if (ngx_async_primes_id_generate(child) != 0) {
            _exit(1);
        }

        n = write(fds[1], child, sizeof(child));
        _exit(n == (ssize_t) sizeof(child) ? 0 : 1);
    }

    close(fds[1]);

    n = read(fds[0], child, sizeof(child));
    close(fds[0]);

    if (waitpid(pid, &status, 0) != pid) {
        abort();
    }

    if (ngx_async_primes_id_generate(parent) != 0) {
        abort();
    }

    tap_ok(n == (ssize_t) sizeof(child) && WIFEXITED(status)
           && WEXITSTATUS(status) == 0
           && memcmp(parent, child, NGX_ASYNC_PRIMES_ID_LEN) != 0,
           "after fork(), the child's next id is not the parent's: "
           "%.36s, %.36s", parent, child);
}


static void
check(const char *id, size_t len, int expected, const char *what)
{
    unsigned char  *copy;

    /* exactly sized, so that a sanitizer sees overreads */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, id, len);

    tap_ok(ngx_async_primes_id_valid(copy, len) == expected, "%s %s",
           expected ? "accepts" : "rejects", what);

    free(copy);
}


static void
test_valid(void)
{
    char    id[NGX_ASYNC_PRIMES_ID_LEN + 2];
    size_t  i;

    check(VALID, 36, 1, VALID);
    check("00000000-0000-4000-8000-000000000000", 36, 1, "all zeros");
    check("ffffffff-ffff-4fff-bfff-ffffffffffff", 36, 1, "all f");

    check("123E4567-E89B-42D3-A456-426614174000", 36, 0, "uppercase");
    check("123e4567-e89b-42d3-A456-426614174000", 36, 0, "one uppercase");
    check("123e4567-e89b-12d3-a456-426614174000", 36, 0, "version 1");
    check("123e4567-e89b-32d3-a456-426614174000", 36, 0, "version 3");
    check("123e4567-e89b-52d3-a456-426614174000", 36, 0, "version 5");
    check("123e4567-e89b-f2d3-a456-426614174000", 36, 0, "version f");
    check("123e4567-e89b-42d3-0456-426614174000", 36, 0, "variant 0");
    check("123e4567-e89b-42d3-7456-426614174000", 36, 0, "variant 7");
    check("123e4567-e89b-42d3-c456-426614174000", 36, 0, "variant c");
    check("123e4567-e89b-42d3-f456-426614174000", 36, 0, "variant f");
    check(VALID, 35, 0, "35 characters");
    check(VALID "0", 37, 0, "37 characters");
    check("", 0, 0, "an empty id");
    check("123e4567e89b42d3a456426614174000", 32, 0, "no hyphens");
    check("123e456-7e89b-42d3-a456-426614174000", 36, 0,
          "a hyphen out of place");
    check("123e4567-e89b-42d3-a456-42661417400g", 36, 0, "a g");
    check("123e4567_e89b-42d3-a456-426614174000", 36, 0, "an underscore");
    check("{23e4567-e89b-42d3-a456-42661417400}", 36, 0, "braces");
    check("123e4567-e89b-42d3-a456-4266141740\0" "0", 36, 0, "a NUL");
    check("123e4567-e89b-42d3-a456-42661417400 ", 36, 0, "a space");
    check("../../../../../../../../../../../../", 36, 0, "a path");

    /* every single-character change of a valid id but its own */

    for (i = 0; i < NGX_ASYNC_PRIMES_ID_LEN; i++) {
        memcpy(id, VALID, NGX_ASYNC_PRIMES_ID_LEN);
        id[i] = 'G';

        if (ngx_async_primes_id_valid((unsigned char *) id,
                                      NGX_ASYNC_PRIMES_ID_LEN))
        {
            break;
        }
    }

    tap_ok(i == NGX_ASYNC_PRIMES_ID_LEN, "a G anywhere is rejected");
}
