/* static.h — the web root (widget, docs page, vendored bundles) served from memory.
 *
 * Files are read once at start-up; each answer carries a strong ETag and a
 * Cache-Control chosen by name: vendored or fingerprinted assets are
 * immutable for a year, pages revalidate every time.  A page's double-quoted
 * "/static/NAME.EXT" references are rewritten at load to fingerprinted
 * aliases "/static/NAME.<hash>.EXT" of the same bytes (see static.c). */
#ifndef KF_HTTP_STATIC_H
#define KF_HTTP_STATIC_H

#include <stddef.h>

#include "http/request.h"

/* Loads every regular file under root (missing root: nothing is served). Returns files loaded or -1. */
int kf_static_load(const char *root, char *err, size_t errlen);
/* Answers with the file at relative path rel (e.g. "docs.html"), 304 when the ETag matches, or 404. */
void kf_static_send(kf_req_t *r, const char *rel, size_t rel_len);
size_t kf_static_count(void);

#endif
