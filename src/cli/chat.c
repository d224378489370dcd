/* chat.c — `kefu chat`: a terminal client for a bot.  With --url it talks to
 * a running `kefu serve` over the REST API (chat_rest.c); with --bot it runs
 * the whole conversation engine in this process (chat_local.c).  Reads one
 * message per line from stdin (prompt "you> " only on a terminal, so piped
 * input gives clean output), prints "bot> " replies and numbered quick
 * replies; typing a number sends that quick reply's payload.  "/quit" or end
 * of input ends the conversation.  Exit 0, 1 when the backend fails, 2 for a
 * usage mistake. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/chat.h"
#include "cli/cli.h"
#include "cli/opts.h"

/* ---- answers ----------------------------------------------------------- */

int kf_chat_answer_add(kf_chat_answer_t *a, const char *from, const char *text) {
    kf_chat_msg_t *m = realloc(a->msgs, (a->n + 1) * sizeof *m);
    if (!m) return -1;
    a->msgs = m;
    m = &a->msgs[a->n];
    memset(m, 0, sizeof *m);
    m->from = strdup(from ? from : "bot");
    m->text = strdup(text ? text : "");
    a->n++; /* counted even when a copy failed, so kf_chat_answer_free frees what was made */
    return m->from && m->text ? 0 : -1;
}

int kf_chat_answer_add_qr(kf_chat_answer_t *a, const char *title, const char *payload) {
    if (!a->n || !title) return -1;
    kf_chat_msg_t *m = &a->msgs[a->n - 1];
    kf_chat_qr_t *q = realloc(m->qr, (m->n_qr + 1) * sizeof *q);
    if (!q) return -1;
    m->qr = q;
    q[m->n_qr].title = strdup(title);
    q[m->n_qr].payload = strdup(payload ? payload : title);
    m->n_qr++;
    return q[m->n_qr - 1].title && q[m->n_qr - 1].payload ? 0 : -1;
}

int kf_chat_answer_set_handoff(kf_chat_answer_t *a, const char *skill) {
    free(a->handoff);
    a->handoff = strdup(skill);
    return a->handoff ? 0 : -1;
}

void kf_chat_answer_free(kf_chat_answer_t *a) {
    for (size_t i = 0; i < a->n; i++) {
        for (size_t k = 0; k < a->msgs[i].n_qr; k++) {
            free(a->msgs[i].qr[k].title);
            free(a->msgs[i].qr[k].payload);
        }
        free(a->msgs[i].qr);
        free(a->msgs[i].from);
        free(a->msgs[i].text);
    }
    free(a->msgs);
    free(a->handoff);
    memset(a, 0, sizeof *a);
}

/* ---- the terminal loop ------------------------------------------------- */

/* Ctrl-C or SIGTERM ends the conversation like end of input, so the backend
 * still closes it (and --bot removes its temporary folder). */
static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
    (void)sig;
    stopping = 1;
}

static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct {
    char **payloads; /* quick replies of the last answer, numbered from 1 */
    size_t n;
} choices_t;

static void choices_clear(choices_t *c) {
    for (size_t i = 0; i < c->n; i++) free(c->payloads[i]);
    free(c->payloads);
    c->payloads = NULL;
    c->n = 0;
}

/* Prints the answer and remembers its quick replies for the next line. */
static void show(const kf_chat_answer_t *a, choices_t *ch) {
    choices_clear(ch);
    for (size_t i = 0; i < a->n; i++) {
        const kf_chat_msg_t *m = &a->msgs[i];
        printf("%s> %s\n", m->from, m->text);
        for (size_t k = 0; k < m->n_qr; k++) {
            char **p = realloc(ch->payloads, (ch->n + 1) * sizeof *p);
            if (!p) break;
            ch->payloads = p;
            if (!(p[ch->n] = strdup(m->qr[k].payload))) break;
            ch->n++;
            printf("  [%zu] %s\n", ch->n, m->qr[k].title);
        }
    }
    if (a->handoff) printf("(handed over to a person: %s)\n", a->handoff);
    fflush(stdout);
}

/* A line that is only a number picks a quick reply of the last answer. */
static const char *resolve(const char *line, const choices_t *ch) {
    char *end;
    long k = strtol(line, &end, 10);
    if (end != line && !*end && k >= 1 && (size_t)k <= ch->n) return ch->payloads[k - 1];
    return line;
}

/* ch: the greeting's quick replies at first. */
static int converse(kf_chat_backend_t *be, int tty, choices_t *chp) {
    choices_t ch = *chp;
    char *line = NULL, err[512];
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (tty) {
            fputs("you> ", stdout);
            fflush(stdout);
        }
        ssize_t n = stopping ? -1 : getline(&line, &cap, stdin);
        if (n < 0) break; /* end of input, or interrupted by on_stop */
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        if (!strcmp(line, "/quit")) break;
        kf_chat_answer_t a = {0};
        if (be->send(be, resolve(line, &ch), &a, err, sizeof err) < 0) {
            fprintf(stderr, "kefu: chat: %s\n", err);
            kf_chat_answer_free(&a);
            rc = 1;
            break;
        }
        show(&a, &ch);
        kf_chat_answer_free(&a);
    }
    if (tty && rc == 0) putchar('\n');
    free(line);
    choices_clear(&ch);
    return rc;
}

static const char USAGE[] = "(--url http://HOST:PORT | --bot DIR [--model MODEL]) [--lang en|zh] [--name NAME]";

int kf_cli_chat(int argc, char **argv) {
    const char *url = NULL, *bot = NULL, *model = NULL, *lang = "en", *name = NULL, *hook = NULL;
    static const char *const langs[] = {"en", "zh", NULL};
    const kf_opt_t opts[] = {
        {"url", NULL, KF_OPT_STR, &url, "a running kefu server (its REST API)", 0, 0, NULL},
        {"bot", NULL, KF_OPT_STR, &bot, "run this bot folder in-process instead", 0, 0, NULL},
        {"model", "KEFU_MODEL", KF_OPT_STR, &model, "intent model for --bot (default: trained from the bot at start)", 0, 0, NULL},
        {"lang", NULL, KF_OPT_CHOICE, &lang, "the customer's language: the greeting's and the fallback's (en)", 0, 0, langs},
        {"name", NULL, KF_OPT_STR, &name, "the customer's name (filled into {name} in replies)", 0, 0, NULL},
        {"webhook-override", "KEFU_WEBHOOK_OVERRIDE", KF_OPT_STR, &hook, "with --bot: send every flow webhook here", 0, 0, NULL},
    };
    int first = kf_opts_parse("chat", USAGE, opts, sizeof opts / sizeof *opts, argc, argv);
    if (first == -2) return 0;
    if (first < 0) return 2;
    if (first < argc) {
        fprintf(stderr, "kefu: chat: unexpected argument '%s' (see kefu chat --help)\n", argv[first]);
        return 2;
    }
    if (!url == !bot) {
        fprintf(stderr, "kefu: chat: give either --url URL or --bot DIR\n");
        return 2;
    }
    char err[1024] = "";
    kf_chat_local_opts_t lo = {bot, model, hook};
    kf_chat_backend_t *be = url ? kf_chat_rest_new(url, err, sizeof err) : kf_chat_local_new(&lo, err, sizeof err);
    if (!be) {
        fprintf(stderr, "kefu: chat: %s\n", err);
        return 1;
    }
    catch_stop_signals();
    choices_t ch = {NULL, 0};
    kf_chat_answer_t a = {0};
    int rc = be->start(be, lang, name, &a, err, sizeof err);
    if (rc < 0) fprintf(stderr, "kefu: chat: %s\n", err);
    else show(&a, &ch);
    kf_chat_answer_free(&a);
    if (rc == 0) rc = converse(be, isatty(0), &ch);
    else choices_clear(&ch);
    be->close(be);
    return rc < 0 ? 1 : rc;
}
