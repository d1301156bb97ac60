
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"


/*
 * A main() for a fuzz target built without libFuzzer (gcc, no clang): it
 * feeds every file of the directories or files named on the command line
 * to LLVMFuzzerTestOneInput(), once, so that the corpus in the repository
 * is a regression test wherever the unit tests run.  It prints one line per
 * input before running it, so that a crash names its input, and the count
 * last: a count that is missing means the replay died.
 */


static int replay_path(const char *path);
static int replay_dir(const char *path);
static int replay_file(const char *path);
static int by_name(const void *one, const void *two);


static unsigned long  replayed;


int
main(int argc, char **argv)
{
    int  i;

    for (i = 1; i < argc; i++) {
        if (replay_path(argv[i]) != 0) {
            return 1;
        }
    }

    printf("replayed %lu inputs\n", replayed);

    return 0;
}


static int
replay_path(const char *path)
{
    struct stat  st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }

    return S_ISDIR(st.st_mode) ? replay_dir(path) : replay_file(path);
}


/* in name order, so that two runs replay the same sequence */

static int
replay_dir(const char *path)
{
    int              rc;
    DIR             *dir;
    char            *file, **names;
    size_t           i, n, size;
    struct dirent   *de;

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }

    names = NULL;
    n = 0;
    size = 0;

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if (n == size) {
            size = size ? 2 * size : 64;
            names = realloc(names, size * sizeof(char *));
            if (names == NULL) {
                abort();
            }
        }

        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            abort();
        }

        n++;
    }

    closedir(dir);

    if (n) {
        qsort(names, n, sizeof(char *), by_name);
    }

    rc = 0;

    for (i = 0; i < n; i++) {
        file = malloc(strlen(path) + strlen(names[i]) + 2);
        if (file == NULL) {
            abort();
        }

        sprintf(file, "%s/%s", path, names[i]);

        if (rc == 0) {
            rc = replay_file(file);
        }

        free(file);
        free(names[i]);
    }

    free(names);

    return rc;
}


static int
replay_file(const char *path)
{
    long            len;
    FILE           *f;
    unsigned char  *data;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "%s: cannot measure\n", path);
        fclose(f);
        return -1;
    }

    /* exactly its size, as libFuzzer does: an overread is out of bounds */
    data = malloc(len ? (size_t) len : 1);
    if (data == NULL) {
        abort();
    }

    if (len && fread(data, 1, len, f) != (size_t) len) {
        fprintf(stderr, "%s: short read\n", path);
        free(data);
        fclose(f);
        return -1;
    }

    fclose(f);

    printf("input %s\n", path);
    fflush(stdout);

    LLVMFuzzerTestOneInput(data, len);

    free(data);
    replayed++;

    return 0;
}


static int
by_name(const void *one, const void *two)
{
    return strcmp(*(char *const *) one, *(char *const *) two);
}
