/*
 * pof analyze's numerical core (runs at any rank count; the data are sharded across ranks):
 *  - classifier block on fixed random features: the top-3 eigenvalues of the finite-difference
 *    MATSHELL (SLEPc) match a LAPACK eigendecomposition of the closed-form softmax-CE Hessian
 *    built here (relative 1e-6), so does the closed-form operator (1e-9); the Hutchinson trace
 *    lies within 4 standard errors of the exact trace; κ along a vector matches vᵀHv/vᵀv (1e-6);
 *  - a tiny WRN (depth 10, width 1, base 1, 1x8x8 inputs, 3 classes; 343 parameters) in
 *    eval mode with frozen ReLU patterns: the gradient matches central differences of the loss
 *    (relative 1e-3), the dense finite-difference Hessian built column by column is symmetric to
 *    1e-3 (relative Frobenius), and SLEPc's top-3 on the MATSHELL match the LAPACK eigenvalues of
 *    the symmetrized dense matrix (1e-3 of λmax);
 *  - landscape at alpha = 0 equals the loss; bad arguments are errors.
 */
#include "pof/analysis.h"
#include "pof/rng.h"
#include "pof/train.h"

#include <math.h>
#include <petscblaslapack.h>
#include <setjmp.h>
#include <slepcsys.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static PetscMPIInt g_rank, g_size;

/* eigenvalues of a symmetric n × n matrix (overwritten), ascending */
static void sym_eig(PetscInt n, double *A, double *w)
{
  PetscBLASInt nn = (PetscBLASInt)n, lwork = (PetscBLASInt)(10 * n), info = 0;
  double      *work = malloc(sizeof(double) * (size_t)lwork);
  LAPACKsyev_("N", "U", &nn, A, &nn, w, work, &lwork, &info);
  assert_int_equal(info, 0);
  free(work);
}

static double rel(double a, double b, double scale) { return fabs(a - b) / scale; }

static void test_classifier_block(void **state)
{
  (void)state;
  const PetscInt N = 48, F = 5, C = 4, n = C * (F + 1);
  double  *h = malloc(sizeof(double) * (size_t)(N * F)), *Wb = malloc(sizeof(double) * (size_t)n);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)N);
  PofRng   r;
  pof_rng_init(&r, 5, POF_RNG_TEST, 1, 0, 0);
  for (PetscInt i = 0; i < N * F; i++) h[i] = pof_rng_normal(&r);
  for (PetscInt i = 0; i < N; i++) y[i] = (int32_t)pof_rng_below(&r, (uint32_t)C);
  for (PetscInt i = 0; i < n; i++) Wb[i] = 0.7 * pof_rng_normal(&r);
  for (PetscInt i = 0; i < N * F; i++)
    h[i] = (double)(float)h[i]; /* the operator sees float features */
  /* closed form H = (1/N) Σ (diag p − p pᵀ) ⊗ [h;1][h;1]ᵀ in the (W row-major, b) order */
  double *H  = calloc((size_t)(n * n), sizeof(double)),
         *Hc = malloc(sizeof(double) * (size_t)(n * n)), w[64];
  for (PetscInt i = 0; i < N; i++) {
    double z[8], p[8], x[8], s = 0, mx = -1e300;
    for (PetscInt j = 0; j < C; j++) {
      z[j] = Wb[C * F + j];
      for (PetscInt f = 0; f < F; f++) z[j] += Wb[j * F + f] * h[i * F + f];
      mx = PetscMax(mx, z[j]);
    }
    for (PetscInt j = 0; j < C; j++) s += (p[j] = exp(z[j] - mx));
    for (PetscInt j = 0; j < C; j++) p[j] /= s;
    for (PetscInt f = 0; f < F; f++) x[f] = h[i * F + f];
    x[F] = 1;
    for (PetscInt j = 0; j < C; j++)
      for (PetscInt k = 0; k < C; k++) {
        const double a = (j == k ? p[j] : 0) - p[j] * p[k];
        for (PetscInt f = 0; f <= F; f++)
          for (PetscInt g = 0; g <= F; g++) {
            const PetscInt r1 = f < F ? j * F + f : C * F + j, r2 = g < F ? k * F + g : C * F + k;
            H[r1 * n + r2] += a * x[f] * x[g] / (double)N;
          }
      }
  }
  double tr = 0;
  for (PetscInt i = 0; i < n; i++) tr += H[i * n + i];
  for (PetscInt i = 0; i < n * n; i++) Hc[i] = H[i];
  sym_eig(n, Hc, w);
  /* this rank's share of the samples as float features */
  const PetscInt lo = N * g_rank / g_size, hi = N * (g_rank + 1) / g_size;
  float         *hl = malloc(sizeof(float) * (size_t)((hi - lo) * F + 1));
  for (PetscInt i = 0; i < (hi - lo) * F; i++) hl[i] = (float)h[lo * F + i];
  for (int exact = 0; exact <= 1; exact++) {
    PofHessOp   op;
    PofSpectrum s;
    assert_int_equal(pof_hess_classifier_create(PETSC_COMM_WORLD, hi - lo, F, C, hl, y + lo, N, Wb,
                                                Wb + C * F, 1e-4, exact ? PETSC_TRUE : PETSC_FALSE,
                                                &op),
                     0);
    assert_int_equal(
        pof_spectrum_compute(PETSC_COMM_WORLD, &op, 3, PETSC_TRUE, 1e-10, 500, 400, 7, &s), 0);
    for (int k = 0; k < 3; k++) {
      if (g_rank == 0)
        printf("classifier block (%s): lambda_%d = %.10g, closed form %.10g\n",
               exact ? "closed-form Hv" : "FD Hv", k, s.eig[k], w[n - 1 - k]);
      assert_true(rel(s.eig[k], w[n - 1 - k], w[n - 1]) < (exact ? 1e-9 : 1e-6));
    }
    if (g_rank == 0)
      printf("classifier block: Hutchinson %.6g +- %.3g (400 probes), exact trace %.6g\n", s.trace,
             s.trace_se, tr);
    assert_true(fabs(s.trace - tr) <= 4 * s.trace_se);
    assert_true(s.trace_se < 0.2 * tr);
    /* eigenvector: H x = λ x with the closed form */
    double res = 0;
    for (PetscInt i = 0; i < n; i++) {
      double t = 0;
      for (PetscInt j = 0; j < n; j++) t += H[i * n + j] * s.vec[j];
      res = PetscMax(res, fabs(t - s.eig[0] * s.vec[i]));
    }
    assert_true(res < 1e-6 * w[n - 1]);
    /* κ along a fixed vector */
    double v[64], vhv = 0, vv = 0, kap;
    for (PetscInt i = 0; i < n; i++) v[i] = sin(1.0 + (double)i);
    for (PetscInt i = 0; i < n; i++) {
      vv += v[i] * v[i];
      for (PetscInt j = 0; j < n; j++) vhv += v[i] * H[i * n + j] * v[j];
    }
    assert_int_equal(pof_curvature(&op, v, &kap), 0);
    assert_true(rel(kap, vhv / vv, w[n - 1]) < 1e-6);
    /* bad k */
    PofSpectrum bad;
    assert_int_not_equal(
        pof_spectrum_compute(PETSC_COMM_WORLD, &op, n, PETSC_FALSE, 1e-8, 10, 0, 1, &bad), 0);
    pof_spectrum_free(&s);
    assert_int_equal(pof_hess_op_destroy(&op), 0);
  }
  free(h), free(Wb), free(y), free(H), free(Hc), free(hl);
}

static void test_network(void **state)
{
  (void)state;
  PofWrnShape    shape = { 10, 1, 1, 1, 8, 8, 3 };
  PofWrn         m     = NULL;
  const PetscInt N = 32, sample = 64;
  assert_int_equal(pof_wrn_create(&shape, POF_DT_F32, PETSC_FALSE, &m), 0);
  assert_int_equal(pof_wrn_init_params(m, 3), 0);
  const PetscInt n  = pof_wrn_num_params(m);
  float         *rv = pof_wrn_running(m);
  for (PetscInt i = 0; i < pof_wrn_num_bn_state(m); i++)
    rv[i] = 0.9f + 0.01f * (float)(i % 7); /* non-trivial BN statistics */
  const PetscInt lo = N * g_rank / g_size, hi = N * (g_rank + 1) / g_size;
  float         *x = malloc(sizeof(float) * (size_t)(N * sample));
  int32_t       *y = malloc(sizeof(int32_t) * (size_t)N);
  pof_synthetic_batch(4, 0, lo, hi - lo, sample, 3, x, y);
  PofLossFn L;
  assert_int_equal(pof_lossfn_create(PETSC_COMM_WORLD, m, hi - lo, x, y, N, 7, &L), 0);
  double *theta = malloc(sizeof(double) * (size_t)n), *g = malloc(sizeof(double) * (size_t)n),
         *v = malloc(sizeof(double) * (size_t)n), *tp = malloc(sizeof(double) * (size_t)n);
  for (PetscInt i = 0; i < n; i++) theta[i] = pof_wrn_params(m)[i];
  double loss, lp, lm, l0, e0;
  assert_int_equal(pof_lossfn_eval(L, theta, &l0, &e0), 0);
  /* gradient vs central difference of the loss, ReLU patterns frozen */
  assert_int_equal(pof_lossfn_freeze_relu(L, theta, PETSC_TRUE), 0);
  assert_int_equal(pof_lossfn_grad(L, theta, &loss, g), 0);
  assert_true(fabs(loss - l0) < 1e-6 * l0);
  double gv = 0, gn = 0, vn = 0;
  for (PetscInt i = 0; i < n; i++) {
    v[i] = sin(0.3 + 1.7 * (double)i);
    gv += g[i] * v[i];
    gn += g[i] * g[i];
    vn += v[i] * v[i];
  }
  const double hh = 1e-2 / sqrt(vn);
  for (PetscInt i = 0; i < n; i++) tp[i] = theta[i] + hh * v[i];
  assert_int_equal(pof_lossfn_eval(L, tp, &lp, NULL), 0);
  for (PetscInt i = 0; i < n; i++) tp[i] = theta[i] - hh * v[i];
  assert_int_equal(pof_lossfn_eval(L, tp, &lm, NULL), 0);
  if (g_rank == 0)
    printf("network (%" PetscInt_FMT " parameters): g.v = %.8g, central difference %.8g\n", n, gv,
           (lp - lm) / (2 * hh));
  assert_true(fabs(gv - (lp - lm) / (2 * hh)) < 1e-3 * sqrt(gn * vn));
  assert_int_equal(pof_lossfn_freeze_relu(L, theta, PETSC_FALSE), 0);
  /* landscape at 0 is the loss */
  {
    double a[3] = { -0.5, 0.0, 0.5 }, ls[3];
    pof_direction_filter_normalized(m, theta, 1, 0, v);
    assert_int_equal(pof_landscape_1d(L, theta, v, 3, a, ls), 0);
    assert_true(fabs(ls[1] - l0) < 1e-12 * l0);
  }
  /* dense FD Hessian, column by column */
  PofHessOp op;
  assert_int_equal(pof_hess_network_create(L, theta, 1e-3, &op), 0);
  double *H = malloc(sizeof(double) * (size_t)(n * n)), *w = malloc(sizeof(double) * (size_t)n);
  for (PetscInt j = 0; j < n; j++) {
    for (PetscInt i = 0; i < n; i++) v[i] = i == j;
    assert_int_equal(pof_hess_op_apply(&op, v, g), 0);
    for (PetscInt i = 0; i < n; i++) H[i * n + j] = g[i];
  }
  double asym = 0, fro = 0;
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) {
      asym += (H[i * n + j] - H[j * n + i]) * (H[i * n + j] - H[j * n + i]);
      fro += H[i * n + j] * H[i * n + j];
    }
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = i + 1; j < n; j++)
      H[i * n + j] = H[j * n + i] = 0.5 * (H[i * n + j] + H[j * n + i]);
  sym_eig(n, H, w);
  PofSpectrum s;
  assert_int_equal(pof_spectrum_compute(PETSC_COMM_WORLD, &op, 3, PETSC_FALSE, 1e-8, 300, 0, 2, &s),
                   0);
  if (g_rank == 0)
    printf("network: dense FD Hessian asymmetry %.2e (relative Frobenius)\n", sqrt(asym / fro));
  assert_true(sqrt(asym / fro) < 1e-3);
  for (int k = 0; k < 3; k++) {
    if (g_rank == 0)
      printf("network: SLEPc lambda_%d = %.8g, dense %.8g\n", k, s.eig[k], w[n - 1 - k]);
    assert_true(rel(s.eig[k], w[n - 1 - k], w[n - 1]) < 1e-3);
  }
  pof_spectrum_free(&s);
  assert_int_equal(pof_hess_op_destroy(&op), 0);
  assert_int_equal(pof_lossfn_destroy(&L), 0);
  assert_int_equal(pof_wrn_destroy(&m), 0);
  free(x), free(y), free(theta), free(g), free(v), free(tp), free(H), free(w);
}

static int setup(void **state)
{
  (void)state;
  if (SlepcInitializeNoArguments()) return 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  return PetscPushErrorHandler(PetscReturnErrorHandler, NULL) ? 1 : 0;
}
static int teardown(void **state)
{
  (void)state;
  pof_nn_finalize();
  return SlepcFinalize() ? 1 : 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_classifier_block),
    cmocka_unit_test(test_network),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
