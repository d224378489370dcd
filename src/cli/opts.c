/* opts.c — flag parsing (see opts.h). */
#include "cli/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_value(const kf_opt_t *o, const char *v, const char *from) {
    char *end;
    switch (o->type) {
    case KF_OPT_STR:
        *(const char **)o->target = v;
        return 0;
    case KF_OPT_FLAG:
        if (!v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) *(int *)o->target = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) *(int *)o->target = 0;
        else break;
        return 0;
    case KF_OPT_CHOICE:
        for (const char *const *c = o->choices; *c; c++)
            if (strcmp(*c, v) == 0) {
                *(const char **)o->target = *c;
                return 0;
            }
        fprintf(stderr, "kefu: %s: '%s' is not one of:", from, v);
        for (const char *const *c = o->choices; *c; c++) fprintf(stderr, " %s", *c);
        fputc('\n', stderr);
        return -1;
    case KF_OPT_INT:
    case KF_OPT_SIZE: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (o->type == KF_OPT_SIZE && end != v && *end) {
            if ((*end == 'k' || *end == 'K') && !end[1]) x *= 1024, end++;
            else if ((*end == 'm' || *end == 'M') && !end[1]) x *= 1024 * 1024, end++;
        }
        if (errno || end == v || *end || x < o->min || x > o->max) {
            fprintf(stderr, "kefu: %s: expected an integer in %lld..%lld%s, got '%s'\n", from, o->min, o->max,
                    o->type == KF_OPT_SIZE ? " (k/M suffixes allowed)" : "", v);
            return -1;
        }
        if (o->type == KF_OPT_INT) *(int *)o->target = (int)x;
        else *(size_t *)o->target = (size_t)x;
        return 0;
    }
    }
    fprintf(stderr, "kefu: %s: expected true or false, got '%s'\n", from, v);
    return -1;
}

void kf_opts_help(const char *cmd, const char *usage, const kf_opt_t *opts, size_t n) {
    printf("usage: kefu %s %s\n\n", cmd, usage);
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", opts[i].name, opts[i].type == KF_OPT_FLAG ? "" : " VALUE");
        printf("  %-26s %s", flag, opts[i].help);
        if (opts[i].env) printf(" [env %s]", opts[i].env);
        putchar('\n');
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

/* Flags are parsed first and the environment only fills what no flag set, so
 * a variable a flag overrides is never read: an unrelated KEFU_PORT (say,
 * "tcp://10.0.0.7:8000", as Kubernetes injects for a service named kefu)
 * cannot stop `kefu serve --port 8000` from starting. */
int kf_opts_parse(const char *cmd, const char *usage, const kf_opt_t *opts, size_t n, int argc, char **argv) {
    unsigned char *given = calloc(n ? n : 1, 1);
    if (!given) {
        fprintf(stderr, "kefu: %s: out of memory\n", cmd);
        return -1;
    }
    int i = 1, rc = -1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(a, "--", 2) != 0) break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            kf_opts_help(cmd, usage, opts, n);
            rc = -2;
            goto done;
        }
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        size_t k = n;
        for (size_t j = 0; j < n; j++)
            if (strlen(opts[j].name) == len && strncmp(opts[j].name, a + 2, len) == 0) k = j;
        if (k == n) {
            fprintf(stderr, "kefu: %s: unknown flag '%.*s' (see kefu %s --help)\n", cmd, (int)len + 2, a, cmd);
            goto done;
        }
        const kf_opt_t *o = &opts[k];
        const char *v = eq ? eq + 1 : NULL;
        if (!v && o->type != KF_OPT_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kefu: %s: --%s needs a value\n", cmd, o->name);
                goto done;
            }
            v = argv[++i];
        }
        char from[72];
        snprintf(from, sizeof from, "--%s", o->name);
        if (set_value(o, v, from) < 0) goto done;
        given[k] = 1;
    }
    for (size_t j = 0; j < n; j++) {
        const char *v = opts[j].env && !given[j] ? getenv(opts[j].env) : NULL;
        if (v && *v && set_value(&opts[j], v, opts[j].env) < 0) goto done;
    }
    rc = i;
done:
    free(given);
    return rc;
}
