/*
 * PoF range search on constructed features and labels (POF.md steps 3-7), against an
 * independent brute-force evaluation of the loss along -g in this file:
 *  - a valley along -g: η_max is the first doubling trial above L0, η* the grid argmin;
 *  - separable data: the loss decreases along -g forever -> capped (η_max = η_cap), or rejected;
 *  - a flat direction (g = 0): every grid loss ties -> the smallest step wins;
 *  - θ̃ = θ0 − γ η* g, ‖θ̃ − θ0‖ and the curvature κ against finite differences;
 *  - γ draws: range, uniformity, same key -> same value.
 */
#include "pof/pof.h"
#include "pof/rng.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define N 12
#define F 3
#define C 3

/* mean CE of θ = θ0 − eta g on features h (brute force, no shared code with the library) */
static double loss_at(const double *W0, const double *b0, const double *gW, const double *gb,
                      double eta, int n, const float *h, const int32_t *y)
{
  double tot = 0;
  for (int i = 0; i < n; i++) {
    double z[C], mx = -1e300, se = 0;
    for (int c = 0; c < C; c++) {
      z[c] = b0[c] - eta * gb[c];
      for (int f = 0; f < F; f++) z[c] += (W0[c * F + f] - eta * gW[c * F + f]) * h[i * F + f];
      mx = fmax(mx, z[c]);
    }
    for (int c = 0; c < C; c++) se += exp(z[c] - mx);
    tot += mx + log(se) - z[y[i]];
  }
  return tot / n;
}

/* brute-force gradient of the mean CE at θ0 */
static void grad_at(const double *W0, const double *b0, int n, const float *h, const int32_t *y,
                    double *gW, double *gb)
{
  memset(gW, 0, sizeof(double) * C * F);
  memset(gb, 0, sizeof(double) * C);
  for (int i = 0; i < n; i++) {
    double z[C], mx = -1e300, se = 0;
    for (int c = 0; c < C; c++) {
      z[c] = b0[c];
      for (int f = 0; f < F; f++) z[c] += W0[c * F + f] * h[i * F + f];
      mx = fmax(mx, z[c]);
    }
    for (int c = 0; c < C; c++) se += exp(z[c] - mx);
    for (int c = 0; c < C; c++) {
      const double d = exp(z[c] - mx) / se - (c == y[i]);
      gb[c] += d / n;
      for (int f = 0; f < F; f++) gW[c * F + f] += d * h[i * F + f] / n;
    }
  }
}

static PofPofConfig defaults(void)
{
  PofPofConfig p;
  memset(&p, 0, sizeof(p));
  p.mode       = POF_MODE_GLOBAL;
  p.gamma_max  = 2.0;
  p.partitions = 16;
  p.eta_init   = 1.0;
  p.eta_cap    = 128.0;
  p.flat       = POF_FLAT_CAP;
  return p;
}

/* expected η_max and η* by brute force */
static void expected(const PofPofConfig *p, const double *W0, const double *b0, int n,
                     const float *h, const int32_t *y, double *eta_max, double *eta_star,
                     int *capped)
{
  double gW[C * F], gb[C];
  grad_at(W0, b0, n, h, y, gW, gb);
  const double L0 = loss_at(W0, b0, gW, gb, 0, n, h, y);
  *capped         = 1;
  *eta_max        = p->eta_cap;
  for (double e = p->eta_init; e <= p->eta_cap; e *= 2)
    if (loss_at(W0, b0, gW, gb, e, n, h, y) > L0) {
      *eta_max = e;
      *capped  = 0;
      break;
    }
  double best = 1e300;
  for (int k = 1; k <= p->partitions; k++) {
    const double e = k * *eta_max / p->partitions, L = loss_at(W0, b0, gW, gb, e, n, h, y);
    if (L < best) best = L, *eta_star = e;
  }
}

static void run_case(const PofPofConfig *p, const double *W0, const double *b0, const float *h,
                     const int32_t *y, double gamma, PofRangeResult *r, float *Wt, float *bt)
{
  PofRangeComm rc = { NULL, NULL, NULL, NULL };
  assert_int_equal(pof_range_search(p, &rc, F, C, W0, b0, N, h, y, N, gamma, Wt, bt, r), 0);
}

static void test_valley(void **state)
{
  (void)state;
  /* random features, a trained-ish classifier slightly off the optimum: the loss along -g dips then
   * rises */
  float        h[N * F];
  int32_t      y[N];
  double       W0[C * F], b0[C], gW[C * F], gb[C];
  PofRng       r;
  PofPofConfig p = defaults();
  pof_rng_init(&r, 3, POF_RNG_TEST, 1, 0, 0);
  for (int i = 0; i < N; i++) {
    y[i] = i % C;
    for (int f = 0; f < F; f++)
      h[i * F + f] = (float)(pof_rng_normal(&r) + (f == y[i] ? 1.5 : 0.0));
  }
  for (int k = 0; k < C * F; k++) W0[k] = 0.3 * pof_rng_normal(&r);
  for (int c = 0; c < C; c++) b0[c] = 0.1 * pof_rng_normal(&r);
  /* small features: a wide valley, so several doubling trials stay below L0 */
  for (int i = 0; i < N * F; i++) h[i] *= 0.05f;
  double emax, estar;
  int    capped;
  expected(&p, W0, b0, N, h, y, &emax, &estar, &capped);
  PofRangeResult res;
  float          Wt[C * F], bt[C];
  run_case(&p, W0, b0, h, y, 1.25, &res, Wt, bt);
  printf("  valley: eta_max %g (expected %g), eta* %g (expected %g), capped %d\n", res.eta_max,
         emax, res.eta_star, estar, (int)res.capped);
  assert_true(res.eta_max >= 4.0); /* the bracket took several trials */
  assert_false(capped);
  assert_false(res.capped);
  assert_true(fabs(res.eta_max - emax) < 1e-12);
  assert_true(fabs(res.eta_star - estar) < 1e-12);
  assert_true(res.eta_max < p.eta_cap);
  /* θ̃ = θ0 − γ η* g */
  grad_at(W0, b0, N, h, y, gW, gb);
  double gn = 0;
  for (int k = 0; k < C * F; k++) {
    assert_true(fabs(Wt[k] - (W0[k] - 1.25 * res.eta_star * gW[k])) < 1e-5);
    gn += gW[k] * gW[k];
  }
  for (int c = 0; c < C; c++) {
    assert_true(fabs(bt[c] - (b0[c] - 1.25 * res.eta_star * gb[c])) < 1e-5);
    gn += gb[c] * gb[c];
  }
  assert_true(fabs(res.gnorm - sqrt(gn)) < 1e-9 * sqrt(gn));
  assert_true(fabs(res.pert_norm - 1.25 * res.eta_star * sqrt(gn)) < 1e-9);
  assert_true(fabs(res.L0 - loss_at(W0, b0, gW, gb, 0, N, h, y)) < 1e-12);
  /* κ = gᵀ H g / ‖g‖² = second derivative of L(θ0 − t g) at 0 over ‖g‖² */
  const double t  = 1e-4,
               d2 = (loss_at(W0, b0, gW, gb, t, N, h, y) - 2 * loss_at(W0, b0, gW, gb, 0, N, h, y) +
                     loss_at(W0, b0, gW, gb, -t, N, h, y)) /
                    (t * t);
  printf("  kappa %.8g, finite differences %.8g\n", res.kappa, d2 / gn);
  assert_true(fabs(res.kappa - d2 / gn) < 1e-4 * fabs(d2 / gn));
}

static void test_separable_capped_and_rejected(void **state)
{
  (void)state;
  float   h[N * F];
  int32_t y[N];
  double  W0[C * F], b0[C];
  for (int i = 0; i < N; i++) {
    y[i] = i % C;
    for (int f = 0; f < F; f++)
      h[i * F + f] = f == y[i] ? 1.0f : 0.0f; /* one-hot features: separable */
  }
  memset(W0, 0, sizeof(W0));
  memset(b0, 0, sizeof(b0));
  PofPofConfig   p = defaults();
  PofRangeResult res;
  float          Wt[C * F], bt[C];
  double         emax, estar;
  int            capped;
  expected(&p, W0, b0, N, h, y, &emax, &estar, &capped);
  assert_true(capped);
  run_case(&p, W0, b0, h, y, 0.5, &res, Wt, bt);
  assert_true(res.capped);
  assert_false(res.rejected);
  assert_true(res.eta_max == 128.0);
  assert_true(fabs(res.eta_star - estar) < 1e-12);
  assert_int_equal(res.trials, 8);
  p.flat = POF_FLAT_REJECT;
  run_case(&p, W0, b0, h, y, 0.5, &res, Wt, bt);
  assert_true(res.rejected);
  assert_true(res.pert_norm == 0.0);
  for (int k = 0; k < C * F; k++) assert_true(Wt[k] == (float)W0[k]);
  for (int c = 0; c < C; c++) assert_true(bt[c] == (float)b0[c]);
  /* another cap: trials 1, 2, 4, 8 */
  p.flat    = POF_FLAT_CAP;
  p.eta_cap = 8.0;
  run_case(&p, W0, b0, h, y, 0.5, &res, Wt, bt);
  assert_int_equal(res.trials, 4);
  assert_true(res.eta_max == 8.0);
}

static void test_flat_direction_ties(void **state)
{
  (void)state;
  /* zero features and a bias that makes every prediction exactly certain and right: softmax is
     exactly one-hot in double, so g = 0 exactly and every trial and grid loss equals L0 = 0 */
  float   h[N * F];
  int32_t y[N];
  double  W0[C * F], b0[C] = { 1000.0, 0.0, 0.0 };
  memset(h, 0, sizeof(h));
  for (int i = 0; i < N; i++) y[i] = 0;
  for (int k = 0; k < C * F; k++) W0[k] = 0.1 * k;
  PofPofConfig   p = defaults();
  PofRangeResult res;
  float          Wt[C * F], bt[C];
  run_case(&p, W0, b0, h, y, 1.0, &res, Wt, bt);
  assert_true(res.capped);
  assert_true(res.gnorm == 0.0);
  assert_true(res.L0 == 0.0);
  assert_true(res.eta_star == res.eta_max / p.partitions); /* tie -> smallest step */
  assert_true(res.kappa == 0.0);
}

static void test_gamma(void **state)
{
  (void)state;
  const int n        = 20000;
  int       bins[10] = { 0 };
  for (int s = 0; s < n; s++) {
    const double g = pof_gamma_draw(7, 3, s, 0, 2.0);
    assert_true(g >= 0.0 && g < 2.0);
    bins[(int)(g * 5.0)]++;
    assert_true(g == pof_gamma_draw(7, 3, s, 0, 2.0));
  }
  double chi = 0;
  for (int b = 0; b < 10; b++) chi += (bins[b] - n / 10.0) * (bins[b] - n / 10.0) / (n / 10.0);
  assert_true(chi < 27.9); /* 99.9% quantile, 9 dof */
  assert_true(pof_gamma_draw(7, 3, 5, 0, 2.0) != pof_gamma_draw(7, 3, 5, 1, 2.0));
  assert_true(pof_gamma_draw(7, 3, 5, 0, 2.0) != pof_gamma_draw(8, 3, 5, 0, 2.0));
}

static void test_label_check(void **state)
{
  (void)state;
  float          h[N * F]  = { 0 };
  int32_t        y[N]      = { 0 };
  double         W0[C * F] = { 0 }, b0[C] = { 0 };
  PofPofConfig   p = defaults();
  PofRangeResult res;
  float          Wt[C * F], bt[C];
  PofRangeComm   rc = { NULL, NULL, NULL, NULL };
  y[3]              = C; /* out of range */
  assert_int_not_equal(pof_range_search(&p, &rc, F, C, W0, b0, N, h, y, N, 1.0, Wt, bt, &res), 0);
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
  return PetscFinalize() ? 1 : 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valley),
    cmocka_unit_test(test_separable_capped_and_rejected),
    cmocka_unit_test(test_flat_direction_ties),
    cmocka_unit_test(test_gamma),
    cmocka_unit_test(test_label_check),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
