/* HTTPS and mutual TLS for riskd serve, through libmicrohttpd's GnuTLS support: the server
 * certificate and key, the CA client certificates are verified against, and their reload.
 *
 * Invariants: the credentials in force (T.cur) are immutable and refcounted. Each handshake
 * takes a reference under T.lock from the certificate callback (GnuTLS keeps using the
 * certificate and key it was handed, without a reference of its own, until gnutls_deinit),
 * and the connection keeps it until libmicrohttpd reports the connection closed, which
 * 0.9.75 does after gnutls_deinit. A reload builds the next credentials aside, checks them
 * whole (the key matches the certificate, the CA bundle parses) and swaps the pointer under
 * the lock; the old ones are freed by the last connection that handshook with them. A refused
 * file is logged once and not retried until it changes again. Only the main thread loads and
 * polls; a connection's state is touched only by the worker thread that owns the connection. */
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/arena.h"
#include "riskd/hash.h"
#include "server.h"

/* TLS 1.2 and 1.3 only: GnuTLS's NORMAL set without the older versions. */
#define PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define MAX_PEM    (1u << 20)
#define MAX_CHAIN  8 /* client certificates checked per chain; a longer chain is refused */

typedef struct creds {
    atomic_int refs;
    uint64_t generation;
    gnutls_pcert_st *pcerts; /* the server certificate chain, leaf first */
    unsigned npcerts;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t ca; /* NULL without tls_client_ca */
    char subject[256];           /* the server certificate's subject DN */
    time_t not_before, not_after;
} creds;

/* A connection's TLS state (libmicrohttpd's socket context). */
typedef struct conn_tls {
    creds *served;    /* what the handshake was given: held until the connection closes */
    uint64_t checked; /* the credentials generation the client certificate was checked against */
    srv_tls_client client;
    char cn[256];
    char why[160];
} conn_tls;

static struct {
    const srv_config *cfg;
    bool on;
    pthread_mutex_t lock;
    creds *cur;
    atomic_uint_fast64_t generation;
    gnutls_certificate_credentials_t sync_cred; /* the sync service's sessions' (made on first use) */
    char *seen;                                 /* fingerprint of the files last loaded or refused */
    char *pending; /* a fingerprint first seen at the last poll, loaded if it holds still */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------------ credentials */

static void creds_unref(creds *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < c->npcerts; i++)
        gnutls_pcert_deinit(&c->pcerts[i]);
    rd_free(c->pcerts);
    if (c->key)
        gnutls_privkey_deinit(c->key);
    if (c->ca)
        gnutls_x509_trust_list_deinit(c->ca, 1);
    rd_free(c);
}

/* The credentials in force with a reference for the caller, NULL when TLS is off. */
static creds *creds_acquire(void)
{
    pthread_mutex_lock(&T.lock);
    creds *c = T.cur;
    if (c)
        atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&T.lock);
    return c;
}

bool srv_tls_not_after(int64_t *not_after_ms, char *subject, size_t cap)
{
    creds *c = creds_acquire();
    if (!c)
        return false;
    *not_after_ms = (int64_t)c->not_after * 1000;
    snprintf(subject, cap, "%s", c->subject);
    creds_unref(c);
    return true;
}

static void publish(creds *c)
{
    pthread_mutex_lock(&T.lock);
    creds *old = T.cur;
    c->generation = atomic_load(&T.generation) + 1;
    T.cur = c;
    atomic_store(&T.generation, c->generation);
    pthread_mutex_unlock(&T.lock);
    creds_unref(old);
}

/* A PEM file's bytes as a GnuTLS datum (*buf to rd_free); the error names the key and file. */
static int read_pem(const char *key, const char *path, char **buf, gnutls_datum_t *d, rd_err *err)
{
    size_t len;
    int rc = rd_file_read(path, MAX_PEM, buf, &len, err);
    if (rc) {
        rd_err_prefix(err, "%s", key);
        return rc;
    }
    d->data = (unsigned char *)*buf;
    d->size = (unsigned)len;
    return RD_OK;
}

static void crt_dates(creds *c, gnutls_x509_crt_t leaf)
{
    c->not_before = gnutls_x509_crt_get_activation_time(leaf);
    c->not_after = gnutls_x509_crt_get_expiration_time(leaf);
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_get_dn3(leaf, &dn, 0) >= 0)
        snprintf(c->subject, sizeof c->subject, "%.*s", (int)dn.size, (const char *)dn.data);
    gnutls_free(dn.data);
}

/* tls_cert: the chain, leaf first, into c->pcerts. */
static int load_cert(creds *c, const char *path, rd_err *err)
{
    char *buf;
    gnutls_datum_t d;
    int rc = read_pem("tls_cert", path, &buf, &d, err);
    if (rc)
        return rc;
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    int g = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    rd_free(buf);
    if (g < 0 || n == 0)
        return rd_err_set(err, RD_EINVAL, "tls_cert %s: no PEM certificate in it (%s)", path,
                          g < 0 ? gnutls_strerror(g) : "empty");
    crt_dates(c, crts[0]);
    rc = (c->pcerts = rd_calloc(n, sizeof *c->pcerts)) ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
    if (!rc && (g = gnutls_pcert_import_x509_list(c->pcerts, crts, &n, 0)) < 0)
        rc = rd_err_set(err, RD_EINVAL, "tls_cert %s: %s", path, gnutls_strerror(g));
    if (!rc)
        c->npcerts = n;
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    return rc;
}

/* Whether key is the private half of the public key pub (their SHA-256 key IDs agree). */
static bool key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub)
{
    gnutls_pubkey_t mine;
    unsigned char a[64], b[64];
    size_t na = sizeof a, nb = sizeof b;
    if (gnutls_pubkey_init(&mine) < 0)
        return false;
    bool ok = gnutls_pubkey_import_privkey(mine, key, 0, 0) >= 0 &&
              gnutls_pubkey_get_key_id(mine, GNUTLS_KEYID_USE_SHA256, a, &na) >= 0 &&
              gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, b, &nb) >= 0 && na == nb &&
              memcmp(a, b, na) == 0;
    gnutls_pubkey_deinit(mine);
    return ok;
}

/* tls_key, checked against the certificate already loaded. */
static int load_key(creds *c, const srv_config *cfg, rd_err *err)
{
    char *buf;
    gnutls_datum_t d;
    int rc = read_pem("tls_key", cfg->tls_key, &buf, &d, err);
    if (rc)
        return rc;
    int g = gnutls_privkey_init(&c->key);
    if (g >= 0)
        g = gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    rd_free(buf);
    if (g < 0)
        return rd_err_set(err, RD_EINVAL, "tls_key %s: no unencrypted PEM private key in it (%s)",
                          cfg->tls_key, gnutls_strerror(g));
    if (!key_matches(c->key, c->pcerts[0].pubkey))
        return rd_err_set(err, RD_EINVAL, "tls_key %s does not match the certificate in tls_cert %s",
                          cfg->tls_key, cfg->tls_cert);
    return RD_OK;
}

static int load_ca(creds *c, const char *path, rd_err *err)
{
    char *buf;
    gnutls_datum_t d;
    int rc = read_pem("tls_client_ca", path, &buf, &d, err);
    if (rc)
        return rc;
    int g = gnutls_x509_trust_list_init(&c->ca, 0);
    if (g >= 0)
        g = gnutls_x509_trust_list_add_trust_mem(c->ca, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    rd_free(buf);
    if (g <= 0)
        return rd_err_set(err, RD_EINVAL, "tls_client_ca %s: no PEM CA certificate in it%s%s%s", path,
                          g < 0 ? " (" : "", g < 0 ? gnutls_strerror(g) : "", g < 0 ? ")" : "");
    return RD_OK;
}

/* The credentials built from the files (one reference for the caller), or NULL with err
 * filled and *bad naming the file at fault. */
static creds *creds_load(const srv_config *cfg, const char **bad, rd_err *err)
{
    creds *c = rd_calloc(1, sizeof *c);
    if (!c) {
        *bad = cfg->tls_cert;
        rd_err_set(err, RD_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    int rc;
    if ((rc = load_cert(c, cfg->tls_cert, err)))
        *bad = cfg->tls_cert;
    else if ((rc = load_key(c, cfg, err)))
        *bad = cfg->tls_key;
    else if (cfg->tls_client_ca[0] && (rc = load_ca(c, cfg->tls_client_ca, err)))
        *bad = cfg->tls_client_ca;
    if (rc) {
        creds_unref(c);
        return NULL;
    }
    return c;
}

static void utc(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An expired (or not yet valid) certificate still serves: refusing to start would turn a
 * certificate that lapsed overnight into an outage of every client, including those that do
 * not check dates; replacing the files is picked up without a restart. */
static void warn_validity(const creds *c, const char *path)
{
    time_t now = time(NULL);
    char when[32];
    if (c->not_after < now) {
        utc(c->not_after, when, sizeof when);
        srv_log(SRV_WARN, "the server certificate has expired: clients that check it refuse the connection",
                "file", path, "not_after", when, NULL);
    } else if (c->not_before > now) {
        utc(c->not_before, when, sizeof when);
        srv_log(SRV_WARN,
                "the server certificate is not valid yet: clients that check it refuse the connection",
                "file", path, "not_before", when, NULL);
    }
}

/* ------------------------------------------------------------------ start, reload, stop */

/* The files' content as SHA-256 digests: a rename, a rewrite or a copy over them is seen; a
 * touch that changes nothing is not. */
static char *fingerprint(const srv_config *cfg)
{
    const char *paths[] = {cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca};
    rd_buf b;
    rd_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        char hex[RD_SHA256_HEX];
        if (!paths[i][0] || rd_sha256_file(paths[i], hex, NULL))
            snprintf(hex, sizeof hex, "%s", paths[i][0] ? "unreadable" : "none");
        rd_buf_printf(&b, "%s;", hex);
    }
    char *s = b.oom ? NULL : rd_strndup(rd_buf_cstr(&b), b.len);
    rd_buf_deinit(&b);
    return s;
}

int srv_tls_init(const srv_config *cfg, rd_err *err)
{
    rd_err local;
    if (!err)
        err = &local;
    T.cfg = cfg;
    if (!cfg->tls_cert[0])
        return RD_OK;
    T.seen = fingerprint(cfg); /* before the load: a change during it is seen at the next poll */
    const char *bad;
    creds *c = creds_load(cfg, &bad, err);
    if (!c) {
        rd_free(T.seen);
        T.seen = NULL;
        return err->code;
    }
    warn_validity(c, cfg->tls_cert);
    publish(c);
    T.on = true;
    return RD_OK;
}

void srv_tls_deinit(void)
{
    pthread_mutex_lock(&T.lock);
    creds *c = T.cur;
    T.cur = NULL;
    pthread_mutex_unlock(&T.lock);
    creds_unref(c);
    if (T.sync_cred) /* the sync service stopped before: no session uses it */
        gnutls_certificate_free_credentials(T.sync_cred);
    T.sync_cred = NULL;
    rd_free(T.seen);
    rd_free(T.pending);
    T.seen = T.pending = NULL;
    T.on = false;
}

bool srv_tls_on(void) { return T.on; }

static void reload(void)
{
    const char *bad = NULL;
    rd_err e;
    creds *c = creds_load(T.cfg, &bad, &e);
    if (!c) {
        srv_log(SRV_ERROR, "TLS files refused, the last good certificate keeps serving", "file", bad, "error",
                e.msg, "code", rd_err_name(e.code), NULL);
        srv_metrics_reload("tls", false);
        srv_metrics_refusal("tls", e.msg);
        return;
    }
    warn_validity(c, T.cfg->tls_cert);
    char until[32];
    utc(c->not_after, until, sizeof until);
    publish(c);
    srv_metrics_reload("tls", true);
    srv_metrics_refusal("tls", NULL);
    srv_log(SRV_INFO, "TLS certificate reloaded", "file", T.cfg->tls_cert, "subject", c->subject, "not_after",
            until, NULL);
}

void srv_tls_poll(bool force)
{
    if (!T.on)
        return;
    char *now = fingerprint(T.cfg);
    if (!now)
        return; /* out of memory: try at the next poll */
    if (!force && T.seen && !strcmp(T.seen, now)) {
        rd_free(T.pending);
        rd_free(now);
        T.pending = NULL;
        return;
    }
    if (!force && (!T.pending || strcmp(T.pending, now) != 0)) {
        rd_free(T.pending); /* changed since the last poll: let it hold still for one more */
        T.pending = now;
        return;
    }
    rd_free(T.pending);
    rd_free(T.seen);
    T.pending = NULL;
    T.seen = now;
    reload();
}

void srv_tls_describe(void)
{
    const srv_config *cfg = T.cfg;
    creds *c = creds_acquire();
    if (!c) {
        printf("tls        off (plain HTTP)\n");
        return;
    }
    char until[32];
    utc(c->not_after, until, sizeof until);
    printf("tls        https, TLS 1.2 and 1.3: cert %s (%s, %s %s), key %s\n", cfg->tls_cert, c->subject,
           c->not_after < time(NULL) ? "EXPIRED" : "valid until", until, cfg->tls_key);
    if (!cfg->tls_client_ca[0])
        printf("mtls       off (no tls_client_ca)\n");
    else if (!strcmp(cfg->mtls, "admin"))
        printf("mtls       admin: routes under %s need a client certificate from %s\n", SRV_ADMIN_PREFIX,
               cfg->tls_client_ca);
    else
        printf("mtls       all: every route needs a client certificate from %s\n", cfg->tls_client_ca);
    creds_unref(c);
}

/* ------------------------------------------------------------------ handshakes and connections */

static conn_tls *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return ci ? ci->socket_context : NULL;
}

/* The certificate a handshake presents: the credentials *held (taken in force on the first
 * handshake, kept by the connection until it closes, so a renegotiation presents the same). */
static int present(creds **held, gnutls_pcert_st **pcert, unsigned int *pcert_length,
                   gnutls_privkey_t *privkey)
{
    if (!*held && !(*held = creds_acquire()))
        return -1;
    *pcert = (*held)->pcerts;
    *pcert_length = (*held)->npcerts;
    *privkey = (*held)->key;
    return 0;
}

/* GnuTLS asks which certificate to present (gnutls_certificate_retrieve_function2): the one in
 * force, with a reference the connection keeps until it closes. A second handshake on the
 * same connection (renegotiation) presents the same one. */
static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    conn_tls *ct = conn_of(gnutls_session_get_ptr(session));
    /* no connection state (out of memory): the handshake fails */
    return ct ? present(&ct->served, pcert, pcert_length, privkey) : -1;
}

void srv_tls_daemon_options(struct MHD_OptionItem *opt)
{
    opt[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)PRIORITIES};
    opt[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)retrieve};
    opt[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

void srv_tls_connection_started(struct MHD_Connection *c, void **socket_context)
{
    if (!T.on)
        return;
    *socket_context = rd_calloc(1, sizeof(conn_tls)); /* NULL: retrieve() fails the handshake */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    /* Ask every client for a certificate, without requiring one: the routes that need one
     * answer 401 with a reason instead of a bare handshake failure. The daemon's own
     * credentials hold no CA (the CA is ours, reloadable), so the request names none and
     * clients send whatever certificate they have. */
    if (ci && T.cfg->tls_client_ca[0])
        gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session, GNUTLS_CERT_REQUEST);
}

void srv_tls_connection_closed(void **socket_context)
{
    conn_tls *ct = *socket_context;
    if (!ct)
        return;
    creds_unref(ct->served); /* libmicrohttpd has deinitialised the session by now */
    rd_free(ct);
    *socket_context = NULL;
}

/* The peer's chain, as sent, verified against ca (dates, signatures, and the clientAuth
 * purpose when the certificate states its purposes). */
static srv_tls_client verify_peer(gnutls_x509_trust_list_t ca, gnutls_session_t s, conn_tls *ct)
{
    unsigned n = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers(s, &n);
    if (!raw || n == 0)
        return SRV_TLS_CLIENT_NONE;
    gnutls_x509_crt_t chain[MAX_CHAIN];
    unsigned k = 0;
    for (; k < n && k < MAX_CHAIN; k++) {
        if (gnutls_x509_crt_init(&chain[k]) < 0)
            break;
        if (gnutls_x509_crt_import(chain[k], &raw[k], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(chain[k]);
            break;
        }
    }
    unsigned status = GNUTLS_CERT_INVALID;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    if (k == n && gnutls_x509_trust_list_verify_crt2(ca, chain, k, &purpose, 1, 0, &status, NULL) < 0)
        status = GNUTLS_CERT_INVALID;
    srv_tls_client r = status == 0 ? SRV_TLS_CLIENT_VALID : SRV_TLS_CLIENT_INVALID;
    size_t cap = sizeof ct->cn;
    if (r == SRV_TLS_CLIENT_VALID &&
        gnutls_x509_crt_get_dn_by_oid(chain[0], GNUTLS_OID_X520_COMMON_NAME, 0, 0, ct->cn, &cap) < 0)
        ct->cn[0] = 0;
    gnutls_datum_t text = {NULL, 0};
    if (r == SRV_TLS_CLIENT_INVALID) {
        if (k < n)
            snprintf(ct->why, sizeof ct->why,
                     "a chain of more than %d certificates, or one that does not parse", MAX_CHAIN);
        else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
            while (text.size && text.data[text.size - 1] == ' ') /* GnuTLS ends each sentence with one */
                text.size--;
            snprintf(ct->why, sizeof ct->why, "%.*s", (int)text.size, (const char *)text.data);
        }
    }
    gnutls_free(text.data);
    for (unsigned i = 0; i < k; i++)
        gnutls_x509_crt_deinit(chain[i]);
    return r;
}

srv_tls_client srv_tls_client_check(struct MHD_Connection *c, const char **cn, const char **why)
{
    *cn = *why = NULL;
    conn_tls *ct = conn_of(c);
    if (!ct || !T.cfg->tls_client_ca[0])
        return SRV_TLS_CLIENT_NONE;
    if (ct->checked != atomic_load(&T.generation)) { /* first request, or the CA was reloaded */
        creds *cr = creds_acquire();
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        ct->cn[0] = ct->why[0] = 0;
        ct->client =
            cr && ci ? verify_peer(cr->ca, (gnutls_session_t)ci->tls_session, ct) : SRV_TLS_CLIENT_NONE;
        ct->checked = cr ? cr->generation : 0;
        creds_unref(cr);
    }
    if (ct->client == SRV_TLS_CLIENT_VALID)
        *cn = ct->cn;
    else if (ct->client == SRV_TLS_CLIENT_INVALID)
        *why = ct->why;
    return ct->client;
}

/* ------------------------------------------------------------------ the sync service's sessions */

/* The certificate of a sync connection's handshake: the credentials in force, held by the
 * session (its pointer) until srv_tls_session_free, as retrieve() does for HTTP connections. */
static int retrieve_sync(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                         unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    creds **held = gnutls_session_get_ptr(session);
    return held ? present(held, pcert, pcert_length, privkey) : -1;
}

int srv_tls_session_new(int fd, void **session)
{
    if (!T.sync_cred) {
        if (gnutls_certificate_allocate_credentials(&T.sync_cred) < 0)
            return RD_ENOMEM;
        gnutls_certificate_set_retrieve_function2(T.sync_cred, retrieve_sync);
    }
    creds **held = rd_calloc(1, sizeof(creds *));
    gnutls_session_t s = NULL;
    gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
    if (!held || gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
        rd_free(held);
        return RD_ENOMEM;
    }
    gnutls_session_set_ptr(s, held);
    if (gnutls_priority_set_direct(s, PRIORITIES, NULL) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, T.sync_cred) < 0 ||
        gnutls_alpn_set_protocols(s, &h2, 1, GNUTLS_ALPN_SERVER_PRECEDENCE) < 0) {
        srv_tls_session_free(s);
        return RD_EINTERNAL;
    }
    if (T.cfg->tls_client_ca[0] && !strcmp(T.cfg->mtls, "all")) /* checked by srv_tls_session_client */
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    gnutls_transport_set_int(s, fd);
    *session = s;
    return RD_OK;
}

void srv_tls_session_free(void *session)
{
    if (!session)
        return;
    creds **held = gnutls_session_get_ptr(session);
    gnutls_deinit(session);
    if (held)
        creds_unref(*held);
    rd_free(held);
}

srv_tls_client srv_tls_session_client(void *session, char *why, size_t cap)
{
    conn_tls ct = {0};
    creds *cr = creds_acquire();
    srv_tls_client r = cr && cr->ca ? verify_peer(cr->ca, session, &ct) : SRV_TLS_CLIENT_NONE;
    creds_unref(cr);
    snprintf(why, cap, "%s", r == SRV_TLS_CLIENT_NONE ? "no client certificate" : ct.why);
    return r;
}
