// Attention of a few query rows (decoder steps: one row per hypothesis) against keys and
// values read in place: the key/value cache of a hypothesis, or a window's cross-attention
// keys and values. A BLAS product would repack the keys on every call; here each key row is
// read where it lies, once per block of 8 keys for all rows.
//
// scores[r][t] = scale · q[r] · k[t]  (t < valid[r]),  p = softmax(scores[r]),
// out[r] = Σ_t p[r][t] · v[t].

#include "hark_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

// The three passes, portable: scores of rows × n keys (row stride lds), softmax, and the
// weighted sum of n values into out (added to what out holds when `accumulate`).
static void scores_portable(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t n,
                            size_t dim, float scale, float *scores, size_t lds) {
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n; t++) {
            float dot = 0;
            for (size_t d = 0; d < dim; d++) dot += q[r * ldq + d] * k[t * ldk + d];
            scores[r * lds + t] = dot * scale;
        }
}

static void values_portable(const float *p, size_t ldp, size_t rows, const size_t *valid, size_t n,
                            const float *v, size_t ldv, size_t dim, float *out, size_t ldo, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        size_t m = valid && valid[r] < n ? valid[r] : n;
        float *o = out + r * ldo;
        if (!accumulate)
            for (size_t d = 0; d < dim; d++) o[d] = 0;
        for (size_t t = 0; t < m; t++) {
            float w = p[r * ldp + t];
            for (size_t d = 0; d < dim; d++) o[d] += w * v[t * ldv + d];
        }
    }
}

static size_t longest_row(size_t rows, size_t count, const size_t *valid) {
    size_t longest = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t n = valid ? valid[r] : count;
        longest = n > longest ? n : longest;
    }
    return longest;
}

void hark_attend_rows_portable(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                               size_t ldv, float *out, size_t ldo, size_t rows, size_t count,
                               const size_t *valid, size_t dim, float scale, float *scores) {
    scores_portable(q, ldq, rows, k, ldk, longest_row(rows, count, valid), dim, scale, scores, count);
    hark_softmax_rows_portable(scores, rows, count, count, valid);
    values_portable(scores, count, rows, valid, count, v, ldv, dim, out, ldo, 0);
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))

// The 4 horizontal pair-sums of p0..p3 in each 128-bit half: the first step of sum8x8.
AVX2 static inline __m256 hadd4(__m256 p0, __m256 p1, __m256 p2, __m256 p3) {
    return _mm256_hadd_ps(_mm256_hadd_ps(p0, p1), _mm256_hadd_ps(p2, p3));
}

// The 8 horizontal sums of p[0..7], in order, as one vector, from hadd4 of p0..p3 and of
// p4..p7: each vector's two halves added.
AVX2 static inline __m256 fold_halves(__m256 h0123, __m256 h4567) {
    return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20),
                         _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

// The 8 horizontal sums of p[0..7], in order, as one vector.
AVX2 static inline __m256 sum8x8(__m256 p0, __m256 p1, __m256 p2, __m256 p3, __m256 p4, __m256 p5,
                                 __m256 p6, __m256 p7) {
    return fold_halves(hadd4(p0, p1, p2, p3), hadd4(p4, p5, p6, p7));
}

// Stores the first m (≤ 8) of a block's scores: a whole vector, or the lanes a last partial
// block has.
AVX2 static inline void store_scores(float *scores, __m256 sums, size_t m) {
    if (m == 8) {
        _mm256_storeu_ps(scores, sums);
        return;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sums);
    for (size_t j = 0; j < m; j++) scores[j] = lanes[j];
}

// One key's 8 lanes of products with a query row, summed over dim in order.
AVX2 static inline __m256 key_lanes(const float *q, const float *key, size_t dim) {
    __m256 lanes = _mm256_setzero_ps();
    for (size_t d = 0; d < dim; d += 8) lanes = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(key + d), lanes);
    return lanes;
}

// Scores of `rows` query rows against n keys, 8 keys at a time for every row (the 8 key rows
// stay in L1 across the rows). A last partial block is summed the same way, so a key's score
// does not depend on where the blocks fall. dim is a multiple of 8. Each key is read whole
// before the next, in address order, which the prefetchers follow better than the 8 keys'
// vectors read interleaved (8 streams 256 bytes apart).
//
// Whisper's heads are 64 wide: a query row then fits in 8 registers and is loaded once per
// block of 8 keys, so each multiply-add loads only its key vector (two loads per multiply-add
// made the loop load-bound). Four keys are summed at a time (8 + 4 + 2 registers) and folded
// by sum8x8's own steps (hadd4, fold_halves), so the scores are the general loop's bit for bit.
AVX2 static inline __m256 key_lanes64(const __m256 *qv, const float *key) {
    __m256 lanes = _mm256_setzero_ps();
    for (int d = 0; d < 8; d++) lanes = _mm256_fmadd_ps(qv[d], _mm256_loadu_ps(key + 8 * d), lanes);
    return lanes;
}

AVX2 static void scores64_avx2(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t n,
                               float scale, float *scores, size_t lds) {
    const __m256 vscale = _mm256_set1_ps(scale);
    for (size_t t = 0; t < n; t += 8) {
        const float *kt = k + t * ldk;
        size_t m = n - t < 8 ? n - t : 8;
        for (size_t r = 0; r < rows; r++) {
            __m256 qv[8];
            for (int d = 0; d < 8; d++) qv[d] = _mm256_loadu_ps(q + r * ldq + 8 * d);
            __m256 h[2];
            for (int half = 0; half < 2; half++) {
                __m256 p[4];
                for (int j = 0; j < 4; j++) {
                    size_t key = (size_t)(4 * half + j);
                    p[j] = key < m ? key_lanes64(qv, kt + key * ldk) : _mm256_setzero_ps();
                }
                h[half] = hadd4(p[0], p[1], p[2], p[3]);
            }
            store_scores(scores + r * lds + t, _mm256_mul_ps(fold_halves(h[0], h[1]), vscale), m);
        }
    }
}

AVX2 static void scores_avx2(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t n,
                             size_t dim, float scale, float *scores, size_t lds) {
    if (dim == 64) {
        scores64_avx2(q, ldq, rows, k, ldk, n, scale, scores, lds);
        return;
    }
    const __m256 vscale = _mm256_set1_ps(scale);
    for (size_t t = 0; t < n; t += 8) {
        const float *kt = k + t * ldk;
        size_t m = n - t < 8 ? n - t : 8;
        for (size_t r = 0; r < rows; r++) {
            const float *qr = q + r * ldq;
            __m256 p[8];
            for (size_t j = 0; j < 8; j++) p[j] = j < m ? key_lanes(qr, kt + j * ldk, dim) : _mm256_setzero_ps();
            store_scores(scores + r * lds + t,
                         _mm256_mul_ps(sum8x8(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]), vscale), m);
        }
    }
}

// out[r] (+)= Σ_{t < min(n, valid[r])} p[r][t] · v[t], up to 64 output lanes per pass held in
// registers: eight independent accumulation chains, enough to hide the FMA latency (four
// were not). Accumulating continues the same chains, so splitting the keys in two calls
// gives the same sums as one call.
AVX2 static void values_avx2(const float *p, size_t ldp, size_t rows, const size_t *valid, size_t n,
                             const float *v, size_t ldv, size_t dim, float *out, size_t ldo, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        size_t m = valid && valid[r] < n ? valid[r] : n;
        const float *pr = p + r * ldp;
        float *o = out + r * ldo;
        for (size_t d0 = 0; d0 < dim; d0 += 64) {
            size_t vectors = (dim - d0 < 64 ? dim - d0 : 64) / 8;
            __m256 acc[8];
            for (size_t j = 0; j < 8; j++)
                acc[j] = accumulate && j < vectors ? _mm256_loadu_ps(o + d0 + 8 * j) : _mm256_setzero_ps();
            if (vectors == 8) {
                for (size_t i = 0; i < m; i++) {
                    __m256 w = _mm256_set1_ps(pr[i]);
                    const float *vi = v + i * ldv + d0;
                    for (size_t j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vi + 8 * j), acc[j]);
                }
            } else {
                for (size_t i = 0; i < m; i++) {
                    __m256 w = _mm256_set1_ps(pr[i]);
                    const float *vi = v + i * ldv + d0;
                    for (size_t j = 0; j < vectors; j++) acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vi + 8 * j), acc[j]);
                }
            }
            for (size_t j = 0; j < vectors; j++) _mm256_storeu_ps(o + d0 + 8 * j, acc[j]);
        }
    }
}

static int avx2_shape(size_t dim) { return dim % 8 == 0 && dim <= 256; }

AVX2 void hark_attend_rows_avx2(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                                size_t ldv, float *out, size_t ldo, size_t rows, size_t count,
                                const size_t *valid, size_t dim, float scale, float *scores) {
    if (!avx2_shape(dim)) {
        hark_attend_rows_portable(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, valid, dim, scale, scores);
        return;
    }
    scores_avx2(q, ldq, rows, k, ldk, longest_row(rows, count, valid), dim, scale, scores, count);
    hark_softmax_rows_avx2(scores, rows, count, count, valid);
    values_avx2(scores, count, rows, valid, count, v, ldv, dim, out, ldo, 0);
}
#else
void hark_attend_rows_avx2(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                           size_t ldv, float *out, size_t ldo, size_t rows, size_t count,
                           const size_t *valid, size_t dim, float scale, float *scores) {
    hark_attend_rows_portable(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, valid, dim, scale, scores);
}
#endif

void hark_attend_rows(const float *q, size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                      float *out, size_t ldo, size_t rows, size_t count, const size_t *valid, size_t dim,
                      float scale, float *scores) {
    if (hark_kernels_use_avx2())
        hark_attend_rows_avx2(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, valid, dim, scale, scores);
    else
        hark_attend_rows_portable(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, valid, dim, scale, scores);
}

// The passes of one implementation, so that the attention sequences are written once.
typedef struct {
    void (*scores)(const float *q, size_t ldq, size_t rows, const float *k, size_t ldk, size_t n, size_t dim,
                   float scale, float *scores, size_t lds);
    void (*softmax)(float *x, size_t rows, size_t width, size_t ld, const size_t *valid);
    void (*values)(const float *p, size_t ldp, size_t rows, const size_t *valid, size_t n, const float *v,
                   size_t ldv, size_t dim, float *out, size_t ldo, int accumulate);
} attention_passes;

static const attention_passes *passes_for(size_t dim) {
    static const attention_passes portable = {scores_portable, hark_softmax_rows_portable, values_portable};
#if HARK_X86
    static const attention_passes avx2 = {scores_avx2, hark_softmax_rows_avx2, values_avx2};
    if (hark_kernels_use_avx2() && avx2_shape(dim)) return &avx2;
#endif
    return &portable;
}

// Attention over a shared prefix then each row's own keys: the prefix's keys and values are
// read once for all rows, each row's own ones for that row alone.
void hark_attend_prefixed(const float *q, size_t ldq, size_t rows, const float *pk, const float *pv, size_t ldp,
                          size_t prefix, const float *const *own_k, const float *const *own_v, size_t ld_own,
                          size_t own_offset, const size_t *valid, float *out, size_t ldo, size_t dim, float scale,
                          float *scores) {
    const attention_passes *pass = passes_for(dim);
    size_t count = longest_row(rows, 0, valid);
    pass->scores(q, ldq, rows, pk, ldp, prefix, dim, scale, scores, count);
    for (size_t r = 0; r < rows; r++)
        pass->scores(q + r * ldq, ldq, 1, own_k[r] + own_offset, ld_own, valid[r] - prefix, dim, scale,
                     scores + r * count + prefix, count);
    pass->softmax(scores, rows, count, count, valid);
    pass->values(scores, count, rows, NULL, prefix, pv, ldp, dim, out, ldo, 0);
    for (size_t r = 0; r < rows; r++)
        pass->values(scores + r * count + prefix, count, 1, NULL, valid[r] - prefix, own_v[r] + own_offset, ld_own,
                     dim, out + r * ldo, ldo, 1);
}

// ---------------------------------------------------------------------------------------------
// Float products with few rows (decoder steps in float32): y[r][n] = x[r] · w[n] (+ bias[n]).
// Each weight row is read once for all rows; a BLAS product would repack the whole weight
// matrix (51 865 × d for the output projection) on every call.

static void gemm_few_rows_portable(const float *x, size_t ldx, size_t rows, const float *w, size_t k,
                                   size_t n0, size_t n1, const float *bias, float *y, size_t ldy) {
    for (size_t n = n0; n < n1; n++)
        for (size_t r = 0; r < rows; r++) {
            float dot = 0;
            for (size_t j = 0; j < k; j++) dot += x[r * ldx + j] * w[n * k + j];
            y[r * ldy + n] = dot + (bias ? bias[n] : 0.0f);
        }
}

// Half-precision weights widen exactly to single precision, so this is the float product
// above with each weight widened as it is read.
static void gemm_few_rows_f16_portable(const float *x, size_t ldx, size_t rows, const uint16_t *w, size_t k,
                                       size_t n0, size_t n1, const float *bias, float *y, size_t ldy) {
    for (size_t n = n0; n < n1; n++)
        for (size_t r = 0; r < rows; r++) {
            float dot = 0;
            for (size_t j = 0; j < k; j++) dot += x[r * ldx + j] * hark_f16_to_f32_one(w[n * k + j]);
            y[r * ldy + n] = dot + (bias ? bias[n] : 0.0f);
        }
}

#if HARK_X86
// Every dot product is summed the same way whatever the row count: two sets of 8 lanes over k
// (even and odd blocks of 8, so that two FMA chains run side by side; the lone last block of
// 8, if any, goes to the even set), the sets added, the lanes folded (high half onto low, then
// pairs), the k % 8 tail added one by one, then the bias. So a row's result does not depend on
// which rows share the call, and one pass over the weights serves up to 8 rows, one weight row
// at a time (which reads faster than blocks of 2-4 weight rows). Two chains because with one,
// a row is bound by the FMA latency (64 dependent FMAs for k = 512) rather than by reading
// the weights.
// Half-precision weights are widened as they are loaded (exactly), so they give the same sums
// as their single-precision copies while reading half the bytes.
AVX2 static inline float fold8(__m256 acc) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define LOAD8_F32(p) _mm256_loadu_ps(p)
#define LOAD1_F32(p) (*(p))
#define LOAD8_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define LOAD1_F16(p) _cvtsh_ss(*(p))
#define AVX2_F16C __attribute__((target("avx2,fma,f16c")))

#define FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, MR)                                              \
    TARGET static void NAME##_##MR(const float *x, size_t ldx, const WEIGHT *w, size_t k, size_t n0,  \
                                   size_t n1, const float *bias, float *y, size_t ldy) {             \
        size_t k16 = k / 16 * 16, k8 = k / 8 * 8;                                                     \
        for (size_t n = n0; n < n1; n++) {                                                            \
            const WEIGHT *wn = w + n * k;                                                             \
            __m256 even[MR], odd[MR];                                                                 \
            for (int i = 0; i < MR; i++) even[i] = odd[i] = _mm256_setzero_ps();                      \
            for (size_t j = 0; j < k16; j += 16) {                                                    \
                __m256 w0 = LOAD8(wn + j), w1 = LOAD8(wn + j + 8);                                    \
                for (int i = 0; i < MR; i++) {                                                        \
                    even[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * ldx + j), w0, even[i]);         \
                    odd[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * ldx + j + 8), w1, odd[i]);       \
                }                                                                                     \
            }                                                                                         \
            if (k8 > k16) {                                                                           \
                __m256 w0 = LOAD8(wn + k16);                                                          \
                for (int i = 0; i < MR; i++)                                                          \
                    even[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * ldx + k16), w0, even[i]);       \
            }                                                                                         \
            for (int i = 0; i < MR; i++) {                                                            \
                float dot = fold8(_mm256_add_ps(even[i], odd[i]));                                    \
                for (size_t j = k8; j < k; j++) dot += x[i * ldx + j] * LOAD1(wn + j);                \
                y[i * ldy + n] = dot + (bias ? bias[n] : 0.0f);                                       \
            }                                                                                         \
        }                                                                                             \
    }

#define FEW_ROWS_1_TO_8(NAME, TARGET, WEIGHT, LOAD8, LOAD1)                                           \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 1)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 2)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 3)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 4)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 5)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 6)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 7)                                                   \
    FEW_ROWS(NAME, TARGET, WEIGHT, LOAD8, LOAD1, 8)                                                   \
    TARGET static void NAME(const float *x, size_t ldx, size_t rows, const WEIGHT *w, size_t k,       \
                            size_t n0, size_t n1, const float *bias, float *y, size_t ldy) {          \
        typedef void (*kernel)(const float *, size_t, const WEIGHT *, size_t, size_t, size_t,         \
                               const float *, float *, size_t);                                       \
        static const kernel by_rows[8] = {NAME##_1, NAME##_2, NAME##_3, NAME##_4,                     \
                                          NAME##_5, NAME##_6, NAME##_7, NAME##_8};                    \
        for (size_t r0 = 0; r0 < rows; r0 += 8) {                                                     \
            size_t mr = rows - r0 < 8 ? rows - r0 : 8;                                                \
            by_rows[mr - 1](x + r0 * ldx, ldx, w, k, n0, n1, bias, y + r0 * ldy, ldy);               \
        }                                                                                             \
    }

FEW_ROWS_1_TO_8(few_rows_avx2, AVX2, float, LOAD8_F32, LOAD1_F32)
FEW_ROWS_1_TO_8(few_rows_f16_avx2, AVX2_F16C, uint16_t, LOAD8_F16, LOAD1_F16)
#endif

void hark_gemm_f32_few_rows(const float *x, size_t ldx, size_t rows, const float *w, size_t k, size_t n0,
                            size_t n1, const float *bias, float *y, size_t ldy) {
#if HARK_X86
    if (hark_kernels_use_avx2()) {
        few_rows_avx2(x, ldx, rows, w, k, n0, n1, bias, y, ldy);
        return;
    }
#endif
    gemm_few_rows_portable(x, ldx, rows, w, k, n0, n1, bias, y, ldy);
}

void hark_gemm_f16w_few_rows(const float *x, size_t ldx, size_t rows, const uint16_t *w, size_t k, size_t n0,
                             size_t n1, const float *bias, float *y, size_t ldy) {
#if HARK_X86
    if (hark_kernels_use_avx2() && __builtin_cpu_supports("f16c")) {
        few_rows_f16_avx2(x, ldx, rows, w, k, n0, n1, bias, y, ldy);
        return;
    }
#endif
    gemm_few_rows_f16_portable(x, ldx, rows, w, k, n0, n1, bias, y, ldy);
}
