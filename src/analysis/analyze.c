/* pof analyze: options, model and subset loading, the analysis steps, summary. See
   include/pof/analysis.h. */
#include "pof/analysis.h"
#include "pof/ckpt.h"
#include "pof/data.h"
#include "pof/json.h"
#include "pof/comm.h"
#include "pof/trainer.h"

#include <math.h>
#include <string.h>

/* PetscOptionsBegin on an explicit PetscOptions object (as in src/core/config.c). */
#define POF_OPTIONS_BEGIN(opts, comm, title)                                                                                       \
  do {                                                                                                                             \
    PetscOptionItems  PetscOptionsObjectBase;                                                                                      \
    PetscOptionItems *PetscOptionsObject = &PetscOptionsObjectBase;                                                                \
    PetscCall(PetscMemzero(PetscOptionsObject, sizeof(*PetscOptionsObject)));                                                      \
    for (PetscOptionsObject->count = (PetscOptionsPublish ? -1 : 1); PetscOptionsObject->count < 2; PetscOptionsObject->count++) { \
      PetscOptionsObject->options = (opts);                                                                                        \
      PetscCall(PetscOptionsBegin_Private(PetscOptionsObject, comm, NULL, title, NULL))

PetscErrorCode pof_analyze_config_read(PetscOptions opts, MPI_Comm comm, PofAnalyzeConfig *a, PetscBool *help)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(a, sizeof(*a)));
  a->samples    = 1000;
  a->batch      = 250;
  a->seed       = 1;
  a->top_k      = 5;
  a->hutchinson = 20;
  a->network    = PETSC_FALSE;
  a->classifier = PETSC_TRUE;
  a->fd_eps     = 1e-4;
  a->eps_tol    = 1e-6;
  a->eps_max_it = 300;
  a->weak_batch = 128;
  a->grid1      = 21;
  a->range1     = 1.0;
  a->grid2      = 0;
  a->range2     = 1.0;
  PetscCall(PetscStrncpy(a->split, "test", sizeof(a->split)));
  PetscCall(PetscOptionsHasHelp(opts, help));
  POF_OPTIONS_BEGIN(opts, comm, "pof analyze options");
  PetscCall(PetscOptionsInt("-analyze_samples", "Evaluation subset: the first N samples of the split", NULL, a->samples, &a->samples, NULL));
  POF_OPTIONS_STRING("-analyze_split", "Split of the subset: test|train (train = the -data_train_subset samples in use)", a->split, NULL);
  PetscCall(PetscOptionsInt("-analyze_batch", "Samples per forward/backward chunk on each rank", NULL, a->batch, &a->batch, NULL));
  PetscCall(PetscOptionsInt("-analyze_seed", "Seed of the Hutchinson probes, the SLEPc start vector and the random directions", NULL, a->seed, &a->seed, NULL));
  PetscCall(PetscOptionsInt("-analyze_top_k", "Largest eigenvalues computed per block", NULL, a->top_k, &a->top_k, NULL));
  PetscCall(PetscOptionsBool("-analyze_eigenvectors", "Store the eigenvectors in the output file", NULL, a->eigenvectors, &a->eigenvectors, NULL));
  PetscCall(PetscOptionsInt("-analyze_hutchinson", "Rademacher probes of the Hutchinson trace estimate (0 = no trace)", NULL, a->hutchinson, &a->hutchinson, NULL));
  PetscCall(PetscOptionsBool("-analyze_network", "Whole-network Hessian: top-k, trace, curvature along random directions", NULL, a->network, &a->network, NULL));
  PetscCall(PetscOptionsBool("-analyze_classifier", "Classifier-block Hessian on fixed features: top-k, trace", NULL, a->classifier, &a->classifier, NULL));
  PetscCall(PetscOptionsBool("-analyze_classifier_exact", "Classifier block: closed-form Hv instead of finite differences", NULL, a->classifier_exact, &a->classifier_exact, NULL));
  PetscCall(PetscOptionsReal("-analyze_fd_eps", "Relative step of the Hv difference quotient: eps = e (1 + |theta|) / |v|", NULL, a->fd_eps, &a->fd_eps, NULL));
  PetscCall(PetscOptionsReal("-analyze_eps_tol", "Relative tolerance of the SLEPc eigensolver", NULL, a->eps_tol, &a->eps_tol, NULL));
  PetscCall(PetscOptionsInt("-analyze_eps_max_it", "Iteration cap of the SLEPc eigensolver", NULL, a->eps_max_it, &a->eps_max_it, NULL));
  PetscCall(PetscOptionsInt("-analyze_weak_batch", "Weak batch (epoch 0, step 0) of the PoF classifier direction -grad_theta L (0 = off)", NULL, a->weak_batch, &a->weak_batch, NULL));
  PetscCall(PetscOptionsInt("-analyze_grid1", "Points of each 1-D landscape (0 = none; odd puts the model itself on the grid)", NULL, a->grid1, &a->grid1, NULL));
  PetscCall(PetscOptionsReal("-analyze_range1", "1-D landscapes on alpha in [-r, r]", NULL, a->range1, &a->range1, NULL));
  PetscCall(PetscOptionsInt("-analyze_grid2", "Points per axis of the 2-D landscape (0 = none)", NULL, a->grid2, &a->grid2, NULL));
  PetscCall(PetscOptionsReal("-analyze_range2", "2-D landscape on [-r, r]^2", NULL, a->range2, &a->range2, NULL));
  POF_OPTIONS_STRING("-analyze_out", "HDF5 result file (empty = none)", a->out, NULL);
  PetscOptionsEnd();
  if (*help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(a->samples >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_samples must be >= 1, got %" PetscInt_FMT, a->samples);
  PetscCheck(!strcmp(a->split, "test") || !strcmp(a->split, "train"), comm, PETSC_ERR_ARG_WRONG, "-analyze_split must be test or train, got '%s'", a->split);
  PetscCheck(a->batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_batch must be >= 1, got %" PetscInt_FMT, a->batch);
  PetscCheck(a->seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_seed must be >= 0, got %" PetscInt_FMT, a->seed);
  PetscCheck(a->top_k >= 1 && a->top_k <= 100, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_top_k must be in [1, 100], got %" PetscInt_FMT, a->top_k);
  PetscCheck(a->hutchinson >= 0 && a->hutchinson < (1 << 23), comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_hutchinson must be in [0, 2^23), got %" PetscInt_FMT, a->hutchinson);
  PetscCheck(a->fd_eps > 0 && a->fd_eps < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_fd_eps must be in (0, 1), got %g", (double)a->fd_eps);
  PetscCheck(a->eps_tol > 0 && a->eps_tol < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_eps_tol must be in (0, 1), got %g", (double)a->eps_tol);
  PetscCheck(a->eps_max_it >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_eps_max_it must be >= 1, got %" PetscInt_FMT, a->eps_max_it);
  PetscCheck(a->weak_batch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_weak_batch must be >= 0, got %" PetscInt_FMT, a->weak_batch);
  PetscCheck(a->grid1 >= 0 && a->grid1 <= 10001, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_grid1 must be in [0, 10001], got %" PetscInt_FMT, a->grid1);
  PetscCheck(a->grid2 >= 0 && a->grid2 <= 1001, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_grid2 must be in [0, 1001], got %" PetscInt_FMT, a->grid2);
  PetscCheck(a->range1 > 0 && a->range2 > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_range1 and -analyze_range2 must be positive");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The first `count` samples of a split, sharded (this rank: *nlocal samples). */
static PetscErrorCode load_subset(MPI_Comm comm, PofDataset ds, PofSplit split, PetscInt count, PetscInt chunk, PetscInt sample, float **x, int32_t **y, PetscInt *nlocal)
{
  PetscMPIInt size, rank;
  float      *xb;
  int32_t    *yb;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  const PetscInt cap = count / size + 1, cb = chunk / size + 1;
  PetscCall(PetscMalloc2((size_t)cap * (size_t)sample, x, cap, y));
  PetscCall(PetscMalloc2((size_t)cb * (size_t)sample, &xb, cb, &yb));
  *nlocal = 0;
  for (PetscInt s = 0; s < count; s += chunk) {
    const PetscInt c = PetscMin(chunk, count - s);
    PetscInt       nl;
    PetscCall(pof_dataset_eval_batch(ds, split, s, c, xb, yb, &nl));
    PetscCheck(*nlocal + nl <= cap, PETSC_COMM_SELF, PETSC_ERR_PLIB, "subset share overflow");
    PetscCall(PetscArraycpy(*x + (size_t)*nlocal * (size_t)sample, xb, (size_t)nl * (size_t)sample));
    PetscCall(PetscArraycpy(*y + *nlocal, yb, nl));
    *nlocal += nl;
  }
  PetscCall(PetscFree2(xb, yb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* PoF classifier direction: v = -grad_theta L on weak batch (epoch 0, step 0), zero on phi. */
static PetscErrorCode pof_direction(MPI_Comm comm, PofDataset ds, PofWrn m, const double *theta, PetscInt B, PetscInt batch, double *v, double *gnorm)
{
  PetscMPIInt    size;
  PofWrnShape    s;
  float         *x;
  int32_t       *y;
  PofLossFn      L;
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m);
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(B % size == 0, comm, PETSC_ERR_ARG_WRONG, "-analyze_weak_batch %" PetscInt_FMT " is not divisible by the %d ranks", B, (int)size);
  pof_wrn_get_shape(m, &s);
  const PetscInt nl = B / size, sample = s.in_c * s.in_h * s.in_w;
  PetscCall(PetscMalloc2((size_t)nl * (size_t)sample, &x, nl, &y));
  PetscCall(pof_dataset_weak_batch(ds, 0, 0, B, x, y));
  PetscCall(pof_lossfn_create(comm, m, nl, x, y, B, batch, &L));
  PetscCall(pof_lossfn_grad(L, theta, NULL, v));
  PetscCall(pof_lossfn_destroy(&L));
  double g2 = 0;
  for (PetscInt i = 0; i < nf; i++) v[i] = 0;
  for (PetscInt i = nf; i < np; i++) {
    v[i] = -v[i];
    g2 += v[i] * v[i];
  }
  *gnorm = sqrt(g2);
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void add_kappa(PofAnalysis *a, const char *name, double k)
{
  if (a->nkappa >= POF_ANALYSIS_MAX_KAPPA) return;
  PetscCallVoid(PetscStrncpy(a->kappa_name[a->nkappa], name, sizeof(a->kappa_name[0])));
  a->kappa[a->nkappa++] = k;
}

static PetscErrorCode print_spectrum(MPI_Comm comm, const char *name, const PofSpectrum *s)
{
  double rmax = 0;
  PetscFunctionBegin;
  for (PetscInt i = 0; i < s->k; i++) rmax = isfinite(s->resid[i]) ? PetscMax(rmax, s->resid[i]) : INFINITY;
  PetscCall(pof_print(comm, "analyze: %s Hessian (%" PetscInt_FMT " parameters): top-%" PetscInt_FMT " eigenvalues", name, s->n, s->k));
  for (PetscInt i = 0; i < s->k; i++) PetscCall(pof_print(comm, " %.6g", s->eig[i]));
  PetscCall(pof_print(comm, " (max rel. residual %.1e, %" PetscInt_FMT " converged); ", rmax, s->nconv));
  if (s->probes > 0) PetscCall(pof_print(comm, "trace %.6g +- %.2g (%" PetscInt_FMT " probes); ", s->trace, s->trace_se, s->probes));
  PetscCall(pof_print(comm, "%" PetscInt_FMT " Hv, %.1f s\n", s->hv_count, s->seconds));
  if (rmax > 1e-3) PetscCall(pof_print(comm, "analyze: warning: residual %.1e above 1e-3 (not converged, or difference-quotient error: try a smaller -analyze_fd_eps)\n", rmax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_analyze_run(MPI_Comm comm, const PofConfig *cfg, const PofAnalyzeConfig *acfg)
{
  PofDataset     ds = NULL;
  PofDatasetInfo info;
  PofWrn         m     = NULL;
  double        *theta = NULL, *vpof = NULL, *d1 = NULL, *d2 = NULL;
  float         *x = NULL, *h = NULL;
  int32_t       *y = NULL;
  PetscInt       nlocal;
  PofLossFn      L = NULL;
  PofAnalysis    a;
  PetscMPIInt    size;
  const double   t0 = pof_now();
  PetscFunctionBegin;
  PetscCall(PetscMemzero(&a, sizeof(a)));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(cfg->data.file[0], comm, PETSC_ERR_ARG_WRONG, "pof analyze needs a dataset: -data_file F.h5");
  PetscCall(pof_dataset_open(comm, cfg->data.file, &cfg->data, cfg->run.seed, &ds));
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscCall(pof_model_load(comm, cfg, &info, &m, &theta));
  const PofSplit split = !strcmp(acfg->split, "train") ? POF_SPLIT_TRAIN : POF_SPLIT_TEST;
  const PetscInt avail = split == POF_SPLIT_TRAIN ? info.n_train : info.n_test;
  PetscCheck(acfg->samples <= avail, comm, PETSC_ERR_ARG_OUTOFRANGE, "-analyze_samples %" PetscInt_FMT " exceeds the %" PetscInt_FMT " samples of the %s split of '%s'", acfg->samples, avail, acfg->split, cfg->data.file);
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m), F = pof_wrn_feature_dim(m);
  PofWrnShape    shape;
  pof_wrn_get_shape(m, &shape);
  const PetscInt C = shape.classes, sample = shape.in_c * shape.in_h * shape.in_w;
  PetscCall(load_subset(comm, ds, split, acfg->samples, PetscMax(acfg->batch * size, 1), sample, &x, &y, &nlocal));
  PetscCall(pof_lossfn_create(comm, m, nlocal, x, y, acfg->samples, acfg->batch, &L));

  PetscCall(PetscStrncpy(a.model, cfg->model.in, sizeof(a.model)));
  PetscCall(PetscStrncpy(a.data, cfg->data.file, sizeof(a.data)));
  PetscCall(PetscStrncpy(a.split, acfg->split, sizeof(a.split)));
  a.samples      = acfg->samples;
  a.n_params     = np;
  a.n_classifier = np - nf;
  a.ranks        = size;
  a.pof_gnorm    = NAN;
  PetscCall(pof_lossfn_eval(L, theta, &a.loss0, &a.err0));
  PetscCall(pof_print(comm, "analyze: %s, %" PetscInt_FMT " parameters (classifier %" PetscInt_FMT "), %s split first %" PetscInt_FMT " samples on %d ranks: loss %.6f, error %.2f%%\n", cfg->model.in, np, np - nf, acfg->split, acfg->samples, (int)size, a.loss0, a.err0));

  if (acfg->weak_batch > 0) {
    PetscCall(PetscMalloc1(np, &vpof));
    PetscCall(pof_direction(comm, ds, m, theta, acfg->weak_batch, acfg->batch, vpof, &a.pof_gnorm));
  }
  /* classifier block on fixed features */
  if (acfg->classifier || vpof) {
    PofHessOp op;
    PetscCall(PetscMalloc1((size_t)PetscMax(nlocal, 1) * (size_t)F, &h));
    PetscCall(pof_lossfn_features(L, theta, h));
    PetscCall(pof_hess_classifier_create(comm, nlocal, F, C, h, y, acfg->samples, theta + nf, theta + nf + C * F, acfg->fd_eps, acfg->classifier_exact, &op));
    if (acfg->classifier) {
      PetscCall(pof_spectrum_compute(comm, &op, acfg->top_k, acfg->eigenvectors, acfg->eps_tol, acfg->eps_max_it, acfg->hutchinson, acfg->seed, &a.cls));
      a.has_cls = PETSC_TRUE;
      PetscCall(print_spectrum(comm, "classifier-block", &a.cls));
    }
    if (vpof && a.pof_gnorm > 0) {
      double k;
      PetscCall(pof_curvature(&op, vpof + nf, &k));
      add_kappa(&a, "pof_direction", k);
      PetscCall(pof_print(comm, "analyze: curvature along the PoF direction -grad_theta L (weak batch %" PetscInt_FMT ", |g| = %.4g): kappa = %.6g\n", acfg->weak_batch, a.pof_gnorm, k));
    }
    PetscCall(pof_hess_op_destroy(&op));
  }
  if (acfg->network || acfg->grid1 > 0 || acfg->grid2 > 0) {
    PetscCall(PetscMalloc2(np, &d1, np, &d2));
    pof_direction_filter_normalized(m, theta, acfg->seed, 0, d1);
    pof_direction_filter_normalized(m, theta, acfg->seed, 1, d2);
  }
  if (acfg->network) {
    PofHessOp op;
    double    k;
    PetscCall(pof_hess_network_create(L, theta, acfg->fd_eps, &op));
    PetscCall(pof_spectrum_compute(comm, &op, acfg->top_k, acfg->eigenvectors, acfg->eps_tol, acfg->eps_max_it, acfg->hutchinson, acfg->seed, &a.net));
    a.has_net = PETSC_TRUE;
    PetscCall(print_spectrum(comm, "whole-network", &a.net));
    PetscCall(pof_curvature(&op, d1, &k));
    add_kappa(&a, "random_direction_0", k);
    PetscCall(pof_curvature(&op, d2, &k));
    add_kappa(&a, "random_direction_1", k);
    PetscCall(pof_print(comm, "analyze: curvature along filter-normalized random directions: kappa = %.6g, %.6g\n", a.kappa[a.nkappa - 2], a.kappa[a.nkappa - 1]));
    PetscCall(pof_hess_op_destroy(&op));
  }
  if (acfg->grid1 > 0) {
    a.n1 = acfg->grid1;
    PetscCall(PetscMalloc2(a.n1, &a.alpha1, a.n1, &a.land_rand));
    pof_grid(a.n1, acfg->range1, a.alpha1);
    PetscCall(pof_landscape_1d(L, theta, d1, a.n1, a.alpha1, a.land_rand));
    PetscCall(pof_print(comm, "analyze: 1-D landscape, filter-normalized random direction, alpha in [-%g, %g]:", (double)acfg->range1, (double)acfg->range1));
    for (PetscInt i = 0; i < a.n1; i++) PetscCall(pof_print(comm, " %.4g", a.land_rand[i]));
    PetscCall(pof_print(comm, "\n"));
    if (vpof && a.pof_gnorm > 0) {
      PetscCall(PetscMalloc1(a.n1, &a.land_pof));
      /* scaled so alpha = 1 moves the classifier by its own norm */
      double tn = 0;
      for (PetscInt i = nf; i < np; i++) tn += theta[i] * theta[i];
      const double s = sqrt(tn) / a.pof_gnorm;
      for (PetscInt i = nf; i < np; i++) vpof[i] *= s;
      PetscCall(pof_landscape_1d(L, theta, vpof, a.n1, a.alpha1, a.land_pof));
      PetscCall(pof_print(comm, "analyze: 1-D landscape, PoF direction -g |theta|/|g| (classifier only):"));
      for (PetscInt i = 0; i < a.n1; i++) PetscCall(pof_print(comm, " %.4g", a.land_pof[i]));
      PetscCall(pof_print(comm, "\n"));
    }
  }
  if (acfg->grid2 > 0) {
    a.n2 = acfg->grid2;
    PetscCall(PetscMalloc2(a.n2, &a.alpha2, a.n2 * a.n2, &a.land2));
    pof_grid(a.n2, acfg->range2, a.alpha2);
    PetscCall(pof_landscape_2d(L, theta, d1, d2, a.n2, a.alpha2, a.land2));
    double mn = a.land2[0], mx = a.land2[0];
    for (PetscInt i = 0; i < a.n2 * a.n2; i++) mn = PetscMin(mn, a.land2[i]), mx = PetscMax(mx, a.land2[i]);
    PetscCall(pof_print(comm, "analyze: 2-D landscape %" PetscInt_FMT "x%" PetscInt_FMT " on [-%g, %g]^2: loss from %.4g to %.4g\n", a.n2, a.n2, (double)acfg->range2, (double)acfg->range2, mn, mx));
  }
  a.seconds = pof_now() - t0;
  if (acfg->out[0]) {
    PetscCall(pof_analysis_write(comm, acfg->out, &a));
    PetscCall(pof_print(comm, "analyze: results in %s\n", acfg->out));
  }
  /* JSON summary, last line */
  json_t *line = json_object();
  pof_json_set(&line, "command", json_string("analyze"));
  pof_json_set(&line, "model", pof_json_string(a.model));
  pof_json_set(&line, "split", pof_json_string(a.split));
  pof_json_set(&line, "samples", json_integer((json_int_t)a.samples));
  pof_json_set(&line, "ranks", json_integer(size));
  pof_json_set(&line, "n_params", json_integer((json_int_t)np));
  pof_json_set(&line, "loss0", pof_json_real_or_null(a.loss0));
  pof_json_set(&line, "err0", pof_json_real_or_null(a.err0));
  if (a.has_cls) {
    pof_json_set(&line, "cls_eig", pof_json_reals(a.cls.eig, (size_t)a.cls.k));
    pof_json_set(&line, "cls_trace", pof_json_real_or_null(a.cls.trace));
    pof_json_set(&line, "cls_trace_se", pof_json_real_or_null(a.cls.trace_se));
  }
  if (a.has_net) {
    pof_json_set(&line, "net_eig", pof_json_reals(a.net.eig, (size_t)a.net.k));
    pof_json_set(&line, "net_trace", pof_json_real_or_null(a.net.trace));
    pof_json_set(&line, "net_trace_se", pof_json_real_or_null(a.net.trace_se));
  }
  for (PetscInt i = 0; i < a.nkappa; i++) {
    char key[48];
    PetscCall(PetscSNPrintf(key, sizeof(key), "kappa_%s", a.kappa_name[i]));
    pof_json_set(&line, key, pof_json_real_or_null(a.kappa[i]));
  }
  if (a.n1 > 0) {
    pof_json_set(&line, "alpha1", pof_json_reals(a.alpha1, (size_t)a.n1));
    pof_json_set(&line, "land_random", pof_json_reals(a.land_rand, (size_t)a.n1));
    if (a.land_pof) pof_json_set(&line, "land_pof", pof_json_reals(a.land_pof, (size_t)a.n1));
  }
  pof_json_set(&line, "seconds", pof_json_real_or_null(a.seconds));
  pof_json_set(&line, "out", pof_json_string(acfg->out));
  PetscCall(pof_json_print_line(comm, line));

  if (a.has_cls) pof_spectrum_free(&a.cls);
  if (a.has_net) pof_spectrum_free(&a.net);
  PetscCall(PetscFree2(a.alpha1, a.land_rand));
  PetscCall(PetscFree(a.land_pof));
  PetscCall(PetscFree2(a.alpha2, a.land2));
  PetscCall(PetscFree2(d1, d2));
  PetscCall(PetscFree(vpof));
  PetscCall(PetscFree(h));
  PetscCall(PetscFree2(x, y));
  PetscCall(PetscFree(theta));
  PetscCall(pof_lossfn_destroy(&L));
  PetscCall(pof_wrn_destroy(&m));
  PetscCall(pof_dataset_destroy(&ds));
  PetscFunctionReturn(PETSC_SUCCESS);
}
