/* Published flag set versions into a Git repository, one commit and one tag (flags/v{N}) per
 * version, so GitOps tools and flagd's file sync can follow riskd.
 *
 * The git command does the work (Debian's git; no shell in between: posix_spawnp with an
 * argument vector). Commits carry the version's time and the change's author, so exporting
 * the same history twice gives the same commits; a version already tagged is skipped, so an
 * export can run after every publish. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "change_int.h"

extern char **environ;

#define MAX_ENV 256

typedef struct git_env {
    char *vars[MAX_ENV];
    char extra[6][160];
} git_env;

/* environ with the author and committer of v set (and GIT_* identity variables replaced). */
static void make_env(git_env *g, const rd_version_row *v)
{
    const char *author = v->author[0] ? v->author : v->published_by;
    snprintf(g->extra[0], sizeof g->extra[0], "GIT_AUTHOR_NAME=%s", author[0] ? author : "riskd");
    snprintf(g->extra[1], sizeof g->extra[1], "GIT_AUTHOR_EMAIL=%s@riskd", author[0] ? author : "riskd");
    snprintf(g->extra[2], sizeof g->extra[2], "GIT_COMMITTER_NAME=riskd");
    snprintf(g->extra[3], sizeof g->extra[3], "GIT_COMMITTER_EMAIL=riskd@localhost");
    snprintf(g->extra[4], sizeof g->extra[4], "GIT_AUTHOR_DATE=@%lld +0000", (long long)(v->ts_ms / 1000));
    snprintf(g->extra[5], sizeof g->extra[5], "GIT_COMMITTER_DATE=@%lld +0000", (long long)(v->ts_ms / 1000));
    size_t n = 0;
    for (size_t i = 0; i < 6; i++)
        g->vars[n++] = g->extra[i];
    for (char **e = environ; *e && n < MAX_ENV - 1; e++)
        if (strncmp(*e, "GIT_AUTHOR_", 11) != 0 && strncmp(*e, "GIT_COMMITTER_", 14) != 0 &&
            strncmp(*e, "GIT_DIR=", 8) != 0 && strncmp(*e, "GIT_WORK_TREE=", 14) != 0)
            g->vars[n++] = *e;
    g->vars[n] = NULL;
}

/* Run git with argv (NULL-terminated, argv[0] "git"); its stdout discarded. The exit status,
 * or -1 when it could not run. */
static int run_git(char *const argv[], char *const envp[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct collect {
    rd_version_row *v;
    size_t n, cap;
} collect;

static int collect_one(void *ud, const rd_version_row *v)
{
    collect *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        rd_version_row *p = rd_realloc(c->v, cap * sizeof *p);
        if (!p)
            return RD_ENOMEM;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = *v;
    return RD_OK;
}

static int ensure_repo(const char *dir, rd_err *err)
{
    struct stat st;
    if (stat(dir, &st) < 0 && mkdir(dir, 0755) < 0)
        return rd_err_set(err, RD_EIO, "%s: %s", dir, strerror(errno));
    char git[1100];
    snprintf(git, sizeof git, "%s/.git", dir);
    if (stat(git, &st) == 0)
        return RD_OK;
    char *argv[] = {"git", "init", "-q", "-b", "main", (char *)dir, NULL};
    return run_git(argv, NULL) == 0 ? RD_OK
                                    : rd_err_set(err, RD_EIO, "%s: git init failed (is git installed?)", dir);
}

static bool tagged(const char *dir, const char *tag)
{
    char ref[96];
    snprintf(ref, sizeof ref, "refs/tags/%s", tag);
    char *argv[] = {"git", "-C", (char *)dir, "rev-parse", "-q", "--verify", ref, NULL};
    return run_git(argv, NULL) == 0;
}

static void message(const rd_version_row *v, char *msg, size_t cap)
{
    if (v->change_id && !strcmp(v->how, "publish"))
        snprintf(msg, cap,
                 "flags v%lld: change request %lld\n\nchange-request: %lld\nauthor: %s\napproved-by: %s\n"
                 "published-by: %s\nsha256: %s\n",
                 (long long)v->version, (long long)v->change_id, (long long)v->change_id, v->author,
                 v->approvers, v->published_by, v->sha);
    else
        snprintf(msg, cap, "flags v%lld: %s by %s\n\nchange-request: %lld\nhow: %s\nby: %s\nsha256: %s\n",
                 (long long)v->version, v->how, v->published_by, (long long)v->change_id, v->how,
                 v->published_by, v->sha);
}

/* Commit and tag version v: the file written, added, committed, tagged. */
static int export_one(rd_store *s, const rd_version_row *v, const char *dir, const char *name, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_store_blob_get(s, v->sha, &text, &len, err);
    if (rc)
        return rc;
    char path[1200], tag[48], msg[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    rd_free(text);
    if (!ok)
        return rd_err_set(err, RD_EIO, "%s: cannot write: %s", path, strerror(errno));
    snprintf(tag, sizeof tag, "flags/v%lld", (long long)v->version);
    message(v, msg, sizeof msg);
    git_env g;
    make_env(&g, v);
    char *add[] = {"git", "-C", (char *)dir, "add", "--", (char *)name, NULL};
    char *commit[] = {"git", "-C", (char *)dir, "commit", "-q", "--allow-empty", "-m", msg, NULL};
    char *tagv[] = {"git", "-C", (char *)dir, "tag", "-a", tag, "-m", msg, NULL};
    if (run_git(add, g.vars) != 0 || run_git(commit, g.vars) != 0 || run_git(tagv, g.vars) != 0)
        return rd_err_set(err, RD_EIO, "%s: git could not commit and tag %s", dir, tag);
    return RD_OK;
}

int rd_change_export_git(rd_store *s, const char *target, const char *dir, size_t *added, rd_err *err)
{
    char t[1024], served[1024];
    *added = 0;
    if (!target || !*target) {
        ch_served_flags(s, served, sizeof served);
        target = served;
    }
    if (!*target)
        return rd_err_set(err, RD_EINVAL, "which flag file? give it (the store knows none served)");
    int rc = ch_canonical_path(target, t, sizeof t, err);
    if (rc || (rc = ensure_repo(dir, err)))
        return rc;
    collect c = {0};
    if ((rc = rd_store_version_list(s, "flags", t, 0, collect_one, &c, err)) == RD_ENOMEM)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    const char *slash = strrchr(t, '/');
    const char *name = slash ? slash + 1 : t;
    /* the list is newest first (by time); versions go in in their order */
    for (size_t i = c.n; !rc && i-- > 0;) {
        char tag[48];
        snprintf(tag, sizeof tag, "flags/v%lld", (long long)c.v[i].version);
        if (tagged(dir, tag))
            continue;
        if ((rc = export_one(s, &c.v[i], dir, name, err)) == RD_OK)
            (*added)++;
    }
    rd_free(c.v);
    if (!rc && c.n == 0)
        rc = rd_err_set(err, RD_ENOTFOUND, "%s: no published version to export", t);
    return rc;
}
