// Bidirectional attention of one head over a whole encoder window, in place of three BLAS
// calls (scores product, softmax, product with the values). BLAS packed the keys, the values
// and the 1500 × 1500 scores on every call and zeroed the scores before writing them (its
// copy and beta routines were ~8% of an encoder's time); here the keys and values are packed
// once per head into panels of 16, and the query rows are taken a block at a time, so a
// block's scores are written once, normalised in place and read once.
//
// Scores: tiles of 6 query rows × 16 keys, one k-step = 2 loads of packed keys, 6 broadcasts
// of query values, 12 FMAs. Values: tiles of 6 rows × 16 output lanes, one key = 2 loads of
// packed values, 6 broadcasts of probabilities, 12 FMAs. Every sum runs in index order.

#include "hark_kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

enum { LANES = 16, TILE_ROWS = 6, BLOCK_ROWS = 48 };

static size_t padded(size_t count) { return (count + LANES - 1) / LANES * LANES; }

size_t hark_attend_full_scratch(size_t count, size_t dim) {
    return 2 * padded(count) * padded(dim) + (size_t)BLOCK_ROWS * padded(count);
}

static void attend_full_portable(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                                 size_t ldv, float *out, size_t ldo, size_t rows, size_t count, size_t dim,
                                 float scale, float *scores) {
    for (size_t r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
        size_t br = rows - r0 < BLOCK_ROWS ? rows - r0 : BLOCK_ROWS;
        for (size_t r = 0; r < br; r++)
            for (size_t t = 0; t < count; t++) {
                float dot = 0;
                for (size_t d = 0; d < dim; d++) dot += q[(r0 + r) * ldq + d] * k[t * ldk + d];
                scores[r * count + t] = dot * scale;
            }
        hark_softmax_rows_portable(scores, br, count, count, NULL);
        for (size_t r = 0; r < br; r++)
            for (size_t d = 0; d < dim; d++) {
                float sum = 0;
                for (size_t t = 0; t < count; t++) sum += scores[r * count + t] * v[t * ldv + d];
                out[(r0 + r) * ldo + d] = sum;
            }
    }
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))

// Rows × 16 panel: panel p holds columns [16p, 16p + 16) of `rows` source rows, row-major,
// zero beyond `cols`. Used for the keys (rows = dim: the transpose) and the values (rows = count).
static void pack_keys(const float *k, size_t ldk, size_t count, size_t dim, float *packed) {
    size_t countp = padded(count);
    for (size_t t0 = 0; t0 < countp; t0 += LANES) {
        float *panel = packed + t0 * dim;          // [dim][16]
        for (size_t d = 0; d < dim; d++)
            for (size_t j = 0; j < LANES; j++) panel[d * LANES + j] = t0 + j < count ? k[(t0 + j) * ldk + d] : 0.0f;
    }
}

static void pack_values(const float *v, size_t ldv, size_t count, size_t dim, float *packed) {
    size_t dimp = padded(dim);
    for (size_t c0 = 0; c0 < dimp; c0 += LANES) {
        float *panel = packed + c0 * count;        // [count][16]
        for (size_t t = 0; t < count; t++)
            for (size_t j = 0; j < LANES; j++) panel[t * LANES + j] = c0 + j < dim ? v[t * ldv + c0 + j] : 0.0f;
    }
}

// The one micro-kernel of both products: acc[i] = Σ_s a[i][s] · panel[s][0 .. 16) for i < mr,
// over `steps` (the head width for the scores, the keys for the weighted sum).
__attribute__((always_inline)) AVX2 static inline void
tile_product(const int mr, const float *a, size_t lda, const float *panel, size_t steps, __m256 acc[TILE_ROWS][2]) {
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (size_t s = 0; s < steps; s++) {
        __m256 b0 = _mm256_loadu_ps(panel + s * LANES), b1 = _mm256_loadu_ps(panel + s * LANES + 8);
        for (int i = 0; i < mr; i++) {
            __m256 x = _mm256_broadcast_ss(a + (size_t)i * lda + s);
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
}

// scores[i][t0 .. t0 + 16) = scale · q[i] · keys of the panel, for i < mr.
__attribute__((always_inline)) AVX2 static inline void
scores_tile(const int mr, const float *a, size_t lda, const float *panel, size_t dim, float scale,
            float *s, size_t lds) {
    __m256 acc[TILE_ROWS][2];
    tile_product(mr, a, lda, panel, dim, acc);
    __m256 vs = _mm256_set1_ps(scale);
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(s + (size_t)i * lds, _mm256_mul_ps(acc[i][0], vs));
        _mm256_storeu_ps(s + (size_t)i * lds + 8, _mm256_mul_ps(acc[i][1], vs));
    }
}

// out[i][c0 .. c0 + 16) = Σ_t p[i][t] · values of the panel, for i < mr (the first `lanes` stored).
__attribute__((always_inline)) AVX2 static inline void
values_tile(const int mr, const float *p, size_t ldp, const float *panel, size_t count, float *o, size_t ldo,
            size_t lanes) {
    __m256 acc[TILE_ROWS][2];
    tile_product(mr, p, ldp, panel, count, acc);
    for (int i = 0; i < mr; i++) {
        float *row = o + (size_t)i * ldo;
        if (lanes == LANES) {
            _mm256_storeu_ps(row, acc[i][0]);
            _mm256_storeu_ps(row + 8, acc[i][1]);
        } else {
            float tmp[LANES];
            _mm256_storeu_ps(tmp, acc[i][0]);
            _mm256_storeu_ps(tmp + 8, acc[i][1]);
            memcpy(row, tmp, lanes * sizeof(float));
        }
    }
}

#define FOR_TILE_ROWS(mr, call)                                                                    \
    switch (mr) {                                                                                  \
    case 6: call(6); break;                                                                        \
    case 5: call(5); break;                                                                        \
    case 4: call(4); break;                                                                        \
    case 3: call(3); break;                                                                        \
    case 2: call(2); break;                                                                        \
    default: call(1); break;                                                                       \
    }

AVX2 static void attend_full_avx2(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                                  size_t ldv, float *out, size_t ldo, size_t rows, size_t count, size_t dim,
                                  float scale, float *scratch) {
    size_t countp = padded(count), dimp = padded(dim);
    float *keys = scratch, *values = keys + countp * dimp, *scores = values + countp * dimp;
    pack_keys(k, ldk, count, dim, keys);
    pack_values(v, ldv, count, dim, values);
    for (size_t r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
        size_t br = rows - r0 < BLOCK_ROWS ? rows - r0 : BLOCK_ROWS;
        for (size_t i0 = 0; i0 < br; i0 += TILE_ROWS) {
            size_t mr = br - i0 < TILE_ROWS ? br - i0 : TILE_ROWS;
            const float *a = q + (r0 + i0) * ldq;
            for (size_t t0 = 0; t0 < countp; t0 += LANES) {
#define SCORES(m) scores_tile(m, a, ldq, keys + t0 * dim, dim, scale, scores + i0 * countp + t0, countp)
                FOR_TILE_ROWS(mr, SCORES)
#undef SCORES
            }
        }
        hark_softmax_rows_avx2(scores, br, count, countp, NULL);
        for (size_t i0 = 0; i0 < br; i0 += TILE_ROWS) {
            size_t mr = br - i0 < TILE_ROWS ? br - i0 : TILE_ROWS;
            for (size_t c0 = 0; c0 < dimp; c0 += LANES) {
                size_t lanes = dim - c0 < LANES ? dim - c0 : LANES;
#define VALUES(m) values_tile(m, scores + i0 * countp, countp, values + c0 * count, count, \
                              out + (r0 + i0) * ldo + c0, ldo, lanes)
                FOR_TILE_ROWS(mr, VALUES)
#undef VALUES
            }
        }
    }
}
#endif

void hark_attend_full(const float *q, size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                      float *out, size_t ldo, size_t rows, size_t count, size_t dim, float scale, float *scratch) {
#if HARK_X86
    if (hark_kernels_use_avx2()) {
        attend_full_avx2(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, dim, scale, scratch);
        return;
    }
#endif
    attend_full_portable(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, dim, scale, scratch);
}

void hark_attend_full_portable(const float *q, size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                               float *out, size_t ldo, size_t rows, size_t count, size_t dim, float scale,
                               float *scratch) {
    attend_full_portable(q, ldq, k, ldk, v, ldv, out, ldo, rows, count, dim, scale, scratch);
}
