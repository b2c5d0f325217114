#ifndef HARK_KERNELS_H
#define HARK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One IEEE half-precision value as single precision (exact; portable code).
float hark_f16_to_f32_one(uint16_t h);

/// Converts `count` IEEE half-precision values to single precision (F16C when available).
void hark_f16_to_f32(const uint16_t *src, float *dst, size_t count);

/// Converts `count` bfloat16 values to single precision.
void hark_bf16_to_f32(const uint16_t *src, float *dst, size_t count);

/* ---------------------------------------------------------------------------------------------
 * int8 matrix products
 *
 * Both operands are quantized symmetrically per row to int8 in [-127, 127] (never -128) with
 * scale = max|row| / 127 and q = round-to-nearest-even(x * 127 / max|row|); an all-zero row has
 * scale 0 and quantizes to zeros.
 *
 *   A: activations, m rows × k, quantized at run time (hark_s8_quantize_activations). Row r
 *      occupies hark_s8_activation_row_bytes(k) = 2·kp bytes at a + r·lda (kp =
 *      hark_s8_padded_k(k)): the kp quantized values (zero beyond k), then their kp absolute
 *      values, which the AVX2 kernel broadcasts directly instead of recomputing them.
 *   W: weights, n rows (output features) × k (input features), quantized once
 *      (hark_s8_quantize_rows) and packed (hark_s8_pack_weights) into panels of
 *      HARK_S8_PANEL output columns: panel p, k-group g (4 consecutive k), column j of the panel
 *      holds bytes w[p*16 + j][4g .. 4g+3] at offset p*panel_bytes + g*64 + j*4, where
 *      panel_bytes = 16 * hark_s8_padded_k(k). Padding (columns ≥ n, depth ≥ k) is zero.
 *   sa, sw: one float scale per activation row and per weight row.
 *
 * The product computes, for rows [m0, m1) and output columns [n0, n1):
 *
 *   C[m][n] = (Σ_k a[m][k] · w[n][k]) · sa[m] · sw[n] + bias[n]      (bias may be NULL)
 *
 * optionally followed by GELU, 0.5·x·(1 + erf(x/√2)) (flag HARK_GEMM_GELU). The integer sum is
 * exact: the AVX2 path multiplies with vpmaddubsw on |a| and sign(w, a), whose pair sums are
 * at most 2·127·127 = 32258 and never saturate, then widens to int32 with vpmaddwd.
 * Distinct [m0, m1) × [n0, n1) blocks write disjoint parts of C and may run on different
 * threads at the same time. Any k works (k = 0 gives bias); the portable path computes the
 * same integers and uses libm erff for GELU, the AVX2 path a rational erf within 1e-6.
 * ------------------------------------------------------------------------------------------- */

/// Output columns per packed weight panel.
#define HARK_S8_PANEL 16
/// Consecutive k values per packed group (the unit of one broadcast).
#define HARK_S8_KGROUP 4

/// Flag for hark_gemm_s8*: apply GELU (erf form) after scale and bias.
#define HARK_GEMM_GELU 1u

/// k rounded up to a multiple of HARK_S8_KGROUP (the kernels read k in groups of 4; the
/// padding is zero in both operands).
size_t hark_s8_padded_k(size_t k);

/// Bytes of a packed n × k weight matrix: ceil(n / 16) · 16 · hark_s8_padded_k(k).
size_t hark_s8_packed_bytes(size_t n, size_t k);

/// Quantizes `rows` rows of `cols` floats (row stride `ldx`) to int8 rows of stride `ldq`
/// (≥ cols) and one scale per row. Entries cols ..< ldq of each output row are set to zero.
/// Uses AVX2 when available (results are identical to the portable path).
void hark_s8_quantize_rows(const float *x, size_t rows, size_t cols, size_t ldx,
                           int8_t *q, size_t ldq, float *scales);

/// Bytes one activation row takes in the layout hark_gemm_s8 reads: 2 · hark_s8_padded_k(k).
size_t hark_s8_activation_row_bytes(size_t k);

/// Quantizes `rows` rows of `cols` floats (row stride ldx) into the activation layout (row
/// stride lda ≥ hark_s8_activation_row_bytes(cols)) with one scale per row.
void hark_s8_quantize_activations(const float *x, size_t rows, size_t cols, size_t ldx,
                                  int8_t *a, size_t lda, float *scales);

/// Lays out already-quantized int8 activations (rows × k, row stride ldq) for hark_gemm_s8
/// (row stride lda ≥ hark_s8_activation_row_bytes(k)). A value of -128 is stored as -127.
void hark_s8_prepare_activations(const int8_t *q, size_t rows, size_t k, size_t ldq, int8_t *a,
                                 size_t lda);

/// Portable (scalar) build of hark_s8_quantize_rows, for tests.
void hark_s8_quantize_rows_portable(const float *x, size_t rows, size_t cols, size_t ldx,
                                    int8_t *q, size_t ldq, float *scales);

/// AVX2 build of hark_s8_quantize_rows (only when hark_kernels_have_avx2()), for tests.
void hark_s8_quantize_rows_avx2(const float *x, size_t rows, size_t cols, size_t ldx,
                                int8_t *q, size_t ldq, float *scales);

/// Packs a row-major n × k int8 weight matrix (row stride ldw ≥ k) into the panel layout;
/// `packed` must hold hark_s8_packed_bytes(n, k) bytes. A value of -128 is stored as -127.
void hark_s8_pack_weights(const int8_t *w, size_t n, size_t k, size_t ldw, int8_t *packed);

/// Inverse of hark_s8_pack_weights: writes the row-major n × k matrix (row stride ldw ≥ k).
void hark_s8_unpack_weights(const int8_t *packed, size_t n, size_t k, int8_t *w, size_t ldw);

/// C[m][n] = (Σ_k a[m][k]·w[n][k])·sa[m]·sw[n] + bias[n] (+ GELU) for m in [m0, m1), n in
/// [n0, n1); C has row stride ldc (indexed by absolute m and n). Dispatches to the AVX2 path
/// when the CPU has AVX2 and FMA, unless the environment sets HARK_KERNELS=portable.
void hark_gemm_s8(const int8_t *a, size_t lda, const float *sa,
                  const int8_t *packed_w, const float *sw, const float *bias,
                  float *c, size_t ldc, size_t k,
                  size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags);

/// The AVX2 + FMA path of hark_gemm_s8. Must only be called when hark_kernels_have_avx2().
void hark_gemm_s8_avx2(const int8_t *a, size_t lda, const float *sa,
                       const int8_t *packed_w, const float *sw, const float *bias,
                       float *c, size_t ldc, size_t k,
                       size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags);

/// The portable scalar path of hark_gemm_s8 (erf from libm).
void hark_gemm_s8_portable(const int8_t *a, size_t lda, const float *sa,
                           const int8_t *packed_w, const float *sw, const float *bias,
                           float *c, size_t ldc, size_t k,
                           size_t m0, size_t m1, size_t n0, size_t n1, unsigned flags);

/// Raw integer accumulations acc[m][n] = Σ_k a[m][k]·w[n][k] (int32, row stride ldc) for
/// m in [m0, m1), n in [n0, n1): the AVX2 path (only when hark_kernels_have_avx2()).
void hark_gemm_s8_i32_avx2(const int8_t *a, size_t lda, const int8_t *packed_w,
                           int32_t *acc, size_t ldc, size_t k,
                           size_t m0, size_t m1, size_t n0, size_t n1);

/// Raw integer accumulations, portable path.
void hark_gemm_s8_i32_portable(const int8_t *a, size_t lda, const int8_t *packed_w,
                               int32_t *acc, size_t ldc, size_t k,
                               size_t m0, size_t m1, size_t n0, size_t n1);

/// Applies GELU in place to `count` floats with the AVX2 polynomial erf (only when
/// hark_kernels_have_avx2()), exactly as the fused epilogue does.
void hark_gelu_avx2(float *x, size_t count);

/// Applies GELU in place with libm erff (the portable epilogue).
void hark_gelu_portable(float *x, size_t count);

/// Softmax in place over each of `rows` rows (row stride `ld`): entries [0, valid[r]) become
/// probabilities, [valid[r], width) zero; `valid` NULL means every row is `width` long. The
/// AVX2 path uses a polynomial exp (relative error < 2e-7), the portable path libm expf.
void hark_softmax_rows(float *x, size_t rows, size_t width, size_t ld, const size_t *valid);
void hark_softmax_rows_avx2(float *x, size_t rows, size_t width, size_t ld, const size_t *valid);
void hark_softmax_rows_portable(float *x, size_t rows, size_t width, size_t ld, const size_t *valid);

/// hark_softmax_rows of `scores` (rows × width, stride ld, every entry valid) written to
/// `probabilities` (same layout), leaving `scores` all zeros; the same probabilities bit for bit.
void hark_softmax_rows_moving(float *scores, float *probabilities, size_t rows, size_t width, size_t ld);
void hark_softmax_rows_moving_avx2(float *scores, float *probabilities, size_t rows, size_t width, size_t ld);
void hark_softmax_rows_moving_portable(float *scores, float *probabilities, size_t rows, size_t width, size_t ld);

/// e^x for x ≤ 0 with the AVX2 polynomial of hark_softmax_rows (0 below -87.3), for tests.
void hark_exp_avx2(const float *x, float *y, size_t count);

/// Attention of `rows` query rows (stride ldq, `dim` values each) against `count` keys and
/// values read in place (strides ldk, ldv): row r attends to keys [0, valid[r]) (all `count`
/// when `valid` is NULL), scores scaled by `scale`, softmax, and the weighted sum of the values
/// written to out[r] (stride ldo). `scores` is scratch of rows × count floats. For decoder
/// steps, where a BLAS product would repack the keys on every call.
void hark_attend_rows(const float *q, size_t ldq, const float *k, size_t ldk, const float *v, size_t ldv,
                      float *out, size_t ldo, size_t rows, size_t count, const size_t *valid, size_t dim,
                      float scale, float *scores);
void hark_attend_rows_avx2(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                           size_t ldv, float *out, size_t ldo, size_t rows, size_t count,
                           const size_t *valid, size_t dim, float scale, float *scores);
void hark_attend_rows_portable(const float *q, size_t ldq, const float *k, size_t ldk, const float *v,
                               size_t ldv, float *out, size_t ldo, size_t rows, size_t count,
                               const size_t *valid, size_t dim, float scale, float *scores);

/// Attention of `rows` query rows over a prefix of keys and values shared by every row (`prefix`
/// rows at pk, pv, stride ldp) followed by each row's own (own_k[r] + own_offset, own_v[r] +
/// own_offset, stride ld_own: the offset picks a head's columns out of whole cache rows): row r
/// attends to the prefix and its first valid[r] - prefix own keys (valid[r] ≥ prefix).
/// The prefix is read once for all rows: decoder hypotheses that share a prompt. `scores` is
/// scratch of rows × max(valid) floats. Same sums as hark_attend_rows over the joined keys.
void hark_attend_prefixed(const float *q, size_t ldq, size_t rows, const float *pk, const float *pv, size_t ldp,
                          size_t prefix, const float *const *own_k, const float *const *own_v, size_t ld_own,
                          size_t own_offset, const size_t *valid, float *out, size_t ldo, size_t dim, float scale,
                          float *scores);

/// y[r][n] = x[r] · w[n] (+ bias[n]) for r < rows and n in [n0, n1): w is n × k row-major
/// (stride k), x has row stride ldx, y row stride ldy. For few rows (decoder steps in float32):
/// each weight row is read once for up to 8 rows, nothing is repacked. A row's result does not
/// depend on the other rows of the call.
void hark_gemm_f32_few_rows(const float *x, size_t ldx, size_t rows, const float *w, size_t k, size_t n0,
                            size_t n1, const float *bias, float *y, size_t ldy);

/// LayerNorm of each of `rows` rows of `width` floats (epsilon 1e-5) into y:
/// y = (x - mean) · (1 / sqrt(variance + 1e-5)) · gamma + beta, mean and variance summed in index
/// order and nothing fused, so that every row gives the plain loop's result bit for bit.
void hark_layer_norm_rows(const float *x, size_t rows, size_t width, const float *gamma, const float *beta,
                          float *y);

/// hark_gemm_f32_few_rows with half-precision weights, widened as they are read: the same
/// result as the product with their single-precision copies, for half the bytes read.
void hark_gemm_f16w_few_rows(const float *x, size_t ldx, size_t rows, const uint16_t *w, size_t k, size_t n0,
                             size_t n1, const float *bias, float *y, size_t ldy);

/// log Σ exp(x[i]) over n floats: -INFINITY when every x[i] is -INFINITY (or n is 0). The
/// AVX2 path uses the polynomial exp of hark_softmax_rows.
float hark_log_sum_exp(const float *x, size_t n);

/// The k largest of n scores, -INFINITY ones excluded: their indices and values in descending
/// order, equal values lower index first. Returns how many were found (≤ k).
size_t hark_top_k(const float *x, size_t n, size_t k, int32_t *indices, float *values);

/// The largest of n scores (-INFINITY when n is 0). No NaN expected.
float hark_max(const float *x, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Compute threads
 *
 * A pool owns up to 15 worker threads (started on its first parallel loop, as many as its
 * thread count needs) and runs one loop at a time. Each thread has a current pool, set by
 * hark_pool_enter; a thread without one (NULL) uses the process's default pool, whose count
 * is hark_set_thread_count's. Loops on different pools run at the same time without sharing
 * anything; a pool's workers have it as their current pool.
 * ------------------------------------------------------------------------------------------- */

typedef struct hark_pool hark_pool;

/// The online CPUs, at most 8 (read once).
size_t hark_automatic_thread_count(void);

/// A pool whose loops run on `threads` threads (the caller and threads - 1 workers): 0 means
/// hark_automatic_thread_count(), more than 16 means 16. No thread starts yet. NULL only when
/// out of memory.
hark_pool *hark_pool_create(size_t threads);

/// Stops and joins the pool's workers and frees it; waits for a loop another thread is
/// running on it. The pool must not be any thread's current pool, nor be destroyed from one
/// of its loops. NULL does nothing.
void hark_pool_destroy(hark_pool *pool);

/// Makes `pool` (NULL: the default pool) the calling thread's current pool and returns the
/// previous one, to be entered again when done (so that nested uses restore it).
hark_pool *hark_pool_enter(hark_pool *pool);

/// The calling thread's current pool (NULL: the default pool).
hark_pool *hark_pool_current(void);

/// A pool's thread count (NULL: the default pool's).
size_t hark_pool_threads(const hark_pool *pool);

/// The thread count of the calling thread's current pool: the pool's, or for the default
/// pool hark_set_thread_count's value, else hark_automatic_thread_count().
size_t hark_thread_count(void);

/// Sets the default pool's thread count (0: automatic). Threads with a pool of their own are
/// not affected.
void hark_set_thread_count(size_t count);

/// One iteration of hark_parallel_for.
typedef void (*hark_loop_body)(void *context, size_t index);

/// Runs body(context, i) for every i < count on up to hark_thread_count() threads of the
/// calling thread's current pool (the caller and that pool's spinning workers) and returns
/// when all are done. Runs serially inside another hark_parallel_for or while another
/// thread's loop is running on the same pool.
void hark_parallel_for(size_t count, hark_loop_body body, void *context);

/// Tunes the C allocator (glibc) for a process that runs the model: blocks up to 32 MB come
/// from the heap instead of fresh memory maps, and up to 256 MB of freed heap is kept, so the
/// encoder's large per-window buffers are faulted in once rather than on every window.
/// Does nothing with other C libraries.
void hark_keep_large_buffers(void);

/// Allocates `bytes` of zero-filled memory, 64-byte aligned, for a large operand that is read
/// whole again and again (weights, a window's cross-attention keys and values). The memory
/// comes from mappings aligned to 2 MiB and advised for transparent huge pages
/// (MADV_HUGEPAGE): streaming it then takes one TLB entry per 2 MiB instead of per 4 KiB.
/// Blocks under 4 MiB are carved from shared 32 MiB chunks, larger ones get a mapping of their
/// own. Writes the block's owner to `*owner`; pass it to hark_large_release when done. Falls
/// back to calloc where mappings fail; returns NULL only when out of memory.
void *hark_large_alloc(size_t bytes, void **owner);

/// Releases a block from hark_large_alloc (its owner); a chunk is unmapped when the last of
/// its blocks is released and no new blocks are carved from it.
void hark_large_release(void *owner);

/// The calling thread's scratch memory, at least `bytes`, 64-byte aligned: a huge-page mapping
/// of its own (at least 4 MiB, of which only the pages touched are resident) kept and reused
/// by the thread, grown when a call asks for more, so that an attention head's 1500 × 1500
/// scores are not faulted in again for every head. Its contents are undefined; valid until the
/// thread's next call; released when the thread exits. NULL only when out of memory.
void *hark_thread_scratch(size_t bytes);

/// The calling thread's zeroed scratch, at least `bytes`, 64-byte aligned, kept like
/// hark_thread_scratch's but apart from it: handed out all zeros, and every user leaves it all
/// zeros again (a product can then add into it, `beta` 1, with no pass that clears it first).
void *hark_thread_zeroed_scratch(size_t bytes);

/// 1 when the kernels dispatch to AVX2 (the CPU has it and HARK_KERNELS does not say portable).
int hark_kernels_use_avx2(void);

/// 1 when this CPU has AVX2 and FMA (whatever HARK_KERNELS says), else 0.
int hark_kernels_have_avx2(void);

/// The implementation hark_gemm_s8 and the quantizers dispatch to: "avx2" or "portable".
/// Decided on first use from the CPU and the environment variable HARK_KERNELS.
const char *hark_kernels_implementation(void);

/// Forgets the dispatch decision so that the next call reads HARK_KERNELS again (tests,
/// benchmarks). Not to be called while other threads run kernels.
void hark_kernels_refresh_dispatch(void);

/// The best multiply-add rates of this CPU with every operand in registers, on the calling
/// thread, each loop run for about `seconds` (three times, best kept): fp32 FMA, exact int8
/// through 16-bit lanes (vpmaddwd + vpaddd), and the sign / multiply chain of hark_gemm_s8's
/// AVX2 kernel. In multiply-adds per second; all zero without AVX2. For `hark-bench kernels`.
void hark_multiply_ceiling(double seconds, double *fp32, double *int8_madd, double *int8_signed_chain);

/* ---------------------------------------------------------------------------------------------
 * Small float32 products (the speech detector, HarkSpeech)
 * ------------------------------------------------------------------------------------------- */

/// Flag for hark_f32_gemm_acc: max(C, 0) after the product.
#define HARK_F32_RELU 1u

/// C[m][n] += A[m][k] · B[k][n] (row-major, leading dimensions in floats), then ReLU with
/// HARK_F32_RELU. B is stored k-major: a weight matrix [n][k] transposed once, so that each of
/// its rows holds n output columns. n must be a multiple of 16 for the AVX2 kernels (4 rows ×
/// 16 columns, or one row × 64 columns at a time; 4 × 32 with AVX-512F); otherwise the portable
/// loop runs. Each output is accumulated in order of p, one fused multiply-add per term (the
/// portable loop: only where fmaf is fast, else a multiply and an add).
void hark_f32_gemm_acc(size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc, unsigned flags);

/// The portable loop of hark_f32_gemm_acc (any n), for tests.
void hark_f32_gemm_acc_portable(size_t m, size_t n, size_t k, const float *a, size_t lda,
                                const float *b, size_t ldb, float *c, size_t ldc, unsigned flags);

/// An LSTM cell of `n` units after its products: `gates` holds the 4·n pre-activations in the
/// order i, f, g, o (PyTorch's); `cell` and `hidden` (n each) are updated in place:
/// c = σ(f)·c + σ(i)·tanh(g), h = σ(o)·tanh(c). AVX2 (n a multiple of 8) or portable; σ and
/// tanh within 3e-7 of libm's on both paths.
void hark_f32_lstm_cell(const float *gates, float *cell, float *hidden, size_t n);

/// The portable path of hark_f32_lstm_cell, for tests.
void hark_f32_lstm_cell_portable(const float *gates, float *cell, float *hidden, size_t n);

#ifdef __cplusplus
}
#endif

#endif
