/* test_http_openapi.c — the OpenAPI 3.1 document built by http/openapi.c
 * from a small route table: operations, parameters, request bodies,
 * components, FastAPI's 422 shapes and the JSON Schema keywords.
 *
 * KF_OPENAPI_DUMP=path writes the document to path, to lint it with
 * `npx --yes @redocly/cli@latest lint path`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/openapi.h"
#include "http/schema.h"

static const kf_schema_t query_s = KF_STRING(.min_length = 1, .max_length = 200, .description = "What the customer wrote");
static const kf_schema_t sid_s = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"));
static const kf_schema_t ctx_s = KF_OBJECT(.default_json = "{}");
static const kf_schema_t cb_s = KF_STRING(.format = "uri", .max_length = 2048, .nullable = 1);
static const kf_schema_t lang_s = KF_STRING(.enum_values = (const char *const[]){"zh", "en", NULL});
static const kf_schema_prop_t intent_props[] = {{"query", &query_s, 1},  {"session_id", &sid_s, 1},
                                                {"context", &ctx_s, 0},  {"callback_url", &cb_s, 0},
                                                {"lang", &lang_s, 0},    {0}};
static const kf_schema_t intent_s = KF_OBJECT(.name = "IntentRequest", .properties = intent_props, .forbid_extra = 1,
                                              
                                              .example_json = "{\"query\":\"hi\",\"session_id\":"
                                                              "\"0123456789abcdef0123456789abcdef\"}");

static const kf_schema_t name_s = KF_STRING(.min_length = 1);
static const kf_schema_t score_s = KF_NUMBER(KF_RANGE(0, 1));
static const kf_schema_t cand_score_s = KF_NUMBER(KF_GT(0));
static const kf_schema_prop_t cand_props[] = {{"intent", &name_s, 1}, {"score", &cand_score_s, 1}, {0}};
static const kf_schema_t cand_s = KF_OBJECT(.name = "Candidate", .properties = cand_props);
static const kf_schema_t cands_s = KF_ARRAY(.items = &cand_s, .max_items = 5);
static const kf_schema_prop_t resp_props[] = {
    {"intent", &name_s, 1}, {"score", &score_s, 1}, {"candidates", &cands_s, 1}, {0}};
static const kf_schema_t resp_s = KF_OBJECT(.name = "IntentResponse", .properties = resp_props);

static const kf_schema_t limit_s = KF_INTEGER(KF_RANGE(1, 100), .default_json = "10");
static const kf_schema_t async_s = KF_BOOLEAN(.default_json = "false");
static const kf_param_t intent_params[] = {{"async", "query", &async_s, 0, "Queue the request"}, {0}};
static const kf_param_t job_params[] = {
    {"job_id", "path", &name_s, 1, "Job id"}, {"limit", "query", &limit_s, 0, NULL}, {0}};

static const kf_response_t intent_res[] = {{200, "The intent", &resp_s, NULL}, {0}};
static const kf_response_t job_res[] = {{200, "The job", &resp_s, NULL}, {404, "No such job", NULL, NULL}, {0}};
static const kf_response_t health_res[] = {{200, "Alive", NULL, NULL}, {0}};
static const kf_response_t html_res[] = {{200, "A page", NULL, "text/html"}, {0}};
static const kf_response_t ws_res[] = {{400, "Not a WebSocket handshake", NULL, NULL}, {0}};
static const kf_response_t ws2_res[] = {{101, "Upgraded", NULL, NULL}, {0}};

static const kf_route_t api_routes[] = {
    {.method = "POST", .path = "/v1/intent", .operation_id = "classifyIntent", .summary = "Classify an utterance",
     .description = "Returns the best intent.", .tag = "intent", .params = intent_params, .body = &intent_s,
     .responses = intent_res},
    {.method = "GET", .path = "/v1/jobs/{job_id}", .operation_id = "getJob", .summary = "A queued job",
     .tag = "intent", .params = job_params, .responses = job_res},
};
static const kf_route_t ops_routes[] = {
    {.method = "GET", .path = "/health", .operation_id = "health", .summary = "Liveness", .tag = "operations",
     .responses = health_res},
    {.method = "GET", .path = "/docs", .operation_id = "docs", .summary = "Docs", .tag = "operations",
     .responses = html_res},
    {.method = "GET", .path = "/static/", .operation_id = "static", .summary = "Assets", .tag = "web",
     .responses = html_res, .flags = KF_ROUTE_HIDDEN | KF_ROUTE_PREFIX},
    {.method = "GET", .path = "/v1/ws/echo", .operation_id = "wsEcho", .summary = "Echo", .tag = "operations",
     .responses = ws_res, .flags = KF_ROUTE_WEBSOCKET},
    {.method = "GET", .path = "/v1/ws/chat", .operation_id = "wsChat", .summary = "Chat", .tag = "operations",
     .responses = ws2_res, .flags = KF_ROUTE_WEBSOCKET},
    {.method = "GET", .path = "/health", .operation_id = "health2", .summary = "Shadowed", .tag = "shadow",
     .responses = health_res},
};

static cJSON *doc;

static void build(void) {
    const kf_route_t *tables[] = {api_routes, ops_routes};
    size_t counts[] = {sizeof api_routes / sizeof api_routes[0], sizeof ops_routes / sizeof ops_routes[0]};
    doc = kf_openapi_document(tables, counts, 2, "kefu", "1.2.3");
    cr_assert_not_null(doc);
    const char *dump = getenv("KF_OPENAPI_DUMP");
    if (dump) {
        char *text = cJSON_Print(doc);
        FILE *f = fopen(dump, "w");
        if (f) fputs(text, f), fclose(f);
        free(text);
    }
}

static void teardown(void) { cJSON_Delete(doc); }

static cJSON *at(const char *path) {
    /* slash-separated keys; "~1" stands for "/" as in JSON Pointer */
    cJSON *cur = doc;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok && cur; tok = strtok_r(NULL, "/", &save)) {
        char key[128];
        size_t o = 0;
        for (size_t i = 0; tok[i] && o + 1 < sizeof key; i++) {
            if (tok[i] == '~' && tok[i + 1] == '1') key[o++] = '/', i++;
            else key[o++] = tok[i];
        }
        key[o] = 0;
        cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(key)) : cJSON_GetObjectItemCaseSensitive(cur, key);
    }
    return cur;
}

static void expect_at(const char *path, const char *want_text) {
    cJSON *got = at(path), *want = cJSON_Parse(want_text);
    cr_assert_not_null(want, "bad expectation %s", want_text);
    char *g = got ? cJSON_PrintUnformatted(got) : NULL;
    cr_expect(got && cJSON_Compare(got, want, 1), "%s:\ngot  %s\nwant %s", path, g ? g : "(absent)", want_text);
    free(g);
    cJSON_Delete(want);
}

TestSuite(openapi, .init = build, .fini = teardown);

Test(openapi, top_level) {
    expect_at("openapi", "\"3.1.0\"");
    expect_at("info", "{\"title\":\"kefu\",\"version\":\"1.2.3\",\"description\":\"Intelligent customer-service "
                      "API.\",\"license\":{\"name\":\"Proprietary\",\"identifier\":\"LicenseRef-Proprietary\"}}");
    expect_at("servers", "[{\"url\":\"/\",\"description\":\"This server\"}]");
    expect_at("security", "[]");
    expect_at("tags", "[{\"name\":\"intent\",\"description\":\"Operations tagged intent.\"},"
                      "{\"name\":\"operations\",\"description\":\"Operations tagged operations.\"}]");
}

Test(openapi, paths_hidden_and_websocket) {
    cJSON *paths = at("paths");
    cr_expect_eq(cJSON_GetArraySize(paths), 6);
    expect_at("paths/~1health/get/operationId", "\"health\""); /* the first route wins, as in dispatch */
    expect_at("paths/~1v1~1ws~1chat/get/responses",
              "{\"101\":{\"description\":\"Upgraded\"},\"431\":{\"description\":\"Request header fields too "
              "large\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
              "ErrorMessage\"}}}}}");
    cr_expect_null(at("paths/~1static~1"));
    expect_at("paths/~1v1~1ws~1echo",
              "{\"get\":{\"tags\":[\"operations\"],\"summary\":\"Echo\",\"operationId\":\"wsEcho\",\"responses\":{"
              "\"101\":{\"description\":\"Switching Protocols\"},\"400\":{\"description\":\"Not a WebSocket "
              "handshake\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
              "ErrorMessage\"}}}}}}}");
    expect_at("paths/~1health/get/responses",
              "{\"200\":{\"description\":\"Alive\",\"content\":{\"application/json\":{\"schema\":{}}}},"
              "\"431\":{\"description\":\"Request header fields too large\",\"content\":{\"application/json\":"
              "{\"schema\":{\"$ref\":\"#/components/schemas/ErrorMessage\"}}}}}");
    expect_at("paths/~1docs/get/responses/200/content", "{\"text/html\":{\"schema\":{\"type\":\"string\"}}}");
}

Test(openapi, post_with_body) {
    expect_at("paths/~1v1~1intent/post/operationId", "\"classifyIntent\"");
    expect_at("paths/~1v1~1intent/post/description", "\"Returns the best intent.\"");
    expect_at("paths/~1v1~1intent/post/parameters",
              "[{\"name\":\"async\",\"in\":\"query\",\"required\":false,\"description\":\"Queue the request\","
              "\"schema\":{\"type\":\"boolean\",\"default\":false}}]");
    expect_at("paths/~1v1~1intent/post/requestBody",
              "{\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/IntentRequest\"}}},"
              "\"required\":true}");
    cJSON *res = at("paths/~1v1~1intent/post/responses");
    cr_expect_eq(cJSON_GetArraySize(res), 4);
    expect_at("paths/~1v1~1intent/post/responses/422",
              "{\"description\":\"Validation Error\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
              "\"#/components/schemas/HTTPValidationError\"}}}}");
    expect_at("paths/~1v1~1intent/post/responses/413/description", "\"Request body too large\"");
    expect_at("paths/~1v1~1intent/post/responses/415/content/application~1json/schema",
              "{\"$ref\":\"#/components/schemas/ErrorMessage\"}");
}

Test(openapi, path_parameters) {
    expect_at("paths/~1v1~1jobs~1{job_id}/get/parameters",
              "[{\"name\":\"job_id\",\"in\":\"path\",\"required\":true,\"description\":\"Job id\",\"schema\":"
              "{\"type\":\"string\",\"minLength\":1}},"
              "{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"integer\","
              "\"minimum\":1,\"maximum\":100,\"default\":10}}]");
    cr_expect_not_null(at("paths/~1v1~1jobs~1{job_id}/get/responses/422"));
    cr_expect_not_null(at("paths/~1v1~1jobs~1{job_id}/get/responses/404"));
    cr_expect_null(at("paths/~1v1~1jobs~1{job_id}/get/responses/413"));
    cr_expect_null(at("paths/~1v1~1jobs~1{job_id}/get/requestBody"));
}

Test(openapi, request_schema) {
    expect_at("components/schemas/IntentRequest",
              "{\"type\":\"object\",\"title\":\"IntentRequest\",\"properties\":{"
              "\"query\":{\"type\":\"string\",\"description\":\"What the customer wrote\",\"minLength\":1,"
              "\"maxLength\":200},"
              "\"session_id\":{\"type\":\"string\",\"pattern\":\"^[a-f0-9]{32}$\"},"
              "\"context\":{\"type\":\"object\",\"additionalProperties\":true,\"default\":{}},"
              "\"callback_url\":{\"type\":[\"string\",\"null\"],\"maxLength\":2048,\"format\":\"uri\"},"
              "\"lang\":{\"type\":\"string\",\"enum\":[\"zh\",\"en\"]}},"
              "\"required\":[\"query\",\"session_id\"],\"additionalProperties\":false,"
              "\"examples\":[{\"query\":\"hi\",\"session_id\":\"0123456789abcdef0123456789abcdef\"}]}");
}

Test(openapi, nested_components_and_bounds) {
    expect_at("components/schemas/IntentResponse/properties/candidates",
              "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Candidate\"},\"maxItems\":5}");
    expect_at("components/schemas/IntentResponse/properties/score",
              "{\"type\":\"number\",\"minimum\":0,\"maximum\":1}");
    expect_at("components/schemas/Candidate/properties/score", "{\"type\":\"number\",\"exclusiveMinimum\":0}");
    expect_at("components/schemas/Candidate/required", "[\"intent\",\"score\"]");
}

Test(openapi, validation_components_as_fastapi) {
    expect_at("components/schemas/HTTPValidationError",
              "{\"properties\":{\"detail\":{\"type\":\"array\",\"title\":\"Detail\",\"items\":{\"$ref\":"
              "\"#/components/schemas/ValidationError\"}}},\"type\":\"object\",\"title\":\"HTTPValidationError\"}");
    expect_at("components/schemas/ValidationError",
              "{\"properties\":{\"loc\":{\"type\":\"array\",\"title\":\"Location\",\"items\":{\"anyOf\":["
              "{\"type\":\"string\"},{\"type\":\"integer\"}]}},\"msg\":{\"type\":\"string\",\"title\":\"Message\"},"
              "\"type\":{\"type\":\"string\",\"title\":\"Error Type\"},\"input\":{\"title\":\"Input\"},"
              "\"ctx\":{\"type\":\"object\",\"title\":\"Context\"}},\"type\":\"object\","
              "\"required\":[\"loc\",\"msg\",\"type\"],\"title\":\"ValidationError\"}");
    cr_expect_eq(cJSON_GetArraySize(at("components/schemas")), 6);
}

Test(openapi, no_validation_component_without_inputs) {
    cJSON_Delete(doc);
    const kf_route_t *tables[] = {ops_routes};
    size_t counts[] = {1};
    doc = kf_openapi_document(tables, counts, 1, NULL, NULL);
    expect_at("info/title", "\"kefu\"");
    expect_at("components/schemas", "{\"ErrorMessage\":{\"type\":\"object\",\"properties\":{\"detail\":"
                                    "{\"type\":\"string\",\"title\":\"Detail\"}},\"required\":[\"detail\"],"
                                    "\"title\":\"ErrorMessage\",\"description\":\"Any error other than a "
                                    "validation error\"}}");
}

Test(openapi, declarations_are_consistent) {
    char err[200] = "";
    cr_expect_eq(kf_schema_compile(&intent_s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(kf_schema_compile(job_params[1].schema, err, sizeof err), 0, "%s", err);
}

Test(openapi, standalone_schema_inlines_names) {
    cJSON *s = kf_openapi_schema(&cands_s);
    cJSON *want = cJSON_Parse("{\"type\":\"array\",\"items\":{\"type\":\"object\",\"title\":\"Candidate\","
                              "\"properties\":{\"intent\":{\"type\":\"string\",\"minLength\":1},\"score\":{\"type\":"
                              "\"number\",\"exclusiveMinimum\":0}},\"required\":[\"intent\",\"score\"]},"
                              "\"maxItems\":5}");
    char *g = cJSON_PrintUnformatted(s);
    cr_expect(cJSON_Compare(s, want, 1), "got %s", g);
    free(g);
    cJSON_Delete(s);
    cJSON_Delete(want);
}
