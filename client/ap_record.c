
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdint.h>
#include <string.h>

#include "ap_record.h"


/*
 * A reader of just enough JSON: one pass over the text, no allocation,
 * strings decoded into the caller's buffers.  Numbers are read by hand
 * rather than with strtod(), which follows the program's LC_NUMERIC.
 */


#define AP_JSON_MAX_DEPTH  32


typedef struct {
    const char  *p;
    const char  *end;
    int          depth;
} ap_json_t;


static void ap_json_space(ap_json_t *j);
static int ap_json_char(ap_json_t *j, char c);
static int ap_json_literal(ap_json_t *j, const char *word);
static int ap_json_hex4(ap_json_t *j, uint32_t *value);
static void ap_json_put(char *buf, size_t size, size_t *n, const char *s,
    size_t len);
static void ap_json_put_utf8(char *buf, size_t size, size_t *n,
    uint32_t cp);
static int ap_json_string(ap_json_t *j, char *buf, size_t size,
    size_t *len);
static int ap_json_number(ap_json_t *j, double *value);
static int ap_json_skip(ap_json_t *j);
static int ap_digits(const char *s);


static void
ap_json_space(ap_json_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}


/* skips spaces, then takes c if it is next */

static int
ap_json_char(ap_json_t *j, char c)
{
    ap_json_space(j);

    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }

    return 0;
}


static int
ap_json_literal(ap_json_t *j, const char *word)
{
    size_t  len;

    len = strlen(word);

    if ((size_t) (j->end - j->p) < len || memcmp(j->p, word, len) != 0) {
        return -1;
    }

    j->p += len;

    return 0;
}


static int
ap_json_hex4(ap_json_t *j, uint32_t *value)
{
    int   i;
    char  c;

    if (j->end - j->p < 4) {
        return -1;
    }

    *value = 0;

    for (i = 0; i < 4; i++) {
        c = *j->p++;
        *value <<= 4;

        if (c >= '0' && c <= '9') {
            *value |= c - '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            *value |= (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return 0;
}


/* appends what fits, and counts all of it in *n */

static void
ap_json_put(char *buf, size_t size, size_t *n, const char *s, size_t len)
{
    size_t  room;

    if (buf != NULL && size > 0 && *n < size - 1) {
        room = size - 1 - *n;
        memcpy(buf + *n, s, len < room ? len : room);
    }

    *n += len;
}


static void
ap_json_put_utf8(char *buf, size_t size, size_t *n, uint32_t cp)
{
    char    out[4];
    size_t  len;

    if (cp < 0x80) {
        out[0] = (char) cp;
        len = 1;

    } else if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        len = 2;

    } else if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        len = 3;

    } else {
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        len = 4;
    }

    ap_json_put(buf, size, n, out, len);
}


/*
 * Reads a string, the opening quote next, into buf (NUL-terminated,
 * truncated to size - 1 bytes; buf may be NULL to skip it).  *len gets the
 * decoded length, truncated or not.
 */

static int
ap_json_string(ap_json_t *j, char *buf, size_t size, size_t *len)
{
    char        c;
    size_t      n;
    uint32_t    cp, low;
    const char  *start;

    n = 0;

    if (!ap_json_char(j, '"')) {
        return -1;
    }

    for ( ;; ) {
        start = j->p;

        while (j->p < j->end && *j->p != '"' && *j->p != '\\'
               && (unsigned char) *j->p >= 0x20)
        {
            j->p++;
        }

        ap_json_put(buf, size, &n, start, j->p - start);

        if (j->p == j->end || (unsigned char) *j->p < 0x20) {
            return -1;
        }

        if (*j->p++ == '"') {
            break;
        }

        if (j->p == j->end) {
            return -1;
        }

        c = *j->p++;

        switch (c) {
        case '"':
        case '\\':
        case '/':
            ap_json_put(buf, size, &n, &c, 1);
            break;
        case 'b':
            ap_json_put(buf, size, &n, "\b", 1);
            break;
        case 'f':
            ap_json_put(buf, size, &n, "\f", 1);
            break;
        case 'n':
            ap_json_put(buf, size, &n, "\n", 1);
            break;
        case 'r':
            ap_json_put(buf, size, &n, "\r", 1);
            break;
        case 't':
            ap_json_put(buf, size, &n, "\t", 1);
            break;

        case 'u':
            if (ap_json_hex4(j, &cp) != 0) {
                return -1;
            }

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ap_json_literal(j, "\\u") != 0
                    || ap_json_hex4(j, &low) != 0
                    || low < 0xdc00 || low > 0xdfff)
                {
                    return -1;
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }

            ap_json_put_utf8(buf, size, &n, cp);
            break;

        default:
            return -1;
        }
    }

    if (buf != NULL && size > 0) {
        buf[n < size ? n : size - 1] = '\0';
    }

    if (len != NULL) {
        *len = n;
    }

    return 0;
}


static int
ap_json_number(ap_json_t *j, double *value)
{
    int     negative, exp_negative, exponent, fraction_digits;
    double  v, scale;

    ap_json_space(j);

    negative = ap_json_literal(j, "-") == 0;

    if (j->p == j->end || *j->p < '0' || *j->p > '9') {
        return -1;
    }

    v = 0;

    if (*j->p == '0') {
        j->p++;

    } else {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            v = v * 10 + (*j->p++ - '0');
        }
    }

    if (j->p < j->end && *j->p == '.') {
        j->p++;
        fraction_digits = 0;
        scale = 0.1;

        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            v += (*j->p++ - '0') * scale;
            scale /= 10;
            fraction_digits++;
        }

        if (fraction_digits == 0) {
            return -1;
        }
    }

    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        exp_negative = 0;

        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            exp_negative = *j->p++ == '-';
        }

        if (j->p == j->end || *j->p < '0' || *j->p > '9') {
            return -1;
        }

        exponent = 0;

        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            if (exponent < 10000) {
                exponent = exponent * 10 + (*j->p - '0');
            }

            j->p++;
        }

        while (exponent-- > 0 && v != 0) {
            v = exp_negative ? v / 10 : v * 10;

            if (v > 1e308) {
                break;
            }
        }
    }

    *value = negative ? -v : v;

    return 0;
}


static int
ap_json_skip(ap_json_t *j)
{
    double  number;
    char    close;

    ap_json_space(j);

    if (j->p == j->end) {
        return -1;
    }

    switch (*j->p) {

    case '"':
        return ap_json_string(j, NULL, 0, NULL);

    case 't':
        return ap_json_literal(j, "true");

    case 'f':
        return ap_json_literal(j, "false");

    case 'n':
        return ap_json_literal(j, "null");

    case '{':
    case '[':
        if (++j->depth > AP_JSON_MAX_DEPTH) {
            return -1;
        }

        close = *j->p++ == '{' ? '}' : ']';

        if (ap_json_char(j, close)) {
            j->depth--;
            return 0;
        }

        do {
            if (close == '}'
                && (ap_json_string(j, NULL, 0, NULL) != 0
                    || !ap_json_char(j, ':')))
            {
                return -1;
            }

            if (ap_json_skip(j) != 0) {
                return -1;
            }

        } while (ap_json_char(j, ','));

        if (!ap_json_char(j, close)) {
            return -1;
        }

        j->depth--;
        return 0;

    default:
        return ap_json_number(j, &number);
    }
}


static int
ap_digits(const char *s)
{
    if (*s == '\0') {
        return 0;
    }

    while (*s >= '0' && *s <= '9') {
        s++;
    }

    return *s == '\0';
}


int
ap_record_parse(const char *json, size_t len, ap_record_t *record,
    const char **reason)
{
    int         have_id, have_status, have_payload;
    char        name[16], status[16];
    double      progress;
    size_t      n, raw_len;
    ap_json_t   j;

    record->request_id[0] = '\0';
    record->payload[0] = '\0';
    record->error[0] = '\0';
    record->progress = -1;
    record->status = AP_IN_PROGRESS;

    raw_len = len;

    while (raw_len > 0
           && (json[raw_len - 1] == '\n' || json[raw_len - 1] == '\r'))
    {
        raw_len--;
    }

    if (raw_len >= sizeof(record->raw)) {
        raw_len = sizeof(record->raw) - 1;
    }

    memcpy(record->raw, json, raw_len);
    record->raw[raw_len] = '\0';

    have_id = 0;
    have_status = 0;
    have_payload = 0;

    j.p = json;
    j.end = json + len;
    j.depth = 0;

    if (!ap_json_char(&j, '{')) {
        *reason = "the record is not a JSON object";
        return -1;
    }

    if (ap_json_char(&j, '}')) {
        goto done;
    }

    do {
        if (ap_json_string(&j, name, sizeof(name), &n) != 0
            || !ap_json_char(&j, ':'))
        {
            goto malformed;
        }

        if (n >= sizeof(name)) {
            name[0] = '\0';
        }

        if (strcmp(name, "requestId") == 0) {
            if (ap_json_string(&j, record->request_id,
                               sizeof(record->request_id), &n) != 0)
            {
                *reason = "requestId is not a string";
                return -1;
            }

            if (n == 0 || n >= sizeof(record->request_id)) {
                *reason = "requestId is empty or too long";
                return -1;
            }

            have_id = 1;

        } else if (strcmp(name, "status") == 0) {
            if (ap_json_string(&j, status, sizeof(status), &n) != 0) {
                *reason = "status is not a string";
                return -1;
            }

            if (strcmp(status, "IN_PROGRESS") == 0) {
                record->status = AP_IN_PROGRESS;

            } else if (strcmp(status, "FINISHED") == 0) {
                record->status = AP_FINISHED;

            } else if (strcmp(status, "FAILED") == 0) {
                record->status = AP_FAILED;

            } else if (strcmp(status, "CANCELLED") == 0) {
                record->status = AP_CANCELLED;

            } else {
                *reason = "status is not IN_PROGRESS, FINISHED, FAILED or "
                          "CANCELLED";
                return -1;
            }

            have_status = 1;

        } else if (strcmp(name, "payload") == 0) {
            ap_json_space(&j);

            if (ap_json_literal(&j, "null") == 0) {
                record->payload[0] = '\0';
                have_payload = 0;

            } else {
                if (ap_json_string(&j, record->payload,
                                   sizeof(record->payload), &n) != 0
                    || n >= sizeof(record->payload)
                    || !ap_digits(record->payload))
                {
                    *reason = "payload is not null or a string of digits";
                    return -1;
                }

                have_payload = 1;
            }

        } else if (strcmp(name, "progress") == 0) {
            ap_json_space(&j);

            if (ap_json_literal(&j, "null") == 0) {
                record->progress = -1;

            } else {
                if (ap_json_number(&j, &progress) != 0) {
                    *reason = "progress is not a number";
                    return -1;
                }

                /* an estimate: a server's rounding is not an error */
                record->progress = progress < 0 ? 0
                                   : progress > 1 ? 1 : progress;
            }

        } else if (strcmp(name, "error") == 0) {
            ap_json_space(&j);

            if (ap_json_literal(&j, "null") != 0
                && ap_json_string(&j, record->error, sizeof(record->error),
                                  NULL) != 0)
            {
                *reason = "error is not a string";
                return -1;
            }

        } else if (ap_json_skip(&j) != 0) {
            goto malformed;
        }

    } while (ap_json_char(&j, ','));

    if (!ap_json_char(&j, '}')) {
        goto malformed;
    }

done:

    ap_json_space(&j);

    if (j.p != j.end) {
        goto malformed;
    }

    if (!have_id || !have_status) {
        *reason = have_id ? "the record has no status"
                          : "the record has no requestId";
        return -1;
    }

    if (record->status == AP_FINISHED && !have_payload) {
        *reason = "a FINISHED record has no payload";
        return -1;
    }

    if (record->status != AP_FINISHED) {
        record->payload[0] = '\0';
    }

    return 0;

malformed:

    *reason = "the record is malformed JSON";
    return -1;
}


int
ap_error_parse(const char *json, size_t len, char *buf, size_t size)
{
    int        found;
    char       name[8];
    size_t     n;
    ap_json_t  j;

    j.p = json;
    j.end = json + len;
    j.depth = 0;
    found = 0;

    if (!ap_json_char(&j, '{')) {
        return -1;
    }

    if (ap_json_char(&j, '}')) {
        return -1;
    }

    do {
        if (ap_json_string(&j, name, sizeof(name), &n) != 0
            || !ap_json_char(&j, ':'))
        {
            return -1;
        }

        if (n == 5 && strcmp(name, "error") == 0) {
            ap_json_space(&j);

            if (ap_json_string(&j, buf, size, NULL) != 0) {
                return -1;
            }

            found = 1;

        } else if (ap_json_skip(&j) != 0) {
            return -1;
        }

    } while (ap_json_char(&j, ','));

    if (!ap_json_char(&j, '}')) {
        return -1;
    }

    ap_json_space(&j);

    return found && j.p == j.end ? 0 : -1;
}


int
ap_id_valid(const char *id)
{
    size_t  n;
    char    c;

    for (n = 0; id[n] != '\0'; n++) {
        c = id[n];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_'
              || c == '~'))
        {
            return 0;
        }
    }

    /* "." and ".." would change the path */
    return n > 0 && n < AP_ID_SIZE && strcmp(id, ".") != 0
           && strcmp(id, "..") != 0;
}
