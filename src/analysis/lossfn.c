/* The loss function object of pof analyze: see include/pof/analysis.h. */
#include "pof/analysis.h"
#include "pof/comm.h"
#include "pof/progress.h"

#include <string.h>

struct PofLossFn_s {
  MPI_Comm  comm;
  PofWrn    m;
  PetscInt  nlocal, nglobal, batch, sample, F, C, n_params, n_feature;
  float    *x;
  int32_t  *y;
  float    *h, *logits, *dlogits, *dh, *dW, *db; /* chunk scratch */
  uint8_t  *masks;                               /* ReLU patterns recorded at θ (frozen mode) */
  size_t    mask_bytes;
  PetscBool frozen;
  int64_t   passes; /* passes over the subset so far (progress) */
  double    t0;
};

PetscErrorCode pof_lossfn_create(MPI_Comm comm, PofWrn m, PetscInt nlocal, const float *x,
                                 const int32_t *y, PetscInt nglobal, PetscInt batch, PofLossFn *out)
{
  PofLossFn   L;
  PofWrnShape s;
  PetscFunctionBegin;
  PetscCheck(nglobal > 0 && batch > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "the evaluation subset and the chunk size must be positive");
  PetscCall(PetscCalloc1(1, &L));
  pof_wrn_get_shape(m, &s);
  L->comm      = comm;
  L->m         = m;
  L->nlocal    = nlocal;
  L->nglobal   = nglobal;
  L->batch     = batch;
  L->sample    = s.in_c * s.in_h * s.in_w;
  L->F         = pof_wrn_feature_dim(m);
  L->C         = s.classes;
  L->n_params  = pof_wrn_num_params(m);
  L->n_feature = pof_wrn_num_feature_params(m);
  L->t0        = pof_now();
  PetscCall(PetscMalloc2((size_t)PetscMax(nlocal, 1) * (size_t)L->sample, &L->x,
                         PetscMax(nlocal, 1), &L->y));
  if (nlocal > 0) {
    PetscCall(PetscArraycpy(L->x, x, (size_t)nlocal * (size_t)L->sample));
    PetscCall(PetscArraycpy(L->y, y, nlocal));
  }
  PetscCall(PetscMalloc6(batch * L->F, &L->h, batch * L->C, &L->logits, batch * L->C, &L->dlogits,
                         batch * L->F, &L->dh, L->C * L->F, &L->dW, L->C, &L->db));
  *out = L;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_destroy(PofLossFn *pL)
{
  PofLossFn L = *pL;
  PetscFunctionBegin;
  if (!L) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree2(L->x, L->y));
  PetscCall(PetscFree6(L->h, L->logits, L->dlogits, L->dh, L->dW, L->db));
  if (L->frozen) PetscCall(pof_wrn_relu_masks(L->m, POF_RELU_LIVE, NULL, 0));
  PetscCall(PetscFree(L->masks));
  PetscCall(PetscFree(L));
  *pL = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PofWrn         pof_lossfn_model(PofLossFn L) { return L->m; }
MPI_Comm       pof_lossfn_comm(PofLossFn L) { return L->comm; }
PetscInt       pof_lossfn_nlocal(PofLossFn L) { return L->nlocal; }
const int32_t *pof_lossfn_labels(PofLossFn L) { return L->y; }

/* start a pass over the subset: replay the recorded patterns from their start when frozen */
static PetscErrorCode pass_begin(PofLossFn L)
{
  PetscFunctionBegin;
  if (L->frozen) PetscCall(pof_wrn_relu_masks(L->m, POF_RELU_REPLAY, L->masks, L->mask_bytes));
  pof_progress_advance(++L->passes);
  if (pof_progress_due()) {
    char line[128], el[32];
    pof_progress_duration(pof_now() - L->t0, el, sizeof el);
    PetscCall(PetscSNPrintf(line, sizeof line,
                            "analyze: pass %lld over the %" PetscInt_FMT " samples, %s elapsed",
                            (long long)L->passes, L->nglobal, el));
    pof_progress_report(line, NULL);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void set_params(PofLossFn L, const double *theta)
{
  float *P = pof_wrn_params(L->m);
  for (PetscInt i = 0; i < L->n_params; i++) P[i] = (float)theta[i];
  pof_wrn_params_changed(L->m);
}

/* local CE sum and wrong count at the parameters currently in the arena */
static PetscErrorCode local_loss(PofLossFn L, double *sum, PetscInt *wrong)
{
  const float *P = pof_wrn_params(L->m);
  PetscFunctionBegin;
  PetscCall(pass_begin(L));
  *sum   = 0;
  *wrong = 0;
  for (PetscInt s = 0; s < L->nlocal; s += L->batch) {
    const PetscInt n = PetscMin(L->batch, L->nlocal - s);
    double         ls;
    PetscInt       w;
    PetscCall(
        pof_wrn_features(L->m, POF_BN_EVAL, 0, n, L->x + (size_t)s * (size_t)L->sample, L->h));
    pof_linear_forward(n, L->F, L->C, P + L->n_feature,
                       P + L->n_feature + (size_t)L->C * (size_t)L->F, L->h, L->logits);
    pof_softmax_ce(n, L->C, L->logits, L->y + s, 1.0, &ls, &w, NULL);
    *sum += ls;
    *wrong += w;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_eval(PofLossFn L, const double *theta, double *loss, double *err_pct)
{
  double   buf[2];
  PetscInt w;
  PetscFunctionBegin;
  set_params(L, theta);
  PetscCall(local_loss(L, &buf[0], &w));
  buf[1] = (double)w;
  PetscCall(pof_comm_allreduce_sum(L->comm, buf, 2));
  *loss = buf[0] / (double)L->nglobal;
  if (err_pct) *err_pct = 100.0 * buf[1] / (double)L->nglobal;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_eval_points(PofLossFn L, const double *theta, const double *d1,
                                      const double *a1, const double *d2, const double *a2,
                                      PetscInt k, double *loss)
{
  float *P = pof_wrn_params(L->m);
  PetscFunctionBegin;
  for (PetscInt j = 0; j < k; j++) {
    PetscInt w;
    for (PetscInt i = 0; i < L->n_params; i++)
      P[i] = (float)(theta[i] + a1[j] * d1[i] + (d2 ? a2[j] * d2[i] : 0.0));
    pof_wrn_params_changed(L->m);
    PetscCall(local_loss(L, &loss[j], &w));
  }
  PetscCall(pof_comm_allreduce_sum(L->comm, loss, k));
  for (PetscInt j = 0; j < k; j++) loss[j] /= (double)L->nglobal;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_grad(PofLossFn L, const double *theta, double *loss, double *grad)
{
  const PetscInt np = L->n_params, nf = L->n_feature, C = L->C, F = L->F;
  const float   *P = pof_wrn_params(L->m), *G = pof_wrn_grads(L->m);
  double        *buf;
  PetscFunctionBegin;
  set_params(L, theta);
  PetscCall(pass_begin(L));
  PetscCall(PetscCalloc1(np + 1, &buf));
  for (PetscInt s = 0; s < L->nlocal; s += L->batch) {
    const PetscInt n = PetscMin(L->batch, L->nlocal - s);
    double         ls;
    PetscInt       w;
    PetscCall(pof_wrn_features(L->m, POF_BN_EVAL, POF_FWD_KEEP, n,
                               L->x + (size_t)s * (size_t)L->sample, L->h));
    pof_linear_forward(n, F, C, P + nf, P + nf + (size_t)C * (size_t)F, L->h, L->logits);
    pof_softmax_ce(n, C, L->logits, L->y + s, 1.0 / (double)L->nglobal, &ls, &w, L->dlogits);
    buf[np] += ls;
    pof_linear_backward(n, F, C, P + nf, L->h, L->dlogits, L->dW, L->db, L->dh);
    for (PetscInt i = 0; i < C * F; i++) buf[nf + i] += L->dW[i];
    for (PetscInt i = 0; i < C; i++) buf[nf + C * F + i] += L->db[i];
    PetscCall(pof_wrn_features_backward(L->m, L->dh, NULL));
    for (PetscInt i = 0; i < nf; i++) buf[i] += G[i];
  }
  PetscCall(pof_comm_allreduce_sum(L->comm, buf, np + 1));
  PetscCall(PetscArraycpy(grad, buf, np));
  if (loss) *loss = buf[np] / (double)L->nglobal;
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_freeze_relu(PofLossFn L, const double *theta, PetscBool freeze)
{
  PetscFunctionBegin;
  PetscCall(pof_wrn_relu_masks(L->m, POF_RELU_LIVE, NULL, 0));
  L->frozen = PETSC_FALSE;
  if (!freeze) PetscFunctionReturn(PETSC_SUCCESS);
  if (!L->masks) {
    L->mask_bytes = 0;
    for (PetscInt s = 0; s < L->nlocal; s += L->batch)
      L->mask_bytes += pof_wrn_relu_mask_bytes(L->m, PetscMin(L->batch, L->nlocal - s));
    PetscCall(PetscMalloc1(PetscMax(L->mask_bytes, 1), &L->masks));
  }
  set_params(L, theta);
  PetscCall(pof_wrn_relu_masks(L->m, POF_RELU_RECORD, L->masks, L->mask_bytes));
  for (PetscInt s = 0; s < L->nlocal; s += L->batch) {
    const PetscInt n = PetscMin(L->batch, L->nlocal - s);
    PetscCall(
        pof_wrn_features(L->m, POF_BN_EVAL, 0, n, L->x + (size_t)s * (size_t)L->sample, L->h));
  }
  L->frozen = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_lossfn_features(PofLossFn L, const double *theta, float *h)
{
  PetscFunctionBegin;
  set_params(L, theta);
  PetscCall(pass_begin(L));
  for (PetscInt s = 0; s < L->nlocal; s += L->batch) {
    const PetscInt n = PetscMin(L->batch, L->nlocal - s);
    PetscCall(pof_wrn_features(L->m, POF_BN_EVAL, 0, n, L->x + (size_t)s * (size_t)L->sample,
                               h + (size_t)s * (size_t)L->F));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
