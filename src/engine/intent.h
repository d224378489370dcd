/* intent.h — the intent service: the loaded model, hot reload, and the
 * classification answer (intent, confidence, alternatives, entities).
 *
 * The model is shared read-only by every thread.  A reload loads the new
 * file fully before swapping it in; requests already running keep the model
 * they started with, which is freed when its last user lets go. */
#ifndef KF_ENGINE_INTENT_H
#define KF_ENGINE_INTENT_H

#include <stddef.h>

#include "nlu/nlu.h"
#include "util/buf.h"

/* path may be NULL: the service then reports not ready until a reload succeeds. */
int kf_intent_init(const char *path, char *err, size_t errlen);
/* Loads the model file again (same path) and swaps it in atomically. */
int kf_intent_reload(char *err, size_t errlen);
int kf_intent_ready(void);
/* Version of the current model into out ("" when none). */
void kf_intent_version(char *out, size_t outlen);
const char *kf_intent_path(void);

/* Classifies text (UTF-8, len bytes) and appends the answer object as JSON
 * to out: intent, confidence, alternatives, entities, out_of_scope,
 * model_version and, when session_id is not NULL, session_id.  Returns 0, or
 * -1 with err (no model, invalid UTF-8, out of memory).  Thread-safe. */
int kf_intent_classify_json(const char *text, size_t len, const char *session_id, kf_buf_t *out, char *err,
                            size_t errlen);

/* Classifies text into *out (the conversation engine's path: no JSON).
 * out->intent and out->alts point into the model the calling thread holds,
 * valid until that thread's next call into this service: copy them.
 * Returns 0, or -1 with err (no model, invalid UTF-8).  Thread-safe. */
int kf_intent_predict(const char *text, size_t len, kf_nlu_result_t *out, char *err, size_t errlen);

#endif
