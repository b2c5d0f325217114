// Memory: allocator settings for a process that runs the model, and the huge-page blocks
// that hold its large operands.

#include "hark_kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// By default glibc serves blocks above 128 KB (a threshold that adapts upward up to 32 MB)
// with fresh memory maps and unmaps them when freed, so the kernel zeroes them again page by
// page. The encoder allocates activations of several MB per layer and window, which would
// then be faulted in afresh every time: a large part of a cold start's page faults.
void hark_keep_large_buffers(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

// Large blocks: 2 MiB-aligned anonymous mappings advised for transparent huge pages (which a
// THP mode of "madvise" gives to advised memory only). A decoder step streams tens of MB of
// weights and keys from memory; on 4 KiB pages that is one TLB miss and page walk every
// 4 KiB, which slows the reading.

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum {
    HUGE_PAGE = 2u << 20,
    CHUNK_BYTES = 32u << 20,
    OWN_MAPPING_FROM = 4u << 20,
    BLOCK_ALIGNMENT = 64,
};

typedef struct {
    void *base;        // mapping (or calloc'd block)
    size_t length;     // mapped bytes
    size_t used;       // bytes carved so far
    int mapped;        // 1: munmap, 0: free
    long references;   // blocks alive, plus one while the chunk is the current one (under lock)
} large_chunk_t;

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static large_chunk_t *current_chunk;

static size_t round_up(size_t x, size_t unit) { return (x + unit - 1) / unit * unit; }

// A new chunk of at least `bytes`: a 2 MiB-aligned mapping advised for huge pages, else calloc.
static large_chunk_t *new_chunk(size_t bytes) {
    large_chunk_t *chunk = calloc(1, sizeof *chunk);
    if (!chunk) return NULL;
    size_t length = round_up(bytes, HUGE_PAGE);
#if defined(__linux__)
    uint8_t *raw = mmap(NULL, length + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw != MAP_FAILED) {
        uint8_t *aligned = (uint8_t *)round_up((uintptr_t)raw, HUGE_PAGE);
        if (aligned > raw) munmap(raw, (size_t)(aligned - raw));
        size_t tail = (size_t)(raw + length + HUGE_PAGE - (aligned + length));
        if (tail > 0) munmap(aligned + length, tail);
#if defined(MADV_HUGEPAGE)
        madvise(aligned, length, MADV_HUGEPAGE);  // advice only: without it, 4 KiB pages
#endif
        chunk->base = aligned;
        chunk->length = length;
        chunk->mapped = 1;
        return chunk;
    }
#endif
    chunk->base = calloc(1, length);
    if (!chunk->base) {
        free(chunk);
        return NULL;
    }
    chunk->length = length;
    return chunk;
}

static void free_chunk(large_chunk_t *chunk) {
#if defined(__linux__)
    if (chunk->mapped) munmap(chunk->base, chunk->length);
    else free(chunk->base);
#else
    free(chunk->base);
#endif
    free(chunk);
}

void *hark_large_alloc(size_t bytes, void **owner) {
    size_t size = round_up(bytes > 0 ? bytes : 1, BLOCK_ALIGNMENT);
    if (size >= OWN_MAPPING_FROM) {
        large_chunk_t *chunk = new_chunk(size);
        if (!chunk) return NULL;
        chunk->used = size;
        chunk->references = 1;
        *owner = chunk;
        return chunk->base;
    }
    pthread_mutex_lock(&large_lock);
    if (!current_chunk || current_chunk->length - current_chunk->used < size) {
        large_chunk_t *chunk = new_chunk(CHUNK_BYTES);
        if (!chunk) {
            pthread_mutex_unlock(&large_lock);
            return NULL;
        }
        chunk->references = 1;  // the arena's own, while it is current
        large_chunk_t *old = current_chunk;
        current_chunk = chunk;
        if (old && --old->references == 0) free_chunk(old);
    }
    large_chunk_t *chunk = current_chunk;
    void *block = (uint8_t *)chunk->base + chunk->used;
    chunk->used += size;
    chunk->references++;
    pthread_mutex_unlock(&large_lock);
    *owner = chunk;
    return block;
}

void hark_large_release(void *owner) {
    large_chunk_t *chunk = owner;
    if (!chunk) return;
    pthread_mutex_lock(&large_lock);
    long left = --chunk->references;
    pthread_mutex_unlock(&large_lock);
    if (left == 0) free_chunk(chunk);
}

// Each thread's scratch, released when the thread exits.
typedef struct {
    void *block;
    void *owner;
    size_t bytes;
} thread_scratch_t;

static pthread_key_t scratch_key, zeroed_scratch_key;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;

static void release_scratch(void *value) {
    thread_scratch_t *scratch = value;
    if (scratch->owner) hark_large_release(scratch->owner);
    free(scratch);
}

static void make_scratch_keys(void) {
    pthread_key_create(&scratch_key, release_scratch);
    pthread_key_create(&zeroed_scratch_key, release_scratch);
}

// The block kept under `key` for the calling thread, grown to at least `bytes`. A grown block
// is a new mapping of its own, so it starts all zeros.
static void *thread_block(pthread_key_t key, size_t bytes) {
    thread_scratch_t *scratch = pthread_getspecific(key);
    if (!scratch) {
        scratch = calloc(1, sizeof *scratch);
        if (!scratch || pthread_setspecific(key, scratch) != 0) {
            free(scratch);
            return NULL;
        }
    }
    // At least a mapping of its own: a small scratch kept for the thread's life must not pin
    // a shared chunk (only the pages touched are resident).
    if (bytes < OWN_MAPPING_FROM) bytes = OWN_MAPPING_FROM;
    if (bytes > scratch->bytes || !scratch->block) {
        if (scratch->owner) hark_large_release(scratch->owner);
        *scratch = (thread_scratch_t){0};
        void *owner = NULL;
        void *block = hark_large_alloc(bytes, &owner);
        if (!block) return NULL;
        *scratch = (thread_scratch_t){.block = block, .owner = owner, .bytes = bytes};
    }
    return scratch->block;
}

void *hark_thread_scratch(size_t bytes) {
    pthread_once(&scratch_key_once, make_scratch_keys);
    return thread_block(scratch_key, bytes);
}

void *hark_thread_zeroed_scratch(size_t bytes) {
    pthread_once(&scratch_key_once, make_scratch_keys);
    return thread_block(zeroed_scratch_key, bytes);
}
