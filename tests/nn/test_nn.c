/*
 * The oneDNN engine against the double-precision reference (tests/ref):
 *  - every layer (convolution forward / backward data / backward weights, BN+ReLU training
 *    forward and backward with the exact statistics gradient, BN inference, average pooling,
 *    linear, softmax cross-entropy) on random small shapes incl. stride 2, odd sizes, channel
 *    counts that are not multiples of 16;
 *  - the whole WRN: features, logits, loss, BN batch statistics and running statistics, every
 *    parameter gradient and the input gradient, in training and eval mode, on several shapes;
 *  - the same layers and WRN with Winograd for the 3x3 stride-1 convolutions, whole and in chunks;
 *  - that the WRN-16-4 primitives never fall back to a `ref:` implementation (either algorithm).
 * Tolerance: per tensor, max |engine - ref| <= tol * max(max |ref|, floor) with tol 2e-4 for
 * float (f32 accumulation against double); the worst element is printed on failure.
 */
#include "nn/nn_internal.h"
#include "pof/rng.h"
#include "pof/train.h"
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

#define TOL 2e-4

static void fill(double *a, long n, uint32_t key, double scale)
{
  PofRng r;
  pof_rng_init(&r, 1234, POF_RNG_TEST, key, 0, 0);
  for (long i = 0; i < n; i++) a[i] = scale * pof_rng_normal(&r);
}

/* compare float result against double reference; returns 0 when within tolerance */
static int check(const char *what, const float *got, const double *ref, long n, double tol)
{
  double mref = 0, worst = 0;
  long   wi = 0;
  for (long i = 0; i < n; i++) mref = fmax(mref, fabs(ref[i]));
  const double scale = fmax(mref, 1e-6);
  for (long i = 0; i < n; i++) {
    const double d = fabs((double)got[i] - ref[i]);
    if (!(d <= worst)) worst = d, wi = i;
  }
  const int bad = !(worst <= tol * scale);
  if (bad || getenv("POF_TEST_VERBOSE"))
    printf(
        "  %-44s n=%-7ld max|ref|=%-10.3g worst |diff|/scale=%.3g at %ld (got %.9g, ref %.9g)%s\n",
        what, n, mref, worst / scale, wi, n ? (double)got[wi] : 0.0, n ? ref[wi] : 0.0,
        bad ? "  FAIL" : "");
  return bad;
}

/* NCHW double <-> blocked (nChw16c or nChw8c by a->blk) float */
static void to_blocked(const PofAct *a, const double *src, float *dst)
{
  memset(dst, 0, pof_act_bytes(a));
  for (PetscInt n = 0; n < a->n; n++)
    for (PetscInt c = 0; c < a->c; c++)
      for (PetscInt p = 0; p < a->h * a->w; p++)
        dst[((n * a->cb + c / a->blk) * a->h * a->w + p) * a->blk + c % a->blk] =
            (float)src[(n * a->c + c) * a->h * a->w + p];
}
static void from_blocked(const PofAct *a, const float *src, float *dst)
{
  for (PetscInt n = 0; n < a->n; n++)
    for (PetscInt c = 0; c < a->c; c++)
      for (PetscInt p = 0; p < a->h * a->w; p++)
        dst[(n * a->c + c) * a->h * a->w + p] =
            src[((n * a->cb + c / a->blk) * a->h * a->w + p) * a->blk + c % a->blk];
}
static int padded_lanes_zero(const PofAct *a, const float *x)
{
  for (PetscInt n = 0; n < a->n; n++)
    for (PetscInt c = a->c; c < a->cb * a->blk; c++)
      for (PetscInt p = 0; p < a->h * a->w; p++)
        if (x[((n * a->cb + c / a->blk) * a->h * a->w + p) * a->blk + c % a->blk] != 0.0f) return 0;
  return 1;
}
static PofAct act(PetscInt n, PetscInt c, PetscInt h, PetscInt w)
{
  return pof_act(n, c, h, w, POF_DT_F32);
}

/* ------------------------------------------------------------------ convolution */
typedef struct {
  int n, ci, co, h, w, k, stride, pad;
} ConvCase;

/* wino: Winograd mode; budget: its scratchpad bound (0 = default); plan: chunk / Winograd used */
static void run_conv_case(const ConvCase *cc, PetscBool wino, size_t budget, PetscInt *chunk,
                          PetscBool *used_wino, int *fails)
{
  RefConv    rc = { cc->n, cc->ci, cc->h, cc->w, cc->co, cc->k, cc->k, cc->stride, cc->pad };
  const int  ho = ref_conv2d_out_h(&rc), wo = ref_conv2d_out_w(&rc);
  PofConv    cv = { .cin       = cc->ci,
                    .cout      = cc->co,
                    .k         = cc->k,
                    .stride    = cc->stride,
                    .pad       = cc->pad,
                    .hin       = cc->h,
                    .win       = cc->w,
                    .dt        = POF_DT_F32,
                    .need_dsrc = PETSC_TRUE };
  PofAct     ax = act(cc->n, cc->ci, cc->h, cc->w), ay = act(cc->n, cc->co, ho, wo);
  const long nx = (long)cc->n * cc->ci * cc->h * cc->w, ny = (long)cc->n * cc->co * ho * wo,
             nw = (long)cc->co * cc->ci * cc->k * cc->k;
  double *x = malloc(sizeof(double) * nx), *w = malloc(sizeof(double) * nw),
         *dy = malloc(sizeof(double) * ny), *y = malloc(sizeof(double) * ny),
         *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw);
  float *xb  = aligned_alloc(64, pof_act_bytes(&ax) + 64),
        *yb  = aligned_alloc(64, pof_act_bytes(&ay) + 64),
        *dyb = aligned_alloc(64, pof_act_bytes(&ay) + 64),
        *dxb = aligned_alloc(64, pof_act_bytes(&ax) + 64);
  float *wf = malloc(sizeof(float) * nw), *dwf = malloc(sizeof(float) * nw),
        *plain = calloc((size_t)(nx > ny ? nx : ny), sizeof(float));
  char name[128];
  fill(x, nx, 1, 1.0), fill(w, nw, 2, 0.3), fill(dy, ny, 3, 1.0);
  for (long i = 0; i < nw; i++) wf[i] = (float)w[i];
  cv.w_plain          = wf;
  cv.dw_plain         = dwf;
  cv.winograd         = wino;
  cv.wino_scratch_max = budget;
  assert_int_equal(pof_conv_setup(&cv), 0);
  assert_int_equal(cv.hout, ho);
  assert_int_equal(cv.wout, wo);
  to_blocked(&ax, x, xb), to_blocked(&ay, dy, dyb);
  ref_conv2d_forward(y, x, w, &rc);
  ref_conv2d_backward_data(dx, dy, w, &rc);
  ref_conv2d_backward_weights(dw, dy, x, &rc);
  assert_int_equal(pof_conv_forward(&cv, cc->n, 1, xb, yb), 0);
  assert_int_equal(pof_conv_backward_data(&cv, cc->n, 1, dyb, dxb), 0);
  assert_int_equal(pof_conv_backward_weights(&cv, cc->n, xb, dyb), 0);
  {
    PetscInt  m;
    PetscBool wu;
    assert_int_equal(pof_conv_plan(&cv, cc->n, &m, &wu, NULL), 0);
    if (chunk) *chunk = m;
    if (used_wino) *used_wino = wu;
    snprintf(name, sizeof(name), "conv %dx%d s%d p%d %d->%d %dx%d n%d%s (%s, %d per call)", cc->k,
             cc->k, cc->stride, cc->pad, cc->ci, cc->co, cc->h, cc->w, cc->n, wino ? " wino" : "",
             cv.impl[0], (int)m);
  }
  from_blocked(&ay, yb, plain);
  *fails += check(name, plain, y, ny, TOL);
  *fails += !padded_lanes_zero(&ay, yb);
  from_blocked(&ax, dxb, plain);
  *fails += check("  backward data", plain, dx, nx, TOL);
  *fails += check("  backward weights", dwf, dw, nw, TOL);
  /* residual as a sum post-op: y = conv(x) + y0 */
  {
    PofConv cs = cv;
    cs.sum_dst = PETSC_TRUE, cs.nentries = 0, cs.w_fwd = cs.w_bd = NULL, cs.r_fwd = cs.r_bd = NULL,
    cs.w_pad = cs.dw_pad = NULL;
    assert_int_equal(pof_conv_setup(&cs), 0);
    double *y0 = calloc((size_t)ny, sizeof(double));
    fill(y0, ny, 4, 1.0);
    to_blocked(&ay, y0, yb);
    assert_int_equal(pof_conv_forward(&cs, cc->n, 1, xb, yb), 0);
    for (long i = 0; i < ny; i++) y0[i] += y[i];
    from_blocked(&ay, yb, plain);
    *fails += check("  forward with residual sum", plain, y0, ny, TOL);
    free(y0);
    pof_conv_release(&cs);
  }
  /* the same primitives reused for another batch size */
  if (cc->n > 1) {
    PofAct ax1 = act(1, cc->ci, cc->h, cc->w), ay1 = act(1, cc->co, ho, wo);
    assert_int_equal(pof_conv_forward(&cv, 1, 1, xb, yb), 0);
    from_blocked(&ay1, yb, plain);
    *fails += check("  forward, batch 1 (second shape)", plain, y, (long)cc->co * ho * wo, TOL);
    (void)ax1;
  }
  pof_conv_release(&cv);
  free(x), free(w), free(dy), free(y), free(dx), free(dw), free(xb), free(yb), free(dyb), free(dxb),
      free(wf), free(dwf), free(plain);
}

static void test_conv_layers(void **state)
{
  (void)state;
  static const ConvCase cases[] = {
    { 2, 4, 4, 8, 8, 3, 1, 1 },  { 3, 5, 7, 5, 7, 3, 1, 1 },   { 2, 16, 32, 9, 9, 3, 2, 1 },
    { 2, 6, 10, 7, 5, 3, 2, 1 }, { 2, 8, 24, 8, 8, 1, 2, 0 },  { 1, 20, 20, 6, 6, 3, 1, 1 },
    { 2, 3, 16, 5, 5, 1, 1, 0 }, { 2, 32, 16, 4, 4, 3, 1, 1 },
  };
  int fails = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    run_conv_case(&cases[i], PETSC_FALSE, 0, NULL, NULL, &fails);
  assert_int_equal(fails, 0);
}

/* Winograd mode: 3x3 stride-1 layers run oneDNN's F(4x4,3x3) (the others fall back to direct);
   then with a scratchpad bound just below the whole batch's, the batch runs in chunks (weight
   gradient summed over them) or, when not even single images fit, directly. Same reference and
   tolerance. */
static void test_conv_winograd(void **state)
{
  (void)state;
  static const ConvCase cases[] = {
    { 4, 16, 16, 8, 8, 3, 1, 1 }, { 8, 20, 36, 9, 7, 3, 1, 1 }, { 8, 32, 48, 12, 12, 3, 1, 1 },
    { 3, 16, 32, 6, 6, 3, 1, 1 }, { 2, 16, 32, 9, 9, 3, 2, 1 },
  };
  /* oneDNN 2.6 has Winograd kernels for AVX-512 (avx512_core) only; elsewhere everything runs
   * direct */
  const int have_wino =
      (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
  int fails = 0, chunked = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const ConvCase *cc = &cases[i];
    PetscInt        m;
    PetscBool       wu;
    size_t          scratch;
    {
      PofConv probe = { .cin       = cc->ci,
                        .cout      = cc->co,
                        .k         = cc->k,
                        .stride    = cc->stride,
                        .pad       = cc->pad,
                        .hin       = cc->h,
                        .win       = cc->w,
                        .dt        = POF_DT_F32,
                        .need_dsrc = PETSC_TRUE,
                        .winograd  = PETSC_TRUE };
      assert_int_equal(pof_conv_setup(&probe), 0);
      assert_int_equal(pof_conv_plan(&probe, cc->n, &m, &wu, &scratch), 0);
      pof_conv_release(&probe);
    }
    run_conv_case(cc, PETSC_TRUE, 0, &m, &wu, &fails);
    assert_int_equal(m, cc->n);
    assert_int_equal(wu,
                     cc->stride == 1 && have_wino); /* every stride-1 case is Winograd on AVX-512 */
    if (!wu) continue;
    run_conv_case(cc, PETSC_TRUE, scratch - 1, &m, &wu, &fails);
    assert_true(!wu || m < cc->n);
    assert_true(!wu || cc->n % m == 0);
    chunked += wu && m < cc->n;
  }
  assert_int_equal(fails, 0);
  assert_true(chunked > 0 || !have_wino); /* the chunked path ran at least once */
}

/* ------------------------------------------------------------------ BN + ReLU */
static void bn_case(int n, int c, int h, int w, int *fails)
{
  PofAct     a   = act(n, c, h, w);
  const long len = (long)n * c * h * w, hw = (long)h * w;
  double    *x = malloc(sizeof(double) * len), *dyr = malloc(sizeof(double) * len),
         *t = malloc(sizeof(double) * len), *y = malloc(sizeof(double) * len),
         *dt = malloc(sizeof(double) * len), *dx = malloc(sizeof(double) * len);
  double *g = malloc(sizeof(double) * c), *b = malloc(sizeof(double) * c),
         *mean = malloc(sizeof(double) * c), *var = malloc(sizeof(double) * c),
         *dg = malloc(sizeof(double) * c), *db = malloc(sizeof(double) * c);
  float *xb  = aligned_alloc(64, pof_act_bytes(&a) + 64),
        *yb  = aligned_alloc(64, pof_act_bytes(&a) + 64),
        *dyb = aligned_alloc(64, pof_act_bytes(&a) + 64),
        *dxb = aligned_alloc(64, pof_act_bytes(&a) + 64), *plain = malloc(sizeof(float) * len);
  float *fm = malloc(sizeof(float) * c), *frs = malloc(sizeof(float) * c),
        *fsc = malloc(sizeof(float) * c), *fsh = malloc(sizeof(float) * c),
        *fg = malloc(sizeof(float) * c), *fdg = malloc(sizeof(float) * c),
        *fdb  = malloc(sizeof(float) * c);
  double *sum = malloc(sizeof(double) * c), *sq = malloc(sizeof(double) * c),
         *sdz = malloc(sizeof(double) * c), *sdzx = malloc(sizeof(double) * c);
  char name[96];
  fill(x, len, 10, 2.0), fill(dyr, len, 11, 1.0), fill(g, c, 12, 1.0), fill(b, c, 13, 0.5);
  for (long i = 0; i < len; i++) x[i] += 0.7; /* non-zero mean */
  /* reference: y = relu(bn(x)); backward through relu and bn */
  ref_bn_train_forward(t, mean, var, x, g, b, REF_BN_EPS, n, c, (int)hw);
  ref_relu_forward(y, t, len);
  ref_relu_backward(dt, dyr, t, len);
  ref_bn_train_backward(dx, dg, db, dt, x, mean, var, g, REF_BN_EPS, n, c, (int)hw);
  /* engine */
  to_blocked(&a, x, xb), to_blocked(&a, dyr, dyb);
  pof_bn_stats(&a, xb, sum, sq);
  const double M = (double)n * (double)hw;
  for (int k = 0; k < c; k++) {
    const double mu = sum[k] / M, v = sq[k] / M - mu * mu, rs = 1.0 / sqrt(v + REF_BN_EPS);
    fm[k] = (float)mu, frs[k] = (float)rs, fg[k] = (float)g[k];
    fsc[k] = (float)(g[k] * rs), fsh[k] = (float)(b[k] - mu * g[k] * rs);
  }
  {
    float *fmean = malloc(sizeof(float) * c), *fvar = malloc(sizeof(float) * c);
    for (int k = 0; k < c; k++)
      fmean[k] = (float)(sum[k] / M), fvar[k] = (float)(sq[k] / M - (sum[k] / M) * (sum[k] / M));
    snprintf(name, sizeof(name), "BN n%d c%d %dx%d batch mean", n, c, h, w);
    *fails += check(name, fmean, mean, c, TOL);
    *fails += check("  batch variance", fvar, var, c, TOL);
    free(fmean), free(fvar);
  }
  pof_bn_apply(&a, xb, fsc, fsh, 1, yb);
  from_blocked(&a, yb, plain);
  *fails += check("  ReLU(BN(x))", plain, y, len, TOL);
  *fails += !padded_lanes_zero(&a, yb);
  pof_bn_bwd_sums(&a, dyb, fsc, fsh, xb, fm, frs, sdz, sdzx);
  for (int k = 0; k < c; k++) fdg[k] = (float)sdzx[k], fdb[k] = (float)sdz[k];
  *fails += check("  dgamma", fdg, dg, c, TOL);
  *fails += check("  dbeta", fdb, db, c, TOL);
  pof_bn_bwd_dx(&a, dyb, fsc, fsh, xb, fm, frs, fg, sdz, sdzx, M, NULL, dxb);
  from_blocked(&a, dxb, plain);
  *fails += check("  dx (with statistics terms)", plain, dx, len, TOL);
  /* with an addend (residual gradient) and in place on dy */
  pof_bn_bwd_dx(&a, dyb, fsc, fsh, xb, fm, frs, fg, sdz, sdzx, M, dyb, dyb);
  from_blocked(&a, dyb, plain);
  for (long i = 0; i < len; i++) dx[i] += dyr[i];
  *fails += check("  dx + addend, in place", plain, dx, len, TOL);
  /* pooling */
  {
    double *hp = malloc(sizeof(double) * n * c), *dh = malloc(sizeof(double) * n * c),
           *dpx = malloc(sizeof(double) * len);
    float *hf = malloc(sizeof(float) * n * c), *dhf = malloc(sizeof(float) * n * c);
    ref_gap_forward(hp, y, n, c, (int)hw);
    pof_avgpool_fwd(&a, yb, hf);
    *fails += check("  global average pool", hf, hp, (long)n * c, TOL);
    fill(dh, (long)n * c, 14, 1.0);
    for (long i = 0; i < (long)n * c; i++) dhf[i] = (float)dh[i];
    ref_gap_backward(dpx, dh, n, c, (int)hw);
    pof_avgpool_bwd(&a, dhf, dxb);
    from_blocked(&a, dxb, plain);
    *fails += check("  pool backward", plain, dpx, len, TOL);
    free(hp), free(dh), free(dpx), free(hf), free(dhf);
  }
  free(x), free(dyr), free(t), free(y), free(dt), free(dx), free(g), free(b), free(mean), free(var),
      free(dg), free(db);
  free(xb), free(yb), free(dyb), free(dxb), free(plain), free(fm), free(frs), free(fsc), free(fsh),
      free(fg), free(fdg), free(fdb), free(sum), free(sq), free(sdz), free(sdzx);
}

static void test_bn_layers(void **state)
{
  (void)state;
  int fails = 0;
  bn_case(3, 5, 4, 6, &fails);
  bn_case(2, 16, 7, 7, &fails);
  bn_case(4, 37, 3, 5, &fails);
  bn_case(8, 64, 1, 1, &fails);
  assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------------ linear + CE */
static void test_linear_ce(void **state)
{
  (void)state;
  const int n = 5, F = 7, C = 4;
  double    h[35], W[28], b[4], z[20], dz[20], dh[35], dW[28], db[4];
  float     hf[35], Wf[28], bf[4], zf[20], dzf[20], dhf[35], dWf[28], dbf[4];
  int       y[5]   = { 0, 3, 1, 1, 2 };
  int32_t   y32[5] = { 0, 3, 1, 1, 2 };
  int       fails  = 0;
  fill(h, 35, 20, 1.0), fill(W, 28, 21, 1.0), fill(b, 4, 22, 1.0);
  for (int i = 0; i < 35; i++) hf[i] = (float)h[i];
  for (int i = 0; i < 28; i++) Wf[i] = (float)W[i];
  for (int i = 0; i < 4; i++) bf[i] = (float)b[i];
  ref_linear_forward(z, h, W, b, n, F, C);
  const double L = ref_softmax_ce(dz, z, y, n, C);
  ref_linear_backward(dh, dW, db, dz, h, W, n, F, C);
  pof_linear_forward(n, F, C, Wf, bf, hf, zf);
  fails += check("linear forward", zf, z, 20, TOL);
  double   ls;
  PetscInt wrong;
  pof_softmax_ce(n, C, zf, y32, 1.0 / n, &ls, &wrong, dzf);
  assert_true(fabs(ls / n - L) < 1e-5 * fabs(L));
  fails += check("softmax CE gradient (mean)", dzf, dz, 20, TOL);
  pof_linear_backward(n, F, C, Wf, hf, dzf, dWf, dbf, dhf);
  fails += check("linear dW", dWf, dW, 28, TOL);
  fails += check("linear db", dbf, db, 4, TOL);
  fails += check("linear dh", dhf, dh, 35, TOL);
  assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------------ whole WRN */
static void wrn_case(int depth, int width, int base, int in_c, int in_h, int in_w, int classes,
                     int n, PetscBool wino, int *fails)
{
  RefWrnShape rs = { depth, width, base, in_c, in_h, in_w, classes };
  PofWrnShape ps = { depth, width, base, in_c, in_h, in_w, classes };
  PofWrn      m;
  char        name[160];
  assert_int_equal(pof_wrn_create(&ps, POF_DT_F32, PETSC_TRUE, &m), 0);
  assert_int_equal(pof_wrn_set_winograd(m, wino), 0);
  assert_true(pof_wrn_winograd(m) == wino);
  const long np = ref_wrn_num_params(&rs), nf = ref_wrn_num_feature_params(&rs),
             nbn = ref_wrn_num_bn_state(&rs);
  const int  F   = ref_wrn_feature_dim(&rs);
  const long nx  = (long)n * in_c * in_h * in_w;
  assert_int_equal(pof_wrn_num_params(m), np);
  assert_int_equal(pof_wrn_num_feature_params(m), nf);
  assert_int_equal(pof_wrn_num_bn_state(m), nbn);
  assert_int_equal(pof_wrn_feature_dim(m), F);
  /* same tensor names and offsets as the reference */
  {
    PetscInt             nt;
    const PofTensorInfo *T = pof_wrn_tensors(m, &nt);
    assert_int_equal(nt, ref_wrn_num_tensors(&rs));
    for (PetscInt i = 0; i < nt; i++) {
      char rname[64];
      long off, numel, dims[4];
      int  ndim;
      ref_wrn_tensor(&rs, (int)i, rname, &off, &numel, &ndim, dims);
      assert_string_equal(T[i].name, rname);
      assert_int_equal(T[i].offset, off);
      assert_int_equal(T[i].numel, numel);
    }
  }
  double *P = malloc(sizeof(double) * np), *R = malloc(sizeof(double) * nbn),
         *x = malloc(sizeof(double) * nx), *h = malloc(sizeof(double) * n * F),
         *z = malloc(sizeof(double) * n * classes);
  double *G = malloc(sizeof(double) * np), *gx = malloc(sizeof(double) * nx),
         *bs   = malloc(sizeof(double) * nbn);
  int     *y   = malloc(sizeof(int) * n);
  int32_t *y32 = malloc(sizeof(int32_t) * n);
  float   *xf = malloc(sizeof(float) * nx), *hf = malloc(sizeof(float) * n * F),
        *zf = malloc(sizeof(float) * n * classes), *dz = malloc(sizeof(float) * n * classes),
        *dhf = malloc(sizeof(float) * n * F), *dxf = malloc(sizeof(float) * nx);
  ref_wrn_init(&rs, 77, P, R);
  /* non-trivial BN parameters and running statistics */
  {
    PetscInt             nt;
    const PofTensorInfo *T = pof_wrn_tensors(m, &nt);
    PofRng               r;
    pof_rng_init(&r, 5, POF_RNG_TEST, 99, 0, 0);
    for (PetscInt i = 0; i < nt; i++)
      if (T[i].kind == POF_TENSOR_BN_WEIGHT || T[i].kind == POF_TENSOR_BN_BIAS ||
          T[i].kind == POF_TENSOR_LINEAR_BIAS)
        for (PetscInt k = 0; k < T[i].numel; k++) P[T[i].offset + k] += 0.3 * pof_rng_normal(&r);
    for (long k = 0; k < nbn; k++) R[k] = fabs(R[k] + 0.2 * pof_rng_normal(&r)) + 0.1;
  }
  fill(x, nx, 30, 1.0);
  for (int i = 0; i < n; i++) y[i] = y32[i] = i % classes;
  float *Pf = pof_wrn_params(m), *Rf = pof_wrn_running(m);
  for (long i = 0; i < np; i++) Pf[i] = (float)P[i];
  for (long i = 0; i < nbn; i++) Rf[i] = (float)R[i];
  for (long i = 0; i < nx; i++) xf[i] = (float)x[i];
  pof_wrn_params_changed(m);
  /* double reference sees the float-rounded inputs */
  for (long i = 0; i < np; i++) P[i] = Pf[i];
  for (long i = 0; i < nbn; i++) R[i] = Rf[i];
  for (long i = 0; i < nx; i++) x[i] = xf[i];

  /* eval mode first (running statistics unchanged) */
  {
    double *zr = malloc(sizeof(double) * n * classes), *hr = malloc(sizeof(double) * n * F);
    ref_wrn_run(&rs, P, R, 0, n, x, y, hr, zr, NULL, NULL, NULL);
    assert_int_equal(pof_wrn_features(m, POF_BN_EVAL, 0, n, xf, hf), 0);
    pof_linear_forward(n, F, classes, Pf + nf, Pf + nf + classes * F, hf, zf);
    snprintf(name, sizeof(name), "WRN-%d-%d b%d %dx%dx%d n%d%s eval features", depth, width, base,
             in_c, in_h, in_w, n, wino ? " wino" : "");
    *fails += check(name, hf, hr, n * F, TOL);
    *fails += check("  eval logits", zf, zr, n * classes, TOL);
    free(zr), free(hr);
  }
  /* training mode: forward, loss, backward */
  const double L = ref_wrn_run(&rs, P, R, 1, n, x, y, h, z, bs, G, gx);
  assert_int_equal(
      pof_wrn_features(m, POF_BN_TRAIN, POF_FWD_KEEP | POF_FWD_UPDATE_RUNNING, n, xf, hf), 0);
  snprintf(name, sizeof(name), "WRN-%d-%d b%d %dx%dx%d n%d%s train features", depth, width, base,
           in_c, in_h, in_w, n, wino ? " wino" : "");
  *fails += check(name, hf, h, n * F, TOL);
  pof_linear_forward(n, F, classes, Pf + nf, Pf + nf + classes * F, hf, zf);
  *fails += check("  logits", zf, z, n * classes, TOL);
  double   ls;
  PetscInt wrong;
  pof_softmax_ce(n, classes, zf, y32, 1.0 / n, &ls, &wrong, dz);
  if (!(fabs(ls / n - L) <= TOL * fabs(L))) {
    printf("  loss %.9g vs reference %.9g  FAIL\n", ls / n, L);
    (*fails)++;
  }
  *fails += check("  running statistics after the step", Rf, R, nbn, TOL);
  float *Gf = pof_wrn_grads(m);
  pof_linear_backward(n, F, classes, Pf + nf, hf, dz, Gf + nf, Gf + nf + classes * F, dhf);
  assert_int_equal(pof_wrn_features_backward(m, dhf, dxf), 0);
  {
    PetscInt             nt;
    const PofTensorInfo *T = pof_wrn_tensors(m, &nt);
    for (PetscInt i = 0; i < nt; i++) {
      snprintf(name, sizeof(name), "  grad %s", T[i].name);
      *fails += check(name, Gf + T[i].offset, G + T[i].offset, T[i].numel, TOL);
    }
  }
  *fails += check("  grad input", dxf, gx, nx, TOL);
  /* the train-step helper gives the same gradient */
  {
    float *G1 = malloc(sizeof(float) * np);
    memcpy(G1, Gf, sizeof(float) * np);
    for (long i = 0; i < nbn; i++) Rf[i] = (float)R[i];
    assert_int_equal(
        pof_train_loss_grad(m, n, xf, y32, n, NULL, NULL, PETSC_TRUE, PETSC_FALSE, &ls, &wrong), 0);
    double *G1d = malloc(sizeof(double) * np);
    for (long i = 0; i < np; i++) G1d[i] = G1[i];
    *fails += check("  pof_train_loss_grad gradient", Gf, G1d, np, 1e-6);
    free(G1), free(G1d);
  }
  pof_wrn_destroy(&m);
  free(P), free(R), free(x), free(h), free(z), free(G), free(gx), free(bs), free(y), free(y32),
      free(xf), free(hf), free(zf), free(dz), free(dhf), free(dxf);
}

static void test_wrn_vs_reference(void **state)
{
  (void)state;
  int fails = 0;
  for (int w = 0; w < 2; w++) { /* direct, then Winograd for the 3x3 stride-1 convolutions */
    const PetscBool wino = w ? PETSC_TRUE : PETSC_FALSE;
    wrn_case(10, 1, 4, 3, 8, 8, 3, 4, wino,
             &fails); /* the fixture shape: identity + conv shortcuts */
    wrn_case(16, 2, 2, 1, 5, 7, 4, 3, wino,
             &fails); /* odd sizes, stride-1 conv shortcut, two blocks per stage */
    wrn_case(10, 3, 5, 2, 9, 9, 5, 2, wino, &fails);     /* channels 5, 15, 30, 60: padded blocks */
    wrn_case(10, 2, 16, 1, 12, 12, 10, 3, wino, &fails); /* multiples of 16 */
  }
  assert_int_equal(fails, 0);
}

/* The primitives are all JIT implementations (PERF.md: ref is a bug), for the default model
   and for narrow test models whose channel counts are not multiples of 16; with AVX-512 and
   (test_nn_avx2) with oneDNN held to AVX2. */
static void no_ref_case(PofWrnShape s, PetscBool wino)
{
  PofWrn         m;
  const int      n = 2;
  const PetscInt F = 4 * s.base * s.width;
  float         *x = calloc((size_t)(n * s.in_c) * 784, sizeof(float)),
        *h = malloc(sizeof(float) * (size_t)(n * F)), *dh = calloc((size_t)(n * F), sizeof(float));
  assert_int_equal(pof_wrn_create(&s, POF_DT_F32, PETSC_FALSE, &m), 0);
  assert_int_equal(pof_wrn_set_winograd(m, wino), 0);
  assert_int_equal(pof_wrn_init_params(m, 1), 0);
  assert_int_equal(pof_wrn_features(m, POF_BN_TRAIN, POF_FWD_KEEP, n, x, h), 0);
  assert_int_equal(pof_wrn_features_backward(m, dh, NULL), 0);
  if (pof_wrn_uses_ref_impl(m)) pof_wrn_print_impls(m, stdout);
  assert_false(pof_wrn_uses_ref_impl(m));
  pof_wrn_destroy(&m);
  free(x), free(h), free(dh);
}

static void test_no_ref_impl(void **state)
{
  (void)state;
  /* activations in the block oneDNN's kernels take on this CPU (or under ONEDNN_MAX_CPU_ISA) */
  const int avx512 =
      (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
  assert_int_equal(pof_nn_cblk(), avx512 ? 16 : 8);
  for (int w = 0; w < 2; w++) {
    no_ref_case((PofWrnShape){ 16, 4, 16, 1, 28, 28, 10 }, w ? PETSC_TRUE : PETSC_FALSE);
    no_ref_case((PofWrnShape){ 16, 1, 4, 1, 28, 28, 10 }, w ? PETSC_TRUE : PETSC_FALSE);
    no_ref_case((PofWrnShape){ 10, 3, 5, 3, 28, 28, 10 }, w ? PETSC_TRUE : PETSC_FALSE);
  }
}

/* A model with a bad shape is refused with an error. */
static void test_bad_shapes(void **state)
{
  (void)state;
  PofWrn      m = NULL;
  PofWrnShape s = { 15, 1, 4, 1, 8, 8, 3 };
  assert_int_not_equal(pof_wrn_create(&s, POF_DT_F32, PETSC_FALSE, &m), 0);
  s.depth = 10, s.classes = 1;
  assert_int_not_equal(pof_wrn_create(&s, POF_DT_F32, PETSC_FALSE, &m), 0);
  assert_null(m);
}

static int setup(void **state)
{
  (void)state;
  if (PetscInitializeNoArguments()) return 1;
  return PetscPushErrorHandler(PetscReturnErrorHandler, NULL) ? 1 : 0;
}
static int teardown(void **state)
{
  (void)state;
  pof_nn_finalize();
  return PetscFinalize() ? 1 : 0;
}

/* The bf16 decision from oneDNN's ISA, for every ISA oneDNN 2.6 names (the machine running the
   test has one of them; the others are given here): emulated exactly on avx512_core without
   bf16 instructions (Skylake-SP, Ice Lake), where -precision bf16 warns. */
static void test_bf16_decision(void **state)
{
  (void)state;
  static const struct {
    unsigned       isa;
    PofBf16Support want;
  } cases[] = {
    { dnnl_cpu_isa_sse41, POF_BF16_NONE },
    { dnnl_cpu_isa_avx, POF_BF16_NONE },
    { dnnl_cpu_isa_avx2, POF_BF16_NONE },
    { dnnl_cpu_isa_avx2_vnni, POF_BF16_NONE },
    { dnnl_cpu_isa_avx512_mic, POF_BF16_NONE },
    { dnnl_cpu_isa_avx512_mic_4ops, POF_BF16_NONE },
    { dnnl_cpu_isa_avx512_core, POF_BF16_EMULATED },
    { dnnl_cpu_isa_avx512_core_vnni, POF_BF16_EMULATED },
    { dnnl_cpu_isa_avx512_core_bf16, POF_BF16_NATIVE },
    { dnnl_cpu_isa_avx512_core_amx, POF_BF16_NATIVE },
  };
  char buf[32];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (pof_nn_bf16_support_of(cases[i].isa) != cases[i].want)
      fail_msg("ISA %s: bf16 %s, want %s", pof_nn_isa_name_of(cases[i].isa, buf, sizeof buf),
               PofBf16Names[pof_nn_bf16_support_of(cases[i].isa)], PofBf16Names[cases[i].want]);
  }
  assert_int_equal(pof_nn_bf16_support(),
                   pof_nn_bf16_support_of((unsigned)dnnl_get_effective_cpu_isa()));
  assert_string_equal(pof_nn_isa_name_of(0x12345u, buf, sizeof buf), "isa 0x12345");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv_layers),      cmocka_unit_test(test_conv_winograd),
    cmocka_unit_test(test_bn_layers),        cmocka_unit_test(test_linear_ce),
    cmocka_unit_test(test_wrn_vs_reference), cmocka_unit_test(test_no_ref_impl),
    cmocka_unit_test(test_bad_shapes),       cmocka_unit_test(test_bf16_decision),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
