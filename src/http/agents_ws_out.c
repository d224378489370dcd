/* agents_ws_out.c — server → client frames of the agent console WebSocket
 * (see agents_ws.h): small frames written with kf_buf_t into a stack buffer,
 * the desk's views (queues, items, transcripts: cJSON values) wrapped into
 * frames; the slow-reader bound is kf_wsconn_send's (ws_conn.h).
 *
 * A console is one agent, so its frames can be larger than a customer's (a
 * transcript is one frame): the bound counts only what was already waiting
 * before the frame just queued, so one big transcript never trips it, while
 * a console that stopped reading still cannot make the server buffer
 * without limit. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "http/agents_ws.h"

#define FRAME_STACK 1024

static void buf_str(kf_buf_t *b, const char *s) { kf_buf_json_str(b, s, strlen(s)); }

static int send_bytes(kf_aws_conn_t *c, const char *data, size_t len, int oom) {
    return kf_wsconn_send(&kf_aws_cfg.ch, &c->base, data, len, oom, c->agent.id);
}

int kf_aws_send(kf_aws_conn_t *c, kf_buf_t *b) {
    int rc = send_bytes(c, b->data, b->len, b->oom);
    kf_buf_free(b);
    return rc;
}

int kf_aws_send_raw(kf_aws_conn_t *c, const char *json, size_t len) { return send_bytes(c, json, len, 0); }

int kf_aws_send_json(kf_aws_conn_t *c, const char *type, const char *ref, cJSON *body) {
    cJSON *f = cJSON_CreateObject();
    char *s = NULL;
    if (f && cJSON_AddStringToObject(f, "type", type) && (!ref || cJSON_AddStringToObject(f, "ref", ref))) {
        /* move body's members after type and ref (readable frames, no copy) */
        while (body && body->child) {
            cJSON *m = cJSON_DetachItemViaPointer(body, body->child);
            if (!strcmp(m->string, "type") || !strcmp(m->string, "ref")) cJSON_Delete(m);
            else cJSON_AddItemToObject(f, m->string, m);
        }
        s = cJSON_PrintUnformatted(f);
    }
    cJSON_Delete(f);
    cJSON_Delete(body);
    if (!s) return kf_aws_send_error(c, "internal", "out of memory", ref) < 0 ? -1 : 0;
    int rc = send_bytes(c, s, strlen(s), 0);
    cJSON_free(s);
    return rc;
}

/* The small frames: {"type":type,"ref"?:ref ...members} written into the
 * caller's stack buffer st; frame_send closes the object and sends it. */
static void frame_begin(kf_buf_t *b, char *st, size_t size, const char *type, const char *ref) {
    kf_buf_init_with(b, st, size);
    kf_buf_printf(b, "{\"type\":\"%s\"", type);
    if (!ref) return;
    kf_buf_puts(b, ",\"ref\":");
    buf_str(b, ref);
}

static int frame_send(kf_aws_conn_t *c, kf_buf_t *b) {
    kf_buf_puts(b, "}");
    return kf_aws_send(c, b);
}

int kf_aws_send_error(kf_aws_conn_t *c, const char *code, const char *message, const char *ref) {
    char st[FRAME_STACK];
    kf_buf_t b;
    frame_begin(&b, st, sizeof st, "error", ref);
    kf_buf_puts(&b, ",\"code\":");
    buf_str(&b, code);
    kf_buf_puts(&b, ",\"message\":");
    buf_str(&b, message ? message : "");
    kf_wsconn_count(&kf_aws_cfg.ch, KF_WSCONN_ERRORS);
    return frame_send(c, &b);
}

int kf_aws_send_ok(kf_aws_conn_t *c, const char *ref, int64_t seq) {
    char st[256];
    kf_buf_t b;
    frame_begin(&b, st, sizeof st, "ok", ref);
    if (seq >= 0) kf_buf_printf(&b, ",\"seq\":%" PRId64, seq);
    return frame_send(c, &b);
}

int kf_aws_send_pong(kf_aws_conn_t *c, const char *ref) {
    char st[256];
    kf_buf_t b;
    frame_begin(&b, st, sizeof st, "pong", ref);
    return frame_send(c, &b);
}

int kf_aws_send_status(kf_aws_conn_t *c, const char *ref, kf_agent_status_t st) {
    char st_buf[256];
    kf_buf_t b;
    frame_begin(&b, st_buf, sizeof st_buf, "status", ref);
    kf_buf_printf(&b, ",\"status\":\"%s\"", kf_agent_status_name(st));
    return frame_send(c, &b);
}

/* ---- welcome ---- */

static cJSON *agent_json(const kf_aws_conn_t *c) {
    const kf_agent_t *a = &c->agent;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "role", kf_agents_role_name(a->role));
    cJSON *sk = cJSON_AddArrayToObject(o, "skills"), *lg = cJSON_AddArrayToObject(o, "languages");
    for (size_t i = 0; i < a->n_skills; i++) cJSON_AddItemToArray(sk, cJSON_CreateString(a->skills[i]));
    if (a->languages & KF_AGENT_LANG_EN) cJSON_AddItemToArray(lg, cJSON_CreateString("en"));
    if (a->languages & KF_AGENT_LANG_ZH) cJSON_AddItemToArray(lg, cJSON_CreateString("zh"));
    cJSON_AddNumberToObject(o, "max_chats", a->max_chats);
    cJSON_AddStringToObject(o, "status", kf_agent_status_name(kf_agent_auth_status(kf_aws_cfg.auth, a->id, NULL)));
    return o;
}

/* Every skill of the bot (transfer targets): the desk lists them all for an admin viewer. */
static cJSON *all_skills(void) {
    kf_agent_t admin = {.role = KF_AGENT_ROLE_ADMIN, .languages = KF_AGENT_LANG_EN | KF_AGENT_LANG_ZH};
    cJSON *q = kf_desk_queues(kf_aws_cfg.desk, &admin), *out = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, q) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "skill");
        if (cJSON_IsString(s)) cJSON_AddItemToArray(out, cJSON_CreateString(s->valuestring));
    }
    cJSON_Delete(q);
    return out;
}

static cJSON *or_empty(cJSON *a) { return a ? a : cJSON_CreateArray(); }

int kf_aws_send_welcome(kf_aws_conn_t *c, cJSON *conversations) {
    cJSON *body = cJSON_CreateObject();
    if (!body) {
        cJSON_Delete(conversations);
        return -1;
    }
    cJSON_AddItemToObject(body, "agent", agent_json(c));
    cJSON_AddItemToObject(body, "skills", all_skills());
    cJSON_AddItemToObject(body, "agents", or_empty(kf_desk_agents(kf_aws_cfg.desk)));
    cJSON_AddItemToObject(body, "canned", or_empty(kf_desk_canned(kf_aws_cfg.desk)));
    cJSON_AddItemToObject(body, "conversations", or_empty(conversations));
    return kf_aws_send_json(c, "welcome", NULL, body);
}

int kf_aws_send_queues(kf_aws_conn_t *c) {
    c->last_queues_ms = kf_loop_now_ms();
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "now", (double)kf_history_now_ms());
    cJSON_AddItemToObject(body, "skills", or_empty(kf_desk_queues(kf_aws_cfg.desk, &c->agent)));
    return kf_aws_send_json(c, "queues", NULL, body);
}

int kf_aws_send_transcript(kf_aws_conn_t *c, const char *conv_id, const char *ref) {
    cJSON *t = kf_desk_transcript(kf_aws_cfg.desk, conv_id);
    if (!t) return kf_aws_send_error(c, "not_found", "no such conversation", ref);
    if (!cJSON_GetObjectItemCaseSensitive(t, "conversation_id")) cJSON_AddStringToObject(t, "conversation_id", conv_id);
    return kf_aws_send_json(c, "transcript", ref, t);
}

const char *kf_aws_error_code(int status) {
    return status == KF_CONV_STATE ? "state" : kf_wsconn_error_code(status);
}
