/* dialogue_json.c — the dialogue state's JSON text (engine/dialogue.h): the
 * session store keeps a conversation's state as text, so it is written and
 * read once for every customer message.  Both directions avoid cJSON on that
 * path: the writer appends to a kf_buf, and a strict reader takes back
 * exactly the text the writer gives.  Any other text (older writers, hand
 * edits, whitespace, odd escapes) goes to the cJSON reader, and both readers
 * apply what they find through the same few functions, so which one ran can
 * never show in the result.
 *
 * The shape, in this key order:
 *   {"v":1,"turn":N,"lang":S,"waiting":true|false,"active":F|null,"paused":F|null}
 *   F = {"flow":S,"step":N,"retries":N,"slots":{S:S,...}}
 * Strings are escaped by kf_buf_json_str.  Change the writer and the fast
 * reader together. */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "engine/dialogue_int.h"
#include "util/buf.h"

/* ---- writing ----------------------------------------------------------- */

static void put_int(kf_buf_t *b, long long v) {
    char d[24], *p = d + sizeof d;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    kf_buf_append(b, p, (size_t)(d + sizeof d - p));
}

static void put_str(kf_buf_t *b, const char *s) { kf_buf_json_str(b, s, strlen(s)); }

static void frame_write(kf_buf_t *b, const frame_t *f) {
    if (!f->flow) {
        kf_buf_puts(b, "null");
        return;
    }
    kf_buf_puts(b, "{\"flow\":");
    put_str(b, f->flow->name);
    kf_buf_puts(b, ",\"step\":");
    put_int(b, f->step);
    kf_buf_puts(b, ",\"retries\":");
    put_int(b, f->retries);
    kf_buf_puts(b, ",\"slots\":{");
    const char *sep = "";
    for (size_t i = 0; i < f->flow->n_slots; i++) {
        if (!f->vals[i]) continue;
        kf_buf_puts(b, sep);
        sep = ",";
        put_str(b, f->flow->slots[i].name);
        kf_buf_puts(b, ":");
        put_str(b, f->vals[i]);
    }
    kf_buf_puts(b, "}}");
}

/* The same shape, key order and escapes as the cJSON writer this replaced. */
char *kf_dlg_state_to_json(const kf_dlg_state_t *st) {
    kf_buf_t b;
    kf_buf_init(&b);
    kf_buf_puts(&b, "{\"v\":1,\"turn\":");
    put_int(&b, st->turn);
    kf_buf_puts(&b, ",\"lang\":");
    put_str(&b, st->lang);
    kf_buf_puts(&b, st->waiting ? ",\"waiting\":true,\"active\":" : ",\"waiting\":false,\"active\":");
    frame_write(&b, &st->active);
    kf_buf_puts(&b, ",\"paused\":");
    frame_write(&b, &st->paused);
    kf_buf_puts(&b, "}");
    if (b.oom) {
        kf_buf_free(&b);
        return NULL;
    }
    return b.data; /* heap-owned (kf_buf_init): the caller's free() releases it */
}

/* ---- applying what a reader found -------------------------------------- */

/* Both readers go through these, so their results cannot drift apart.
 * Numbers arrive as doubles because that is what cJSON gives. */

static void set_turn(kf_dlg_state_t *st, double turn) {
    if (turn >= 0 && turn < 4e9) st->turn = (unsigned)turn;
}

/* A longer lang is cut to its first 15 bytes (what snprintf into st->lang
 * did; copied by hand so the compiler need not warn of the cut). */
static void set_lang(kf_dlg_state_t *st, const char *lang) {
    size_t n = strnlen(lang, sizeof st->lang - 1);
    memcpy(st->lang, lang, n);
    st->lang[n] = '\0';
}

/* Starts frame F in flow NAME at STEP.  A flow the bot lost, or a step out of
 * range, leaves it empty (a reloaded bot never sees a dangling state); so do
 * retries out of range (NULL: none given) reset to 0.  -1: out of memory. */
static int frame_open(const kf_bot_t *bot, frame_t *f, const char *name, double step, const double *retries) {
    const kf_flow_t *flow = kf_bot_flow_named(bot, name);
    if (!flow || step < 0 || step >= (double)flow->n_steps) return 0;
    if (frame_start(f, flow)) return -1;
    f->step = (int)step;
    f->retries = retries && *retries >= 0 && *retries < 100 ? (int)*retries : 0;
    return 0;
}

/* One slot of frame F; a slot its flow no longer has is dropped.  -1: out of memory. */
static int frame_slot(frame_t *f, const char *name, const char *val) {
    int k = f->flow ? kf_flow_slot_index(f->flow, name) : -1;
    return k >= 0 && frame_set(f, k, val) ? -1 : 0;
}

/* Only a webhook step can be waiting for its answer. */
static void set_waiting(kf_dlg_state_t *st, int waiting) {
    st->waiting = st->active.flow && waiting && st->active.flow->steps[st->active.step].kind == KF_FLOW_WEBHOOK;
}

/* ---- the fast reader: the writer's own text ---------------------------- */

/* A cursor over NUL-terminated text.  Every test below fails on the NUL
 * before looking further, so a cut text can never be read past its end. */

/* Skips the literal S if the text has it here. */
static int lit(const char **p, const char *s) {
    size_t n = strlen(s);
    if (strncmp(*p, s, n)) return 0;
    *p += n;
    return 1;
}

/* An integer as put_int writes it: optional '-', 1 to 10 digits, no leading
 * zero and no "-0".  Ten digits cover every int and unsigned it writes. */
static int num(const char **p, long long *out) {
    const char *s = *p, *d = s + (*s == '-');
    long long v = 0;
    int n = 0;
    for (; d[n] >= '0' && d[n] <= '9'; n++) {
        if (n == 10) return 0;
        v = v * 10 + (d[n] - '0');
    }
    if (!n || (d[0] == '0' && (n > 1 || d != s))) return 0;
    *out = d != s ? -v : v;
    *p = d + n;
    return 1;
}

static int hex4(const char *s, unsigned *cp) {
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i]; /* a NUL is no hex digit: stops here */
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return 0;
        *cp = *cp << 4 | (unsigned)h;
    }
    return 1;
}

/* A string into out[0..cap), NUL-terminated, with the escapes
 * kf_buf_json_str writes: \" \\ \n \r \t, and \uXXXX decoded to UTF-8.
 * \u0000 (which would cut the C string) and surrogates are left to cJSON,
 * as is a raw control byte (the writer escapes them all) and a string that
 * does not fit. */
static int str(const char **p, char *out, size_t cap) {
    const char *s = *p;
    size_t n = 0;
    if (*s++ != '"') return 0;
    for (;;) {
        unsigned char c = (unsigned char)*s++;
        char e[3];
        size_t en = 1;
        if (c == '"') break;
        if (c < 0x20) return 0; /* the NUL included */
        e[0] = (char)c;
        if (c == '\\') {
            c = (unsigned char)*s++;
            unsigned cp;
            if (c == '"' || c == '\\') e[0] = (char)c;
            else if (c == 'n') e[0] = '\n';
            else if (c == 'r') e[0] = '\r';
            else if (c == 't') e[0] = '\t';
            else if (c != 'u' || !hex4(s, &cp) || !cp || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
            else {
                s += 4;
                if (cp < 0x80) e[0] = (char)cp;
                else if (cp < 0x800) {
                    e[0] = (char)(0xc0 | cp >> 6);
                    e[1] = (char)(0x80 | (cp & 0x3f));
                    en = 2;
                } else {
                    e[0] = (char)(0xe0 | cp >> 12);
                    e[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                    e[2] = (char)(0x80 | (cp & 0x3f));
                    en = 3;
                }
            }
        }
        if (n + en >= cap) return 0;
        memcpy(out + n, e, en);
        n += en;
    }
    out[n] = '\0';
    *p = s;
    return 1;
}

/* A frame or null into F (empty).  0: not the writer's text; F may hold a
 * partial frame then, which the caller frees with the state. */
static int frame_read(const kf_bot_t *bot, const char **pp, frame_t *f) {
    const char *p = *pp;
    char name[128], val[1024]; /* slot values are at most 511 bytes (engine/dialogue.c) */
    long long step, retries;
    if (lit(&p, "null")) {
        *pp = p;
        return 1;
    }
    if (!lit(&p, "{\"flow\":") || !str(&p, name, sizeof name) || !lit(&p, ",\"step\":") || !num(&p, &step) ||
        !lit(&p, ",\"retries\":") || !num(&p, &retries) || !lit(&p, ",\"slots\":{"))
        return 0;
    double rt = (double)retries;
    if (frame_open(bot, f, name, (double)step, &rt)) return 0;
    /* The slots are read even for a flow that was dropped: the whole text
     * must be the writer's, or cJSON decides (it may reject it). */
    for (const char *sep = ""; !lit(&p, "}}"); sep = ",")
        if (!lit(&p, sep) || !str(&p, name, sizeof name) || !lit(&p, ":") || !str(&p, val, sizeof val) ||
            frame_slot(f, name, val))
            return 0;
    *pp = p;
    return 1;
}

kf_dlg_state_t *kf_dlg_state_from_json_fast(const kf_bot_t *bot, const char *p) {
    char lang[256];
    long long turn;
    int waiting;
    if (!lit(&p, "{\"v\":1,\"turn\":") || !num(&p, &turn) || !lit(&p, ",\"lang\":") || !str(&p, lang, sizeof lang) ||
        !lit(&p, ",\"waiting\":"))
        return NULL;
    if (lit(&p, "true")) waiting = 1;
    else if (lit(&p, "false")) waiting = 0;
    else return NULL;
    kf_dlg_state_t *st = kf_dlg_state_new();
    if (!st) return NULL; /* the slow path meets the same shortage and reports it its way */
    set_turn(st, (double)turn);
    set_lang(st, lang);
    if (!lit(&p, ",\"active\":") || !frame_read(bot, &p, &st->active) || !lit(&p, ",\"paused\":") ||
        !frame_read(bot, &p, &st->paused) || !lit(&p, "}") || *p) {
        kf_dlg_state_free(st);
        return NULL;
    }
    set_waiting(st, waiting);
    return st;
}

/* ---- the full reader: any JSON, through cJSON -------------------------- */

/* A frame from JSON; -1 when it is malformed (or out of memory). */
static int frame_from(const kf_bot_t *bot, const cJSON *j, frame_t *f) {
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsObject(j)) return -1;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(j, "flow"), *step = cJSON_GetObjectItemCaseSensitive(j, "step"),
                *rt = cJSON_GetObjectItemCaseSensitive(j, "retries"), *slots = cJSON_GetObjectItemCaseSensitive(j, "slots");
    if (!cJSON_IsString(fl) || !cJSON_IsNumber(step)) return -1;
    if (frame_open(bot, f, fl->valuestring, step->valuedouble, cJSON_IsNumber(rt) ? &rt->valuedouble : NULL)) return -1;
    if (!f->flow || !cJSON_IsObject(slots)) return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, slots) { /* in text order: of two equal keys the last wins */
        if (cJSON_IsString(it) && frame_slot(f, it->string, it->valuestring)) return -1;
    }
    return 0;
}

kf_dlg_state_t *kf_dlg_state_from_json_slow(const kf_bot_t *bot, const char *json, char *err, size_t errlen) {
    kf_dlg_state_t *st = NULL;
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        if (err && errlen) snprintf(err, errlen, "dialogue state is not a JSON object");
        goto out;
    }
    if (!(st = kf_dlg_state_new())) goto out;
    const cJSON *turn = cJSON_GetObjectItemCaseSensitive(o, "turn"), *lang = cJSON_GetObjectItemCaseSensitive(o, "lang");
    if (cJSON_IsNumber(turn)) set_turn(st, turn->valuedouble);
    if (cJSON_IsString(lang)) set_lang(st, lang->valuestring);
    if (frame_from(bot, cJSON_GetObjectItemCaseSensitive(o, "active"), &st->active) ||
        frame_from(bot, cJSON_GetObjectItemCaseSensitive(o, "paused"), &st->paused)) {
        if (err && errlen) snprintf(err, errlen, "dialogue state: malformed flow frame");
        kf_dlg_state_free(st);
        st = NULL;
        goto out;
    }
    set_waiting(st, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "waiting")));
out:
    cJSON_Delete(o);
    return st;
}

/* Most states are the writer's text, idle or mid-flow: those skip cJSON's
 * tree, its mallocs and its frees, which were ~6.5 % of an event loop. */
kf_dlg_state_t *kf_dlg_state_from_json(const kf_bot_t *bot, const char *json, char *err, size_t errlen) {
    kf_dlg_state_t *st = json ? kf_dlg_state_from_json_fast(bot, json) : NULL;
    return st ? st : kf_dlg_state_from_json_slow(bot, json, err, errlen);
}
