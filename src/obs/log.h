/* log.h — structured JSON-lines logging to stderr.
 *
 * Every line is one JSON object written with a single write(2), so lines from
 * many threads never interleave.  Callers pass key/value pairs; values are
 * escaped here.  Request bodies are never logged (callers never pass them). */
#ifndef KF_LOG_H
#define KF_LOG_H

#include <stdarg.h>

typedef enum { KF_LOG_DEBUG, KF_LOG_INFO, KF_LOG_WARN, KF_LOG_ERROR } kf_log_level_t;

void kf_log_set_level(kf_log_level_t level);
int kf_log_enabled(kf_log_level_t level);
/* "debug"|"info"|"warn"|"error" -> level; -1 when unknown. */
int kf_log_parse_level(const char *s);

/* fields: a NULL-terminated list of (key, format-char, value) triples where
 * format-char is 's' (const char *), 'i' (long long), 'd' (double), 'b' (int as bool).
 * Example: kf_log(KF_LOG_INFO, "listening", "port", 'i', 8000LL, NULL); */
void kf_log(kf_log_level_t level, const char *msg, ...);

#endif
