// LayerNorm over rows, computed exactly as the plain loop would be: each row's mean and variance
// are sums in index order, one addition at a time, and nothing is fused into a multiply-add.
// Rows are taken four at a time so that their four sums advance side by side; a single row's
// chain of dependent additions leaves the adder idle most of each cycle.

#include "hark_kernels.h"

#include <math.h>

#pragma clang fp contract(off)

enum { BLOCK = 4 };

void hark_layer_norm_rows(const float *x, size_t rows, size_t width, const float *gamma, const float *beta,
                          float *y) {
    const float count = (float)width;
    for (size_t r0 = 0; r0 < rows; r0 += BLOCK) {
        size_t block = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        const float *xr[BLOCK];
        float mean[BLOCK] = {0}, variance[BLOCK] = {0}, inverse[BLOCK];
        for (size_t r = 0; r < BLOCK; r++) xr[r] = x + (r0 + (r < block ? r : 0)) * width;
        for (size_t i = 0; i < width; i++)
            for (size_t r = 0; r < BLOCK; r++) mean[r] += xr[r][i];
        for (size_t r = 0; r < BLOCK; r++) mean[r] /= count;
        for (size_t i = 0; i < width; i++)
            for (size_t r = 0; r < BLOCK; r++) {
                float d = xr[r][i] - mean[r];
                variance[r] += d * d;
            }
        for (size_t r = 0; r < BLOCK; r++) {
            variance[r] /= count;
            inverse[r] = 1.0f / sqrtf(variance[r] + 1e-5f);
        }
        for (size_t r = 0; r < block; r++) {
            float *yr = y + (r0 + r) * width;
            for (size_t i = 0; i < width; i++) yr[i] = (xr[r][i] - mean[r]) * inverse[r] * gamma[i] + beta[i];
        }
    }
}
