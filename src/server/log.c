/* Structured logs: one JSON object per line on stderr, written with one write(2) so lines
 * from different threads never interleave. The level is checked before anything is
 * formatted. Callers never pass request bodies or secrets. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "riskd/json.h"
#include "server.h"

static srv_log_level min_level = SRV_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void srv_log_init(srv_log_level min) { min_level = min; }

bool srv_log_enabled(srv_log_level level) { return level >= min_level; }

void srv_log(srv_log_level level, const char *msg, ...)
{
    if (!srv_log_enabled(level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    rd_buf b;
    rd_buf_init(&b);
    rd_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", when, level_names[level]);
    rd_json_write_string(&b, msg, strlen(msg));
    va_list ap;
    va_start(ap, msg);
    for (const char *key; (key = va_arg(ap, const char *));) {
        const char *val = va_arg(ap, const char *);
        bool raw = key[0] == '#';
        rd_buf_putc(&b, ',');
        rd_json_write_string(&b, key + raw, strlen(key + raw));
        rd_buf_putc(&b, ':');
        if (!val)
            rd_buf_puts(&b, "null");
        else if (raw)
            rd_buf_puts(&b, val);
        else
            rd_json_write_string(&b, val, strlen(val));
    }
    va_end(ap);
    rd_buf_puts(&b, "}\n");
    if (!b.oom) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w; /* nowhere to report a failed log write */
    }
    rd_buf_deinit(&b);
}
