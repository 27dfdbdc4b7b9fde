/**
 * @file ref_nn.h
 * @brief Double-precision reference layers (test oracle for the oneDNN engine in src/nn).
 *
 * Naive loops, plain NCHW row-major layout, no threads: clarity first. Test-support code, not
 * part of the pof binary. Conventions (llm.c style): outputs first, then inputs, then sizes;
 * every output buffer is overwritten (never accumulated into); buffers must not alias unless a
 * function says so. Shapes are given in comments as (N, C, H, W); hw = H * W.
 */
#ifndef POF_REF_NN_H
#define POF_REF_NN_H

/** BatchNorm epsilon and running-statistics momentum (PyTorch defaults, tests/ref/WRN_LAYOUT.md).
 */
#define REF_BN_EPS      1e-5
#define REF_BN_MOMENTUM 0.1

/** A 2-D convolution without bias: x (n, ci, h, w) * weight (co, ci, kh, kw) -> y (n, co, oh, ow).
 */
typedef struct {
  int n, ci, h, w; /**< input batch, channels, height, width */
  int co, kh, kw;  /**< output channels, kernel height and width */
  int stride, pad; /**< same stride and zero padding in both spatial directions */
} RefConv;

/** Output height: (h + 2 pad - kh) / stride + 1 (floor). */
int ref_conv2d_out_h(const RefConv *c);
/** Output width: (w + 2 pad - kw) / stride + 1 (floor). */
int ref_conv2d_out_w(const RefConv *c);

/** y (n, co, oh, ow) = conv(x (n, ci, h, w), weight (co, ci, kh, kw)). */
void ref_conv2d_forward(double *y, const double *x, const double *weight, const RefConv *c);
/** dx (n, ci, h, w) = gradient of sum(dy * y) with respect to x. */
void ref_conv2d_backward_data(double *dx, const double *dy, const double *weight, const RefConv *c);
/** dweight (co, ci, kh, kw) = gradient of sum(dy * y) with respect to weight. */
void ref_conv2d_backward_weights(double *dweight, const double *dy, const double *x,
                                 const RefConv *c);

/**
 * BatchNorm, training mode, x and y (n, c, hw): per channel over M = n * hw values, mean and
 * biased variance var = sum((x - mean)^2) / M; y = gamma (x - mean) / sqrt(var + eps) + beta.
 * mean[c] and var[c] receive the batch statistics.
 */
void ref_bn_train_forward(double *y, double *mean, double *var, const double *x,
                          const double *gamma, const double *beta, double eps, int n, int c,
                          int hw);
/**
 * Backward of ref_bn_train_forward, the exact gradient through the batch statistics. mean and var
 * are the batch statistics the forward returned. With xhat = (x - mean) rstd, rstd = 1/sqrt(var +
 * eps): dbeta = sum dy, dgamma = sum dy xhat, dx = gamma rstd / M (M dy - sum dy - xhat sum dy
 * xhat). Any of dx, dgamma, dbeta may be NULL.
 */
void ref_bn_train_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *mean, const double *var,
                           const double *gamma, double eps, int n, int c, int hw);
/** BatchNorm, inference mode: y = gamma (x - rmean) / sqrt(rvar + eps) + beta, x and y (n, c, hw).
 */
void ref_bn_infer_forward(double *y, const double *x, const double *rmean, const double *rvar,
                          const double *gamma, const double *beta, double eps, int n, int c,
                          int hw);
/** Backward of ref_bn_infer_forward (statistics are constants). Any of dx, dgamma, dbeta may be
 * NULL. */
void ref_bn_infer_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *rmean, const double *rvar,
                           const double *gamma, double eps, int n, int c, int hw);
/**
 * Running-statistics update (PyTorch): rmean = (1 - momentum) rmean + momentum mean,
 * rvar = (1 - momentum) rvar + momentum var M / (M - 1) (unbiased), with mean and the biased var
 * the batch statistics over count = M values per channel. For M = 1 (where PyTorch refuses to
 * train) the biased variance is used.
 */
void ref_bn_update_running(double *rmean, double *rvar, const double *mean, const double *var,
                           double momentum, long count, int c);

/** y = max(x, 0), len values; y may alias x. */
void ref_relu_forward(double *y, const double *x, long len);
/** dx = dy where x > 0, else 0 (x: the forward input; gradient 0 at x = 0 as PyTorch). dx may alias
 * dy. */
void ref_relu_backward(double *dx, const double *dy, const double *x, long len);

/** Residual add y = a + b, len values; y may alias a or b. */
void ref_add_forward(double *y, const double *a, const double *b, long len);
/** Backward of the residual add: da = dy and db = dy (either may be NULL). */
void ref_add_backward(double *da, double *db, const double *dy, long len);

/** Global average pooling: y (n, c) = mean over hw of x (n, c, hw). */
void ref_gap_forward(double *y, const double *x, int n, int c, int hw);
/** dx (n, c, hw) = dy (n, c) / hw. */
void ref_gap_backward(double *dx, const double *dy, int n, int c, int hw);

/** Linear layer: y (n, k) = x (n, f) weight^T + bias, weight (k, f), bias (k) (bias may be NULL).
 */
void ref_linear_forward(double *y, const double *x, const double *weight, const double *bias, int n,
                        int f, int k);
/**
 * Backward of ref_linear_forward: dx (n, f) = dy weight, dweight (k, f) = dy^T x, dbias (k) = sum
 * over the batch of dy. Any of dx, dweight, dbias may be NULL.
 */
void ref_linear_backward(double *dx, double *dweight, double *dbias, const double *dy,
                         const double *x, const double *weight, int n, int f, int k);

/**
 * Mean softmax cross-entropy of logits (n, k) against labels[i] in [0, k), computed with a
 * numerically stable log-sum-exp. Returns the loss; dlogits (n, k) (may be NULL) receives its
 * gradient (softmax - onehot) / n.
 */
double ref_softmax_ce(double *dlogits, const double *logits, const int *labels, int n, int k);

#endif
