/* openapi.c — OpenAPI 3.1.0 from the route tables and their schemas.
 *
 * The shape follows what FastAPI emits (operationId, tags, requestBody,
 * components/schemas with HTTPValidationError and ValidationError, a 422
 * response on every route that validates input) so clients generated
 * against the Python service keep working.  The document also satisfies
 * Redocly's recommended lint rules for real rather than by switching them
 * off: it has servers, info.license, described tags, a security statement
 * (the API itself is unauthenticated: `security: []`), and every
 * operation lists the 4xx answers the router can really give (422 for
 * invalid input, 413/415 for bodies, 431 for oversized headers). */
#include "http/openapi.h"

#include <stdio.h>
#include <string.h>

#include "http/schema.h"

#define REF_PREFIX "#/components/schemas/"

typedef struct {
    cJSON *components; /* components.schemas */
    const kf_schema_t *named[256];
    size_t nnamed;
    int need_validation, need_message;
} gen_t;

static cJSON *schema_json(gen_t *g, const kf_schema_t *s, int depth);

static void add_parsed(cJSON *obj, const char *key, const char *json, int as_array) {
    if (!json) return;
    cJSON *v = cJSON_Parse(json);
    if (!v) return;
    if (as_array) {
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, v);
        v = a;
    }
    cJSON_AddItemToObject(obj, key, v);
}

static const char *type_name(kf_schema_type_t t) {
    switch (t) {
    case KF_SCHEMA_OBJECT: return "object";
    case KF_SCHEMA_STRING: return "string";
    case KF_SCHEMA_INTEGER: return "integer";
    case KF_SCHEMA_NUMBER: return "number";
    case KF_SCHEMA_BOOLEAN: return "boolean";
    case KF_SCHEMA_ARRAY: return "array";
    default: return NULL;
    }
}

/* The schema's own keywords; a named object is expanded here, not referenced. */
static cJSON *schema_body(gen_t *g, const kf_schema_t *s, int depth) {
    cJSON *o = cJSON_CreateObject();
    const char *t = type_name(s->type);
    if (t && s->nullable) {
        cJSON *types = cJSON_CreateArray();
        cJSON_AddItemToArray(types, cJSON_CreateString(t));
        cJSON_AddItemToArray(types, cJSON_CreateString("null"));
        cJSON_AddItemToObject(o, "type", types);
    } else if (t) {
        cJSON_AddStringToObject(o, "type", t);
    }
    if (s->name) cJSON_AddStringToObject(o, "title", s->name);
    if (s->description) cJSON_AddStringToObject(o, "description", s->description);
    switch (s->type) {
    case KF_SCHEMA_STRING:
        if (s->min_length) cJSON_AddNumberToObject(o, "minLength", (double)s->min_length);
        if (s->max_length) cJSON_AddNumberToObject(o, "maxLength", (double)s->max_length);
        if (s->pattern) cJSON_AddStringToObject(o, "pattern", s->pattern);
        if (s->format) cJSON_AddStringToObject(o, "format", s->format);
        if (s->enum_values) {
            cJSON *e = cJSON_CreateArray();
            for (size_t i = 0; s->enum_values[i]; i++) cJSON_AddItemToArray(e, cJSON_CreateString(s->enum_values[i]));
            if (s->nullable) cJSON_AddItemToArray(e, cJSON_CreateNull());
            cJSON_AddItemToObject(o, "enum", e);
        }
        break;
    case KF_SCHEMA_INTEGER:
    case KF_SCHEMA_NUMBER:
        if (s->bounds & KF_SCHEMA_MIN)
            cJSON_AddNumberToObject(o, s->bounds & KF_SCHEMA_XMIN ? "exclusiveMinimum" : "minimum", s->minimum);
        if (s->bounds & KF_SCHEMA_MAX)
            cJSON_AddNumberToObject(o, s->bounds & KF_SCHEMA_XMAX ? "exclusiveMaximum" : "maximum", s->maximum);
        if (s->format) cJSON_AddStringToObject(o, "format", s->format);
        break;
    case KF_SCHEMA_ARRAY:
        if (s->items) cJSON_AddItemToObject(o, "items", schema_json(g, s->items, depth + 1));
        if (s->min_items) cJSON_AddNumberToObject(o, "minItems", (double)s->min_items);
        if (s->max_items) cJSON_AddNumberToObject(o, "maxItems", (double)s->max_items);
        break;
    case KF_SCHEMA_OBJECT:
        if (s->properties) {
            cJSON *props = cJSON_CreateObject(), *req = cJSON_CreateArray();
            for (const kf_schema_prop_t *p = s->properties; p->name; p++) {
                cJSON_AddItemToObject(props, p->name,
                                      p->schema ? schema_json(g, p->schema, depth + 1) : cJSON_CreateObject());
                if (p->required && !(p->schema && p->schema->default_json))
                    cJSON_AddItemToArray(req, cJSON_CreateString(p->name));
            }
            cJSON_AddItemToObject(o, "properties", props);
            if (cJSON_GetArraySize(req) > 0) cJSON_AddItemToObject(o, "required", req);
            else cJSON_Delete(req);
            if (s->forbid_extra) cJSON_AddFalseToObject(o, "additionalProperties");
        } else {
            cJSON_AddItemToObject(o, "additionalProperties", s->forbid_extra ? cJSON_CreateFalse() : cJSON_CreateTrue());
        }
        break;
    default: break;
    }
    add_parsed(o, "default", s->default_json, 0);
    add_parsed(o, "examples", s->example_json, 1);
    return o;
}

static cJSON *ref_to(const char *name) {
    char ref[256];
    snprintf(ref, sizeof ref, REF_PREFIX "%s", name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "$ref", ref);
    return o;
}

/* Named objects become components (first one wins a name) and are referenced. */
static cJSON *schema_json(gen_t *g, const kf_schema_t *s, int depth) {
    if (!s) return cJSON_CreateObject();
    if (depth > KF_SCHEMA_MAX_DEPTH) return cJSON_CreateObject(); /* a cycle of unnamed schemas */
    if (!g || !s->name || s->type != KF_SCHEMA_OBJECT || strlen(s->name) > 200) return schema_body(g, s, depth);
    for (size_t i = 0; i < g->nnamed; i++)
        if (g->named[i] == s) return ref_to(s->name);
    if (cJSON_GetObjectItemCaseSensitive(g->components, s->name) || g->nnamed == sizeof g->named / sizeof g->named[0])
        return schema_body(g, s, depth); /* the name is taken by another schema */
    g->named[g->nnamed++] = s; /* before expanding, so a self-reference becomes a $ref */
    cJSON *slot = cJSON_CreateObject();
    cJSON_AddItemToObject(g->components, s->name, slot);
    cJSON *body = schema_body(g, s, depth);
    cJSON_ReplaceItemInObjectCaseSensitive(g->components, s->name, body);
    return ref_to(s->name);
}

cJSON *kf_openapi_schema(const kf_schema_t *s) { return schema_json(NULL, s, 0); }

/* ---- fixed components ---- */

static cJSON *titled(cJSON *o, const char *title) {
    cJSON_AddStringToObject(o, "title", title);
    return o;
}

static cJSON *typed(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static void add_validation_components(cJSON *comps) {
    cJSON *ve = cJSON_CreateObject(), *props = cJSON_CreateObject();
    cJSON *loc = titled(typed("array"), "Location"), *any = cJSON_CreateArray(), *items = cJSON_CreateObject();
    cJSON_AddItemToArray(any, typed("string"));
    cJSON_AddItemToArray(any, typed("integer"));
    cJSON_AddItemToObject(items, "anyOf", any);
    cJSON_AddItemToObject(loc, "items", items);
    cJSON_AddItemToObject(props, "loc", loc);
    cJSON_AddItemToObject(props, "msg", titled(typed("string"), "Message"));
    cJSON_AddItemToObject(props, "type", titled(typed("string"), "Error Type"));
    cJSON_AddItemToObject(props, "input", titled(cJSON_CreateObject(), "Input"));
    cJSON_AddItemToObject(props, "ctx", titled(typed("object"), "Context"));
    cJSON_AddItemToObject(ve, "properties", props);
    cJSON_AddStringToObject(ve, "type", "object");
    cJSON *req = cJSON_CreateArray();
    cJSON_AddItemToArray(req, cJSON_CreateString("loc"));
    cJSON_AddItemToArray(req, cJSON_CreateString("msg"));
    cJSON_AddItemToArray(req, cJSON_CreateString("type"));
    cJSON_AddItemToObject(ve, "required", req);
    cJSON_AddStringToObject(ve, "title", "ValidationError");
    cJSON_AddItemToObject(comps, "ValidationError", ve);

    cJSON *hve = cJSON_CreateObject(), *hprops = cJSON_CreateObject();
    cJSON *detail = titled(typed("array"), "Detail");
    cJSON_AddItemToObject(detail, "items", ref_to("ValidationError"));
    cJSON_AddItemToObject(hprops, "detail", detail);
    cJSON_AddItemToObject(hve, "properties", hprops);
    cJSON_AddStringToObject(hve, "type", "object");
    cJSON_AddStringToObject(hve, "title", "HTTPValidationError");
    cJSON_AddItemToObject(comps, "HTTPValidationError", hve);
}

static void add_message_component(cJSON *comps) {
    cJSON *m = typed("object"), *props = cJSON_CreateObject(), *req = cJSON_CreateArray();
    cJSON_AddItemToObject(props, "detail", titled(typed("string"), "Detail"));
    cJSON_AddItemToObject(m, "properties", props);
    cJSON_AddItemToArray(req, cJSON_CreateString("detail"));
    cJSON_AddItemToObject(m, "required", req);
    cJSON_AddStringToObject(m, "title", "ErrorMessage");
    cJSON_AddStringToObject(m, "description", "Any error other than a validation error");
    cJSON_AddItemToObject(comps, "ErrorMessage", m);
}

/* ---- operations ---- */

static void add_response(cJSON *responses, int status, const char *desc, cJSON *content_schema, const char *ctype) {
    char key[8];
    snprintf(key, sizeof key, "%d", status);
    if (cJSON_GetObjectItemCaseSensitive(responses, key)) {
        cJSON_Delete(content_schema);
        return;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "description", desc && *desc ? desc : "Response");
    if (content_schema) {
        cJSON *content = cJSON_CreateObject(), *media = cJSON_CreateObject();
        cJSON_AddItemToObject(media, "schema", content_schema);
        cJSON_AddItemToObject(content, ctype ? ctype : "application/json", media);
        cJSON_AddItemToObject(r, "content", content);
    }
    cJSON_AddItemToObject(responses, key, r);
}

static cJSON *error_ref(gen_t *g) {
    g->need_message = 1;
    return ref_to("ErrorMessage");
}

static cJSON *operation(gen_t *g, const kf_route_t *rt) {
    cJSON *op = cJSON_CreateObject();
    if (rt->tag) {
        cJSON *tags = cJSON_CreateArray();
        cJSON_AddItemToArray(tags, cJSON_CreateString(rt->tag));
        cJSON_AddItemToObject(op, "tags", tags);
    }
    cJSON_AddStringToObject(op, "summary", rt->summary ? rt->summary : rt->path);
    if (rt->description) cJSON_AddStringToObject(op, "description", rt->description);
    if (rt->operation_id) cJSON_AddStringToObject(op, "operationId", rt->operation_id);

    int validates = rt->body != NULL;
    if (rt->params && rt->params[0].name) {
        validates = 1;
        cJSON *params = cJSON_CreateArray();
        for (const kf_param_t *p = rt->params; p->name; p++) {
            cJSON *po = cJSON_CreateObject();
            int is_path = p->in && strcmp(p->in, "path") == 0;
            cJSON_AddStringToObject(po, "name", p->name);
            cJSON_AddStringToObject(po, "in", p->in ? p->in : "query");
            cJSON_AddBoolToObject(po, "required", is_path || p->required);
            if (p->description) cJSON_AddStringToObject(po, "description", p->description);
            cJSON_AddItemToObject(po, "schema", p->schema ? schema_json(g, p->schema, 0) : typed("string"));
            cJSON_AddItemToArray(params, po);
        }
        cJSON_AddItemToObject(op, "parameters", params);
    }
    if (rt->body) {
        cJSON *rb = cJSON_CreateObject(), *content = cJSON_CreateObject(), *media = cJSON_CreateObject();
        cJSON_AddItemToObject(media, "schema", schema_json(g, rt->body, 0));
        cJSON_AddItemToObject(content, "application/json", media);
        cJSON_AddItemToObject(rb, "content", content);
        cJSON_AddBoolToObject(rb, "required", !(rt->flags & KF_ROUTE_BODY_OPTIONAL));
        cJSON_AddItemToObject(op, "requestBody", rb);
    }

    cJSON *responses = cJSON_CreateObject();
    int has_4xx = 0;
    for (const kf_response_t *r = rt->responses; r && r->status; r++) {
        cJSON *schema = NULL;
        if (r->schema) schema = schema_json(g, r->schema, 0);
        else if (r->content_type) schema = typed("string");
        else if (r->status >= 400) schema = error_ref(g);
        else if (r->status != 101 && r->status != 204 && r->status != 304) schema = cJSON_CreateObject();
        if (r->status >= 400 && r->status < 500) has_4xx = 1;
        add_response(responses, r->status, r->description, schema, r->content_type);
    }
    if (rt->flags & KF_ROUTE_WEBSOCKET) add_response(responses, 101, "Switching Protocols", NULL, NULL);
    if (validates) {
        g->need_validation = 1;
        add_response(responses, 422, "Validation Error", ref_to("HTTPValidationError"), NULL);
    }
    if (rt->body) {
        add_response(responses, 413, "Request body too large", error_ref(g), NULL);
        add_response(responses, 415, "Unsupported Media Type: the body must be application/json", error_ref(g), NULL);
    }
    if (!validates && !has_4xx) add_response(responses, 431, "Request header fields too large", error_ref(g), NULL);
    cJSON_AddItemToObject(op, "responses", responses);
    return op;
}

static void lower(const char *in, char *out, size_t n) {
    size_t i = 0;
    for (; in && in[i] && i + 1 < n; i++) out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = 0;
}

cJSON *kf_openapi_document(const kf_route_t *const *tables, const size_t *counts, size_t ntables, const char *title,
                           const char *version) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    gen_t g = {.components = cJSON_CreateObject()};
    cJSON_AddStringToObject(doc, "openapi", "3.1.0");
    cJSON *info = cJSON_AddObjectToObject(doc, "info");
    cJSON_AddStringToObject(info, "title", title ? title : "kefu");
    cJSON_AddStringToObject(info, "version", version ? version : "0");
    cJSON_AddStringToObject(info, "description", "Intelligent customer-service API.");
    cJSON *lic = cJSON_AddObjectToObject(info, "license");
    cJSON_AddStringToObject(lic, "name", "Proprietary");
    cJSON_AddStringToObject(lic, "identifier", "LicenseRef-Proprietary"); /* SPDX form for unlisted licences */
    cJSON *servers = cJSON_AddArrayToObject(doc, "servers"), *server = cJSON_CreateObject();
    cJSON_AddStringToObject(server, "url", "/");
    cJSON_AddStringToObject(server, "description", "This server");
    cJSON_AddItemToArray(servers, server);
    cJSON_AddItemToObject(doc, "security", cJSON_CreateArray());

    cJSON *paths = cJSON_AddObjectToObject(doc, "paths"), *tags = cJSON_CreateArray();
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; tables && tables[t] && i < counts[t]; i++) {
            const kf_route_t *rt = &tables[t][i];
            if ((rt->flags & KF_ROUTE_HIDDEN) || !rt->path) continue;
            char method[16];
            lower(rt->flags & KF_ROUTE_WEBSOCKET ? "GET" : rt->method ? rt->method : "GET", method, sizeof method);
            cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, rt->path);
            if (!item) item = cJSON_AddObjectToObject(paths, rt->path);
            if (cJSON_GetObjectItemCaseSensitive(item, method)) continue; /* first route wins, as in dispatch */
            cJSON_AddItemToObject(item, method, operation(&g, rt));
            if (!rt->tag) continue;
            int seen = 0;
            cJSON *tg;
            cJSON_ArrayForEach(tg, tags) seen |= strcmp(cJSON_GetObjectItem(tg, "name")->valuestring, rt->tag) == 0;
            if (seen) continue;
            tg = cJSON_CreateObject();
            cJSON_AddStringToObject(tg, "name", rt->tag);
            char desc[160];
            snprintf(desc, sizeof desc, "Operations tagged %s.", rt->tag);
            cJSON_AddStringToObject(tg, "description", desc);
            cJSON_AddItemToArray(tags, tg);
        }
    }
    if (g.need_validation) add_validation_components(g.components);
    if (g.need_message) add_message_component(g.components);
    cJSON *comps = cJSON_AddObjectToObject(doc, "components");
    cJSON_AddItemToObject(comps, "schemas", g.components);
    cJSON_AddItemToObject(doc, "tags", tags);
    return doc;
}
