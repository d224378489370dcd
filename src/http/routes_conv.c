/* routes_conv.c — the conversation REST API (see routes_conv.h).
 *
 * Writes (create, message, close) go through the engine, whose completion
 * runs later on this request's thread once history has committed: the
 * handler answers later (kf_http_later, http/request.h) from the
 * completion, which only lets go when the client has gone meanwhile.  Reads (messages, list) are synchronous history reads: indexed
 * and cheap.  Reading a transcript with an agent token (http/agent_auth.h)
 * needs the conversation to be assigned to that agent, or an admin. */
#include "http/routes_conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/agent_auth.h"
#include "http/request.h"
#include "http/router.h"
#include "http/schema.h"
#include "http/server.h"

static kf_conv_t *engine;

/* ---- schemas ------------------------------------------------------------ */

#define CONV_ID_PATTERN KF_PATTERN("^[a-f0-9]{32}$")

static const char *const langs[] = {"en", "zh", NULL};
static const kf_schema_t s_user_id = KF_STRING(.min_length = 1, .max_length = 128, .description = "The customer's id in the bank's systems");
static const kf_schema_t s_name = KF_STRING(.min_length = 1, .max_length = 100, .description = "How the bot addresses the customer");
static const kf_schema_t s_vip = KF_INTEGER(KF_RANGE(0, 9), .default_json = "0", .description = "0 = regular; higher = more important");
static const kf_schema_t s_lang = KF_STRING(.enum_values = langs, .description = "Preferred language; with it the bot greets first");
static const kf_schema_prop_t create_props[] = {
    {"user_id", &s_user_id, 0}, {"name", &s_name, 0}, {"vip_tier", &s_vip, 0}, {"language", &s_lang, 0}, {0}};
static const kf_schema_t s_create_req = KF_OBJECT(.name = "ConversationProfile", .properties = create_props,
                                                  .description = "Optional: what the customer told us about themselves");

static const kf_schema_t s_text = KF_STRING(.min_length = 1, .max_length = KF_CONV_MAX_TEXT, .description = "The customer's message",
                                            .example_json = "\"I lost my card\"");
static const kf_schema_t s_cmid = KF_STRING(KF_PATTERN("^[A-Za-z0-9._:-]{1,64}$"), .min_length = 1, .max_length = KF_CONV_MAX_CLIENT_ID,
                                            .description = "The client's id for this message: a resend with the same id is answered "
                                                           "with the first answer and never processed twice");
static const kf_schema_prop_t msg_props[] = {{"text", &s_text, 1}, {"client_msg_id", &s_cmid, 0}, {0}};
static const kf_schema_t s_msg_req = KF_OBJECT(.name = "CustomerMessage", .properties = msg_props);

static const kf_schema_t s_csat = KF_INTEGER(KF_RANGE(1, 5), .description = "Customer satisfaction, 1 (bad) to 5 (great)");
static const kf_schema_t s_comment = KF_STRING(.max_length = 1000, .description = "Free-text feedback");
static const kf_schema_prop_t close_props[] = {{"csat", &s_csat, 0}, {"comment", &s_comment, 0}, {0}};
static const kf_schema_t s_close_req = KF_OBJECT(.name = "CloseConversation", .properties = close_props);

static const kf_schema_t s_conv_id = KF_STRING(CONV_ID_PATTERN, .description = "Conversation id: 32 lowercase hex digits");
static const kf_schema_t s_seq = KF_INTEGER(KF_GE(0), .description = "Sequence number in the conversation, from 1");
static const char *const senders[] = {"customer", "bot", "agent", "system", "note", NULL};
static const kf_schema_t s_from = KF_STRING(.enum_values = senders);
static const kf_schema_t s_str = KF_STRING();
static const kf_schema_t s_nstr = KF_STRING(.nullable = 1);
static const kf_schema_t s_time = KF_STRING(.format = "date-time", .description = "UTC, ISO 8601 with milliseconds");
static const kf_schema_t s_ntime = KF_STRING(.format = "date-time", .nullable = 1);
static const kf_schema_t s_conf = KF_NUMBER(KF_RANGE(0, 1), .nullable = 1);
static const kf_schema_t s_bool = KF_BOOLEAN();
static const kf_schema_prop_t qr_props[] = {{"title", &s_str, 1}, {"payload", &s_str, 1}, {0}};
static const kf_schema_t s_qr = KF_OBJECT(.name = "QuickReply", .properties = qr_props);
static const kf_schema_t s_qrs = KF_ARRAY(.items = &s_qr, .description = "Buttons; a payload \"/intent\" triggers that intent");
static const kf_schema_prop_t reply_props[] = {
    {"seq", &s_seq, 1}, {"from", &s_from, 1}, {"text", &s_str, 1}, {"quick_replies", &s_qrs, 1}, {"created_at", &s_time, 1}, {0}};
static const kf_schema_t s_reply = KF_OBJECT(.name = "BotMessage", .properties = reply_props);
static const kf_schema_t s_replies = KF_ARRAY(.items = &s_reply);
static const kf_schema_prop_t created_props[] = {{"conversation_id", &s_conv_id, 1}, {"messages", &s_replies, 1}, {0}};
static const kf_schema_t s_created = KF_OBJECT(.name = "ConversationCreated", .properties = created_props);

static const kf_schema_t s_entities = KF_ARRAY(.description = "Entities of the message (sensitive values masked)");
static const kf_schema_prop_t handoff_props[] = {{"skill", &s_str, 1}, {0}};
static const kf_schema_t s_handoff = KF_OBJECT(.name = "Handoff", .properties = handoff_props, .nullable = 1,
                                               .description = "The conversation asks for a human with this skill");
static const kf_schema_prop_t answer_props[] = {
    {"conversation_id", &s_conv_id, 1}, {"seq", &s_seq, 1},      {"duplicate", &s_bool, 1}, {"intent", &s_nstr, 1},
    {"confidence", &s_conf, 1},         {"entities", &s_entities, 1}, {"lang", &s_str, 1},   {"handoff", &s_handoff, 1},
    {"replies", &s_replies, 1},         {0}};
static const kf_schema_t s_answer = KF_OBJECT(.name = "MessageAnswer", .properties = answer_props);

static const kf_schema_prop_t hmsg_props[] = {
    {"seq", &s_seq, 1},           {"from", &s_from, 1},          {"text", &s_str, 1}, {"intent", &s_nstr, 1},
    {"confidence", &s_conf, 1},   {"client_msg_id", &s_nstr, 1}, {"created_at", &s_time, 1}, {0}};
static const kf_schema_t s_hmsg = KF_OBJECT(.name = "HistoryMessage", .properties = hmsg_props);
static const kf_schema_t s_hmsgs = KF_ARRAY(.items = &s_hmsg);
static const kf_schema_prop_t transcript_props[] = {
    {"conversation_id", &s_conv_id, 1}, {"messages", &s_hmsgs, 1}, {"last_seq", &s_seq, 1}, {0}};
static const kf_schema_t s_transcript = KF_OBJECT(.name = "Transcript", .properties = transcript_props);

static const char *const statuses[] = {"open", "closed", "expired", NULL};
static const kf_schema_t s_status = KF_STRING(.enum_values = statuses);
static const kf_schema_prop_t closed_props[] = {{"conversation_id", &s_conv_id, 1}, {"status", &s_status, 1}, {0}};
static const kf_schema_t s_closed = KF_OBJECT(.name = "ConversationClosed", .properties = closed_props);

static const kf_schema_t s_int = KF_INTEGER();
static const kf_schema_t s_ncsat = KF_INTEGER(KF_RANGE(1, 5), .nullable = 1);
static const kf_schema_prop_t summary_props[] = {
    {"conversation_id", &s_conv_id, 1}, {"status", &s_status, 1}, {"user_id", &s_nstr, 1}, {"name", &s_nstr, 1},
    {"vip_tier", &s_int, 1},            {"language", &s_nstr, 1}, {"started_at", &s_time, 1}, {"ended_at", &s_ntime, 1},
    {"csat", &s_ncsat, 1},              {"last_seq", &s_seq, 1},  {0}};
static const kf_schema_t s_summary = KF_OBJECT(.name = "ConversationSummary", .properties = summary_props);
static const kf_schema_t s_summaries = KF_ARRAY(.items = &s_summary);
static const kf_schema_t s_cursor_out = KF_STRING(.nullable = 1, .description = "Pass as cursor for the next page; null on the last");
static const kf_schema_prop_t list_props[] = {{"conversations", &s_summaries, 1}, {"next_cursor", &s_cursor_out, 1}, {0}};
static const kf_schema_t s_list = KF_OBJECT(.name = "ConversationList", .properties = list_props);

static const kf_schema_t s_detail = KF_STRING();
static const kf_schema_prop_t err_props[] = {{"detail", &s_detail, 1}, {0}};
static const kf_schema_t s_error = KF_OBJECT(.name = "HTTPError", .properties = err_props);

static const kf_schema_t s_after = KF_INTEGER(KF_GE(0), .default_json = "0");
static const kf_schema_t s_limit = KF_INTEGER(KF_RANGE(1, 1000), .default_json = "100");
static const kf_schema_t s_status_q = KF_STRING(.enum_values = statuses);
static const kf_schema_t s_cursor = KF_STRING(.max_length = KF_HISTORY_CURSOR_MAX - 1);
static const kf_param_t id_params[] = {{"conversation_id", "path", &s_conv_id, 1, "The conversation"}, {0}};
static const kf_param_t fetch_params[] = {{"conversation_id", "path", &s_conv_id, 1, "The conversation"},
                                          {"after_seq", "query", &s_after, 0, "Only messages after this seq (default 0)"},
                                          {"limit", "query", &s_limit, 0, "At most this many (default 100, max 1000)"},
                                          {0}};
static const kf_param_t list_params[] = {{"status", "query", &s_status_q, 0, "Only conversations in this state"},
                                         {"cursor", "query", &s_cursor, 0, "next_cursor of the previous page"},
                                         {"limit", "query", &s_limit, 0, "At most this many (default 100, max 1000)"},
                                         {0}};

static const kf_response_t create_res[] = {
    {201, "The conversation, and the greeting when a language was given", &s_created, NULL},
    {413, "Body larger than the limit", &s_error, NULL},
    {415, "Body is not application/json", &s_error, NULL},
    {503, "Storage is busy (see Retry-After)", &s_error, NULL},
    {0}};
static const kf_response_t message_res[] = {
    {200, "The bot's replies, committed to history before this answer", &s_answer, NULL},
    {404, "No such conversation", &s_error, NULL},
    {409, "The conversation has ended (closed or expired)", &s_error, NULL},
    {413, "Body larger than the limit", &s_error, NULL},
    {415, "Body is not application/json", &s_error, NULL},
    {503, "Too many messages waiting in this conversation, or storage busy (see Retry-After)", &s_error, NULL},
    {0}};
static const kf_response_t fetch_res[] = {{200, "Messages in seq order", &s_transcript, NULL},
                                          {401, "An agent token that is missing its session (expired, forged, ended)", &s_error, NULL},
                                          {403, "An agent token, and the conversation is not assigned to that agent (admins may read all)", &s_error, NULL},
                                          {404, "No such conversation", &s_error, NULL}, {0}};
static const kf_response_t close_res[] = {
    {200, "Ended (an ended conversation only records the rating)", &s_closed, NULL},
    {404, "No such conversation", &s_error, NULL},
    {503, "Storage is busy (see Retry-After)", &s_error, NULL},
    {0}};
static const kf_response_t list_res[] = {{200, "Newest first", &s_list, NULL},
                                         {401, "Missing or wrong admin token", &s_error, NULL},
                                         {403, "No admin token configured and the client is not on loopback", &s_error, NULL},
                                         {0}};

/* ---- answers ------------------------------------------------------------ */

static void send_conv_error(kf_req_t *r, int code, const char *msg) {
    char detail[300];
    switch (code) {
    case KF_CONV_NOTFOUND: kf_http_send_error(r, 404, "Not Found: no such conversation"); return;
    case KF_CONV_CLOSED: kf_http_send_error(r, 409, "Conflict: the conversation has ended"); return;
    case KF_CONV_BUSY:
    case KF_CONV_SHUTDOWN:
    case KF_CONV_NOMEM:
        kf_http_add_header(r, "retry-after", "1");
        snprintf(detail, sizeof detail, "Service Unavailable: %s", kf_conv_strerror(code));
        kf_http_send_error(r, 503, detail);
        return;
    case KF_CONV_INVALID: /* the schemas catch these first; the engine's own check agrees */
        snprintf(detail, sizeof detail, "Unprocessable Content: %s", msg && msg[0] ? msg : kf_conv_strerror(code));
        kf_http_send_error(r, 422, detail);
        return;
    default:
        snprintf(detail, sizeof detail, "Internal Server Error: %s", msg && msg[0] ? msg : kf_conv_strerror(code));
        kf_http_send_error(r, 500, detail);
    }
}

static cJSON *iso_time(int64_t ms) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
    return cJSON_CreateString(buf);
}

static cJSON *reply_json(const kf_conv_msg_t *m) {
    cJSON *o = cJSON_CreateObject(), *qrs = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "seq", (double)m->seq);
    cJSON_AddStringToObject(o, "from", kf_history_sender_name(m->from));
    cJSON_AddStringToObject(o, "text", m->text);
    for (size_t i = 0; i < m->n_quick_replies; i++) {
        const kf_bot_quick_reply_t *q = &m->quick_replies[i];
        cJSON *qo = cJSON_CreateObject();
        cJSON_AddStringToObject(qo, "title", q->title);
        cJSON_AddStringToObject(qo, "payload", q->payload ? q->payload : q->title);
        cJSON_AddItemToArray(qrs, qo);
    }
    cJSON_AddItemToObject(o, "quick_replies", qrs);
    cJSON_AddItemToObject(o, "created_at", iso_time(m->created_at_ms));
    return o;
}

static cJSON *replies_json(const kf_conv_result_t *res) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < res->n_replies; i++) cJSON_AddItemToArray(a, reply_json(&res->replies[i]));
    return a;
}

/* ---- POST /v1/conversations -------------------------------------------- */

static const char *body_str(const kf_req_t *r, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->body, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int body_int(const kf_req_t *r, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->body, name);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static void on_created(const kf_conv_result_t *res, void *ud) {
    kf_http_later_t *p = ud;
    kf_req_t *r = kf_http_later_req(p);
    if (r && res->status != KF_CONV_OK) send_conv_error(r, res->status, res->error);
    else if (r) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "conversation_id", res->conv_id);
        cJSON_AddItemToObject(doc, "messages", replies_json(res));
        char *loc = h2o_mem_alloc_pool(&r->h2o->pool, 64);
        snprintf(loc, 64, "/v1/conversations/%s/messages", res->conv_id);
        kf_http_add_header(r, "location", loc);
        kf_http_send_json(r, 201, doc);
    }
    kf_http_later_done(p);
}

static void create(kf_req_t *r) {
    kf_history_profile_t prof = {body_str(r, "user_id"), body_str(r, "name"), body_str(r, "language"), body_int(r, "vip_tier")};
    int any = prof.user_id || prof.name || prof.language || prof.vip_tier;
    kf_http_later_t *p = kf_http_later(r);
    if (!p) {
        send_conv_error(r, KF_CONV_NOMEM, NULL);
        return;
    }
    char id[KF_HISTORY_ID_LEN + 1];
    int rc = kf_conv_create(engine, any ? &prof : NULL, r->thread->loop, on_created, p, id);
    if (rc != KF_CONV_OK) {
        send_conv_error(r, rc, NULL);
        kf_http_later_done(p);
    }
}

/* ---- POST /v1/conversations/{id}/messages ------------------------------ */

static void path_id(const kf_req_t *r, char id[KF_HISTORY_ID_LEN + 1]) {
    const h2o_iovec_t *v = kf_req_path_param(r, "conversation_id");
    size_t n = v && v->len <= KF_HISTORY_ID_LEN ? v->len : 0;
    memcpy(id, v ? v->base : "", n);
    id[n] = 0;
}

static void on_replied(const kf_conv_result_t *res, void *ud) {
    kf_http_later_t *p = ud;
    kf_req_t *r = kf_http_later_req(p);
    if (r && res->status != KF_CONV_OK) send_conv_error(r, res->status, res->error);
    else if (r) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "conversation_id", res->conv_id);
        cJSON_AddNumberToObject(doc, "seq", (double)res->ack_seq);
        cJSON_AddBoolToObject(doc, "duplicate", res->duplicate);
        if (res->intent) cJSON_AddStringToObject(doc, "intent", res->intent);
        else cJSON_AddNullToObject(doc, "intent");
        if (res->intent) cJSON_AddNumberToObject(doc, "confidence", res->confidence);
        else cJSON_AddNullToObject(doc, "confidence");
        cJSON *ents = cJSON_Parse(res->entities_json ? res->entities_json : "[]");
        cJSON_AddItemToObject(doc, "entities", ents ? ents : cJSON_CreateArray());
        cJSON_AddStringToObject(doc, "lang", res->lang ? res->lang : "");
        if (res->handoff_skill) {
            cJSON *h = cJSON_CreateObject();
            cJSON_AddStringToObject(h, "skill", res->handoff_skill);
            cJSON_AddItemToObject(doc, "handoff", h);
        } else {
            cJSON_AddNullToObject(doc, "handoff");
        }
        cJSON_AddItemToObject(doc, "replies", replies_json(res));
        kf_http_send_json(r, 200, doc);
    }
    kf_http_later_done(p);
}

static void message(kf_req_t *r) {
    char id[KF_HISTORY_ID_LEN + 1];
    path_id(r, id);
    const char *text = body_str(r, "text"), *cmid = body_str(r, "client_msg_id");
    kf_http_later_t *p = kf_http_later(r);
    if (!p) {
        send_conv_error(r, KF_CONV_NOMEM, NULL);
        return;
    }
    int rc = kf_conv_message(engine, id, text, strlen(text), cmid, r->thread->loop, on_replied, p);
    if (rc != KF_CONV_OK) {
        send_conv_error(r, rc, NULL);
        kf_http_later_done(p);
    }
}

/* ---- GET /v1/conversations/{id}/messages -------------------------------- */

static int64_t param_int(const kf_req_t *r, const char *name, int64_t dflt) {
    const cJSON *v = r->params ? cJSON_GetObjectItemCaseSensitive(r->params, name) : NULL;
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static cJSON *nullable_str(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

/* A request with an agent credential reads as that agent: it must be live,
 * and the conversation assigned to it unless it is an admin.  Customers
 * (no agent credential) keep reading by conversation id.  1 = proceed. */
/* 0: answered (401/403); 1: a customer (no agent credential: the id is the
 * secret); 2: an agent who may read it, internal notes included. */
static int agent_may_read(kf_req_t *r, const kf_history_conv_t *hc) {
    h2o_iovec_t tok;
    kf_agent_t a;
    if (!kf_agent_auth_http() || !kf_agent_auth_token_of(r, &tok)) return 1;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return 0;
    if (a.role == KF_AGENT_ROLE_ADMIN || (hc->agent_id && !strcmp(hc->agent_id, a.id))) return 2;
    kf_http_send_error(r, 403, "Forbidden: this conversation is not assigned to you");
    return 0;
}

static void fetch(kf_req_t *r) {
    char id[KF_HISTORY_ID_LEN + 1], err[200];
    path_id(r, id);
    kf_history_t *h = kf_conv_history(engine);
    kf_history_conv_t hc;
    int rc = kf_history_get(h, id, &hc, err, sizeof err);
    if (rc == KF_HISTORY_NOTFOUND) {
        kf_http_send_error(r, 404, "Not Found: no such conversation");
        return;
    }
    int reader = rc == KF_HISTORY_OK ? agent_may_read(r, &hc) : 1;
    if (!reader) {
        kf_history_conv_free(&hc);
        return;
    }
    kf_history_msgs_t ms = {0};
    if (rc == KF_HISTORY_OK)
        rc = kf_history_fetch(h, id, param_int(r, "after_seq", 0), (size_t)param_int(r, "limit", 100), &ms, err, sizeof err);
    if (rc != KF_HISTORY_OK) {
        kf_http_send_error(r, 500, "Internal Server Error: history unreadable");
        kf_history_conv_free(&hc);
        return;
    }
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(doc, "conversation_id", id);
    for (size_t i = 0; i < ms.n; i++) {
        const kf_history_msg_t *m = &ms.v[i];
        if (m->sender == KF_HISTORY_NOTE && reader != 2) continue; /* agents' notes are not the customer's */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)m->seq);
        cJSON_AddStringToObject(o, "from", kf_history_sender_name(m->sender));
        cJSON_AddStringToObject(o, "text", m->text);
        cJSON_AddItemToObject(o, "intent", nullable_str(m->intent));
        cJSON_AddItemToObject(o, "confidence", m->intent ? cJSON_CreateNumber(m->confidence) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "client_msg_id", nullable_str(m->client_msg_id));
        cJSON_AddItemToObject(o, "created_at", iso_time(m->created_at_ms));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(doc, "messages", arr);
    /* The conversation's newest seq: a client has everything once it has this one. */
    cJSON_AddNumberToObject(doc, "last_seq", (double)hc.last_seq);
    kf_history_msgs_free(&ms);
    kf_history_conv_free(&hc);
    kf_http_send_json(r, 200, doc);
}

/* ---- POST /v1/conversations/{id}/close ---------------------------------- */

static void on_closed(const kf_conv_result_t *res, void *ud) {
    kf_http_later_t *p = ud;
    kf_req_t *r = kf_http_later_req(p);
    if (r && res->status != KF_CONV_OK) send_conv_error(r, res->status, res->error);
    else if (r) {
        /* An ended conversation keeps its status (e.g. expired): say which. */
        kf_history_conv_t hc;
        char err[200];
        const char *status = "closed";
        int got = kf_history_get(kf_conv_history(engine), res->conv_id, &hc, err, sizeof err) == KF_HISTORY_OK;
        if (got && kf_history_status_name(hc.status)) status = kf_history_status_name(hc.status);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "conversation_id", res->conv_id);
        cJSON_AddStringToObject(doc, "status", status);
        if (got) kf_history_conv_free(&hc);
        kf_http_send_json(r, 200, doc);
    }
    kf_http_later_done(p);
}

static void close_conv(kf_req_t *r) {
    char id[KF_HISTORY_ID_LEN + 1];
    path_id(r, id);
    kf_http_later_t *p = kf_http_later(r);
    if (!p) {
        send_conv_error(r, KF_CONV_NOMEM, NULL);
        return;
    }
    int rc = kf_conv_close(engine, id, body_int(r, "csat"), body_str(r, "comment"), r->thread->loop, on_closed, p);
    if (rc != KF_CONV_OK) {
        send_conv_error(r, rc, NULL);
        kf_http_later_done(p);
    }
}

/* ---- GET /v1/conversations (admin) -------------------------------------- */

static cJSON *summary_json(const kf_history_conv_t *cv) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "conversation_id", cv->id);
    cJSON_AddStringToObject(o, "status", kf_history_status_name(cv->status));
    cJSON_AddItemToObject(o, "user_id", nullable_str(cv->user_id));
    cJSON_AddItemToObject(o, "name", nullable_str(cv->name));
    cJSON_AddNumberToObject(o, "vip_tier", cv->vip_tier);
    cJSON_AddItemToObject(o, "language", nullable_str(cv->language));
    cJSON_AddItemToObject(o, "started_at", iso_time(cv->started_at_ms));
    cJSON_AddItemToObject(o, "ended_at", cv->ended_at_ms ? iso_time(cv->ended_at_ms) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "csat", cv->csat ? cJSON_CreateNumber(cv->csat) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "last_seq", (double)cv->last_seq);
    return o;
}

static void list(kf_req_t *r) {
    const cJSON *st = r->params ? cJSON_GetObjectItemCaseSensitive(r->params, "status") : NULL;
    const cJSON *cur = r->params ? cJSON_GetObjectItemCaseSensitive(r->params, "cursor") : NULL;
    int status = cJSON_IsString(st) ? kf_history_status_parse(st->valuestring) : KF_HISTORY_STATUS_ANY;
    kf_history_list_query_t q = {(kf_history_status_t)(status < 0 ? 0 : status),
                                 cJSON_IsString(cur) ? cur->valuestring : NULL, (size_t)param_int(r, "limit", 100)};
    kf_history_convs_t cs = {0};
    char next[KF_HISTORY_CURSOR_MAX], err[200];
    int rc = kf_history_list(kf_conv_history(engine), &q, &cs, next, err, sizeof err);
    if (rc == KF_HISTORY_INVALID) {
        cJSON *errors = cJSON_CreateArray(), *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
        cJSON_AddStringToObject(e, "type", "value_error");
        cJSON_AddItemToArray(loc, cJSON_CreateString("query"));
        cJSON_AddItemToArray(loc, cJSON_CreateString("cursor"));
        cJSON_AddItemToObject(e, "loc", loc);
        cJSON_AddStringToObject(e, "msg", "Value error, not a cursor this server gave");
        cJSON_AddStringToObject(e, "input", q.cursor ? q.cursor : "");
        cJSON_AddItemToArray(errors, e);
        kf_http_send_validation(r, errors);
        return;
    }
    if (rc != KF_HISTORY_OK) {
        kf_http_send_error(r, 500, "Internal Server Error: history unreadable");
        return;
    }
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    for (size_t i = 0; i < cs.n; i++) cJSON_AddItemToArray(arr, summary_json(&cs.v[i]));
    cJSON_AddItemToObject(doc, "conversations", arr);
    cJSON_AddItemToObject(doc, "next_cursor", next[0] ? cJSON_CreateString(next) : cJSON_CreateNull());
    kf_history_convs_free(&cs);
    kf_http_send_json(r, 200, doc);
}

static const kf_route_t conv_routes[] = {
    {.method = "POST", .path = "/v1/conversations", .operation_id = "createConversation", .summary = "Start a conversation",
     .description = "Optional profile. With a language the bot's greeting is stored as seq 1 and returned.",
     .tag = "conversations", .body = &s_create_req, .responses = create_res, .handler = create, .flags = KF_ROUTE_BODY_OPTIONAL},
    {.method = "POST", .path = "/v1/conversations/{conversation_id}/messages", .operation_id = "sendMessage",
     .summary = "Send a customer message and get the bot's replies",
     .description = "Messages of one conversation are processed one at a time, in order. The message and the replies are "
                    "committed to history before this answer. A resent client_msg_id gets the first answer (duplicate: true).",
     .tag = "conversations", .params = id_params, .body = &s_msg_req, .responses = message_res, .handler = message},
    {.method = "GET", .path = "/v1/conversations/{conversation_id}/messages", .operation_id = "getMessages",
     .summary = "The transcript, after a seq", .tag = "conversations", .params = fetch_params, .responses = fetch_res,
     .handler = fetch},
    {.method = "POST", .path = "/v1/conversations/{conversation_id}/close", .operation_id = "closeConversation",
     .summary = "End a conversation, with an optional rating", .tag = "conversations", .params = id_params,
     .body = &s_close_req, .responses = close_res, .handler = close_conv, .flags = KF_ROUTE_BODY_OPTIONAL},
    {.method = "GET", .path = "/v1/conversations", .operation_id = "listConversations", .summary = "Conversations, newest first",
     .description = "Paged with next_cursor. Needs the admin token (Authorization: Bearer) when the server has one, else a "
                    "loopback client.",
     .tag = "admin", .params = list_params, .responses = list_res, .handler = list, .flags = KF_ROUTE_ADMIN},
};

int kf_routes_conv_register(kf_conv_t *conv) {
    engine = conv;
    char err[256];
    const kf_schema_t *compile[] = {&s_msg_req, &s_conv_id, &s_create_req, &s_close_req};
    for (size_t i = 0; i < sizeof compile / sizeof compile[0]; i++)
        if (kf_schema_compile(compile[i], err, sizeof err) < 0) return -1;
    return kf_router_add(conv_routes, sizeof conv_routes / sizeof conv_routes[0]);
}
