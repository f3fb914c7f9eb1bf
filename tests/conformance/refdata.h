/* Helpers the conformance tests share to read the shared reference data: where it is, and
 * its plain CSVs (comma-separated, no quoting, empty = missing). Include after defining
 * MAX_COLS. */
#ifndef RISKD_TESTS_REFDATA_H
#define RISKD_TESTS_REFDATA_H

#include <stdlib.h>
#include <string.h>

/* The shared material: $RISKD_SHARED, or ../shared beside the checkout. */
static const char *shared_dir(void)
{
    const char *s = getenv("RISKD_SHARED");
    return s && *s ? s : "../shared";
}

/* Split a CSV line in place at commas (at most MAX_COLS fields); returns the field count. */
static int split(char *line, char **f)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = '\0';
            break;
        }
        if (*p == ',' && n < MAX_COLS) {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* Index of column want among n names, or -1. */
static inline int col(char **names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], want) == 0)
            return i;
    return -1;
}

#endif
