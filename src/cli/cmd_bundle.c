/* riskd bundle build | verify | inspect | seal | sign | keygen. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/json.h"

static const char bundle_usage[] =
    "usage: riskd bundle <build|verify|inspect|sign|keygen|seal> ...\n"
    "\n"
    "  build    make a bundle from a model, a pipeline spec and a data set (riskd bundle build --help)\n"
    "  verify   check the manifest's digest, every checksum, re-predict the embedded sample rows\n"
    "           and, with --pubkey, the signature\n"
    "  inspect  show what a bundle holds, its digest first\n"
    "  sign     sign a bundle's digest with an Ed25519 key (signature.ed25519 in the bundle)\n"
    "  keygen   make an Ed25519 key pair for sign and verify --pubkey\n"
    "  seal     write the manifest's digest again after a deliberate edit, or into a bundle\n"
    "           built before manifests carried one\n"
    "\n"
    "exit codes: 0 success, 1 invalid or corrupt bundle or input, 2 usage error, 4 I/O error,\n"
    "            6 the signature is missing, malformed or not made by a trusted key\n";

static const char build_usage[] =
    "usage: riskd bundle build [--name NAME] --model FILE --data DATA.csv [--pipeline SPEC.json]\n"
    "                          [--label COL [--positive VALUE]] [--risk-bands BANDS.json]\n"
    "                          [--samples N] [--reasons K] [--out DIR] [--created-by WHO]\n"
    "                          [--fallback RULES.json] [--deadline-ms N] [--test-data HOLDOUT.csv]\n"
    "                          [--output-kind probability|score|margin]\n"
    "\n"
    "Make the bundle directory NAME (or DIR): the model, its pipeline, the training reference\n"
    "(score deciles and per-input distributions of DATA.csv) and manifest.json with the\n"
    "SHA-256 of every file, the training metrics, the risk bands, N sample rows with their\n"
    "expected outputs and the manifest's own digest. The bundle is loaded and verified before\n"
    "the command succeeds.\n"
    "It refuses (exit 1, saying what to do) a pipeline input or label that is not a column of\n"
    "the data, a --positive value the label never takes, a label with one class, an output kind\n"
    "the model's objective does not give, bands with a gap, an overlap or a cut outside the\n"
    "score's range; it warns (stderr and the manifest's checks.warnings) of an AUC below 0.5\n"
    "and of an input missing in more than half the rows (docs/mistakes.md).\n"
    "\n"
    "  --name NAME         {product}_{model_type}_v{major}.{minor}, e.g. credit_xgb_v1.0 (versions\n"
    "                      plain integers); default: the base name of --out\n"
    "  --out DIR           the bundle directory; its base name must be NAME (default: NAME)\n"
    "  --model FILE        XGBoost JSON, LightGBM text, a WOE scorecard or a logistic regression\n"
    "  --pipeline SPEC     the feature spec (required except for a scorecard: derived from its bins)\n"
    "  --data DATA.csv     raw applications, one per row, with a header (the training sample)\n"
    "  --label COL         the outcome column: AUC and KS are computed against it\n"
    "  --positive VALUE    the label value of the positive (bad) class (default 1)\n"
    "  --test-data FILE    a holdout CSV (same columns): AUC, KS and positive rate on it too,\n"
    "                      recorded as test.metrics beside training.metrics (needs --label)\n"
    "  --output-kind KIND  what the score is: probability (default; the objective must give one:\n"
    "                      binary:logistic, LightGBM binary), score (scorecard points, the default\n"
    "                      for a scorecard, or a regression or ranking model's output) or margin\n"
    "                      (the raw margin, e.g. binary:logitraw); the bands are over it\n"
    "  --risk-bands FILE   a JSON array of {level, min, max, decision} covering every score\n"
    "                      (default: the safest 50% low/approve, next 30% medium/review, riskiest\n"
    "                      20% high/reject, from the scores of DATA.csv)\n"
    "  --samples N         sample rows embedded for verify (default 20)\n"
    "  --reasons K         reason codes per decision, up to 16 (default 4)\n"
    "  --fallback FILE     fallback rules packed as fallback.json (checksummed): what answers when\n"
    "                      the model cannot (docs/formats.md, \"Fallback rules\")\n"
    "  --deadline-ms N     the model's deadline when served (serving.deadline_ms; default: the\n"
    "                      service's deadline_ms)\n";

static const char verify_usage[] =
    "usage: riskd bundle verify DIR [--pubkey KEY.pub]\n"
    "\n"
    "Check the manifest's digest (a hand edit of manifest.json is found) and the SHA-256 of\n"
    "every file it lists, load the model, the pipeline and the fallback rules (compiled), and\n"
    "re-predict the sample rows the manifest embeds (score and reason codes).\n"
    "\n"
    "  --pubkey KEY.pub    also check DIR/signature.ed25519: made by one of the keys in KEY.pub\n"
    "                      (base64, one a line) over the bundle's digest; exit 6 when it is\n"
    "                      missing, malformed or made by another key\n";

static const char sign_usage[] =
    "usage: riskd bundle sign DIR --key KEY\n"
    "\n"
    "Verify the bundle, then sign its digest with the Ed25519 secret key in KEY (riskd bundle\n"
    "keygen) and write the signature, base64, to DIR/signature.ed25519 (replacing any).\n";

static const char keygen_usage[] =
    "usage: riskd bundle keygen --out PREFIX\n"
    "\n"
    "Make an Ed25519 key pair: PREFIX.key, the secret key (mode 0600; it signs), and\n"
    "PREFIX.pub, the public key (verify --pubkey, serve's bundle_pubkey). Each holds the base64\n"
    "of the raw 32 bytes. Existing files are never overwritten.\n";

static const char seal_usage[] =
    "usage: riskd bundle seal DIR\n"
    "\n"
    "Write the digest of DIR/manifest.json into it: after a deliberate edit of the manifest, or\n"
    "for a bundle built before manifests carried their digest. Then the bundle is verified as\n"
    "by riskd bundle verify. Sealing vouches for nothing: check the manifest first, and sign\n"
    "the bundle again if it was signed (its digest changed).\n";

static const char inspect_usage[] =
    "usage: riskd bundle inspect DIR [--json]\n"
    "\n"
    "Show a bundle's name, digest, model, features, training metrics, risk bands and files\n"
    "(--json: the manifest itself). The bundle is verified as it loads.\n";

static void build_progress(void *ud, uint64_t done, uint64_t total)
{
    cli_progress_update(ud, done, total, "bytes");
}

/* Warnings, printed once the progress bar has ended its line. */
typedef struct build_warnings {
    char msg[16][256];
    size_t n, dropped;
} build_warnings;

static void build_warn(void *ud, const char *msg)
{
    build_warnings *w = ud;
    if (w->n < sizeof(w->msg) / sizeof(w->msg[0]))
        snprintf(w->msg[w->n++], sizeof(w->msg[0]), "%s", msg);
    else
        w->dropped++;
}

static int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"name", required_argument, NULL, 'n'},
        {"model", required_argument, NULL, 'm'},
        {"pipeline", required_argument, NULL, 'p'},
        {"data", required_argument, NULL, 'd'},
        {"label", required_argument, NULL, 'l'},
        {"positive", required_argument, NULL, 'P'},
        {"risk-bands", required_argument, NULL, 'b'},
        {"samples", required_argument, NULL, 's'},
        {"reasons", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"created-by", required_argument, NULL, 'c'},
        {"fallback", required_argument, NULL, 'f'},
        {"deadline-ms", required_argument, NULL, 'D'},
        {"test-data", required_argument, NULL, 't'},
        {"output-kind", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    rd_bundle_build_opts o = {0};
    const char *bands_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(build_usage, stdout); return CLI_OK;
        case 'n': o.name = optarg; break;
        case 'm': o.model_path = optarg; break;
        case 'p': o.pipeline_path = optarg; break;
        case 'd': o.data_path = optarg; break;
        case 'l': o.label = optarg; break;
        case 'P': o.positive = optarg; break;
        case 'b': bands_path = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'c': o.created_by = optarg; break;
        case 'f': o.fallback_path = optarg; break;
        case 't': o.test_data_path = optarg; break;
        case 'k':
            if (strcmp(optarg, "probability") != 0 && strcmp(optarg, "score") != 0 &&
                strcmp(optarg, "margin") != 0) {
                cli_errorf("--output-kind: probability, score or margin, not \"%s\"", optarg);
                return CLI_USAGE;
            }
            o.output_kind = optarg;
            break;
        case 'D': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 600000) {
                cli_errorf("--deadline-ms: 1 to 600000");
                return CLI_USAGE;
            }
            o.deadline_ms = (int)v;
            break;
        }
        case 's':
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > (c == 's' ? 1000 : 16)) {
                cli_errorf("--%s: 1 to %d", c == 's' ? "samples" : "reasons", c == 's' ? 1000 : 16);
                return CLI_USAGE;
            }
            *(c == 's' ? &o.samples : &o.reasons) = (size_t)v;
            break;
        }
        default: fputs(build_usage, stderr); return CLI_USAGE;
        }
    }
    if ((!o.name && !o.out_dir) || !o.model_path || !o.data_path || optind != argc) {
        fputs(build_usage, stderr);
        return CLI_USAGE;
    }
    char base[256];
    if (!o.name) { /* the name is the directory's */
        size_t n = strlen(o.out_dir);
        while (n > 1 && o.out_dir[n - 1] == '/')
            n--;
        size_t s = n;
        while (s > 0 && o.out_dir[s - 1] != '/')
            s--;
        snprintf(base, sizeof base, "%.*s", (int)(n - s), o.out_dir + s);
        o.name = base;
    }
    if (!o.out_dir)
        o.out_dir = o.name;
    rd_err err;
    char *bands = NULL;
    size_t len;
    if (bands_path && rd_file_read(bands_path, 1u << 20, &bands, &len, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        return CLI_IO;
    }
    o.risk_bands = bands;
    cli_progress bar;
    cli_progress_init(&bar, "riskd bundle build: scoring the data");
    o.progress = build_progress;
    o.progress_ud = &bar;
    static build_warnings warned; /* 4 KiB: off the stack */
    warned.n = warned.dropped = 0;
    o.warn = build_warn;
    o.warn_ud = &warned;
    int rc = rd_bundle_build(&o, &err);
    cli_progress_end(&bar);
    rd_free(bands);
    for (size_t i = 0; i < warned.n; i++)
        cli_errorf("warning: %s", warned.msg[i]);
    if (warned.dropped)
        cli_errorf("warning: %zu more (the manifest's checks.warnings lists them all)", warned.dropped);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    if (warned.n)
        printf("%s: built and verified, with %zu warning%s (above, and in the manifest's checks.warnings)\n",
               o.out_dir, warned.n + warned.dropped, warned.n + warned.dropped > 1 ? "s" : "");
    else
        printf("%s: built and verified\n", o.out_dir);
    return CLI_OK;
}

static int load(const char *dir, rd_bundle **b)
{
    rd_err err;
    int rc = rd_bundle_load(dir, b, &err);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}

/* DIR and the value of one option (--pubkey, --key, --out), in any order; false: usage. */
static bool dir_and_option(int argc, char **argv, const char *opt, bool dir_needed, const char **dir,
                           const char **val)
{
    *dir = *val = NULL;
    size_t ol = strlen(opt);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], opt) && i + 1 < argc)
            *val = argv[++i];
        else if (!strncmp(argv[i], opt, ol) && argv[i][ol] == '=')
            *val = argv[i] + ol + 1;
        else if (argv[i][0] != '-' && !*dir && dir_needed)
            *dir = argv[i];
        else
            return false;
    }
    return !dir_needed || *dir;
}

static bool wants_help(int argc, char **argv, const char *usage)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage, stdout);
        return true;
    }
    return false;
}

/* The trusted keys of --pubkey; a CLI exit code. */
#define MAX_KEYS 64
static int read_pubkeys(const char *path, rd_bundle_key *keys, size_t *n)
{
    rd_err err;
    int rc = rd_bundle_keys_read(path, keys, MAX_KEYS, n, &err);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    return CLI_OK;
}

static int cmd_verify(int argc, char **argv)
{
    if (wants_help(argc, argv, verify_usage))
        return CLI_OK;
    const char *dir, *pubkey;
    if (!dir_and_option(argc, argv, "--pubkey", true, &dir, &pubkey)) {
        fputs(verify_usage, stderr);
        return CLI_USAGE;
    }
    rd_bundle_key keys[MAX_KEYS];
    size_t nkeys = 0;
    int rc = pubkey ? read_pubkeys(pubkey, keys, &nkeys) : CLI_OK;
    if (rc != CLI_OK)
        return rc;
    rd_bundle *b;
    if ((rc = load(dir, &b)) != CLI_OK)
        return rc;
    rd_err err;
    size_t n;
    const rd_value *files = rd_value_get(rd_bundle_manifest(b), "files", 5);
    if (rd_bundle_verify(b, &n, &err) != RD_OK) {
        cli_errorf("%s", err.msg);
        rc = CLI_INVALID_INPUT;
    } else if (pubkey && rd_bundle_verify_signature(b, keys, nkeys, &err) != RD_OK) {
        cli_errorf("%s (trusted: %s)", err.msg, pubkey);
        rc = CLI_UNTRUSTED;
    } else {
        const rd_fallback *fb = rd_bundle_fallback(b);
        printf("%s: ok (%u files match their checksums, %zu sample rows re-predicted", rd_bundle_name(b),
               files ? files->len : 0, n);
        if (fb)
            printf(", %zu fallback rules compiled", rd_fallback_count(fb));
        else
            printf(", no fallback rules: the service-wide ones answer when it cannot");
        if (pubkey)
            printf(", signature good");
        else if (rd_bundle_signed(b))
            printf(", signed: give --pubkey to check the signature");
        printf(")\ndigest %s\n", rd_bundle_digest(b));
    }
    rd_bundle_free(b);
    return rc;
}

static int cmd_sign(int argc, char **argv)
{
    if (wants_help(argc, argv, sign_usage))
        return CLI_OK;
    const char *dir, *keyfile;
    if (!dir_and_option(argc, argv, "--key", true, &dir, &keyfile) || !keyfile) {
        fputs(sign_usage, stderr);
        return CLI_USAGE;
    }
    rd_err err;
    rd_bundle_key key;
    size_t n;
    char hex[RD_SHA256_HEX];
    int rc = rd_bundle_keys_read(keyfile, &key, 1, &n, &err);
    if (rc == RD_OK)
        rc = rd_bundle_sign(dir, &key, hex, &err);
    memset(&key, 0, sizeof key);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    printf("%s/%s: signed digest %s\n", dir, RD_BUNDLE_SIGNATURE_FILE, hex);
    return CLI_OK;
}

static int cmd_keygen(int argc, char **argv)
{
    if (wants_help(argc, argv, keygen_usage))
        return CLI_OK;
    const char *dir, *prefix;
    if (!dir_and_option(argc, argv, "--out", false, &dir, &prefix) || !prefix || !*prefix) {
        fputs(keygen_usage, stderr);
        return CLI_USAGE;
    }
    char pub_path[4096], key_path[4096];
    snprintf(pub_path, sizeof pub_path, "%s.pub", prefix);
    snprintf(key_path, sizeof key_path, "%s.key", prefix);
    rd_err err;
    rd_bundle_key pub, secret;
    int rc = rd_bundle_keygen(&pub, &secret, &err);
    if (rc == RD_OK && access(pub_path, F_OK) == 0)
        rc = rd_err_set(&err, RD_EINVAL, "%s: exists; a key file is never overwritten", pub_path);
    if (rc == RD_OK && (rc = rd_bundle_key_write(key_path, &secret, true, &err)) == RD_OK &&
        (rc = rd_bundle_key_write(pub_path, &pub, false, &err)) != RD_OK)
        unlink(key_path);
    memset(&secret, 0, sizeof secret);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    printf("%s: the secret key (keep it private: it signs)\n%s: the public key (verify --pubkey, "
           "bundle_pubkey)\n",
           key_path, pub_path);
    return CLI_OK;
}

static int cmd_seal(int argc, char **argv)
{
    if (wants_help(argc, argv, seal_usage))
        return CLI_OK;
    if (argc != 2 || argv[1][0] == '-') {
        fputs(seal_usage, stderr);
        return CLI_USAGE;
    }
    rd_err err;
    char hex[RD_SHA256_HEX];
    int rc = rd_bundle_seal(argv[1], hex, &err);
    if (rc != RD_OK) {
        cli_errorf("%s", err.msg);
        return cli_exit_for(rc);
    }
    printf("%s/manifest.json: sealed, digest %s\n", argv[1], hex);
    char *args[] = {argv[0], argv[1], NULL};
    return cmd_verify(2, args);
}

static const rd_value *at(const rd_value *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        o = o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
        path += n + (path[n] == '.');
    }
    return o;
}

static void print_value(const char *label, const rd_value *v)
{
    rd_buf b;
    rd_buf_init(&b);
    if (v && v->type == RD_VSTRING)
        rd_buf_append(&b, v->u.s, v->len);
    else if (v)
        rd_json_write(&b, v);
    else
        rd_buf_puts(&b, "-");
    printf("%-14s %s\n", label, rd_buf_cstr(&b));
    rd_buf_deinit(&b);
}

static void print_bands(const rd_value *bands)
{
    for (uint32_t i = 0; bands && bands->type == RD_VARRAY && i < bands->len; i++) {
        const rd_value *o = &bands->u.items[i], *lo = at(o, "min"), *hi = at(o, "max"),
                       *d = at(o, "decision");
        char a[32] = "-inf", z[32] = "+inf";
        if (lo && lo->type == RD_VNUMBER)
            snprintf(a, sizeof(a), "%.6g", lo->u.n);
        if (hi && hi->type == RD_VNUMBER)
            snprintf(z, sizeof(z), "%.6g", hi->u.n);
        printf("%-14s %-8s [%s, %s)%s%s\n", i ? "" : "risk bands", at(o, "level")->u.s, a, z, d ? " -> " : "",
               d && d->type == RD_VSTRING ? d->u.s : "");
    }
}

static int cmd_inspect(int argc, char **argv)
{
    bool json = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(inspect_usage, stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fputs(inspect_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!dir) {
        fputs(inspect_usage, stderr);
        return CLI_USAGE;
    }
    rd_bundle *b;
    int rc = load(dir, &b);
    if (rc != CLI_OK)
        return rc;
    const rd_value *m = rd_bundle_manifest(b);
    if (json) {
        rd_buf out;
        rd_buf_init(&out);
        rd_json_write(&out, m);
        puts(rd_buf_cstr(&out));
        rd_buf_deinit(&out);
    } else {
        print_value("name", at(m, "name"));
        printf("%-14s %s\n", "digest", rd_bundle_digest(b));
        printf("%-14s %s\n", "signature",
               rd_bundle_signed(b) ? RD_BUNDLE_SIGNATURE_FILE " (riskd bundle verify --pubkey checks it)"
                                   : "none");
        print_value("created", at(m, "created_at"));
        print_value("created by", at(m, "created_by"));
        print_value("model", at(m, "model.format"));
        print_value("objective", at(m, "model.objective"));
        printf("%-14s %zu (from %zu inputs)\n", "features", rd_pipeline_num_features(rd_bundle_pipeline(b)),
               rd_pipeline_num_inputs(rd_bundle_pipeline(b)));
        print_value("inputs", at(m, "inputs"));
        print_value("output", at(m, "output.kind"));
        print_value("training data", at(m, "training.data_file"));
        print_value("rows", at(m, "training.rows"));
        print_value("metrics", at(m, "training.metrics"));
        if (at(m, "test"))
            print_value("test metrics", at(m, "test.metrics"));
        const rd_value *w = at(m, "checks.warnings");
        for (uint32_t i = 0; w && w->type == RD_VARRAY && i < w->len; i++)
            print_value(i ? "" : "warnings", &w->u.items[i]);
        print_bands(at(m, "risk_bands"));
        print_value("reason codes", at(m, "reason_codes.count"));
        const rd_fallback *fb = rd_bundle_fallback(b);
        if (fb)
            printf("%-14s %zu rules, version \"%s\"\n", "fallback", rd_fallback_count(fb),
                   rd_fallback_version(fb));
        else
            printf("%-14s none (the service-wide rules answer)\n", "fallback");
        if (rd_bundle_deadline_ms(b))
            printf("%-14s %d ms\n", "deadline", rd_bundle_deadline_ms(b));
        const rd_value *files = at(m, "files"), *samples = at(m, "samples");
        for (uint32_t i = 0; files && i < files->len; i++)
            printf("%-14s %-16s sha256 %s\n", i ? "" : "files", files->u.members[i].key,
                   files->u.members[i].val.u.s);
        printf("%-14s %u\n", "samples", samples && samples->type == RD_VARRAY ? samples->len : 0);
    }
    rd_bundle_free(b);
    return CLI_OK;
}

int cmd_bundle(int argc, char **argv)
{
    if (argc < 2) {
        fputs(bundle_usage, stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(bundle_usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "build"))
        return cmd_build(argc - 1, argv + 1);
    if (!strcmp(sub, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(sub, "sign"))
        return cmd_sign(argc - 1, argv + 1);
    if (!strcmp(sub, "keygen"))
        return cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(sub, "seal"))
        return cmd_seal(argc - 1, argv + 1);
    cli_errorf("bundle: unknown subcommand \"%s\" (try riskd bundle --help)", sub);
    return CLI_USAGE;
}
