/* main.c — the `kefu` binary: one executable, several subcommands.
 * Each subcommand lives in src/cli/ and returns the exit code. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/version.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"serve", kf_cli_serve, "run the HTTP/WebSocket server (the demo bot by default)"},
    {"train", kf_cli_train, "train an intent model from CSV files or a bot folder"},
    {"eval", kf_cli_eval, "measure a model on labelled CSV data"},
    {"predict", kf_cli_predict, "classify texts from the command line or stdin"},
    {"check", kf_cli_check, "report every problem of a bot folder as file:line"},
    {"chat", kf_cli_chat, "talk to a bot in the terminal (a server's REST API, or in-process)"},
    {"agent", kf_cli_agent, "add, list or disable human agent accounts (agents.db in the data dir)"},
};

static void usage(FILE *f) {
    fprintf(f, "kefu %s — intelligent customer-service server\n\nusage: kefu COMMAND [FLAGS]\n\ncommands:\n", KF_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  kefu COMMAND --help   flags of one command\n  kefu --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("kefu %s\n", KF_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kefu: unknown command '%s' (see kefu --help)\n", argv[1]);
    return 2;
}
