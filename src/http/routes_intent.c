/* routes_intent.c — the brief's intent API (see routes_intent.h).
 *
 * POST /v1/intent classifies inline on the event loop: the model answers in
 * microseconds, far less than handing the work to another thread would cost.
 * ?async=true (or a callback_url) takes the brief's background path instead:
 * 202 at once, the job runs on the JobQueue's workers, the result is polled at
 * /v1/jobs/{job_id} and POSTed to callback_url by the webhook sender. */
#include "http/routes_intent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/intent.h"
#include "http/request.h"
#include "http/router.h"
#include "http/schema.h"
#include "queue/jobq.h"
#include "queue/webhook.h"
#include "util/buf.h"

/* ---- schemas: the request model is the brief's, field for field ---- */

static const kf_schema_t s_query = KF_STRING(.min_length = 1, .max_length = 200,
                                             .description = "The customer's message (1-200 characters)",
                                             .example_json = "\"I lost my credit card\"");
static const kf_schema_t s_session = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"), .description = "Session id: 32 lowercase hex digits",
                                               .example_json = "\"0123456789abcdef0123456789abcdef\"");
static const kf_schema_t s_context = KF_OBJECT(.default_json = "{}", .description = "Free-form context");
static const kf_schema_t s_callback = KF_STRING(.format = "uri", .max_length = 2048,
                                                .description = "http(s) URL that receives the result by POST (implies async)");
static const kf_schema_prop_t intent_props[] = {
    {"query", &s_query, 1}, {"session_id", &s_session, 1}, {"context", &s_context, 0}, {"callback_url", &s_callback, 0}, {0}};
static const kf_schema_t s_intent_req = KF_OBJECT(.name = "IntentRequest", .properties = intent_props);

static const kf_schema_t s_name = KF_STRING(.description = "Intent name; \"oos\" when out of scope");
static const kf_schema_t s_conf = KF_NUMBER(KF_RANGE(0, 1), .description = "Probability of the intent");
static const kf_schema_prop_t alt_props[] = {{"intent", &s_name, 1}, {"confidence", &s_conf, 1}, {0}};
static const kf_schema_t s_alt = KF_OBJECT(.name = "IntentAlternative", .properties = alt_props);
static const kf_schema_t s_alts = KF_ARRAY(.items = &s_alt, .max_items = 3, .description = "Best intents first");
static const kf_schema_t s_etype = KF_STRING(.description = "money, date, card_number, card_last4, phone, email, order_id...");
static const kf_schema_t s_evalue = KF_STRING(.description = "Normalised value");
static const kf_schema_t s_etext = KF_STRING(.description = "The text as written");
static const kf_schema_t s_epos = KF_INTEGER(KF_GE(0), .description = "Offset in Unicode code points");
static const kf_schema_prop_t ent_props[] = {
    {"type", &s_etype, 1}, {"value", &s_evalue, 1}, {"text", &s_etext, 1}, {"start", &s_epos, 1}, {"end", &s_epos, 1}, {0}};
static const kf_schema_t s_entity = KF_OBJECT(.name = "Entity", .properties = ent_props);
static const kf_schema_t s_entities = KF_ARRAY(.items = &s_entity);
static const kf_schema_t s_bool = KF_BOOLEAN();
static const kf_schema_t s_version = KF_STRING(.description = "Version of the model that answered");
static const kf_schema_t s_sid_out = KF_STRING();
static const kf_schema_prop_t res_props[] = {
    {"intent", &s_name, 1},        {"confidence", &s_conf, 1},   {"alternatives", &s_alts, 1}, {"entities", &s_entities, 1},
    {"out_of_scope", &s_bool, 1}, {"session_id", &s_sid_out, 1}, {"model_version", &s_version, 1}, {0}};
static const kf_schema_t s_intent_res = KF_OBJECT(.name = "IntentResponse", .properties = res_props);

static const char *const job_states[] = {"processing", "done", "failed", NULL};
static const kf_schema_t s_job_status = KF_STRING(.enum_values = job_states);
static const kf_schema_t s_job_id = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"), .description = "Job id: 32 lowercase hex digits");
static const kf_schema_prop_t accepted_props[] = {{"status", &s_job_status, 1}, {"job_id", &s_job_id, 1}, {0}};
static const kf_schema_t s_accepted = KF_OBJECT(.name = "JobAccepted", .properties = accepted_props);
static const kf_schema_t s_any = KF_OBJECT(.description = "The failure, for status failed");
static const kf_schema_prop_t job_props[] = {
    {"job_id", &s_job_id, 1}, {"status", &s_job_status, 1}, {"result", &s_intent_res, 0}, {"error", &s_any, 0}, {0}};
static const kf_schema_t s_job = KF_OBJECT(.name = "Job", .properties = job_props);
static const kf_schema_t s_detail = KF_STRING();
static const kf_schema_prop_t err_props[] = {{"detail", &s_detail, 1}, {0}};
static const kf_schema_t s_error = KF_OBJECT(.name = "HTTPError", .properties = err_props);
static const kf_schema_t s_reload_status = KF_STRING();
static const kf_schema_prop_t reload_props[] = {{"status", &s_reload_status, 1}, {"model_version", &s_version, 1}, {0}};
static const kf_schema_t s_reload = KF_OBJECT(.name = "Reloaded", .properties = reload_props);

static const kf_schema_t s_async = KF_BOOLEAN(.default_json = "false", .description = "Run in the background: answer 202 with a job id");
static const kf_param_t intent_params[] = {{"async", "query", &s_async, 0, "Background processing"}, {0}};
static const kf_param_t job_params[] = {{"job_id", "path", &s_job_id, 1, "The id returned by an async request"}, {0}};

static const kf_response_t intent_res[] = {
    {200, "The classification", &s_intent_res, NULL},
    {202, "Accepted for background processing", &s_accepted, NULL},
    {413, "Body larger than the limit", &s_error, NULL},
    {415, "Body is not application/json", &s_error, NULL},
    {503, "No model loaded, or the job queue is full (see Retry-After)", &s_error, NULL},
    {0}};
static const kf_response_t job_res[] = {{200, "The job's state and, once done, its result", &s_job, NULL},
                                        {404, "Unknown job, or its result expired", &s_error, NULL}, {0}};
static const kf_response_t reload_res[] = {{200, "The new model is serving", &s_reload, NULL},
                                           {401, "Missing or wrong admin token", &s_error, NULL},
                                           {403, "No admin token configured and the client is not on loopback", &s_error, NULL},
                                           {500, "The file could not be loaded; the previous model keeps serving", &s_error, NULL}, {0}};

static kf_jobq_t *jobs;

/* The answer for one validated request body, appended to out; -1 with err. */
static int classify_body(const cJSON *body, kf_buf_t *out, char *err, size_t errlen) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(body, "query");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(body, "session_id");
    return kf_intent_classify_json(q->valuestring, strlen(q->valuestring), sid->valuestring, out, err, errlen);
}

static int run_job(const char *payload, size_t len, char **result) {
    char err[256];
    kf_buf_t b;
    kf_buf_init(&b);
    cJSON *body = cJSON_ParseWithLength(payload, len);
    int rc = body ? classify_body(body, &b, err, sizeof err) : -1;
    cJSON_Delete(body);
    if (rc < 0) {
        kf_buf_free(&b);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", body ? err : "unreadable job payload");
        *result = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        return -1;
    }
    if (b.oom) {
        kf_buf_free(&b);
        *result = NULL;
        return -1;
    }
    *result = b.data;
    return 0;
}

static void job_done(const char *id, const char *url, const char *result) {
    kf_buf_t b;
    kf_buf_init(&b);
    kf_buf_printf(&b, "{\"job_id\":\"%s\",\"status\":\"done\",\"result\":%s}", id, result);
    if (!b.oom) kf_webhook_post(url, b.data, b.len, id);
    kf_buf_free(&b);
}

static int async_requested(kf_req_t *r) {
    cJSON *a = r->params ? cJSON_GetObjectItemCaseSensitive(r->params, "async") : NULL;
    return cJSON_IsTrue(a);
}

static void intent_async(kf_req_t *r) {
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r->body, "callback_url");
    const char *url = cJSON_IsString(cb) ? cb->valuestring : NULL;
    char *payload = cJSON_PrintUnformatted(r->body), id[33];
    int rc = payload ? kf_jobq_submit(jobs, payload, strlen(payload), url, id) : KF_JOBQ_NOMEM;
    cJSON_free(payload);
    if (rc == KF_JOBQ_FULL) {
        kf_http_add_header(r, "retry-after", "1");
        kf_http_send_error(r, 503, "Service Unavailable: the background job queue is full, retry shortly");
        return;
    }
    if (rc != KF_JOBQ_OK) {
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "processing");
    cJSON_AddStringToObject(doc, "job_id", id);
    char *loc = h2o_mem_alloc_pool(&r->h2o->pool, 48);
    snprintf(loc, 48, "/v1/jobs/%s", id);
    kf_http_add_header(r, "location", loc);
    kf_http_send_json(r, 202, doc);
}

static void intent(kf_req_t *r) {
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r->body, "callback_url");
    if (cJSON_IsString(cb) && !kf_webhook_url_ok(cb->valuestring)) {
        cJSON *errors = cJSON_CreateArray(), *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
        cJSON_AddStringToObject(e, "type", "url_scheme");
        cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
        cJSON_AddItemToArray(loc, cJSON_CreateString("callback_url"));
        cJSON_AddItemToObject(e, "loc", loc);
        cJSON_AddStringToObject(e, "msg", "URL scheme should be 'http' or 'https'");
        cJSON_AddStringToObject(e, "input", cb->valuestring);
        cJSON_AddItemToArray(errors, e);
        kf_http_send_validation(r, errors);
        return;
    }
    if (!kf_intent_ready()) {
        kf_http_send_error(r, 503, "Service Unavailable: no intent model is loaded");
        return;
    }
    if (async_requested(r) || cJSON_IsString(cb)) {
        intent_async(r);
        return;
    }
    char err[256], stack[2048];
    kf_buf_t b;
    kf_buf_init_with(&b, stack, sizeof stack);
    if (classify_body(r->body, &b, err, sizeof err) < 0) kf_http_send_error(r, 400, err);
    else kf_http_send_copy(r, 200, "application/json", b.data, b.len);
    kf_buf_free(&b);
}

static void job_status(kf_req_t *r) {
    const h2o_iovec_t *idv = kf_req_path_param(r, "job_id");
    char id[33];
    if (idv->len != 32) {
        kf_http_send_error(r, 404, "Not Found: no such job");
        return;
    }
    memcpy(id, idv->base, 32);
    id[32] = 0;
    char *result = NULL;
    kf_job_state_t st = kf_jobq_get(jobs, id, &result);
    if (st == KF_JOB_UNKNOWN) {
        kf_http_send_error(r, 404, "Not Found: no such job (unknown, or its result expired)");
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "job_id", id);
    cJSON_AddStringToObject(doc, "status", st == KF_JOB_PROCESSING ? "processing" : st == KF_JOB_DONE ? "done" : "failed");
    cJSON *res = result ? cJSON_Parse(result) : NULL;
    free(result);
    if (res) cJSON_AddItemToObject(doc, st == KF_JOB_DONE ? "result" : "error", res);
    kf_http_send_json(r, 200, doc);
}

static void reload(kf_req_t *r) {
    char err[512];
    if (kf_intent_reload(err, sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "reload failed, the previous model stays in service: %s", err);
        kf_http_send_error(r, 500, msg);
        return;
    }
    char ver[128];
    kf_intent_version(ver, sizeof ver);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "reloaded");
    cJSON_AddStringToObject(doc, "model_version", ver);
    kf_http_send_json(r, 200, doc);
}

static const kf_route_t intent_routes[] = {
    {.method = "POST", .path = "/v1/intent", .operation_id = "classifyIntent", .summary = "Classify a customer message",
     .description = "Intent, confidence, top-3 alternatives, entities and out-of-scope detection. With ?async=true or a "
                    "callback_url the answer is 202 and the work runs in the background.",
     .tag = "nlu", .params = intent_params, .body = &s_intent_req, .responses = intent_res, .handler = intent},
    {.method = "GET", .path = "/v1/jobs/{job_id}", .operation_id = "getJob", .summary = "State and result of a background job",
     .tag = "nlu", .params = job_params, .responses = job_res, .handler = job_status},
    {.method = "POST", .path = "/v1/admin/reload", .operation_id = "reloadModel", .summary = "Reload the model file",
     .description = "Loads the model file again and swaps it in atomically; requests in flight finish on the old model. "
                    "SIGHUP does the same. Needs the admin token (Authorization: Bearer) when the server has one, "
                    "else a loopback client.",
     .tag = "admin", .responses = reload_res, .handler = reload, .flags = KF_ROUTE_ADMIN},
};

int kf_routes_intent_register(const kf_routes_intent_config_t *cfg) {
    kf_jobq_mem_config_t qc = {.capacity = cfg->job_capacity, .workers = cfg->job_workers,
                               .max_results = cfg->max_results, .result_ttl_s = cfg->job_ttl_s};
    jobs = kf_jobq_mem_new(&qc, run_job, job_done);
    char err[256];
    if (!jobs || kf_schema_compile(&s_intent_req, err, sizeof err) < 0 || kf_schema_compile(&s_job_id, err, sizeof err) < 0)
        return -1;
    return kf_router_add(intent_routes, sizeof intent_routes / sizeof intent_routes[0]);
}
