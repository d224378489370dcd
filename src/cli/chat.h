/* chat.h — private to `kefu chat` (src/cli/chat*.c): the answer a backend
 * returns for one turn, and the two backends behind one interface, so the
 * terminal loop in chat.c does not care where the bot runs:
 *   chat_rest.c  — a running server's REST API over libcurl (--url);
 *   chat_local.c — the bot, knowledge base, history, sessions and engine in
 *                  this process (--bot), with a throw-away data folder. */
#ifndef KF_CLI_CHAT_H
#define KF_CLI_CHAT_H

#include <stddef.h>

typedef struct {
    char *title, *payload;
} kf_chat_qr_t;

typedef struct {
    char *from; /* "bot", "agent", "system" */
    char *text;
    kf_chat_qr_t *qr;
    size_t n_qr;
} kf_chat_msg_t;

typedef struct {
    kf_chat_msg_t *msgs;
    size_t n;
    char *handoff; /* the skill, when the conversation asks for a human */
} kf_chat_answer_t;

/* Appends a message (copies); -1 when out of memory. */
int kf_chat_answer_add(kf_chat_answer_t *a, const char *from, const char *text);
/* Appends a quick reply to the last message; -1 when out of memory or no message. */
int kf_chat_answer_add_qr(kf_chat_answer_t *a, const char *title, const char *payload);
int kf_chat_answer_set_handoff(kf_chat_answer_t *a, const char *skill);
void kf_chat_answer_free(kf_chat_answer_t *a);

typedef struct kf_chat_backend kf_chat_backend_t;
struct kf_chat_backend {
    /* Opens the conversation; the greeting (if any) goes to out. */
    int (*start)(kf_chat_backend_t *b, const char *lang, const char *name, kf_chat_answer_t *out, char *err,
                 size_t errlen);
    /* One customer message; the bot's replies go to out.  -1 with err on failure. */
    int (*send)(kf_chat_backend_t *b, const char *text, kf_chat_answer_t *out, char *err, size_t errlen);
    void (*close)(kf_chat_backend_t *b); /* ends the conversation and frees */
};

kf_chat_backend_t *kf_chat_rest_new(const char *url, char *err, size_t errlen);

typedef struct {
    const char *bot_dir;
    const char *model;            /* NULL: trained from the bot's phrases at start */
    const char *webhook_override; /* NULL, or a URL every flow webhook goes to */
} kf_chat_local_opts_t;
kf_chat_backend_t *kf_chat_local_new(const kf_chat_local_opts_t *o, char *err, size_t errlen);

#endif
