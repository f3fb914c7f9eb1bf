/* Progress bars for long CLI work: on a terminal only, throttled, one line redrawn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/err.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const char *what)
{
    *p = (cli_progress){.what = what, .tty = isatty(STDERR_FILENO) == 1, .last = 0};
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total, const char *unit)
{
    if (!p->tty)
        return;
    double t = now();
    if (p->drawn && t - p->last < 0.1 && !(total && done >= total))
        return;
    p->last = t;
    p->drawn = true;
    if (total) {
        int width = 30, fill = (int)((double)done / (double)total * width);
        if (fill > width)
            fill = width;
        fprintf(stderr, "\r%s [%.*s%*s] %3d%%", p->what, fill, "##############################", width - fill,
                "", (int)(100.0 * (double)done / (double)total));
    } else {
        fprintf(stderr, "\r%s %llu %s", p->what, (unsigned long long)done, unit);
    }
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty && p->drawn)
        fputc('\n', stderr);
    p->drawn = false;
}

void cli_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int cli_parse_time(const char *s, int64_t *ms)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*s && !*end && n >= 0) {
        *ms = n;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) {
        memset(&tm, 0, sizeof tm);
        rest = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!rest || (*rest && strcmp(rest, "Z") != 0))
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}
