/* test_engine_conv.c — the conversation engine (engine/conv.h) with real
 * parts: the demo bot (bots/demo) and its FAQ, a model trained from it (the
 * one `make` put beside the test binary, else trained here), SQLite history
 * in a temp dir, the in-process session store, kf_loop event loops, and a
 * local HTTP receiver for the block-card webhook.
 *
 * Covered: ordering under concurrent sends from two threads, resend of a
 * client_msg_id (also back to back, past the session filter's capacity, and
 * with session puts that fail), FAQ answers in English and Chinese, the block-card flow end
 * to end in both languages (webhook success and failure), two misses → the
 * offer of a human, quick-reply payloads, expiry → EXPIRED in history, card
 * numbers masked in stored text, unknown / ended conversations, close with
 * CSAT.  Run from the repository root. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_fixture.h"
#include "cli/cli.h"
#include "engine/conv.h"
#include "engine/conv_int.h" /* kf_conv_entities_json */
#include "engine/intent.h"
#include "kb/kb.h"
#include "loop/loop.h"
#include "queue/webhook.h"

static kf_session_store_t *sessions;
static kf_conv_t *conv, *expiry_target;

/* ---- a webhook receiver: answers every POST with a fixed JSON body ---- */

static struct {
    int fd, port, status;
    pthread_t tid;
    char last_body[512];
    int calls;
} rx;

static void *rx_main(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(rx.fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        size_t n = 0;
        ssize_t k;
        char *body = NULL;
        while (n < sizeof buf - 1 && (k = read(c, buf + n, sizeof buf - 1 - n)) > 0) {
            n += (size_t)k;
            buf[n] = 0;
            char *hdr_end = strstr(buf, "\r\n\r\n");
            char *cl = strcasestr(buf, "content-length:");
            if (hdr_end && cl && (size_t)(buf + n - (hdr_end + 4)) >= (size_t)atoi(cl + 15)) {
                body = hdr_end + 4;
                break;
            }
        }
        if (body) snprintf(rx.last_body, sizeof rx.last_body, "%s", body);
        rx.calls++;
        const char *answer = "{\"reference\":\"BLK-42\",\"status\":\"blocked\"}";
        char resp[512];
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           rx.status, strlen(answer), answer);
        if (write(c, resp, (size_t)len) < 0) {
        }
        close(c);
    }
}

static void rx_start(int status) {
    rx.status = status;
    rx.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(rx.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(rx.fd, (struct sockaddr *)&a, &al);
    rx.port = ntohs(a.sin_port);
    cr_assert_eq(listen(rx.fd, 8), 0);
    pthread_create(&rx.tid, NULL, rx_main, NULL);
}

/* ---- fixtures ---------------------------------------------------------- */


static void open_engine(int64_t ttl_ms, const char *webhook_url) {
    kf_session_mem_config_t sc = {.capacity = 1000, .ttl_ms = ttl_ms, .on_expire = kf_conv_session_expired,
                                  .expire_ud = &expiry_target};
    sessions = kf_session_mem_new(&sc, err, sizeof err);
    cr_assert(sessions, "%s", err);
    kf_conv_config_t cc = {.bot = bot, .kb = kb, .history = hist, .sessions = sessions,
                           .webhook_override = webhook_url, .sweep_interval_ms = 50};
    conv = kf_conv_new(&cc, err, sizeof err);
    cr_assert(conv, "%s", err);
    expiry_target = conv;
}

static void setup(void) {
    engine_base_open("/tmp/kefu-conv-XXXXXX");
    kf_webhook_config_t wc = {.timeout_ms = 2000, .max_attempts = 1, .backoff_ms = 100};
    cr_assert_eq(kf_webhook_start(&wc), 0);
    rx_start(200);
}

static void teardown(void) {
    kf_conv_free(conv);
    kf_session_destroy(sessions);
    engine_base_close();
}

TestSuite(conv, .init = setup, .fini = teardown, .timeout = 60);

/* ---- driving the engine ------------------------------------------------ */

typedef struct {
    int done, status, duplicate;
    int64_t ack;
    char lang[8], intent[64], handoff[32], entities[512];
    size_t n;
    int64_t seqs[KF_CONV_MAX_REPLIES];
    char texts[KF_CONV_MAX_REPLIES][600];
    char qr0[KF_CONV_MAX_REPLIES][64]; /* first quick reply's payload */
    char id[33];
} res_t;

static void on_done(const kf_conv_result_t *r, void *ud) {
    res_t *o = ud;
    o->status = r->status;
    o->duplicate = r->duplicate;
    o->ack = r->ack_seq;
    snprintf(o->id, sizeof o->id, "%s", r->conv_id ? r->conv_id : "");
    snprintf(o->lang, sizeof o->lang, "%s", r->lang ? r->lang : "");
    snprintf(o->intent, sizeof o->intent, "%s", r->intent ? r->intent : "");
    snprintf(o->handoff, sizeof o->handoff, "%s", r->handoff_skill ? r->handoff_skill : "");
    snprintf(o->entities, sizeof o->entities, "%s", r->entities_json ? r->entities_json : "");
    o->n = r->n_replies;
    for (size_t i = 0; i < r->n_replies; i++) {
        o->seqs[i] = r->replies[i].seq;
        snprintf(o->texts[i], sizeof o->texts[i], "%s", r->replies[i].text);
        snprintf(o->qr0[i], sizeof o->qr0[i], "%s",
                 r->replies[i].n_quick_replies ? r->replies[i].quick_replies[0].payload : "");
    }
    o->done = 1;
}

static void run_until(kf_loop_t *l, const int *flag) {
    for (int i = 0; i < 1000 && !*flag; i++) kf_loop_run_once(l, 10);
    cr_assert(*flag, "no completion within 10 s");
}

static void start_conv(const char *lang, char id[33]) {
    res_t r = {0};
    kf_history_profile_t p = {.language = lang};
    cr_assert_eq(kf_conv_create(conv, lang ? &p : NULL, loop, on_done, &r, id), KF_CONV_OK);
    run_until(loop, &r.done);
    cr_assert_eq(r.status, KF_CONV_OK);
    cr_assert_str_eq(r.id, id);
}

static res_t say(const char *id, const char *text, const char *cmid) {
    res_t r = {0};
    int rc = kf_conv_message(conv, id, text, strlen(text), cmid, loop, on_done, &r);
    cr_assert_eq(rc, KF_CONV_OK, "kf_conv_message: %s", kf_conv_strerror(rc));
    run_until(loop, &r.done);
    return r;
}

static void expect_reply(const res_t *r, const char *needle) {
    cr_assert_eq(r->status, KF_CONV_OK, "status %d", r->status);
    cr_assert_geq(r->n, 1, "no reply");
    int found = 0;
    for (size_t i = 0; i < r->n; i++) found |= strstr(r->texts[i], needle) != NULL;
    cr_expect(found, "no reply contains \"%s\" (first: \"%s\")", needle, r->texts[0]);
}

static kf_history_msgs_t fetch_all(const char *id) {
    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(hist, id, 0, 1000, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    return ms;
}

/* ---- tests ------------------------------------------------------------- */

Test(conv, greeting_with_a_language_is_seq_1) {
    open_engine(0, NULL);
    char id[33];
    res_t r = {0};
    kf_history_profile_t p = {.language = "zh", .name = "李雷"};
    cr_assert_eq(kf_conv_create(conv, &p, loop, on_done, &r, id), KF_CONV_OK);
    run_until(loop, &r.done);
    cr_assert_eq(r.n, 1);
    cr_expect_eq(r.seqs[0], 1);
    cr_expect(strstr(r.texts[0], "您好"), "%s", r.texts[0]);
    cr_expect_str_eq(r.lang, "zh");
    /* without a language: no greeting, nothing stored */
    char id2[33];
    start_conv(NULL, id2);
    kf_history_msgs_t ms = fetch_all(id2);
    cr_expect_eq(ms.n, 0);
    kf_history_msgs_free(&ms);
}

Test(conv, block_card_in_english_with_the_webhook) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/block", rx.port);
    open_engine(0, url);
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "I lost my card", NULL);
    cr_expect_str_eq(r.intent, "lost_or_stolen_card");
    cr_expect_eq(r.ack, 1);
    cr_expect_eq(r.seqs[0], 2);
    expect_reply(&r, "last 4 digits");
    r = say(id, "1234", NULL);
    expect_reply(&r, "Block the card ending 1234?");
    cr_expect_str_eq(r.qr0[0], "/affirm");
    cr_expect_str_eq(r.lang, "en", "a bare number keeps the session's language");
    r = say(id, "yes", NULL);
    expect_reply(&r, "Your reference number is BLK-42");
    cr_expect_str_eq(rx.last_body, "{\"card_last4\":\"1234\"}");
    cr_expect_str_empty(r.handoff);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.flows_started, 1);
    cr_expect_eq(s.flows_completed, 1);
    /* everything is in history, each reply right after its message */
    kf_history_msgs_t ms = fetch_all(id);
    cr_assert_eq(ms.n, 6);
    for (size_t i = 0; i < ms.n; i++) {
        cr_expect_eq(ms.v[i].seq, (int64_t)i + 1);
        cr_expect_eq(ms.v[i].sender, i % 2 ? KF_HISTORY_BOT : KF_HISTORY_CUSTOMER);
    }
    cr_expect_str_eq(ms.v[0].intent, "lost_or_stolen_card");
    kf_history_msgs_free(&ms);
}

Test(conv, block_card_in_chinese_when_the_backend_fails) {
    open_engine(0, "http://127.0.0.1:9/block"); /* nothing listens on the discard port */
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "我的卡丢了", NULL);
    cr_expect_str_eq(r.lang, "zh");
    expect_reply(&r, "卡号后四位");
    r = say(id, "尾号5678", NULL);
    expect_reply(&r, "确认冻结尾号 5678 的银行卡吗");
    cr_expect_str_eq(r.qr0[0], "/affirm");
    r = say(id, "/affirm", NULL); /* the quick reply button */
    cr_expect_str_eq(r.intent, "affirm");
    cr_expect_str_eq(r.lang, "zh", "a payload keeps the session's language");
    expect_reply(&r, "暂时无法为您冻结");
    cr_expect_str_eq(r.handoff, "cards");
}

Test(conv, a_digression_mid_flow_is_answered_then_the_flow_resumes) {
    open_engine(0, "http://127.0.0.1:9/block");
    char id[33];
    start_conv(NULL, id);
    say(id, "I lost my card", NULL);
    res_t r = say(id, "1234", NULL);
    expect_reply(&r, "Block the card ending 1234?");
    r = say(id, "what are your opening hours", NULL);
    cr_expect_str_eq(r.intent, "opening_hours");
    cr_assert_eq(r.n, 2, "the answer, then the offer to resume");
    cr_expect(strstr(r.texts[0], "Monday"), "%s", r.texts[0]);
    cr_expect(strstr(r.texts[1], "Shall we get back to blocking your card?"), "%s", r.texts[1]);
    cr_expect_str_eq(r.qr0[1], "/affirm");
    r = say(id, "/affirm", NULL);
    expect_reply(&r, "Block the card ending 1234?");
}

Test(conv, faq_answers_in_english_and_chinese) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "which phones does the banking app support", NULL);
    expect_reply(&r, "App Store or Google Play");
    r = say(id, "手机银行老是闪退", NULL);
    cr_expect_str_eq(r.lang, "zh");
    expect_reply(&r, "如遇闪退");
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.faq_answers, 2);
}

Test(conv, two_misses_in_a_row_offer_a_human) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "asdf qwer zxcv", NULL);
    cr_assert_eq(r.n, 1);
    cr_expect_not(strstr(r.texts[0], "rephrase"), "one miss is only the fallback");
    r = say(id, "blorp flarp zzzt", NULL);
    expect_reply(&r, "rephrase");
    cr_expect_str_eq(r.qr0[0], "/human_agent");
    r = say(id, "/human_agent", NULL);
    cr_expect_str_eq(r.handoff, "general");
    cr_expect_str_eq(r.intent, "human_agent");
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.fallbacks, 2);
    cr_expect_eq(s.handoffs, 1);
}

Test(conv, a_resent_client_msg_id_is_not_processed_twice) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    res_t a = say(id, "what are your opening hours", "c-1");
    cr_assert_eq(a.status, KF_CONV_OK);
    cr_expect_not(a.duplicate);
    res_t b = {0};
    cr_assert_eq(kf_conv_message(conv, id, "what are your opening hours", 27, "c-1", loop, on_done, &b), KF_CONV_OK);
    cr_expect_not(b.done, "a resend is answered from the loop too");
    run_until(loop, &b.done);
    cr_assert_eq(b.status, KF_CONV_OK);
    cr_expect(b.duplicate);
    cr_expect_eq(b.ack, a.ack);
    cr_assert_eq(b.n, a.n);
    cr_expect_eq(b.seqs[0], a.seqs[0]);
    cr_expect_str_eq(b.texts[0], a.texts[0]);
    cr_expect_str_eq(b.intent, "opening_hours");
    kf_history_msgs_t ms = fetch_all(id);
    cr_expect_eq(ms.n, 1 + a.n);
    kf_history_msgs_free(&ms);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, 1);
    cr_expect_eq(s.duplicates, 1);
}

/* The session's filter of client_msg_ids (conv_pipeline.c) lets a new id
 * skip the history read; these check that no resend gets through it. */

static int seen_bits_set(const char *id) {
    kf_session_t s = {0};
    cr_assert_eq(kf_session_get(sessions, id, KF_SESSION_PEEK, &s), KF_SESSION_OK);
    int n = 0;
    for (int i = 0; i < KF_SESSION_SEEN_WORDS; i++) n += __builtin_popcountll(s.seen_ids[i]);
    kf_session_clear(&s);
    return n;
}

static void expect_resend(const char *id, const char *text, const char *cmid, int64_t ack) {
    res_t r = say(id, text, cmid);
    cr_assert_eq(r.status, KF_CONV_OK, "%s: status %d", cmid, r.status);
    cr_expect(r.duplicate, "%s was processed again", cmid);
    cr_expect_eq(r.ack, ack, "%s: ack %lld, first %lld", cmid, (long long)r.ack, (long long)ack);
}

Test(conv, resends_early_and_late_past_the_filters_capacity) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    enum { N = 300 }; /* ~4 bits each: the 512-bit filter ends up mostly set */
    static int64_t acks[N];
    char cmid[32];
    for (int i = 0; i < N; i++) {
        snprintf(cmid, sizeof cmid, "m-%d", i);
        res_t r = say(id, i % 2 ? "what are your opening hours" : "asdf qwer", cmid);
        cr_assert_eq(r.status, KF_CONV_OK);
        cr_assert_not(r.duplicate, "%s is new", cmid);
        acks[i] = r.ack;
        if (i == 2) { /* early: the filter is nearly empty */
            expect_resend(id, "asdf qwer", "m-0", acks[0]);
            expect_resend(id, "what are your opening hours", "m-1", acks[1]);
            expect_resend(id, "asdf qwer", "m-2", acks[2]);
        }
    }
    cr_expect_gt(seen_bits_set(id), 400, "the filter should be past its comfortable capacity");
    kf_history_msgs_t before = fetch_all(id);
    for (int i = 0; i < N; i += 7) {
        snprintf(cmid, sizeof cmid, "m-%d", i);
        expect_resend(id, i % 2 ? "what are your opening hours" : "asdf qwer", cmid, acks[i]);
    }
    expect_resend(id, "what are your opening hours", "m-299", acks[N - 1]);
    kf_history_msgs_t after = fetch_all(id);
    cr_expect_eq(after.n, before.n, "a resend added rows");
    kf_history_msgs_free(&before);
    kf_history_msgs_free(&after);
    /* New ids are still processed, whether the filter says "maybe" or not. */
    for (int i = 0; i < 20; i++) {
        snprintf(cmid, sizeof cmid, "late-%d", i);
        res_t r = say(id, "what are your opening hours", cmid);
        cr_assert_eq(r.status, KF_CONV_OK);
        cr_expect_not(r.duplicate, "%s is new", cmid);
    }
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, N + 20, "messages processed: %llu", (unsigned long long)s.messages);
    cr_expect_eq(s.duplicates, 3 + (N + 6) / 7 + 1);
    kf_history_msgs_t ms = fetch_all(id);
    int customer = 0;
    for (size_t i = 0; i < ms.n; i++) customer += ms.v[i].sender == KF_HISTORY_CUSTOMER;
    cr_expect_eq(customer, N + 20);
    kf_history_msgs_free(&ms);
}

Test(conv, a_resend_right_behind_its_message) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    /* Queued back to back: each copy waits in the mailbox for the one before. */
    const char *ids[] = {"b-1", "b-1", "b-2", "b-2", "b-2", "b-1"};
    res_t r[6] = {{0}};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(kf_conv_message(conv, id, "what are your opening hours", 27, ids[i], loop, on_done, &r[i]), KF_CONV_OK);
    run_until(loop, &r[5].done);
    for (int i = 0; i < 6; i++) {
        cr_assert(r[i].done);
        cr_assert_eq(r[i].status, KF_CONV_OK);
    }
    cr_expect_not(r[0].duplicate);
    cr_expect_not(r[2].duplicate);
    cr_expect(r[1].duplicate && r[5].duplicate && r[3].duplicate && r[4].duplicate);
    cr_expect_eq(r[1].ack, r[0].ack);
    cr_expect_eq(r[5].ack, r[0].ack);
    cr_expect_eq(r[3].ack, r[2].ack);
    cr_expect_eq(r[4].ack, r[2].ack);
    cr_expect_neq(r[0].ack, r[2].ack);
    cr_expect_eq(r[1].n, r[0].n);
    /* and one at a time */
    res_t a = say(id, "asdf qwer", "b-3");
    cr_assert_not(a.duplicate);
    expect_resend(id, "asdf qwer", "b-3", a.ack);
    kf_history_msgs_t ms = fetch_all(id);
    cr_expect_eq(ms.n, 3 + r[0].n + r[2].n + a.n);
    kf_history_msgs_free(&ms);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, 3);
    cr_expect_eq(s.duplicates, 5);
}

/* A session store whose puts (and deletes) fail on demand, around the
 * in-process one: the session written after a commit may not carry the
 * id's filter bits. */
static struct {
    kf_session_store_t super;
    kf_session_store_t *inner;
    int fail_puts, put_code, fail_dels, puts, dels;
} flaky;

static int flaky_get(kf_session_store_t *st, const char *id, unsigned flags, kf_session_t *out) {
    (void)st;
    return kf_session_get(flaky.inner, id, flags, out);
}
static int flaky_put(kf_session_store_t *st, const kf_session_t *s, uint64_t expect, uint64_t *ver) {
    (void)st;
    flaky.puts++;
    if (flaky.fail_puts > 0) {
        flaky.fail_puts--;
        if (ver) *ver = 0;
        return flaky.put_code;
    }
    return kf_session_put(flaky.inner, s, expect, ver);
}
static int flaky_touch(kf_session_store_t *st, const char *id) {
    (void)st;
    return kf_session_touch(flaky.inner, id);
}
static int flaky_del(kf_session_store_t *st, const char *id) {
    (void)st;
    flaky.dels++;
    if (flaky.fail_dels > 0) {
        flaky.fail_dels--;
        return KF_SESSION_ERR;
    }
    return kf_session_del(flaky.inner, id);
}
static size_t flaky_count(kf_session_store_t *st) {
    (void)st;
    return kf_session_count(flaky.inner);
}
static size_t flaky_sweep(kf_session_store_t *st, size_t max_work) {
    (void)st;
    return kf_session_sweep(flaky.inner, max_work);
}
static void flaky_stats(kf_session_store_t *st, kf_session_stats_t *out) {
    (void)st;
    kf_session_stats(flaky.inner, out);
}
static void flaky_destroy(kf_session_store_t *st) {
    (void)st;
    kf_session_destroy(flaky.inner);
}
static const kf_session_ops_t flaky_ops = {.get = flaky_get, .put = flaky_put, .touch = flaky_touch, .del = flaky_del,
                                           .count = flaky_count, .sweep = flaky_sweep, .stats = flaky_stats,
                                           .destroy = flaky_destroy};

static void open_flaky_engine(void) {
    open_engine(0, NULL);
    kf_conv_free(conv);
    memset(&flaky, 0, sizeof flaky);
    flaky.super.ops = &flaky_ops;
    flaky.inner = sessions;
    sessions = &flaky.super;
    kf_conv_config_t cc = {.bot = bot, .kb = kb, .history = hist, .sessions = sessions, .sweep_interval_ms = 50};
    conv = kf_conv_new(&cc, err, sizeof err);
    cr_assert(conv, "%s", err);
    expiry_target = conv;
}

static void expect_processed_once(const char *id, int64_t customer_msgs) {
    kf_history_msgs_t ms = fetch_all(id);
    int customer = 0;
    for (size_t i = 0; i < ms.n; i++) customer += ms.v[i].sender == KF_HISTORY_CUSTOMER;
    cr_expect_eq(customer, customer_msgs);
    kf_history_msgs_free(&ms);
}

Test(conv, a_session_put_that_conflicts_still_records_the_id) {
    open_flaky_engine();
    char id[33];
    start_conv(NULL, id);
    flaky.fail_puts = 1;
    flaky.put_code = KF_SESSION_CONFLICT; /* the put after the commit; the repair's put succeeds */
    res_t a = say(id, "what are your opening hours", "f-1");
    cr_assert_eq(a.status, KF_CONV_OK);
    cr_expect_eq(flaky.fail_puts, 0);
    expect_resend(id, "what are your opening hours", "f-1", a.ack);
    res_t b = say(id, "asdf qwer", "f-2");
    cr_expect_not(b.duplicate);
    expect_processed_once(id, 2);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, 2);
    cr_expect_eq(flaky.dels, 0, "a successful repair keeps the session");
}

Test(conv, a_session_put_refused_twice_ends_the_conversation) {
    open_flaky_engine();
    char id[33];
    start_conv(NULL, id);
    flaky.fail_puts = 2;
    flaky.put_code = KF_SESSION_INVALID; /* refused at once: the save and the repair */
    res_t a = say(id, "what are your opening hours", "g-1");
    cr_assert_eq(a.status, KF_CONV_OK, "the message is committed all the same");
    cr_expect_eq(flaky.dels, 1);
    expect_resend(id, "what are your opening hours", "g-1", a.ack);
    res_t b = say(id, "asdf qwer", "g-2");
    cr_expect_eq(b.status, KF_CONV_CLOSED);
    expect_processed_once(id, 1);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, 1);
}

Test(conv, when_the_session_cannot_be_dropped_no_filter_is_trusted) {
    open_flaky_engine();
    char id[33], other[33];
    start_conv(NULL, id);
    start_conv(NULL, other);
    res_t o = say(other, "what are your opening hours", "h-0");
    cr_assert_eq(o.status, KF_CONV_OK);
    flaky.fail_puts = 2;
    flaky.put_code = KF_SESSION_ERR; /* a store failure: the save and the repair */
    flaky.fail_dels = 1;
    res_t a = say(id, "what are your opening hours", "h-1");
    cr_assert_eq(a.status, KF_CONV_OK);
    cr_expect_eq(flaky.dels, 1);
    /* The session is still there, without h-1's bits. */
    expect_resend(id, "what are your opening hours", "h-1", a.ack);
    expect_resend(other, "what are your opening hours", "h-0", o.ack);
    res_t b = say(id, "asdf qwer", "h-2");
    cr_expect_eq(b.status, KF_CONV_OK);
    cr_expect_not(b.duplicate);
    expect_processed_once(id, 2);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.messages, 3);
}

Test(conv, card_numbers_are_masked_in_history) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "my card number is 4111 1111 1111 1111, block it", NULL);
    cr_assert_eq(r.status, KF_CONV_OK);
    cr_expect_not(strstr(r.entities, "4111"), "%s", r.entities);
    cr_expect(strstr(r.entities, "card_number"), "%s", r.entities);
    kf_history_msgs_t ms = fetch_all(id);
    cr_assert_geq(ms.n, 1);
    cr_expect(strstr(ms.v[0].text, "**** **** **** 1111"), "%s", ms.v[0].text);
    cr_expect_not(strstr(ms.v[0].text, "4111 1111"), "%s", ms.v[0].text);
    cr_expect_not(strstr(ms.v[0].entities_json, "4111111111111111"), "%s", ms.v[0].entities_json);
    kf_history_msgs_free(&ms);
}

Test(conv, unknown_closed_and_invalid) {
    open_engine(0, NULL);
    res_t r = {0};
    cr_assert_eq(kf_conv_message(conv, "0123456789abcdef0123456789abcdef", "hello", 5, NULL, loop, on_done, &r), KF_CONV_OK);
    cr_expect_not(r.done, "the completion runs after the call returns, on the loop");
    run_until(loop, &r.done);
    cr_expect_eq(r.status, KF_CONV_NOTFOUND);
    cr_expect_eq(kf_conv_message(conv, "not-an-id", "hi", 2, NULL, loop, on_done, &r), KF_CONV_INVALID);
    char id[33];
    start_conv(NULL, id);
    cr_expect_eq(kf_conv_message(conv, id, "", 0, NULL, loop, on_done, &r), KF_CONV_INVALID);
    cr_expect_eq(kf_conv_message(conv, id, "hi", 2, "bad id!", loop, on_done, &r), KF_CONV_INVALID);
    cr_expect_eq(kf_conv_message(conv, id, "\xff", 1, NULL, loop, on_done, &r), KF_CONV_INVALID);
    cr_expect_eq(kf_conv_close(conv, id, 6, NULL, loop, on_done, &r), KF_CONV_INVALID);
    res_t c = {0};
    cr_assert_eq(kf_conv_close(conv, id, 4, "quick and kind", loop, on_done, &c), KF_CONV_OK);
    run_until(loop, &c.done);
    cr_expect_eq(c.status, KF_CONV_OK);
    r = say(id, "hello again", NULL);
    cr_expect_eq(r.status, KF_CONV_CLOSED);
    kf_history_conv_t hc;
    cr_assert_eq(kf_history_get(hist, id, &hc, err, sizeof err), KF_HISTORY_OK);
    cr_expect_eq(hc.status, KF_HISTORY_CLOSED);
    cr_expect_eq(hc.csat, 4);
    cr_expect_str_eq(hc.csat_comment, "quick and kind");
    kf_history_conv_free(&hc);
}

Test(conv, an_idle_conversation_expires) {
    open_engine(400, NULL);
    char id[33];
    start_conv(NULL, id);
    res_t r = say(id, "hello", NULL);
    cr_assert_eq(r.status, KF_CONV_OK);
    kf_history_conv_t hc = {0};
    int expired = 0;
    for (int i = 0; i < 600 && !expired; i++) { /* the sweeper runs every 50 ms; the close commits soon after */
        usleep(10000);
        cr_assert_eq(kf_history_get(hist, id, &hc, err, sizeof err), KF_HISTORY_OK);
        expired = hc.status == KF_HISTORY_EXPIRED;
        kf_history_conv_free(&hc);
    }
    cr_assert(expired, "not expired within 6 s");
    r = say(id, "are you there?", NULL);
    cr_expect_eq(r.status, KF_CONV_CLOSED);
    kf_conv_stats_t s;
    kf_conv_stats(conv, &s);
    cr_expect_eq(s.conversations_expired, 1);
}

/* ---- ordering under concurrent sends ----------------------------------- */

#define PER_THREAD 15

typedef struct {
    const char *id;
    const char *const *texts;
    res_t res[PER_THREAD];
    int done_all, accepted;
    kf_loop_t **keep;
    atomic_int finished;
} sender_t;

static kf_loop_t *sender_loops[2];

static void *sender_main(void *arg) {
    sender_t *s = arg;
    kf_loop_t *l = kf_loop_new();
    kf_loop_set_current(l);
    for (int i = 0; i < PER_THREAD; i++) {
        const char *t = s->texts[i % 3];
        if (kf_conv_message(conv, s->id, t, strlen(t), NULL, l, on_done, &s->res[i]) == KF_CONV_OK) s->accepted++;
    }
    for (int k = 0; k < 2000; k++) {
        int all = 1;
        for (int i = 0; i < PER_THREAD; i++) all &= s->res[i].done;
        if (all) break;
        kf_loop_run_once(l, 5);
    }
    for (int i = 0; i < PER_THREAD; i++) s->done_all += s->res[i].done;
    /* h2o 2.2 cannot destroy an evloop and keeps socket buffers in thread-local
     * free lists: the thread stays parked (its loop and buffers reachable)
     * until the test process exits, so LeakSanitizer has nothing to report. */
    *s->keep = l;
    atomic_store(&s->finished, 1);
    for (;;) pause();
    return NULL;
}

Test(conv, concurrent_sends_to_one_conversation_keep_their_order) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    static const char *const ta[] = {"what are your opening hours", "hello", "thanks"};
    static const char *const tb[] = {"你好", "谢谢", "营业时间是什么"};
    static sender_t a, b; /* parked threads keep pointing at them */
    a = (sender_t){id, ta, {{0}}, 0, 0, &sender_loops[0], 0};
    b = (sender_t){id, tb, {{0}}, 0, 0, &sender_loops[1], 0};
    pthread_t x, y;
    pthread_create(&x, NULL, sender_main, &a);
    pthread_create(&y, NULL, sender_main, &b);
    for (int i = 0; i < 3000 && !(atomic_load(&a.finished) && atomic_load(&b.finished)); i++) usleep(10000);
    cr_assert(atomic_load(&a.finished) && atomic_load(&b.finished), "senders did not finish within 30 s");
    cr_assert_eq(a.accepted + b.accepted, 2 * PER_THREAD);
    cr_assert_eq(a.done_all + b.done_all, 2 * PER_THREAD);
    sender_t *ss[] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < PER_THREAD; i++) {
            const res_t *r = &ss[k]->res[i];
            cr_assert_eq(r->status, KF_CONV_OK);
            cr_assert_geq(r->n, 1);
            for (size_t j = 0; j < r->n; j++) cr_expect_eq(r->seqs[j], r->ack + 1 + (int64_t)j, "replies follow their message");
            if (i) cr_expect_gt(r->ack, ss[k]->res[i - 1].ack, "one thread's messages keep their call order");
        }
    }
    /* the transcript: 1..n without gaps, customer messages each followed by their replies */
    kf_history_msgs_t ms = fetch_all(id);
    size_t customers = 0;
    for (size_t i = 0; i < ms.n; i++) {
        cr_expect_eq(ms.v[i].seq, (int64_t)i + 1);
        customers += ms.v[i].sender == KF_HISTORY_CUSTOMER;
    }
    cr_expect_eq(customers, 2 * PER_THREAD);
    cr_expect_eq(ms.v[0].sender, KF_HISTORY_CUSTOMER);
    kf_history_msgs_free(&ms);
}

Test(conv, a_full_mailbox_answers_busy) {
    open_engine(0, NULL);
    char id[33];
    start_conv(NULL, id);
    static res_t rs[KF_CONV_MAX_PENDING + 1];
    int busy = 0, ok = 0;
    for (int i = 0; i < KF_CONV_MAX_PENDING + 1; i++) {
        int rc = kf_conv_message(conv, id, "hello", 5, NULL, loop, on_done, &rs[i]);
        ok += rc == KF_CONV_OK;
        busy += rc == KF_CONV_BUSY;
    }
    cr_expect_eq(ok, KF_CONV_MAX_PENDING);
    cr_expect_eq(busy, 1);
    for (int i = 0; i < ok; i++) run_until(loop, &rs[i].done);
}

/* The entities JSON every customer message is stored with: valid JSON with
 * type, value, text and code-point offsets; card numbers masked; none = []. */
Test(conv, entities_json_is_valid_and_masked) {
    char *none = kf_conv_entities_json("hello", NULL, 0);
    cr_assert_str_eq(none, "[]");
    free(none);
    const char *text = "pay \"Li\" 50 USD tomorrow from card 4111 1111 1111 1111";
    kf_ent_t ents[8];
    int n = kf_ent_extract(NULL, text, strlen(text), 1700000000, ents, 8);
    cr_assert_geq(n, 2);
    char *js = kf_conv_entities_json(text, ents, n);
    cr_assert_not_null(js);
    cr_expect_null(strstr(js, "4111 1111"), "a card number is stored masked: %s", js);
    cJSON *arr = cJSON_Parse(js);
    cr_assert(cJSON_IsArray(arr), "not JSON: %s", js);
    cr_expect_eq(cJSON_GetArraySize(arr), n);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        cr_expect_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, ents[i].type);
        cr_expect(cJSON_IsString(cJSON_GetObjectItem(e, "value")));
        cr_expect(cJSON_IsString(cJSON_GetObjectItem(e, "text")));
        cr_expect_eq(cJSON_GetObjectItem(e, "start")->valueint, ents[i].start);
        cr_expect_eq(cJSON_GetObjectItem(e, "end")->valueint, ents[i].end);
    }
    cJSON_Delete(arr);
    free(js);
}
