/* static.c — in-memory static files with ETag and Cache-Control (see static.h).
 * Lookup is an exact match against the loaded set, so no request path can
 * reach a file outside the web root.
 *
 * Fingerprinting happens here, at load, not in a build step: every
 * "/static/NAME.EXT" that an HTML file names (double-quoted) is rewritten to
 * "/static/NAME.<16 hex of its content hash>.EXT", an alias of the same bytes
 * that is immutable for a year.  The pages themselves revalidate (no-cache +
 * ETag), so a changed asset is picked up on the next visit after a restart. */
#define _XOPEN_SOURCE 700
#include "http/static.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define MAX_FILE (16u << 20)

typedef struct {
    char *rel;
    char *data;
    size_t len;
    char etag[24];
    const char *ctype, *cache;
} file_t;

static file_t *files;
static size_t nfiles, capfiles;
static size_t root_len;

static const char *content_type(const char *name) {
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},
        {".ico", "image/x-icon"},              {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
        {".wav", "audio/wav"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* vendor/ bundles and names like app.3f9a1c2e.js never change under the same URL. */
static int immutable(const char *rel) {
    if (strncmp(rel, "vendor/", 7) == 0) return 1;
    const char *p = strchr(rel, '.');
    while (p) {
        size_t n = 0;
        while (p[1 + n] && strchr("0123456789abcdef", p[1 + n])) n++;
        if (n >= 8 && p[1 + n] == '.') return 1;
        p = strchr(p + 1, '.');
    }
    return 0;
}

static void set_etag(file_t *fl) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < fl->len; i++) h = (h ^ (unsigned char)fl->data[i]) * 1099511628211ull;
    snprintf(fl->etag, sizeof fl->etag, "\"%016llx\"", (unsigned long long)h);
}

static int add_file(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag != FTW_F || st->st_size > MAX_FILE) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    if (nfiles == capfiles) {
        capfiles = capfiles ? capfiles * 2 : 32;
        files = realloc(files, capfiles * sizeof *files);
    }
    file_t *fl = &files[nfiles];
    fl->len = (size_t)st->st_size;
    fl->data = malloc(fl->len + 1);
    if (fread(fl->data, 1, fl->len, f) != fl->len) {
        free(fl->data);
        fclose(f);
        return 0;
    }
    fclose(f);
    fl->rel = strdup(path + root_len + 1);
    set_etag(fl);
    fl->ctype = content_type(fl->rel);
    fl->cache = immutable(fl->rel) ? "public, max-age=31536000, immutable" : "no-cache";
    nfiles++;
    return 0;
}

static int is_page(const char *rel) {
    size_t l = strlen(rel);
    return l > 5 && strcmp(rel + l - 5, ".html") == 0;
}

static long find_index(const char *rel, size_t len) {
    for (size_t i = 0; i < nfiles; i++)
        if (strlen(files[i].rel) == len && memcmp(files[i].rel, rel, len) == 0) return (long)i;
    return -1;
}

/* The immutable alias "dir/name.<hash>.ext" of files[i], added once; NULL when
 * the name has no extension to put the hash before. */
static const char *alias_of(size_t i) {
    const char *rel = files[i].rel, *slash = strrchr(rel, '/');
    const char *dot = strrchr(slash ? slash + 1 : rel, '.');
    if (!dot || dot == (slash ? slash + 1 : rel)) return NULL;
    char name[1024];
    int n = snprintf(name, sizeof name, "%.*s.%.16s%s", (int)(dot - rel), rel, files[i].etag + 1, dot);
    if (n < 0 || (size_t)n >= sizeof name) return NULL;
    long j = find_index(name, (size_t)n);
    if (j >= 0) return files[j].rel;
    if (nfiles == capfiles) {
        capfiles *= 2;
        files = realloc(files, capfiles * sizeof *files);
    }
    file_t *a = &files[nfiles];
    *a = files[i]; /* the same bytes, ETag and type; never freed, so sharing is safe */
    a->rel = strdup(name);
    a->cache = "public, max-age=31536000, immutable";
    nfiles++;
    return a->rel;
}

static void fingerprint_page(size_t i) {
    static const char pre[] = "\"/static/";
    const char *p = files[i].data, *end = p + files[i].len;
    kf_buf_t b;
    kf_buf_init(&b);
    int changed = 0;
    for (;;) {
        const char *q = memmem(p, (size_t)(end - p), pre, sizeof pre - 1);
        const char *s = q ? q + sizeof pre - 1 : NULL;
        const char *e = s ? memchr(s, '"', (size_t)(end - s)) : NULL;
        if (!e) break;
        kf_buf_append(&b, p, (size_t)(s - p));
        long j = find_index(s, (size_t)(e - s));
        const char *alias = j >= 0 && !immutable(files[j].rel) && !is_page(files[j].rel) ? alias_of((size_t)j) : NULL;
        if (alias) {
            kf_buf_puts(&b, alias);
            changed = 1;
        } else {
            kf_buf_append(&b, s, (size_t)(e - s));
        }
        p = e;
    }
    kf_buf_append(&b, p, (size_t)(end - p));
    if (changed && !b.oom) {
        free(files[i].data);
        files[i].data = b.data;
        files[i].len = b.len;
        set_etag(&files[i]);
    } else {
        kf_buf_free(&b);
    }
}

int kf_static_load(const char *root, char *err, size_t errlen) {
    struct stat st;
    if (stat(root, &st) != 0) {
        snprintf(err, errlen, "web root %s does not exist", root);
        return -1;
    }
    root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/') root_len--;
    if (nftw(root, add_file, 16, FTW_PHYS) != 0) {
        snprintf(err, errlen, "cannot read web root %s", root);
        return -1;
    }
    for (size_t i = 0, n = nfiles; i < n; i++)
        if (is_page(files[i].rel)) fingerprint_page(i);
    return (int)nfiles;
}

size_t kf_static_count(void) { return nfiles; }

static const file_t *find(const char *rel, size_t len) {
    long i = find_index(rel, len);
    return i >= 0 ? &files[i] : NULL;
}

void kf_static_send(kf_req_t *r, const char *rel, size_t rel_len) {
    const file_t *f = find(rel, rel_len);
    if (!f) {
        kf_http_send_error(r, 404, "Not Found");
        return;
    }
    kf_http_add_header(r, "etag", f->etag);
    kf_http_add_header(r, "cache-control", f->cache);
    ssize_t i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i >= 0) {
        h2o_iovec_t v = r->h2o->headers.entries[i].value;
        if (h2o_contains_token(v.base, v.len, f->etag, strlen(f->etag), ',') || h2o_memis(v.base, v.len, H2O_STRLIT("*"))) {
            kf_http_send_static(r, 304, NULL, "", 0);
            return;
        }
    }
    kf_http_send_static(r, 200, f->ctype, f->data, f->len);
}
