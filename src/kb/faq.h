/* faq.h — the bot's FAQ entries (<botdir>/faq/NAME.yml, bots/README.md "FAQ"):
 * question variants and one answer per language, plus tags.
 *
 * kf_faq_load() reads and validates every file and reports the first problem
 * as "file:line: what".  The knowledge-base index (kb/kb.h) is built from the
 * loaded entries; the engine answers with kf_faq_answer() of the entry a
 * search returned.  Files are read in byte order of their names and entries
 * keep file order, so indexes built from the same folder are identical. */
#ifndef KF_FAQ_H
#define KF_FAQ_H

#include <stddef.h>

typedef struct {
    const char *lang;              /* "en", "zh", ... */
    const char *const *questions;  /* as written in the file */
    size_t n_questions;            /* at least one */
    const int *question_lines;     /* line of each question, for messages */
    const char *answer;
} kf_faq_lang_t;

typedef struct {
    const char *id; /* [a-z0-9_]+, unique across the bot */
    const char *const *tags;
    size_t n_tags;
    const kf_faq_lang_t *langs; /* in file order; every one has questions and an answer */
    size_t n_langs;
    const char *file;
    int line;
} kf_faq_entry_t;

typedef struct kf_faq kf_faq_t;

/* Loads BOTDIR/faq/NAME.yml (and *.yaml).  A bot without a faq/ folder has an
 * empty FAQ (not an error).  NULL with err "file:line: what" on malformed
 * YAML, wrong types, an unknown key, a missing or malformed id, an id given
 * twice, an entry without questions, a language with questions but no answer
 * (or an answer but no questions), an empty question or answer, the same
 * question twice in one language. */
kf_faq_t *kf_faq_load(const char *botdir, char *err, size_t errlen);
void kf_faq_free(kf_faq_t *faq);
/* The same in collect mode (`kefu check`): every problem goes to diag as
 * "file:line: what" and loading goes on with the next entry or file; returns
 * the entries that loaded (NULL only when the folder cannot be read). */
typedef void (*kf_faq_diag_fn)(void *ud, const char *msg);
kf_faq_t *kf_faq_load_collect(const char *botdir, kf_faq_diag_fn diag, void *ud);

size_t kf_faq_count(const kf_faq_t *faq);
const kf_faq_entry_t *kf_faq_entry(const kf_faq_t *faq, size_t i); /* NULL past the end */
const kf_faq_entry_t *kf_faq_find(const kf_faq_t *faq, const char *id);
/* Entries that have LANG (questions and answer). */
size_t kf_faq_count_lang(const kf_faq_t *faq, const char *lang);
/* ENTRY's answer in LANG, or NULL when the entry has none in LANG. */
const char *kf_faq_answer(const kf_faq_entry_t *entry, const char *lang);
const kf_faq_lang_t *kf_faq_lang(const kf_faq_entry_t *entry, const char *lang);

#endif
