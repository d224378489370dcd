/* schema.h — declarative request schemas (the C side of pydantic models).
 *
 * A schema is static const data written next to a route table.  The router
 * validates path/query parameters and JSON bodies against it, collecting
 * every error in FastAPI/pydantic-v2 shape, and fills in defaults;
 * http/openapi.c turns the same data into JSON Schema 2020-12.
 *
 *     static const kf_schema_t intent_query = KF_STRING(.min_length = 1, .max_length = 200);
 *     static const kf_schema_t intent_sid = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"));
 *     static const kf_schema_t intent_ctx = KF_OBJECT(.default_json = "{}");
 *     static const kf_schema_t intent_cb = KF_STRING(.format = "uri", .max_length = 2048);
 *     static const kf_schema_prop_t intent_props[] = {
 *         {"query", &intent_query, 1}, {"session_id", &intent_sid, 1},
 *         {"context", &intent_ctx, 0}, {"callback_url", &intent_cb, 0}, {0}};
 *     static const kf_schema_t intent_req =
 *         KF_OBJECT(.name = "IntentRequest", .properties = intent_props, .forbid_extra = 1);
 *
 * Patterns: KF_PATTERN gives the schema a private cache cell (a file-scope
 * compound literal), so each pattern is compiled once, lazily, under a lock
 * (double-checked), with PCRE2 JIT; matching allocates its match data per
 * call, so validation is thread-safe.  kf_schema_compile() compiles every
 * pattern reachable from a schema up front, which reports bad patterns at
 * startup instead of at the first request.  A .pattern without a cache cell
 * still works but is compiled on every match. */
#ifndef KF_HTTP_SCHEMA_H
#define KF_HTTP_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http/route.h"

typedef enum {
    KF_SCHEMA_ANY = 0, /* any JSON value */
    KF_SCHEMA_OBJECT,  /* no properties: free-form dictionary */
    KF_SCHEMA_STRING,
    KF_SCHEMA_INTEGER,
    KF_SCHEMA_NUMBER,
    KF_SCHEMA_BOOLEAN,
    KF_SCHEMA_ARRAY,
} kf_schema_type_t;

typedef struct kf_schema_prop {
    const char *name; /* NULL terminates a list */
    const kf_schema_t *schema;
    int required;
} kf_schema_prop_t;

/* Compiled-pattern cache cell; filled by schema.c, opaque to callers. */
typedef struct kf_schema_re {
    void *code;
} kf_schema_re_t;

enum {
    KF_SCHEMA_MIN = 1 << 0,  /* minimum is set */
    KF_SCHEMA_MAX = 1 << 1,  /* maximum is set */
    KF_SCHEMA_XMIN = 1 << 2, /* minimum is exclusive */
    KF_SCHEMA_XMAX = 1 << 3, /* maximum is exclusive */
};

struct kf_schema {
    kf_schema_type_t type;
    const char *name;         /* objects: component name in the OpenAPI doc */
    const char *description;
    const char *example_json; /* JSON text, shown as "examples" */
    const char *default_json; /* JSON text filled in when the property is absent */
    int nullable;             /* JSON null is accepted */
    /* string */
    size_t min_length, max_length; /* Unicode code points; max 0 = no limit */
    const char *pattern;           /* PCRE2, unanchored like pydantic */
    kf_schema_re_t *re;            /* cache cell, see KF_PATTERN */
    const char *const *enum_values; /* NULL-terminated */
    const char *format;             /* "uri", "date-time", "uuid"...: docs only */
    /* integer, number */
    double minimum, maximum;
    unsigned bounds; /* KF_SCHEMA_MIN | ... */
    /* array */
    const kf_schema_t *items;
    size_t min_items, max_items; /* max 0 = no limit */
    /* object */
    const kf_schema_prop_t *properties; /* NULL-name terminated, or NULL */
    int forbid_extra;                   /* additionalProperties: false */
};

#define KF_OBJECT(...) {.type = KF_SCHEMA_OBJECT, __VA_ARGS__}
#define KF_STRING(...) {.type = KF_SCHEMA_STRING, __VA_ARGS__}
#define KF_INTEGER(...) {.type = KF_SCHEMA_INTEGER, __VA_ARGS__}
#define KF_NUMBER(...) {.type = KF_SCHEMA_NUMBER, __VA_ARGS__}
#define KF_BOOLEAN(...) {.type = KF_SCHEMA_BOOLEAN, __VA_ARGS__}
#define KF_ARRAY(...) {.type = KF_SCHEMA_ARRAY, __VA_ARGS__}
#define KF_ANY(...) {.type = KF_SCHEMA_ANY, __VA_ARGS__}

/* Inside a KF_STRING(...): a pattern with its own compile cache (file scope only). */
#define KF_PATTERN(p) .pattern = (p), .re = &(kf_schema_re_t){0}
/* Bounds, pydantic's ge/gt/le/lt.  Each sets .bounds, so use one of them, or
 * KF_RANGE for ge+le, or set .minimum/.maximum/.bounds by hand for a mix
 * (-Woverride-init rejects two of these macros in one schema). */
#define KF_GE(x) .minimum = (x), .bounds = KF_SCHEMA_MIN
#define KF_GT(x) .minimum = (x), .bounds = KF_SCHEMA_MIN | KF_SCHEMA_XMIN
#define KF_RANGE(lo, hi) .minimum = (lo), .maximum = (hi), .bounds = KF_SCHEMA_MIN | KF_SCHEMA_MAX
#define KF_LE(x) .maximum = (x), .bounds = KF_SCHEMA_MAX
#define KF_LT(x) .maximum = (x), .bounds = KF_SCHEMA_MAX | KF_SCHEMA_XMAX

/* JSON nesting deeper than this is refused by kf_schema_parse_json. */
#define KF_SCHEMA_MAX_DEPTH 64

/* Compiles every pattern reachable from s (call before threads start, or
 * never: matching compiles lazily) and checks that every default and
 * example is valid for its schema.  Returns 0, or -1 with a message in err. */
int kf_schema_compile(const kf_schema_t *s, char *err, size_t errlen);

/* Validates value (changed in place: defaults filled in, lax coercions such
 * as "42" -> 42 applied) and appends one pydantic-shaped error per problem
 * to errors_out, each loc starting with loc_prefix (may be NULL).  A NULL s
 * accepts anything.  Returns the number of errors appended. */
int kf_schema_validate(const kf_schema_t *s, cJSON *value, cJSON *loc_prefix, cJSON *errors_out);

/* Parses a JSON body of len bytes (not NUL-terminated).  On malformed JSON,
 * trailing data or nesting deeper than KF_SCHEMA_MAX_DEPTH, appends one
 * json_invalid error (loc ["body", byte offset], ctx.error as Python's json
 * module words it) and returns NULL. */
cJSON *kf_schema_parse_json(const char *buf, size_t len, cJSON *errors_out);

/* Validates one path or query parameter (raw, already percent-decoded; text
 * after an embedded NUL is dropped, cJSON strings cannot hold one):
 * coerces integers, numbers and booleans from text like FastAPI and checks
 * the schema's constraints, with loc [in, name].  On success *coerced_out
 * (if not NULL) receives the value (caller frees).  Returns the number of
 * errors appended; s NULL means an unconstrained string.  Defaults of absent
 * parameters are the caller's to fill in (s->default_json). */
int kf_schema_validate_param(const kf_schema_t *s, const char *raw, size_t len, const char *in, const char *name,
                             cJSON *errors_out, cJSON **coerced_out);

/* Strict UTF-8 check; on success stores the code point count in *cps. */
int kf_schema_utf8_length(const char *s, size_t len, size_t *cps);

#endif
