#include <cblas.h>

// Stops OpenBLAS's server threads. A threaded OpenBLAS starts them when the library loads and
// they spin (sched_yield) for about 0.1 s before sleeping: a core's worth of a cold start. Hark
// runs OpenBLAS on the calling thread only, so they are never needed. Weak, because a serial or
// other build of the library may lack the function.
extern int blas_thread_shutdown_(void) __attribute__((weak));

static inline void hark_openblas_stop_server_threads(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}
