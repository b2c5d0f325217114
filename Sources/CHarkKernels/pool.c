// The compute threads: pools of workers that run parallel loops, each worker spinning for a
// while after each job before it sleeps. A decoder step runs some twenty short parallel
// products and attentions with serial work between them; waking a sleeping thread for each
// (libdispatch) costs several times what handing the job to a spinning one does.
//
// Each worker has its own mailbox: the caller posts a job (on its stack) to the workers it
// uses, runs iterations itself, and returns once every one of those workers has reported the
// job finished, so a job never outlives the call. Iterations are claimed one at a time from a
// shared counter, so a worker that starts late (descheduled) takes fewer.
//
// A loop runs on the calling thread's current pool (hark_pool_enter), else on the process's
// default pool. Pools share nothing, so callers on different pools run at once at full width;
// callers on one pool take turns, and one that finds the pool busy runs its loop serially.

#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE  // pthread_setname_np
#endif

#include "hark_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void relax(void) { _mm_pause(); }
#else
static inline void relax(void) {}
#endif

enum { MAX_WORKERS = 15 };

// Pause iterations a worker spins on an empty mailbox before it sleeps (~0.1 ms).
#define HARK_POOL_SPIN 5000

typedef struct {
    hark_loop_body body;
    void *context;
    size_t count;
    _Atomic size_t next;
} job_t;

typedef struct {
    _Atomic(job_t *) job;
    _Atomic unsigned long posted;    // jobs posted to this worker
    _Atomic unsigned long finished;  // jobs it has finished
    _Atomic int sleeping;
    _Atomic int stop;                // set by hark_pool_destroy before its last post
    pthread_mutex_t lock;
    pthread_cond_t wake;
    hark_pool *pool;                 // the worker's pool, its current pool while it runs
} mailbox_t;

struct hark_pool {
    size_t threads;               // 0 (the default pool only): hark_set_thread_count's value
    pthread_mutex_t submit_lock;  // one job at a time
    size_t started;               // workers running (under submit_lock)
    pthread_t workers[MAX_WORKERS];
    mailbox_t mailboxes[MAX_WORKERS];
};

static hark_pool default_pool = {.submit_lock = PTHREAD_MUTEX_INITIALIZER};
static size_t default_count;  // 0: automatic
static _Thread_local hark_pool *current_pool;  // NULL: the default pool
static _Thread_local int inside_job;

size_t hark_automatic_thread_count(void) {
    static size_t automatic;  // 0 until read; races only ever store the same value
    size_t count = __atomic_load_n(&automatic, __ATOMIC_RELAXED);
    if (count == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        count = online < 1 ? 1 : (online > 8 ? 8 : (size_t)online);
        __atomic_store_n(&automatic, count, __ATOMIC_RELAXED);
    }
    return count;
}

void hark_set_thread_count(size_t count) { __atomic_store_n(&default_count, count, __ATOMIC_RELAXED); }

static inline size_t pool_threads(const hark_pool *pool) {
    if (pool->threads > 0) return pool->threads;
    size_t count = __atomic_load_n(&default_count, __ATOMIC_RELAXED);
    return count > 0 ? count : hark_automatic_thread_count();
}

size_t hark_thread_count(void) { return pool_threads(current_pool ? current_pool : &default_pool); }

hark_pool *hark_pool_enter(hark_pool *pool) {
    hark_pool *previous = current_pool;
    current_pool = pool == &default_pool ? NULL : pool;
    return previous;
}

hark_pool *hark_pool_current(void) { return current_pool; }

size_t hark_pool_threads(const hark_pool *pool) { return pool_threads(pool ? pool : &default_pool); }

hark_pool *hark_pool_create(size_t threads) {
    hark_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    if (threads == 0) threads = hark_automatic_thread_count();
    pool->threads = threads > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : threads;
    if (pthread_mutex_init(&pool->submit_lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    return pool;
}

void hark_pool_destroy(hark_pool *pool) {
    if (!pool || pool == &default_pool) return;
    pthread_mutex_lock(&pool->submit_lock);  // waits for a job another thread is running
    for (size_t w = 0; w < pool->started; w++) {
        mailbox_t *box = &pool->mailboxes[w];
        atomic_store(&box->stop, 1);
        atomic_fetch_add(&box->posted, 1);
        pthread_mutex_lock(&box->lock);
        pthread_cond_signal(&box->wake);
        pthread_mutex_unlock(&box->lock);
    }
    for (size_t w = 0; w < pool->started; w++) {
        pthread_join(pool->workers[w], NULL);
        pthread_mutex_destroy(&pool->mailboxes[w].lock);
        pthread_cond_destroy(&pool->mailboxes[w].wake);
    }
    pthread_mutex_unlock(&pool->submit_lock);
    pthread_mutex_destroy(&pool->submit_lock);
    free(pool);
}

static void run_iterations(job_t *job) {
    inside_job = 1;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (i >= job->count) break;
        job->body(job->context, i);
    }
    inside_job = 0;
}

static void *worker_main(void *argument) {
    mailbox_t *box = argument;
    // The worker's loops see its pool's thread count, as the caller's do.
    current_pool = box->pool == &default_pool ? NULL : box->pool;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "hark-compute");  // as top -H and /proc list it
#endif
    unsigned long seen = 0;
    for (;;) {
        unsigned long posted;
        int spins = 0;
        while ((posted = atomic_load(&box->posted)) == seen) {
            if (++spins < HARK_POOL_SPIN) {
                relax();
                continue;
            }
            pthread_mutex_lock(&box->lock);
            atomic_store(&box->sleeping, 1);
            while (atomic_load(&box->posted) == seen) pthread_cond_wait(&box->wake, &box->lock);
            atomic_store(&box->sleeping, 0);
            pthread_mutex_unlock(&box->lock);
            spins = 0;
        }
        if (atomic_load(&box->stop)) break;
        seen = posted;
        run_iterations(atomic_load_explicit(&box->job, memory_order_acquire));
        atomic_store_explicit(&box->finished, seen, memory_order_release);
    }
    return NULL;
}

// Starts workers up to `wanted`; returns how many are running. Called under submit_lock.
// The default pool's workers are detached (they live as long as the process), the others
// joined by hark_pool_destroy.
static size_t ensure_workers(hark_pool *pool, size_t wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    while (pool->started < wanted) {
        mailbox_t *box = &pool->mailboxes[pool->started];
        box->pool = pool;
        pthread_mutex_init(&box->lock, NULL);
        pthread_cond_init(&box->wake, NULL);
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        if (pool == &default_pool) pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&pool->workers[pool->started], &attributes, worker_main, box);
        pthread_attr_destroy(&attributes);
        if (failed) {
            pthread_mutex_destroy(&box->lock);
            pthread_cond_destroy(&box->wake);
            break;
        }
        pool->started++;
    }
    return pool->started;
}

void hark_parallel_for(size_t count, hark_loop_body body, void *context) {
    hark_pool *pool = current_pool ? current_pool : &default_pool;
    size_t threads = pool_threads(pool);
    size_t helpers = (threads < count ? threads : count);
    helpers = helpers > 0 ? helpers - 1 : 0;
    // Serially: one thread or one iteration, a nested call, or another caller's job running
    // on the same pool.
    if (helpers == 0 || inside_job || pthread_mutex_trylock(&pool->submit_lock) != 0) {
        for (size_t i = 0; i < count; i++) body(context, i);
        return;
    }
    size_t running = ensure_workers(pool, helpers);
    if (running < helpers) helpers = running;
    job_t job = {.body = body, .context = context, .count = count};
    atomic_init(&job.next, 0);
    unsigned long tickets[MAX_WORKERS];
    mailbox_t *boxes = pool->mailboxes;
    for (size_t w = 0; w < helpers; w++) {
        mailbox_t *box = &boxes[w];
        atomic_store_explicit(&box->job, &job, memory_order_relaxed);
        tickets[w] = atomic_load(&box->posted) + 1;
        atomic_store(&box->posted, tickets[w]);   // sequentially consistent with `sleeping`
        if (atomic_load(&box->sleeping)) {
            pthread_mutex_lock(&box->lock);
            pthread_cond_signal(&box->wake);
            pthread_mutex_unlock(&box->lock);
        }
    }
    run_iterations(&job);
    for (size_t w = 0; w < helpers; w++)
        while (atomic_load_explicit(&boxes[w].finished, memory_order_acquire) != tickets[w]) relax();
    pthread_mutex_unlock(&pool->submit_lock);
}
