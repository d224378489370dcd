/* conv_reply.c — what the bot says when no flow answers: the intent's
 * response, else an FAQ answer, else the fallback, and after two misses in a
 * row a rephrase suggestion with an offer of a human.  Also the per-message
 * language detection and the stored entity JSON (masked).
 *
 * Responses come from the bot (bot/bot.h); a variation is picked at random
 * among those whose {slot} fields this conversation can fill, so "Hi
 * {name}!" is only said to a customer who gave a name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/conv_int.h"
#include "kb/kb.h"
#include "nlu/mask.h"
#include "util/buf.h"

/* ---- language ---------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s (validated upstream); returns its length. */
static int utf8_next(const unsigned char *s, size_t left, unsigned *cp) {
    if (s[0] < 0x80 || left < 2) return *cp = s[0], 1;
    if ((s[0] & 0xe0) == 0xc0) return *cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu), 2;
    if ((s[0] & 0xf0) == 0xe0 && left >= 3) return *cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu), 3;
    if (left >= 4) return *cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu), 4;
    return *cp = s[0], 1;
}

static int is_han(unsigned cp) {
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0x20000 && cp <= 0x2fa1f);
}

const char *kf_conv_detect_lang(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t letters = 0, words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        i += (size_t)utf8_next(s + i, len - i, &cp);
        if (is_han(cp)) return "zh";
        int latin = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
        letters += latin;
        if (latin && !in_word) words++;
        in_word = latin;
    }
    /* "ok", "yes", "1234" say nothing about the language: the session's stays. */
    return letters >= 4 || words >= 2 ? "en" : NULL;
}

const char *kf_conv_bot_lang(const kf_bot_t *bot, const char *lang) {
    for (size_t i = 0; lang && i < kf_bot_n_languages(bot); i++)
        if (!strcmp(kf_bot_language(bot, i), lang)) return kf_bot_language(bot, i);
    return kf_bot_default_language(bot);
}

/* ---- rendering --------------------------------------------------------- */

typedef struct {
    const kf_conv_job_t *job;
    const char *intent;
    int missing;
} fill_t;

static const char *fill_slot(void *ud, const char *name, size_t len) {
    fill_t *f = ud;
    if (len == 4 && !memcmp(name, "name", 4) && f->job->name && f->job->name[0]) return f->job->name;
    if (len == 5 && !memcmp(name, "skill", 5)) {
        const char *s = f->job->handoff_skill ? f->job->handoff_skill : kf_bot_skill(f->job->c->bot, f->intent);
        if (s) return s;
    }
    f->missing++;
    return NULL;
}

int kf_conv_add_text(kf_conv_job_t *job, const char *text, const kf_bot_quick_reply_t *qr, size_t n_qr, int mask) {
    if (job->n_out >= KF_CONV_MAX_REPLIES) return 0; /* the channel shows this many at most */
    char *dup = mask ? kf_mask_dup(text, strlen(text), NULL) : strdup(text);
    if (!dup) return -1;
    job->out[job->n_out++] = (kf_conv_out_t){dup, qr, n_qr};
    return 1;
}

static unsigned pick(size_t n) {
    static _Thread_local unsigned long long x;
    if (!x) x = (unsigned long long)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ull;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return (unsigned)(x % n);
}

int kf_conv_add_response(kf_conv_job_t *job, const char *intent) {
    const kf_bot_response_t *resp = kf_bot_response(job->c->bot, intent, job->lang);
    if (!resp || !resp->n_variations) return 0;
    char buf[4096], err[128];
    int best = -1, best_missing = 1 << 30;
    size_t start = pick(resp->n_variations);
    for (size_t k = 0; k < resp->n_variations; k++) {
        size_t i = (start + k) % resp->n_variations;
        fill_t f = {job, intent, 0};
        if (kf_bot_render(resp->variations[i].text, fill_slot, &f, buf, sizeof buf, err, sizeof err) < 0) continue;
        if (f.missing < best_missing) best = (int)i, best_missing = f.missing;
        if (!f.missing) break;
    }
    if (best < 0) return 0;
    const kf_bot_variation_t *v = &resp->variations[best];
    fill_t f = {job, intent, 0};
    if (kf_bot_render(v->text, fill_slot, &f, buf, sizeof buf, err, sizeof err) < 0) return 0;
    return kf_conv_add_text(job, buf, v->quick_replies, v->n_quick_replies, 0);
}

/* ---- what to answer ---------------------------------------------------- */

static const kf_bot_quick_reply_t offer_en[] = {{"Talk to someone", "/human_agent"}};
static const kf_bot_quick_reply_t offer_zh[] = {{"转人工", "/human_agent"}};

static int is_zh(const char *lang) { return lang && !strncmp(lang, "zh", 2); }

/* Two misses in a row: say so, suggest rephrasing, offer a person. */
static int add_human_offer(kf_conv_job_t *job) {
    if (is_zh(job->lang))
        return kf_conv_add_text(job, "抱歉，我还是没能理解您的意思。请换个说法再试一次，或者我为您转接人工客服。", offer_zh, 1, 0);
    return kf_conv_add_text(job,
                            "Sorry, I still didn't get that. Could you rephrase it in a few words? "
                            "Or I can connect you with a colleague.",
                            offer_en, 1, 0);
}

static int add_fallback(kf_conv_job_t *job) {
    KF_CONV_COUNT(job->c, fallbacks);
    if (job->misses < 0) job->misses = 0;
    if (++job->misses >= 2) {
        /* The offer is made; the next miss starts counting again.  -1 (not
         * 0) remembers the offer for one turn: a "yes, a person" right after
         * it is a handoff for the fallback reason. */
        job->misses = -1;
        return add_human_offer(job);
    }
    int rc = kf_conv_add_response(job, "oos");
    if (rc) return rc;
    return kf_conv_add_text(job, is_zh(job->lang) ? "抱歉，我没有理解。能换个说法吗？"
                                                 : "Sorry, I didn't understand that. Could you say it another way?",
                            NULL, 0, 0);
}

/* The best FAQ entry for the message when it scores at least the threshold. */
static int add_faq(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    if (!c->kb) return 0;
    kf_kb_hit_t hit;
    char err[128];
    int n = kf_kb_search(c->kb, job->lang, job->text, job->len, &hit, 1, err, sizeof err);
    if (n <= 0 || hit.score < c->faq_min) return 0;
    const char *answer = kf_faq_answer(hit.entry, job->lang);
    if (!answer) answer = kf_faq_answer(hit.entry, hit.lang);
    if (!answer) return 0;
    KF_CONV_COUNT(c, faq_answers);
    return kf_conv_add_text(job, answer, NULL, 0, 0);
}

int kf_conv_answer_intent(kf_conv_job_t *job, const char *intent) {
    kf_conv_t *c = job->c;
    int understood = intent && strcmp(intent, "oos") != 0 && !job->out_of_scope && job->confidence >= c->intent_min;
    if (understood && !strcmp(intent, "human_agent")) {
        job->handoff_skill = kf_bot_skill(c->bot, intent);
        /* after the bot's two-miss offer, taking it up is the fallback trigger */
        job->handoff_reason = 1 + (job->misses < 0 ? KF_CONV_REASON_FALLBACK : KF_CONV_REASON_CUSTOMER_REQUEST);
        KF_CONV_COUNT(c, handoffs);
    }
    if (understood) {
        int rc = kf_conv_add_response(job, intent);
        if (rc) {
            if (rc > 0) job->misses = 0;
            return rc < 0 ? -1 : 0;
        }
    }
    /* A confident out-of-scope verdict skips the FAQ: it would only find noise. */
    int sure_oos = intent && !strcmp(intent, "oos") && job->confidence >= c->oos_min;
    if (!sure_oos) {
        int rc = add_faq(job);
        if (rc) {
            if (rc > 0) job->misses = 0;
            return rc < 0 ? -1 : 0;
        }
    }
    return add_fallback(job) < 0 ? -1 : 0;
}

/* ---- entities as stored ------------------------------------------------ */

static char *masked(const char *s, size_t len) {
    char *m = kf_mask_dup(s, len, NULL);
    return m ? m : strdup("");
}

/* Runs for every customer message, most with no entity: written straight
 * into a buffer (the shape cJSON gave: type, value, text, start, end). */
char *kf_conv_entities_json(const char *text, const kf_ent_t *ents, int n) {
    kf_buf_t b;
    kf_buf_init(&b);
    kf_buf_puts(&b, "[");
    for (int i = 0; i < n; i++) {
        const kf_ent_t *e = &ents[i];
        char *v = masked(e->value, strlen(e->value));
        char *t = masked(text + e->byte_start, (size_t)(e->byte_end - e->byte_start));
        if (v && t) {
            kf_buf_puts(&b, b.len > 1 ? ",{\"type\":" : "{\"type\":");
            kf_buf_json_str(&b, e->type, strlen(e->type));
            kf_buf_puts(&b, ",\"value\":");
            kf_buf_json_str(&b, v, strlen(v));
            kf_buf_puts(&b, ",\"text\":");
            kf_buf_json_str(&b, t, strlen(t));
            kf_buf_printf(&b, ",\"start\":%d,\"end\":%d}", e->start, e->end);
        }
        free(v);
        free(t);
    }
    kf_buf_puts(&b, "]");
    if (b.oom) {
        kf_buf_free(&b);
        return NULL;
    }
    return b.data;
}
