/* The flag file rewritten for a stage: only the targeting's span (and the shadow flag's
 * defaultVariant) changes, byte for byte everything else stays; a missing targeting is
 * inserted after defaultVariant, spaced like its neighbours; strings with escapes and braces,
 * the array form of flags and escaped keys are scanned right; a result that would not parse, a
 * targeting that is not one object, an absent flag are refused and nothing is written; the
 * compare-and-swap on the file's SHA-256; the file's mode kept; writers serialised by the lock
 * file; no temp file left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "riskd/rollout.h"

static char dir[64], path[128];
static char *orig;
static size_t orig_len;

static void write_file(const char *p, const char *text, size_t len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *p, size_t *len)
{
    char *t;
    assert_int_equal(rd_file_read(p, 0, &t, len, NULL), RD_OK);
    return t;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-flagfile-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/routing.json", dir);
    orig = read_all("examples/flags/routing.json", &orig_len);
    write_file(path, orig, orig_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    rd_free(orig);
    return 0;
}

/* out must be orig with [a, b) replaced by repl. */
static void assert_spliced(const char *out, size_t out_len, const char *in, size_t in_len, size_t a, size_t b,
                           const char *repl)
{
    size_t rl = strlen(repl);
    assert_int_equal(out_len, in_len - (b - a) + rl);
    assert_memory_equal(out, in, a);                       /* every byte before the span */
    assert_memory_equal(out + a, repl, rl);                /* the span */
    assert_memory_equal(out + a + rl, in + b, in_len - b); /* every byte after it */
}

/* The byte offset of the value of "targeting" within flag `key` of the example file. */
static void targeting_span(const char *text, const char *key, size_t *a, size_t *b)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\": {", key);
    const char *f = strstr(text, k);
    assert_non_null(f);
    const char *t = strstr(f, "\"targeting\": ");
    assert_non_null(t);
    t += strlen("\"targeting\": ");
    /* the example's targeting objects end at the first "}" that closes at depth 0 */
    int depth = 0;
    const char *e = t;
    do {
        depth += *e == '{' || *e == '[';
        depth -= *e == '}' || *e == ']';
        e++;
    } while (depth > 0);
    *a = (size_t)(t - text);
    *b = (size_t)(e - text);
}

static const char stage_t[] = "{\"fractional\":[[\"challenger\",5000],[\"champion\",95000]]}";

static void test_rewrite_only_the_span(void **state)
{
    (void)state;
    rd_buf out;
    rd_buf_init(&out);
    rd_err err = {0};
    assert_int_equal(
        rd_flagfile_rewrite(orig, orig_len, "credit-model-route", stage_t, NULL, NULL, &out, &err), RD_OK);
    size_t a, b;
    targeting_span(orig, "credit-model-route", &a, &b);
    assert_memory_equal(orig + a, "{\n        \"if\"", 14); /* the span found by hand is the targeting */
    assert_spliced(out.data, out.len, orig, orig_len, a, b, stage_t);

    /* and the shadow flag's defaultVariant too: two spans, the rest identical */
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "credit-model-route", stage_t, "credit-model-shadow",
                                         "none", &out, &err),
                     RD_OK);
    const char *sh = strstr(orig, "\"credit-model-shadow\"");
    const char *dv = strstr(sh, "\"defaultVariant\": \"challenger\"") + strlen("\"defaultVariant\": ");
    size_t c = (size_t)(dv - orig), d = c + strlen("\"challenger\"");
    assert_true(c > b);
    rd_buf want;
    rd_buf_init(&want);
    rd_buf_append(&want, orig, a);
    rd_buf_puts(&want, stage_t);
    rd_buf_append(&want, orig + b, c - b);
    rd_buf_puts(&want, "\"none\"");
    rd_buf_append(&want, orig + d, orig_len - d);
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    rd_buf_deinit(&want);
    rd_buf_deinit(&out);
}

/* legacy-scorecard-fallback has no targeting: one is inserted after its defaultVariant, on
 * its own line with the same indent. */
static void test_insert_targeting(void **state)
{
    (void)state;
    rd_buf out;
    rd_buf_init(&out);
    rd_err err = {0};
    const char *t = "{\"fractional\":[[\"on\",0],[\"off\",100000]]}";
    assert_int_equal(
        rd_flagfile_rewrite(orig, orig_len, "legacy-scorecard-fallback", t, NULL, NULL, &out, &err), RD_OK);
    const char *f = strstr(orig, "\"legacy-scorecard-fallback\"");
    const char *anchor = strstr(f, "\"defaultVariant\": \"off\"") + strlen("\"defaultVariant\": \"off\"");
    size_t at = (size_t)(anchor - orig);
    char ins[256];
    snprintf(ins, sizeof ins, ",\n      \"targeting\": %s", t);
    assert_spliced(out.data, out.len, orig, orig_len, at, at, ins);
    rd_buf_deinit(&out);
}

/* Strings holding braces, quotes and escapes before the span, the array form of "flags", an
 * escaped key, a compact file, a repeated key (the last one counts, as for the parser). */
static void test_scanner(void **state)
{
    (void)state;
    static const char text[] =
        "{\"metadata\":{\"note\":\"a \\\"quoted\\\" { brace [ and \\\\ \\u0022\"},\"flags\":["
        "{\"key\":\"other\",\"state\":\"ENABLED\",\"variants\":{\"a\":\"}\"},\"defaultVariant\":\"a\","
        "\"targeting\":{\"if\":[true,\"a\",null]}},"
        "{\"key\":\"r\\u0061te\",\"state\":\"ENABLED\",\"variants\":{\"a\":\"x\",\"b\":\"y\"},"
        "\"defaultVariant\":\"a\",\"targeting\":{},\"targeting\":{\"if\":[false,\"b\",null]}}]}";
    size_t len = strlen(text);
    rd_buf out;
    rd_buf_init(&out);
    rd_err err = {0};
    const char *t = "{\"fractional\":[[\"b\",1],[\"a\",99999]]}";
    if (rd_flagfile_rewrite(text, len, "rate", t, NULL, NULL, &out, &err) != RD_OK)
        fail_msg("%s", err.msg);
    const char *old = "{\"if\":[false,\"b\",null]}";
    size_t a = (size_t)(strstr(text, old) - text);
    assert_spliced(out.data, out.len, text, len, a, a + strlen(old), t);

    /* a compact object-form file without targeting: inserted with no spacing */
    static const char compact[] = "{\"flags\":{\"r\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":2},"
                                  "\"defaultVariant\":\"a\"}}}";
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(compact, strlen(compact), "r", t, NULL, NULL, &out, &err), RD_OK);
    assert_string_equal(
        out.data, "{\"flags\":{\"r\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":2},"
                  "\"defaultVariant\":\"a\",\"targeting\":{\"fractional\":[[\"b\",1],[\"a\",99999]]}}}}");
    /* no defaultVariant: after the variants */
    static const char nodef[] = "{\"flags\":{\"r\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":2}}}}";
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(nodef, strlen(nodef), "r", t, NULL, NULL, &out, &err), RD_OK);
    assert_string_equal(out.data, "{\"flags\":{\"r\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":2},"
                                  "\"targeting\":{\"fractional\":[[\"b\",1],[\"a\",99999]]}}}}");
    rd_buf_deinit(&out);
}

static void test_rewrite_refusals(void **state)
{
    (void)state;
    rd_buf out;
    rd_buf_init(&out);
    rd_err err = {0};
    /* a targeting naming no variant: the result would not parse strictly */
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "credit-model-route",
                                         "{\"fractional\":[[\"challengr\",1],[\"champion\",99999]]}", NULL,
                                         NULL, &out, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, "the result would be refused: flags.credit-model-route.targeting"));
    /* not one object: an attempt to add members, a bare value, not JSON */
    static const char *const bad[] = {"{\"if\":[true,\"champion\",null]}, \"state\": \"DISABLED\"", "[1]",
                                      "{", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rd_buf_reset(&out);
        assert_int_equal(
            rd_flagfile_rewrite(orig, orig_len, "credit-model-route", bad[i], NULL, NULL, &out, &err),
            RD_EINVAL);
        assert_non_null(
            strstr(err.msg, "flags.credit-model-route.targeting: the new targeting is not one JSON object"));
    }
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "no-such-flag", stage_t, NULL, NULL, &out, &err),
                     RD_EINVAL);
    assert_string_equal(err.msg, "flags.no-such-flag: not in the flag file");
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "credit-model-route", stage_t, "credit-model-shadw",
                                         "none", &out, &err),
                     RD_EINVAL);
    assert_string_equal(err.msg, "flags.credit-model-shadw: not in the flag file");
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "credit-model-route", stage_t, "credit-model-shadow",
                                         "nne", &out, &err),
                     RD_EINVAL);
    assert_non_null(
        strstr(err.msg, "flags.credit-model-shadow.defaultVariant: \"nne\" is not one of the variants"));
    rd_buf_reset(&out);
    assert_int_equal(rd_flagfile_rewrite("{\"flags\":", 9, "x", stage_t, NULL, NULL, &out, &err), RD_EPARSE);
    assert_non_null(strstr(err.msg, "flag file: "));
    rd_buf_deinit(&out);
}

static size_t entries(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_update_cas(void **state)
{
    (void)state;
    char sha[RD_SHA256_HEX], now[RD_SHA256_HEX], written[RD_SHA256_HEX];
    rd_err err = {0};
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(rd_flagfile_sha(path, sha, &err), RD_OK);
    rd_sha256_hex(orig, orig_len, now);
    assert_string_equal(sha, now);
    if (rd_flagfile_update(path, sha, "credit-model-route", stage_t, "credit-model-shadow", "none", written,
                           &err) != RD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(rd_flagfile_sha(path, now, &err), RD_OK);
    assert_string_equal(written, now);
    assert_string_not_equal(now, sha);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640); /* the mode kept */
    assert_int_equal(entries(), 2);             /* the file and its lock, no temp file */
    size_t len;
    char *text = read_all(path, &len);
    rd_buf want;
    rd_buf_init(&want);
    assert_int_equal(rd_flagfile_rewrite(orig, orig_len, "credit-model-route", stage_t, "credit-model-shadow",
                                         "none", &want, &err),
                     RD_OK);
    assert_int_equal(len, want.len);
    assert_memory_equal(text, want.data, len);
    rd_buf_deinit(&want);
    rd_free(text);

    /* a writer with the old SHA-256 lost the race: refused, the file untouched */
    assert_int_equal(rd_flagfile_update(path, sha, "credit-model-route",
                                        "{\"fractional\":[[\"challenger\",0],[\"champion\",100000]]}", NULL,
                                        NULL, written, &err),
                     RD_ECONFLICT);
    char msg[256];
    snprintf(msg, sizeof msg, "%s: changed since it was read (sha %.12s... now %.12s...)", path, sha, now);
    assert_non_null(strstr(err.msg, msg));
    char after[RD_SHA256_HEX];
    assert_int_equal(rd_flagfile_sha(path, after, &err), RD_OK);
    assert_string_equal(after, now);
    /* a change that would not parse: refused, untouched, nothing left behind */
    assert_int_equal(rd_flagfile_update(path, now, "credit-model-route", "{\"fractional\":[[\"nope\",1]]}",
                                        NULL, NULL, written, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(rd_flagfile_sha(path, after, &err), RD_OK);
    assert_string_equal(after, now);
    assert_int_equal(entries(), 2);
    /* NULL: whatever the file holds */
    assert_int_equal(rd_flagfile_update(path, NULL, "credit-model-route", stage_t, NULL, NULL, written, &err),
                     RD_OK);
    /* a file that is not there */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    assert_int_equal(
        rd_flagfile_update(missing, NULL, "credit-model-route", stage_t, NULL, NULL, written, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "none.json"));
}

/* Through a symbolic link: the target is rewritten, the link stays a link. */
static void test_update_symlink(void **state)
{
    (void)state;
    char link[160];
    snprintf(link, sizeof link, "%s/current.json", dir);
    assert_int_equal(symlink("routing.json", link), 0);
    rd_err err = {0};
    char written[RD_SHA256_HEX], now[RD_SHA256_HEX];
    assert_int_equal(rd_flagfile_update(link, NULL, "credit-model-route", stage_t, NULL, NULL, written, &err),
                     RD_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(rd_flagfile_sha(path, now, &err), RD_OK);
    assert_string_equal(now, written);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Another writer holds the lock: the update waits for it, then goes through. */
static void test_update_waits_for_the_lock(void **state)
{
    (void)state;
    char lock[160];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(lock, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        usleep(400000);
        _exit(0); /* exiting releases the lock */
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    double t0 = now_s();
    rd_err err = {0};
    char written[RD_SHA256_HEX];
    assert_int_equal(rd_flagfile_update(path, NULL, "credit-model-route", stage_t, NULL, NULL, written, &err),
                     RD_OK);
    double waited = now_s() - t0;
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (waited < 0.3)
        fail_msg("the update did not wait for the lock (%.3f s)", waited);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rewrite_only_the_span, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_targeting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_waits_for_the_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
