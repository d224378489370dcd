/* handoff_bench.c — handoff → offer latency, for `make bench` (bench/run.sh, section (f)).
 *
 * How long after a customer asks for a person does the offer appear in a connected agent
 * console?  Against a running kefu (README "Customer WebSocket", "Agent console WebSocket"):
 *
 *  1. K agents (--agents, default 4; ids PREFIX1..PREFIXK, created beforehand with
 *     `kefu agent add`, all with the same --password) log in with POST /v1/agents/login (plain
 *     HTTP/1.1 on a blocking socket) and each opens GET /v1/agents/ws with
 *     `Authorization: Bearer <token>`; each must get `welcome`, then `queues`.
 *  2. N customers (--customers, default 200) open GET /v1/ws, at most --batch of them in
 *     setup at once; each sends a hello with a profile (language en) and keeps the
 *     conversation_id of its `welcome`.
 *  3. Paced, one customer every --interval-ms (default 5 ms; --rate R = 1000/R ms), in turn,
 *     sends {"type":"message","text":TEXT,"client_msg_id":"h<i>"}.  t0 is taken just before
 *     the write (CLOCK_MONOTONIC); t_ack when that customer's `ack` arrives; t_offer when an
 *     `offer` for its conversation_id arrives on any agent's console.
 *  4. The agent given the offer answers `accept`; on `assigned` it sends `close`, so the
 *     conversation leaves it (`released`, reason closed) and its capacity comes back: the load
 *     stays flat however many handoffs run (rejecting instead would leave every conversation
 *     waiting after K rejections, and the queues every console is sent would grow).
 *
 * Every handoff must get its ack, its offer and its release; the run ends when all did (or at
 * --timeout seconds).  Protocol errors (an `error` frame, an offer withdrawn, an offer for an
 * unknown or already offered conversation, an unexpected close, a bad upgrade) count as errors.
 *
 * Output: one JSON line on stdout, {"mode":"handoff",...}: handoffs, offer_ms and ack_ms
 * (p50/p90/p99/max, mean, from t0), offer_before_ack (how many offers beat their ack), seconds
 * (wall time from the first handoff to the last release), with --server-pid the server's CPU
 * time over those seconds (/proc/PID/stat, all threads) per handoff, and errors.  Exit 0 when
 * every handoff was acked, offered and released without errors; 1 otherwise (why on stderr;
 * the JSON line is still printed once the handoffs started); 2 on bad usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/stats.h"
#include "../common/util.h"
#include "../common/wsclient.h"

#define MAX_FRAME (4u << 20) /* a transcript is one frame */
#define ID_LEN 32            /* conversation ids: 32 lowercase hex */

enum { AGENT, CUSTOMER };
enum { ST_WELCOME = WSC_OPEN, ST_QUEUES, ST_READY, ST_SENT };

typedef struct {
    wsc_conn_t w; /* first: the socket, its buffers, w.state, w.idx */
    int kind;
    /* agent */
    char agent_id[40], token[160];
    /* customer */
    char conv[ID_LEN + 1];
    uint64_t t0, t_ack, t_offer; /* ns, CLOCK_MONOTONIC; 0 = not yet */
    int offered_to;              /* agent index, -1 */
    int handoff_frame, released;
    int finished;                /* 1 acked + offered + released, -1 failed (error, ended, lost) */
} conn_t;

static struct {
    char host[BENCH_HOST_MAX], hostport[BENCH_HOST_MAX];
    int port;
    int agents, customers, batch, server_pid;
    double interval_ms, offer_timeout, timeout;
    const char *prefix, *password, *text, *language;
} opt = {.agents = 4,
         .customers = 200,
         .batch = 50,
         .interval_ms = 5,
         .offer_timeout = 10,
         .timeout = 60,
         .prefix = "bench-agent-",
         .text = "I want to talk to a human agent",
         .language = "en"};

static conn_t *C; /* agents [0, K), then customers */
static int phase_closing; /* our own closes: not errors */

static struct {
    uint64_t agent_errors, customer_errors, ended_early, withdrawn, unknown_offers, dup_offers, disconnects, protocol, handshake,
        connect;
} err;
static int n_offers, n_acks, n_released, n_finished;

/* A customer's handoff is over: all three seen, or it failed (counted once). */
static void settle(conn_t *c, int failed) {
    if (c->kind != CUSTOMER || c->finished) return;
    if (!failed && !(c->t_ack && c->t_offer && c->released)) return;
    c->finished = failed ? -1 : 1;
    n_finished++;
}


static const char *who(const conn_t *c) {
    static char b[64];
    if (c->kind == AGENT) snprintf(b, sizeof b, "agent %s", c->agent_id);
    else snprintf(b, sizeof b, "customer %d", c->w.idx - opt.agents);
    return b;
}

/* ---- tiny JSON readers: kefu writes compact JSON, "type" first ---- */

/* The string value of the first member "name" (not matching inside escaped strings: those
 * quotes are preceded by a backslash), copied into out; 0 when absent. */
static int json_str(const unsigned char *p, size_t n, const char *name, char *out, size_t outsz) {
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", name);
    const unsigned char *s = p, *end = p + n;
    while ((s = memmem(s, (size_t)(end - s), pat, (size_t)pl))) {
        const unsigned char *v = s + pl;
        s += pl;
        while (v < end && *v == ' ') v++;
        if (v >= end || *v != ':') continue;
        v++;
        while (v < end && *v == ' ') v++;
        if (v >= end || *v != '"') continue;
        v++;
        size_t i = 0;
        while (v < end && *v != '"' && *v != '\\' && i + 1 < outsz) out[i++] = (char)*v++;
        out[i] = 0;
        return v < end && *v == '"';
    }
    return 0;
}

/* ---- conversation id → customer (open addressing) ---- */

static int *slots;
static size_t slot_mask;

static size_t id_hash(const char *id) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < ID_LEN && id[i]; i++) h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return (size_t)h;
}

static int conv_insert(int idx) {
    const char *id = C[idx].conv;
    for (size_t i = id_hash(id) & slot_mask;; i = (i + 1) & slot_mask) {
        if (slots[i] < 0) {
            slots[i] = idx;
            return 0;
        }
        if (!strcmp(C[slots[i]].conv, id)) return -1; /* two welcomes with one id */
    }
}

static conn_t *conv_find(const char *id) {
    for (size_t i = id_hash(id) & slot_mask; slots[i] >= 0; i = (i + 1) & slot_mask)
        if (!strcmp(C[slots[i]].conv, id)) return &C[slots[i]];
    return NULL;
}

/* ---- output ---- */

static int send_json(conn_t *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) bench_die("frame too long");
    return wsc_send_text(&c->w, buf, (size_t)n);
}

/* ---- agents: login over plain HTTP/1.1 ---- */

/* POST /v1/agents/login → the token into c->token, or dies saying why. */
static void login(conn_t *c) {
    int fd = wsc_dial(20); /* argon2id on the server's two hashing threads */
    if (fd < 0) bench_die("login %s: connect: %s", c->agent_id, strerror(errno));
    char id[80], pw[600], body[800], req[1400];
    bench_json_escape(id, sizeof id, c->agent_id);
    bench_json_escape(pw, sizeof pw, opt.password);
    int bl = snprintf(body, sizeof body, "{\"agent_id\":\"%s\",\"password\":\"%s\"}", id, pw);
    int rl = snprintf(req, sizeof req,
                      "POST /v1/agents/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      opt.hostport, bl, body);
    for (int off = 0; off < rl;) {
        ssize_t w = send(fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) bench_die("login %s: send: %s", c->agent_id, strerror(errno));
        off += (int)w;
    }
    char resp[16384];
    size_t got = 0;
    for (;;) { /* the head, then Content-Length bytes (or EOF) */
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) bench_die("login %s: no answer: %s", c->agent_id, strerror(errno));
        if (r == 0 || (got += (size_t)r) == sizeof resp - 1) break;
        resp[got] = 0;
        char *end = strstr(resp, "\r\n\r\n"), *cl = strcasestr(resp, "\r\ncontent-length:");
        if (end && cl && cl < end && got >= (size_t)(end + 4 - resp) + strtoul(cl + 17, NULL, 10)) break;
    }
    close(fd);
    resp[got] = 0;
    char *bodyp = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.1 200", 12) || !bodyp)
        bench_die("login %s: POST /v1/agents/login answered: %.300s (was it created with `kefu agent add` and this "
            "password?)",
            c->agent_id, resp);
    bodyp += 4;
    if (!json_str((unsigned char *)bodyp, strlen(bodyp), "token", c->token, sizeof c->token) || !c->token[0])
        bench_die("login %s: no token in %.300s", c->agent_id, bodyp);
}

/* ---- connections ---- */

static void setup_done(conn_t *c) {
    c->w.state = ST_READY;
    wsc_ready(&c->w);
}

/* ---- the handoff ---- */

static uint64_t offer_timeout_ns;

static int send_handoff(conn_t *c) {
    char text[600];
    bench_json_escape(text, sizeof text, opt.text);
    c->w.state = ST_SENT;
    c->t0 = bench_now_ns();
    return send_json(c, "{\"type\":\"message\",\"text\":\"%s\",\"client_msg_id\":\"h%d\"}", text, c->w.idx - opt.agents);
}

static void frame_error(conn_t *c, uint64_t *counter, const unsigned char *p, size_t n) {
    (*counter)++;
    if (*counter <= 5) bench_say("%s: %.*s", who(c), (int)(n > 400 ? 400 : n), (const char *)p);
}

static int on_agent_text(conn_t *c, const unsigned char *p, size_t n) {
    uint64_t t = bench_now_ns();
    char type[32], id[ID_LEN + 8];
    if (!json_str(p, n, "type", type, sizeof type)) {
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (c->w.state == ST_WELCOME || c->w.state == ST_QUEUES) { /* the first two frames: welcome, queues */
        const char *want = c->w.state == ST_WELCOME ? "welcome" : "queues";
        if (strcmp(type, want)) {
            bench_say("%s: expected %s first, got: %.300s", who(c), want, (const char *)p);
            err.protocol++;
            return 0;
        }
        if (c->w.state == ST_WELCOME) c->w.state = ST_QUEUES;
        else setup_done(c);
        return 0;
    }
    int has_id = json_str(p, n, "conversation_id", id, sizeof id) && strlen(id) == ID_LEN;
    if (!strcmp(type, "offer")) {
        conn_t *cu = has_id ? conv_find(id) : NULL;
        if (!cu) {
            frame_error(c, &err.unknown_offers, p, n);
            return 0;
        }
        if (cu->t_offer) {
            frame_error(c, &err.dup_offers, p, n);
            return 0;
        }
        cu->t_offer = t;
        cu->offered_to = c->w.idx;
        n_offers++;
        return send_json(c, "{\"type\":\"accept\",\"conversation_id\":\"%s\",\"ref\":\"a%d\"}", id, cu->w.idx);
    }
    if (!strcmp(type, "assigned")) {
        if (has_id) return send_json(c, "{\"type\":\"close\",\"conversation_id\":\"%s\",\"ref\":\"c\"}", id);
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (!strcmp(type, "released")) {
        conn_t *cu = has_id ? conv_find(id) : NULL;
        if (cu && !cu->released) {
            cu->released = 1;
            n_released++;
            settle(cu, 0);
        }
        return 0;
    }
    if (!strcmp(type, "offer_withdrawn")) frame_error(c, &err.withdrawn, p, n);
    else if (!strcmp(type, "error")) frame_error(c, &err.agent_errors, p, n);
    /* queues, transcript, message, ok, pong, status: nothing to do */
    return 0;
}

static int on_customer_text(conn_t *c, const unsigned char *p, size_t n) {
    uint64_t t = bench_now_ns();
    char type[32];
    if (!json_str(p, n, "type", type, sizeof type)) {
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (!strcmp(type, "welcome")) {
        if (c->w.state != ST_WELCOME || !json_str(p, n, "conversation_id", c->conv, sizeof c->conv) ||
            strlen(c->conv) != ID_LEN || conv_insert(c->w.idx) < 0) {
            frame_error(c, &err.protocol, p, n);
            return 0;
        }
        setup_done(c);
    } else if (!strcmp(type, "ack")) {
        char cmid[32], want[32];
        snprintf(want, sizeof want, "h%d", c->w.idx - opt.agents);
        if (c->w.state != ST_SENT || c->t_ack || !json_str(p, n, "client_msg_id", cmid, sizeof cmid) || strcmp(cmid, want)) {
            frame_error(c, &err.protocol, p, n);
            return 0;
        }
        c->t_ack = t;
        n_acks++;
        settle(c, 0);
    } else if (!strcmp(type, "handoff")) {
        c->handoff_frame = 1;
    } else if (!strcmp(type, "error")) {
        frame_error(c, &err.customer_errors, p, n);
        settle(c, 1);
    } else if (!strcmp(type, "ended") && !c->t_offer) {
        /* before any agent had it: expired or evicted (kefu's --session-max, --session-ttl) */
        frame_error(c, &err.ended_early, p, n);
        settle(c, 1);
    }
    /* message (greeting, queue position, agent joined, rating prompt), queue, ended after the
     * agent's close: nothing to do */
    return 0;
}

/* ---- wsclient.h's events ---- */

static const char *upgrade(wsc_conn_t *w, char *extra, size_t extra_size) {
    conn_t *c = (conn_t *)w;
    if (c->kind != AGENT) return "/v1/ws";
    snprintf(extra, extra_size, "Authorization: Bearer %s\r\n", c->token);
    return "/v1/agents/ws";
}

static int on_open(wsc_conn_t *w) { /* state: ST_WELCOME */
    conn_t *c = (conn_t *)w;
    if (c->kind != CUSTOMER) return 0;
    int i = w->idx - opt.agents;
    return send_json(c,
                     "{\"type\":\"hello\",\"profile\":{\"user_id\":\"hb-u%d\",\"name\":\"Bench %d\","
                     "\"vip_tier\":0,\"language\":\"%s\"}}",
                     i, i, opt.language);
}

static int on_text(wsc_conn_t *w, const unsigned char *p, size_t n) {
    conn_t *c = (conn_t *)w;
    return c->kind == AGENT ? on_agent_text(c, p, n) : on_customer_text(c, p, n);
}

/* Every close but our own at the end is an error, and a lost customer's handoff failed. */
static void on_close(wsc_conn_t *w, wsc_close_t kind, const char *why) {
    conn_t *c = (conn_t *)w;
    if (kind == WSC_CONNECT_FAILED) err.connect++;
    else if (kind == WSC_PROTOCOL) err.protocol++;
    else if (kind == WSC_UPGRADE_FAILED && ++err.handshake <= 3)
        bench_say("%s: bad upgrade answer: %.*s", who(c), (int)(w->rlen > 400 ? 400 : w->rlen), (char *)w->rbuf);
    if (!phase_closing && !bench_stop_sig) {
        err.disconnects++;
        if (err.disconnects <= 5) bench_say("%s: connection lost (%s)", who(c), why);
    }
    if (!phase_closing) settle(c, 1);
}

static void on_protocol_error(wsc_conn_t *w) {
    (void)w;
    err.protocol++;
}

static const wsc_ops_t ops = {.upgrade = upgrade, .on_open = on_open, .on_text = on_text, .on_close = on_close,
                              .on_protocol_error = on_protocol_error};

/* Opens C[from, to), at most --batch in setup at once, until every one is ready (welcome,
 * and for agents the queues frame) or deadline; the number not ready. */
static int open_range(int from, int to, uint64_t deadline) {
    return to - from - wsc_open_range(from, to, opt.batch, deadline);
}

static void close_all(void) {
    phase_closing = 1;
    wsc_close_all();
}

/* ---- statistics ---- */

/* utime + stime of --server-pid in seconds (all its threads), or -1. */
static double server_cpu_s(void) {
    if (!opt.server_pid) return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* "name":{"n":..,"p50":..,"p90":..,"p99":..,"max":..,"mean":..} in ms of the samples (ns). */
static void print_dist(const char *name, bench_samples_t *v) {
    bench_samples_sort(v);
    printf("\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f}", name, v->n,
           bench_samples_pct(v, 50) / 1e6, bench_samples_pct(v, 90) / 1e6, bench_samples_pct(v, 99) / 1e6,
           bench_samples_max(v) / 1e6, bench_samples_mean(v) / 1e6);
}

static uint64_t errors_total(void) {
    return err.agent_errors + err.customer_errors + err.ended_early + err.withdrawn + err.unknown_offers + err.dup_offers +
           err.disconnects + err.protocol + err.handshake + err.connect;
}

/* ---- the measured run ---- */

typedef struct {
    uint64_t start, t_login, t_agents, t_customers; /* setup */
    uint64_t t_first, t_last_sent, t_end;
    double cpu0, cpu1; /* --server-pid's CPU seconds at t_first and t_end */
    int sent, late;
} run_t;

/* Sends the handoffs, one every interval_ns, and serves the frames until every one finished,
 * one went unanswered past --offer-timeout, or deadline; NULL when all finished. */
static const char *run_handoffs(run_t *r, uint64_t interval_ns, uint64_t deadline) {
    int scan = 0; /* customers before it are finished: the timeout scan starts here */
    r->cpu0 = server_cpu_s();
    r->t_first = r->t_last_sent = bench_now_ns();
    uint64_t next = r->t_first;
    const char *why = NULL;
    while (!bench_stop_sig && !why) {
        uint64_t t = bench_now_ns();
        while (r->sent < opt.customers && t >= next) {
            conn_t *c = &C[opt.agents + r->sent++];
            if (c->w.fd >= 0) send_handoff(c);
            next += interval_ns;
            t = r->t_last_sent = bench_now_ns();
        }
        if (r->sent == opt.customers && n_finished == opt.customers) break;
        if (t > deadline) why = "the --timeout passed";
        while (scan < r->sent && C[opt.agents + scan].finished) scan++;
        for (int i = scan; i < r->sent && !why; i++) { /* a bounded wait per handoff */
            conn_t *c = &C[opt.agents + i];
            if (c->finished || !c->t0 || t - c->t0 <= offer_timeout_ns) continue;
            r->late++;
            bench_say("customer %d (conversation %s): no %s %.1f s after the handoff (customer's handoff frame %s, ack %s, "
                "offer %s, released %s)",
                i, c->conv, !c->t_offer ? "offer" : !c->t_ack ? "ack" : "release", opt.offer_timeout,
                c->handoff_frame ? "seen" : "not seen", c->t_ack ? "seen" : "not seen", c->t_offer ? "seen" : "not seen",
                c->released ? "seen" : "not seen");
            why = "a handoff went unanswered past --offer-timeout";
        }
        if (why) break;
        int wait_ms = 10;
        if (r->sent < opt.customers) {
            uint64_t t2 = bench_now_ns();
            wait_ms = next > t2 ? (int)((next - t2 + 999999) / 1000000) : 0;
        }
        wsc_poll(wait_ms);
    }
    r->t_end = bench_now_ns();
    r->cpu1 = server_cpu_s();
    return why;
}

/* The JSON line. */
static void report(const run_t *r) {
    bench_samples_t offer = {0}, ack = {0};
    int *per_agent = calloc((size_t)opt.agents, sizeof *per_agent);
    if (!per_agent) bench_die("out of memory");
    size_t offer_first = 0;
    for (int i = 0; i < opt.customers; i++) {
        const conn_t *c = &C[opt.agents + i];
        if (c->t0 && c->t_offer) bench_samples_add(&offer, c->t_offer - c->t0);
        if (c->t0 && c->t_ack) bench_samples_add(&ack, c->t_ack - c->t0);
        if (c->offered_to >= 0) per_agent[c->offered_to]++;
        offer_first += c->t_offer && c->t_ack && c->t_offer < c->t_ack;
    }
    double secs = (double)(r->t_end - r->t_first) / 1e9, send_secs = (double)(r->t_last_sent - r->t_first) / 1e9;
    printf("{\"mode\":\"handoff\",\"url\":\"http://%s\",\"agents\":%d,\"customers\":%d,\"interval_ms\":%g,"
           "\"handoffs\":%d,\"offers\":%d,\"acks\":%d,\"released\":%d,\"offer_before_ack\":%zu,\"seconds\":%.3f,"
           "\"handoffs_per_s\":%.1f,",
           opt.hostport, opt.agents, opt.customers, opt.interval_ms, r->sent, n_offers, n_acks, n_released, offer_first,
           secs, send_secs > 0 ? (double)(r->sent - 1) / send_secs : 0.0);
    print_dist("offer_ms", &offer);
    putchar(',');
    print_dist("ack_ms", &ack);
    printf(",\"offers_per_agent\":[");
    for (int i = 0; i < opt.agents; i++) printf("%s%d", i ? "," : "", per_agent[i]);
    printf("],");
    if (r->cpu0 >= 0 && r->cpu1 >= 0)
        printf("\"server_cpu_s\":%.2f,\"server_cpu_us_per_handoff\":%.0f,", r->cpu1 - r->cpu0,
               r->sent ? (r->cpu1 - r->cpu0) * 1e6 / r->sent : 0.0);
    printf("\"setup_s\":{\"login\":%.3f,\"consoles\":%.3f,\"customers\":%.3f},", (double)(r->t_login - r->start) / 1e9,
           (double)(r->t_agents - r->t_login) / 1e9, (double)(r->t_customers - r->t_agents) / 1e9);
    printf("\"errors\":%llu,\"error_detail\":{\"agent_error_frames\":%llu,\"customer_error_frames\":%llu,"
           "\"ended_early\":%llu,\"offers_withdrawn\":%llu,\"unknown_offers\":%llu,\"duplicate_offers\":%llu,"
           "\"disconnects\":%llu,\"protocol\":%llu,\"upgrade\":%llu,\"connect\":%llu,\"unanswered\":%d}}\n",
           (unsigned long long)(errors_total() + (uint64_t)r->late), (unsigned long long)err.agent_errors,
           (unsigned long long)err.customer_errors, (unsigned long long)err.ended_early,
           (unsigned long long)err.withdrawn, (unsigned long long)err.unknown_offers,
           (unsigned long long)err.dup_offers, (unsigned long long)err.disconnects, (unsigned long long)err.protocol,
           (unsigned long long)err.handshake, (unsigned long long)err.connect, r->late);
    bench_samples_free(&offer);
    bench_samples_free(&ack);
    free(per_agent);
}

/* ---- options ---- */

static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: handoff_bench --url http://HOST:PORT --password PW [--agents K] [--agent-prefix P]\n"
            "                     [--customers N] [--batch B] [--interval-ms MS | --rate PER_S]\n"
            "                     [--offer-timeout S] [--timeout S] [--text T] [--language en|zh]\n"
            "                     [--server-pid PID]   (kefu's CPU time over the handoffs, from /proc)\n"
            "  agents P1..PK must exist (kefu agent add) with password PW (also $HANDOFF_PASSWORD)\n");
    exit(status);
}

static void parse_url(const char *url) {
    const char *h = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "ws://", 5) ? url + 5 : NULL;
    if (!h) {
        fprintf(stderr, "handoff_bench: --url must be http://HOST:PORT\n");
        exit(2);
    }
    if (bench_split_hostport(h, strcspn(h, "/"), opt.hostport, opt.host, &opt.port) < 0) usage(2);
}

int main(int argc, char **argv) {
    static const struct option longs[] = {
        {"url", required_argument, 0, 'u'},          {"password", required_argument, 0, 'p'},
        {"agents", required_argument, 0, 'k'},       {"agent-prefix", required_argument, 0, 'P'},
        {"customers", required_argument, 0, 'n'},    {"batch", required_argument, 0, 'b'},
        {"interval-ms", required_argument, 0, 'i'},  {"rate", required_argument, 0, 'R'},
        {"offer-timeout", required_argument, 0, 'o'}, {"timeout", required_argument, 0, 'T'},
        {"text", required_argument, 0, 't'},         {"language", required_argument, 0, 'l'},
        {"server-pid", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    bench_prog = "handoff_bench";
    const char *url = NULL;
    opt.password = getenv("HANDOFF_PASSWORD");
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'p': opt.password = optarg; break;
        case 'k': opt.agents = (int)bench_num_arg("agents", optarg, 1, 1000); break;
        case 'P': opt.prefix = optarg; break;
        case 'n': opt.customers = (int)bench_num_arg("customers", optarg, 1, 1000000); break;
        case 'b': opt.batch = (int)bench_num_arg("batch", optarg, 1, 100000); break;
        case 'i': opt.interval_ms = bench_num_arg("interval-ms", optarg, 0, 60000); break;
        case 'R': opt.interval_ms = 1000.0 / bench_num_arg("rate", optarg, 0.01, 1e6); break;
        case 'o': opt.offer_timeout = bench_num_arg("offer-timeout", optarg, 0.1, 3600); break;
        case 'T': opt.timeout = bench_num_arg("timeout", optarg, 1, 86400); break;
        case 't': opt.text = optarg; break;
        case 'l': opt.language = optarg; break;
        case 's': opt.server_pid = (int)bench_num_arg("server-pid", optarg, 1, 1e9); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (!url || optind != argc) usage(2);
    if (!opt.password || !*opt.password) {
        fprintf(stderr, "handoff_bench: give the agents' password (--password or $HANDOFF_PASSWORD)\n");
        exit(2);
    }
    if (strcmp(opt.language, "en") && strcmp(opt.language, "zh")) usage(2);
    if (strlen(opt.prefix) > 24) usage(2);
    parse_url(url);
    bench_seed();
    offer_timeout_ns = (uint64_t)(opt.offer_timeout * 1e9);

    int total = opt.agents + opt.customers;
    bench_raise_nofile(total);
    C = calloc((size_t)total, sizeof *C);
    size_t cap = 16;
    while (cap < (size_t)opt.customers * 2) cap *= 2;
    slots = malloc(cap * sizeof *slots);
    if (!C || !slots) bench_die("out of memory");
    slot_mask = cap - 1;
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    wsc_init(C, sizeof *C, total, &ops, opt.host, opt.port, opt.hostport, MAX_FRAME);
    for (int i = 0; i < total; i++) {
        C[i].kind = i < opt.agents ? AGENT : CUSTOMER;
        C[i].offered_to = -1;
        if (i < opt.agents) snprintf(C[i].agent_id, sizeof C[i].agent_id, "%s%d", opt.prefix, i + 1);
    }
    bench_catch_signals();
    uint64_t start = bench_now_ns(), deadline = start + (uint64_t)(opt.timeout * 1e9);

    /* 1. agents: log in, open the consoles, welcome + queues */
    for (int i = 0; i < opt.agents; i++) login(&C[i]);
    uint64_t t_login = bench_now_ns();
    int missing = open_range(0, opt.agents, deadline);
    if (missing) bench_die("%d of %d agent consoles did not come up (welcome, then queues) on /v1/agents/ws", missing, opt.agents);
    uint64_t t_agents = bench_now_ns();
    /* 2. customers: hello → welcome */
    missing = open_range(opt.agents, total, deadline);
    if (missing)
        bench_die("%d of %d customers did not get their welcome on /v1/ws (errors: connect %llu, upgrade %llu, lost %llu)",
            missing, opt.customers, (unsigned long long)err.connect, (unsigned long long)err.handshake,
            (unsigned long long)err.disconnects);
    uint64_t t_customers = bench_now_ns();
    bench_say("%d agents logged in in %.2f s, consoles up in %.2f s; %d customers up in %.2f s", opt.agents,
        (double)(t_login - start) / 1e9, (double)(t_agents - t_login) / 1e9, opt.customers,
        (double)(t_customers - t_agents) / 1e9);

    /* 3. paced handoffs; agents accept and close as offers come */
    run_t r = {.start = start, .t_login = t_login, .t_agents = t_agents, .t_customers = t_customers};
    const char *why = run_handoffs(&r, (uint64_t)(opt.interval_ms * 1e6), deadline);
    if (bench_stop_sig && !why) why = "interrupted";
    if (!why && errors_total()) why = "protocol errors (above)";
    if (!why && n_finished < opt.customers) why = "not every handoff finished";
    /* 4. results */
    close_all();
    report(&r);
    fflush(stdout);
    if (why) {
        bench_say("FAILED: %s — %d handoffs sent, %d offers, %d acks, %d released of %d", why, r.sent, n_offers, n_acks,
            n_released, opt.customers);
        return 1;
    }
    return 0;
}
