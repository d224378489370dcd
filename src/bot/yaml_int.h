/* yaml_int.h — private to src/bot/: the in-memory bot (struct kf_bot) and the
 * libyaml helpers shared by the intents loader (bot.c), the flows loader
 * (flows.c) and the canned responses loader (canned.c).  Every helper reports
 * "file:line: what" through a ctx_t so all loaders give the same quality of
 * errors.  Not for callers outside src/bot. */
#ifndef KF_BOT_YAML_INT_H
#define KF_BOT_YAML_INT_H

#include <dirent.h>
#include <stddef.h>
#include <yaml.h>

#include "bot/bot.h"
#include "bot/flow.h"

typedef struct {
    const char *text, *lang, *file;
    int line;
    size_t intent;
    int repeat; /* the same phrase earlier in the same intent and language: not trained on twice */
} example_t;

typedef struct {
    char *name, *skill;
    const char *file;
    int line;
    size_t first_ex, n_ex; /* a run in bot->ex: one intent's examples are contiguous */
    int broken;            /* collect mode: its examples failed to load (and were reported) */
} intent_t;

typedef struct {
    kf_bot_response_t r;
    const char *file;
    int line;
} resp_t;

typedef struct {
    const char *payload, *file;
    int line;
} qref_t;

typedef struct {
    char *name;
    double v;
} threshold_t;

typedef struct {
    kf_bot_canned_t c;
    const char *file;
    int line; /* of its id */
} canned_t;

/* Collect mode (`kefu check`): an error ("file:line: what") goes to diag and
 * loading goes on with the next intent, flow, step or file. */
typedef void (*kf_boty_diag_fn)(void *ud, const char *msg);

struct kf_bot {
    kf_boty_diag_fn diag; /* NULL: stop at the first error */
    void *diag_ud;
    size_t n_diag;        /* errors handed to diag so far */
    char *name, *default_lang;
    char **langs, **skills, **files, **strs;
    size_t n_langs, n_skills, n_files, cap_files, n_strs, cap_strs;
    threshold_t *th;
    size_t n_th;
    intent_t *intents;
    size_t n_intents, cap_intents;
    example_t *ex;
    size_t n_ex, cap_ex;
    resp_t *resps;
    size_t n_resps, cap_resps;
    resp_t *pending; /* top-level `responses:` entries, resolved after all intents */
    size_t n_pending, cap_pending;
    qref_t *qrefs;
    size_t n_qrefs, cap_qrefs;
    void **blocks; /* variation and quick-reply arrays */
    size_t n_blocks, cap_blocks;
    kf_flow_t *flows;
    size_t n_flows, cap_flows;
    kf_bot_webhook_t *hooks; /* bot.yml webhooks: */
    size_t n_hooks;
    void **codes; /* compiled regexes (pcre2_code *), freed with the bot */
    size_t n_codes, cap_codes;
    canned_t *canned; /* canned.yml, in file order */
    size_t n_canned, cap_canned;
};

typedef struct {
    kf_bot_t *b;
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} ctx_t;

int kf_boty_grow(void **arr, size_t *cap, size_t n, size_t elem);
#define KF_BOTY_GROW(b, field) \
    kf_boty_grow((void **)&(b)->field, &(b)->cap_##field, (b)->n_##field, sizeof *(b)->field)

void kf_boty_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets "file:line: what" for node n (line 1 when n is NULL); returns -1. */
int kf_boty_fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies kept until kf_bot_free. */
char *kf_boty_keep(kf_bot_t *b, const char *s);
void *kf_boty_keep_block(kf_bot_t *b, size_t size); /* zeroed */
int kf_boty_line(const yaml_node_t *n);
/* After a failed part: in collect mode hands err to b->diag, clears it and
 * returns 0 (go on); otherwise returns -1 (stop). */
int kf_boty_caught(kf_bot_t *b, char *err);
/* kf_bot_load in collect mode: every error goes to diag.  Returns what could
 * be loaded (NULL when bot.yml itself is unusable, or out of memory). */
kf_bot_t *kf_boty_load_collect(const char *dir, kf_boty_diag_fn diag, void *ud);
const char *kf_boty_kind(const yaml_node_t *n);
/* Node n must be of type t (a mapping must also have no repeated key). */
int kf_boty_want(ctx_t *c, const yaml_node_t *n, yaml_node_type_t t, const char *what);
/* A non-empty string scalar. */
int kf_boty_str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out);
int kf_boty_ident_ok(const char *s);
int kf_boty_in_list(char **list, size_t n, const char *s);

/* Walks template T: emit gets literal runs and slot values; lookup (even with
 * emit NULL) is called for each placeholder.  Returns NULL or why T is bad. */
typedef int (*kf_boty_emit_fn)(void *st, const char *s, size_t n);
const char *kf_boty_scan_template(const char *t, kf_bot_slot_fn lookup, void *ud, kf_boty_emit_fn emit, void *st);
/* A response variation: a string or {text, quick_replies}; "/intent" payloads are checked at the end. */
int kf_boty_load_variation(ctx_t *c, yaml_node_t *n, kf_bot_variation_t *v);

/* Parses every YAML document of PATH and hands its root to fn.  A missing
 * file is an error only when required. */
typedef int (*kf_boty_doc_fn)(ctx_t *c, yaml_node_t *root);
int kf_boty_load_file(kf_bot_t *b, const char *path, kf_boty_doc_fn fn, int required, char *err, size_t errlen);
/* scandir() filter and order for *.yml / *.yaml files. */
int kf_boty_yml_name(const struct dirent *d);
int kf_boty_byte_order(const struct dirent **a, const struct dirent **b);

/* flows.c: loads DIR/flows/NAME.yml files (absent folder: no flows) after all intents; frees what only flows own. */
int kf_boty_load_flows(kf_bot_t *b, const char *dir, char *err, size_t errlen);
void kf_boty_free_flows(kf_bot_t *b);
/* canned.c: loads DIR/canned.yml (absent: no canned responses) after bot.yml. */
int kf_boty_load_canned(kf_bot_t *b, const char *dir, char *err, size_t errlen);

#endif
