/* check.c — `kefu check --bot DIR`: lints a bot folder before it is trained
 * or served.  Every problem kf_bot_check (bot/check.h) finds is printed on
 * stdout as "FILE:LINE: error|warning: message", sorted by file and line, so
 * editors and CI can jump to it; the summary "N errors, M warnings" goes to
 * stderr.  Exit 0 without errors (warnings allowed), 1 with errors, 2 for a
 * usage mistake. */
#include <stdio.h>

#include "bot/check.h"
#include "cli/cli.h"
#include "cli/opts.h"

static void print_item(void *ud, const kf_bot_check_item_t *it) {
    (void)ud;
    char line[2048];
    kf_bot_check_format(it, line, sizeof line);
    puts(line);
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
    fflush(stdout);
    fprintf(stderr, "%zu error%s, %zu warning%s\n", n.errors, n.errors == 1 ? "" : "s", n.warnings,
            n.warnings == 1 ? "" : "s");
    if (rc < 0) {
        fprintf(stderr, "kefu: check: out of memory; the report is incomplete\n");
        return 1;
    }
    return n.errors ? 1 : 0;
}
