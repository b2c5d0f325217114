// Selections over a row of scores (a hypothesis's next-token logits): the k best entries and
// the maximum. The AVX2 paths compare 8 scores at a time against the current k-th best, so
// most of a 51 865-entry row is passed over without a branch per entry.

#include "hark_kernels.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

// Inserts (value, index) into the descending list of `*found` entries (at most k), after any
// equal value, so that ties keep the lower index first.
static inline void insert_best(float value, int32_t index, size_t k, int32_t *indices, float *values, size_t *found) {
    size_t position = *found;
    while (position > 0 && values[position - 1] < value) position--;
    size_t last = *found < k ? *found : k - 1;
    for (size_t i = last; i > position; i--) {
        values[i] = values[i - 1];
        indices[i] = indices[i - 1];
    }
    values[position] = value;
    indices[position] = index;
    if (*found < k) (*found)++;
}

static size_t top_k_portable(const float *x, size_t n, size_t k, int32_t *indices, float *values, size_t start,
                             size_t found) {
    for (size_t i = start; i < n; i++) {
        float v = x[i];
        if (v == -INFINITY) continue;
        if (found < k || v > values[k - 1]) insert_best(v, (int32_t)i, k, indices, values, &found);
    }
    return found;
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static size_t top_k_avx2(const float *x, size_t n, size_t k, int32_t *indices, float *values) {
    // Until k entries are found, every finite score qualifies.
    size_t found = 0, i = 0;
    for (; i < n && found < k; i++)
        if (x[i] != -INFINITY) insert_best(x[i], (int32_t)i, k, indices, values, &found);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(values[k - 1]), _CMP_GT_OQ));
        while (mask) {
            int lane = __builtin_ctz((unsigned)mask);
            mask &= mask - 1;
            if (x[i + lane] > values[k - 1]) insert_best(x[i + lane], (int32_t)(i + lane), k, indices, values, &found);
        }
    }
    return top_k_portable(x, n, k, indices, values, i, found);
}

AVX2 static float max_avx2(const float *x, size_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float lanes[8], best = -INFINITY;
    _mm256_storeu_ps(lanes, m);
    for (int j = 0; j < 8; j++) best = lanes[j] > best ? lanes[j] : best;
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}
#endif

size_t hark_top_k(const float *x, size_t n, size_t k, int32_t *indices, float *values) {
    if (k == 0) return 0;
#if HARK_X86
    if (hark_kernels_use_avx2()) return top_k_avx2(x, n, k, indices, values);
#endif
    return top_k_portable(x, n, k, indices, values, 0, 0);
}

float hark_max(const float *x, size_t n) {
#if HARK_X86
    if (hark_kernels_use_avx2()) return max_avx2(x, n);
#endif
    float best = -INFINITY;
    for (size_t i = 0; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}
