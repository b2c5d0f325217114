// The multiply throughput of this CPU with every operand in registers: how many int8 and fp32
// multiply-adds per second the vector units can retire at best, whatever the kernel. Used by
// `hark-bench kernels` to put the int8 / fp32 ratio of the real kernels next to its ceiling.
//
// Each loop runs independent chains (enough to cover the latency), and empty asm statements
// taking the registers keep the compiler from folding, hoisting or dropping the work.

#include "hark_kernels.h"

#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HARK_X86 1
#endif

static double thread_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if HARK_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define KEEP12(x)                                                                                   \
    __asm__ volatile("" : "+x"(x[0]), "+x"(x[1]), "+x"(x[2]), "+x"(x[3]), "+x"(x[4]), "+x"(x[5]), \
                     "+x"(x[6]), "+x"(x[7]), "+x"(x[8]), "+x"(x[9]), "+x"(x[10]), "+x"(x[11]))

// fp32: vfmadd231ps, 8 multiply-adds each.
AVX2 static double fma_rate(long rounds) {
    __m256 acc[12];
    const __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.5f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    double start = thread_seconds();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
        KEEP12(acc);
    }
    double seconds = thread_seconds() - start;
    float sink[8];
    _mm256_storeu_ps(sink, acc[5]);
    return sink[0] == 12345.0f ? 0 : (double)rounds * 12 * 8 / seconds;
}

// The int8 loops take their multiplicands through an empty asm statement on every round, so
// the compiler must believe they change and cannot hoist the multiplies out of the loop.
#define KEEP6(x) __asm__ volatile("" : "+x"(x[0]), "+x"(x[1]), "+x"(x[2]), "+x"(x[3]), "+x"(x[4]), "+x"(x[5]))

// Exact int8 through 16-bit lanes: vpmaddwd + vpaddd, 16 multiply-adds each.
AVX2 static double madd_rate(long rounds) {
    __m256i acc[6], x[6];
    const __m256i b = _mm256_set1_epi16(-5);
    for (int i = 0; i < 6; i++) {
        acc[i] = _mm256_set1_epi32(i);
        x[i] = _mm256_set1_epi16((short)(i + 1));
    }
    double start = thread_seconds();
    for (long r = 0; r < rounds; r++) {
        KEEP6(x);
        for (int i = 0; i < 6; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(x[i], b));
        KEEP6(acc);
    }
    double seconds = thread_seconds() - start;
    int32_t sink[8];
    _mm256_storeu_si256((__m256i *)sink, acc[5]);
    return sink[0] == 12345 ? 0 : (double)rounds * 6 * 16 / seconds;
}

// The chain of hark_gemm_s8's AVX2 kernel: vpsignb, vpmaddubsw, vpmaddwd, vpaddd for 32.
AVX2 static double signed_chain_rate(long rounds) {
    __m256i acc[4], w[4];
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a = _mm256_set1_epi8(-9), aa = _mm256_set1_epi8(9);
    for (int i = 0; i < 4; i++) {
        acc[i] = _mm256_set1_epi32(i);
        w[i] = _mm256_set1_epi8((char)(i - 7));
    }
    double start = thread_seconds();
    for (long r = 0; r < rounds; r++) {
        __asm__ volatile("" : "+x"(w[0]), "+x"(w[1]), "+x"(w[2]), "+x"(w[3]), "+x"(a), "+x"(aa));
        for (int i = 0; i < 4; i++)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w[i], a)), ones));
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
    double seconds = thread_seconds() - start;
    int32_t sink[8];
    _mm256_storeu_si256((__m256i *)sink, acc[3]);
    return sink[0] == 12345 ? 0 : (double)rounds * 4 * 32 / seconds;
}
#endif

void hark_multiply_ceiling(double seconds, double *fp32, double *int8_madd, double *int8_signed_chain) {
    *fp32 = *int8_madd = *int8_signed_chain = 0;
#if HARK_X86
    if (!hark_kernels_have_avx2()) return;
    // Calibrate the rounds to about `seconds` per loop, then keep the best of three.
    long rounds = 1000000;
    double start = thread_seconds();
    fma_rate(rounds);
    double took = thread_seconds() - start;
    if (took > 0) rounds = (long)((double)rounds * seconds / took) + 1;
    for (int repeat = 0; repeat < 3; repeat++) {
        double f = fma_rate(rounds), m = madd_rate(2 * rounds), s = signed_chain_rate(3 * rounds);
        if (f > *fp32) *fp32 = f;
        if (m > *int8_madd) *int8_madd = m;
        if (s > *int8_signed_chain) *int8_signed_chain = s;
    }
#else
    (void)seconds;
#endif
}
