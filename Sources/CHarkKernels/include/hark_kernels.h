#ifndef HARK_KERNELS_H
#define HARK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Converts `count` IEEE half-precision values to single precision (F16C when available).
void hark_f16_to_f32(const uint16_t *src, float *dst, size_t count);

/// Converts `count` bfloat16 values to single precision.
void hark_bf16_to_f32(const uint16_t *src, float *dst, size_t count);

#endif
