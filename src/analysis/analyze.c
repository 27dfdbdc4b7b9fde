/* pof analyze: options, model and subset loading, the analysis steps, summary. See
   include/pof/analysis.h. */
#include "pof/analysis.h"
#include "pof/ckpt.h"
#include "pof/data.h"
#include "pof/json.h"
#include "pof/comm.h"
#include "pof/trainer.h"
#include "pof/progress.h"

#include <math.h>
#include <string.h>

/* The first `count` samples of a split, sharded (this rank: *nlocal samples). */
static PetscErrorCode load_subset(MPI_Comm comm, PofDataset ds, PofSplit split, PetscInt count,
                                  PetscInt chunk, PetscInt sample, float **x, int32_t **y,
                                  PetscInt *nlocal)
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
    PetscCall(
        PetscArraycpy(*x + (size_t)*nlocal * (size_t)sample, xb, (size_t)nl * (size_t)sample));
    PetscCall(PetscArraycpy(*y + *nlocal, yb, nl));
    *nlocal += nl;
  }
  PetscCall(PetscFree2(xb, yb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* PoF classifier direction: v = -grad_theta L on weak batch (epoch 0, step 0), zero on phi. */
static PetscErrorCode pof_direction(MPI_Comm comm, PofDataset ds, PofWrn m, const double *theta,
                                    PetscInt B, PetscInt batch, double *v, double *gnorm)
{
  PetscMPIInt    size;
  PofWrnShape    s;
  float         *x;
  int32_t       *y;
  PofLossFn      L;
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m);
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(B % size == 0, comm, PETSC_ERR_ARG_WRONG,
             "-analyze_weak_batch %" PetscInt_FMT " is not divisible by the %d ranks", B,
             (int)size);
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
  for (PetscInt i = 0; i < s->k; i++)
    rmax = isfinite(s->resid[i]) ? PetscMax(rmax, s->resid[i]) : INFINITY;
  PetscCall(pof_print(
      comm, "analyze: %s Hessian (%" PetscInt_FMT " parameters): top-%" PetscInt_FMT " eigenvalues",
      name, s->n, s->k));
  for (PetscInt i = 0; i < s->k; i++) PetscCall(pof_print(comm, " %.6g", s->eig[i]));
  PetscCall(
      pof_print(comm, " (max rel. residual %.1e, %" PetscInt_FMT " converged); ", rmax, s->nconv));
  if (s->probes > 0)
    PetscCall(pof_print(comm, "trace %.6g +- %.2g (%" PetscInt_FMT " probes); ", s->trace,
                        s->trace_se, s->probes));
  PetscCall(pof_print(comm, "%" PetscInt_FMT " Hv, %.1f s\n", s->hv_count, s->seconds));
  if (rmax > 1e-3)
    PetscCall(pof_print(comm,
                        "analyze: warning: residual %.1e above 1e-3 (not converged, or "
                        "difference-quotient error: try a smaller -analyze_fd_eps)\n",
                        rmax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The classifier block's Hessian on fixed features (its spectrum and trace), and the curvature
   along the PoF direction vpof (if given). h: the features (nlocal, F), allocated here. */
static PetscErrorCode analyze_classifier(MPI_Comm comm, const PofAnalyzeConfig *acfg, PofLossFn L,
                                         const double *theta, PetscInt nf, PetscInt F, PetscInt C,
                                         PetscInt nlocal, const int32_t *y, const double *vpof,
                                         float **hout, PofAnalysis *a)
{
  PofHessOp op;
  float    *h;
  PetscFunctionBegin;
  PetscCall(PetscMalloc1((size_t)PetscMax(nlocal, 1) * (size_t)F, hout));
  h = *hout;
  PetscCall(pof_lossfn_features(L, theta, h));
  PetscCall(pof_hess_classifier_create(comm, nlocal, F, C, h, y, acfg->samples, theta + nf,
                                       theta + nf + (size_t)C * (size_t)F, acfg->fd_eps,
                                       acfg->classifier_exact, &op));
  if (acfg->classifier) {
    PetscCall(pof_spectrum_compute(comm, &op, acfg->top_k, acfg->eigenvectors, acfg->eps_tol,
                                   acfg->eps_max_it, acfg->hutchinson, acfg->seed, &a->cls));
    a->has_cls = PETSC_TRUE;
    PetscCall(print_spectrum(comm, "classifier-block", &a->cls));
  }
  if (vpof && a->pof_gnorm > 0) {
    double k;
    PetscCall(pof_curvature(&op, vpof + nf, &k));
    add_kappa(a, "pof_direction", k);
    PetscCall(pof_print(
        comm,
        "analyze: curvature along the PoF direction -grad_theta L (weak batch %" PetscInt_FMT
        ", |g| = %.4g): kappa = %.6g\n",
        acfg->weak_batch, a->pof_gnorm, k));
  }
  PetscCall(pof_hess_op_destroy(&op));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The whole network's Hessian (spectrum, trace) and the curvature along the directions d1, d2. */
static PetscErrorCode analyze_network(MPI_Comm comm, const PofAnalyzeConfig *acfg, PofLossFn L,
                                      const double *theta, const double *d1, const double *d2,
                                      PofAnalysis *a)
{
  PofHessOp op;
  double    k;
  PetscFunctionBegin;
  PetscCall(pof_hess_network_create(L, theta, acfg->fd_eps, &op));
  PetscCall(pof_spectrum_compute(comm, &op, acfg->top_k, acfg->eigenvectors, acfg->eps_tol,
                                 acfg->eps_max_it, acfg->hutchinson, acfg->seed, &a->net));
  a->has_net = PETSC_TRUE;
  PetscCall(print_spectrum(comm, "whole-network", &a->net));
  PetscCall(pof_curvature(&op, d1, &k));
  add_kappa(a, "random_direction_0", k);
  PetscCall(pof_curvature(&op, d2, &k));
  add_kappa(a, "random_direction_1", k);
  PetscCall(pof_print(
      comm, "analyze: curvature along filter-normalized random directions: kappa = %.6g, %.6g\n",
      a->kappa[a->nkappa - 2], a->kappa[a->nkappa - 1]));
  PetscCall(pof_hess_op_destroy(&op));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 1-D landscapes along d1 (and the PoF direction vpof, rescaled in place) and the 2-D one on (d1,
 * d2). */
static PetscErrorCode analyze_landscapes(MPI_Comm comm, const PofAnalyzeConfig *acfg, PofLossFn L,
                                         const double *theta, const double *d1, const double *d2,
                                         double *vpof, PetscInt nf, PetscInt np, PofAnalysis *a)
{
  PetscFunctionBegin;
  if (acfg->grid1 > 0) {
    a->n1 = acfg->grid1;
    PetscCall(PetscMalloc2(a->n1, &a->alpha1, a->n1, &a->land_rand));
    pof_grid(a->n1, acfg->range1, a->alpha1);
    PetscCall(pof_landscape_1d(L, theta, d1, a->n1, a->alpha1, a->land_rand));
    PetscCall(pof_print(
        comm, "analyze: 1-D landscape, filter-normalized random direction, alpha in [-%g, %g]:",
        (double)acfg->range1, (double)acfg->range1));
    for (PetscInt i = 0; i < a->n1; i++) PetscCall(pof_print(comm, " %.4g", a->land_rand[i]));
    PetscCall(pof_print(comm, "\n"));
    if (vpof && a->pof_gnorm > 0) {
      PetscCall(PetscMalloc1(a->n1, &a->land_pof));
      /* scaled so alpha = 1 moves the classifier by its own norm */
      double tn = 0;
      for (PetscInt i = nf; i < np; i++) tn += theta[i] * theta[i];
      const double s = sqrt(tn) / a->pof_gnorm;
      for (PetscInt i = nf; i < np; i++) vpof[i] *= s;
      PetscCall(pof_landscape_1d(L, theta, vpof, a->n1, a->alpha1, a->land_pof));
      PetscCall(pof_print(
          comm, "analyze: 1-D landscape, PoF direction -g |theta|/|g| (classifier only):"));
      for (PetscInt i = 0; i < a->n1; i++) PetscCall(pof_print(comm, " %.4g", a->land_pof[i]));
      PetscCall(pof_print(comm, "\n"));
    }
  }
  if (acfg->grid2 > 0) {
    a->n2 = acfg->grid2;
    PetscCall(PetscMalloc2(a->n2, &a->alpha2, a->n2 * a->n2, &a->land2));
    pof_grid(a->n2, acfg->range2, a->alpha2);
    PetscCall(pof_landscape_2d(L, theta, d1, d2, a->n2, a->alpha2, a->land2));
    double mn = a->land2[0], mx = a->land2[0];
    for (PetscInt i = 0; i < a->n2 * a->n2; i++)
      mn = PetscMin(mn, a->land2[i]), mx = PetscMax(mx, a->land2[i]);
    PetscCall(pof_print(comm,
                        "analyze: 2-D landscape %" PetscInt_FMT "x%" PetscInt_FMT
                        " on [-%g, %g]^2: loss from %.4g to %.4g\n",
                        a->n2, a->n2, (double)acfg->range2, (double)acfg->range2, mn, mx));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The last line: the results as one JSON object (rank 0). */
static PetscErrorCode print_summary(MPI_Comm comm, const PofAnalysis *a,
                                    const PofAnalyzeConfig *acfg, int ranks)
{
  PetscFunctionBegin;
  json_t *line = json_object();
  pof_json_set(&line, "command", json_string("analyze"));
  pof_json_set(&line, "model", pof_json_string(a->model));
  pof_json_set(&line, "split", pof_json_string(a->split));
  pof_json_set(&line, "samples", json_integer((json_int_t)a->samples));
  pof_json_set(&line, "ranks", json_integer(ranks));
  pof_json_set(&line, "n_params", json_integer((json_int_t)a->n_params));
  pof_json_set(&line, "loss0", pof_json_real_or_null(a->loss0));
  pof_json_set(&line, "err0", pof_json_real_or_null(a->err0));
  if (a->has_cls) {
    pof_json_set(&line, "cls_eig", pof_json_reals(a->cls.eig, (size_t)a->cls.k));
    pof_json_set(&line, "cls_trace", pof_json_real_or_null(a->cls.trace));
    pof_json_set(&line, "cls_trace_se", pof_json_real_or_null(a->cls.trace_se));
  }
  if (a->has_net) {
    pof_json_set(&line, "net_eig", pof_json_reals(a->net.eig, (size_t)a->net.k));
    pof_json_set(&line, "net_trace", pof_json_real_or_null(a->net.trace));
    pof_json_set(&line, "net_trace_se", pof_json_real_or_null(a->net.trace_se));
  }
  for (PetscInt i = 0; i < a->nkappa; i++) {
    char key[48];
    PetscCall(PetscSNPrintf(key, sizeof(key), "kappa_%s", a->kappa_name[i]));
    pof_json_set(&line, key, pof_json_real_or_null(a->kappa[i]));
  }
  if (a->n1 > 0) {
    pof_json_set(&line, "alpha1", pof_json_reals(a->alpha1, (size_t)a->n1));
    pof_json_set(&line, "land_random", pof_json_reals(a->land_rand, (size_t)a->n1));
    if (a->land_pof) pof_json_set(&line, "land_pof", pof_json_reals(a->land_pof, (size_t)a->n1));
  }
  pof_json_set(&line, "seconds", pof_json_real_or_null(a->seconds));
  pof_json_set(&line, "out", pof_json_string(acfg->out));
  PetscCall(pof_json_print_line(comm, line));
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
  PetscMPIInt rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  pof_progress_setup(cfg->run.quiet ? 0 : cfg->run.progress, rank == 0, NULL, NULL);
  pof_progress_begin(POF_PHASE_ANALYZE, 0);
  PetscCheck(cfg->data.file[0], comm, PETSC_ERR_ARG_WRONG,
             "pof analyze needs a dataset: -data_file F.h5");
  PetscCall(pof_dataset_open(comm, cfg->data.file, &cfg->data, cfg->run.seed, &ds));
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscCall(pof_model_load(comm, cfg, &info, &m, &theta));
  const PofSplit split = !strcmp(acfg->split, "train") ? POF_SPLIT_TRAIN : POF_SPLIT_TEST;
  const PetscInt avail = split == POF_SPLIT_TRAIN ? info.n_train : info.n_test;
  PetscCheck(acfg->samples <= avail, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-analyze_samples %" PetscInt_FMT " exceeds the %" PetscInt_FMT
             " samples of the %s split of '%s'",
             acfg->samples, avail, acfg->split, cfg->data.file);
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m),
                 F = pof_wrn_feature_dim(m);
  PofWrnShape shape;
  pof_wrn_get_shape(m, &shape);
  const PetscInt C = shape.classes, sample = shape.in_c * shape.in_h * shape.in_w;
  PetscCall(load_subset(comm, ds, split, acfg->samples, PetscMax(acfg->batch * size, 1), sample, &x,
                        &y, &nlocal));
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
  PetscCall(pof_print(
      comm,
      "analyze: %s, %" PetscInt_FMT " parameters (classifier %" PetscInt_FMT
      "), %s split first %" PetscInt_FMT " samples on %d ranks: loss %.6f, error %.2f%%\n",
      cfg->model.in, np, np - nf, acfg->split, acfg->samples, (int)size, a.loss0, a.err0));

  if (acfg->weak_batch > 0) {
    PetscCall(PetscMalloc1(np, &vpof));
    PetscCall(pof_direction(comm, ds, m, theta, acfg->weak_batch, acfg->batch, vpof, &a.pof_gnorm));
  }
  if (acfg->classifier || vpof)
    PetscCall(analyze_classifier(comm, acfg, L, theta, nf, F, C, nlocal, y, vpof, &h, &a));
  if (acfg->network || acfg->grid1 > 0 || acfg->grid2 > 0) {
    PetscCall(PetscMalloc2(np, &d1, np, &d2));
    pof_direction_filter_normalized(m, theta, acfg->seed, 0, d1);
    pof_direction_filter_normalized(m, theta, acfg->seed, 1, d2);
  }
  if (acfg->network) PetscCall(analyze_network(comm, acfg, L, theta, d1, d2, &a));
  PetscCall(analyze_landscapes(comm, acfg, L, theta, d1, d2, vpof, nf, np, &a));
  a.seconds = pof_now() - t0;
  if (acfg->out[0]) {
    PetscCall(pof_analysis_write(comm, acfg->out, &a));
    PetscCall(pof_print(comm, "analyze: results in %s\n", acfg->out));
  }
  PetscCall(print_summary(comm, &a, acfg, (int)size));

  pof_progress_end();
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
