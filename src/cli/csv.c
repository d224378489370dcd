/* csv.c — RFC 4180 reader/writer and the labelled-file loader (csv.h). */
#include "cli/csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nlu/normalize.h"

struct kf_csv {
    char *name;
    char *buf;     /* whole input, NUL-terminated */
    size_t len, pos;
    long line;     /* current line (1-based) at pos */
    long rec_line; /* line where the last record started */
    char *field;   /* unescaped copy of the current record's fields */
    size_t fcap;
    char **fields;
    size_t *lens;
    size_t nf_cap;
};

static kf_csv_t *make(const char *name, char *buf, size_t len, char *err, size_t errlen) {
    kf_csv_t *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        free(buf);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    c->buf = buf;
    c->len = len;
    c->line = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c->pos = 3;
    return c;
}

kf_csv_t *kf_csv_open(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) break;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    return make(path, buf, len, err, errlen);
}

kf_csv_t *kf_csv_open_mem(const char *name, const char *data, size_t len, char *err, size_t errlen) {
    char *buf = malloc(len + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    return make(name, buf, len, err, errlen);
}

long kf_csv_line(const kf_csv_t *c) { return c->rec_line; }

void kf_csv_close(kf_csv_t *c) {
    if (!c) return;
    free(c->name);
    free(c->buf);
    free(c->field);
    free(c->fields);
    free(c->lens);
    free(c);
}

int kf_csv_next(kf_csv_t *c, char ***fields, size_t **lens, char *err, size_t errlen) {
    if (c->pos >= c->len) return 0;
    c->rec_line = c->line;
    /* The unescaped record is never longer than the raw text plus one NUL per field. */
    size_t need = 2 * (c->len - c->pos) + 2;
    if (need > c->fcap) {
        char *nf = realloc(c->field, need);
        if (!nf) goto oom;
        c->field = nf;
        c->fcap = need;
    }
    size_t o = 0, nf = 0, start = 0;
    const char *s = c->buf;
    for (;;) {
        /* one field */
        if (c->pos < c->len && s[c->pos] == '"') {
            c->pos++;
            for (;;) {
                if (c->pos >= c->len) {
                    snprintf(err, errlen, "%s:%ld: unterminated quoted field", c->name, c->rec_line);
                    return -1;
                }
                char ch = s[c->pos++];
                if (ch == '"') {
                    if (c->pos < c->len && s[c->pos] == '"') {
                        c->field[o++] = '"';
                        c->pos++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n') c->line++;
                c->field[o++] = ch;
            }
            if (c->pos < c->len && s[c->pos] != ',' && s[c->pos] != '\n' && s[c->pos] != '\r') {
                snprintf(err, errlen, "%s:%ld: unexpected character after closing quote", c->name, c->line);
                return -1;
            }
        } else {
            while (c->pos < c->len && s[c->pos] != ',' && s[c->pos] != '\n' && s[c->pos] != '\r')
                c->field[o++] = s[c->pos++];
        }
        if (nf == c->nf_cap) {
            size_t cap = c->nf_cap ? c->nf_cap * 2 : 8;
            char **f2 = realloc(c->fields, cap * sizeof *f2);
            if (!f2) goto oom;
            c->fields = f2;
            size_t *l2 = realloc(c->lens, cap * sizeof *l2);
            if (!l2) goto oom;
            c->lens = l2;
            c->nf_cap = cap;
        }
        c->lens[nf] = o - start;
        c->field[o++] = '\0';
        c->fields[nf++] = (char *)(uintptr_t)start; /* offsets now, pointers below */
        start = o;
        if (c->pos < c->len && s[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && s[c->pos] == '\r') c->pos++;
        if (c->pos < c->len && s[c->pos] == '\n') c->pos++;
        c->line++;
        break;
    }
    for (size_t i = 0; i < nf; i++) c->fields[i] = c->field + (uintptr_t)c->fields[i];
    *fields = c->fields;
    *lens = c->lens;
    return (int)nf;
oom:
    snprintf(err, errlen, "%s:%ld: out of memory", c->name, c->rec_line);
    return -1;
}

void kf_csv_write_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void trim(char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

long kf_cli_load_labeled_csv(const char *path, kf_nlu_dataset_t *d, char *err, size_t errlen) {
    kf_csv_t *c = kf_csv_open(path, err, errlen);
    if (!c) return -1;
    char **f;
    size_t *l;
    int n = kf_csv_next(c, &f, &l, err, errlen);
    long added = -1;
    if (n < 0) goto out;
    if (n == 0) {
        snprintf(err, errlen, "%s: empty file (expected a header row: text,label)", path);
        goto out;
    }
    if (n < 2) {
        snprintf(err, errlen, "%s:%ld: header has %d column; expected two (text,label)", path, kf_csv_line(c), n);
        goto out;
    }
    added = 0;
    while ((n = kf_csv_next(c, &f, &l, err, errlen)) > 0) {
        long line = kf_csv_line(c);
        if (n == 1 && l[0] == 0) continue; /* blank line */
        if (n < 2) {
            snprintf(err, errlen, "%s:%ld: missing label column (expected text,label)", path, line);
            added = -1;
            break;
        }
        char *text = f[0], *label = f[1];
        size_t tl = l[0], ll = l[1];
        trim(&label, &ll);
        if (kf_nlu_utf8_len(text, tl) < 0 || kf_nlu_utf8_len(label, ll) < 0) {
            snprintf(err, errlen, "%s:%ld: invalid UTF-8", path, line);
            added = -1;
            break;
        }
        if (memchr(text, 0, tl) || memchr(label, 0, ll)) {
            snprintf(err, errlen, "%s:%ld: NUL byte in field", path, line);
            added = -1;
            break;
        }
        if (ll == 0) {
            snprintf(err, errlen, "%s:%ld: empty label", path, line);
            added = -1;
            break;
        }
        char *t2 = text;
        size_t tl2 = tl;
        trim(&t2, &tl2);
        if (tl2 == 0) {
            snprintf(err, errlen, "%s:%ld: empty text", path, line);
            added = -1;
            break;
        }
        if (kf_nlu_dataset_add(d, text, tl, label, ll) < 0) {
            snprintf(err, errlen, "%s:%ld: out of memory", path, line);
            added = -1;
            break;
        }
        added++;
    }
    if (n < 0) added = -1;
out:
    kf_csv_close(c);
    return added;
}
