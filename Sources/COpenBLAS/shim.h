#include <cblas.h>
#include <string.h>

// Stops OpenBLAS's server threads. A threaded OpenBLAS starts them when the library loads and
// they spin (sched_yield) for about 0.1 s before sleeping: a core's worth of a cold start. Hark
// runs OpenBLAS on the calling thread only, so they are never needed. Weak, because a serial or
// other build of the library may lack the function.
extern int blas_thread_shutdown_(void) __attribute__((weak));

static inline void hark_openblas_stop_server_threads(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

// The OpenBLAS core to ask for (OPENBLAS_CORETYPE) when the library took this CPU for an older
// one: a DYNAMIC_ARCH build older than the CPU (Debian 12's 0.3.21 on Sapphire Rapids) falls
// back to its SSE3 kernels, at half the float32 speed. NULL when its choice is fine.
static inline const char *hark_openblas_better_core(void) {
    const char *name = openblas_get_corename();
    if (!name) return NULL;
    static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Katmai",
                                      "Coppermine", "Northwood", "Banias", "Atom", NULL};
    int isOld = 0;
    for (int i = 0; old[i]; i++) isOld |= strcmp(name, old[i]) == 0;
    if (!isOld) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}
