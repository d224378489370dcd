/* dialogue_int.h — internals of the dialogue state machine (engine/dialogue.h),
 * shared by its files:
 *   dialogue.c       the state machine: flows run one customer message at a time
 *   dialogue_json.c  the state's JSON text for the session store
 * A frame is one flow in progress: the active one, or the one a digression paused. */
#ifndef KF_ENGINE_DIALOGUE_INT_H
#define KF_ENGINE_DIALOGUE_INT_H

#include <stdlib.h>
#include <string.h>

#include "bot/flow.h"
#include "engine/dialogue.h"

typedef struct {
    const kf_flow_t *flow; /* NULL: no flow */
    int step, retries;
    char **vals; /* flow->n_slots values; NULL = not filled */
} frame_t;

struct kf_dlg_state {
    frame_t active, paused;
    int waiting; /* a webhook call of the active flow is out */
    unsigned turn; /* picks response variations: deterministic, and varied across turns */
    char lang[16];
};

/* Static inline: both files need them, and they are too small to be worth a call. */
static inline void frame_clear(frame_t *f) {
    if (f->vals && f->flow)
        for (size_t i = 0; i < f->flow->n_slots; i++) free(f->vals[i]);
    free(f->vals);
    memset(f, 0, sizeof *f);
}

static inline int frame_start(frame_t *f, const kf_flow_t *flow) {
    frame_clear(f);
    f->vals = calloc(flow->n_slots ? flow->n_slots : 1, sizeof *f->vals);
    if (!f->vals) return -1;
    f->flow = flow;
    return 0;
}

static inline int frame_set(frame_t *f, int slot, const char *v) {
    char *d = strdup(v);
    if (!d) return -1;
    free(f->vals[slot]);
    f->vals[slot] = d;
    return 0;
}

/* The two readers kf_dlg_state_from_json picks between (dialogue_json.c),
 * declared here only so the unit tests can hold one against the other.
 * _fast: exactly the text kf_dlg_state_to_json writes, else NULL (not handled,
 * nothing kept); _slow: any JSON, through cJSON (NULL with err when malformed). */
kf_dlg_state_t *kf_dlg_state_from_json_fast(const kf_bot_t *bot, const char *json);
kf_dlg_state_t *kf_dlg_state_from_json_slow(const kf_bot_t *bot, const char *json, char *err, size_t errlen);

#endif
