/* The reports' shared plumbing (riskd ab | drift | skew | swapset): the store they read, the
 * progress bar, and where the report goes (a terminal table, JSON, an HTML file). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "riskd/analysis.h"
#include "riskd/store.h"

int cli_report_store(const char *dir, rd_store **s)
{
    rd_err err;
    rd_store_opts ro = {.read_only = true, .timeout_ms = CLI_SCAN_TIMEOUT_MS};
    if (rd_store_open(dir, &ro, s, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    return CLI_OK;
}

void cli_report_progress(void *ud, uint64_t done, uint64_t total)
{
    cli_progress_update(ud, done, total, "rows");
}

static int write_file(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        cli_errorf("%s: path too long", path);
        return CLI_IO;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cli_errorf("%s: %s", tmp, strerror(errno));
        return CLI_IO;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        cli_errorf("%s: %s", path, strerror(errno));
        remove(tmp);
        return CLI_IO;
    }
    return CLI_OK;
}

int cli_report_emit(const char *kind, rd_buf *json, rd_buf *text, bool json_out, const char *html)
{
    if (html) {
        rd_buf h;
        rd_buf_init(&h);
        rd_report_html(&h, kind, json->data, json->len);
        int rc = write_file(html, h.data, h.len);
        rd_buf_deinit(&h);
        if (rc)
            return rc;
    }
    rd_buf *out = json_out ? json : text;
    if (fwrite(out->data, 1, out->len, stdout) != out->len || (json_out && fputc('\n', stdout) == EOF) ||
        fflush(stdout) != 0) {
        cli_errorf("writing the report: %s", strerror(errno));
        return CLI_IO;
    }
    return CLI_OK;
}
