/* chat_rest.c — `kefu chat --url`: the chat backend (chat.h) that talks to a
 * running server's conversation REST API with libcurl's easy interface (one
 * handle, so the connection is kept alive between turns):
 *   POST /v1/conversations {"language","name"} → 201 {conversation_id, messages}
 *   POST /v1/conversations/{id}/messages {"text","client_msg_id"} → 200 {replies, handoff}
 *   POST /v1/conversations/{id}/close at the end.
 * Each message carries a client_msg_id, so the server never processes one
 * twice even if a retry layer resends it.  Errors come back as JSON with
 * "detail" (a string, or FastAPI's list of validation errors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli/chat.h"
#include "util/buf.h"

typedef struct {
    kf_chat_backend_t base; /* first: the backend pointer is this struct's */
    CURL *curl;
    struct curl_slist *headers;
    char *url;  /* without a trailing '/' */
    char conv_id[40];
    unsigned long n_sent;
} rest_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    kf_buf_append(ud, p, size * n);
    return size * n;
}

/* "detail" of an error answer as one line. */
static void detail(const cJSON *j, long status, char *err, size_t errlen) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
    if (cJSON_IsString(d)) {
        snprintf(err, errlen, "HTTP %ld: %s", status, d->valuestring);
    } else if (cJSON_IsArray(d) && cJSON_GetArraySize(d) > 0) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "msg");
        snprintf(err, errlen, "HTTP %ld: %s", status, cJSON_IsString(msg) ? msg->valuestring : "invalid request");
    } else {
        snprintf(err, errlen, "HTTP %ld", status);
    }
}

/* POSTs body to url+path; *out gets the parsed JSON answer (any status).
 * Returns the HTTP status, or -1 with err when no answer came. */
static long post(rest_t *r, const char *path, const char *body, cJSON **out, char *err, size_t errlen) {
    char full[2048];
    snprintf(full, sizeof full, "%s%s", r->url, path);
    kf_buf_t resp;
    kf_buf_init(&resp);
    curl_easy_setopt(r->curl, CURLOPT_URL, full);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(r->curl);
    long status = -1;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", full, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
        kf_buf_append(&resp, "", 1);
        *out = resp.oom ? NULL : cJSON_Parse(resp.data);
        if (!*out) {
            snprintf(err, errlen, "%s: HTTP %ld with an answer that is not JSON", full, status);
            status = -1;
        }
    }
    kf_buf_free(&resp);
    return status;
}

/* Messages of a reply list ("messages" or "replies") into out. */
static int read_msgs(const cJSON *list, kf_chat_answer_t *out) {
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(m, "from"), *text = cJSON_GetObjectItemCaseSensitive(m, "text");
        if (!cJSON_IsString(text)) continue;
        if (kf_chat_answer_add(out, cJSON_IsString(from) ? from->valuestring : "bot", text->valuestring) < 0) return -1;
        const cJSON *q, *qrs = cJSON_GetObjectItemCaseSensitive(m, "quick_replies");
        cJSON_ArrayForEach(q, qrs) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(q, "title"), *p = cJSON_GetObjectItemCaseSensitive(q, "payload");
            if (cJSON_IsString(t) &&
                kf_chat_answer_add_qr(out, t->valuestring, cJSON_IsString(p) ? p->valuestring : NULL) < 0)
                return -1;
        }
    }
    return 0;
}

static int rest_start(kf_chat_backend_t *be, const char *lang, const char *name, kf_chat_answer_t *out, char *err,
                      size_t errlen) {
    rest_t *r = (rest_t *)be;
    cJSON *req = cJSON_CreateObject(), *ans = NULL;
    if (lang) cJSON_AddStringToObject(req, "language", lang);
    if (name) cJSON_AddStringToObject(req, "name", name);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    long st = body ? post(r, "/v1/conversations", body, &ans, err, errlen) : -1;
    free(body);
    int rc = -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ans, "conversation_id");
    if (st == 404) {
        snprintf(err, errlen, "%s has no conversation API (POST /v1/conversations: 404)", r->url);
    } else if (st != 201 && st != 200) {
        if (st > 0) detail(ans, st, err, errlen);
    } else if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof r->conv_id) {
        snprintf(err, errlen, "POST /v1/conversations: no conversation_id in the answer");
    } else {
        snprintf(r->conv_id, sizeof r->conv_id, "%s", id->valuestring);
        rc = read_msgs(cJSON_GetObjectItemCaseSensitive(ans, "messages"), out);
        if (rc < 0) snprintf(err, errlen, "out of memory");
    }
    cJSON_Delete(ans);
    return rc;
}

static int rest_send(kf_chat_backend_t *be, const char *text, kf_chat_answer_t *out, char *err, size_t errlen) {
    rest_t *r = (rest_t *)be;
    char path[128], cid[64];
    snprintf(path, sizeof path, "/v1/conversations/%s/messages", r->conv_id);
    snprintf(cid, sizeof cid, "chat-%ld-%lu", (long)getpid(), ++r->n_sent);
    cJSON *req = cJSON_CreateObject(), *ans = NULL;
    cJSON_AddStringToObject(req, "text", text);
    cJSON_AddStringToObject(req, "client_msg_id", cid);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    long st = body ? post(r, path, body, &ans, err, errlen) : -1;
    free(body);
    int rc = -1;
    if (st == 200) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(ans, "handoff");
        const cJSON *skill = cJSON_GetObjectItemCaseSensitive(h, "skill");
        rc = read_msgs(cJSON_GetObjectItemCaseSensitive(ans, "replies"), out);
        if (rc == 0 && cJSON_IsString(skill)) rc = kf_chat_answer_set_handoff(out, skill->valuestring);
        if (rc < 0) snprintf(err, errlen, "out of memory");
    } else if (st > 0) {
        detail(ans, st, err, errlen);
    }
    cJSON_Delete(ans);
    return rc;
}

static void rest_close(kf_chat_backend_t *be) {
    rest_t *r = (rest_t *)be;
    if (r->conv_id[0]) { /* ends the conversation now rather than at the server's idle expiry */
        char path[128], err[256];
        cJSON *ans = NULL;
        snprintf(path, sizeof path, "/v1/conversations/%s/close", r->conv_id);
        post(r, path, "{}", &ans, err, sizeof err);
        cJSON_Delete(ans);
    }
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->curl);
    curl_global_cleanup();
    free(r->url);
    free(r);
}

kf_chat_backend_t *kf_chat_rest_new(const char *url, char *err, size_t errlen) {
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        snprintf(err, errlen, "--url must start with http:// or https://, not '%s'", url);
        return NULL;
    }
    rest_t *r = calloc(1, sizeof *r);
    if (!r || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(r->curl = curl_easy_init()) || !(r->url = strdup(url))) {
        snprintf(err, errlen, "cannot start libcurl");
        if (r && r->curl) curl_easy_cleanup(r->curl);
        free(r);
        return NULL;
    }
    size_t n = strlen(r->url);
    while (n > 0 && r->url[n - 1] == '/') r->url[--n] = '\0';
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 30L); /* a reply may wait for a flow's webhook */
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    r->base.start = rest_start;
    r->base.send = rest_send;
    r->base.close = rest_close;
    return &r->base;
}
