/* opts.h — table-driven command-line flags with KEFU_* environment fallbacks.
 *
 * Precedence: flag, then environment variable, then the default already in
 * the target variable; a variable is not read (nor validated) when its flag
 * is given.  A bad flag or value prints one line "kefu: ..." and
 * the caller exits 2. */
#ifndef KF_CLI_OPTS_H
#define KF_CLI_OPTS_H

#include <stddef.h>

typedef enum { KF_OPT_STR, KF_OPT_INT, KF_OPT_SIZE, KF_OPT_FLAG, KF_OPT_CHOICE } kf_opt_type_t;

typedef struct {
    const char *name;    /* "port" for --port */
    const char *env;     /* "KEFU_PORT", or NULL */
    kf_opt_type_t type;
    void *target;        /* const char **, int *, size_t *, int *, const char ** */
    const char *help;
    long long min, max;  /* INT/SIZE bounds */
    const char *const *choices; /* CHOICE: NULL-terminated */
} kf_opt_t;

/* Returns the index of the first positional argument, or -1 after printing an
 * error, or -2 when --help was printed. */
int kf_opts_parse(const char *cmd, const char *usage, const kf_opt_t *opts, size_t n, int argc, char **argv);
void kf_opts_help(const char *cmd, const char *usage, const kf_opt_t *opts, size_t n);

#endif
