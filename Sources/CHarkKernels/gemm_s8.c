// int8 matrix products: quantization, weight packing, and the GEMM with a fused scale, bias
// and GELU epilogue. See include/hark_kernels.h for the layouts and the contract.
//
// AVX2 kernel. Weights are packed in panels of 16 output columns; one k-group of a panel is
// 64 bytes: 4 consecutive k values for each of the 16 columns, i.e. two 32-byte vectors of
// 8 columns × 4 k. An activation row contributes its 4 int8 values for the same k-group by a
// 32-bit broadcast, and its 4 absolute values (stored beside it by the activation quantizer)
// by another. For a row a and a vector b of weights:
//
//     t   = vpsignb(b, a)          (w · sign(a); zero where a is zero)
//     p16 = vpmaddubsw(|a|, t)     (|a|·w·sign(a) = a·w, pairs of k summed: |p16| ≤ 32258)
//     p32 = vpmaddwd(p16, 1)       (the 4 products of each column summed into int32)
//
// Both operands are in [-127, 127], so no step saturates and the int32 sums are exact.
// The micro-tile is 4 rows × 16 columns: 8 int32 accumulators, two weight loads and eight
// broadcasts per k-group; a panel's weights are reused by every row block of a chunk of rows
// sized to stay in L2 (the panel itself stays in L1). With few rows (decoder steps) the
// weights stream from memory once, prefetched 2 KiB ahead; a product of exactly 5 rows (a
// beam-5 decoder step) takes one 5 × 16 tile instead of 4 + 1.
//
// vpmaddubsw and vpmaddwd share the vector multiply pipes and vpsignb competes for one of
// them, so the multiplies bound the loop: other tile shapes, dot-product layouts, q
// interleaved with |q| and a conditional negate in place of vpsignb gain nothing over 4×16.
// |a| is stored by the activation quantizer rather than taken with vpabsb per broadcast, and
// A is not packed per 4-row block (too little gain for a second activation layout).
//
// Dropping vpsignb altogether, as the usual u8-offset scheme does (activations shifted to
// unsigned, a column-sum correction afterwards), needs activations in [-64, 64] so that the
// u8 × s8 pair sums cannot saturate, i.e. about 7 bits instead of 8. The two multiplies per
// 32 MACs, not vpsignb, are the limit, so it would gain little for doubling the activations'
// quantization noise. A kernel on 16-bit lanes (weights sign-extended to int16, vpmaddwd only)
// would gain as little, for twice the memory. Without VNNI (vpdpbusd), these multiply chains
// bound what any exact int8 kernel reaches against fp32 FMA (ceiling.c measures both ceilings
// on the CPU at hand, for `hark-bench kernels`).
//
// On CPUs that split 256-bit operations in two and have a single vector integer multiplier
// (Zen 1), int8 products are no faster than fp32 ones, and only the decoder's memory traffic
// gains from int8; interleaving FMAs with the chain does not make up for it.

#include "hark_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

enum { PANEL = HARK_S8_PANEL, KGROUP = HARK_S8_KGROUP, GROUP_BYTES = PANEL * KGROUP };

size_t hark_s8_padded_k(size_t k) { return (k + KGROUP - 1) / KGROUP * KGROUP; }

size_t hark_s8_packed_bytes(size_t n, size_t k) {
    return (n + PANEL - 1) / PANEL * PANEL * hark_s8_padded_k(k);
}

/* ------------------------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------------------------- */

int hark_kernels_have_avx2(void) {
#if HARK_X86
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

// 0 = not decided yet, 1 = portable, 2 = avx2. Races only ever store the same value.
static int dispatch_state;

static int use_avx2(void) {
    int state = __atomic_load_n(&dispatch_state, __ATOMIC_RELAXED);
    if (state == 0) {
        const char *forced = getenv("HARK_KERNELS");
        int portable = forced != NULL && strcmp(forced, "portable") == 0;
        state = (!portable && hark_kernels_have_avx2()) ? 2 : 1;
        __atomic_store_n(&dispatch_state, state, __ATOMIC_RELAXED);
    }
    return state == 2;
}

const char *hark_kernels_implementation(void) { return use_avx2() ? "avx2" : "portable"; }

int hark_kernels_use_avx2(void) { return use_avx2(); }

void hark_kernels_refresh_dispatch(void) { __atomic_store_n(&dispatch_state, 0, __ATOMIC_RELAXED); }

/* ------------------------------------------------------------------------------------------
 * Quantization
 * ---------------------------------------------------------------------------------------- */

// Rows whose largest magnitude is below this (or NaN) are treated as zero rows: their
// reciprocal scale would overflow.
#define HARK_MIN_ROW_MAX 1e-30f

static inline int8_t quantize_one(float x, float inverse) {
    float v = nearbyintf(x * inverse);
    if (v > 127.0f) v = 127.0f;
    if (v < -127.0f) v = -127.0f;
    return (int8_t)v;
}

// Quantizes one row into q[0 ..< ldq] (zero beyond cols); when `absolute` is not NULL also
// writes |q| there (ldq entries).
static void quantize_row_portable(const float *x, size_t cols, int8_t *q, size_t ldq,
                                  float *scale, int8_t *absolute) {
    float maximum = 0;
    for (size_t j = 0; j < cols; j++) {
        float v = fabsf(x[j]);
        if (v > maximum) maximum = v;
    }
    if (!(maximum >= HARK_MIN_ROW_MAX)) {
        *scale = 0;
        memset(q, 0, ldq);
        if (absolute) memset(absolute, 0, ldq);
        return;
    }
    *scale = maximum / 127.0f;
    float inverse = 127.0f / maximum;
    for (size_t j = 0; j < cols; j++) q[j] = quantize_one(x[j], inverse);
    if (ldq > cols) memset(q + cols, 0, ldq - cols);
    if (absolute)
        for (size_t j = 0; j < ldq; j++) absolute[j] = (int8_t)(q[j] < 0 ? -q[j] : q[j]);
}

void hark_s8_quantize_rows_portable(const float *x, size_t rows, size_t cols, size_t ldx,
                                    int8_t *q, size_t ldq, float *scales) {
    for (size_t r = 0; r < rows; r++) quantize_row_portable(x + r * ldx, cols, q + r * ldq, ldq, scales + r, NULL);
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static void quantize_row_avx2(const float *x, size_t cols, int8_t *q, size_t ldq,
                                   float *scale, int8_t *absolute) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 vmax = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 8 <= cols; j += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float maximum = _mm_cvtss_f32(m4);
    for (; j < cols; j++) {
        float v = fabsf(x[j]);
        if (v > maximum) maximum = v;
    }
    if (!(maximum >= HARK_MIN_ROW_MAX)) {
        *scale = 0;
        memset(q, 0, ldq);
        if (absolute) memset(absolute, 0, ldq);
        return;
    }
    *scale = maximum / 127.0f;
    float inverse = 127.0f / maximum;
    const __m256 vinv = _mm256_set1_ps(inverse);
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    j = 0;
    for (; j + 32 <= cols; j += 32) {
        __m256i v[4];
        for (int t = 0; t < 4; t++) {
            __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * t), vinv));
            v[t] = _mm256_max_epi32(_mm256_min_epi32(r, hi), lo);
        }
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
        p = _mm256_permutevar8x32_epi32(p, order);
        _mm256_storeu_si256((__m256i *)(q + j), p);
        if (absolute) _mm256_storeu_si256((__m256i *)(absolute + j), _mm256_abs_epi8(p));
    }
    for (; j < cols; j++) q[j] = quantize_one(x[j], inverse);
    if (ldq > cols) memset(q + cols, 0, ldq - cols);
    if (absolute) {
        size_t start = cols / 32 * 32;
        for (size_t t = start; t < ldq; t++) absolute[t] = (int8_t)(q[t] < 0 ? -q[t] : q[t]);
    }
}
#endif

void hark_s8_quantize_rows_avx2(const float *x, size_t rows, size_t cols, size_t ldx, int8_t *q,
                                size_t ldq, float *scales) {
#if HARK_X86
    for (size_t r = 0; r < rows; r++) quantize_row_avx2(x + r * ldx, cols, q + r * ldq, ldq, scales + r, NULL);
#else
    hark_s8_quantize_rows_portable(x, rows, cols, ldx, q, ldq, scales);
#endif
}

void hark_s8_quantize_rows(const float *x, size_t rows, size_t cols, size_t ldx, int8_t *q,
                           size_t ldq, float *scales) {
    if (use_avx2())
        hark_s8_quantize_rows_avx2(x, rows, cols, ldx, q, ldq, scales);
    else
        hark_s8_quantize_rows_portable(x, rows, cols, ldx, q, ldq, scales);
}

size_t hark_s8_activation_row_bytes(size_t k) { return 2 * hark_s8_padded_k(k); }

// Writes |q| for the padded row q[0 ..< kp] into q[kp ..< 2·kp].
static void write_abs_half(int8_t *row, size_t kp) {
    for (size_t j = 0; j < kp; j++) {
        int8_t v = row[j];
        row[kp + j] = (int8_t)(v < 0 ? -v : v);
    }
}

void hark_s8_quantize_activations(const float *x, size_t rows, size_t cols, size_t ldx,
                                  int8_t *a, size_t lda, float *scales) {
    size_t kp = hark_s8_padded_k(cols);
#if HARK_X86
    if (use_avx2()) {
        for (size_t r = 0; r < rows; r++)
            quantize_row_avx2(x + r * ldx, cols, a + r * lda, kp, scales + r, a + r * lda + kp);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++)
        quantize_row_portable(x + r * ldx, cols, a + r * lda, kp, scales + r, a + r * lda + kp);
}

void hark_s8_prepare_activations(const int8_t *q, size_t rows, size_t k, size_t ldq, int8_t *a,
                                 size_t lda) {
    size_t kp = hark_s8_padded_k(k);
    for (size_t r = 0; r < rows; r++) {
        int8_t *row = a + r * lda;
        for (size_t j = 0; j < k; j++) {
            int8_t v = q[r * ldq + j];
            row[j] = v == INT8_MIN ? -127 : v;
        }
        memset(row + k, 0, kp - k);
        write_abs_half(row, kp);
    }
}

/* ------------------------------------------------------------------------------------------
 * Packing
 * ---------------------------------------------------------------------------------------- */

static inline size_t packed_index(size_t n, size_t k, size_t panel_bytes) {
    return (n / PANEL) * panel_bytes + (k / KGROUP) * GROUP_BYTES + (n % PANEL) * KGROUP + k % KGROUP;
}

// Writes the packed bytes in order (panel, k-group, column, k), padding included, so that
// the model's load streams through its output once. A k-group of a full panel is 16 copies of
// 4 bytes and one clamp over its 64 bytes (which the compiler vectorizes); the ragged edges
// (the last panel's missing rows, the k padding) go byte by byte.
void hark_s8_pack_weights(const int8_t *w, size_t n, size_t k, size_t ldw, int8_t *packed) {
    size_t groups = hark_s8_padded_k(k) / KGROUP, full_groups = k / KGROUP;
    for (size_t p = 0; p < n; p += PANEL) {
        int full_panel = p + PANEL <= n;
        for (size_t g = 0; g < groups; g++, packed += GROUP_BYTES) {
            if (full_panel && g < full_groups) {
                for (size_t c = 0; c < PANEL; c++) memcpy(packed + c * KGROUP, w + (p + c) * ldw + g * KGROUP, KGROUP);
                for (size_t t = 0; t < GROUP_BYTES; t++) packed[t] = packed[t] < -127 ? -127 : packed[t];
                continue;
            }
            for (size_t c = 0; c < PANEL; c++)
                for (size_t t = 0; t < KGROUP; t++) {
                    size_t r = p + c, j = g * KGROUP + t;
                    int8_t v = r < n && j < k ? w[r * ldw + j] : 0;
                    packed[c * KGROUP + t] = v == INT8_MIN ? -127 : v;
                }
        }
    }
}

void hark_s8_unpack_weights(const int8_t *packed, size_t n, size_t k, int8_t *w, size_t ldw) {
    size_t panel_bytes = PANEL * hark_s8_padded_k(k);
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < k; j++) w[r * ldw + j] = packed[packed_index(r, j, panel_bytes)];
}

/* ------------------------------------------------------------------------------------------
 * Portable GEMM
 * ---------------------------------------------------------------------------------------- */

static inline float gelu_scalar(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

void hark_gelu_portable(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = gelu_scalar(x[i]);
}

// The 16 dot products of activation row `a` with the columns of one panel. Written so that
// compilers vectorize the loop over the columns (SSE2, NEON) without any intrinsics.
static void panel_dots_portable(const int8_t *a, const int8_t *panel, size_t groups,
                                int32_t acc[PANEL]) {
    for (int j = 0; j < PANEL; j++) acc[j] = 0;
    for (size_t g = 0; g < groups; g++) {
        const int8_t *b = panel + g * GROUP_BYTES;
        int32_t a0 = a[4 * g], a1 = a[4 * g + 1], a2 = a[4 * g + 2], a3 = a[4 * g + 3];
        for (int j = 0; j < PANEL; j++)
            acc[j] += a0 * b[4 * j] + a1 * b[4 * j + 1] + a2 * b[4 * j + 2] + a3 * b[4 * j + 3];
    }
}

void hark_gemm_s8_i32_portable(const int8_t *a, size_t lda, const int8_t *packed_w, int32_t *acc,
                               size_t ldc, size_t k, size_t m0, size_t m1, size_t n0, size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    size_t groups = hark_s8_padded_k(k) / KGROUP, panel_bytes = PANEL * groups * KGROUP;
    int32_t dots[PANEL];
    for (size_t m = m0; m < m1; m++) {
        for (size_t p = n0 / PANEL; p * PANEL < n1; p++) {
            panel_dots_portable(a + m * lda, packed_w + p * panel_bytes, groups, dots);
            for (size_t n = p * PANEL > n0 ? p * PANEL : n0; n < n1 && n < (p + 1) * PANEL; n++)
                acc[m * ldc + n] = dots[n - p * PANEL];
        }
    }
}

void hark_gemm_s8_portable(const int8_t *a, size_t lda, const float *sa, const int8_t *packed_w,
                           const float *sw, const float *bias, float *c, size_t ldc, size_t k,
                           size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags) {
    if (m0 >= m1 || n0 >= n1) return;
    size_t groups = hark_s8_padded_k(k) / KGROUP, panel_bytes = PANEL * groups * KGROUP;
    int32_t dots[PANEL];
    for (size_t m = m0; m < m1; m++) {
        for (size_t p = n0 / PANEL; p * PANEL < n1; p++) {
            panel_dots_portable(a + m * lda, packed_w + p * panel_bytes, groups, dots);
            for (size_t n = p * PANEL > n0 ? p * PANEL : n0; n < n1 && n < (p + 1) * PANEL; n++) {
                float v = (float)dots[n - p * PANEL] * sa[m] * sw[n] + (bias ? bias[n] : 0.0f);
                c[m * ldc + n] = (flags & HARK_GEMM_GELU) ? gelu_scalar(v) : v;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * AVX2 GEMM
 * ---------------------------------------------------------------------------------------- */

#if HARK_X86

// erf by the rational approximation used by Eigen and XLA: erf(x) = x·P(x²)/Q(x²) on
// [-4, 4] (±1 beyond, to float precision); a few ulp of error.
AVX2 static inline __m256 gelu8(__m256 x) {
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    t = _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(4.0f)), _mm256_set1_ps(-4.0f));
    __m256 t2 = _mm256_mul_ps(t, t);
    __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(-1.60960333262415e-02f));
    p = _mm256_mul_ps(p, t);
    __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
    q = _mm256_fmadd_ps(q, t2, _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(q, t2, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(q, t2, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(q, t2, _mm256_set1_ps(-1.42647390514189e-02f));
    __m256 erf = _mm256_div_ps(p, q);
    __m256 half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(half_x, erf, half_x);
}

AVX2 void hark_gelu_avx2(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < count) {
        float tmp[8] = {0};
        memcpy(tmp, x + i, (count - i) * sizeof(float));
        _mm256_storeu_ps(tmp, gelu8(_mm256_loadu_ps(tmp)));
        memcpy(x + i, tmp, (count - i) * sizeof(float));
    }
}

enum { MODE_F32 = 0, MODE_F32_GELU = 1, MODE_I32 = 2 };
enum { MR = 4, MR_BEAM = 5 };

/// What one panel's tiles share: the output columns [jlo, jhi) of this panel that are written
/// and their scales and biases (copied and zero-padded when the panel is partial).
typedef struct {
    const int8_t *b;    // the panel's packed weights
    size_t col;         // absolute index of the panel's first column
    int jlo, jhi;       // columns of the panel to store
    const float *sw;    // 16 weight scales for the panel's columns
    const float *bias;  // 16 biases, or NULL
} panel_ctx;

// How far ahead (bytes) to prefetch weights when they stream from memory once (few rows).
#define HARK_PREFETCH_BYTES 2048

// One tile: rows [row, row + mr) × the 16 columns of a panel, over `groups` k-groups.
// `stream`: the weights are read once (few rows), so prefetch them ahead.
__attribute__((always_inline)) AVX2 static inline void
tile_avx2(const int mr, const int mode, const int stream, const int8_t *a, size_t lda,
          size_t groups, size_t row, const panel_ctx *p, const float *sa, float *c, int32_t *c32,
          size_t ldc) {
    __m256i acc[MR_BEAM][2];
    const int8_t *ap[MR_BEAM];
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm256_setzero_si256();
        acc[i][1] = _mm256_setzero_si256();
        ap[i] = a + (row + (size_t)i) * lda;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t abs_offset = groups * KGROUP;
    const int8_t *b = p->b;
    for (size_t g = 0; g < groups; g++, b += GROUP_BYTES) {
        if (stream) _mm_prefetch((const char *)(b + HARK_PREFETCH_BYTES), _MM_HINT_T0);
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        for (int i = 0; i < mr; i++) {
            int32_t bits, abs_bits;
            memcpy(&bits, ap[i] + g * KGROUP, sizeof bits);
            memcpy(&abs_bits, ap[i] + abs_offset + g * KGROUP, sizeof abs_bits);
            __m256i av = _mm256_set1_epi32(bits);
            __m256i aa = _mm256_set1_epi32(abs_bits);
            __m256i p0 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(b0, av));
            __m256i p1 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(b1, av));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(p0, ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(p1, ones));
        }
    }

    const int full = p->jlo == 0 && p->jhi == PANEL;
    if (mode == MODE_I32) {
        for (int i = 0; i < mr; i++) {
            int32_t *out = c32 + (row + (size_t)i) * ldc + p->col;
            if (full) {
                _mm256_storeu_si256((__m256i *)out, acc[i][0]);
                _mm256_storeu_si256((__m256i *)(out + 8), acc[i][1]);
            } else {
                int32_t tmp[PANEL];
                _mm256_storeu_si256((__m256i *)tmp, acc[i][0]);
                _mm256_storeu_si256((__m256i *)(tmp + 8), acc[i][1]);
                for (int j = p->jlo; j < p->jhi; j++) out[j] = tmp[j];
            }
        }
        return;
    }
    const __m256 w0 = _mm256_loadu_ps(p->sw), w1 = _mm256_loadu_ps(p->sw + 8);
    const __m256 z0 = p->bias ? _mm256_loadu_ps(p->bias) : _mm256_setzero_ps();
    const __m256 z1 = p->bias ? _mm256_loadu_ps(p->bias + 8) : _mm256_setzero_ps();
    for (int i = 0; i < mr; i++) {
        __m256 s = _mm256_set1_ps(sa[row + (size_t)i]);
        __m256 f0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][0]), s), w0, z0);
        __m256 f1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][1]), s), w1, z1);
        if (mode == MODE_F32_GELU) {
            f0 = gelu8(f0);
            f1 = gelu8(f1);
        }
        float *out = c + (row + (size_t)i) * ldc + p->col;
        if (full) {
            _mm256_storeu_ps(out, f0);
            _mm256_storeu_ps(out + 8, f1);
        } else {
            float tmp[PANEL];
            _mm256_storeu_ps(tmp, f0);
            _mm256_storeu_ps(tmp + 8, f1);
            for (int j = p->jlo; j < p->jhi; j++) out[j] = tmp[j];
        }
    }
}

// Rows [r0, r1) of one panel, in tiles of MR rows then the remainder.
__attribute__((always_inline)) AVX2 static inline void
panel_rows_avx2(const int mode, const int stream, const int8_t *a, size_t lda, size_t groups,
                size_t r0, size_t r1, const panel_ctx *p, const float *sa, float *c, int32_t *c32,
                size_t ldc) {
    size_t r = r0;
    if (r1 - r0 == MR_BEAM) {
        // A decoder step of five hypotheses (beam 5): one tile reads the panel once, where a
        // tile of 4 and one of 1 read it twice and pay two epilogues.
        tile_avx2(MR_BEAM, mode, stream, a, lda, groups, r, p, sa, c, c32, ldc);
        return;
    }
    for (; r + MR <= r1; r += MR) tile_avx2(MR, mode, stream, a, lda, groups, r, p, sa, c, c32, ldc);
    switch (r1 - r) {
    case 3: tile_avx2(3, mode, stream, a, lda, groups, r, p, sa, c, c32, ldc); break;
    case 2: tile_avx2(2, mode, stream, a, lda, groups, r, p, sa, c, c32, ldc); break;
    case 1: tile_avx2(1, mode, stream, a, lda, groups, r, p, sa, c, c32, ldc); break;
    default: break;
    }
}

// Up to this many rows, a product streams its weights once from memory (decoder steps).
#define HARK_STREAM_ROWS 8

// Bytes of activations a chunk of rows may take so that it stays in L2 next to the weights.
#define HARK_A_CHUNK_BYTES (64 * 1024)

AVX2 static void gemm_avx2(const int mode, const int8_t *a, size_t lda, const float *sa,
                           const int8_t *packed_w, const float *sw, const float *bias, float *c,
                           int32_t *c32, size_t ldc, size_t k, size_t m0, size_t m1, size_t n0,
                           size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    size_t kp = hark_s8_padded_k(k), groups = kp / KGROUP, panel_bytes = PANEL * kp;
    size_t chunk = HARK_A_CHUNK_BYTES / (2 * kp ? 2 * kp : 1) / MR * MR;
    if (chunk < MR) chunk = MR;
    size_t p0 = n0 / PANEL, p1 = (n1 + PANEL - 1) / PANEL;
    for (size_t r0 = m0; r0 < m1; r0 += chunk) {
        size_t r1 = r0 + chunk < m1 ? r0 + chunk : m1;
        for (size_t pi = p0; pi < p1; pi++) {
            panel_ctx p;
            float sw_pad[PANEL], bias_pad[PANEL];
            p.b = packed_w + pi * panel_bytes;
            p.col = pi * PANEL;
            p.jlo = n0 > p.col ? (int)(n0 - p.col) : 0;
            p.jhi = n1 < p.col + PANEL ? (int)(n1 - p.col) : PANEL;
            p.sw = sw ? sw + p.col : NULL;
            p.bias = bias ? bias + p.col : NULL;
            if (mode != MODE_I32 && (p.jlo != 0 || p.jhi != PANEL)) {
                // Never read scales or biases outside [n0, n1).
                for (int j = 0; j < PANEL; j++) {
                    int inside = j >= p.jlo && j < p.jhi;
                    sw_pad[j] = inside ? sw[p.col + (size_t)j] : 0.0f;
                    bias_pad[j] = inside && bias ? bias[p.col + (size_t)j] : 0.0f;
                }
                p.sw = sw_pad;
                p.bias = bias ? bias_pad : NULL;
            }
            const int stream = m1 - m0 <= HARK_STREAM_ROWS;
            if (mode == MODE_F32 && stream)
                panel_rows_avx2(MODE_F32, 1, a, lda, groups, r0, r1, &p, sa, c, c32, ldc);
            else if (mode == MODE_F32)
                panel_rows_avx2(MODE_F32, 0, a, lda, groups, r0, r1, &p, sa, c, c32, ldc);
            else if (mode == MODE_F32_GELU && stream)
                panel_rows_avx2(MODE_F32_GELU, 1, a, lda, groups, r0, r1, &p, sa, c, c32, ldc);
            else if (mode == MODE_F32_GELU)
                panel_rows_avx2(MODE_F32_GELU, 0, a, lda, groups, r0, r1, &p, sa, c, c32, ldc);
            else
                panel_rows_avx2(MODE_I32, stream, a, lda, groups, r0, r1, &p, sa, c, c32, ldc);
        }
    }
}

void hark_gemm_s8_avx2(const int8_t *a, size_t lda, const float *sa, const int8_t *packed_w,
                       const float *sw, const float *bias, float *c, size_t ldc, size_t k,
                       size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags) {
    gemm_avx2((flags & HARK_GEMM_GELU) ? MODE_F32_GELU : MODE_F32, a, lda, sa, packed_w, sw, bias,
              c, NULL, ldc, k, m0, m1, n0, n1);
}

void hark_gemm_s8_i32_avx2(const int8_t *a, size_t lda, const int8_t *packed_w, int32_t *acc,
                           size_t ldc, size_t k, size_t m0, size_t m1, size_t n0, size_t n1) {
    gemm_avx2(MODE_I32, a, lda, NULL, packed_w, NULL, NULL, NULL, acc, ldc, k, m0, m1, n0, n1);
}

#else // not x86: the AVX2 entry points fall back to the portable code.

void hark_gelu_avx2(float *x, size_t count) { hark_gelu_portable(x, count); }

void hark_gemm_s8_avx2(const int8_t *a, size_t lda, const float *sa, const int8_t *packed_w,
                       const float *sw, const float *bias, float *c, size_t ldc, size_t k,
                       size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags) {
    hark_gemm_s8_portable(a, lda, sa, packed_w, sw, bias, c, ldc, k, m0, m1, n0, n1, flags);
}

void hark_gemm_s8_i32_avx2(const int8_t *a, size_t lda, const int8_t *packed_w, int32_t *acc,
                           size_t ldc, size_t k, size_t m0, size_t m1, size_t n0, size_t n1) {
    hark_gemm_s8_i32_portable(a, lda, packed_w, acc, ldc, k, m0, m1, n0, n1);
}

#endif

void hark_gemm_s8(const int8_t *a, size_t lda, const float *sa, const int8_t *packed_w,
                  const float *sw, const float *bias, float *c, size_t ldc, size_t k, size_t m0,
                  size_t m1, size_t n0, size_t n1, unsigned flags) {
    if (use_avx2())
        hark_gemm_s8_avx2(a, lda, sa, packed_w, sw, bias, c, ldc, k, m0, m1, n0, n1, flags);
    else
        hark_gemm_s8_portable(a, lda, sa, packed_w, sw, bias, c, ldc, k, m0, m1, n0, n1, flags);
}
