// The float32 kernels of the speech detector (Silero VAD, HarkSpeech): small matrix products
// and the LSTM cell.
//
//   C[m][n] += A[m][k] · B[k][n]      (row-major; then max(C, 0) with HARK_F32_RELU)
//
// B is a weight matrix stored k-major (transposed once when the weights load) so that a row of
// B is n consecutive output columns: the AVX2 kernels broadcast one value of A and multiply it
// into 16 columns of B at a time, with no horizontal sums. The caller puts the bias in C
// first. n must be a multiple of 16 (the caller pads its weights with zero columns).
//
// On a CPU with AVX-512F, four rows by 32 columns go through 512-bit registers (twice the
// work per instruction); the result is the same, lane for lane.
//
// Why not OpenBLAS: the products are small (m of 1 to a few hundred rows) and Debian 12's
// OpenBLAS 0.3.21 does not recognise every recent x86 CPU (on this project's machine it falls
// back to its SSE3 "Prescott" kernels, 2.5× slower here than these); these kernels depend only
// on AVX2 and FMA being there.
//
// Every output is Σ_p A[i][p]·B[p][j] accumulated in order of p. The vector paths use one
// fused multiply-add per term, and so does the portable loop where the target has a fast
// fmaf (FP_FAST_FMAF: arm64, or x86 built with FMA); elsewhere (x86-64's baseline, where fmaf
// is a slow library routine) it multiplies, then adds, and may differ in the last bit.

#include "hark_kernels.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#define AVX2 __attribute__((target("avx2,fma")))
#endif

void hark_f32_gemm_acc_portable(size_t m, size_t n, size_t k, const float *a, size_t lda,
                                const float *b, size_t ldb, float *c, size_t ldc, unsigned flags) {
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (size_t p = 0; p < k; p++) {
            const float x = a[i * lda + p];
            const float *weights = b + p * ldb;
#ifdef FP_FAST_FMAF
            for (size_t j = 0; j < n; j++) row[j] = fmaf(x, weights[j], row[j]);
#else
            for (size_t j = 0; j < n; j++) row[j] += x * weights[j];
#endif
        }
        if (flags & HARK_F32_RELU) {
            for (size_t j = 0; j < n; j++) row[j] = row[j] > 0 ? row[j] : 0;
        }
    }
}

#if HARK_X86

// Four rows of A against 16 columns of B: 8 accumulators.
AVX2 static void block_4x16(size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                            float *c, size_t ldc, int relu) {
    float *c0 = c, *c1 = c + ldc, *c2 = c + 2 * ldc, *c3 = c + 3 * ldc;
    __m256 s00 = _mm256_loadu_ps(c0), s01 = _mm256_loadu_ps(c0 + 8);
    __m256 s10 = _mm256_loadu_ps(c1), s11 = _mm256_loadu_ps(c1 + 8);
    __m256 s20 = _mm256_loadu_ps(c2), s21 = _mm256_loadu_ps(c2 + 8);
    __m256 s30 = _mm256_loadu_ps(c3), s31 = _mm256_loadu_ps(c3 + 8);
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    for (size_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_loadu_ps(b + p * ldb), b1 = _mm256_loadu_ps(b + p * ldb + 8);
        __m256 x = _mm256_broadcast_ss(a0 + p);
        s00 = _mm256_fmadd_ps(x, b0, s00);
        s01 = _mm256_fmadd_ps(x, b1, s01);
        x = _mm256_broadcast_ss(a1 + p);
        s10 = _mm256_fmadd_ps(x, b0, s10);
        s11 = _mm256_fmadd_ps(x, b1, s11);
        x = _mm256_broadcast_ss(a2 + p);
        s20 = _mm256_fmadd_ps(x, b0, s20);
        s21 = _mm256_fmadd_ps(x, b1, s21);
        x = _mm256_broadcast_ss(a3 + p);
        s30 = _mm256_fmadd_ps(x, b0, s30);
        s31 = _mm256_fmadd_ps(x, b1, s31);
    }
    if (relu) {
        const __m256 zero = _mm256_setzero_ps();
        s00 = _mm256_max_ps(s00, zero); s01 = _mm256_max_ps(s01, zero);
        s10 = _mm256_max_ps(s10, zero); s11 = _mm256_max_ps(s11, zero);
        s20 = _mm256_max_ps(s20, zero); s21 = _mm256_max_ps(s21, zero);
        s30 = _mm256_max_ps(s30, zero); s31 = _mm256_max_ps(s31, zero);
    }
    _mm256_storeu_ps(c0, s00); _mm256_storeu_ps(c0 + 8, s01);
    _mm256_storeu_ps(c1, s10); _mm256_storeu_ps(c1 + 8, s11);
    _mm256_storeu_ps(c2, s20); _mm256_storeu_ps(c2 + 8, s21);
    _mm256_storeu_ps(c3, s30); _mm256_storeu_ps(c3 + 8, s31);
}

// One row of A against 64 columns of B: 8 independent accumulators, so that a single row (the
// LSTM's recurrent product) is not held up by the latency of one chain of FMAs.
AVX2 static void row_1x64(size_t k, const float *a, const float *b, size_t ldb, float *c, int relu) {
    __m256 s[8];
    for (int v = 0; v < 8; v++) s[v] = _mm256_loadu_ps(c + 8 * v);
    for (size_t p = 0; p < k; p++) {
        const __m256 x = _mm256_broadcast_ss(a + p);
        const float *row = b + p * ldb;
        for (int v = 0; v < 8; v++) s[v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(row + 8 * v), s[v]);
    }
    for (int v = 0; v < 8; v++) {
        _mm256_storeu_ps(c + 8 * v, relu ? _mm256_max_ps(s[v], _mm256_setzero_ps()) : s[v]);
    }
}

// One row of A against 16 columns of B.
AVX2 static void row_1x16(size_t k, const float *a, const float *b, size_t ldb, float *c, int relu) {
    __m256 s0 = _mm256_loadu_ps(c), s1 = _mm256_loadu_ps(c + 8);
    for (size_t p = 0; p < k; p++) {
        const __m256 x = _mm256_broadcast_ss(a + p);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + p * ldb), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + p * ldb + 8), s1);
    }
    if (relu) {
        s0 = _mm256_max_ps(s0, _mm256_setzero_ps());
        s1 = _mm256_max_ps(s1, _mm256_setzero_ps());
    }
    _mm256_storeu_ps(c, s0);
    _mm256_storeu_ps(c + 8, s1);
}

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

// Four rows of A against 32 columns of B in 512-bit registers: 8 accumulators.
AVX512 static void block_4x32(size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                              float *c, size_t ldc, int relu) {
    float *c0 = c, *c1 = c + ldc, *c2 = c + 2 * ldc, *c3 = c + 3 * ldc;
    __m512 s00 = _mm512_loadu_ps(c0), s01 = _mm512_loadu_ps(c0 + 16);
    __m512 s10 = _mm512_loadu_ps(c1), s11 = _mm512_loadu_ps(c1 + 16);
    __m512 s20 = _mm512_loadu_ps(c2), s21 = _mm512_loadu_ps(c2 + 16);
    __m512 s30 = _mm512_loadu_ps(c3), s31 = _mm512_loadu_ps(c3 + 16);
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    for (size_t p = 0; p < k; p++) {
        const __m512 b0 = _mm512_loadu_ps(b + p * ldb), b1 = _mm512_loadu_ps(b + p * ldb + 16);
        __m512 x = _mm512_set1_ps(a0[p]);
        s00 = _mm512_fmadd_ps(x, b0, s00);
        s01 = _mm512_fmadd_ps(x, b1, s01);
        x = _mm512_set1_ps(a1[p]);
        s10 = _mm512_fmadd_ps(x, b0, s10);
        s11 = _mm512_fmadd_ps(x, b1, s11);
        x = _mm512_set1_ps(a2[p]);
        s20 = _mm512_fmadd_ps(x, b0, s20);
        s21 = _mm512_fmadd_ps(x, b1, s21);
        x = _mm512_set1_ps(a3[p]);
        s30 = _mm512_fmadd_ps(x, b0, s30);
        s31 = _mm512_fmadd_ps(x, b1, s31);
    }
    if (relu) {
        const __m512 zero = _mm512_setzero_ps();
        s00 = _mm512_max_ps(s00, zero); s01 = _mm512_max_ps(s01, zero);
        s10 = _mm512_max_ps(s10, zero); s11 = _mm512_max_ps(s11, zero);
        s20 = _mm512_max_ps(s20, zero); s21 = _mm512_max_ps(s21, zero);
        s30 = _mm512_max_ps(s30, zero); s31 = _mm512_max_ps(s31, zero);
    }
    _mm512_storeu_ps(c0, s00); _mm512_storeu_ps(c0 + 16, s01);
    _mm512_storeu_ps(c1, s10); _mm512_storeu_ps(c1 + 16, s11);
    _mm512_storeu_ps(c2, s20); _mm512_storeu_ps(c2 + 16, s21);
    _mm512_storeu_ps(c3, s30); _mm512_storeu_ps(c3 + 16, s31);
}

// Whether the 512-bit kernel runs: the CPU has AVX-512F (checked once; races store the same).
static int use_avx512(void) {
    static int state;  // 0 unknown, 1 no, 2 yes
    int known = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (known == 0) {
        known = __builtin_cpu_supports("avx512f") ? 2 : 1;
        __atomic_store_n(&state, known, __ATOMIC_RELAXED);
    }
    return known == 2;
}

AVX2 static void gemm_acc_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda,
                               const float *b, size_t ldb, float *c, size_t ldc, int relu) {
    const size_t whole = m / 4 * 4;
    // Column panels outside, rows inside: a panel of B (k × 32 or 16) stays in L1 for every
    // row block. 32 columns at a time with AVX-512, the last 16 (if any) with AVX2.
    size_t j = 0;
    if (whole > 0 && use_avx512()) {
        for (; j + 32 <= n; j += 32) {
            for (size_t i = 0; i < whole; i += 4) block_4x32(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, relu);
        }
    }
    for (; j < n && whole > 0; j += 16) {
        for (size_t i = 0; i < whole; i += 4) block_4x16(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, relu);
    }
    for (size_t i = whole; i < m; i++) {
        size_t j = 0;
        for (; j + 64 <= n; j += 64) row_1x64(k, a + i * lda, b + j, ldb, c + i * ldc + j, relu);
        for (; j < n; j += 16) row_1x16(k, a + i * lda, b + j, ldb, c + i * ldc + j, relu);
    }
}

#endif

void hark_f32_gemm_acc(size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc, unsigned flags) {
#if HARK_X86
    if (n % 16 == 0 && hark_kernels_use_avx2()) {
        gemm_acc_avx2(m, n, k, a, lda, b, ldb, c, ldc, (flags & HARK_F32_RELU) != 0);
        return;
    }
#endif
    hark_f32_gemm_acc_portable(m, n, k, a, lda, b, ldb, c, ldc, flags);
}

/* ------------------------------------------------------------------------------------------
 * The LSTM cell
 *
 * σ(x) = 1 / (1 + e^−x) and tanh(x) = sign(x)·(1 − e^−2|x|) / (1 + e^−2|x|), both from e^−y
 * for y ≥ 0, which cannot overflow. The AVX2 path computes e^−y with Cephes' expf polynomial
 * (as softmax.c does; relative error < 2e-7), the portable one with expf; both then agree
 * with libm's sigmoid and tanhf within 3e-7.
 * ---------------------------------------------------------------------------------------- */

static inline float sigmoid_portable(float x) {
    const float e = expf(-fabsf(x));
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static inline float tanh_portable(float x) {
    const float e = expf(-2.0f * fabsf(x));
    const float t = (1.0f - e) / (1.0f + e);
    return x >= 0 ? t : -t;
}

void hark_f32_lstm_cell_portable(const float *gates, float *cell, float *hidden, size_t n) {
    for (size_t j = 0; j < n; j++) {
        const float c = sigmoid_portable(gates[n + j]) * cell[j] + sigmoid_portable(gates[j]) * tanh_portable(gates[2 * n + j]);
        cell[j] = c;
        hidden[j] = sigmoid_portable(gates[3 * n + j]) * tanh_portable(c);
    }
}

#if HARK_X86

#include "exp8.h"

// e^−y for y ≥ 0 (0 where it underflows, below e^−87.3).
AVX2 static inline __m256 exp_negative8(__m256 y) { return exp8(_mm256_sub_ps(_mm256_setzero_ps(), y)); }

AVX2 static inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

AVX2 static inline __m256 sigmoid8(__m256 x) {
    const __m256 e = exp_negative8(abs8(x));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 inverse = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(inverse, _mm256_mul_ps(e, inverse), negative);
}

AVX2 static inline __m256 tanh8(__m256 x) {
    const __m256 e = exp_negative8(_mm256_mul_ps(_mm256_set1_ps(2.0f), abs8(x)));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    // The sign of x onto t (t ≥ 0).
    return _mm256_or_ps(t, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
}

AVX2 static void lstm_cell_avx2(const float *gates, float *cell, float *hidden, size_t n) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 i = sigmoid8(_mm256_loadu_ps(gates + j));
        const __m256 f = sigmoid8(_mm256_loadu_ps(gates + n + j));
        const __m256 g = tanh8(_mm256_loadu_ps(gates + 2 * n + j));
        const __m256 o = sigmoid8(_mm256_loadu_ps(gates + 3 * n + j));
        const __m256 c = _mm256_fmadd_ps(f, _mm256_loadu_ps(cell + j), _mm256_mul_ps(i, g));
        _mm256_storeu_ps(cell + j, c);
        _mm256_storeu_ps(hidden + j, _mm256_mul_ps(o, tanh8(c)));
    }
    if (j < n) hark_f32_lstm_cell_portable(gates + j, cell + j, hidden + j, n - j);  // never for n = 128
}

#endif

void hark_f32_lstm_cell(const float *gates, float *cell, float *hidden, size_t n) {
#if HARK_X86
    if (n % 8 == 0 && hark_kernels_use_avx2()) {
        lstm_cell_avx2(gates, cell, hidden, n);
        return;
    }
#endif
    hark_f32_lstm_cell_portable(gates, cell, hidden, n);
}
