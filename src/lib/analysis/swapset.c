/* Swap sets (rollout-monitoring.md §3 item 5): champion against challenger, each at its decision
 * rule, over the same applications; the 2x2 table of approve / decline, and the challenger
 * cut-off that keeps the approval rate.
 *
 * Invariants: a unit is one application both models scored: on log input a primary decision of
 * the champion and the challenger's shadow record with its request id, on CSV input a row with
 * both scores. The shadow records are read first and kept (request id -> score, decision) per
 * shadow bundle, then the primaries streamed and paired; the pairs are kept (a few words each)
 * until the champion is known. "Approve" is the logged decision "approve" (review and reject
 * decline) unless a cut-off is given: then below it, or at or above it for points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/dlog.h"
#include "riskd/json.h"
#include "riskd/riskd.h"

#define MAX_NAMES 64 /* distinct champions or challengers tracked */

void rd_swap_opts_default(rd_swap_opts *o)
{
    *o = (rd_swap_opts){.champion_cutoff = (double)NAN, .challenger_cutoff = (double)NAN, .min_labelled = 30};
}

const char *rd_swap_cell_name(rd_swap_cell c)
{
    static const char *const names[] = {"keep_in", "swap_out", "swap_in", "keep_out"};
    return (unsigned)c < 4 ? names[c] : "?";
}

typedef struct pair {
    double champion, challenger; /* scores (NaN: none) */
    uint16_t who;                /* the champion's name index */
    bool a1, a2;                 /* approved by the champion, the challenger */
    int8_t label;                /* -1 unknown */
} pair;

/* The shadow scores of one shadow bundle. */
typedef struct shadow_set {
    char *name, *digest;
    an_map ids;
    double *score;
    bool *approve; /* logged decision */
    size_t n, cap;
} shadow_set;

typedef struct swap_ctx {
    const rd_swap_opts *o;
    rd_arena *a;
    rd_replay *replay;
    an_map kinds; /* digest -> 1 points, 0 not */
    shadow_set sh[MAX_NAMES];
    size_t nsh;
    const shadow_set *chal;
    char *champs[MAX_NAMES]; /* primary bundle names seen */
    uint64_t champ_pairs[MAX_NAMES], champ_unpaired[MAX_NAMES];
    bool champ_points[MAX_NAMES];
    size_t nchamps;
    bool champ_above, chal_points;
    pair *pairs;
    size_t npairs, cap;
    rd_err *err;
} swap_ctx;

static int push(swap_ctx *c, pair p)
{
    if (c->npairs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        pair *np = rd_realloc(c->pairs, cap * sizeof *np);
        if (!np)
            return rd_err_set(c->err, RD_ENOMEM, "out of memory");
        c->pairs = np;
        c->cap = cap;
    }
    c->pairs[c->npairs++] = p;
    return RD_OK;
}

static bool approve(double score, double cutoff, bool above)
{
    return above ? score >= cutoff : score < cutoff;
}

/* Whether the kept bundle with digest gives points (through o->work_dir; false without one). */
static int points_of(swap_ctx *c, const char *digest, bool *points)
{
    *points = false;
    if (!c->o->work_dir || !digest)
        return RD_OK;
    size_t *known = an_map_get(&c->kinds, digest, strlen(digest));
    if (known) {
        *points = *known != 0;
        return RD_OK;
    }
    const rd_bundle *b;
    int rc = rd_replay_bundle(c->replay, digest, &b, c->err);
    if (rc)
        return rc;
    *points = rd_bundle_score_is_points(b);
    if (an_map_put(&c->kinds, digest, strlen(digest), *points) != RD_OK)
        return rd_err_set(c->err, RD_ENOMEM, "out of memory");
    return RD_OK;
}

/* ---------------------------------------------------------------- log: shadows */

static shadow_set *shadow_of(swap_ctx *c, const char *name, const char *digest)
{
    for (size_t i = 0; i < c->nsh; i++)
        if (!strcmp(c->sh[i].name, name))
            return &c->sh[i];
    if (c->nsh == MAX_NAMES)
        return NULL;
    shadow_set *s = &c->sh[c->nsh];
    *s = (shadow_set){.name = an_strdup(c->a, name), .digest = digest ? an_strdup(c->a, digest) : NULL};
    if (!s->name || an_map_init(&s->ids, 256) != RD_OK)
        return NULL;
    c->nsh++;
    return s;
}

static int on_shadow(void *ud, const rd_log_row *row, const rd_value *rec)
{
    swap_ctx *c = ud;
    const rd_value *bd = an_get(rec, "bundle");
    const char *name = an_str(bd, "name");
    if (!name || !row->request_id)
        return 0;
    shadow_set *s = shadow_of(c, name, an_str(bd, "digest"));
    if (!s)
        return 0; /* more shadow bundles than anyone compares */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *ns = rd_realloc(s->score, cap * sizeof *ns);
        if (ns)
            s->score = ns;
        bool *na = rd_realloc(s->approve, cap * sizeof *na);
        if (na)
            s->approve = na;
        if (!ns || !na)
            return rd_err_set(c->err, RD_ENOMEM, "out of memory");
        s->cap = cap;
    }
    const char *d = an_str(rec, "decision");
    s->score[s->n] = an_num(rec, "score");
    s->approve[s->n] = d && !strcmp(d, "approve");
    if (an_map_put(&s->ids, row->request_id, strlen(row->request_id), s->n) != RD_OK)
        return rd_err_set(c->err, RD_ENOMEM, "out of memory");
    s->n++;
    return 0;
}

static void list_names(rd_buf *b, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rd_buf_printf(b, "%s%s", i ? ", " : "", names[i]);
}

static int pick_challenger(swap_ctx *c, const rd_an_source *src)
{
    if (!c->nsh)
        return rd_err_set(c->err, RD_EINVAL,
                          "no shadow records in the window of %s: a swap set needs the challenger scored in "
                          "shadow (riskd serve --shadow-flag)",
                          rd_store_name(src->store));
    char *names[MAX_NAMES];
    for (size_t i = 0; i < c->nsh; i++)
        names[i] = c->sh[i].name;
    rd_buf l;
    rd_buf_init(&l);
    list_names(&l, names, c->nsh);
    int rc = RD_OK;
    if (c->o->challenger) {
        for (size_t i = 0; i < c->nsh && !c->chal; i++)
            if (!strcmp(c->sh[i].name, c->o->challenger))
                c->chal = &c->sh[i];
        if (!c->chal)
            rc = rd_err_set(
                c->err, RD_EINVAL, "--challenger %s: no shadow record of that bundle in the window (%s: %s)",
                c->o->challenger, c->nsh > 1 ? "shadow bundles" : "the shadow bundle", rd_buf_cstr(&l));
    } else if (c->nsh > 1) {
        rc =
            rd_err_set(c->err, RD_EINVAL,
                       "several bundles score in shadow: choose one with --challenger (%s)", rd_buf_cstr(&l));
    } else {
        c->chal = &c->sh[0];
    }
    rd_buf_deinit(&l);
    if (!rc && c->chal)
        rc = points_of(c, c->chal->digest, &c->chal_points);
    return rc;
}

/* ---------------------------------------------------------------- log: primaries */

static int champ_index(swap_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nchamps; i++)
        if (!strcmp(c->champs[i], name))
            return (int)i;
    if (c->nchamps == MAX_NAMES)
        return -1;
    if (!(c->champs[c->nchamps] = an_strdup(c->a, name)))
        return -1;
    return (int)c->nchamps++;
}

static int on_primary(void *ud, const rd_log_row *row, const rd_value *rec)
{
    swap_ctx *c = ud;
    const rd_value *bd = an_get(rec, "bundle");
    const char *name = an_str(bd, "name");
    if (!name || !row->request_id || !strcmp(name, c->chal->name))
        return 0; /* a fallback without a bundle; the challenger deciding itself */
    int who = champ_index(c, name);
    if (who < 0 || (c->o->champion && strcmp(c->o->champion, name) != 0))
        return 0;
    size_t *at = an_map_get(&c->chal->ids, row->request_id, strlen(row->request_id));
    double s1 = an_num(rec, "score"), s2 = at ? c->chal->score[*at] : (double)NAN;
    bool cut1 = !isnan(c->o->champion_cutoff), cut2 = !isnan(c->o->challenger_cutoff);
    if (!at || isnan(s2) || (cut1 && isnan(s1))) {
        c->champ_unpaired[who]++;
        return 0;
    }
    bool points = false;
    int rc = cut1 ? points_of(c, an_str(bd, "digest"), &points) : RD_OK;
    if (rc)
        return rc;
    c->champ_points[who] = points;
    const char *d = an_str(rec, "decision");
    pair p = {.champion = s1,
              .challenger = s2,
              .who = (uint16_t)who,
              .a1 = cut1 ? approve(s1, c->o->champion_cutoff, points) : d && !strcmp(d, "approve"),
              .a2 = cut2 ? approve(s2, c->o->challenger_cutoff, c->chal_points) : c->chal->approve[*at],
              .label = (int8_t)(row->label == 0 || row->label == 1 ? row->label : -1)};
    c->champ_pairs[who]++;
    return push(c, p);
}

/* The champion: o->champion, else the only primary bundle paired with the challenger. */
static int pick_champion(swap_ctx *c, int *who)
{
    *who = -1;
    rd_buf l;
    rd_buf_init(&l);
    size_t npaired = 0;
    for (size_t i = 0; i < c->nchamps; i++)
        if (c->champ_pairs[i]) {
            rd_buf_printf(&l, "%s%s", npaired++ ? ", " : "", c->champs[i]);
            *who = (int)i;
        }
    int rc = RD_OK;
    if (c->o->champion) {
        *who = -1;
        for (size_t i = 0; i < c->nchamps; i++)
            if (!strcmp(c->champs[i], c->o->champion))
                *who = (int)i;
        rd_buf all;
        rd_buf_init(&all);
        list_names(&all, c->champs, c->nchamps);
        if (*who < 0)
            rc = rd_err_set(
                c->err, RD_EINVAL, "--champion %s: no primary decision of that bundle in the window (%s%s)",
                c->o->champion, c->nchamps ? "bundles that decided: " : "none decided", rd_buf_cstr(&all));
        else if (!c->champ_pairs[*who])
            rc = rd_err_set(c->err, RD_EINVAL, "none of the %llu decisions of %s has a shadow score by %s",
                            (unsigned long long)c->champ_unpaired[*who], c->o->champion, c->chal->name);
        rd_buf_deinit(&all);
    } else if (npaired == 0) {
        rc = rd_err_set(c->err, RD_EINVAL, "no primary decision in the window has a shadow score by %s",
                        c->chal->name);
    } else if (npaired > 1) {
        rc = rd_err_set(c->err, RD_EINVAL,
                        "%s scored in shadow of several champions: choose one with --champion (%s)",
                        c->chal->name, rd_buf_cstr(&l));
    }
    rd_buf_deinit(&l);
    return rc;
}

static int from_log(swap_ctx *c, const rd_an_source *src, rd_swap_result *r, int *who)
{
    int rc = an_outcome(src, c->a, &r->outcome, c->err);
    if (!rc && c->o->work_dir)
        rc = rd_replay_new(src->store, c->o->work_dir, &c->replay, c->err);
    if (!rc)
        rc = an_map_init(&c->kinds, 16);
    if (!rc)
        rc = an_log_each(src, "shadow", NULL, on_shadow, c, NULL, c->err);
    if (!rc)
        rc = pick_challenger(c, src);
    if (!rc)
        rc = an_log_each(src, "primary", r->outcome, on_primary, c, NULL, c->err);
    if (!rc)
        rc = pick_champion(c, who);
    if (rc)
        return rc;
    r->champion = c->champs[*who];
    r->challenger = c->chal->name;
    r->unpaired = c->champ_unpaired[*who];
    c->champ_above = c->champ_points[*who];
    return RD_OK;
}

/* ---------------------------------------------------------------- CSV */

static int csv_score(const char *path, size_t line, const char *col, const char *s, double *v, rd_err *err)
{
    *v = (double)NAN;
    if (!*s || an_number(s, v))
        return RD_OK;
    return rd_err_set(err, RD_EINVAL, "%s: line %zu: %s: \"%.40s\" is not a number", path, line, col, s);
}

static int from_csv(swap_ctx *c, const rd_an_source *src, rd_swap_result *r)
{
    const rd_swap_opts *o = c->o;
    if (!o->champion_col || !o->challenger_col)
        return rd_err_set(c->err, RD_EINVAL, "a CSV swap set needs --champion-col and --challenger-col");
    if (isnan(o->champion_cutoff) || isnan(o->challenger_cutoff))
        return rd_err_set(
            c->err, RD_EINVAL,
            "a CSV swap set needs both cut-offs (--champion-cutoff, --challenger-cutoff): a CSV "
            "holds no decisions");
    rd_csv *csv;
    int rc = rd_csv_open(src->csv, &csv, c->err);
    if (rc)
        return rc;
    int c1, c2, cl = -1;
    if (!(rc = an_csv_column(csv, src->csv, "--champion-col", o->champion_col, &c1, c->err)) &&
        !(rc = an_csv_column(csv, src->csv, "--challenger-col", o->challenger_col, &c2, c->err)) &&
        o->label_col)
        rc = an_csv_column(csv, src->csv, "--label-col", o->label_col, &cl, c->err);
    char **f;
    uint64_t rows = 0, size = rd_csv_size(csv);
    while (!rc && (rc = rd_csv_next(csv, &f, c->err)) == 1) {
        size_t line = rd_csv_line(csv);
        pair p = {.label = -1};
        if ((rc = csv_score(src->csv, line, o->champion_col, f[c1], &p.champion, c->err)) != RD_OK ||
            (rc = csv_score(src->csv, line, o->challenger_col, f[c2], &p.challenger, c->err)) != RD_OK)
            break;
        if (cl >= 0) {
            int lab = an_label(f[cl]);
            if (lab == -2) {
                rc = rd_err_set(c->err, RD_EINVAL,
                                "%s: line %zu: %s: \"%.40s\" is not a label (0, 1 or empty)", src->csv, line,
                                o->label_col, f[cl]);
                break;
            }
            p.label = (int8_t)lab;
        }
        if (isnan(p.champion) || isnan(p.challenger)) {
            r->unpaired++;
            continue;
        }
        p.a1 = approve(p.champion, o->champion_cutoff, o->approve_above);
        p.a2 = approve(p.challenger, o->challenger_cutoff, o->approve_above);
        rc = push(c, p);
        if (++rows % 4096 == 0 && src->progress)
            src->progress(src->ud, rd_csv_offset(csv), size);
    }
    if (rc < 0 && rc == RD_EPARSE)
        rd_err_prefix(c->err, "%s: line %zu", src->csv, rd_csv_line(csv));
    rd_csv_close(csv);
    if (rc < 0)
        return rc;
    if (!c->npairs)
        return rd_err_set(c->err, RD_EINVAL, "%s: no row with both scores", src->csv);
    r->champion = an_strdup(c->a, o->champion_col);
    r->challenger = an_strdup(c->a, o->challenger_col);
    c->chal_points = o->approve_above;
    c->champ_above = o->approve_above;
    return RD_OK;
}

/* ---------------------------------------------------------------- the table */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b ? 1 : 0;
}

static const char *rule(rd_arena *a, double cutoff, bool points)
{
    if (isnan(cutoff))
        return an_strdup(a, "logged decision");
    char num[32], buf[64];
    rd_num_format(cutoff, num);
    snprintf(buf, sizeof buf, "score %s %s", points ? ">=" : "<", num);
    return an_strdup(a, buf);
}

static int tabulate(swap_ctx *c, int who, rd_swap_result *r)
{
    double sum1[4] = {0}, sum2[4] = {0};
    uint64_t n1[4] = {0}, n2[4] = {0};
    double *chal = rd_malloc((c->npairs + 1) * sizeof *chal);
    if (!chal)
        return rd_err_set(c->err, RD_ENOMEM, "out of memory");
    size_t n = 0;
    uint64_t approved1 = 0;
    for (size_t i = 0; i < c->npairs; i++) {
        const pair *p = &c->pairs[i];
        if (who >= 0 && p->who != who)
            continue;
        rd_swap_cell cell =
            p->a1 ? (p->a2 ? RD_SWAP_KEEP_IN : RD_SWAP_OUT) : (p->a2 ? RD_SWAP_IN : RD_SWAP_KEEP_OUT);
        rd_swap_stats *s = &r->cell[cell];
        s->count++;
        if (p->label >= 0) {
            s->labelled++;
            s->bads += (uint64_t)p->label;
        }
        if (!isnan(p->champion)) {
            sum1[cell] += p->champion;
            n1[cell]++;
        }
        sum2[cell] += p->challenger;
        n2[cell]++;
        chal[n++] = p->challenger;
        approved1 += p->a1;
    }
    r->units = n;
    for (int k = 0; k < 4; k++) {
        rd_swap_stats *s = &r->cell[k];
        s->share = n ? (double)s->count / (double)n : (double)NAN;
        s->mean_champion = n1[k] ? sum1[k] / (double)n1[k] : (double)NAN;
        s->mean_challenger = n2[k] ? sum2[k] / (double)n2[k] : (double)NAN;
        s->bad_rate = (double)NAN;
        if (s->labelled && s->labelled >= r->min_labelled) {
            s->bad_rate = (double)s->bads / (double)s->labelled;
        } else {
            char note[120];
            snprintf(note, sizeof note, "insufficient data: %llu labelled needed, %llu labelled",
                     (unsigned long long)(r->min_labelled ? r->min_labelled : 1),
                     (unsigned long long)s->labelled);
            s->note = an_strdup(c->a, note);
        }
    }
    r->champion_approval =
        n ? (double)(r->cell[RD_SWAP_KEEP_IN].count + r->cell[RD_SWAP_OUT].count) / (double)n : (double)NAN;
    r->challenger_approval =
        n ? (double)(r->cell[RD_SWAP_KEEP_IN].count + r->cell[RD_SWAP_IN].count) / (double)n : (double)NAN;
    r->constant_cutoff = (double)NAN;
    if (n) {
        qsort(chal, n, sizeof *chal, cmp_double);
        size_t k = (size_t)approved1;
        bool above = c->chal_points;
        if (above ? k == 0 : k == n)
            r->constant_cutoff = nextafter(chal[n - 1], (double)INFINITY);
        else
            r->constant_cutoff = above ? chal[n - k] : chal[k];
    }
    rd_free(chal);
    return RD_OK;
}

int rd_swapset(const rd_an_source *src, const rd_swap_opts *o, rd_arena *a, rd_swap_result *out, rd_err *err)
{
    rd_swap_result r = {.source = an_source_name(src, a),
                        .from_ms = src->from_ms,
                        .to_ms = src->to_ms,
                        .min_labelled = o->min_labelled};
    swap_ctx c = {.o = o, .a = a, .err = err};
    int who = -1;
    int rc = src->store ? from_log(&c, src, &r, &who)
             : src->csv ? from_csv(&c, src, &r)
                        : rd_err_set(err, RD_EINVAL, "no source");
    if (!rc)
        rc = tabulate(&c, who, &r);
    if (!rc) {
        r.champion_rule = rule(a, o->champion_cutoff, c.champ_above);
        r.challenger_above = c.chal_points;
        r.challenger_rule = rule(a, o->challenger_cutoff, c.chal_points);
        *out = r;
    }
    for (size_t i = 0; i < c.nsh; i++) {
        an_map_free(&c.sh[i].ids);
        rd_free(c.sh[i].score);
        rd_free(c.sh[i].approve);
    }
    an_map_free(&c.kinds);
    rd_replay_free(c.replay);
    rd_free(c.pairs);
    return rc;
}

/* ---------------------------------------------------------------- writers */

void rd_swapset_json(rd_buf *b, const rd_swap_result *r)
{
    an_json_head(b, "swapset", r->source, r->from_ms, r->to_ms);
    const char *k[] = {"champion", "challenger", "outcome", "champion_rule", "challenger_rule"};
    const char *v[] = {r->champion, r->challenger, r->outcome, r->champion_rule, r->challenger_rule};
    for (size_t i = 0; i < 5; i++) {
        rd_buf_putc(b, ',');
        an_json_key(b, k[i]);
        an_json_str(b, v[i]);
    }
    rd_buf_printf(b, ",\"units\":%llu,\"unpaired\":%llu,\"min_labelled\":%llu,\"champion_approval\":",
                  (unsigned long long)r->units, (unsigned long long)r->unpaired,
                  (unsigned long long)r->min_labelled);
    an_json_num(b, r->champion_approval);
    rd_buf_puts(b, ",\"challenger_approval\":");
    an_json_num(b, r->challenger_approval);
    rd_buf_printf(b, ",\"challenger_above\":%s,\"constant_cutoff\":", r->challenger_above ? "true" : "false");
    an_json_num(b, r->constant_cutoff);
    rd_buf_puts(b, ",\"cells\":[");
    for (int i = 0; i < 4; i++) {
        const rd_swap_stats *s = &r->cell[i];
        rd_buf_printf(
            b, "%s{\"cell\":\"%s\",\"champion\":\"%s\",\"challenger\":\"%s\",\"count\":%llu,\"share\":",
            i ? "," : "", rd_swap_cell_name((rd_swap_cell)i), i < 2 ? "approve" : "decline",
            i == 0 || i == 2 ? "approve" : "decline", (unsigned long long)s->count);
        an_json_num(b, s->share);
        rd_buf_puts(b, ",\"mean_champion\":");
        an_json_num(b, s->mean_champion);
        rd_buf_puts(b, ",\"mean_challenger\":");
        an_json_num(b, s->mean_challenger);
        rd_buf_printf(b, ",\"labelled\":%llu,\"bads\":%llu,\"bad_rate\":", (unsigned long long)s->labelled,
                      (unsigned long long)s->bads);
        an_json_num(b, s->bad_rate);
        rd_buf_puts(b, ",\"note\":");
        an_json_str(b, s->note);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "]}");
}

static void cellnum(char *buf, size_t cap, double v, bool pct)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (pct)
        snprintf(buf, cap, "%.1f%%", 100 * v);
    else
        snprintf(buf, cap, "%.4g", v);
}

void rd_swapset_text(rd_buf *b, const rd_swap_result *r)
{
    rd_buf_printf(b, "swap set: champion %s (%s) vs challenger %s (%s)\n", r->champion, r->champion_rule,
                  r->challenger, r->challenger_rule);
    rd_buf_printf(b, "  %s: %llu units", r->source, (unsigned long long)r->units);
    if (r->unpaired)
        rd_buf_printf(b, ", %llu unpaired (not counted)", (unsigned long long)r->unpaired);
    bool labelled = false;
    for (int i = 0; i < 4; i++)
        labelled |= r->cell[i].labelled > 0;
    rd_buf_printf(b, "; labels: %s\n\n", r->outcome ? r->outcome : labelled ? "from the file" : "none");
    rd_buf_printf(b, "  %-9s %-10s %-10s %8s %7s %12s %12s %9s %6s %9s\n", "cell", "champion", "challenger",
                  "count", "share", "mean champ", "mean chall", "labelled", "bads", "bad rate");
    for (int i = 0; i < 4; i++) {
        const rd_swap_stats *s = &r->cell[i];
        char share[16], m1[32], m2[32], br[32];
        cellnum(share, sizeof share, s->share, true);
        cellnum(m1, sizeof m1, s->mean_champion, false);
        cellnum(m2, sizeof m2, s->mean_challenger, false);
        cellnum(br, sizeof br, s->bad_rate, true);
        rd_buf_printf(b, "  %-9s %-10s %-10s %8llu %7s %12s %12s %9llu %6llu %9s",
                      rd_swap_cell_name((rd_swap_cell)i), i < 2 ? "approve" : "decline",
                      i == 0 || i == 2 ? "approve" : "decline", (unsigned long long)s->count, share, m1, m2,
                      (unsigned long long)s->labelled, (unsigned long long)s->bads, br);
        if (s->note && (r->outcome || labelled))
            rd_buf_printf(b, "  (%s)", s->note);
        rd_buf_putc(b, '\n');
    }
    char a1[16], a2[16], cc[32];
    cellnum(a1, sizeof a1, r->champion_approval, true);
    cellnum(a2, sizeof a2, r->challenger_approval, true);
    rd_buf_printf(b, "\n  approval rate: champion %s, challenger %s\n", a1, a2);
    if (isnan(r->constant_cutoff)) {
        rd_buf_puts(b, "  constant-approval cut-off: none (no units)\n");
    } else {
        rd_num_format(r->constant_cutoff, cc);
        rd_buf_printf(b, "  the challenger approves as many as the champion at score %s %s\n",
                      r->challenger_above ? ">=" : "<", cc);
    }
}
