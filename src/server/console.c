/* The web console at /ui/ (console/, docs/adr/0013-web-console.md): static files built by
 * console/build.mjs into build/gen/console_assets.inc and served from the binary, so the
 * console needs no Node.js at run time and loads nothing from anywhere else. The console only
 * reads and calls the API; every rule stays in the library. */
#include <string.h>

#include "server.h"

typedef struct srv_ui_asset {
    const char *path; /* "/ui/" for the index, "/ui/assets/NAME-HASH.EXT" for the rest */
    const char *content_type;
    const char *etag; /* quoted: the first 128 bits of the SHA-256 of the bytes, in hex */
    const unsigned char *data;
    size_t len;
    bool immutable; /* a content-hashed name: cached for a year */
} srv_ui_asset;

#include "console_assets.inc"

/* A page that runs no inline script and talks to no other origin: anything markup in data
 * shown by the console could smuggle in has nowhere to run and nowhere to send to. */
static const char *const ui_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "Referrer-Policy",
    "no-referrer",
    "X-Frame-Options",
    "DENY",
    NULL,
};
static const char *const ui_cache_index[] = {"Cache-Control", "no-cache", NULL};
static const char *const ui_cache_asset[] = {"Cache-Control", "public, max-age=31536000, immutable", NULL};
static const char *const ui_redirect[] = {"Location", "/ui/", NULL};

static const srv_ui_asset *find_asset(const char *path)
{
    if (!strcmp(path, "/ui/index.html"))
        path = "/ui/";
    for (size_t i = 0; i < sizeof ui_assets / sizeof ui_assets[0]; i++)
        if (!strcmp(ui_assets[i].path, path))
            return &ui_assets[i];
    return NULL;
}

void srv_route_ui(srv_req *r)
{
    r->headers[0] = ui_headers;
    if (!r->cfg->console) {
        srv_reply_error(r, 404, "NOT_FOUND", "%s: the console is off (console = off)", r->path);
        return;
    }
    if (!strcmp(r->path, "/ui")) { /* relative asset paths resolve under the slash */
        r->status = 308;
        r->headers[1] = ui_redirect;
        return;
    }
    const srv_ui_asset *a = strncmp(r->path, "/ui/", 4) ? NULL : find_asset(r->path);
    if (!a) {
        srv_reply_error(r, 404, "NOT_FOUND", "%s: no such page of the console (it starts at /ui/)", r->path);
        return;
    }
    r->headers[1] = a->immutable ? ui_cache_asset : ui_cache_index;
    snprintf(r->etag, sizeof r->etag, "%s", a->etag);
    if (r->if_none_match && srv_etag_matches(r->if_none_match, r->etag)) {
        r->status = 304;
        return;
    }
    r->status = 200;
    r->content_type = a->content_type;
    r->static_body = a->data;
    r->static_len = a->len;
}
