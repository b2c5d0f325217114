// The compute threads: a parallel loop whose workers spin for a while after each job before
// they sleep. A decoder step runs some twenty short parallel products and attentions with
// serial work between them; waking a sleeping thread for each (libdispatch) costs several
// times what handing the job to a spinning one does.
//
// Each worker has its own mailbox: the caller posts a job (on its stack) to the workers it
// uses, runs iterations itself, and returns once every one of those workers has reported the
// job finished, so a job never outlives the call. Iterations are claimed one at a time from a
// shared counter, so a worker that starts late (descheduled) takes fewer.

#include "hark_kernels.h"

#include <pthread.h>
#include <stdatomic.h>

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
    pthread_mutex_t lock;
    pthread_cond_t wake;
} mailbox_t;

static mailbox_t mailboxes[MAX_WORKERS];
static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
static size_t started;                                           // workers running (under submit_lock)
static _Thread_local int inside_job;

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
        seen = posted;
        run_iterations(atomic_load_explicit(&box->job, memory_order_acquire));
        atomic_store_explicit(&box->finished, seen, memory_order_release);
    }
    return NULL;
}

// Starts workers up to `wanted`; returns how many are running. Called under submit_lock.
static size_t ensure_workers(size_t wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    while (started < wanted) {
        mailbox_t *box = &mailboxes[started];
        pthread_mutex_init(&box->lock, NULL);
        pthread_cond_init(&box->wake, NULL);
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        int failed = pthread_create(&thread, &attributes, worker_main, box);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        started++;
    }
    return started;
}

void hark_parallel_for(size_t count, hark_loop_body body, void *context) {
    size_t threads = hark_thread_count();
    size_t helpers = (threads < count ? threads : count);
    helpers = helpers > 0 ? helpers - 1 : 0;
    // Serially: one thread or one iteration, a nested call, or another caller's job running.
    if (helpers == 0 || inside_job || pthread_mutex_trylock(&submit_lock) != 0) {
        for (size_t i = 0; i < count; i++) body(context, i);
        return;
    }
    size_t running = ensure_workers(helpers);
    if (running < helpers) helpers = running;
    job_t job = {.body = body, .context = context, .count = count};
    atomic_init(&job.next, 0);
    unsigned long tickets[MAX_WORKERS];
    for (size_t w = 0; w < helpers; w++) {
        mailbox_t *box = &mailboxes[w];
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
        while (atomic_load_explicit(&mailboxes[w].finished, memory_order_acquire) != tickets[w]) relax();
    pthread_mutex_unlock(&submit_lock);
}
