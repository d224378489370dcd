/* agent.c — `kefu agent add|list|disable`: agent accounts from a shell on
 * the server, straight into agents.db in the data dir (the same file a
 * running `kefu serve` uses; WAL lets both at once, and the server re-reads
 * an account on every agent request, so a disable here takes effect there
 * at the agent's next request).
 *
 * The password is read from stdin (first line), never from argv, where any
 * user could see it in ps or /proc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "bot/bot.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "store/agents.h"

/* create: make the data dir when missing (add), as `kefu serve` does. */
static kf_agents_t *open_store(const char *cmd, const char *data_dir, int create) {
    char path[4096], err[400];
    snprintf(path, sizeof path, "%s/agents.db", data_dir);
    if (create) mkdir(data_dir, 0755);
    if (access(data_dir, W_OK) != 0) {
        fprintf(stderr, "kefu: %s: data dir %s is missing or not writable\n", cmd, data_dir);
        return NULL;
    }
    kf_agents_t *s = kf_agents_sqlite_open(path, err, sizeof err);
    if (!s) fprintf(stderr, "kefu: %s: %s\n", cmd, err);
    return s;
}

/* First line of stdin, without its line end; echo off when it is a terminal. */
static int read_password(char *out, size_t cap) {
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "Password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(out, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!got) return -1;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

/* Each skill must be the bot's when a bot folder is given. */
static int check_skills(const kf_agent_t *a, const char *bot_dir) {
    char err[600];
    if (!bot_dir) return 0;
    kf_bot_t *bot = kf_bot_load(bot_dir, err, sizeof err);
    if (!bot) {
        fprintf(stderr, "kefu: agent add: bot %s: %s\n", bot_dir, err);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < a->n_skills && rc == 0; i++)
        if (!kf_bot_has_skill(bot, a->skills[i])) {
            fprintf(stderr, "kefu: agent add: skill '%s' is not one of the bot's skills\n", a->skills[i]);
            rc = -1;
        }
    kf_bot_free(bot);
    return rc;
}

static int agent_add(int argc, char **argv) {
    const char *data_dir = "data", *id = NULL, *name = NULL, *skills = "", *languages = "en", *role = "agent", *bot_dir = NULL;
    int max_chats = 3, pw_stdin = 0;
    static const char *const roles[] = {"agent", "admin", NULL};
    const kf_opt_t opts[] = {
        {"data-dir", "KEFU_DATA_DIR", KF_OPT_STR, &data_dir, "folder of agents.db (default ./data)", 0, 0, NULL},
        {"id", NULL, KF_OPT_STR, &id, "login id: 1-32 of a-z 0-9 _ - (required)", 0, 0, NULL},
        {"name", NULL, KF_OPT_STR, &name, "display name (required)", 0, 0, NULL},
        {"skills", NULL, KF_OPT_STR, &skills, "comma-separated skills, e.g. cards,loans", 0, 0, NULL},
        {"languages", NULL, KF_OPT_STR, &languages, "en, zh or en,zh (default en)", 0, 0, NULL},
        {"max-chats", NULL, KF_OPT_INT, &max_chats, "chats at once, 1-50 (default 3)", 1, KF_AGENT_MAX_CHATS, NULL},
        {"role", NULL, KF_OPT_CHOICE, &role, "agent|admin (default agent)", 0, 0, roles},
        {"bot", "KEFU_BOT", KF_OPT_STR, &bot_dir, "bot folder: check the skills against its bot.yml", 0, 0, NULL},
        {"password-stdin", NULL, KF_OPT_FLAG, &pw_stdin, "read the password from stdin (the only way; never argv)", 0, 0, NULL},
    };
    int pos = kf_opts_parse("agent add", "--id ID --name NAME [FLAGS] < password", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (pos == -2) return 0;
    if (pos < 0) return 2;
    if (pos < argc || !id || !name) {
        fprintf(stderr, "kefu: agent add: --id and --name are required, and nothing else (the password comes on stdin)\n");
        return 2;
    }
    kf_agent_t a = {.max_chats = max_chats, .role = (kf_agent_role_t)kf_agents_role_parse(role)};
    char err[256], pw[KF_AGENT_PASSWORD_MAX + 2], hash[KF_AGENT_HASH_MAX + 1];
    snprintf(a.id, sizeof a.id, "%s", strlen(id) <= KF_AGENT_ID_MAX ? id : "");
    snprintf(a.name, sizeof a.name, "%s", strlen(name) <= KF_AGENT_NAME_MAX ? name : "");
    if (kf_agents_parse_skills(skills, &a, err, sizeof err) < 0 ||
        kf_agents_parse_languages(languages, &a.languages, err, sizeof err) < 0 || kf_agents_validate(&a, err, sizeof err) < 0) {
        fprintf(stderr, "kefu: agent add: %s\n", err);
        return 2;
    }
    if (check_skills(&a, bot_dir) < 0) return 2;
    if (sodium_init() < 0 || read_password(pw, sizeof pw) < 0) {
        fprintf(stderr, "kefu: agent add: no password on stdin\n");
        return 2;
    }
    int rc = kf_agents_hash_password(pw, hash, err, sizeof err);
    sodium_memzero(pw, sizeof pw);
    if (rc != KF_AGENTS_OK) {
        fprintf(stderr, "kefu: agent add: %s\n", err);
        return rc == KF_AGENTS_INVALID ? 2 : 1;
    }
    kf_agents_t *s = open_store("agent add", data_dir, 1);
    if (!s) return 1;
    rc = kf_agents_create(s, &a, hash, err, sizeof err);
    kf_agents_destroy(s);
    if (rc != KF_AGENTS_OK) {
        fprintf(stderr, "kefu: agent add: %s\n", err);
        return 1;
    }
    printf("added %s (%s)\n", a.id, kf_agents_role_name(a.role));
    return 0;
}

static void print_table(const kf_agent_t *v, size_t n) {
    printf("%-16s %-20s %-6s %-8s %-5s %-9s %s\n", "ID", "NAME", "ROLE", "LANG", "CHATS", "STATE", "SKILLS");
    for (size_t i = 0; i < n; i++) {
        char langs[8], skills[KF_AGENT_MAX_SKILLS * (KF_AGENT_SKILL_MAX + 1) + 1];
        kf_agents_languages_csv(v[i].languages, langs);
        kf_agents_skills_csv(&v[i], skills, sizeof skills);
        printf("%-16s %-20s %-6s %-8s %-5d %-9s %s\n", v[i].id, v[i].name, kf_agents_role_name(v[i].role), langs,
               v[i].max_chats, v[i].disabled ? "disabled" : "active", skills);
    }
}

static int agent_list(int argc, char **argv) {
    const char *data_dir = "data";
    int json = 0;
    const kf_opt_t opts[] = {
        {"data-dir", "KEFU_DATA_DIR", KF_OPT_STR, &data_dir, "folder of agents.db (default ./data)", 0, 0, NULL},
        {"json", NULL, KF_OPT_FLAG, &json, "one JSON array instead of a table", 0, 0, NULL},
    };
    int pos = kf_opts_parse("agent list", "[FLAGS]", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (pos == -2) return 0;
    if (pos < 0) return 2;
    kf_agents_t *s = open_store("agent list", data_dir, 0);
    if (!s) return 1;
    kf_agent_t *v = NULL;
    size_t n = 0;
    char err[256];
    int rc = kf_agents_list(s, &v, &n, err, sizeof err);
    kf_agents_destroy(s);
    if (rc != KF_AGENTS_OK) {
        fprintf(stderr, "kefu: agent list: %s\n", err);
        return 1;
    }
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, kf_agents_json(&v[i]));
        char *text = cJSON_PrintUnformatted(arr);
        printf("%s\n", text ? text : "[]");
        cJSON_free(text);
        cJSON_Delete(arr);
    } else print_table(v, n);
    free(v);
    return 0;
}

static int agent_disable(int argc, char **argv) {
    const char *data_dir = "data", *id = NULL;
    const kf_opt_t opts[] = {
        {"data-dir", "KEFU_DATA_DIR", KF_OPT_STR, &data_dir, "folder of agents.db (default ./data)", 0, 0, NULL},
        {"id", NULL, KF_OPT_STR, &id, "the agent to disable (required)", 0, 0, NULL},
    };
    int pos = kf_opts_parse("agent disable", "--id ID", opts, sizeof opts / sizeof opts[0], argc, argv);
    if (pos == -2) return 0;
    if (pos < 0) return 2;
    if (!id) {
        fprintf(stderr, "kefu: agent disable: --id is required\n");
        return 2;
    }
    kf_agents_t *s = open_store("agent disable", data_dir, 0);
    if (!s) return 1;
    char err[256];
    int rc = kf_agents_set_disabled(s, id, 1, err, sizeof err);
    kf_agents_destroy(s);
    if (rc == KF_AGENTS_NOTFOUND) fprintf(stderr, "kefu: agent disable: no agent '%s'\n", id);
    else if (rc != KF_AGENTS_OK) fprintf(stderr, "kefu: agent disable: %s\n", err);
    else printf("disabled %s\n", id);
    return rc == KF_AGENTS_OK ? 0 : 1;
}

int kf_cli_agent(int argc, char **argv) {
    static const char usage[] = "usage: kefu agent add|list|disable [FLAGS]   (kefu agent SUBCOMMAND --help)\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "add")) return agent_add(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return agent_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "disable")) return agent_disable(argc - 1, argv + 1);
    fprintf(stderr, "kefu: agent: unknown subcommand '%s' (add, list, disable)\n", argv[1]);
    return 2;
}
