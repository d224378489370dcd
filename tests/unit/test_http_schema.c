/* test_http_schema.c — validation, defaults, body parsing and parameter
 * coercion of http/schema.c, compared error by error with the exact
 * pydantic-v2/FastAPI shapes. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/schema.h"

/* The intent request of the brief. */
static const kf_schema_t query_s = KF_STRING(.min_length = 1, .max_length = 200);
static const kf_schema_t sid_s = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"));
static const kf_schema_t ctx_s = KF_OBJECT(.default_json = "{}");
static const kf_schema_t cb_s = KF_STRING(.format = "uri", .max_length = 2048);
static const kf_schema_prop_t intent_props[] = {
    {"query", &query_s, 1}, {"session_id", &sid_s, 1}, {"context", &ctx_s, 0}, {"callback_url", &cb_s, 0}, {0}};
static const kf_schema_t intent_s = KF_OBJECT(.name = "IntentRequest", .properties = intent_props);

/* Everything else. */
static const char *const channels[] = {"web", "app", "phone", NULL};
static const kf_schema_t chan_s = KF_STRING(.enum_values = channels);
static const kf_schema_t two_s = KF_STRING(.enum_values = (const char *const[]){"a", "b", NULL});
static const kf_schema_t age_s = KF_INTEGER(KF_RANGE(0, 150));
static const kf_schema_t score_s = KF_NUMBER(.minimum = 0, .maximum = 1, .bounds = KF_SCHEMA_MIN | KF_SCHEMA_XMIN | KF_SCHEMA_MAX | KF_SCHEMA_XMAX);
static const kf_schema_t flag_s = KF_BOOLEAN(.default_json = "true");
static const kf_schema_t tag_s = KF_STRING(.min_length = 2);
static const kf_schema_t tags_s = KF_ARRAY(.items = &tag_s, .min_items = 1, .max_items = 3);
static const kf_schema_t note_s = KF_STRING(.nullable = 1, .max_length = 5);
static const kf_schema_t city_s = KF_STRING();
static const kf_schema_prop_t addr_props[] = {{"city", &city_s, 1}, {0}};
static const kf_schema_t addr_s = KF_OBJECT(.name = "Address", .properties = addr_props, .forbid_extra = 1);
static const kf_schema_t addrs_s = KF_ARRAY(.items = &addr_s);
static const kf_schema_prop_t all_props[] = {{"channel", &chan_s, 0}, {"pick", &two_s, 0}, {"age", &age_s, 0},
                                             {"score", &score_s, 0}, {"flag", &flag_s, 0}, {"tags", &tags_s, 0},
                                             {"note", &note_s, 0}, {"address", &addr_s, 0}, {"addresses", &addrs_s, 0},
                                             {0}};
static const kf_schema_t all_s = KF_OBJECT(.name = "Everything", .properties = all_props, .forbid_extra = 1);

static cJSON *parse(const char *text) {
    cJSON *v = cJSON_Parse(text);
    cr_assert_not_null(v, "test JSON does not parse: %s", text);
    return v;
}

static void expect_json(const cJSON *got, const char *want_text) {
    cJSON *want = parse(want_text);
    char *g = cJSON_PrintUnformatted(got);
    cr_expect(cJSON_Compare(got, want, 1), "got  %s\nwant %s", g, want_text);
    free(g);
    cJSON_Delete(want);
}

/* Validates text against s with loc ["body"] and compares the errors. */
static int run(const kf_schema_t *s, const char *text, const char *want_errors) {
    cJSON *v = parse(text), *errs = cJSON_CreateArray(), *loc = parse("[\"body\"]");
    int n = kf_schema_validate(s, v, loc, errs);
    expect_json(errs, want_errors);
    cr_expect_eq(n, cJSON_GetArraySize(errs));
    cJSON_Delete(v);
    cJSON_Delete(errs);
    cJSON_Delete(loc);
    return n;
}

#define SID "0123456789abcdef0123456789abcdef"

Test(schema, valid_intent_gets_defaults) {
    cJSON *v = parse("{\"query\":\"hello\",\"session_id\":\"" SID "\"}"), *errs = cJSON_CreateArray();
    cr_assert_eq(kf_schema_validate(&intent_s, v, NULL, errs), 0);
    expect_json(v, "{\"query\":\"hello\",\"session_id\":\"" SID "\",\"context\":{}}");
    cJSON_Delete(v);
    cJSON_Delete(errs);
}

Test(schema, every_error_collected) {
    int n = run(&intent_s, "{\"query\":\"\",\"session_id\":\"XYZ\",\"context\":[1],\"callback_url\":7}",
                "[{\"type\":\"string_too_short\",\"loc\":[\"body\",\"query\"],\"msg\":\"String should have at least 1 "
                "character\",\"input\":\"\",\"ctx\":{\"min_length\":1}},"
                "{\"type\":\"string_pattern_mismatch\",\"loc\":[\"body\",\"session_id\"],\"msg\":\"String should match "
                "pattern '^[a-f0-9]{32}$'\",\"input\":\"XYZ\",\"ctx\":{\"pattern\":\"^[a-f0-9]{32}$\"}},"
                "{\"type\":\"dict_type\",\"loc\":[\"body\",\"context\"],\"msg\":\"Input should be a valid "
                "dictionary\",\"input\":[1]},"
                "{\"type\":\"string_type\",\"loc\":[\"body\",\"callback_url\"],\"msg\":\"Input should be a valid "
                "string\",\"input\":7}]");
    cr_expect_eq(n, 4);
}

static const kf_schema_prop_t late_props[] = {{"context", &ctx_s, 0}, {"query", &query_s, 1}, {0}};
static const kf_schema_t late_s = KF_OBJECT(.properties = late_props);

Test(schema, missing_fields_carry_the_object) {
    run(&intent_s, "{}",
        "[{\"type\":\"missing\",\"loc\":[\"body\",\"query\"],\"msg\":\"Field required\",\"input\":{}},"
        "{\"type\":\"missing\",\"loc\":[\"body\",\"session_id\"],\"msg\":\"Field required\",\"input\":{}}]");
    /* the input is the object as sent, without defaults filled in before the missing field */
    run(&late_s, "{\"x\":1}",
        "[{\"type\":\"missing\",\"loc\":[\"body\",\"query\"],\"msg\":\"Field required\",\"input\":{\"x\":1}}]");
}

Test(schema, too_long_counts_code_points) {
    char *buf = malloc(1000), *p = buf;
    p += sprintf(p, "{\"session_id\":\"" SID "\",\"query\":\"");
    for (int i = 0; i < 200; i++) p += sprintf(p, "\xE4\xBD\xA0"); /* 200 CJK chars = 600 bytes: fine */
    strcpy(p, "\"}");
    run(&intent_s, buf, "[]");
    p[0] = 'x';
    strcpy(p + 1, "\"}");
    cJSON *v = parse(buf), *errs = cJSON_CreateArray();
    cr_expect_eq(kf_schema_validate(&intent_s, v, NULL, errs), 1);
    cJSON *e = cJSON_GetArrayItem(errs, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "string_too_long");
    cr_expect_str_eq(cJSON_GetObjectItem(e, "msg")->valuestring, "String should have at most 200 characters");
    expect_json(cJSON_GetObjectItem(e, "loc"), "[\"query\"]");
    expect_json(cJSON_GetObjectItem(e, "ctx"), "{\"max_length\":200}");
    cJSON_Delete(v);
    cJSON_Delete(errs);
    free(buf);
}

Test(schema, body_not_an_object) {
    run(&intent_s, "[1,2]",
        "[{\"type\":\"model_attributes_type\",\"loc\":[\"body\"],\"msg\":\"Input should be a valid dictionary or "
        "object to extract fields from\",\"input\":[1,2]}]");
}

Test(schema, enums) {
    run(&all_s, "{\"channel\":\"fax\",\"pick\":\"c\"}",
        "[{\"type\":\"enum\",\"loc\":[\"body\",\"channel\"],\"msg\":\"Input should be 'web', 'app' or 'phone'\","
        "\"input\":\"fax\",\"ctx\":{\"expected\":\"'web', 'app' or 'phone'\"}},"
        "{\"type\":\"enum\",\"loc\":[\"body\",\"pick\"],\"msg\":\"Input should be 'a' or 'b'\",\"input\":\"c\","
        "\"ctx\":{\"expected\":\"'a' or 'b'\"}}]");
    run(&all_s, "{\"channel\":\"app\",\"pick\":\"b\"}", "[]");
}

Test(schema, integers) {
    run(&all_s, "{\"age\":1.5}",
        "[{\"type\":\"int_from_float\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be a valid integer, got a "
        "number with a fractional part\",\"input\":1.5}]");
    run(&all_s, "{\"age\":\"abc\"}",
        "[{\"type\":\"int_parsing\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be a valid integer, unable to "
        "parse string as an integer\",\"input\":\"abc\"}]");
    run(&all_s, "{\"age\":[]}",
        "[{\"type\":\"int_type\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be a valid integer\",\"input\":[]}]");
    run(&all_s, "{\"age\":-1}",
        "[{\"type\":\"greater_than_equal\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be greater than or "
        "equal to 0\",\"input\":-1,\"ctx\":{\"ge\":0}}]");
    run(&all_s, "{\"age\":151}",
        "[{\"type\":\"less_than_equal\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be less than or equal to "
        "150\",\"input\":151,\"ctx\":{\"le\":150}}]");
    run(&all_s, "{\"age\":150}", "[]");
}

Test(schema, lax_coercion_in_place) {
    cJSON *v = parse("{\"age\":\" 42 \",\"score\":\"0.5\",\"flag\":\"yes\"}"), *errs = cJSON_CreateArray();
    cr_assert_eq(kf_schema_validate(&all_s, v, NULL, errs), 0);
    expect_json(v, "{\"age\":42,\"score\":0.5,\"flag\":true}");
    cJSON_Delete(v);
    cJSON_Delete(errs);
}

Test(schema, numbers_exclusive) {
    run(&all_s, "{\"score\":0}",
        "[{\"type\":\"greater_than\",\"loc\":[\"body\",\"score\"],\"msg\":\"Input should be greater than 0\","
        "\"input\":0,\"ctx\":{\"gt\":0}}]");
    run(&all_s, "{\"score\":1}",
        "[{\"type\":\"less_than\",\"loc\":[\"body\",\"score\"],\"msg\":\"Input should be less than 1\","
        "\"input\":1,\"ctx\":{\"lt\":1}}]");
    run(&all_s, "{\"score\":{}}",
        "[{\"type\":\"float_type\",\"loc\":[\"body\",\"score\"],\"msg\":\"Input should be a valid number\","
        "\"input\":{}}]");
    run(&all_s, "{\"score\":\"0x1\"}",
        "[{\"type\":\"float_parsing\",\"loc\":[\"body\",\"score\"],\"msg\":\"Input should be a valid number, "
        "unable to parse string as a number\",\"input\":\"0x1\"}]");
    run(&all_s, "{\"score\":0.999}", "[]");
}

Test(schema, booleans) {
    run(&all_s, "{\"flag\":\"maybe\"}",
        "[{\"type\":\"bool_parsing\",\"loc\":[\"body\",\"flag\"],\"msg\":\"Input should be a valid boolean, unable "
        "to interpret input\",\"input\":\"maybe\"}]");
    run(&all_s, "{\"flag\":[]}",
        "[{\"type\":\"bool_type\",\"loc\":[\"body\",\"flag\"],\"msg\":\"Input should be a valid boolean\","
        "\"input\":[]}]");
}

Test(schema, default_filled_and_not_overwritten) {
    cJSON *v = parse("{}"), *errs = cJSON_CreateArray();
    cr_assert_eq(kf_schema_validate(&all_s, v, NULL, errs), 0);
    expect_json(v, "{\"flag\":true}");
    cJSON_Delete(v);
    v = parse("{\"flag\":false}");
    cr_assert_eq(kf_schema_validate(&all_s, v, NULL, errs), 0);
    expect_json(v, "{\"flag\":false}");
    cJSON_Delete(v);
    cJSON_Delete(errs);
}

Test(schema, arrays) {
    run(&all_s, "{\"tags\":[]}",
        "[{\"type\":\"too_short\",\"loc\":[\"body\",\"tags\"],\"msg\":\"List should have at least 1 item after "
        "validation, not 0\",\"input\":[],\"ctx\":{\"field_type\":\"List\",\"min_length\":1,\"actual_length\":0}}]");
    run(&all_s, "{\"tags\":[\"aa\",\"bb\",\"cc\",\"dd\"]}",
        "[{\"type\":\"too_long\",\"loc\":[\"body\",\"tags\"],\"msg\":\"List should have at most 3 items after "
        "validation, not 4\",\"input\":[\"aa\",\"bb\",\"cc\",\"dd\"],\"ctx\":{\"field_type\":\"List\","
        "\"max_length\":3,\"actual_length\":4}}]");
    run(&all_s, "{\"tags\":[\"ok\",\"x\",5]}",
        "[{\"type\":\"string_too_short\",\"loc\":[\"body\",\"tags\",1],\"msg\":\"String should have at least 2 "
        "characters\",\"input\":\"x\",\"ctx\":{\"min_length\":2}},"
        "{\"type\":\"string_type\",\"loc\":[\"body\",\"tags\",2],\"msg\":\"Input should be a valid string\","
        "\"input\":5}]");
    run(&all_s, "{\"tags\":\"aa\"}",
        "[{\"type\":\"list_type\",\"loc\":[\"body\",\"tags\"],\"msg\":\"Input should be a valid list\","
        "\"input\":\"aa\"}]");
}

Test(schema, nullable) {
    run(&all_s, "{\"note\":null}", "[]");
    run(&all_s, "{\"note\":\"toolong\"}",
        "[{\"type\":\"string_too_long\",\"loc\":[\"body\",\"note\"],\"msg\":\"String should have at most 5 "
        "characters\",\"input\":\"toolong\",\"ctx\":{\"max_length\":5}}]");
    run(&all_s, "{\"age\":null}",
        "[{\"type\":\"int_type\",\"loc\":[\"body\",\"age\"],\"msg\":\"Input should be a valid integer\","
        "\"input\":null}]");
    run(&all_s, "{\"channel\":null}",
        "[{\"type\":\"enum\",\"loc\":[\"body\",\"channel\"],\"msg\":\"Input should be 'web', 'app' or 'phone'\","
        "\"input\":null,\"ctx\":{\"expected\":\"'web', 'app' or 'phone'\"}}]");
}

Test(schema, nested_locs_and_extra_forbidden) {
    run(&all_s, "{\"address\":{\"town\":\"x\"},\"addresses\":[{\"city\":\"a\"},{\"city\":1},7],\"bogus\":1}",
        "[{\"type\":\"missing\",\"loc\":[\"body\",\"address\",\"city\"],\"msg\":\"Field required\","
        "\"input\":{\"town\":\"x\"}},"
        "{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"address\",\"town\"],\"msg\":\"Extra inputs are not "
        "permitted\",\"input\":\"x\"},"
        "{\"type\":\"string_type\",\"loc\":[\"body\",\"addresses\",1,\"city\"],\"msg\":\"Input should be a valid "
        "string\",\"input\":1},"
        "{\"type\":\"model_type\",\"loc\":[\"body\",\"addresses\",2],\"msg\":\"Input should be a valid dictionary "
        "or instance of Address\",\"input\":7,\"ctx\":{\"class_name\":\"Address\"}},"
        "{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"bogus\"],\"msg\":\"Extra inputs are not permitted\","
        "\"input\":1}]");
}

Test(schema, invalid_utf8) {
    cJSON *v = cJSON_CreateObject(), *errs = cJSON_CreateArray();
    cJSON_AddStringToObject(v, "query", "ab\xC3(");
    cJSON_AddStringToObject(v, "session_id", SID);
    cr_assert_eq(kf_schema_validate(&intent_s, v, NULL, errs), 1);
    expect_json(errs, "[{\"type\":\"string_unicode\",\"loc\":[\"query\"],\"msg\":\"Input should be a valid string, "
                      "unable to parse raw data as a unicode string\",\"input\":\"ab\xEF\xBF\xBD(\"}]");
    cJSON_Delete(v);
    cJSON_Delete(errs);
    size_t n;
    cr_expect_eq(kf_schema_utf8_length("\xED\xA0\x80", 3, &n), -1); /* surrogate */
    cr_expect_eq(kf_schema_utf8_length("\xC0\xAF", 2, &n), -1);     /* overlong */
    cr_expect_eq(kf_schema_utf8_length("\xF4\x90\x80\x80", 4, &n), -1);
    cr_expect_eq(kf_schema_utf8_length("a\xC3\xA9\xF0\x9F\x98\x80", 7, &n), 0);
    cr_expect_eq(n, 3);
}

/* ---- body parsing ---- */

static void bad_json(const char *text, size_t len, int pos, const char *what) {
    cJSON *errs = cJSON_CreateArray();
    cr_expect_null(kf_schema_parse_json(text, len, errs), "accepted %.*s", (int)len, text);
    char want[512];
    snprintf(want, sizeof want,
             "[{\"type\":\"json_invalid\",\"loc\":[\"body\",%d],\"msg\":\"JSON decode error\",\"input\":{},"
             "\"ctx\":{\"error\":\"%s\"}}]",
             pos, what);
    expect_json(errs, want);
    cJSON_Delete(errs);
}

#define BAD(lit, pos, what) bad_json(lit, sizeof lit - 1, pos, what)

Test(parse, malformed_offsets) {
    BAD("", 0, "Expecting value");
    BAD("   ", 3, "Expecting value");
    BAD("{\"a\":1} x", 8, "Extra data");
    BAD("{\"a\":1}{}", 7, "Extra data");
    BAD("{\"a\":1", 6, "Expecting ',' delimiter");
    BAD("{\"a\" 1}", 5, "Expecting ':' delimiter");
    BAD("{\"a\":}", 5, "Expecting value");
    BAD("{a:1}", 1, "Expecting property name enclosed in double quotes");
    BAD("{\"a\":1,}", 7, "Expecting property name enclosed in double quotes");
    BAD("[1,]", 3, "Expecting value");
    BAD("[1 2]", 3, "Expecting ',' delimiter");
    BAD("{\"query\":\"abc", 9, "Unterminated string starting at");
    BAD("\"a\x01\"", 2, "Invalid control character at");
    BAD("\"\\x\"", 1, "Invalid \\\\escape");
    BAD("\"\\u12G4\"", 1, "Invalid \\\\uXXXX escape");
    BAD("\"\\udc00\"", 1, "Invalid \\\\uXXXX escape");
    BAD("tru", 0, "Expecting value");
    BAD("-", 0, "Expecting value");
    BAD("01", 1, "Extra data");
    BAD("NaN", 0, "Expecting value");
}

Test(parse, not_nul_terminated) {
    /* The buffer goes on past len with text that would be an error if read. */
    const char buf[] = "{\"a\":[1,2]}GARBAGE";
    cJSON *errs = cJSON_CreateArray();
    cJSON *v = kf_schema_parse_json(buf, 11, errs);
    cr_assert_not_null(v);
    expect_json(v, "{\"a\":[1,2]}");
    cr_expect_eq(cJSON_GetArraySize(errs), 0);
    cJSON_Delete(v);
    bad_json(buf, 12, 11, "Extra data");
    /* a NUL inside the length is an error, not the end of the text */
    bad_json("{}\0{}", 5, 2, "Extra data");
    cJSON_Delete(errs);
}

Test(parse, values_and_escapes) {
    const char text[] = " {\"s\":\"\\u00e9\\ud83d\\ude00\\n\",\"n\":-1.5e2,\"t\":true,\"z\":null} ";
    cJSON *errs = cJSON_CreateArray(), *v = kf_schema_parse_json(text, sizeof text - 1, errs);
    cr_assert_not_null(v);
    cr_expect_str_eq(cJSON_GetObjectItem(v, "s")->valuestring, "\xC3\xA9\xF0\x9F\x98\x80\n");
    cr_expect_eq(cJSON_GetObjectItem(v, "n")->valuedouble, -150.0);
    cJSON_Delete(v);
    cJSON_Delete(errs);
}

Test(parse, depth_limit) {
    char buf[400];
    for (int depth = KF_SCHEMA_MAX_DEPTH; depth <= KF_SCHEMA_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        cJSON *errs = cJSON_CreateArray(), *v = kf_schema_parse_json(buf, n, errs);
        if (depth == KF_SCHEMA_MAX_DEPTH) {
            cr_expect_not_null(v);
            cJSON_Delete(v);
        } else {
            bad_json(buf, n, KF_SCHEMA_MAX_DEPTH, "Maximum nesting depth exceeded");
        }
        cJSON_Delete(errs);
    }
    /* far deeper than any stack would allow a naive recursive parser */
    size_t big = 1 << 20;
    char *deep = malloc(big);
    memset(deep, '[', big);
    bad_json(deep, big, KF_SCHEMA_MAX_DEPTH, "Maximum nesting depth exceeded");
    free(deep);
}

/* ---- parameters ---- */

static int param(const kf_schema_t *s, const char *raw, cJSON **out, const char *want_errors) {
    cJSON *errs = cJSON_CreateArray();
    int n = kf_schema_validate_param(s, raw, strlen(raw), "query", "p", errs, out);
    expect_json(errs, want_errors);
    cJSON_Delete(errs);
    return n;
}

Test(params, coercion) {
    cJSON *out;
    cr_assert_eq(param(&age_s, "42", &out, "[]"), 0);
    expect_json(out, "42");
    cJSON_Delete(out);
    cr_assert_eq(param(&age_s, "7.0", &out, "[]"), 0);
    expect_json(out, "7");
    cJSON_Delete(out);
    cr_assert_eq(param(&flag_s, "OFF", &out, "[]"), 0);
    expect_json(out, "false");
    cJSON_Delete(out);
    cr_assert_eq(param(&score_s, "0.25", &out, "[]"), 0);
    expect_json(out, "0.25");
    cJSON_Delete(out);
    cr_assert_eq(param(NULL, "anything", &out, "[]"), 0);
    expect_json(out, "\"anything\"");
    cJSON_Delete(out);
}

Test(params, errors) {
    cJSON *out = (cJSON *)1;
    cr_expect_eq(param(&age_s, "4x", &out,
                       "[{\"type\":\"int_parsing\",\"loc\":[\"query\",\"p\"],\"msg\":\"Input should be a valid integer, "
                       "unable to parse string as an integer\",\"input\":\"4x\"}]"),
                 1);
    cr_expect_null(out);
    param(&age_s, "200", NULL,
          "[{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"p\"],\"msg\":\"Input should be less than or equal to "
          "150\",\"input\":200,\"ctx\":{\"le\":150}}]");
    param(&flag_s, "2", NULL,
          "[{\"type\":\"bool_parsing\",\"loc\":[\"query\",\"p\"],\"msg\":\"Input should be a valid boolean, unable to "
          "interpret input\",\"input\":\"2\"}]");
    param(&sid_s, "nope", NULL,
          "[{\"type\":\"string_pattern_mismatch\",\"loc\":[\"query\",\"p\"],\"msg\":\"String should match pattern "
          "'^[a-f0-9]{32}$'\",\"input\":\"nope\",\"ctx\":{\"pattern\":\"^[a-f0-9]{32}$\"}}]");
    cJSON *errs = cJSON_CreateArray();
    cr_expect_eq(kf_schema_validate_param(&tag_s, "\xFF", 1, "path", "job_id", errs, NULL), 1);
    expect_json(errs, "[{\"type\":\"string_unicode\",\"loc\":[\"path\",\"job_id\"],\"msg\":\"Input should be a valid "
                      "string, unable to parse raw data as a unicode string\",\"input\":\"\xEF\xBF\xBD\"}]");
    cJSON_Delete(errs);
}

/* ---- patterns ---- */

static const kf_schema_t bad_re = KF_STRING(KF_PATTERN("(unclosed"));
static const kf_schema_prop_t bad_props[] = {{"x", &bad_re, 1}, {0}};
static const kf_schema_t bad_obj = KF_OBJECT(.properties = bad_props);

Test(patterns, compile_reports_bad_pattern) {
    char err[200] = "";
    cr_expect_eq(kf_schema_compile(&intent_s, err, sizeof err), 0);
    cr_expect_eq(kf_schema_compile(&bad_obj, err, sizeof err), -1);
    cr_expect(strstr(err, "(unclosed") != NULL, "%s", err);
}

static const kf_schema_t word_s = KF_STRING(KF_PATTERN("^\\w+$"));
static const kf_schema_t unanchored_s = KF_STRING(KF_PATTERN("[0-9]"));

Test(patterns, unicode_aware_and_unanchored) {
    cr_expect_eq(param(&word_s, "\xE4\xBD\xA0\xE5\xA5\xBD", NULL, "[]"), 0); /* \w matches CJK, as in pydantic */
    cr_expect_eq(param(&word_s, "a b", NULL,
                       "[{\"type\":\"string_pattern_mismatch\",\"loc\":[\"query\",\"p\"],\"msg\":\"String should "
                       "match pattern '^\\\\w+$'\",\"input\":\"a b\",\"ctx\":{\"pattern\":\"^\\\\w+$\"}}]"),
                 1);
    cr_expect_eq(param(&unanchored_s, "abc7def", NULL, "[]"), 0); /* search, not full match */
}

static const kf_schema_t bad_default = KF_INTEGER(KF_GE(1), .default_json = "0");
static const kf_schema_t bad_example = KF_STRING(.max_length = 2, .example_json = "\"abc\"");
static const kf_schema_t broken_default = KF_OBJECT(.default_json = "{");
static const kf_schema_t good_samples = KF_STRING(.max_length = 2, .example_json = "\"ab\"", .default_json = "\"a\"");

Test(patterns, compile_checks_defaults_and_examples) {
    char err[200] = "";
    cr_expect_eq(kf_schema_compile(&bad_default, err, sizeof err), -1);
    cr_expect_str_eq(err, "default 0: Input should be greater than or equal to 1");
    cr_expect_eq(kf_schema_compile(&bad_example, err, sizeof err), -1);
    cr_expect_str_eq(err, "example \"abc\": String should have at most 2 characters");
    cr_expect_eq(kf_schema_compile(&broken_default, err, sizeof err), -1);
    cr_expect_str_eq(err, "default {: not valid JSON");
    cr_expect_eq(kf_schema_compile(&good_samples, err, sizeof err), 0);
    cr_expect_eq(kf_schema_compile(&all_s, err, sizeof err), 0, "%s", err);
}

static void *match_many(void *arg) {
    (void)arg;
    long bad = 0;
    for (int i = 0; i < 2000; i++) {
        cJSON *errs = cJSON_CreateArray();
        int n = kf_schema_validate_param(&sid_s, i % 2 ? SID : "zz", i % 2 ? 32 : 2, "query", "s", errs, NULL);
        bad += n != (i % 2 ? 0 : 1);
        cJSON_Delete(errs);
    }
    return (void *)bad;
}

Test(patterns, lazy_compile_is_thread_safe) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, match_many, NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_expect_eq((long)r, 0);
    }
}
