/* test_nlu_features.c — n-gram extraction and TF-IDF vectorisation
 * (nlu/features.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nlu/features.h"
#include "nlu/normalize.h"

static size_t hashes(const kf_nlu_feat_cfg_t *cfg, const char *text, uint64_t *out, size_t cap) {
    int32_t cp[256];
    char err[64];
    long n = kf_nlu_normalize_cp(text, strlen(text), cp, 256, err, sizeof err);
    cr_assert_geq(n, 0);
    size_t k = kf_nlu_extract(cfg, cp, (size_t)n, out, cap);
    cr_assert_leq(k, kf_nlu_extract_bound(cfg, (size_t)n));
    return k;
}

static kf_nlu_feat_cfg_t cfg_of(int word, int cmin, int cmax, int han) {
    kf_nlu_feat_cfg_t c;
    kf_nlu_feat_cfg_default(&c);
    c.word_max = (uint8_t)word;
    c.char_min = (uint8_t)cmin;
    c.char_max = (uint8_t)cmax;
    c.han_max = (uint8_t)han;
    c.stem = 0;
    c.word_pairs = 0;
    return c;
}

Test(nlu_features, counts_latin) {
    uint64_t h[256];
    kf_nlu_feat_cfg_t c = cfg_of(1, 2, 3, 0);
    /* "card": 1 word + "<card>" 5 bigrams + 4 trigrams */
    cr_assert_eq(hashes(&c, "card", h, 256), 10);
    c = cfg_of(2, 2, 3, 0);
    /* "my card": 2 words + 1 bigram + "<my>" 3+2 + "<card>" 5+4 */
    cr_assert_eq(hashes(&c, "my card", h, 256), 17);
    c = cfg_of(2, 0, 0, 0);
    cr_assert_eq(hashes(&c, "I can't find, my card!", h, 256), 5 + 4); /* i cant find my card */
}

Test(nlu_features, counts_han_and_mixed) {
    uint64_t h[256];
    kf_nlu_feat_cfg_t c = cfg_of(2, 0, 0, 3);
    cr_assert_eq(hashes(&c, "\xE6\x88\x91\xE7\x9A\x84\xE5\x8D\xA1", h, 256), 6); /* 我的卡: 3+2+1 */
    /* 我的visa卡: Han run "我的" (2+1), word "visa" (1), Han run "卡" (1); no bigram across */
    cr_assert_eq(hashes(&c, "\xE6\x88\x91\xE7\x9A\x84visa\xE5\x8D\xA1", h, 256), 5);
}

Test(nlu_features, groups_and_invariances) {
    uint64_t a[256], b[256];
    kf_nlu_feat_cfg_t c = cfg_of(2, 2, 5, 3);
    size_t na = hashes(&c, "Transfer $50 NOW", a, 256), nb = hashes(&c, "transfer $20 now", b, 256);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na * sizeof *a), 0, "case and digits are folded");
    size_t words = 0;
    for (size_t i = 0; i < na; i++) {
        cr_assert_neq(a[i], 0);
        words += !(a[i] & KF_NLU_HASH_CHAR_BIT);
    }
    cr_assert_eq(words, 3 + 2);
    /* the output cap is respected, the count is still complete */
    cr_assert_eq(hashes(&c, "Transfer $50 NOW", a, 3), na);
}

Test(nlu_features, vectorize_tfidf_l2) {
    kf_nlu_feat_cfg_t c = cfg_of(1, 2, 2, 0);
    uint64_t h[64];
    size_t n = hashes(&c, "aa aa b", h, 64); /* words aa, aa, b; chars <a aa a> <a aa a> <b b> */
    cr_assert_eq(n, 3 + 3 + 3 + 2);
    /* vocabulary: word group first (aa, b), then char group */
    uint64_t keys[64] = {0};
    uint32_t ids[64];
    uint32_t nid = 0, n_word = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            int is_char = (h[i] & KF_NLU_HASH_CHAR_BIT) != 0;
            if (is_char != pass) continue;
            kf_nlu_vocab_t v = {keys, ids, 63};
            if (kf_nlu_vocab_get(&v, h[i]) != KF_NLU_NO_ID) continue;
            kf_nlu_vocab_put(keys, ids, 63, h[i], nid++);
            if (!pass) n_word++;
        }
    cr_assert_eq(n_word, 2);
    cr_assert_eq(nid, 2 + 5);
    float idf[16];
    for (int i = 0; i < 16; i++) idf[i] = 1.0f;
    kf_nlu_vocab_t v = {keys, ids, 63};
    uint32_t fid[64];
    float val[64];
    long m = kf_nlu_vectorize(&c, &v, idf, n_word, h, n, fid, val);
    cr_assert_eq(m, 7);
    double ss[2] = {0, 0};
    float w_aa = 0, w_b = 0;
    for (long k = 0; k < m; k++) {
        ss[fid[k] >= n_word] += (double)val[k] * val[k];
        if (fid[k] == 0) w_aa = val[k];
        if (fid[k] == 1) w_b = val[k];
    }
    cr_assert_float_eq(ss[0], 1.0, 1e-5);
    cr_assert_float_eq(ss[1], 1.0, 1e-5);
    cr_assert_float_eq(w_aa / w_b, 1.0 + log(2.0), 1e-5, "sublinear tf for the repeated word");
    /* unknown hashes are dropped */
    uint64_t unk[2] = {12345, 67890};
    cr_assert_eq(kf_nlu_vectorize(&c, &v, idf, n_word, unk, 2, fid, val), 0);
}
