/* flagd's custom operators: fractional (v2 and v3 bucketing), sem_ver, starts_with and
 * ends_with. They receive already-evaluated arguments, as in flagd's engines.
 *
 * An operator error (wrong arguments, an invalid version, bad weights) yields null, never
 * false: at the top of a rule null selects the default variant, inside an `if` it is
 * falsy. That is flagd's contract (testbed @operator-errors). */
#include "logic_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/hash.h"

#define MAX_WEIGHT 2147483647.0

static int null_result(rd_value *out)
{
    *out = RD_NULL_VALUE;
    return RD_OK;
}

/* ---------------------------------------------------------------- fractional */

static bool valid_variant(const rd_value *v)
{
    return v->type == RD_VSTRING || v->type == RD_VBOOL || v->type == RD_VNUMBER || v->type == RD_VNULL;
}

/* Where the bucketing key's bytes are: a borrowed string, a small stack buffer, or the
 * scratch arena (CBOR, long keys). */
struct bkey {
    const char *p;
    size_t len;
    char small[128];
    rd_strb big;
};

/* The bucketing key for v2 (raw bytes) or v3 (CBOR), or false when the flag falls back. */
static bool bucket_key(rd__ev *c, const rd_value **args, uint32_t *n, struct bkey *k)
{
    rd_strb *key = &k->big;
    const rd_value *a = *args;
    int version = c->logic->fractional_version;
    if (*n > 0 && a[0].type != RD_VARRAY) {
        if (version == 3) {
            if (a[0].type == RD_VNULL)
                return false;
            rd__cbor_encode(key, &a[0]);
            (*args)++, (*n)--;
            return true;
        }
        if (a[0].type == RD_VSTRING) {
            k->p = a[0].u.s;
            k->len = a[0].len;
            (*args)++, (*n)--;
            return true;
        }
        if (a[0].type == RD_VNULL) /* Go drops a missing bucketBy and uses the default key */
            (*args)++, (*n)--;
    }
    const rd_value *tk = rd_value_get(c->root, "targetingKey", 12);
    if (!tk || tk->type != RD_VSTRING)
        return false;
    if (version == 3) {
        rd_value pair[2] = {rd_value_string(c->env->flag_key, c->env->flag_key_len), *tk};
        rd_value arr = {.type = RD_VARRAY, .len = 2, .u.items = pair};
        rd__cbor_encode(key, &arr);
        return true;
    }
    if (tk->len == 0)
        return false;
    size_t fl = c->env->flag_key_len;
    if (fl + tk->len <= sizeof(k->small)) {
        memcpy(k->small, c->env->flag_key, fl);
        memcpy(k->small + fl, tk->u.s, tk->len);
        k->p = k->small;
        k->len = fl + tk->len;
        return true;
    }
    rd_strb_add(key, c->env->flag_key, fl);
    rd_strb_add(key, tk->u.s, tk->len);
    return true;
}

/* The weight of a bucket, or -1 when it is invalid. */
static double bucket_weight(const rd_value *b)
{
    if (b->len < 2 || b->u.items[1].type == RD_VNULL)
        return 1;
    const rd_value *w = &b->u.items[1];
    /* An integer (Go: int64(w) must give w back exactly), at most 2^31-1; negatives count 0. */
    if (w->type != RD_VNUMBER || !(w->u.n <= MAX_WEIGHT && w->u.n > -9.2e18) ||
        (double)(int64_t)w->u.n != w->u.n)
        return -1;
    return w->u.n < 0 ? 0 : w->u.n;
}

int rd__flagd_fractional(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    if (n < 1)
        return null_result(out);
    struct bkey key = {.p = NULL};
    rd_strb_init(&key.big, c->scratch);
    if (!bucket_key(c, &a, &n, &key))
        return null_result(out);
    if (key.big.oom)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    if (!key.p) { /* built in the arena */
        key.p = key.big.p ? key.big.p : "";
        key.len = key.big.len;
    }
    if (n < 1)
        return null_result(out);
    uint64_t stack_w[16], *weights = n <= 16 ? stack_w : rd_arena_alloc(c->scratch, n * sizeof(*weights));
    if (!weights)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].type != RD_VARRAY || a[i].len < 1 || !valid_variant(&a[i].u.items[0]))
            return null_result(out);
        double w = bucket_weight(&a[i]);
        if (w < 0)
            return null_result(out);
        weights[i] = (uint64_t)w;
        total += weights[i];
    }
    if (total > (uint64_t)MAX_WEIGHT || total == 0)
        return null_result(out);
    uint32_t h = rd_murmur3_32(key.p, key.len, 0);
    uint64_t bucket = ((uint64_t)h * total) >> 32;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += weights[i];
        if (bucket < acc) {
            *out = a[i].u.items[0];
            return RD_OK;
        }
    }
    return null_result(out); /* not reached: bucket < total */
}

/* ---------------------------------------------------------------- CBOR (fractional v3) */

static void cbor_head(rd_strb *b, unsigned major, uint64_t arg)
{
    unsigned char h[9];
    size_t n;
    if (arg < 24) {
        h[0] = (unsigned char)(major << 5 | arg);
        n = 1;
    } else {
        int bytes = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffu ? 4 : 8;
        h[0] = (unsigned char)(major << 5 | (bytes == 1 ? 24u : bytes == 2 ? 25u : bytes == 4 ? 26u : 27u));
        for (int i = 0; i < bytes; i++)
            h[1 + i] = (unsigned char)(arg >> (8 * (bytes - 1 - i)));
        n = 1 + (size_t)bytes;
    }
    rd_strb_add(b, (const char *)h, n);
}

/* The IEEE half-precision bits of d when d is exactly representable, else -1. */
static long half_bits(double d)
{
    unsigned sign = signbit(d) ? 0x8000u : 0;
    double a = fabs(d);
    if (isinf(d))
        return (long)(sign | 0x7c00u);
    if (isnan(d))
        return 0x7e00;
    if (a == 0)
        return (long)sign;
    int e;
    double m = frexp(a, &e); /* a = m * 2^e, 0.5 <= m < 1 */
    int exp = e - 1;         /* a = (2m) * 2^exp, 1 <= 2m < 2 */
    if (exp > 15)
        return -1;
    if (exp >= -14) {
        double frac = (2 * m - 1) * 1024;
        if (frac != floor(frac))
            return -1;
        return (long)(sign | (unsigned)(exp + 15) << 10 | (unsigned)frac);
    }
    double k = a * 16777216.0; /* subnormal: a = k * 2^-24 */
    if (k != floor(k) || k >= 1024)
        return -1;
    return (long)(sign | (unsigned)k);
}

static void cbor_float(rd_strb *b, double d)
{
    unsigned char h[9];
    long half = half_bits(d);
    if (half >= 0) {
        h[0] = 0xf9;
        h[1] = (unsigned char)(half >> 8);
        h[2] = (unsigned char)half;
        rd_strb_add(b, (const char *)h, 3);
        return;
    }
    float f = (float)d;
    if ((double)f == d) {
        uint32_t u;
        memcpy(&u, &f, 4);
        h[0] = 0xfa;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(u >> (24 - 8 * i));
        rd_strb_add(b, (const char *)h, 5);
        return;
    }
    uint64_t u;
    memcpy(&u, &d, 8);
    h[0] = 0xfb;
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    rd_strb_add(b, (const char *)h, 9);
}

static void cbor_number(rd_strb *b, double d)
{
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 18446744073709551616.0) {
        if (d >= 0)
            cbor_head(b, 0, (uint64_t)d);
        else
            cbor_head(b, 1, (uint64_t)(-d) - 1);
        return;
    }
    cbor_float(b, d);
}

struct enc_key {
    const char *p;
    size_t len;
    const rd_value *val;
};

static int enc_key_cmp(const void *x, const void *y)
{
    const struct enc_key *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->p, b->p, n);
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

void rd__cbor_encode(rd_strb *b, const rd_value *v)
{
    switch (v->type) {
    case RD_VNULL: rd_strb_add(b, "\xf6", 1); break;
    case RD_VBOOL: rd_strb_add(b, v->u.b ? "\xf5" : "\xf4", 1); break;
    case RD_VNUMBER: cbor_number(b, v->u.n); break;
    case RD_VSTRING:
        cbor_head(b, 3, v->len);
        rd_strb_add(b, v->u.s, v->len);
        break;
    case RD_VARRAY:
        cbor_head(b, 4, v->len);
        for (uint32_t i = 0; i < v->len; i++)
            rd__cbor_encode(b, &v->u.items[i]);
        break;
    case RD_VOBJECT: {
        /* Deterministic order: entries sorted by the bytes of their encoded keys. */
        struct enc_key *keys = rd_arena_alloc(b->a, (v->len ? v->len : 1) * sizeof(*keys));
        if (!keys) {
            b->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < v->len; i++) {
            rd_strb kb;
            rd_strb_init(&kb, b->a);
            rd_value k = rd_value_string(v->u.members[i].key, v->u.members[i].key_len);
            rd__cbor_encode(&kb, &k);
            if (kb.oom) {
                b->oom = 1;
                return;
            }
            keys[i] = (struct enc_key){kb.p, kb.len, &v->u.members[i].val};
        }
        qsort(keys, v->len, sizeof(*keys), enc_key_cmp);
        cbor_head(b, 5, v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            rd_strb_add(b, keys[i].p, keys[i].len);
            rd__cbor_encode(b, keys[i].val);
        }
        break;
    }
    }
}

/* ---------------------------------------------------------------- sem_ver */

/* A parsed version: pointers into the normalised text. */
struct semver {
    const char *num[3];
    size_t num_len[3];
    const char *pre; /* prerelease without '-', NULL when none */
    size_t pre_len;
};

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool ident_ok(const char *s, size_t n, bool numeric_no_lead_zero)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-'))
            return false;
    }
    if (numeric_no_lead_zero && all_digits(s, n) && n > 1 && s[0] == '0')
        return false;
    return true;
}

/* Dot-separated identifiers, each valid. */
static bool idents_ok(const char *s, size_t n, bool is_pre)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (!ident_ok(s + i, j - i, is_pre))
            return false;
        i = j + 1;
    }
    return true;
}

/* Go's golang.org/x/mod/semver grammar after flagd prefixes a "v": vMAJOR[.MINOR[.PATCH
 * [-PRE][+BUILD]]]; shorthand forms take no prerelease or build. */
static bool semver_parse(const char *s, size_t n, struct semver *v)
{
    static const char zero[] = "0";
    if (n && (s[0] == 'v' || s[0] == 'V'))
        s++, n--;
    memset(v, 0, sizeof(*v));
    size_t i = 0;
    int parts = 0;
    while (parts < 3) {
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j == i || (j - i > 1 && s[i] == '0'))
            return false;
        v->num[parts] = s + i;
        v->num_len[parts] = j - i;
        parts++;
        i = j;
        if (i == n)
            break;
        if (s[i] != '.' || parts == 3)
            break;
        i++;
    }
    for (int k = parts; k < 3; k++) {
        v->num[k] = zero;
        v->num_len[k] = 1;
    }
    if (i == n)
        return true;
    if (parts < 3)
        return false;
    if (s[i] == '-') {
        size_t j = i + 1;
        while (j < n && s[j] != '+')
            j++;
        v->pre = s + i + 1;
        v->pre_len = j - i - 1;
        if (!idents_ok(v->pre, v->pre_len, true))
            return false;
        i = j;
    }
    if (i < n) {
        if (s[i] != '+' || !idents_ok(s + i + 1, n - i - 1, false))
            return false;
    }
    return true;
}

static int num_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    int r = memcmp(a, b, an);
    return (r > 0) - (r < 0);
}

static int pre_cmp(const struct semver *x, const struct semver *y)
{
    if (!x->pre || !y->pre)
        return x->pre ? -1 : y->pre ? 1 : 0;
    size_t i = 0, j = 0;
    while (i <= x->pre_len && j <= y->pre_len) {
        size_t ie = i, je = j;
        while (ie < x->pre_len && x->pre[ie] != '.')
            ie++;
        while (je < y->pre_len && y->pre[je] != '.')
            je++;
        const char *a = x->pre + i, *b = y->pre + j;
        size_t an = ie - i, bn = je - j;
        bool ad = all_digits(a, an), bd = all_digits(b, bn);
        int r;
        if (ad && bd) {
            r = num_cmp(a, an, b, bn);
        } else if (ad || bd) {
            r = ad ? -1 : 1;
        } else {
            size_t m = an < bn ? an : bn;
            r = memcmp(a, b, m);
            r = r ? (r > 0) - (r < 0) : (an > bn) - (an < bn);
        }
        if (r)
            return r;
        i = ie + 1;
        j = je + 1;
        bool xe = i > x->pre_len, ye = j > y->pre_len;
        if (xe || ye)
            return xe && ye ? 0 : xe ? -1 : 1;
    }
    return 0;
}

static int semver_cmp(const struct semver *x, const struct semver *y, int upto)
{
    for (int k = 0; k < upto; k++) {
        int r = num_cmp(x->num[k], x->num_len[k], y->num[k], y->num_len[k]);
        if (r)
            return r;
    }
    return upto == 3 ? pre_cmp(x, y) : 0;
}

static bool version_text(rd__ev *c, const rd_value *v, rd_value *out)
{
    if (v->type == RD_VSTRING) {
        *out = *v;
        return true;
    }
    if (v->type != RD_VNUMBER)
        return false;
    /* Go formats with %v, which writes an exponent (never valid SemVer) from 1e6 and below 1e-4. */
    double m = fabs(v->u.n);
    if (!isfinite(m) || m >= 1e6 || (m != 0 && m < 1e-4))
        return false;
    char num[RD_NUM_BUF];
    size_t n = rd_num_format(v->u.n, num);
    const char *p = rd_arena_strndup(c->scratch, num, n);
    if (!p)
        return false;
    *out = rd_value_string(p, (uint32_t)n);
    return true;
}

int rd__flagd_sem_ver(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    rd_value vs[2];
    struct semver x, y;
    if (n != 3 || a[1].type != RD_VSTRING || !version_text(c, &a[0], &vs[0]) ||
        !version_text(c, &a[2], &vs[1]))
        return null_result(out);
    if (!semver_parse(vs[0].u.s, vs[0].len, &x) || !semver_parse(vs[1].u.s, vs[1].len, &y))
        return null_result(out);
    const char *op = a[1].u.s;
    size_t ol = a[1].len;
    bool r;
    if (ol == 1 && op[0] == '=')
        r = semver_cmp(&x, &y, 3) == 0;
    else if (ol == 2 && !memcmp(op, "!=", 2))
        r = semver_cmp(&x, &y, 3) != 0;
    else if (ol == 1 && op[0] == '<')
        r = semver_cmp(&x, &y, 3) < 0;
    else if (ol == 2 && !memcmp(op, "<=", 2))
        r = semver_cmp(&x, &y, 3) <= 0;
    else if (ol == 1 && op[0] == '>')
        r = semver_cmp(&x, &y, 3) > 0;
    else if (ol == 2 && !memcmp(op, ">=", 2))
        r = semver_cmp(&x, &y, 3) >= 0;
    else if (ol == 1 && op[0] == '^')
        r = semver_cmp(&x, &y, 1) == 0;
    else if (ol == 1 && op[0] == '~')
        r = semver_cmp(&x, &y, 2) == 0;
    else
        return null_result(out);
    *out = rd_value_bool(r);
    return RD_OK;
}

/* ---------------------------------------------------------------- starts_with, ends_with */

int rd__flagd_str_affix(rd__ev *c, const rd_value *a, uint32_t n, bool prefix, rd_value *out)
{
    (void)c;
    if (n != 2 || a[0].type != RD_VSTRING || a[1].type != RD_VSTRING)
        return null_result(out);
    const rd_value *s = &a[0], *x = &a[1];
    bool r = x->len <= s->len && memcmp(prefix ? s->u.s : s->u.s + (s->len - x->len), x->u.s, x->len) == 0;
    *out = rd_value_bool(r);
    return RD_OK;
}
