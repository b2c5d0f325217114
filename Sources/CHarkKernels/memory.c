// Allocator settings for a process that runs the model.

#include "hark_kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// By default glibc serves blocks above 128 KB (a threshold that adapts upward up to 32 MB)
// with fresh memory maps and unmaps them when freed, so the kernel zeroes them again page by
// page. The encoder allocates activations of several MB per layer and window: for a cold
// 5-second note that was 17 000 of 43 000 page faults, for 3 minutes with base 95 000 of 149 000.
void hark_keep_large_buffers(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}
