/**
 * @file ref_wrn.h
 * @brief The whole WRN of the layout documented in include/pof/nn.h in double precision (test
 * oracle, built on ref_nn.h).
 *
 * Parameters live in one flat arena in tests/ref/WRN_LAYOUT.md order (conv1.weight, blocks, final
 * bn1, linear.weight, linear.bias); BN running statistics in a second flat array (per BN layer in
 * BN order: mean[C] then var[C]). Gradients use the parameter arena's layout. Not thread-safe
 * across calls sharing output buffers; no global state. Test-support code, not part of pof.
 */
#ifndef POF_REF_WRN_H
#define POF_REF_WRN_H

/** depth = 6n + 4 (n >= 1), width = widening factor k, base = first-conv width b, input in_c x in_h
 * x in_w. */
typedef struct {
  int depth, width, base, in_c, in_h, in_w, classes;
} RefWrnShape;

/** 1 when s is a valid shape (depth = 6n + 4 with n >= 1, every other field >= 1), else 0. */
int ref_wrn_shape_valid(const RefWrnShape *s);

/** Number of parameter tensors (0 for an invalid shape). */
int ref_wrn_num_tensors(const RefWrnShape *s);
/**
 * Tensor i (0 <= i < ref_wrn_num_tensors) in arena order: PyTorch-style name (e.g.
 * "layer2.0.shortcut.0.weight"), offset into the flat parameter array, numel, ndim and dims
 * (PyTorch order; unused dims set to 1). An out-of-range i gives name "", numel 0, ndim 0.
 */
void ref_wrn_tensor(const RefWrnShape *s, int i, char name[64], long *offset, long *numel,
                    int *ndim, long dims[4]);
/** Length of the parameter arena (0 for an invalid shape). */
long ref_wrn_num_params(const RefWrnShape *s);
/** Number of feature-extractor parameters = offset of linear.weight. */
long ref_wrn_num_feature_params(const RefWrnShape *s);
/** Length of the BN running-statistics array (sum over BN layers of 2 C). */
long ref_wrn_num_bn_state(const RefWrnShape *s);
/** Feature dimension F = w3 = 4 base width (0 for an invalid shape). */
int ref_wrn_feature_dim(const RefWrnShape *s);

/**
 * Initialize per POF.md: conv weights N(0, 2 / (out kh kw)) (Kaiming normal, fan_out), BN weight 1
 * and bias 0, linear.weight N(0, 0.1^2), linear.bias 0; running (may be NULL) mean 0, var 1.
 * Deterministic in seed (splitmix64 + Box-Muller; not the pof RNG streams).
 */
void ref_wrn_init(const RefWrnShape *s, unsigned long seed, double *params, double *running);

/**
 * Forward and, when grad_params or grad_x is given, backward of the mean cross-entropy loss.
 * train = 1: every BN normalizes with its batch statistics (biased var) and, if running != NULL,
 * running is updated (momentum 0.1, unbiased var); train = 0: BN uses running (must be given),
 * running is unchanged and the backward treats the statistics as constants.
 * x (n, in_c, in_h, in_w), y[n] labels in [0, classes). Outputs, each optional (NULL = not wanted):
 * h (n, F) features, logits (n, classes), batch_stats (ref_wrn_num_bn_state: per BN in BN order the
 * mean[C] and biased var[C] of that BN's input in this pass), grad_params (full arena, classifier
 * included, overwritten), grad_x (n, in_c, in_h, in_w). Returns the mean CE loss; NAN when y is
 * NULL (then no backward is done), when the shape is invalid or when memory runs out.
 */
double ref_wrn_run(const RefWrnShape *s, const double *params, double *running, int train, int n,
                   const double *x, const int *y, double *h, double *logits, double *batch_stats,
                   double *grad_params, double *grad_x);

/**
 * Backward from a given feature gradient dh (n, F) (PoF takes the loss through another
 * classifier): train-mode BN (batch statistics, no running update). grad_params (full arena,
 * may be NULL) receives the feature-extractor gradient, its classifier part set to zero; grad_x
 * (may be NULL) the input gradient. On an invalid shape or out of memory the outputs are NAN.
 */
void ref_wrn_backward_from_features(const RefWrnShape *s, const double *params, int n,
                                    const double *x, const double *dh, double *grad_params,
                                    double *grad_x);

#endif
