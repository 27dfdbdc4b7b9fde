/**
 * @file nn.h
 * @brief The oneDNN engine: the WRN feature extractor, the linear classifier and the loss.
 *
 * Only src/nn calls oneDNN. The network is the WRN of POF.md (pre-activation blocks of the PoF
 * reference code). Parameters live in one flat float arena in the canonical order below (plain
 * row-major tensors, conv weights OIHW) and their gradients in a second arena with the same
 * layout; the classifier θ = (linear.weight [classes, F], linear.bias [classes]) is the
 * contiguous tail [n_feature, n_params), so the feature extractor φ and θ are addressable
 * separately. Arena order (PyTorch names):
 *
 *   conv1.weight [b, C_in, 3, 3]
 *   for stage s = 1..3, block j = 0..n-1 (n = (depth - 4) / 6):
 *     layer{s}.{j}.bn1.weight, .bn1.bias [in]; .conv1.weight [out, in, 3, 3];
 *     .bn2.weight, .bn2.bias [out]; .conv2.weight [out, out, 3, 3];
 *     .shortcut.0.weight [out, in, 1, 1] (only when stride != 1 or in != out)
 *   bn1.weight, bn1.bias [F]   (final BN)
 *   linear.weight [classes, F], linear.bias [classes]
 *
 * with stage widths b*k, 2*b*k, 4*b*k (F = 4*b*k) and strides 1, 2, 2 on each stage's first
 * block (on its conv2 and its 1x1 shortcut, which is applied to the raw block input).
 * BN running statistics are a third float array: per BN layer in network order, mean[C] then
 * var[C]. BN: eps 1e-5, momentum 0.1, biased batch variance for normalization, unbiased for the
 * running variance (PyTorch semantics).
 *
 * Activations inside the network are oneDNN blocked (nChw16c with AVX-512, nChw8c without) in
 * the compute type (f32 or bf16); the network input x is plain NCHW float and features h are
 * plain [n, F] float.
 * A PofWrn is not thread-safe; all calls are local (not collective) except that the
 * BN-sum callback, when set, is called during training-mode forward and backward and must
 * then be called by every rank that shares the statistics.
 */
#ifndef POF_NN_H
#define POF_NN_H

#include "pof/core.h"

/** Compute data type of the network. */
typedef enum { POF_DT_F32 = 0, POF_DT_BF16 = 1 } PofDType;

/** The architecture. */
typedef struct {
  PetscInt depth, width, base; /**< WRN-depth-width, first-conv channels `base` (16 in the paper) */
  PetscInt in_c, in_h, in_w;   /**< input shape */
  PetscInt classes;
} PofWrnShape;

typedef enum {
  POF_TENSOR_CONV,
  POF_TENSOR_BN_WEIGHT,
  POF_TENSOR_BN_BIAS,
  POF_TENSOR_LINEAR_WEIGHT,
  POF_TENSOR_LINEAR_BIAS
} PofTensorKind;

/** One parameter tensor of the arena. */
typedef struct {
  char          name[64];
  PofTensorKind kind;
  PetscInt      offset, numel;
  PetscInt      ndim, dims[4];
} PofTensorInfo;

/** BN mode of a forward pass. */
typedef enum { POF_BN_TRAIN = 0, POF_BN_EVAL = 1 } PofBnMode;

enum {
  POF_FWD_KEEP           = 1, /**< keep activations for pof_wrn_features_backward */
  POF_FWD_UPDATE_RUNNING = 2  /**< train mode: update the BN running statistics */
};

/** Sum buf[0..n) in place over every rank sharing BN statistics (an MPI_Allreduce). */
typedef PetscErrorCode (*PofSumFn)(void *ctx, double *buf, PetscInt n);
/** Gradient slice [offset, offset + count) of the arena is final (called in reverse layer order).
 */
typedef PetscErrorCode (*PofGradReadyFn)(void *ctx, PetscInt offset, PetscInt count);

typedef struct PofWrn_s *PofWrn;

/** oneDNN version and CPU ISA it runs, e.g. "2.6.3 (cpu isa: avx512_core_bf16)". */
void pof_nn_version(char *buf, size_t n);

/** What -precision bf16 costs on this CPU. */
typedef enum {
  POF_BF16_NONE     = 0, /**< below avx512_core: oneDNN 2.6 has no bf16 convolutions (an error) */
  POF_BF16_EMULATED = 1, /**< avx512_core without avx512_bf16 or AMX: oneDNN converts in software,
                              several times slower than fp32 (pof warns once) */
  POF_BF16_NATIVE = 2    /**< avx512_core_bf16 or AMX: bf16 instructions */
} PofBf16Support;
extern const char *const PofBf16Names[]; /**< "none", "emulated", "native" */

/** The decision alone, from a oneDNN ISA value (dnnl_cpu_isa_t bits), so it can be tested with
    any ISA. Local, pure. */
PofBf16Support pof_nn_bf16_support_of(unsigned isa);
/** pof_nn_bf16_support_of(dnnl_get_effective_cpu_isa()): this CPU as oneDNN uses it (which
    honours ONEDNN_MAX_CPU_ISA). Local. */
PofBf16Support pof_nn_bf16_support(void);
/** Name of oneDNN's effective ISA ("avx512_core_bf16", "avx2", ...). Local. */
const char *pof_nn_isa_name(void);
/** Name of an ISA value (dnnl_cpu_isa_t), "isa 0x.." for one pof does not know. */
const char *pof_nn_isa_name_of(unsigned isa, char *buf, size_t len);

/** Peak kernels of pof_nn_peak_gflops (multiply-adds with no memory traffic). */
typedef enum {
  POF_PEAK_FP32_AVX512,
  POF_PEAK_FP32_AVX2,
  POF_PEAK_BF16_AVX512,
  POF_PEAK_COUNT
} PofPeakKernel;
/** "fp32_avx512", "fp32_avx2", "bf16_avx512". */
const char *pof_nn_peak_name(PofPeakKernel k);
/** Whether this CPU has the instructions of kernel k. */
int pof_nn_peak_supported(PofPeakKernel k);
/**
 * Measured arithmetic peak of kernel k on all OpenMP threads of this process, GFLOP/s (2 FLOPs
 * per multiply-add), in about `seconds`; 0 if the CPU lacks the kernel's instructions. Local.
 */
double pof_nn_peak_gflops(PofPeakKernel k, double seconds);
/** Release the process-wide oneDNN engine and scratchpad (after every PofWrn is destroyed). */
PetscErrorCode pof_nn_finalize(void);

/** Largest WRN depth pof builds (a shape read from a model file is checked against it; the range
 * of -model_depth in options.def). */
#define POF_WRN_MAX_DEPTH 1000

/** Check a shape (depth 6n+4 up to POF_WRN_MAX_DEPTH, positive sizes, parameter count and image
 * size within PetscInt); error naming the bad field. */
PetscErrorCode pof_wrn_shape_check(const PofWrnShape *s, MPI_Comm comm);
/** The same check without an error: PETSC_TRUE, or PETSC_FALSE with the reason in why (len
 * bytes). Local. */
PetscBool pof_wrn_shape_ok(const PofWrnShape *s, char *why, size_t len);
/** Parameter count, feature-extractor parameter count, feature dimension and BN-state length of a
 * shape. */
PetscErrorCode pof_wrn_shape_sizes(const PofWrnShape *s, PetscInt *n_params, PetscInt *n_feature,
                                   PetscInt *feature_dim, PetscInt *n_bn_state);

/**
 * Create a WRN with zeroed arenas (call pof_wrn_init_params or fill the arena). `input_grad`
 * enables the gradient with respect to the input (tests). bf16 fails with PETSC_ERR_SUP on a
 * CPU without AVX-512 (oneDNN 2.6 has no bf16 convolutions there). Not collective.
 */
PetscErrorCode pof_wrn_create(const PofWrnShape *shape, PofDType dt, PetscBool input_grad,
                              PofWrn *m);
PetscErrorCode pof_wrn_destroy(PofWrn *m);

void                 pof_wrn_get_shape(PofWrn m, PofWrnShape *shape);
PofDType             pof_wrn_dtype(PofWrn m);
PetscInt             pof_wrn_num_params(PofWrn m);
PetscInt             pof_wrn_num_feature_params(PofWrn m); /**< offset of linear.weight */
PetscInt             pof_wrn_feature_dim(PofWrn m);
PetscInt             pof_wrn_num_bn_state(PofWrn m);
const PofTensorInfo *pof_wrn_tensors(PofWrn m, PetscInt *ntensors);

/** The float arenas (owned by the model). After writing params call pof_wrn_params_changed. */
float *pof_wrn_params(PofWrn m);
float *pof_wrn_grads(PofWrn m);
float *pof_wrn_running(PofWrn m);
/** Mark the parameters changed (the blocked weight copies are refreshed on the next pass). */
void pof_wrn_params_changed(PofWrn m);
/**
 * Recompute mode (-model_recompute): a kept forward stores only each block's input and first
 * conv output; the BN+ReLU outputs are recomputed in backward from the stored BN scale/shift by
 * the same kernel, so gradients are bit-identical to the default mode, for about half the
 * activation memory and one extra BN+ReLU pass per BN layer. The blocked convolution weights
 * (forward and backward-data) are reordered from the float arena on each use into one buffer
 * shared by all convolutions instead of cached copies per convolution (one reorder of the
 * weights per pass). Changing the mode drops the last kept forward.
 */
void      pof_wrn_set_recompute(PofWrn m, PetscBool on);
PetscBool pof_wrn_recompute(PofWrn m);
/**
 * Winograd mode (-model_conv_alg winograd): every 3x3 stride-1 convolution in fp32 except the
 * first (plain input) runs oneDNN's Winograd F(4x4,3x3) in forward, backward data and backward
 * weights, about twice as fast as the direct algorithm on AVX-512, for a larger rounding error
 * (relative L2 about 1e-6 against a double reference, direct 2e-7) and a larger shared
 * scratchpad (at most 64 MiB per primitive call: larger batches run in chunks). bf16 has no
 * Winograd kernel: the direct algorithm runs. Off (direct everywhere) after pof_wrn_create.
 */
PetscErrorCode pof_wrn_set_winograd(PofWrn m, PetscBool on);
PetscBool      pof_wrn_winograd(PofWrn m);

/** POF.md initialization from stream (seed, POF_RNG_INIT, tensor index): Kaiming-normal
    (fan_out) convs, BN weight 1 / bias 0, linear weight N(0, 0.1^2), bias 0; running mean 0, var 1.
 */
PetscErrorCode pof_wrn_init_params(PofWrn m, PetscInt seed);

/** Synchronized BN: fn sums the per-channel statistics across ranks (NULL = per-rank BN). */
void pof_wrn_set_bn_sum(PofWrn m, PofSumFn fn, void *ctx);
/** Gradient-ready hook for overlapping the gradient exchange with backward (NULL = none). */
void pof_wrn_set_grad_ready(PofWrn m, PofGradReadyFn fn, void *ctx);
/** Call the gradient-ready hook for [offset, offset+count) (the caller computed that slice, e.g.
 * θ). */
PetscErrorCode pof_wrn_report_grad(PofWrn m, PetscInt offset, PetscInt count);

/**
 * Feature-extractor forward of n samples: x (n, C, H, W) plain float -> h (n, F) float.
 * mode POF_BN_TRAIN normalizes with batch statistics (global ones when a BN-sum function is
 * set) and, with POF_FWD_UPDATE_RUNNING, updates the running statistics; POF_BN_EVAL uses the
 * running statistics. POF_FWD_KEEP keeps what pof_wrn_features_backward needs; after an
 * eval-mode kept forward the backward treats the BN statistics as constants (the gradient of
 * the deterministic eval-mode function, used by pof analyze; no BN-sum calls).
 * n may vary from call to call (primitives are created once per distinct n).
 */
PetscErrorCode pof_wrn_features(PofWrn m, PofBnMode mode, unsigned flags, PetscInt n,
                                const float *x, float *h);

/**
 * Backward of the last forward, which must have been a kept one (an error otherwise: an unkept
 * forward in between overwrote the saved BN statistics and shares its buffers with this
 * backward), starting from the feature gradient dh (n, F): writes
 * (overwrites) the gradient of every feature-extractor parameter into the gradient arena
 * [0, n_feature), calling the gradient-ready hook per contiguous slice, and dx (n, C, H, W)
 * when not NULL (needs input_grad at creation).
 */
PetscErrorCode pof_wrn_features_backward(PofWrn m, const float *dh, float *dx);

/** ReLU handling of the following passes (pof analyze's difference quotients). */
typedef enum {
  POF_RELU_LIVE   = 0, /**< max(0, .) as usual */
  POF_RELU_RECORD = 1, /**< as usual, and store every ReLU's on/off pattern */
  POF_RELU_REPLAY = 2  /**< use the stored patterns (forward and backward) instead */
} PofReluMode;

/**
 * Set the ReLU mode and rewind the mask cursor to the start of buf (cap bytes, owned by the
 * caller, kept until the mode is set back to POF_RELU_LIVE). In record/replay mode every forward
 * consumes pof_wrn_relu_mask_bytes(m, n) bytes of buf in order, so a sequence of forwards replays
 * the masks recorded by the same sequence of batch sizes; a kept forward's masks are used by the
 * following backward. With replayed masks the network is a fixed piecewise-linear map of its
 * parameters, so central differences of its gradient give the Hessian of that piece. Local.
 */
PetscErrorCode pof_wrn_relu_masks(PofWrn m, PofReluMode mode, uint8_t *buf, size_t cap);
/** Bytes of ReLU masks one forward of n samples records. */
size_t pof_wrn_relu_mask_bytes(PofWrn m, PetscInt n);

/** Print every convolution's oneDNN implementations (rank-0 style output to f). */
PetscErrorCode pof_wrn_print_impls(PofWrn m, FILE *f);
/** PETSC_TRUE when any convolution primitive runs a reference (`ref:`) implementation. */
PetscBool pof_wrn_uses_ref_impl(PofWrn m);

/* ----------------------------------------------------------------- classifier and loss */

/** logits (n, C) = h (n, F) W^T + b, W (C, F) row-major; dot products accumulated in double. */
void pof_linear_forward(PetscInt n, PetscInt F, PetscInt C, const float *W, const float *b,
                        const float *h, float *logits);
/**
 * Backward of pof_linear_forward given dlogits (n, C): dW (C, F) and db (C) are OVERWRITTEN with
 * the sums over the n rows (NULL = not wanted); dh (n, F) = dlogits W (NULL = not wanted).
 */
void pof_linear_backward(PetscInt n, PetscInt F, PetscInt C, const float *W, const float *h,
                         const float *dlogits, float *dW, float *db, float *dh);
/**
 * Softmax cross-entropy of n rows: *loss_sum = Σ_i CE_i (double), *wrong = rows whose argmax is
 * not the label; dlogits (nullable) = scale * (softmax - onehot). Labels must be in [0, C).
 */
void pof_softmax_ce(PetscInt n, PetscInt C, const float *logits, const int32_t *labels,
                    double scale, double *loss_sum, PetscInt *wrong, float *dlogits);

#endif
