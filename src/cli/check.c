/* check.c — `kefu check --bot DIR`: lints a bot folder before it is trained
 * or served.  Every problem kf_bot_check (bot/check.h) finds is printed on
 * stdout as "FILE:LINE: error|warning: message", sorted by file and line, so
 * editors and CI can jump to it; the summary "N errors, M warnings" goes to
 * stderr.  Exit 0 without errors (warnings allowed), 1 with errors, 2 for a
 * usage mistake. */
#include <stdio.h>

#include <string.h>

#include "bot/bot.h"
#include "bot/check.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "router/routing.h"

static void print_item(void *ud, const kf_bot_check_item_t *it) {
    (void)ud;
    char line[2048];
    kf_bot_check_format(it, line, sizeof line);
    puts(line);
}

/* bot.yml's `routing:` section is read by the router (router/config.c), not
 * by the bot loader: checked here the way `kefu serve` will read it.  Returns
 * the number of errors printed (0 or 1). */
static size_t check_routing(const char *dir) {
    char path[4096], err[600];
    kf_routing_config_t cfg;
    kf_routing_config_default(&cfg);
    snprintf(path, sizeof path, "%s/bot.yml", dir);
    int rc = kf_routing_config_load(path, &cfg, err, sizeof err);
    kf_bot_t *bot = rc == 0 ? kf_bot_load(dir, NULL, 0) : NULL; /* the bot's own errors are reported above */
    if (bot) {
        const char *skills[KF_ROUTING_MAX_SKILLS];
        size_t n = kf_bot_n_skills(bot) < KF_ROUTING_MAX_SKILLS ? kf_bot_n_skills(bot) : KF_ROUTING_MAX_SKILLS;
        for (size_t i = 0; i < n; i++) skills[i] = kf_bot_skill_at(bot, i);
        rc = kf_routing_config_check(&cfg, skills, n, err, sizeof err);
        kf_bot_free(bot);
    }
    if (rc == 0) return 0;
    char *msg = strstr(err, ": "); /* "file:line: what" → "file:line: error: what" */
    if (msg) printf("%.*s: error: %s\n", (int)(msg - err), err, msg + 2);
    else printf("%s: error: %s\n", path, err);
    return 1;
}

int kf_cli_check(int argc, char **argv) {
    const char *bot = NULL;
    const kf_opt_t opts[] = {
        {"bot", "KEFU_BOT", KF_OPT_STR, &bot, "bot folder to check (bot.yml, intents/, flows/, faq/)", 0, 0, NULL},
    };
    int first = kf_opts_parse("check", "--bot DIR", opts, sizeof opts / sizeof *opts, argc, argv);
    if (first == -2) return 0;
    if (first < 0) return 2;
    if (first < argc) {
        fprintf(stderr, "kefu: check: unexpected argument '%s' (see kefu check --help)\n", argv[first]);
        return 2;
    }
    if (!bot || !*bot) {
        fprintf(stderr, "kefu: check: --bot DIR is required\n");
        return 2;
    }
    kf_bot_check_counts_t n;
    int rc = kf_bot_check(bot, print_item, NULL, &n);
    n.errors += check_routing(bot);
    fflush(stdout);
    fprintf(stderr, "%zu error%s, %zu warning%s\n", n.errors, n.errors == 1 ? "" : "s", n.warnings,
            n.warnings == 1 ? "" : "s");
    if (rc < 0) {
        fprintf(stderr, "kefu: check: out of memory; the report is incomplete\n");
        return 1;
    }
    return n.errors ? 1 : 0;
}
