/* csv.h — RFC 4180 CSV reading and writing for the train/eval commands,
 * plus the loader of labelled (text,label) training files.
 *
 * Quoted fields may hold commas, doubled quotes and line breaks; CRLF and
 * LF both end records; a UTF-8 byte-order mark is skipped.  Errors name
 * the file and the line the offending record starts on. */
#ifndef KF_CLI_CSV_H
#define KF_CLI_CSV_H

#include <stdio.h>

#include "nlu/classifier.h"

typedef struct kf_csv kf_csv_t;

kf_csv_t *kf_csv_open(const char *path, char *err, size_t errlen);
/* Parses a CSV image held in memory (copied); name is used in errors. */
kf_csv_t *kf_csv_open_mem(const char *name, const char *data, size_t len, char *err, size_t errlen);
/* Next record: returns its field count (>= 1), 0 at end of input, -1 on a
 * syntax error (err = "file:line: ...").  fields[i] are NUL-terminated
 * (lens[i] bytes) and valid until the next call. */
int kf_csv_next(kf_csv_t *c, char ***fields, size_t **lens, char *err, size_t errlen);
/* Line (1-based) where the last record returned started. */
long kf_csv_line(const kf_csv_t *c);
void kf_csv_close(kf_csv_t *c);

/* Writes s as one CSV field, quoted when it holds , " CR or LF. */
void kf_csv_write_field(FILE *f, const char *s);

/* Appends the rows of a labelled CSV file (header row; column 1 = text,
 * column 2 = label, whatever their names) to d.  Rejects missing columns,
 * empty text or labels and invalid UTF-8 with "file:line: ..." in err.
 * Blank lines are skipped.  Returns the rows added, or -1. */
long kf_cli_load_labeled_csv(const char *path, kf_nlu_dataset_t *d, char *err, size_t errlen);

#endif
