/*
 * The llm.c check: the engine against a PyTorch run of the same weights
 * (tests/fixtures/wrn_tiny.h5, written by tests/fixtures/make_fixtures.py in float64):
 * features, logits, loss, every gradient, the input gradient, BN batch and running statistics,
 * eval-mode logits and loss; then one SGD step, a second SGD step (non-zero Nesterov buffer)
 * and one SAM step through the real stepper (sharded PETSc state, 1 rank): parameters,
 * momentum and running statistics after each; and one whole PoF step (weak features, g,
 * eta_max, eta*, gamma from the same Philox stream, perturbed classifier, updated extractor,
 * momentum, BN statistics, theta0 bit-identical).
 * Tolerance: max |pof - torch| <= 1e-4 * max(|torch|) per tensor (float vs float64 reference).
 */
#include "pof/stepper.h"
#include "pof/train.h"

#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define TOL 1e-4

static const char *fixture;
static hid_t       file;

static double *rd(const char *name, long *n)
{
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) fail_msg("fixture has no %s", name);
  hid_t    sp  = H5Dget_space(d);
  hssize_t cnt = H5Sget_simple_extent_npoints(sp);
  double  *buf = malloc(sizeof(double) * (size_t)(cnt > 0 ? cnt : 1));
  if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    fail_msg("cannot read %s", name);
  H5Sclose(sp);
  H5Dclose(d);
  if (n) *n = (long)cnt;
  return buf;
}

static double attr(const char *obj, const char *name)
{
  double v = NAN;
  hid_t  a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0)
    fail_msg("fixture has no attribute %s of %s", name, obj);
  H5Aclose(a);
  return v;
}

static int cmp(const char *what, const float *got, const double *ref, long n, double tol)
{
  double mref = 0, worst = 0;
  long   wi = 0;
  for (long i = 0; i < n; i++) mref = fmax(mref, fabs(ref[i]));
  for (long i = 0; i < n; i++) {
    const double d = fabs((double)got[i] - ref[i]);
    if (!(d <= worst)) worst = d, wi = i;
  }
  const double rel = worst / fmax(mref, 1e-12);
  const int    bad = !(rel <= tol);
  printf("  %-34s n=%-5ld max|torch|=%-9.3g max|diff|/max|torch|=%.2e%s\n", what, n, mref, rel,
         bad ? "  FAIL" : "");
  if (bad) printf("      worst at %ld: pof %.9g torch %.9g\n", wi, (double)got[wi], ref[wi]);
  return bad;
}

static int cmp_vec(const char *what, Vec v, const double *ref, long n)
{
  const PetscScalar *a;
  float             *f = malloc(sizeof(float) * (size_t)n);
  VecGetArrayRead(v, &a);
  for (long i = 0; i < n; i++) f[i] = (float)a[i];
  VecRestoreArrayRead(v, &a);
  const int r = cmp(what, f, ref, n, TOL);
  free(f);
  return r;
}

typedef struct {
  PofWrnShape s;
  PofWrn      m;
  long        np, nbn, nx;
  int         n;
  float      *x;
  int32_t    *y;
} Fix;

static void load_model(Fix *F)
{
  long    np, nbn, nx, ny;
  double *p = rd("/params_flat", &np), *r = rd("/running_flat", &nbn), *x = rd("/input", &nx),
         *y = rd("/labels", &ny);
  F->s      = (PofWrnShape){ (PetscInt)attr("/", "depth"),  (PetscInt)attr("/", "width"),
                             (PetscInt)attr("/", "base"),   (PetscInt)attr("/", "in_c"),
                             (PetscInt)attr("/", "in_h"),   (PetscInt)attr("/", "in_w"),
                             (PetscInt)attr("/", "classes") };
  assert_int_equal(pof_wrn_create(&F->s, POF_DT_F32, PETSC_TRUE, &F->m), 0);
  assert_int_equal(pof_wrn_num_params(F->m), np);
  assert_int_equal(pof_wrn_num_bn_state(F->m), nbn);
  F->np = np, F->nbn = nbn, F->nx = nx, F->n = (int)ny;
  for (long i = 0; i < np; i++) pof_wrn_params(F->m)[i] = (float)p[i];
  for (long i = 0; i < nbn; i++) pof_wrn_running(F->m)[i] = (float)r[i];
  pof_wrn_params_changed(F->m);
  F->x = malloc(sizeof(float) * (size_t)nx);
  F->y = malloc(sizeof(int32_t) * (size_t)ny);
  for (long i = 0; i < nx; i++) F->x[i] = (float)x[i];
  for (long i = 0; i < ny; i++) F->y[i] = (int32_t)y[i];
  free(p), free(r), free(x), free(y);
}

static void free_model(Fix *F)
{
  pof_wrn_destroy(&F->m);
  free(F->x), free(F->y);
}

static void test_forward_backward(void **state)
{
  (void)state;
  Fix F;
  int fails = 0;
  load_model(&F);
  const PetscInt Fd = pof_wrn_feature_dim(F.m), C = F.s.classes,
                 nf = pof_wrn_num_feature_params(F.m);
  float *h          = malloc(sizeof(float) * (size_t)(F.n * Fd)),
        *z          = malloc(sizeof(float) * (size_t)(F.n * C)),
        *dz         = malloc(sizeof(float) * (size_t)(F.n * C)),
        *dh         = malloc(sizeof(float) * (size_t)(F.n * Fd)),
        *dx         = malloc(sizeof(float) * (size_t)F.nx);
  float   *P = pof_wrn_params(F.m), *G = pof_wrn_grads(F.m);
  double   ls;
  PetscInt wrong;
  /* eval mode */
  assert_int_equal(pof_wrn_features(F.m, POF_BN_EVAL, 0, F.n, F.x, h), 0);
  pof_linear_forward(F.n, Fd, C, P + nf, P + nf + C * Fd, h, z);
  pof_softmax_ce(F.n, C, z, F.y, 1.0, &ls, &wrong, NULL);
  double *ez = rd("/eval/logits", NULL), *el = rd("/eval/loss", NULL);
  fails += cmp("eval logits", z, ez, F.n * C, TOL);
  printf("  eval loss %.9g torch %.9g\n", ls / F.n, el[0]);
  fails += !(fabs(ls / F.n - el[0]) <= TOL * fabs(el[0]));
  /* training mode */
  assert_int_equal(
      pof_wrn_features(F.m, POF_BN_TRAIN, POF_FWD_KEEP | POF_FWD_UPDATE_RUNNING, F.n, F.x, h), 0);
  pof_linear_forward(F.n, Fd, C, P + nf, P + nf + C * Fd, h, z);
  pof_softmax_ce(F.n, C, z, F.y, 1.0 / F.n, &ls, &wrong, dz);
  pof_linear_backward(F.n, Fd, C, P + nf, h, dz, G + nf, G + nf + C * Fd, dh);
  assert_int_equal(pof_wrn_features_backward(F.m, dh, dx), 0);
  double *tf = rd("/train/features", NULL), *tz = rd("/train/logits", NULL),
         *tl = rd("/train/loss", NULL), *tg = rd("/train/grads_flat", NULL),
         *tgx = rd("/train/grad_input", NULL), *tr = rd("/train/running_after_flat", NULL);
  fails += cmp("train features", h, tf, F.n * Fd, TOL);
  fails += cmp("train logits", z, tz, F.n * C, TOL);
  printf("  train loss %.9g torch %.9g\n", ls / F.n, tl[0]);
  fails += !(fabs(ls / F.n - tl[0]) <= TOL * fabs(tl[0]));
  {
    PetscInt             nt;
    const PofTensorInfo *T = pof_wrn_tensors(F.m, &nt);
    for (PetscInt i = 0; i < nt; i++) {
      char name[96];
      snprintf(name, sizeof(name), "grad %s", T[i].name);
      fails += cmp(name, G + T[i].offset, tg + T[i].offset, T[i].numel, TOL);
    }
  }
  fails += cmp("grad input", dx, tgx, F.nx, TOL);
  fails += cmp("running stats after forward", pof_wrn_running(F.m), tr, F.nbn, TOL);
  free(h), free(z), free(dz), free(dh), free(dx), free(ez), free(el), free(tf), free(tz), free(tl),
      free(tg), free(tgx), free(tr);
  free_model(&F);
  assert_int_equal(fails, 0);
}

/* one or two SGD steps, or one SAM step, through the stepper; compare master, momentum, running */
static void run_steps(const char *group, int nsteps, int sam, int *fails)
{
  Fix        F;
  PofConfig  cfg;
  PofShard   shard;
  PofStepper st;
  char       path[64];
  load_model(&F);
  pof_config_defaults(&cfg);
  cfg.opt.momentum = attr(group, "momentum");
  cfg.opt.wd       = attr(group, "wd");
  cfg.opt.nesterov = attr(group, "nesterov") != 0 ? PETSC_TRUE : PETSC_FALSE;
  if (sam) cfg.opt.sam_rho = attr(group, "rho");
  const double lr = attr(group, "lr");
  assert_int_equal(
      pof_shard_create(PETSC_COMM_WORLD, (PetscInt)F.np, 0, pof_wrn_params(F.m), &shard), 0);
  assert_int_equal(pof_stepper_init(&st, PETSC_COMM_WORLD, &cfg, F.m, shard, F.n, F.n, NULL), 0);
  for (int k = 0; k < nsteps; k++) {
    double   ls;
    PetscInt wrong;
    if (sam)
      assert_int_equal(pof_stepper_sam(&st, lr, F.x, F.y, &ls, &wrong), 0);
    else
      assert_int_equal(
          pof_stepper_sgd(&st, lr, F.x, F.y, (PetscInt)F.np, NULL, NULL, PETSC_TRUE, &ls, &wrong),
          0);
  }
  double *tp, *tm, *tr;
  snprintf(path, sizeof(path), "%s/params_flat", group);
  tp = rd(path, NULL);
  snprintf(path, sizeof(path), "%s/momentum_flat", group);
  tm = rd(path, NULL);
  snprintf(path, sizeof(path), "%s/running_after_flat", group);
  tr = rd(path, NULL);
  printf(" %s:\n", group);
  *fails += cmp_vec("parameters (double master)", pof_shard_master(shard), tp, F.np);
  *fails += cmp("parameters (float compute copy)", pof_wrn_params(F.m), tp, F.np, TOL);
  *fails += cmp_vec("momentum", pof_shard_momentum(shard), tm, F.np);
  *fails += cmp("running statistics", pof_wrn_running(F.m), tr, F.nbn, TOL);
  free(tp), free(tm), free(tr);
  pof_stepper_release(&st);
  pof_shard_destroy(&shard);
  free_model(&F);
}

static void test_sgd_step(void **state)
{
  (void)state;
  int fails = 0;
  run_steps("/sgd", 1, 0, &fails);
  run_steps("/sgd2", 2, 0, &fails);
  assert_int_equal(fails, 0);
}

static void test_sam_step(void **state)
{
  (void)state;
  int fails = 0;
  run_steps("/sam", 1, 1, &fails);
  assert_int_equal(fails, 0);
}

/* One whole PoF step through the stepper: main and weak batch by index from the fixture's pool,
   gamma from pof's own stream (the fixture drew it with a Python Philox), weak features, g, the
   range, the perturbed classifier, the updated feature extractor, momentum and BN statistics. */
static void test_pof_step(void **state)
{
  (void)state;
  Fix            F;
  PofConfig      cfg;
  PofShard       shard;
  PofStepper     st;
  PofRangeResult res;
  double         ls;
  PetscInt       wrong;
  int            fails = 0;
  long           npool, nmain, nweak;
  load_model(&F);
  pof_config_defaults(&cfg);
  cfg.opt.momentum       = attr("/pof", "momentum");
  cfg.opt.wd             = attr("/pof", "wd");
  cfg.opt.nesterov       = attr("/pof", "nesterov") != 0 ? PETSC_TRUE : PETSC_FALSE;
  cfg.pof.mode           = POF_MODE_GLOBAL;
  cfg.pof.gamma_max      = attr("/pof", "gamma_max");
  cfg.pof.eta_init       = attr("/pof", "eta_init");
  cfg.pof.eta_cap        = attr("/pof", "eta_cap");
  cfg.pof.partitions     = (PetscInt)attr("/pof", "partitions");
  cfg.pof.weak_bn_update = PETSC_FALSE;
  double *pool = rd("/pof/pool", &npool), *py = rd("/pof/pool_labels", NULL),
         *mi = rd("/pof/main_idx", &nmain), *wi = rd("/pof/weak_idx", &nweak);
  const long per = F.nx / F.n; /* one image */
  float     *x   = malloc(sizeof(float) * (size_t)(nmain * per)),
        *xw      = malloc(sizeof(float) * (size_t)(nweak * per));
  int32_t *y     = malloc(sizeof(int32_t) * (size_t)nmain),
          *yw    = malloc(sizeof(int32_t) * (size_t)nweak);
  for (long i = 0; i < nmain; i++) {
    for (long k = 0; k < per; k++) x[i * per + k] = (float)pool[(long)mi[i] * per + k];
    y[i] = (int32_t)py[(long)mi[i]];
  }
  for (long i = 0; i < nweak; i++) {
    for (long k = 0; k < per; k++) xw[i * per + k] = (float)pool[(long)wi[i] * per + k];
    yw[i] = (int32_t)py[(long)wi[i]];
  }
  const PetscInt nf = pof_wrn_num_feature_params(F.m), Fd = pof_wrn_feature_dim(F.m),
                 C = F.s.classes;
  double *theta0   = malloc(sizeof(double) * (size_t)(F.np - nf));
  for (long i = nf; i < F.np; i++) theta0[i - nf] = pof_wrn_params(F.m)[i];
  assert_int_equal(
      pof_shard_create(PETSC_COMM_WORLD, (PetscInt)F.np, 0, pof_wrn_params(F.m), &shard), 0);
  assert_int_equal(pof_stepper_init(&st, PETSC_COMM_WORLD, &cfg, F.m, shard, (PetscInt)nmain,
                                    (PetscInt)nweak, theta0),
                   0);
  assert_int_equal(pof_stepper_pof(&st, attr("/pof", "lr"), (PetscInt)attr("/pof", "seed"),
                                   (PetscInt)attr("/pof", "epoch"), (PetscInt)attr("/pof", "step"),
                                   x, y, xw, yw, &res, &ls, &wrong),
                   0);
  printf(" /pof:\n  gamma %.17g torch %.17g\n", res.gamma, attr("/pof", "gamma"));
  fails += !(fabs(res.gamma - attr("/pof", "gamma")) <= 1e-15);
  printf("  eta_max %g torch %g, eta* %g torch %g, capped %d torch %d\n", res.eta_max,
         attr("/pof", "eta_max"), res.eta_star, attr("/pof", "eta_star"), (int)res.capped,
         (int)attr("/pof", "capped"));
  fails += res.eta_max != attr("/pof", "eta_max") || res.eta_star != attr("/pof", "eta_star") ||
           (int)res.capped != (int)attr("/pof", "capped") || res.rejected;
  double *wl = rd("/pof/weak_loss", NULL), *ml = rd("/pof/main_loss", NULL);
  printf("  weak loss L0 %.9g torch %.9g, |g| %.9g torch %.9g, main loss %.9g torch %.9g\n", res.L0,
         wl[0], res.gnorm, attr("/pof", "gnorm"), ls / (double)nmain, ml[0]);
  fails += !(fabs(res.L0 - wl[0]) <= TOL * fabs(wl[0])) +
           !(fabs(res.gnorm - attr("/pof", "gnorm")) <= TOL * attr("/pof", "gnorm")) +
           !(fabs(ls / (double)nmain - ml[0]) <= TOL * fabs(ml[0]));
  double *hw = rd("/pof/weak_features", NULL), *pw = rd("/pof/perturbed_weight", NULL),
         *pb = rd("/pof/perturbed_bias", NULL), *tp = rd("/pof/params_flat", NULL),
         *tm = rd("/pof/momentum_flat", NULL), *tr = rd("/pof/running_after_flat", NULL);
  fails += cmp("weak features", st.hw, hw, nweak * Fd, TOL);
  fails += cmp("perturbed classifier W", st.Wt, pw, C * Fd, TOL);
  fails += cmp("perturbed classifier b", st.bt, pb, C, TOL);
  fails += cmp_vec("parameters (double master)", pof_shard_master(shard), tp, F.np);
  fails += cmp("parameters (float compute copy)", pof_wrn_params(F.m), tp, F.np, TOL);
  fails += cmp_vec("momentum", pof_shard_momentum(shard), tm, F.np);
  fails += cmp("running statistics", pof_wrn_running(F.m), tr, F.nbn, TOL);
  /* theta0 bit-identical in the compute copy and the master */
  {
    const PetscScalar *a;
    int                same = 1;
    VecGetArrayRead(pof_shard_master(shard), &a);
    for (long i = nf; i < F.np; i++)
      same &= a[i] == theta0[i - nf] && (double)pof_wrn_params(F.m)[i] == theta0[i - nf];
    VecRestoreArrayRead(pof_shard_master(shard), &a);
    printf("  classifier theta0 bit-identical after the step: %s\n", same ? "yes" : "NO");
    fails += !same;
  }
  free(hw), free(pw), free(pb), free(tp), free(tm), free(tr), free(wl), free(ml);
  free(pool), free(py), free(mi), free(wi), free(x), free(xw), free(y), free(yw), free(theta0);
  pof_stepper_release(&st);
  pof_shard_destroy(&shard);
  free_model(&F);
  assert_int_equal(fails, 0);
}

static int setup(void **state)
{
  (void)state;
  if (PetscInitializeNoArguments()) return 1;
  if (PetscPushErrorHandler(PetscReturnErrorHandler, NULL)) return 1;
  file = H5Fopen(fixture, H5F_ACC_RDONLY, H5P_DEFAULT);
  return file < 0;
}
static int teardown(void **state)
{
  (void)state;
  H5Fclose(file);
  pof_nn_finalize();
  return PetscFinalize() ? 1 : 0;
}

int main(int argc, char **argv)
{
  fixture                         = argc > 1 ? argv[1] : "tests/fixtures/wrn_tiny.h5";
  const struct CMUnitTest tests[] = { cmocka_unit_test(test_forward_backward),
                                      cmocka_unit_test(test_sgd_step),
                                      cmocka_unit_test(test_sam_step),
                                      cmocka_unit_test(test_pof_step) };
  return cmocka_run_group_tests(tests, setup, teardown);
}
