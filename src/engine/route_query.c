/* route_query.c — NLU + routing policy for one message (route_query.h).
 * The text is classified by the intent service and scanned for entities;
 * those features, the profile and the bot's intent → skill mapping go to
 * kf_routing_decide_live.  The text handed to the policy is a NUL-terminated
 * copy because the lexicon scans C strings. */
#include "engine/route_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/intent.h"
#include "nlu/entities.h"

int kf_route_query(kf_routing_t *router, kf_route_skill_fn skill_of, void *ud, const kf_route_profile_t *p,
                   const char *text, size_t len, int64_t now_ms, kf_route_answer_t *out, char *err, size_t errlen) {
    kf_nlu_result_t nr;
    memset(out, 0, sizeof *out);
    if (kf_intent_predict(text, len, &nr, err, errlen) < 0) return -1;
    snprintf(out->intent, sizeof out->intent, "%s", nr.intent ? nr.intent : "oos");
    out->confidence = nr.confidence;
    out->out_of_scope = nr.out_of_scope;
    kf_ent_t ents[16];
    int ne = kf_ent_extract(NULL, text, len, (time_t)(now_ms / 1000), ents, 16);
    out->entities = ne > 0 ? ne : 0;
    char *copy = malloc(len + 1);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *skill = skill_of && !out->out_of_scope ? skill_of(ud, out->intent) : NULL;
    kf_routing_input_t in = {.customer_id = p->user_id, .vip_tier = p->vip_tier, .language = p->language,
                             .customer_value = p->customer_value, .earlier_contacts = p->earlier_contacts,
                             .text = copy, .intent = out->out_of_scope ? NULL : out->intent,
                             .confidence = out->confidence, .out_of_scope = out->out_of_scope, .intents_seen = 1,
                             .entities = out->entities, .failures = p->failures, .intent_skill = skill};
    kf_routing_decide_live(router, &in, now_ms, &out->decision);
    free(copy);
    return 0;
}
