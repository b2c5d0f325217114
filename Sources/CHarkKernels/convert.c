#include "hark_kernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx,f16c")))
static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; i++) {
        dst[i] = _cvtsh_ss(src[i]);
    }
}

__attribute__((target("avx,f16c")))
static void f32_to_f16_f16c(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}
#endif

float hark_f16_to_f32_one(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exponent = 127 - 15 + 1;
            while ((mantissa & 0x400) == 0) { mantissa <<= 1; exponent--; }
            mantissa &= 0x3ff;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void hark_f16_to_f32(const uint16_t *src, float *dst, size_t count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        f16_to_f32_f16c(src, dst, count);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++) dst[i] = hark_f16_to_f32_one(src[i]);
}

void hark_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, sizeof(float));
    }
}

uint16_t hark_f32_to_f16_one(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t exponent = (bits >> 23) & 0xff, mantissa = bits & 0x7fffff;
    if (exponent == 0xff) /* infinity, or NaN kept quiet */
        return sign | 0x7c00 | (mantissa ? 0x200 | (uint16_t)(mantissa >> 13) : 0);
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return sign | 0x7c00; /* overflow */
    if (e <= 0) { /* subnormal or zero in half precision */
        if (e < -10) return sign;
        mantissa |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (mantissa >> 13), rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++; /* may carry into the exponent: still right */
    return sign | (uint16_t)half;
}

void hark_f32_to_f16(const float *src, uint16_t *dst, size_t count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        f32_to_f16_f16c(src, dst, count);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++) dst[i] = hark_f32_to_f16_one(src[i]);
}
