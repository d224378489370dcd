/* agents.c — helpers every AgentStore implementation and caller shares (see
 * agents.h): field validation, the text forms of skills, languages and
 * roles, and password hashing with libsodium's argon2id. */
#include "store/agents.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <cjson/cJSON.h>

static int is_slug_char(char c, int first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    return !first && (c == '_' || c == '-');
}

static int valid_slug(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_slug_char(s[i], i == 0)) return 0;
    return 1;
}

int kf_agents_valid_id(const char *id) { return valid_slug(id, KF_AGENT_ID_MAX); }

int kf_agents_validate(const kf_agent_t *a, char *err, size_t errlen) {
    if (!kf_agents_valid_id(a->id)) {
        snprintf(err, errlen, "id must be 1-%d of a-z 0-9 _ - (starting with a letter or digit)", KF_AGENT_ID_MAX);
        return -1;
    }
    if (!a->name[0] || strlen(a->name) > KF_AGENT_NAME_MAX) {
        snprintf(err, errlen, "name must be 1-%d bytes", KF_AGENT_NAME_MAX);
        return -1;
    }
    if (a->n_skills > KF_AGENT_MAX_SKILLS) {
        snprintf(err, errlen, "at most %d skills", KF_AGENT_MAX_SKILLS);
        return -1;
    }
    for (size_t i = 0; i < a->n_skills; i++)
        if (!valid_slug(a->skills[i], KF_AGENT_SKILL_MAX)) {
            snprintf(err, errlen, "skill '%s' must be 1-%d of a-z 0-9 _ -", a->skills[i], KF_AGENT_SKILL_MAX);
            return -1;
        }
    if (!a->languages || (a->languages & ~(unsigned)(KF_AGENT_LANG_EN | KF_AGENT_LANG_ZH))) {
        snprintf(err, errlen, "languages must be en, zh or both");
        return -1;
    }
    if (a->max_chats < 1 || a->max_chats > KF_AGENT_MAX_CHATS) {
        snprintf(err, errlen, "max_chats must be 1-%d", KF_AGENT_MAX_CHATS);
        return -1;
    }
    if (a->role != KF_AGENT_ROLE_AGENT && a->role != KF_AGENT_ROLE_ADMIN) {
        snprintf(err, errlen, "role must be agent or admin");
        return -1;
    }
    return 0;
}

/* Calls fn on each non-empty comma-separated item (spaces around items trimmed). */
static int each_item(const char *csv, int (*fn)(const char *item, size_t len, void *ud), void *ud) {
    const char *p = csv ? csv : "";
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && *s == ' ') s++;
        while (e > s && e[-1] == ' ') e--;
        if (e > s && fn(s, (size_t)(e - s), ud) < 0) return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

typedef struct { kf_agent_t *a; char *err; size_t errlen; } skill_ctx_t;

static int add_skill(const char *s, size_t len, void *ud) {
    skill_ctx_t *c = ud;
    if (c->a->n_skills >= KF_AGENT_MAX_SKILLS || len > KF_AGENT_SKILL_MAX) {
        snprintf(c->err, c->errlen, "at most %d skills of at most %d characters", KF_AGENT_MAX_SKILLS, KF_AGENT_SKILL_MAX);
        return -1;
    }
    for (size_t i = 0; i < c->a->n_skills; i++)
        if (strlen(c->a->skills[i]) == len && !memcmp(c->a->skills[i], s, len)) return 0; /* duplicates collapse */
    memcpy(c->a->skills[c->a->n_skills], s, len);
    c->a->skills[c->a->n_skills++][len] = 0;
    return 0;
}

int kf_agents_parse_skills(const char *csv, kf_agent_t *a, char *err, size_t errlen) {
    skill_ctx_t c = {a, err, errlen};
    a->n_skills = 0;
    return each_item(csv, add_skill, &c);
}

typedef struct { unsigned *langs; char *err; size_t errlen; } lang_ctx_t;

static int add_lang(const char *s, size_t len, void *ud) {
    lang_ctx_t *c = ud;
    if (len == 2 && !memcmp(s, "en", 2)) *c->langs |= KF_AGENT_LANG_EN;
    else if (len == 2 && !memcmp(s, "zh", 2)) *c->langs |= KF_AGENT_LANG_ZH;
    else {
        snprintf(c->err, c->errlen, "unknown language '%.*s' (en, zh)", (int)(len > 16 ? 16 : len), s);
        return -1;
    }
    return 0;
}

int kf_agents_parse_languages(const char *csv, unsigned *langs, char *err, size_t errlen) {
    lang_ctx_t c = {langs, err, errlen};
    *langs = 0;
    if (each_item(csv, add_lang, &c) < 0) return -1;
    if (!*langs) {
        snprintf(err, errlen, "at least one language (en, zh)");
        return -1;
    }
    return 0;
}

void kf_agents_languages_csv(unsigned langs, char out[8]) {
    out[0] = 0;
    if (langs & KF_AGENT_LANG_EN) strcat(out, "en");
    if (langs & KF_AGENT_LANG_ZH) strcat(out, out[0] ? ",zh" : "zh");
}

void kf_agents_skills_csv(const kf_agent_t *a, char *out, size_t outlen) {
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < a->n_skills && used < outlen; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? "," : "", a->skills[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

const char *kf_agents_role_name(kf_agent_role_t r) { return r == KF_AGENT_ROLE_ADMIN ? "admin" : "agent"; }

int kf_agents_role_parse(const char *s) {
    if (s && !strcmp(s, "agent")) return KF_AGENT_ROLE_AGENT;
    if (s && !strcmp(s, "admin")) return KF_AGENT_ROLE_ADMIN;
    return -1;
}

int kf_agents_hash_password(const char *password, char out[KF_AGENT_HASH_MAX + 1], char *err, size_t errlen) {
    size_t n = password ? strlen(password) : 0;
    if (n < KF_AGENT_PASSWORD_MIN || n > KF_AGENT_PASSWORD_MAX) {
        snprintf(err, errlen, "password must be %d-%d bytes", KF_AGENT_PASSWORD_MIN, KF_AGENT_PASSWORD_MAX);
        return KF_AGENTS_INVALID;
    }
    _Static_assert(crypto_pwhash_STRBYTES <= KF_AGENT_HASH_MAX + 1, "hash buffer too small");
    if (crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, errlen, "password hashing ran out of memory");
        return KF_AGENTS_NOMEM;
    }
    return KF_AGENTS_OK;
}

int kf_agents_verify_password(const char *hash, const char *password) {
    if (!hash || !password || !hash[0]) return 0;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

cJSON *kf_agents_json(const kf_agent_t *a) {
    cJSON *o = cJSON_CreateObject(), *sk = cJSON_CreateArray(), *ln = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "name", a->name);
    for (size_t i = 0; i < a->n_skills; i++) cJSON_AddItemToArray(sk, cJSON_CreateString(a->skills[i]));
    cJSON_AddItemToObject(o, "skills", sk);
    if (a->languages & KF_AGENT_LANG_EN) cJSON_AddItemToArray(ln, cJSON_CreateString("en"));
    if (a->languages & KF_AGENT_LANG_ZH) cJSON_AddItemToArray(ln, cJSON_CreateString("zh"));
    cJSON_AddItemToObject(o, "languages", ln);
    cJSON_AddNumberToObject(o, "max_chats", a->max_chats);
    cJSON_AddStringToObject(o, "role", kf_agents_role_name(a->role));
    cJSON_AddBoolToObject(o, "disabled", a->disabled);
    cJSON_AddNumberToObject(o, "created_at", (double)a->created_at_ms);
    return o;
}
