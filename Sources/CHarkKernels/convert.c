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

// Round to nearest even, by the bits: overflow to infinity, gradual underflow to subnormals.
static uint16_t f32_to_f16_scalar(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u)  // infinity or NaN (kept quiet, with a mantissa bit set)
        return sign | 0x7c00 | (magnitude > 0x7f800000u ? 0x200 | ((magnitude >> 13) & 0x3ff) : 0);
    if (magnitude >= 0x477ff000u) return sign | 0x7c00;  // rounds to beyond 65504
    if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
        if (magnitude < 0x33000000u) return sign;  // below half the smallest subnormal, 2^-25
        uint32_t exponent = magnitude >> 23;
        uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exponent;  // value = mantissa · 2^(exponent - 150); units of 2^-24
        uint32_t result = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (result & 1))) result++;
        return sign | (uint16_t)result;
    }
    uint32_t result = ((magnitude - 0x38000000u) >> 13);  // rebias the exponent 127 -> 15
    uint32_t rest = magnitude & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (result & 1))) result++;
    return sign | (uint16_t)result;
}

void hark_f32_to_f16_portable(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = f32_to_f16_scalar(src[i]);
}

void hark_f32_to_f16(const float *src, uint16_t *dst, size_t count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        f32_to_f16_f16c(src, dst, count);
        return;
    }
#endif
    hark_f32_to_f16_portable(src, dst, count);
}

static float f16_to_f32_scalar(uint16_t h) {
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
    for (size_t i = 0; i < count; i++) dst[i] = f16_to_f32_scalar(src[i]);
}

void hark_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, sizeof(float));
    }
}
