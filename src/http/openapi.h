/* openapi.h — the OpenAPI 3.1 document built from the route tables.
 *
 * Everything comes from the same kf_route_t / kf_schema_t data the router
 * validates with, so /openapi.json cannot drift from the code. */
#ifndef KF_HTTP_OPENAPI_H
#define KF_HTTP_OPENAPI_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http/route.h"

/* Builds the document for ntables tables (tables[i] holds counts[i] routes).
 * Routes flagged KF_ROUTE_HIDDEN are left out; KF_ROUTE_WEBSOCKET routes are
 * documented as GET with a 101 response.  Every route that validates input
 * gets FastAPI's 422 HTTPValidationError response; named object schemas
 * become components referenced with $ref.  Returns NULL when out of memory;
 * the caller frees the result with cJSON_Delete. */
cJSON *kf_openapi_document(const kf_route_t *const *tables, const size_t *counts, size_t ntables, const char *title,
                           const char *version);

/* The JSON Schema 2020-12 form of s, every named object inlined (for tests
 * and for tools that want one schema). */
cJSON *kf_openapi_schema(const kf_schema_t *s);

#endif
