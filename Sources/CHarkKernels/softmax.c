// Row softmax with a vectorized exp: the attention probabilities of every layer.
//
// exp(x) for x ≤ 0 (inputs are shifted by the row maximum) as 2^n · p(r): n = round(x·log2 e),
// r = x − n·ln 2 in two parts (Cody–Waite), p the degree-6 polynomial of Cephes' expf,
// |relative error| < 2e-7 over [-87, 0]; below -87 the result is 0 (as expf underflows there
// to below 1e-38, far under a probability's float resolution next to the row maximum's 1).

#include "hark_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

// Softmax of x[0, valid) into y[0, valid) (x == y: in place), y[valid, width) zero; with
// `clear` (x != y), x[0, width) is left zeros.
static void softmax_row_portable(float *x, float *y, int clear, size_t width, size_t valid) {
    float maximum = -INFINITY;
    for (size_t i = 0; i < valid; i++) maximum = x[i] > maximum ? x[i] : maximum;
    float sum = 0;
    for (size_t i = 0; i < valid; i++) {
        float e = expf(x[i] - maximum);
        y[i] = e;
        sum += e;
    }
    float inverse = 1.0f / sum;
    for (size_t i = 0; i < valid; i++) y[i] *= inverse;
    for (size_t i = valid; i < width; i++) y[i] = 0;
    if (clear) memset(x, 0, width * sizeof *x);
}

void hark_softmax_rows_portable(float *x, size_t rows, size_t width, size_t ld, const size_t *valid) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * ld;
        softmax_row_portable(row, row, 0, width, valid ? valid[r] : width);
    }
}

void hark_softmax_rows_moving_portable(float *scores, float *probabilities, size_t rows, size_t width, size_t ld) {
    for (size_t r = 0; r < rows; r++) softmax_row_portable(scores + r * ld, probabilities + r * ld, 1, width, width);
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))

#include "exp8.h"

AVX2 static inline float horizontal_max(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX2 static inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// As softmax_row_portable, with the polynomial exp.
AVX2 static inline void softmax_row_avx2(float *x, float *y, int clear, size_t width, size_t valid) {
    size_t i = 0;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= valid; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float maximum = horizontal_max(vmax);
    for (; i < valid; i++) maximum = x[i] > maximum ? x[i] : maximum;

    const __m256 shift = _mm256_set1_ps(maximum);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= valid; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift));
        _mm256_storeu_ps(y + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (i < valid) {
        float tail[8];
        size_t n = valid - i;
        for (size_t j = 0; j < 8; j++) tail[j] = j < n ? x[i + j] - maximum : -INFINITY;
        __m256 e = exp8(_mm256_loadu_ps(tail));
        _mm256_storeu_ps(tail, e);
        vsum = _mm256_add_ps(vsum, e);
        for (size_t j = 0; j < n; j++) y[i + j] = tail[j];
    }
    const __m256 inverse = _mm256_set1_ps(1.0f / horizontal_sum(vsum));
    for (i = 0; i + 8 <= valid; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inverse));
    for (; i < valid; i++) y[i] *= _mm256_cvtss_f32(inverse);
    for (i = valid; i < width; i++) y[i] = 0;
    if (clear) memset(x, 0, width * sizeof *x);
}

AVX2 void hark_softmax_rows_avx2(float *x, size_t rows, size_t width, size_t ld, const size_t *valid) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * ld;
        softmax_row_avx2(row, row, 0, width, valid ? valid[r] : width);
    }
}

AVX2 void hark_softmax_rows_moving_avx2(float *scores, float *probabilities, size_t rows, size_t width, size_t ld) {
    for (size_t r = 0; r < rows; r++) softmax_row_avx2(scores + r * ld, probabilities + r * ld, 1, width, width);
}

AVX2 void hark_exp_avx2(const float *x, float *y, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    for (; i < count; i++) {
        float lane[8] = {x[i], 0, 0, 0, 0, 0, 0, 0};
        _mm256_storeu_ps(lane, exp8(_mm256_loadu_ps(lane)));
        y[i] = lane[0];
    }
}
#else
void hark_softmax_rows_avx2(float *x, size_t rows, size_t width, size_t ld, const size_t *valid) {
    hark_softmax_rows_portable(x, rows, width, ld, valid);
}
void hark_softmax_rows_moving_avx2(float *scores, float *probabilities, size_t rows, size_t width, size_t ld) {
    hark_softmax_rows_moving_portable(scores, probabilities, rows, width, ld);
}
void hark_exp_avx2(const float *x, float *y, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] = expf(x[i]);
}
#endif

void hark_softmax_rows(float *x, size_t rows, size_t width, size_t ld, const size_t *valid) {
    if (hark_kernels_use_avx2())
        hark_softmax_rows_avx2(x, rows, width, ld, valid);
    else
        hark_softmax_rows_portable(x, rows, width, ld, valid);
}

void hark_softmax_rows_moving(float *scores, float *probabilities, size_t rows, size_t width, size_t ld) {
    if (hark_kernels_use_avx2())
        hark_softmax_rows_moving_avx2(scores, probabilities, rows, width, ld);
    else
        hark_softmax_rows_moving_portable(scores, probabilities, rows, width, ld);
}

static float log_sum_exp_portable(const float *x, size_t n) {
    float maximum = -INFINITY;
    for (size_t i = 0; i < n; i++) maximum = x[i] > maximum ? x[i] : maximum;
    if (maximum == -INFINITY) return -INFINITY;
    float sum = 0;
    for (size_t i = 0; i < n; i++) sum += expf(x[i] - maximum);
    return maximum + logf(sum);
}

#if HARK_X86
AVX2 static float log_sum_exp_avx2(const float *x, size_t n) {
    size_t i = 0;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float maximum = horizontal_max(vmax);
    for (; i < n; i++) maximum = x[i] > maximum ? x[i] : maximum;
    if (maximum == -INFINITY) return -INFINITY;
    const __m256 shift = _mm256_set1_ps(maximum);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) vsum = _mm256_add_ps(vsum, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift)));
    float tail[8];
    for (size_t j = 0; j < 8; j++) tail[j] = i + j < n ? x[i + j] - maximum : -INFINITY;
    vsum = _mm256_add_ps(vsum, exp8(_mm256_loadu_ps(tail)));
    return maximum + logf(horizontal_sum(vsum));
}
#endif

float hark_log_sum_exp(const float *x, size_t n) {
#if HARK_X86
    if (hark_kernels_use_avx2()) return log_sum_exp_avx2(x, n);
#endif
    return log_sum_exp_portable(x, n);
}
