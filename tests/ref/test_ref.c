/* Reference layers and reference WRN: known answers, central finite differences of every backward
   against its forward, the WRN layout, BN running statistics and eval/train consistency.
   Gradient tolerance: central differences with step 1e-5 in double (measured on these tests:
   rounding noise dominates at 1e-6 and 1e-7, worst rel ~1e-6 and ~1e-5, and at 1e-4 one step
   crosses a ReLU kink; at 1e-5 the worst is ~1e-7); per checked element
   rel = |fd - an| / max(1e-8, |fd| + |an|, 1e-2 S), S = max over the checked elements of the
   tensor of |fd| + |an|; the worst rel over a tensor must be < FD_TOL = 1e-5. The 1e-2 S floor
   keeps the absolute rounding noise of the differences (~1e-11 for a loss ~ 1) from failing
   entries 1e4 times smaller than their tensor's largest ones; an absolute error above 1e-7 S
   still fails. The worst element is printed with its index on failure. */
#include "ref/ref_nn.h"
#include "ref/ref_wrn.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define FD_TOL  1e-5
#define FD_STEP 1e-5

/* ------------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x1234567ULL;

static double urand(void) /* uniform in [-1, 1) */
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1p-52 - 1.0;
}

static double *rand_vec(long len)
{
  double *v = malloc(sizeof(double) * (size_t)len);
  assert_non_null(v);
  for (long i = 0; i < len; i++) v[i] = urand();
  return v;
}

static double *zero_vec(long len)
{
  double *v = calloc((size_t)len, sizeof(double));
  assert_non_null(v);
  return v;
}

static double max_rel_diff(const double *a, const double *b, long len)
{
  double worst = 0;
  for (long i = 0; i < len; i++) {
    const double d = fabs(a[i] - b[i]) / fmax(1e-300, fmax(fabs(a[i]), fabs(b[i])));
    if (a[i] != b[i] && d > worst) worst = d;
  }
  return worst;
}

typedef double (*LossFn)(void *ctx);

static double worst_seen = 0; /* over the whole run, printed at the end */

/* Central differences of f with respect to v[i], compared with the analytic an[i], for every i
   when len <= nsample, else for nsample evenly spaced i. Returns the worst relative error. */
static double fd_check(const char *what, double *v, long len, const double *an, LossFn f, void *ctx,
                       long nsample)
{
  const long cnt   = len <= nsample ? len : nsample;
  double     worst = 0, wfd = 0, wan = 0, scale = 0;
  long       wi = -1;
  double    *fd = malloc(sizeof(double) * (size_t)cnt);
  long      *at = malloc(sizeof(long) * (size_t)cnt);
  assert_true(fd && at);
  for (long k = 0; k < cnt; k++) {
    const long   i = len <= nsample ? k : (long)(((double)k + 0.5) * (double)len / (double)nsample);
    const double v0 = v[i];
    v[i]            = v0 + FD_STEP;
    const double fp = f(ctx);
    v[i]            = v0 - FD_STEP;
    const double fm = f(ctx);
    v[i]            = v0;
    fd[k] = (fp - fm) / (2 * FD_STEP), at[k] = i;
    scale = fmax(scale, fabs(fd[k]) + fabs(an[i]));
  }
  for (long k = 0; k < cnt; k++) {
    const long   i = at[k];
    const double r =
        fabs(fd[k] - an[i]) / fmax(fmax(1e-8, 1e-2 * scale), fabs(fd[k]) + fabs(an[i]));
    if (r >= worst) worst = r, wi = i, wfd = fd[k], wan = an[i];
  }
  free(fd), free(at);
  if (worst > worst_seen) worst_seen = worst;
  if (!(worst < FD_TOL))
    printf("FAIL %-32s worst rel %.3e at [%ld]: fd %.12e analytic %.12e (%ld checked)\n", what,
           worst, wi, wfd, wan, cnt);
  else
    printf("  %-32s worst rel %.2e (%ld checked)\n", what, worst, cnt);
  return worst;
}

/* ------------------------------------------------------------------ conv */

static void test_conv_known(void **state)
{
  (void)state;
  const double x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, ones[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  double       y[9];
  RefConv      c     = { 1, 1, 3, 3, 1, 3, 3, 1, 1 };
  const double e1[9] = { 12, 21, 16, 27, 45, 33, 24, 39, 28 };
  assert_int_equal(ref_conv2d_out_h(&c), 3);
  ref_conv2d_forward(y, x, ones, &c);
  for (int i = 0; i < 9; i++) assert_true(y[i] == e1[i]);
  c.stride = 2; /* the corners of the stride-1 result */
  assert_int_equal(ref_conv2d_out_h(&c), 2);
  ref_conv2d_forward(y, x, ones, &c);
  assert_true(y[0] == 12 && y[1] == 16 && y[2] == 24 && y[3] == 28);
  /* a centred delta kernel copies each channel; two input channels, two output channels swapped */
  double  w[2 * 2 * 9]   = { 0 }, x2[2 * 9], y2[2 * 9];
  RefConv c2             = { 1, 2, 3, 3, 2, 3, 3, 1, 1 };
  w[(0 * 2 + 1) * 9 + 4] = 1; /* out 0 <- in 1 */
  w[(1 * 2 + 0) * 9 + 4] = 2; /* out 1 <- 2 in 0 */
  for (int i = 0; i < 18; i++) x2[i] = i;
  ref_conv2d_forward(y2, x2, w, &c2);
  for (int i = 0; i < 9; i++) assert_true(y2[i] == x2[9 + i] && y2[9 + i] == 2 * x2[i]);
  /* a 1x1 conv is a matrix product over channels: y[n][o][p] = sum_i w[o][i] x[n][i][p] */
  RefConv c3 = { 2, 3, 2, 3, 4, 1, 1, 1, 0 };
  double *x3 = rand_vec(2 * 3 * 6), *w3 = rand_vec(4 * 3), *y3 = zero_vec(2 * 4 * 6);
  ref_conv2d_forward(y3, x3, w3, &c3);
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 4; o++)
      for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 3; i++) s += w3[o * 3 + i] * x3[(n * 3 + i) * 6 + p];
        assert_true(fabs(y3[(n * 4 + o) * 6 + p] - s) < 1e-14);
      }
  free(x3), free(w3), free(y3);
}

typedef struct {
  RefConv c;
  double *x, *w, *r, *y;
  long    ny;
} ConvCtx;

static double conv_loss(void *p)
{
  ConvCtx *k = p;
  ref_conv2d_forward(k->y, k->x, k->w, &k->c);
  double s = 0;
  for (long i = 0; i < k->ny; i++) s += k->r[i] * k->y[i];
  return s;
}

static void check_conv(RefConv c, const char *label)
{
  ConvCtx    k = { .c = c };
  char       what[64];
  const long nx = (long)c.n * c.ci * c.h * c.w, nw = (long)c.co * c.ci * c.kh * c.kw;
  k.ny = (long)c.n * c.co * ref_conv2d_out_h(&c) * ref_conv2d_out_w(&c);
  k.x = rand_vec(nx), k.w = rand_vec(nw), k.r = rand_vec(k.ny), k.y = zero_vec(k.ny);
  double *dx = zero_vec(nx), *dw = zero_vec(nw);
  ref_conv2d_backward_data(dx, k.r, k.w, &c);
  ref_conv2d_backward_weights(dw, k.r, k.x, &c);
  snprintf(what, sizeof(what), "conv %s dx", label);
  assert_true(fd_check(what, k.x, nx, dx, conv_loss, &k, 1000) < FD_TOL);
  snprintf(what, sizeof(what), "conv %s dw", label);
  assert_true(fd_check(what, k.w, nw, dw, conv_loss, &k, 1000) < FD_TOL);
  free(k.x), free(k.w), free(k.r), free(k.y), free(dx), free(dw);
}

static void test_conv_grad(void **state)
{
  (void)state;
  /*                 n  ci h  w  co kh kw s  p */
  check_conv((RefConv){ 2, 3, 5, 7, 4, 3, 3, 1, 1 }, "3x3 s1 5x7");
  check_conv((RefConv){ 2, 3, 5, 7, 4, 3, 3, 2, 1 }, "3x3 s2 5x7");
  check_conv((RefConv){ 2, 3, 6, 6, 5, 3, 3, 2, 1 }, "3x3 s2 6x6");
  check_conv((RefConv){ 3, 4, 5, 7, 2, 1, 1, 2, 0 }, "1x1 s2 5x7");
  check_conv((RefConv){ 2, 3, 4, 5, 6, 1, 1, 1, 0 }, "1x1 s1 4x5");
  check_conv((RefConv){ 2, 2, 7, 5, 3, 3, 3, 2, 0 }, "3x3 s2 p0 7x5");
  check_conv((RefConv){ 1, 2, 5, 6, 3, 2, 3, 1, 1 }, "2x3 s1 p1 5x6");
}

/* ------------------------------------------------------------------ batch norm */

static void test_bn_known(void **state)
{
  (void)state;
  /* n = 2, c = 2, hw = 2: channel 0 holds 1, 2 (sample 0) and 3, 4 (sample 1). */
  const double x[8] = { 1, 2, -1, -1, 3, 4, 5, 5 }, gamma[2] = { 2, 1 }, beta[2] = { 0.5, -1 };
  double       y[8], mean[2], var[2];
  ref_bn_train_forward(y, mean, var, x, gamma, beta, 1e-5, 2, 2, 2);
  assert_true(fabs(mean[0] - 2.5) < 1e-15 && fabs(var[0] - 1.25) < 1e-15);
  assert_true(fabs(mean[1] - 2.0) < 1e-15 && fabs(var[1] - 9.0) < 1e-15);
  const double r0 = 1 / sqrt(1.25 + 1e-5), r1 = 1 / sqrt(9.0 + 1e-5);
  assert_true(fabs(y[0] - (2 * (1 - 2.5) * r0 + 0.5)) < 1e-14);
  assert_true(fabs(y[5] - (2 * (4 - 2.5) * r0 + 0.5)) < 1e-14);
  assert_true(fabs(y[2] - ((-1 - 2.0) * r1 - 1)) < 1e-14);
  assert_true(fabs(y[7] - ((5 - 2.0) * r1 - 1)) < 1e-14);
  /* inference mode with given statistics */
  const double rm[2] = { 1, -2 }, rv[2] = { 4, 0.25 };
  ref_bn_infer_forward(y, x, rm, rv, gamma, beta, 1e-5, 2, 2, 2);
  assert_true(fabs(y[1] - (2 * (2 - 1) / sqrt(4 + 1e-5) + 0.5)) < 1e-14);
  assert_true(fabs(y[6] - ((5 + 2) / sqrt(0.25 + 1e-5) - 1)) < 1e-14);
  /* running update: momentum 0.1, unbiased variance over M = 4 values */
  double rmean[2] = { 1, -2 }, rvar[2] = { 4, 0.25 };
  ref_bn_update_running(rmean, rvar, mean, var, 0.1, 4, 2);
  assert_true(fabs(rmean[0] - (0.9 * 1 + 0.1 * 2.5)) < 1e-15 &&
              fabs(rmean[1] - (0.9 * -2 + 0.1 * 2.0)) < 1e-15);
  assert_true(fabs(rvar[0] - (0.9 * 4 + 0.1 * 1.25 * 4 / 3)) < 1e-15 &&
              fabs(rvar[1] - (0.9 * 0.25 + 0.1 * 9.0 * 4 / 3)) < 1e-15);
}

typedef struct {
  int     n, c, hw, train;
  double *x, *gamma, *beta, *rm, *rv, *r, *y, *mean, *var;
} BnCtx;

static double bn_loss(void *p)
{
  BnCtx     *k   = p;
  const long len = (long)k->n * k->c * k->hw;
  if (k->train)
    ref_bn_train_forward(k->y, k->mean, k->var, k->x, k->gamma, k->beta, REF_BN_EPS, k->n, k->c,
                         k->hw);
  else
    ref_bn_infer_forward(k->y, k->x, k->rm, k->rv, k->gamma, k->beta, REF_BN_EPS, k->n, k->c,
                         k->hw);
  double s = 0;
  for (long i = 0; i < len; i++) s += k->r[i] * k->y[i];
  return s;
}

static void check_bn(int n, int c, int hw, int train)
{
  BnCtx      k   = { .n = n, .c = c, .hw = hw, .train = train };
  const long len = (long)n * c * hw;
  char       what[64];
  k.x = rand_vec(len), k.gamma = rand_vec(c), k.beta = rand_vec(c), k.r = rand_vec(len),
  k.y    = zero_vec(len);
  k.mean = zero_vec(c), k.var = zero_vec(c), k.rm = rand_vec(c), k.rv = rand_vec(c);
  for (int i = 0; i < c; i++)
    k.rv[i] = 0.5 + k.rv[i] * k.rv[i], k.x[i] += 0.3 * i; /* positive variance, unequal means */
  double *dx = zero_vec(len), *dg = zero_vec(c), *db = zero_vec(c);
  bn_loss(&k);
  if (train) {
    /* the returned statistics against a direct computation */
    for (int ch = 0; ch < c; ch++) {
      double s = 0, s2 = 0;
      for (int i = 0; i < n; i++)
        for (int q = 0; q < hw; q++) s += k.x[((long)i * c + ch) * hw + q];
      const double mu = s / (n * hw);
      for (int i = 0; i < n; i++)
        for (int q = 0; q < hw; q++) s2 += pow(k.x[((long)i * c + ch) * hw + q] - mu, 2);
      assert_true(fabs(k.mean[ch] - mu) < 1e-14 && fabs(k.var[ch] - s2 / (n * hw)) < 1e-14);
    }
    ref_bn_train_backward(dx, dg, db, k.r, k.x, k.mean, k.var, k.gamma, REF_BN_EPS, n, c, hw);
  } else
    ref_bn_infer_backward(dx, dg, db, k.r, k.x, k.rm, k.rv, k.gamma, REF_BN_EPS, n, c, hw);
  snprintf(what, sizeof(what), "bn %s n%d c%d hw%d dx", train ? "train" : "infer", n, c, hw);
  assert_true(fd_check(what, k.x, len, dx, bn_loss, &k, 1000) < FD_TOL);
  snprintf(what, sizeof(what), "bn %s n%d c%d hw%d dgamma", train ? "train" : "infer", n, c, hw);
  assert_true(fd_check(what, k.gamma, c, dg, bn_loss, &k, 1000) < FD_TOL);
  snprintf(what, sizeof(what), "bn %s n%d c%d hw%d dbeta", train ? "train" : "infer", n, c, hw);
  assert_true(fd_check(what, k.beta, c, db, bn_loss, &k, 1000) < FD_TOL);
  free(k.x), free(k.gamma), free(k.beta), free(k.r), free(k.y), free(k.mean), free(k.var),
      free(k.rm), free(k.rv);
  free(dx), free(dg), free(db);
}

static void test_bn_grad(void **state)
{
  (void)state;
  check_bn(3, 4, 35, 1);
  check_bn(2, 3, 1, 1);
  check_bn(5, 2, 4, 1);
  check_bn(3, 4, 35, 0);
  check_bn(2, 3, 1, 0);
}

/* ------------------------------------------------------------------ small layers */

typedef struct {
  int     n, c, hw, f, k;
  double *x, *a, *b, *w, *bias, *r, *y;
  int    *labels;
  int     kind; /* 0 relu, 1 add, 2 gap, 3 linear, 4 ce */
} SmallCtx;

static double small_loss(void *p)
{
  SmallCtx *k   = p;
  long      len = 0;
  switch (k->kind) {
  case 0: len = (long)k->n * k->c * k->hw, ref_relu_forward(k->y, k->x, len); break;
  case 1: len = (long)k->n * k->c * k->hw, ref_add_forward(k->y, k->a, k->b, len); break;
  case 2: len = (long)k->n * k->c, ref_gap_forward(k->y, k->x, k->n, k->c, k->hw); break;
  case 3:
    len = (long)k->n * k->k, ref_linear_forward(k->y, k->x, k->w, k->bias, k->n, k->f, k->k);
    break;
  default: return ref_softmax_ce(NULL, k->x, k->labels, k->n, k->k);
  }
  double s = 0;
  for (long i = 0; i < len; i++) s += k->r[i] * k->y[i];
  return s;
}

static void test_small_layers_grad(void **state)
{
  (void)state;
  SmallCtx   k   = { .n = 3, .c = 4, .hw = 35, .f = 7, .k = 5 };
  const long len = (long)k.n * k.c * k.hw;
  k.x = rand_vec(len), k.a = rand_vec(len), k.b = rand_vec(len), k.r = rand_vec(len),
  k.y = zero_vec(len);
  k.w = rand_vec((long)k.k * k.f), k.bias = rand_vec(k.k);
  double *g1 = zero_vec(len), *g2 = zero_vec(len), *g3 = zero_vec(len);
  for (long i = 0; i < len; i++)
    if (fabs(k.x[i]) < 1e-3) k.x[i] = 0.5; /* keep finite differences off the ReLU kink */
  /* ReLU */
  k.kind = 0;
  ref_relu_backward(g1, k.r, k.x, len);
  assert_true(fd_check("relu dx", k.x, len, g1, small_loss, &k, 1000) < FD_TOL);
  double z[2] = { 0, -1 }, dz[2] = { 5, 5 };
  ref_relu_backward(dz, dz, z, 2);
  assert_true(dz[0] == 0 && dz[1] == 0); /* gradient 0 at x = 0 (PyTorch) */
  /* residual add */
  k.kind = 1;
  ref_add_backward(g1, g2, k.r, len);
  assert_true(fd_check("add da", k.a, len, g1, small_loss, &k, 1000) < FD_TOL);
  assert_true(fd_check("add db", k.b, len, g2, small_loss, &k, 1000) < FD_TOL);
  /* global average pooling */
  k.kind = 2;
  ref_gap_forward(k.y, k.x, k.n, k.c, k.hw);
  double s = 0;
  for (int p = 0; p < k.hw; p++) s += k.x[1 * k.hw + p];
  assert_true(fabs(k.y[1] - s / k.hw) < 1e-15);
  ref_gap_backward(g1, k.r, k.n, k.c, k.hw);
  assert_true(fd_check("gap dx", k.x, len, g1, small_loss, &k, 1000) < FD_TOL);
  /* linear: x (n, f), weight (k, f), bias (k) */
  k.kind = 3;
  ref_linear_forward(k.y, k.x, k.w, k.bias, k.n, k.f, k.k);
  s = k.bias[2];
  for (int j = 0; j < k.f; j++) s += k.w[2 * k.f + j] * k.x[1 * k.f + j];
  assert_true(fabs(k.y[1 * k.k + 2] - s) < 1e-14);
  ref_linear_backward(g1, g2, g3, k.r, k.x, k.w, k.n, k.f, k.k);
  assert_true(fd_check("linear dx", k.x, (long)k.n * k.f, g1, small_loss, &k, 1000) < FD_TOL);
  assert_true(fd_check("linear dweight", k.w, (long)k.k * k.f, g2, small_loss, &k, 1000) < FD_TOL);
  assert_true(fd_check("linear dbias", k.bias, k.k, g3, small_loss, &k, 1000) < FD_TOL);
  /* softmax cross-entropy on logits (n, k) */
  k.kind   = 4;
  k.labels = malloc(sizeof(int) * (size_t)k.n);
  assert_non_null(k.labels);
  for (int i = 0; i < k.n; i++) k.labels[i] = (2 * i + 1) % k.k;
  for (long i = 0; i < (long)k.n * k.k; i++) k.x[i] *= 3;
  ref_softmax_ce(g1, k.x, k.labels, k.n, k.k);
  assert_true(fd_check("softmax ce dlogits", k.x, (long)k.n * k.k, g1, small_loss, &k, 1000) <
              FD_TOL);
  free(k.x), free(k.a), free(k.b), free(k.r), free(k.y), free(k.w), free(k.bias), free(k.labels);
  free(g1), free(g2), free(g3);
}

static void test_ce_known(void **state)
{
  (void)state;
  const double flat[6] = { 0.3, 0.3, 0.3, 0.3, 0.3, 0.3 }, big[4] = { 1000, 0, -1000, 1000 };
  const int    lab[2] = { 0, 2 }, lab2[2] = { 1, 1 };
  double       d[6];
  assert_true(fabs(ref_softmax_ce(d, flat, lab, 2, 3) - log(3.0)) < 1e-15);
  assert_true(fabs(d[0] - (1.0 / 3 - 1) / 2) < 1e-15 && fabs(d[1] - 1.0 / 6) < 1e-15);
  /* no overflow: sample 0 (logits 1000, 0; label 1) has loss 1000, sample 1 (-1000, 1000; label
     1) loss log(1 + e^-2000) = 0 */
  const double l = ref_softmax_ce(d, big, lab2, 2, 2);
  assert_true(isfinite(l) && fabs(l - 500) < 1e-12);
  assert_true(fabs(d[0] - 0.5) < 1e-15 && fabs(d[1] + 0.5) < 1e-15 && fabs(d[2]) < 1e-300 &&
              fabs(d[3]) < 1e-15);
}

/* ------------------------------------------------------------------ WRN layout and init */

static void test_wrn_layout(void **state)
{
  (void)state;
  const RefWrnShape s       = { 10, 1, 4, 2, 6, 6, 3 };
  const char       *names[] = { "conv1.weight",
                                "layer1.0.bn1.weight",
                                "layer1.0.bn1.bias",
                                "layer1.0.conv1.weight",
                                "layer1.0.bn2.weight",
                                "layer1.0.bn2.bias",
                                "layer1.0.conv2.weight",
                                "layer2.0.bn1.weight",
                                "layer2.0.bn1.bias",
                                "layer2.0.conv1.weight",
                                "layer2.0.bn2.weight",
                                "layer2.0.bn2.bias",
                                "layer2.0.conv2.weight",
                                "layer2.0.shortcut.0.weight",
                                "layer3.0.bn1.weight",
                                "layer3.0.bn1.bias",
                                "layer3.0.conv1.weight",
                                "layer3.0.bn2.weight",
                                "layer3.0.bn2.bias",
                                "layer3.0.conv2.weight",
                                "layer3.0.shortcut.0.weight",
                                "bn1.weight",
                                "bn1.bias",
                                "linear.weight",
                                "linear.bias" };
  const long shapes[][4]    = { { 4, 2, 3, 3 },  { 4, 1, 1, 1 },  { 4, 1, 1, 1 },  { 4, 4, 3, 3 },
                                { 4, 1, 1, 1 },  { 4, 1, 1, 1 },  { 4, 4, 3, 3 },  { 4, 1, 1, 1 },
                                { 4, 1, 1, 1 },  { 8, 4, 3, 3 },  { 8, 1, 1, 1 },  { 8, 1, 1, 1 },
                                { 8, 8, 3, 3 },  { 8, 4, 1, 1 },  { 8, 1, 1, 1 },  { 8, 1, 1, 1 },
                                { 16, 8, 3, 3 }, { 16, 1, 1, 1 }, { 16, 1, 1, 1 }, { 16, 16, 3, 3 },
                                { 16, 8, 1, 1 }, { 16, 1, 1, 1 }, { 16, 1, 1, 1 }, { 3, 16, 1, 1 },
                                { 3, 1, 1, 1 } };
  const int  nt             = (int)(sizeof(names) / sizeof(names[0]));
  assert_int_equal(ref_wrn_num_tensors(&s), nt);
  long expect_off = 0;
  for (int i = 0; i < nt; i++) {
    char name[64];
    long off, numel, dims[4];
    int  ndim;
    ref_wrn_tensor(&s, i, name, &off, &numel, &ndim, dims);
    assert_string_equal(name, names[i]);
    assert_int_equal(off, expect_off);
    assert_int_equal(numel, shapes[i][0] * shapes[i][1] * shapes[i][2] * shapes[i][3]);
    assert_int_equal(ndim, strstr(name, "conv") || strstr(name, "shortcut") ? 4
                           : strcmp(name, "linear.weight") == 0             ? 2
                                                                            : 1);
    for (int d = 0; d < 4; d++) assert_int_equal(dims[d], shapes[i][d]);
    if (strcmp(name, "linear.weight") == 0) assert_int_equal(off, ref_wrn_num_feature_params(&s));
    expect_off += numel;
  }
  assert_int_equal(ref_wrn_num_params(&s), expect_off);
  assert_int_equal(ref_wrn_feature_dim(&s), 16);
  assert_int_equal(ref_wrn_num_bn_state(&s), 2 * (4 + 4 + 4 + 8 + 8 + 16 + 16));
  char name[64];
  long off, numel, dims[4];
  int  ndim;
  ref_wrn_tensor(&s, nt, name, &off, &numel, &ndim, dims);
  assert_true(name[0] == 0 && numel == 0);

  /* WRN-16-2, base 2: stage 1 block 0 has a stride-1 conv shortcut (2 -> 4 channels), the second
     block of every stage an identity shortcut */
  const RefWrnShape s2 = { 16, 2, 2, 1, 5, 7, 4 };
  assert_int_equal(ref_wrn_num_tensors(&s2), 1 + 3 * (7 + 6) + 4);
  int found_sc = 0;
  for (int i = 0; i < ref_wrn_num_tensors(&s2); i++) {
    ref_wrn_tensor(&s2, i, name, &off, &numel, &ndim, dims);
    if (strstr(name, "shortcut")) {
      assert_true(strstr(name, ".0.shortcut") != NULL);
      found_sc++;
    }
    if (strcmp(name, "layer1.0.shortcut.0.weight") == 0) assert_true(dims[0] == 4 && dims[1] == 2);
  }
  assert_int_equal(found_sc, 3);

  /* parameter count of the standard WRN-28-10 on CIFAR-10 (36,479,194, as PyTorch counts it) and
     WRN-16-4 (2,748,890) */
  const RefWrnShape s28 = { 28, 10, 16, 3, 32, 32, 10 }, s16 = { 16, 4, 16, 3, 32, 32, 10 };
  assert_int_equal(ref_wrn_num_params(&s28), 36479194);
  assert_int_equal(ref_wrn_num_params(&s16), 2748890);
  assert_int_equal(ref_wrn_feature_dim(&s28), 640);

  /* invalid shapes */
  const RefWrnShape bad[3] = { { 12, 1, 4, 2, 6, 6, 3 },
                               { 4, 1, 4, 2, 6, 6, 3 },
                               { 10, 0, 4, 2, 6, 6, 3 } };
  for (int i = 0; i < 3; i++) {
    assert_false(ref_wrn_shape_valid(&bad[i]));
    assert_int_equal(ref_wrn_num_tensors(&bad[i]), 0);
    assert_int_equal(ref_wrn_num_params(&bad[i]), 0);
  }
}

static void test_wrn_init(void **state)
{
  (void)state;
  const RefWrnShape s  = { 10, 2, 8, 3, 8, 8, 10 };
  const long        np = ref_wrn_num_params(&s), ns = ref_wrn_num_bn_state(&s);
  double           *p = zero_vec(np), *q = zero_vec(np), *run = zero_vec(ns);
  ref_wrn_init(&s, 42, p, run);
  ref_wrn_init(&s, 42, q, NULL);
  assert_true(memcmp(p, q, sizeof(double) * (size_t)np) == 0);
  ref_wrn_init(&s, 43, q, NULL);
  assert_true(p[0] != q[0] && p[np - 100] != q[np - 100]);
  for (int i = 0; i < ref_wrn_num_tensors(&s); i++) {
    char name[64];
    long off, numel, dims[4];
    int  ndim;
    ref_wrn_tensor(&s, i, name, &off, &numel, &ndim, dims);
    double sum = 0, sum2 = 0;
    for (long k = 0; k < numel; k++) sum += p[off + k], sum2 += p[off + k] * p[off + k];
    const double mean = sum / (double)numel, sd = sqrt(sum2 / (double)numel - mean * mean);
    if (ndim == 1) {
      const double v = (strstr(name, "bn") && strstr(name, ".weight")) ? 1.0 : 0.0;
      for (long k = 0; k < numel; k++) assert_true(p[off + k] == v);
    } else {
      const double want = ndim == 2 ? 0.1 : sqrt(2.0 / (double)(dims[0] * dims[2] * dims[3]));
      /* sample sd within 6 standard errors (se of sd ~ sd / sqrt(2 numel)) */
      if (fabs(sd / want - 1) > 6 / sqrt(2.0 * (double)numel) ||
          fabs(mean) > 6 * want / sqrt((double)numel))
        fail_msg("%s: sample mean %g sd %g, want 0 and %g (numel %ld)", name, mean, sd, want,
                 numel);
    }
  }
  /* running: per BN mean[C] = 0 then var[C] = 1 (the per-BN packing is checked in
   * test_wrn_running_and_eval) */
  long zs = 0, os = 0;
  for (long k = 0; k < ns; k++) zs += run[k] == 0, os += run[k] == 1;
  assert_true(zs == os && 2 * zs == ns && run[0] == 0 && run[ns - 1] == 1);
  free(p), free(q), free(run);
}

/* ------------------------------------------------------------------ whole WRN */

typedef struct {
  RefWrnShape s;
  double     *p, *x, *run, *r;
  int        *y, n, train, feat; /* feat: loss = sum(r * h) through the features only */
} WrnCtx;

static double wrn_loss(void *pp)
{
  WrnCtx *k = pp;
  if (k->feat) {
    const long nh = (long)k->n * ref_wrn_feature_dim(&k->s);
    double    *h  = zero_vec(nh);
    ref_wrn_run(&k->s, k->p, NULL, 1, k->n, k->x, NULL, h, NULL, NULL, NULL, NULL);
    double s = 0;
    for (long i = 0; i < nh; i++) s += k->r[i] * h[i];
    free(h);
    return s;
  }
  return ref_wrn_run(&k->s, k->p, k->run, k->train, k->n, k->x, k->y, NULL, NULL, NULL, NULL, NULL);
}

/* Perturb the freshly initialized net so that no gradient vanishes by symmetry (BN gamma 1, beta
   0, zero linear.bias): every parameter gets a random offset. */
static void wrn_setup(WrnCtx *k, RefWrnShape s, int n, unsigned long seed)
{
  memset(k, 0, sizeof(*k));
  k->s          = s;
  k->n          = n;
  const long np = ref_wrn_num_params(&s), nx = (long)n * s.in_c * s.in_h * s.in_w;
  k->p = zero_vec(np);
  ref_wrn_init(&s, seed, k->p, NULL);
  for (long i = 0; i < np; i++) k->p[i] += 0.2 * urand();
  k->x = rand_vec(nx);
  k->y = malloc(sizeof(int) * (size_t)n);
  assert_non_null(k->y);
  for (int i = 0; i < n; i++) k->y[i] = (i * 2 + 1) % s.classes;
  k->r = rand_vec((long)n * ref_wrn_feature_dim(&s));
}

static void wrn_teardown(WrnCtx *k)
{
  free(k->p), free(k->x), free(k->y), free(k->r), free(k->run);
}

/* FD check of every parameter tensor (all entries up to 64, else 16 evenly spaced) and of the
 * input. */
static double wrn_fd_all(WrnCtx *k, const char *label, const double *g, const double *gx)
{
  double worst = 0;
  char   what[96];
  for (int i = 0; i < ref_wrn_num_tensors(&k->s); i++) {
    char name[64];
    long off, numel, dims[4];
    int  ndim;
    ref_wrn_tensor(&k->s, i, name, &off, &numel, &ndim, dims);
    snprintf(what, sizeof(what), "%s %s", label, name);
    worst = fmax(worst, fd_check(what, k->p + off, numel, g + off, wrn_loss, k, 64));
  }
  snprintf(what, sizeof(what), "%s input", label);
  worst = fmax(worst, fd_check(what, k->x, (long)k->n * k->s.in_c * k->s.in_h * k->s.in_w, gx,
                               wrn_loss, k, 1000));
  return worst;
}

static void check_wrn_grad(RefWrnShape s, int n, int train, const char *label)
{
  WrnCtx k;
  wrn_setup(&k, s, n, 7);
  k.train       = train;
  const long np = ref_wrn_num_params(&s), nx = (long)n * s.in_c * s.in_h * s.in_w;
  double    *g = zero_vec(np), *gx = zero_vec(nx);
  if (!train) { /* eval mode with non-trivial running statistics from two training passes */
    k.run       = zero_vec(ref_wrn_num_bn_state(&s));
    double *tmp = zero_vec(np);
    ref_wrn_init(&s, 7, tmp, k.run);
    free(tmp);
    ref_wrn_run(&s, k.p, k.run, 1, n, k.x, k.y, NULL, NULL, NULL, NULL, NULL);
    for (long i = 0; i < nx; i++) k.x[i] = 0.5 * k.x[i] + 0.2;
    ref_wrn_run(&s, k.p, k.run, 1, n, k.x, k.y, NULL, NULL, NULL, NULL, NULL);
  }
  const double loss = ref_wrn_run(&s, k.p, k.run, train, n, k.x, k.y, NULL, NULL, NULL, g, gx);
  assert_true(isfinite(loss) && loss > 0);
  assert_true(wrn_fd_all(&k, label, g, gx) < FD_TOL);
  free(g), free(gx);
  wrn_teardown(&k);
}

static void test_wrn_grad_train(void **state)
{
  (void)state;
  /* WRN-10-1, base 4, input 2x6x6, 3 classes, batch 3: identity shortcut in stage 1, stride-2
     conv shortcuts in stages 2 and 3 */
  check_wrn_grad((RefWrnShape){ 10, 1, 4, 2, 6, 6, 3 }, 3, 1, "wrn10-1");
  /* WRN-16-2, base 2, input 1x5x7 (odd sizes), 4 classes, batch 2: stride-1 conv shortcut in
     stage 1, identity shortcuts in every second block */
  check_wrn_grad((RefWrnShape){ 16, 2, 2, 1, 5, 7, 4 }, 2, 1, "wrn16-2");
}

static void test_wrn_grad_eval(void **state)
{
  (void)state;
  check_wrn_grad((RefWrnShape){ 10, 1, 4, 2, 5, 7, 3 }, 3, 0, "wrn10-1 eval");
}

/* backward_from_features: against finite differences of sum(r * h), and with dh = dLoss/dh it
   reproduces ref_wrn_run's feature-extractor gradient (classifier part zero). */
static void test_wrn_backward_from_features(void **state)
{
  (void)state;
  const RefWrnShape s = { 10, 1, 4, 2, 6, 6, 3 };
  WrnCtx            k;
  wrn_setup(&k, s, 3, 11);
  const long np = ref_wrn_num_params(&s), nf = ref_wrn_num_feature_params(&s), nx = 3L * 2 * 6 * 6;
  const int  F = ref_wrn_feature_dim(&s);
  double    *g = zero_vec(np), *gx = zero_vec(nx), *g2 = zero_vec(np), *gx2 = zero_vec(nx);
  for (long i = 0; i < np; i++) g[i] = 123; /* must be overwritten */
  ref_wrn_backward_from_features(&s, k.p, 3, k.x, k.r, g, gx);
  for (long i = nf; i < np; i++) assert_true(g[i] == 0);
  k.feat = 1;
  assert_true(wrn_fd_all(&k, "features", g, gx) < FD_TOL);

  double *h = zero_vec(3L * F), *logits = zero_vec(3L * s.classes), *dl = zero_vec(3L * s.classes),
         *dh = zero_vec(3L * F);
  ref_wrn_run(&s, k.p, NULL, 1, 3, k.x, k.y, h, logits, NULL, g2, gx2);
  ref_softmax_ce(dl, logits, k.y, 3, s.classes);
  ref_linear_backward(dh, NULL, NULL, dl, h, k.p + nf, 3, F, s.classes);
  ref_wrn_backward_from_features(&s, k.p, 3, k.x, dh, g, gx);
  const double d1 = max_rel_diff(g, g2, nf), d2 = max_rel_diff(gx, gx2, nx);
  printf("  backward_from_features vs run: params %.2e input %.2e\n", d1, d2);
  assert_true(d1 < 1e-12 && d2 < 1e-12);
  for (long i = nf; i < np; i++) assert_true(g[i] == 0);
  free(g), free(gx), free(g2), free(gx2), free(h), free(logits), free(dl), free(dh);
  wrn_teardown(&k);
}

/* Eval mode with running = the batch statistics of the same batch reproduces train mode; the
   train-mode running update follows momentum 0.1 with the unbiased variance, where the count per
   BN follows tests/ref/WRN_LAYOUT.md (stride on conv2: bn2 of a strided block sees the input
   resolution). */
static void test_wrn_running_and_eval(void **state)
{
  (void)state;
  const RefWrnShape s = { 10, 1, 4, 2, 6, 6, 3 };
  const int         n = 3, F = 16;
  WrnCtx            k;
  wrn_setup(&k, s, n, 5);
  const long ns = ref_wrn_num_bn_state(&s);
  double    *bs = zero_vec(ns), *run = zero_vec(ns), *run0 = zero_vec(ns),
         *tmp = zero_vec(ref_wrn_num_params(&s));
  double *h1 = zero_vec(n * F), *h0 = zero_vec(n * F), *l1 = zero_vec(n * 3), *l0 = zero_vec(n * 3);
  ref_wrn_init(&s, 1, tmp, run0);
  for (long i = 0; i < ns; i++) run0[i] += 0.3 * fabs(urand()); /* not the defaults */
  memcpy(run, run0, sizeof(double) * (size_t)ns);
  const double loss1 = ref_wrn_run(&s, k.p, run, 1, n, k.x, k.y, h1, l1, bs, NULL, NULL);
  /* BN layers in order with channels and spatial size: layer1.0 bn1/bn2 (4, 6x6), layer2.0 bn1
     (4, 6x6) bn2 (8, 6x6), layer3.0 bn1 (8, 3x3) bn2 (16, 3x3), final bn1 (16, 2x2) */
  const int bn_c[7] = { 4, 4, 4, 8, 8, 16, 16 }, bn_hw[7] = { 36, 36, 36, 36, 9, 9, 4 };
  long      o = 0;
  for (int b = 0; b < 7; b++) {
    const double m = (double)n * bn_hw[b];
    for (int c = 0; c < bn_c[b]; c++) {
      assert_true(bs[o + bn_c[b] + c] > 0);
      assert_true(fabs(run[o + c] - (0.9 * run0[o + c] + 0.1 * bs[o + c])) < 1e-15);
      assert_true(fabs(run[o + bn_c[b] + c] - (0.9 * run0[o + bn_c[b] + c] +
                                               0.1 * bs[o + bn_c[b] + c] * m / (m - 1))) < 1e-14);
    }
    o += 2 * bn_c[b];
  }
  assert_int_equal(o, ns);
  /* the first BN normalizes conv1's output; its mean and biased var directly from h = NULL run */
  {
    RefConv c  = { n, 2, 6, 6, 4, 3, 3, 1, 1 };
    double *c0 = zero_vec(n * 4 * 36);
    ref_conv2d_forward(c0, k.x, k.p, &c);
    for (int ch = 0; ch < 4; ch++) {
      double sm = 0, s2 = 0;
      for (int i = 0; i < n; i++)
        for (int q = 0; q < 36; q++) sm += c0[(i * 4 + ch) * 36 + q];
      sm /= n * 36;
      for (int i = 0; i < n; i++)
        for (int q = 0; q < 36; q++) s2 += pow(c0[(i * 4 + ch) * 36 + q] - sm, 2);
      assert_true(fabs(bs[ch] - sm) < 1e-13 && fabs(bs[4 + ch] - s2 / (n * 36)) < 1e-13);
    }
    free(c0);
  }
  /* eval with running = batch stats: same features, logits and loss; running unchanged */
  memcpy(run, bs, sizeof(double) * (size_t)ns);
  const double loss0 = ref_wrn_run(&s, k.p, run, 0, n, k.x, k.y, h0, l0, NULL, NULL, NULL);
  const double dh = max_rel_diff(h0, h1, n * F), dlg = max_rel_diff(l0, l1, n * 3);
  printf("  eval(running = batch stats) vs train: h %.2e logits %.2e loss %.2e\n", dh, dlg,
         fabs(loss0 - loss1) / loss1);
  assert_true(dh < 1e-12 && dlg < 1e-12 && fabs(loss0 - loss1) < 1e-12 * loss1);
  assert_true(memcmp(run, bs, sizeof(double) * (size_t)ns) == 0);
  /* with other running statistics, eval differs */
  ref_wrn_run(&s, k.p, run0, 0, n, k.x, k.y, h0, l0, NULL, NULL, NULL);
  assert_true(max_rel_diff(l0, l1, n * 3) > 1e-3);
  /* eval without running statistics is refused */
  assert_true(isnan(ref_wrn_run(&s, k.p, NULL, 0, n, k.x, k.y, NULL, NULL, NULL, NULL, NULL)));
  free(bs), free(run), free(run0), free(tmp), free(h1), free(h0), free(l1), free(l0);
  wrn_teardown(&k);
}

static int print_worst(void **state)
{
  (void)state;
  printf("worst finite-difference relative error over all checks: %.3e (tolerance %.0e)\n",
         worst_seen, FD_TOL);
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv_known),
    cmocka_unit_test(test_conv_grad),
    cmocka_unit_test(test_bn_known),
    cmocka_unit_test(test_bn_grad),
    cmocka_unit_test(test_small_layers_grad),
    cmocka_unit_test(test_ce_known),
    cmocka_unit_test(test_wrn_layout),
    cmocka_unit_test(test_wrn_init),
    cmocka_unit_test(test_wrn_grad_train),
    cmocka_unit_test(test_wrn_grad_eval),
    cmocka_unit_test(test_wrn_backward_from_features),
    cmocka_unit_test(test_wrn_running_and_eval),
  };
  return cmocka_run_group_tests(tests, NULL, print_worst);
}
