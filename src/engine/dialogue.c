/* dialogue.c — the dialogue state machine of engine/dialogue.h: walks a bot's
 * flows (bot/flow.h) one customer message at a time.  A state holds the
 * active flow (step, retries, slot values) and at most one flow paused by a
 * digression.  Every entry point runs the active flow forward until it needs
 * the customer (ask, confirm) or the engine (webhook, handoff), so the state
 * at rest is always "waiting for a message" or "waiting for a webhook".
 * Texts come from the bot in the message's language; the few built-in texts
 * (cancelled, resume offer, invalid answer) exist for flows that give none.
 * The state's JSON text for the session store is in dialogue_json.c. */
#include "engine/dialogue_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

typedef struct {
    const kf_bot_t *bot;
    kf_dlg_state_t *st;
    kf_dlg_out_t *out;
    const char *lang;
    char *err;
    size_t errlen;
    int rc;
} run_t;

/* ---- built-in texts ---------------------------------------------------- */

static const kf_bot_quick_reply_t resume_qr_en[] = {{"Continue", "/affirm"}, {"Cancel", "/cancel"}};
static const kf_bot_quick_reply_t resume_qr_zh[] = {{"继续", "/affirm"}, {"取消", "/cancel"}};

static const char *builtin(const char *lang, const char *what) {
    int zh = lang && !strcmp(lang, "zh");
    if (!strcmp(what, "cancelled")) return zh ? "好的，已取消。" : "OK, I've cancelled that.";
    if (!strcmp(what, "resume")) return zh ? "要继续刚才的事情吗？" : "Shall we continue where we left off?";
    if (!strcmp(what, "invalid")) return zh ? "抱歉，这个回答我没看懂。" : "Sorry, that doesn't look right.";
    return zh ? "抱歉，出了点问题。" : "Sorry, something went wrong.";
}

/* ---- output ------------------------------------------------------------ */

static int oops(run_t *r, const char *fmt, ...) {
    if (r->err && r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    r->rc = -1;
    return -1;
}

typedef struct {
    const frame_t *f;
    char name[64];
} lookup_t;

static const char *slot_value(void *ud, const char *name, size_t len) {
    const frame_t *f = ((lookup_t *)ud)->f;
    for (size_t i = 0; f->flow && i < f->flow->n_slots; i++)
        if (strlen(f->flow->slots[i].name) == len && !memcmp(f->flow->slots[i].name, name, len)) return f->vals[i];
    return NULL;
}

static int say_raw(run_t *r, const char *tmpl, const frame_t *f, const kf_bot_quick_reply_t *qr, size_t n_qr) {
    kf_dlg_out_t *o = r->out;
    if (o->n_msgs == KF_DLG_MAX_MSGS) return oops(r, "more than %d messages in one turn", KF_DLG_MAX_MSGS);
    char buf[2048];
    lookup_t lu = {f, ""};
    char why[128];
    if (kf_bot_render(tmpl, slot_value, &lu, buf, sizeof buf, why, sizeof why) < 0)
        return oops(r, "rendering '%.40s': %s", tmpl, why);
    kf_dlg_msg_t *m = &o->msgs[o->n_msgs];
    if (!(m->text = strdup(buf))) return oops(r, "out of memory");
    m->quick_replies = qr;
    m->n_quick_replies = n_qr;
    o->n_msgs++;
    return 0;
}

/* Says T (or the built-in WHAT when T has no text for the language or the default). */
static int say(run_t *r, const kf_flow_text_t *t, const frame_t *f, const char *what) {
    const kf_bot_response_t *resp = t ? kf_flow_text(t, r->lang, kf_bot_default_language(r->bot)) : NULL;
    if (!resp) {
        if (!what) return 0;
        int zh = !strcmp(r->lang, "zh");
        if (!strcmp(what, "resume")) return say_raw(r, builtin(r->lang, what), f, zh ? resume_qr_zh : resume_qr_en, 2);
        return say_raw(r, builtin(r->lang, what), f, NULL, 0);
    }
    const kf_bot_variation_t *v = &resp->variations[r->st->turn % resp->n_variations];
    const kf_bot_quick_reply_t *qr = v->quick_replies;
    size_t nq = v->n_quick_replies;
    if (!nq && what && !strcmp(what, "resume")) { /* the offer always needs its buttons */
        qr = !strcmp(r->lang, "zh") ? resume_qr_zh : resume_qr_en;
        nq = 2;
    }
    return say_raw(r, v->text, f, qr, nq);
}

static void act_done(run_t *r, const kf_flow_t *flow, const char *outcome) {
    kf_dlg_action_t *a = &r->out->action;
    /* A handoff or webhook outranks the bookkeeping of a flow ending. */
    if (a->kind != KF_DLG_NONE && a->kind != KF_DLG_FLOW_DONE) return;
    a->kind = KF_DLG_FLOW_DONE;
    a->flow = flow->name;
    a->outcome = outcome;
}

/* ---- running a flow ---------------------------------------------------- */

static int run(run_t *r);

/* The active flow ended: offer the paused one back, if any. */
static int finish(run_t *r, const char *outcome) {
    kf_dlg_state_t *st = r->st;
    act_done(r, st->active.flow, outcome);
    frame_clear(&st->active);
    st->waiting = 0;
    if (st->paused.flow) return say(r, &st->paused.flow->resume, &st->paused, "resume");
    return 0;
}

static int cancel(run_t *r) {
    if (say(r, &r->st->active.flow->cancelled, &r->st->active, "cancelled")) return -1;
    return finish(r, "cancelled");
}

static int handoff(run_t *r, const char *skill, const char *fmt, ...) {
    kf_dlg_state_t *st = r->st;
    kf_dlg_action_t *a = &r->out->action;
    a->kind = KF_DLG_HANDOFF;
    a->flow = st->active.flow->name;
    a->skill = skill ? skill : st->active.flow->skill;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof a->reason, fmt, ap);
    va_end(ap);
    /* A person takes over: nothing is left to resume. */
    frame_clear(&st->active);
    frame_clear(&st->paused);
    st->waiting = 0;
    return 0;
}

/* An explicit jump to an ask step (goto, on_deny, on_fail, on_error) means
 * "ask again": its old value goes, or the walk would skip straight past it. */
static void go(frame_t *f, int to) {
    f->step = to;
    f->retries = 0;
    if (to >= 0 && (size_t)to < f->flow->n_steps && f->flow->steps[to].kind == KF_FLOW_ASK) {
        int k = f->flow->steps[to].slot;
        free(f->vals[k]);
        f->vals[k] = NULL;
    }
}

static void advance(frame_t *f) {
    const kf_flow_step_t *s = &f->flow->steps[f->step];
    if (s->next >= 0) go(f, s->next);
    else {
        f->step++;
        f->retries = 0;
    }
}

/* Where an early exit (on_fail, on_error) leads. */
static int jump(run_t *r, int to, const kf_flow_step_t *s, const char *why) {
    frame_t *f = &r->st->active;
    if (to == KF_FLOW_TO_CANCEL) return cancel(r);
    if (to == KF_FLOW_TO_HANDOFF) return handoff(r, s->skill, "flow %s: %s", f->flow->name, why);
    go(f, to);
    return run(r);
}

static int webhook_call(run_t *r, const kf_flow_step_t *s) {
    frame_t *f = &r->st->active;
    const kf_bot_webhook_t *w = kf_bot_webhook(r->bot, s->webhook);
    if (!w) return oops(r, "webhook '%s' is not configured", s->webhook);
    kf_buf_t b;
    kf_buf_init(&b);
    kf_buf_puts(&b, "{");
    int first = 1;
    size_t n = s->n_send ? s->n_send : f->flow->n_slots;
    for (size_t i = 0; i < n; i++) {
        int k = s->n_send ? s->send[i] : (int)i;
        if (!f->vals[k]) continue;
        if (!first) kf_buf_puts(&b, ",");
        first = 0;
        kf_buf_json_str(&b, f->flow->slots[k].name, strlen(f->flow->slots[k].name));
        kf_buf_puts(&b, ":");
        kf_buf_json_str(&b, f->vals[k], strlen(f->vals[k]));
    }
    kf_buf_puts(&b, "}");
    kf_buf_append(&b, "", 1);
    if (b.oom) {
        kf_buf_free(&b);
        return oops(r, "out of memory");
    }
    kf_dlg_action_t *a = &r->out->action;
    a->kind = KF_DLG_WEBHOOK;
    a->flow = f->flow->name;
    a->webhook = w->name;
    a->url = w->url;
    a->timeout_ms = w->timeout_ms;
    a->body = strdup(b.data);
    kf_buf_free(&b);
    if (!a->body) return oops(r, "out of memory");
    r->st->waiting = 1;
    return 0;
}

/* Runs the active flow until it waits for the customer or the engine.  Reply
 * steps can loop through goto; the bound stops a flow that never waits. */
static int run(run_t *r) {
    frame_t *f = &r->st->active;
    for (int guard = 0; f->flow; guard++) {
        if (guard > 64) {
            if (say(r, NULL, f, "error")) return -1;
            return finish(r, "failed");
        }
        if (f->step < 0 || (size_t)f->step >= f->flow->n_steps) return finish(r, "completed");
        const kf_flow_step_t *s = &f->flow->steps[f->step];
        switch (s->kind) {
        case KF_FLOW_ASK:
            if (f->vals[s->slot]) {
                advance(f);
                continue;
            }
            return say(r, &s->text, f, NULL);
        case KF_FLOW_CONFIRM: return say(r, &s->text, f, NULL);
        case KF_FLOW_REPLY:
            if (say(r, &s->text, f, NULL)) return -1;
            advance(f);
            continue;
        case KF_FLOW_WEBHOOK: return webhook_call(r, s);
        case KF_FLOW_HANDOFF:
            if (say(r, &s->text, f, NULL)) return -1;
            return handoff(r, s->skill, "%s", s->reason ? s->reason : f->flow->name);
        case KF_FLOW_END: return finish(r, "completed");
        }
    }
    return 0;
}

/* ---- reading answers --------------------------------------------------- */

static int is(const char *intent, const char *name) { return intent && !strcmp(intent, name); }

/* The value for slot S in this message: an entity of its type (a whole card
 * number gives a card_last4 slot its last four digits), else its pattern or
 * synonyms.  use_text: also "text" slots, which take any message. */
static int extract(const kf_flow_slot_t *s, const kf_dlg_input_t *in, int use_patterns, char *out, size_t outlen) {
    for (size_t i = 0; s->entity && i < in->n_ents; i++) {
        const kf_ent_t *e = &in->ents[i];
        if (!e->type) continue;
        if (!strcmp(e->type, s->entity)) {
            snprintf(out, outlen, "%s", e->value);
            return 1;
        }
        size_t vl = strlen(e->value);
        if (!strcmp(s->entity, "card_last4") && !strcmp(e->type, "card_number") && vl >= 4) {
            snprintf(out, outlen, "%s", e->value + vl - 4);
            return 1;
        }
    }
    const char *t = in->text ? in->text : "";
    if (use_patterns && kf_flow_slot_match(s, t, strlen(t), out, outlen)) return 1;
    if (!use_patterns && !s->pattern && s->n_syn && kf_flow_slot_match(s, t, strlen(t), out, outlen)) return 1;
    return 0;
}

static int text_value(const kf_flow_slot_t *s, const kf_dlg_input_t *in, char *out, size_t outlen) {
    if (!s->entity || strcmp(s->entity, "text") || !in->text) return 0;
    const char *a = in->text, *e = a + strlen(a);
    while (a < e && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')) a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    if (a == e) return 0;
    snprintf(out, outlen, "%.*s", (int)(e - a), a);
    return 1;
}

static int bad_answer(run_t *r) {
    frame_t *f = &r->st->active;
    const kf_flow_step_t *s = &f->flow->steps[f->step];
    if (++f->retries > s->retries) {
        char why[96];
        snprintf(why, sizeof why, "no valid answer at step %d%s%s", f->step + 1, s->kind == KF_FLOW_ASK ? " for " : "",
                 s->kind == KF_FLOW_ASK ? f->flow->slots[s->slot].name : "");
        return jump(r, s->on_fail, s, why);
    }
    if (s->kind == KF_FLOW_ASK && say(r, &s->invalid, f, "invalid")) return -1;
    return say(r, &s->text, f, NULL);
}

static int fill(run_t *r, const kf_flow_step_t *s, const char *v) {
    frame_t *f = &r->st->active;
    if (!kf_flow_slot_valid(&f->flow->slots[s->slot], v)) return bad_answer(r);
    if (frame_set(f, s->slot, v)) return oops(r, "out of memory");
    advance(f);
    return run(r);
}

/* A confident intent that is not the flow's own business pauses the flow. */
static int digresses(const kf_bot_t *bot, const frame_t *f, const kf_dlg_input_t *in) {
    if (!in->intent || in->out_of_scope || is(in->intent, "oos")) return 0;
    if (is(in->intent, "affirm") || is(in->intent, "deny") || is(in->intent, "cancel")) return 0;
    if (in->confidence < kf_bot_threshold(bot, "digression", 0.7)) return 0;
    for (size_t i = 0; i < f->flow->n_triggers; i++)
        if (is(in->intent, f->flow->triggers[i])) return 0;
    return 1;
}

static int start(run_t *r, const kf_flow_t *flow, const kf_dlg_input_t *in);

static int digress(run_t *r, const kf_dlg_input_t *in) {
    kf_dlg_state_t *st = r->st;
    frame_clear(&st->paused); /* one level: an older paused flow gives way */
    st->paused = st->active;
    st->paused.retries = 0;
    memset(&st->active, 0, sizeof st->active);
    const kf_flow_t *other = kf_bot_flow_for_intent(r->bot, in->intent);
    if (other) return start(r, other, in); /* its end offers the paused flow back */
    kf_dlg_action_t *a = &r->out->action;
    a->kind = KF_DLG_ANSWER_INTENT;
    a->intent = in->intent;
    return say(r, &st->paused.flow->resume, &st->paused, "resume");
}

static int start(run_t *r, const kf_flow_t *flow, const kf_dlg_input_t *in) {
    frame_t *f = &r->st->active;
    if (frame_start(f, flow)) return oops(r, "out of memory");
    /* Slots the triggering message already gives (entities, synonyms) are not
     * asked again; patterns wait for an answer to the question, where a bare
     * "1234" is meant as the slot. */
    for (size_t i = 0; i < flow->n_slots; i++) {
        char v[256];
        if (extract(&flow->slots[i], in, 0, v, sizeof v) && kf_flow_slot_valid(&flow->slots[i], v) &&
            frame_set(f, (int)i, v))
            return oops(r, "out of memory");
    }
    return run(r);
}

static int continue_flow(run_t *r, const kf_dlg_input_t *in, const char *ctl) {
    frame_t *f = &r->st->active;
    const kf_flow_step_t *s = &f->flow->steps[f->step];
    if (is(ctl, "cancel")) return cancel(r);
    if (s->kind == KF_FLOW_ASK) {
        const kf_flow_slot_t *slot = &f->flow->slots[s->slot];
        char v[256];
        if (extract(slot, in, 1, v, sizeof v)) return fill(r, s, v);
        if (digresses(r->bot, f, in)) return digress(r, in);
        if (text_value(slot, in, v, sizeof v)) return fill(r, s, v);
        return bad_answer(r);
    }
    /* KF_FLOW_CONFIRM: the only other step a flow waits at */
    if (is(ctl, "affirm")) {
        advance(f);
        return run(r);
    }
    if (is(ctl, "deny")) return jump(r, s->on_deny, s, "denied");
    if (digresses(r->bot, f, in)) return digress(r, in);
    return bad_answer(r);
}

static int paused_turn(run_t *r, const kf_dlg_input_t *in, const char *ctl) {
    kf_dlg_state_t *st = r->st;
    if (is(ctl, "cancel") || is(ctl, "deny")) {
        st->active = st->paused;
        memset(&st->paused, 0, sizeof st->paused);
        return cancel(r);
    }
    if (is(ctl, "affirm")) {
        st->active = st->paused;
        memset(&st->paused, 0, sizeof st->paused);
        return run(r); /* asks the pending question again */
    }
    const kf_flow_t *flow = ctl ? kf_bot_flow_for_intent(r->bot, ctl) : NULL;
    if (flow == st->paused.flow) { /* asking for the paused thing again: resume it */
        st->active = st->paused;
        memset(&st->paused, 0, sizeof st->paused);
        return run(r);
    }
    if (flow) return start(r, flow, in);
    kf_dlg_action_t *a = &r->out->action;
    a->kind = KF_DLG_ANSWER_INTENT;
    a->intent = in->intent;
    return say(r, &st->paused.flow->resume, &st->paused, "resume");
}

static const char *pick_lang(const kf_bot_t *bot, const char *lang) {
    for (size_t i = 0; lang && i < kf_bot_n_languages(bot); i++)
        if (!strcmp(kf_bot_language(bot, i), lang)) return kf_bot_language(bot, i);
    return kf_bot_default_language(bot);
}

static void begin(run_t *r, const kf_bot_t *bot, kf_dlg_state_t *st, const char *lang, kf_dlg_out_t *out, char *err,
                  size_t errlen) {
    memset(out, 0, sizeof *out);
    *r = (run_t){bot, st, out, pick_lang(bot, lang), err, errlen, 0};
    out->lang = r->lang;
    snprintf(st->lang, sizeof st->lang, "%s", r->lang);
    st->turn++;
}

static int webhook_failed(run_t *r, const char *why) {
    frame_t *f = &r->st->active;
    const kf_flow_step_t *s = &f->flow->steps[f->step];
    r->st->waiting = 0;
    if (say(r, &s->invalid, f, s->on_error == KF_FLOW_TO_CANCEL ? "error" : NULL)) return -1;
    if (s->on_error == KF_FLOW_TO_CANCEL) return finish(r, "failed");
    return jump(r, s->on_error, s, why);
}

int kf_dlg_handle(const kf_bot_t *bot, kf_dlg_state_t *st, const kf_dlg_input_t *in, kf_dlg_out_t *out, char *err,
                  size_t errlen) {
    run_t r;
    begin(&r, bot, st, in ? in->lang : NULL, out, err, errlen);
    if (!in) return oops(&r, "no input");
    /* Control intents count at the ordinary intent threshold; a miss is NULL. */
    const char *ctl = in->intent && !in->out_of_scope && in->confidence >= kf_bot_threshold(bot, "intent", 0.45)
                          ? in->intent
                          : NULL;
    if (st->waiting && st->active.flow) {
        /* Only a lost webhook answer (e.g. a restart mid-call) gets here: count it as a failure. */
        webhook_failed(&r, "webhook answer lost");
        return r.rc;
    }
    st->waiting = 0;
    if (st->active.flow) continue_flow(&r, in, ctl);
    else if (st->paused.flow) paused_turn(&r, in, ctl);
    else {
        const kf_flow_t *flow = ctl ? kf_bot_flow_for_intent(bot, ctl) : NULL;
        if (flow) start(&r, flow, in);
        else {
            out->action.kind = KF_DLG_ANSWER_INTENT;
            out->action.intent = in->intent;
        }
    }
    return r.rc;
}

/* Field "a.b.c" of an answer, as text; NULL when absent or not a scalar. */
static int field(const cJSON *root, const char *path, char *out, size_t outlen) {
    const cJSON *j = root;
    char key[128];
    for (const char *p = path; j && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
        p += n + (p[n] == '.');
    }
    if (cJSON_IsString(j) && j->valuestring) snprintf(out, outlen, "%s", j->valuestring);
    else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == (double)(long long)d && d < 1e15 && d > -1e15) snprintf(out, outlen, "%lld", (long long)d);
        else snprintf(out, outlen, "%.15g", d);
    } else if (cJSON_IsBool(j)) snprintf(out, outlen, "%s", cJSON_IsTrue(j) ? "true" : "false");
    else return 0;
    return 1;
}

int kf_dlg_webhook_result(const kf_bot_t *bot, kf_dlg_state_t *st, int ok, const char *json, kf_dlg_out_t *out,
                          char *err, size_t errlen) {
    run_t r;
    begin(&r, bot, st, st->lang[0] ? st->lang : NULL, out, err, errlen);
    if (!st->waiting || !st->active.flow) return oops(&r, "no webhook call is pending");
    frame_t *f = &st->active;
    const kf_flow_step_t *s = &f->flow->steps[f->step];
    if (!ok || !json) {
        webhook_failed(&r, "webhook failed");
        return r.rc;
    }
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        webhook_failed(&r, "webhook answer is not a JSON object");
        return r.rc;
    }
    for (size_t i = 0; i < s->n_map; i++) {
        char v[512];
        if (!field(root, s->map_field[i], v, sizeof v)) {
            char why[160];
            snprintf(why, sizeof why, "webhook answer has no '%s'", s->map_field[i]);
            cJSON_Delete(root);
            webhook_failed(&r, why);
            return r.rc;
        }
        if (frame_set(f, s->map_slot[i], v)) {
            cJSON_Delete(root);
            return oops(&r, "out of memory");
        }
    }
    cJSON_Delete(root);
    st->waiting = 0;
    advance(f);
    run(&r);
    return r.rc;
}

void kf_dlg_out_free(kf_dlg_out_t *out) {
    if (!out) return;
    for (size_t i = 0; i < out->n_msgs; i++) free(out->msgs[i].text);
    free(out->action.body);
    memset(out, 0, sizeof *out);
}

/* ---- state ------------------------------------------------------------- */

kf_dlg_state_t *kf_dlg_state_new(void) { return calloc(1, sizeof(kf_dlg_state_t)); }

void kf_dlg_state_free(kf_dlg_state_t *st) {
    if (!st) return;
    frame_clear(&st->active);
    frame_clear(&st->paused);
    free(st);
}

const char *kf_dlg_active_flow(const kf_dlg_state_t *st) { return st->active.flow ? st->active.flow->name : NULL; }
const char *kf_dlg_paused_flow(const kf_dlg_state_t *st) { return st->paused.flow ? st->paused.flow->name : NULL; }
int kf_dlg_waiting_webhook(const kf_dlg_state_t *st) { return st->waiting; }

const char *kf_dlg_step_id(const kf_dlg_state_t *st) {
    const frame_t *f = &st->active;
    if (!f->flow || f->step < 0 || (size_t)f->step >= f->flow->n_steps) return NULL;
    return f->flow->steps[f->step].id;
}

const char *kf_dlg_slot(const kf_dlg_state_t *st, const char *name) {
    int i = st->active.flow ? kf_flow_slot_index(st->active.flow, name) : -1;
    return i < 0 ? NULL : st->active.vals[i];
}
