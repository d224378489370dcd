/* schema.c — validation of JSON values and request parameters against the
 * declarative schemas of http/schema.h, with FastAPI/pydantic-v2 errors.
 *
 * Every problem becomes one error object {type, loc, msg, input[, ctx]} in
 * the caller's array (one per value, like pydantic: a too-short string is
 * not also checked against its pattern).  Values are coerced in place the
 * way pydantic's lax mode does ("42" -> 42 for integers, "yes" -> true), so
 * handlers read typed values; absent properties with a default get it.
 *
 * The body parser first runs its own strict scanner over the bytes: it
 * bounds nesting depth (cJSON recurses), rejects trailing data, and words
 * the first syntax error the way Python's json module does, which is what
 * FastAPI puts in ctx.error.  Only text the scanner accepts reaches cJSON. */
#include "http/schema.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- UTF-8 ---- */

/* Decodes one strict UTF-8 sequence; returns its length, or 0 if invalid. */
static size_t utf8_one(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < need + 1) return 0;
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return need + 1;
}

int kf_schema_utf8_length(const char *s, size_t len, size_t *cps) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        size_t k = utf8_one(p + i, len - i);
        if (!k) return -1;
        i += k;
        n++;
    }
    if (cps) *cps = n;
    return 0;
}

/* A copy of s with each invalid byte replaced by U+FFFD, for error inputs. */
static char *utf8_clean(const char *s) {
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_one((const unsigned char *)s + i, len - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k, i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
        }
    }
    out[o] = 0;
    return out;
}

static void clean_tree(cJSON *n, int depth) {
    for (cJSON *c = n; c; c = c->next) {
        if (c->string && kf_schema_utf8_length(c->string, strlen(c->string), NULL) < 0) {
            char *f = utf8_clean(c->string);
            if (f) free(c->string), c->string = f;
        }
        if (cJSON_IsString(c) && c->valuestring &&
            kf_schema_utf8_length(c->valuestring, strlen(c->valuestring), NULL) < 0) {
            char *f = utf8_clean(c->valuestring);
            if (f) free(c->valuestring), c->valuestring = f;
        }
        if (c->child && depth < 1000) clean_tree(c->child, depth + 1);
    }
}

/* A deep copy whose strings and keys are valid UTF-8, safe to print. */
static cJSON *dup_clean(const cJSON *v) {
    cJSON *d = cJSON_Duplicate(v, 1);
    if (!d) return cJSON_CreateNull();
    clean_tree(d, 0); /* a duplicate has no siblings */
    return d;
}

/* ---- errors ---- */

static void fmt_num(double x, char *buf, size_t n) {
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, n, "%.0f", x);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* Where the validator is, as a stack of keys and indexes that becomes a
 * cJSON `loc` array only when an error is reported: valid input (the hot
 * path) allocates nothing for it.  Keys are borrowed and must outlive their
 * push. */
#define LOC_MAX 32

typedef struct {
    const char *key; /* NULL: an array index */
    int index;
} loc_seg_t;

typedef struct {
    cJSON *errors;
    const cJSON *prefix; /* may be NULL */
    loc_seg_t seg[LOC_MAX];
    int depth;           /* may exceed LOC_MAX: deeper segments are not kept */
    int count;
} vctx_t;

static cJSON *loc_json(const vctx_t *v) {
    cJSON *loc = v->prefix ? cJSON_Duplicate(v->prefix, 1) : cJSON_CreateArray();
    for (int i = 0; loc && i < v->depth && i < LOC_MAX; i++)
        cJSON_AddItemToArray(loc, v->seg[i].key ? cJSON_CreateString(v->seg[i].key) : cJSON_CreateNumber(v->seg[i].index));
    return loc;
}

/* Appends {type, loc, msg, input, ctx}; takes ownership of input and ctx. */
static void add_error(vctx_t *v, const char *type, const char *msg, cJSON *input, cJSON *ctx) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToObject(e, "loc", loc_json(v));
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddItemToObject(e, "input", input ? input : cJSON_CreateNull());
    if (ctx) cJSON_AddItemToObject(e, "ctx", ctx);
    cJSON_AddItemToArray(v->errors, e);
    v->count++;
}

static cJSON *ctx_num(const char *key, double x) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, key, x);
    return c;
}

static void loc_push_str(vctx_t *v, const char *s) {
    if (v->depth < LOC_MAX) v->seg[v->depth] = (loc_seg_t){s, 0};
    v->depth++;
}
static void loc_push_int(vctx_t *v, int i) {
    if (v->depth < LOC_MAX) v->seg[v->depth] = (loc_seg_t){NULL, i};
    v->depth++;
}
static void loc_pop(vctx_t *v) { v->depth--; }

/* ---- patterns ---- */

static pthread_mutex_t re_lock = PTHREAD_MUTEX_INITIALIZER;

static pcre2_code *re_compile(const char *pattern, char *err, size_t errlen) {
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        if (err && errlen) snprintf(err, errlen, "pattern '%s' at offset %zu: %s", pattern, (size_t)off, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    return code;
}

/* The cached compiled pattern of s (double-checked under re_lock). */
static pcre2_code *re_get(const kf_schema_t *s, char *err, size_t errlen) {
    if (!s->re) return NULL;
    pcre2_code *c = __atomic_load_n((pcre2_code **)&s->re->code, __ATOMIC_ACQUIRE);
    if (c) return c;
    pthread_mutex_lock(&re_lock);
    c = s->re->code;
    if (!c) {
        c = re_compile(s->pattern, err, errlen);
        if (c) __atomic_store_n((pcre2_code **)&s->re->code, c, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&re_lock);
    return c;
}

/* 1 match, 0 no match, -1 the pattern does not compile (or exhausts the JIT
 * stack).  str must be valid UTF-8: check_string checks it first.  \d and
 * \w are Unicode-aware (PCRE2_UCP), as in pydantic's Rust regex engine. */
static int re_search(const kf_schema_t *s, const char *str) {
    pcre2_code *code = re_get(s, NULL, 0), *own = NULL;
    if (!code) code = own = re_compile(s->pattern, NULL, 0);
    if (!code) return -1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc = md ? pcre2_match(code, (PCRE2_SPTR)str, strlen(str), 0, PCRE2_NO_UTF_CHECK, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(own);
    return rc >= 0 ? 1 : (rc == PCRE2_ERROR_NOMATCH ? 0 : -1);
}

static void check(vctx_t *v, const kf_schema_t *s, cJSON *val, int nested);

/* A default or example that its own schema would refuse is a bug in the declaration. */
static int check_sample(const kf_schema_t *s, const char *json, const char *what, char *err, size_t errlen) {
    if (!json) return 0;
    cJSON *val = cJSON_Parse(json), *errs = cJSON_CreateArray();
    vctx_t v = {.errors = errs};
    if (val) check(&v, s, val, 1);
    int bad = !val || v.count > 0;
    if (bad && err && errlen) {
        cJSON *first = cJSON_GetArrayItem(errs, 0);
        cJSON *msg = first ? cJSON_GetObjectItem(first, "msg") : NULL;
        snprintf(err, errlen, "%s %s: %s", what, json, msg ? msg->valuestring : "not valid JSON");
    }
    cJSON_Delete(val);
    cJSON_Delete(errs);
    return bad ? -1 : 0;
}

static int compile_walk(const kf_schema_t *s, int depth, char *err, size_t errlen) {
    if (!s || depth > KF_SCHEMA_MAX_DEPTH) return 0;
    if (s->pattern) {
        if (s->re) {
            if (!re_get(s, err, errlen)) return -1;
        } else {
            pcre2_code *c = re_compile(s->pattern, err, errlen);
            if (!c) return -1;
            pcre2_code_free(c);
        }
    }
    if (compile_walk(s->items, depth + 1, err, errlen) < 0) return -1;
    for (const kf_schema_prop_t *p = s->properties; p && p->name; p++)
        if (compile_walk(p->schema, depth + 1, err, errlen) < 0) return -1;
    if (check_sample(s, s->default_json, "default", err, errlen) < 0) return -1;
    return check_sample(s, s->example_json, "example", err, errlen);
}

int kf_schema_compile(const kf_schema_t *s, char *err, size_t errlen) { return compile_walk(s, 0, err, errlen); }

/* ---- lax coercion from text (query strings, and strings in JSON bodies) ---- */

static void trim(const char **s, size_t *n) {
    while (*n && strchr(" \t\n\r\f\v", (*s)[0])) (*s)++, (*n)--;
    while (*n && strchr(" \t\n\r\f\v", (*s)[*n - 1])) (*n)--;
}

/* pydantic's str -> int: optional sign, digits, optionally ".0…". */
static int parse_int(const char *s, size_t n, double *out) {
    trim(&s, &n);
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    size_t d1 = i;
    if (d1 == d0 || d1 - d0 > 19) return -1;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] == '0') i++;
    }
    if (i != n) return -1;
    char tmp[24];
    memcpy(tmp, s, d1);
    tmp[d1] = 0;
    *out = strtod(tmp, NULL);
    return 0;
}

/* Decimal float text (no hex, inf or nan: they cannot be JSON numbers). */
static int parse_float(const char *s, size_t n, double *out) {
    trim(&s, &n);
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (!digits) return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == e0) return -1;
    }
    if (i != n || n > 64) return -1;
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return isfinite(*out) ? 0 : -1;
}

static int parse_bool(const char *s, size_t n, int *out) {
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    for (size_t k = 0; k < 6; k++) {
        if (strlen(yes[k]) == n && strncasecmp(yes[k], s, n) == 0) return *out = 1, 0;
        if (strlen(no[k]) == n && strncasecmp(no[k], s, n) == 0) return *out = 0, 0;
    }
    return -1;
}

/* Turns v into a number or boolean in place (it keeps its key and siblings). */
static void morph_number(cJSON *v, double x) {
    if (cJSON_IsString(v) && !(v->type & cJSON_IsReference)) free(v->valuestring);
    v->valuestring = NULL;
    v->type = cJSON_Number;
    cJSON_SetNumberValue(v, x);
}

static void morph_bool(cJSON *v, int b) {
    if (cJSON_IsString(v) && !(v->type & cJSON_IsReference)) free(v->valuestring);
    v->valuestring = NULL;
    v->type = b ? cJSON_True : cJSON_False;
}

/* ---- validation ---- */

static void check_bounds(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    double x = val->valuedouble;
    char num[40], msg[96];
    if (s->bounds & KF_SCHEMA_MIN) {
        int xmin = (s->bounds & KF_SCHEMA_XMIN) != 0;
        if (xmin ? !(x > s->minimum) : !(x >= s->minimum)) {
            fmt_num(s->minimum, num, sizeof num);
            snprintf(msg, sizeof msg, "Input should be greater than %s%s", xmin ? "" : "or equal to ", num);
            add_error(v, xmin ? "greater_than" : "greater_than_equal", msg, cJSON_Duplicate(val, 0),
                      ctx_num(xmin ? "gt" : "ge", s->minimum));
            return;
        }
    }
    if (s->bounds & KF_SCHEMA_MAX) {
        int xmax = (s->bounds & KF_SCHEMA_XMAX) != 0;
        if (xmax ? !(x < s->maximum) : !(x <= s->maximum)) {
            fmt_num(s->maximum, num, sizeof num);
            snprintf(msg, sizeof msg, "Input should be less than %s%s", xmax ? "" : "or equal to ", num);
            add_error(v, xmax ? "less_than" : "less_than_equal", msg, cJSON_Duplicate(val, 0),
                      ctx_num(xmax ? "lt" : "le", s->maximum));
        }
    }
}

static void check_integer(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    double x;
    if (cJSON_IsBool(val)) {
        morph_number(val, cJSON_IsTrue(val));
    } else if (cJSON_IsString(val)) {
        if (parse_int(val->valuestring, strlen(val->valuestring), &x) < 0) {
            add_error(v, "int_parsing", "Input should be a valid integer, unable to parse string as an integer",
                      dup_clean(val), NULL);
            return;
        }
        morph_number(val, x);
    } else if (cJSON_IsNumber(val)) {
        if (val->valuedouble != floor(val->valuedouble) || !isfinite(val->valuedouble)) {
            add_error(v, "int_from_float", "Input should be a valid integer, got a number with a fractional part",
                      cJSON_Duplicate(val, 0), NULL);
            return;
        }
    } else {
        add_error(v, "int_type", "Input should be a valid integer", dup_clean(val), NULL);
        return;
    }
    check_bounds(v, s, val);
}

static void check_number(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    double x;
    if (cJSON_IsBool(val)) {
        morph_number(val, cJSON_IsTrue(val));
    } else if (cJSON_IsString(val)) {
        if (parse_float(val->valuestring, strlen(val->valuestring), &x) < 0) {
            add_error(v, "float_parsing", "Input should be a valid number, unable to parse string as a number",
                      dup_clean(val), NULL);
            return;
        }
        morph_number(val, x);
    } else if (!cJSON_IsNumber(val)) {
        add_error(v, "float_type", "Input should be a valid number", dup_clean(val), NULL);
        return;
    }
    check_bounds(v, s, val);
}

static void check_boolean(vctx_t *v, cJSON *val) {
    int b;
    if (cJSON_IsBool(val)) return;
    if (cJSON_IsString(val)) {
        if (parse_bool(val->valuestring, strlen(val->valuestring), &b) == 0) morph_bool(val, b);
        else add_error(v, "bool_parsing", "Input should be a valid boolean, unable to interpret input", dup_clean(val), NULL);
    } else if (cJSON_IsNumber(val)) {
        if (val->valuedouble == 0 || val->valuedouble == 1) morph_bool(val, val->valuedouble == 1);
        else add_error(v, "bool_parsing", "Input should be a valid boolean, unable to interpret input",
                       cJSON_Duplicate(val, 0), NULL);
    } else {
        add_error(v, "bool_type", "Input should be a valid boolean", dup_clean(val), NULL);
    }
}

/* pydantic reports a non-member, even a non-string, as an enum error. */
static void enum_error(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    size_t n = 0, need = 1;
    for (; s->enum_values[n]; n++) need += strlen(s->enum_values[n]) + 6;
    char *exp = malloc(need), *m = NULL;
    if (!exp) return;
    size_t o = 0;
    exp[0] = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(exp + o, need - o, "%s'%s'", i == 0 ? "" : (i + 1 == n ? " or " : ", "), s->enum_values[i]);
    if (asprintf(&m, "Input should be %s", exp) < 0) m = NULL;
    cJSON *ctx = cJSON_CreateObject();
    cJSON_AddStringToObject(ctx, "expected", exp);
    add_error(v, "enum", m ? m : "Input should be one of the allowed values", dup_clean(val), ctx);
    free(m);
    free(exp);
}

static void check_string(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    char msg[160];
    if (!cJSON_IsString(val) && s->enum_values) {
        enum_error(v, s, val);
        return;
    }
    if (!cJSON_IsString(val)) {
        add_error(v, "string_type", "Input should be a valid string", dup_clean(val), NULL);
        return;
    }
    const char *str = val->valuestring;
    size_t cps;
    if (kf_schema_utf8_length(str, strlen(str), &cps) < 0) {
        add_error(v, "string_unicode", "Input should be a valid string, unable to parse raw data as a unicode string",
                  dup_clean(val), NULL);
        return;
    }
    if (cps < s->min_length) {
        snprintf(msg, sizeof msg, "String should have at least %zu character%s", s->min_length,
                 s->min_length == 1 ? "" : "s");
        add_error(v, "string_too_short", msg, cJSON_Duplicate(val, 0), ctx_num("min_length", (double)s->min_length));
        return;
    }
    if (s->max_length && cps > s->max_length) {
        snprintf(msg, sizeof msg, "String should have at most %zu character%s", s->max_length,
                 s->max_length == 1 ? "" : "s");
        add_error(v, "string_too_long", msg, cJSON_Duplicate(val, 0), ctx_num("max_length", (double)s->max_length));
        return;
    }
    if (s->pattern && re_search(s, str) != 1) {
        char *m = NULL;
        if (asprintf(&m, "String should match pattern '%s'", s->pattern) < 0) m = NULL;
        cJSON *ctx = cJSON_CreateObject();
        cJSON_AddStringToObject(ctx, "pattern", s->pattern);
        add_error(v, "string_pattern_mismatch", m ? m : "String should match pattern", cJSON_Duplicate(val, 0), ctx);
        free(m);
        return;
    }
    if (s->enum_values) {
        for (size_t i = 0; s->enum_values[i]; i++)
            if (strcmp(s->enum_values[i], str) == 0) return;
        enum_error(v, s, val);
    }
}

static void check_array(vctx_t *v, const kf_schema_t *s, cJSON *val) {
    char msg[160];
    if (!cJSON_IsArray(val)) {
        add_error(v, "list_type", "Input should be a valid list", dup_clean(val), NULL);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(val);
    if (s->max_items && n > s->max_items) {
        snprintf(msg, sizeof msg, "List should have at most %zu item%s after validation, not %zu", s->max_items,
                 s->max_items == 1 ? "" : "s", n);
        cJSON *ctx = cJSON_CreateObject();
        cJSON_AddStringToObject(ctx, "field_type", "List");
        cJSON_AddNumberToObject(ctx, "max_length", (double)s->max_items);
        cJSON_AddNumberToObject(ctx, "actual_length", (double)n);
        add_error(v, "too_long", msg, dup_clean(val), ctx);
        return;
    }
    int before = v->count, i = 0;
    if (s->items) {
        for (cJSON *it = val->child; it; it = it->next, i++) {
            loc_push_int(v, i);
            check(v, s->items, it, 1);
            loc_pop(v);
        }
    }
    if (v->count == before && n < s->min_items) {
        snprintf(msg, sizeof msg, "List should have at least %zu item%s after validation, not %zu", s->min_items,
                 s->min_items == 1 ? "" : "s", n);
        cJSON *ctx = cJSON_CreateObject();
        cJSON_AddStringToObject(ctx, "field_type", "List");
        cJSON_AddNumberToObject(ctx, "min_length", (double)s->min_items);
        cJSON_AddNumberToObject(ctx, "actual_length", (double)n);
        add_error(v, "too_short", msg, dup_clean(val), ctx);
    }
}

static int is_declared(const kf_schema_t *s, const char *key) {
    for (const kf_schema_prop_t *p = s->properties; p && p->name; p++)
        if (key && strcmp(p->name, key) == 0) return 1;
    return 0;
}

static void check_object(vctx_t *v, const kf_schema_t *s, cJSON *val, int nested) {
    if (!cJSON_IsObject(val)) {
        if (!s->properties) {
            add_error(v, "dict_type", "Input should be a valid dictionary", dup_clean(val), NULL);
        } else if (nested && s->name) {
            char *m = NULL;
            if (asprintf(&m, "Input should be a valid dictionary or instance of %s", s->name) < 0) m = NULL;
            cJSON *ctx = cJSON_CreateObject();
            cJSON_AddStringToObject(ctx, "class_name", s->name);
            add_error(v, "model_type", m ? m : "Input should be a valid dictionary", dup_clean(val), ctx);
            free(m);
        } else {
            add_error(v, "model_attributes_type", "Input should be a valid dictionary or object to extract fields from",
                      dup_clean(val), NULL);
        }
        return;
    }
    for (const kf_schema_prop_t *p = s->properties; p && p->name; p++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(val, p->name);
        loc_push_str(v, p->name);
        if (item) check(v, p->schema, item, 1);
        else if (p->required && !(p->schema && p->schema->default_json))
            add_error(v, "missing", "Field required", dup_clean(val), NULL); /* input: the object as sent */
        loc_pop(v);
    }
    for (cJSON *c = s->forbid_extra ? val->child : NULL; c; c = c->next) {
        if (is_declared(s, c->string)) continue;
        char *key = utf8_clean(c->string ? c->string : "");
        loc_push_str(v, key ? key : "");
        add_error(v, "extra_forbidden", "Extra inputs are not permitted", dup_clean(c), NULL);
        loc_pop(v);
        free(key);
    }
    for (const kf_schema_prop_t *p = s->properties; p && p->name; p++) {
        if (!p->schema || !p->schema->default_json || cJSON_GetObjectItemCaseSensitive(val, p->name)) continue;
        cJSON *d = cJSON_Parse(p->schema->default_json);
        if (d) cJSON_AddItemToObject(val, p->name, d);
    }
}

static void check(vctx_t *v, const kf_schema_t *s, cJSON *val, int nested) {
    if (!s || s->type == KF_SCHEMA_ANY) return;
    if (cJSON_IsNull(val) && s->nullable) return;
    switch (s->type) {
    case KF_SCHEMA_OBJECT: check_object(v, s, val, nested); break;
    case KF_SCHEMA_STRING: check_string(v, s, val); break;
    case KF_SCHEMA_INTEGER: check_integer(v, s, val); break;
    case KF_SCHEMA_NUMBER: check_number(v, s, val); break;
    case KF_SCHEMA_BOOLEAN: check_boolean(v, val); break;
    case KF_SCHEMA_ARRAY: check_array(v, s, val); break;
    default: break;
    }
}

int kf_schema_validate(const kf_schema_t *s, cJSON *value, cJSON *loc_prefix, cJSON *errors_out) {
    if (!value || !errors_out) return 0;
    vctx_t v = {.errors = errors_out, .prefix = loc_prefix};
    check(&v, s, value, 0);
    return v.count;
}

int kf_schema_validate_param(const kf_schema_t *s, const char *raw, size_t len, const char *in, const char *name,
                             cJSON *errors_out, cJSON **coerced_out) {
    if (coerced_out) *coerced_out = NULL;
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, raw, len); /* an embedded NUL ends the text, as cJSON strings cannot hold one */
    copy[len] = 0;
    cJSON *val = cJSON_CreateString(copy);
    free(copy);
    vctx_t v = {.errors = errors_out};
    loc_push_str(&v, in ? in : "query");
    loc_push_str(&v, name ? name : "");
    if (s) check(&v, s, val, 1);
    else {
        static const kf_schema_t any_string = {.type = KF_SCHEMA_STRING};
        check(&v, &any_string, val, 1);
    }
    if (v.count == 0 && coerced_out) *coerced_out = val;
    else cJSON_Delete(val);
    return v.count;
}

/* ---- body parsing ---- */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *err;
    size_t errpos;
} scan_t;

static int sc_fail(scan_t *s, const char *msg, size_t pos) {
    s->err = msg;
    s->errpos = pos;
    return -1;
}

static void sc_ws(scan_t *s) {
    while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' || s->p[s->pos] == '\n' || s->p[s->pos] == '\r'))
        s->pos++;
}

static int sc_hex4(scan_t *s, size_t at, unsigned *out) {
    if (at + 4 > s->len) return -1;
    unsigned x = 0;
    for (size_t i = at; i < at + 4; i++) {
        unsigned c = s->p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        x = x * 16 + d;
    }
    *out = x;
    return 0;
}

static int sc_string(scan_t *s) {
    size_t start = s->pos++;
    for (;;) {
        if (s->pos >= s->len) return sc_fail(s, "Unterminated string starting at", start);
        unsigned c = s->p[s->pos];
        if (c == '"') return s->pos++, 0;
        if (c < 0x20) return sc_fail(s, "Invalid control character at", s->pos);
        if (c != '\\') {
            s->pos++;
            continue;
        }
        size_t bs = s->pos;
        if (bs + 1 >= s->len) return sc_fail(s, "Unterminated string starting at", start);
        unsigned e = s->p[bs + 1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", (int)e) || e == 0) return sc_fail(s, "Invalid \\escape", bs);
            s->pos += 2;
            continue;
        }
        unsigned u, lo;
        if (sc_hex4(s, bs + 2, &u) < 0) return sc_fail(s, "Invalid \\uXXXX escape", bs);
        s->pos = bs + 6;
        /* cJSON keeps strings NUL-terminated, so "\u0000" would silently cut
         * the text short: refuse it rather than validate a different string. */
        if (u == 0) return sc_fail(s, "NUL character (\\u0000) not allowed in strings at", bs);
        /* cJSON refuses lone surrogates, so they are refused here too */
        if (u >= 0xDC00 && u <= 0xDFFF) return sc_fail(s, "Invalid \\uXXXX escape", bs);
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (s->pos + 1 >= s->len || s->p[s->pos] != '\\' || s->p[s->pos + 1] != 'u' ||
                sc_hex4(s, s->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                return sc_fail(s, "Invalid \\uXXXX escape", bs);
            s->pos += 6;
        }
    }
}

static int sc_digits(scan_t *s) {
    size_t p0 = s->pos;
    while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9') s->pos++;
    return s->pos > p0;
}

/* Python's NUMBER_RE: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? ; what follows is the caller's business. */
static int sc_number(scan_t *s) {
    size_t start = s->pos;
    if (s->p[s->pos] == '-') s->pos++;
    if (s->pos >= s->len || s->p[s->pos] < '0' || s->p[s->pos] > '9') return sc_fail(s, "Expecting value", start);
    if (s->p[s->pos] == '0') s->pos++;
    else sc_digits(s);
    if (s->pos + 1 < s->len && s->p[s->pos] == '.' && s->p[s->pos + 1] >= '0' && s->p[s->pos + 1] <= '9') {
        s->pos++;
        sc_digits(s);
    }
    if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
        size_t q = s->pos + 1;
        if (q < s->len && (s->p[q] == '+' || s->p[q] == '-')) q++;
        if (q < s->len && s->p[q] >= '0' && s->p[q] <= '9') {
            s->pos = q;
            sc_digits(s);
        }
    }
    return 0;
}

static int sc_literal(scan_t *s, const char *word) {
    size_t n = strlen(word);
    if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0) return sc_fail(s, "Expecting value", s->pos);
    s->pos += n;
    return 0;
}

static int sc_value(scan_t *s, int depth) {
    if (s->pos >= s->len) return sc_fail(s, "Expecting value", s->pos);
    unsigned c = s->p[s->pos];
    if (c == '{' || c == '[') {
        if (depth >= KF_SCHEMA_MAX_DEPTH) return sc_fail(s, "Maximum nesting depth exceeded", s->pos);
        unsigned close = c == '{' ? '}' : ']';
        s->pos++;
        sc_ws(s);
        if (s->pos < s->len && s->p[s->pos] == close) return s->pos++, 0;
        for (;;) {
            if (c == '{') {
                if (s->pos >= s->len || s->p[s->pos] != '"')
                    return sc_fail(s, "Expecting property name enclosed in double quotes", s->pos);
                if (sc_string(s) < 0) return -1;
                sc_ws(s);
                if (s->pos >= s->len || s->p[s->pos] != ':') return sc_fail(s, "Expecting ':' delimiter", s->pos);
                s->pos++;
                sc_ws(s);
            }
            if (sc_value(s, depth + 1) < 0) return -1;
            sc_ws(s);
            if (s->pos < s->len && s->p[s->pos] == close) return s->pos++, 0;
            if (s->pos >= s->len || s->p[s->pos] != ',') return sc_fail(s, "Expecting ',' delimiter", s->pos);
            s->pos++;
            sc_ws(s);
        }
    }
    if (c == '"') return sc_string(s);
    if (c == '-' || (c >= '0' && c <= '9')) return sc_number(s);
    if (c == 't') return sc_literal(s, "true");
    if (c == 'f') return sc_literal(s, "false");
    if (c == 'n') return sc_literal(s, "null");
    return sc_fail(s, "Expecting value", s->pos);
}

static void json_invalid(cJSON *errors, size_t pos, const char *what) {
    if (!errors) return;
    cJSON *e = cJSON_CreateObject(), *loc = cJSON_CreateArray(), *ctx = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "json_invalid");
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    cJSON_AddItemToArray(loc, cJSON_CreateNumber((double)pos));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", "JSON decode error");
    cJSON_AddItemToObject(e, "input", cJSON_CreateObject());
    cJSON_AddStringToObject(ctx, "error", what);
    cJSON_AddItemToObject(e, "ctx", ctx);
    cJSON_AddItemToArray(errors, e);
}

cJSON *kf_schema_parse_json(const char *buf, size_t len, cJSON *errors_out) {
    scan_t s = {(const unsigned char *)(buf ? buf : ""), buf ? len : 0, 0, NULL, 0};
    sc_ws(&s);
    if (sc_value(&s, 0) == 0) {
        sc_ws(&s);
        if (s.pos < s.len) sc_fail(&s, "Extra data", s.pos);
    }
    if (s.err) {
        json_invalid(errors_out, s.errpos, s.err);
        return NULL;
    }
    /* The scanner refused every NUL byte, so a terminated copy is the same text. */
    char *copy = malloc(s.len + 1);
    if (!copy) return NULL;
    memcpy(copy, s.p, s.len);
    copy[s.len] = 0;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(copy, s.len, &end, 0);
    if (!doc) json_invalid(errors_out, end ? (size_t)(end - copy) : 0, "Expecting value");
    free(copy);
    return doc;
}
