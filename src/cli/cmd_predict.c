/* riskd predict: a model alone on a numeric matrix, CSV in, CSV out.
 *
 * The input's header names the columns; a model that stores feature names takes its
 * features by name (other columns are ignored), one without takes the columns in order.
 * An empty field is a missing value. Outputs are printed so they read back exactly:
 * float32 models with %.9g, float64 ones with %.17g. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/csv.h"
#include "riskd/arena.h"
#include "riskd/model.h"

static const char predict_usage[] =
    "usage: riskd predict --model FILE --in X.csv|- --out P.csv|- [--output raw|probability] [--threads N]\n"
    "\n"
    "Predict with a model alone (XGBoost JSON or LightGBM text) on a numeric matrix. The first line of "
    "X.csv\n"
    "names the columns; the model's features are taken by name when it stores names, else in\n"
    "order. An empty field is a missing value. P.csv has one column per output (prediction, or\n"
    "class_0..class_K for multi-class models) in input order.\n"
    "\n"
    "  --output raw|probability   the margin, or the objective's transform (default probability)\n"
    "  --threads N                prediction threads (default: one per core)\n"
    "\n"
    "exit codes: 0 success, 1 invalid model or input, 2 usage error, 4 I/O error\n";

struct matrix {
    double *x;
    size_t rows, cap_rows, cols;
};

static int map_columns(const rd_model *m, const rd_csv *c, size_t *map)
{
    size_t nf = rd_model_num_features(m), ncols = rd_csv_num_columns(c);
    if (!rd_model_feature_name(m, 0)) {
        if (ncols != nf) {
            cli_errorf("the model has %zu unnamed features but the input has %zu columns", nf, ncols);
            return CLI_INVALID_INPUT;
        }
        for (size_t j = 0; j < nf; j++)
            map[j] = j;
        return CLI_OK;
    }
    for (size_t j = 0; j < nf; j++) {
        const char *want = rd_model_feature_name(m, j);
        int col = want ? rd_csv_find(c, want) : -1;
        if (col < 0) {
            cli_errorf("input has no column \"%s\" (feature %zu of the model)", want, j);
            return CLI_INVALID_INPUT;
        }
        map[j] = (size_t)col;
    }
    return CLI_OK;
}

/* Read the whole CSV (rd_csv: quoting, blank lines, ragged rows by line) into mx. */
static int read_matrix(rd_csv *c, const char *name, const rd_model *m, struct matrix *mx)
{
    size_t nf = rd_model_num_features(m);
    size_t *map = calloc(nf ? nf : 1, sizeof(*map));
    if (!map)
        return CLI_IO;
    int rc = map_columns(m, c, map);
    cli_progress bar;
    cli_progress_init(&bar, "riskd predict: reading");
    char **fields;
    rd_err err;
    int got;
    while (rc == CLI_OK && (got = rd_csv_next(c, &fields, &err)) != 0) {
        if (got < 0) {
            cli_errorf("%s:%zu: %s", name, rd_csv_line(c), err.msg);
            rc = got == RD_EIO ? CLI_IO : CLI_INVALID_INPUT;
            break;
        }
        if (mx->rows == mx->cap_rows) {
            size_t cap = mx->cap_rows ? mx->cap_rows * 2 : 1024;
            double *x = realloc(mx->x, cap * (nf ? nf : 1) * sizeof(double));
            if (!x) {
                cli_errorf("out of memory at row %zu", mx->rows);
                rc = CLI_IO;
                break;
            }
            mx->x = x;
            mx->cap_rows = cap;
        }
        double *row = mx->x + mx->rows * nf;
        for (size_t j = 0; j < nf && rc == CLI_OK; j++) {
            const char *s = fields[map[j]];
            char *end;
            if (*s == '\0') {
                row[j] = (double)NAN;
                continue;
            }
            errno = 0;
            row[j] = strtod(s, &end);
            if (*end || end == s || !isfinite(row[j])) {
                cli_errorf("%s:%zu: column \"%s\": \"%s\" is not a finite number", name, rd_csv_line(c),
                           rd_model_feature_name(m, j) ? rd_model_feature_name(m, j) : "?", s);
                rc = CLI_INVALID_INPUT;
            }
        }
        mx->rows++;
        if (mx->rows % 4096 == 0)
            cli_progress_update(&bar, rd_csv_offset(c), rd_csv_size(c), "bytes");
    }
    cli_progress_end(&bar);
    free(map);
    return rc;
}

static int write_predictions(FILE *out, const rd_model *m, rd_output kind, const double *p, size_t rows)
{
    size_t no = rd_model_num_outputs(m, kind);
    bool f32 = rd_model_is_float32(m);
    if (no == 1) {
        fputs("prediction\n", out);
    } else {
        for (size_t k = 0; k < no; k++)
            fprintf(out, "%sclass_%zu", k ? "," : "", k);
        fputc('\n', out);
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t k = 0; k < no; k++) {
            double v = p[r * no + k];
            if (f32)
                fprintf(out, "%s%.9g", k ? "," : "", (double)(float)v);
            else
                fprintf(out, "%s%.17g", k ? "," : "", v);
        }
        fputc('\n', out);
    }
    return ferror(out) ? CLI_IO : CLI_OK;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"model", required_argument, NULL, 'm'},
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"output", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *inp = NULL, *outp = NULL;
    rd_output kind = RD_OUTPUT_PROBABILITY;
    int threads = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(predict_usage, stdout); return CLI_OK;
        case 'm': model = optarg; break;
        case 'i': inp = optarg; break;
        case 'o': outp = optarg; break;
        case 'k':
            if (!strcmp(optarg, "raw"))
                kind = RD_OUTPUT_RAW;
            else if (!strcmp(optarg, "probability"))
                kind = RD_OUTPUT_PROBABILITY;
            else {
                cli_errorf("--output: raw or probability");
                return CLI_USAGE;
            }
            break;
        case 't':
            threads = atoi(optarg);
            if (threads < 1 || threads > 64) {
                cli_errorf("--threads: 1 to 64");
                return CLI_USAGE;
            }
            break;
        default: fputs(predict_usage, stderr); return CLI_USAGE;
        }
    }
    if (!model || !inp || !outp || optind != argc) {
        fputs(predict_usage, stderr);
        return CLI_USAGE;
    }
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(model, &m, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(err.code);
    }
    rd_csv *in;
    struct matrix mx = {.cols = rd_model_num_features(m)};
    double *pred = NULL;
    int rc = CLI_OK;
    if (rd_csv_open(inp, &in, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        rc = cli_exit_for(err.code);
    } else {
        rc = read_matrix(in, strcmp(inp, "-") ? inp : "stdin", m, &mx);
        rd_csv_close(in);
    }
    if (rc == CLI_OK) {
        pred = malloc((mx.rows ? mx.rows : 1) * rd_model_num_outputs(m, kind) * sizeof(double));
        if (!pred || rd_model_predict_batch(m, mx.x, mx.rows, kind, pred, threads, &err) != RD_OK) {
            cli_errorf("predict: %s", pred ? err.msg : "out of memory");
            rc = CLI_IO;
        }
    }
    if (rc == CLI_OK) {
        FILE *out = strcmp(outp, "-") ? fopen(outp, "w") : stdout;
        if (!out) {
            cli_errorf("%s: %s", outp, strerror(errno));
            rc = CLI_IO;
        } else {
            rc = write_predictions(out, m, kind, pred, mx.rows);
            if ((out != stdout ? fclose(out) : fflush(out)) != 0)
                rc = CLI_IO;
        }
    }
    free(pred);
    free(mx.x);
    rd_model_free(m);
    return rc;
}
