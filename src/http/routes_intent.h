/* routes_intent.h — the brief's intent API: POST /v1/intent (sync and
 * ?async=true), GET /v1/jobs/{job_id}, POST /v1/admin/reload. */
#ifndef KF_HTTP_ROUTES_INTENT_H
#define KF_HTTP_ROUTES_INTENT_H

#include <stddef.h>

typedef struct {
    size_t job_capacity;
    int job_workers;
    int job_ttl_s;
    size_t max_results;
} kf_routes_intent_config_t;

int kf_routes_intent_register(const kf_routes_intent_config_t *cfg);

#endif
