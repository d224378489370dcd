/* mask.h — masking of sensitive data in free text before it is logged or
 * stored: Luhn-valid card numbers become "**** **** **** 1234", phone
 * numbers keep only their last four digits ("*******5678", separators and a
 * leading '+' kept), e-mail addresses keep the first character of the local
 * part ("j***@example.com").  Detection is the entity extractor's
 * (nlu/entities.h), so amounts, dates, order ids and non-Luhn digit runs are
 * left alone.  Output is valid UTF-8 and masking is idempotent. */
#ifndef KF_NLU_MASK_H
#define KF_NLU_MASK_H

#include <stddef.h>

/* Output bytes (with the NUL) that always suffice for len input bytes. */
size_t kf_mask_bound(size_t len);

/* Masks in[0..len) into out (NUL-terminated).  Returns the output length in
 * bytes, or -1 when the input is not valid UTF-8, out is too small or memory
 * runs out (out then holds an empty string when outcap > 0). */
long kf_mask_text(const char *in, size_t len, char *out, size_t outcap);

/* Same into a malloc'd string; *outlen (may be NULL) gets its length. */
char *kf_mask_dup(const char *in, size_t len, size_t *outlen);

#endif
