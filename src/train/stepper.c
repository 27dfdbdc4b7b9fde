/* SGD, SAM and PoF steps on sharded state. See include/pof/stepper.h. */
#include "pof/stepper.h"
#include "pof/timer.h"
#include "pof/train.h"

#include <math.h>

PetscErrorCode pof_stepper_init(PofStepper *st, MPI_Comm comm, const PofConfig *cfg, PofWrn m,
                                PofShard s, PetscInt B, PetscInt Bw, const double *theta0)
{
  PofWrnShape sh;
  PetscFunctionBegin;
  PetscCall(PetscMemzero(st, sizeof(*st)));
  st->comm  = comm;
  st->cfg   = cfg;
  st->m     = m;
  st->shard = s;
  PetscCallMPI(MPI_Comm_rank(comm, &st->rank));
  PetscCallMPI(MPI_Comm_size(comm, &st->size));
  PetscCheck(B % st->size == 0, comm, PETSC_ERR_ARG_WRONG,
             "-opt_batch %" PetscInt_FMT " is not divisible by the %d ranks", B, (int)st->size);
  st->B     = B;
  st->nloc  = B / st->size;
  st->Bw    = Bw;
  st->nwloc = Bw / st->size;
  pof_wrn_get_shape(m, &sh);
  st->np = pof_wrn_num_params(m);
  st->nf = pof_wrn_num_feature_params(m);
  st->F  = pof_wrn_feature_dim(m);
  st->C  = sh.classes;
  if (theta0) {
    PetscCheck(Bw % st->size == 0, comm, PETSC_ERR_ARG_WRONG,
               "-pof_weak_batch %" PetscInt_FMT " is not divisible by the %d ranks", Bw,
               (int)st->size);
    PetscCall(PetscMalloc4(st->np - st->nf, &st->theta0, PetscMax(st->nwloc, 1) * st->F, &st->hw,
                           st->C * st->F, &st->Wt, st->C, &st->bt));
    PetscCall(PetscArraycpy(st->theta0, theta0, st->np - st->nf));
  }
  if (st->size > 1 && cfg->opt.bn_sync) pof_wrn_set_bn_sum(m, pof_comm_sum_doubles, &st->comm);
  pof_wrn_set_grad_ready(m, pof_shard_grad_ready, s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_stepper_release(PofStepper *st)
{
  PetscFunctionBegin;
  if (st->theta0) PetscCall(PetscFree4(st->theta0, st->hw, st->Wt, st->bt));
  PetscCall(PetscFree(st->saved));
  pof_wrn_set_bn_sum(st->m, NULL, NULL);
  pof_wrn_set_grad_ready(st->m, NULL, NULL);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_stepper_sgd(PofStepper *st, double lr, const float *x, const int32_t *y,
                               PetscInt upd_end, const float *W, const float *b,
                               PetscBool classifier_grad, double *loss_sum, PetscInt *wrong)
{
  const PofConfig *cfg = st->cfg;
  PofSgdParams     sp  = { lr, cfg->opt.momentum, cfg->opt.wd, cfg->opt.nesterov };
  PetscFunctionBegin;
  PetscCall(pof_shard_begin(st->shard, pof_wrn_grads(st->m)));
  PetscCall(pof_train_loss_grad(st->m, st->nloc, x, y, st->B, W, b, classifier_grad, PETSC_TRUE,
                                loss_sum, wrong));
  PetscCall(pof_shard_end(st->shard));
  PetscCall(pof_shard_sgd(st->shard, &sp, 0, upd_end, pof_wrn_params(st->m)));
  pof_wrn_params_changed(st->m);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_stepper_sam(PofStepper *st, double lr, const float *x, const int32_t *y,
                               double *loss_sum, PetscInt *wrong)
{
  const PofConfig *cfg = st->cfg;
  PofSgdParams     sp  = { lr, cfg->opt.momentum, cfg->opt.wd, cfg->opt.nesterov };
  float           *P = pof_wrn_params(st->m), *G = pof_wrn_grads(st->m);
  double           nrm2 = 0, ls2;
  PetscInt         wrong2;
  PetscFunctionBegin;
  if (!st->saved) PetscCall(PetscMalloc1(st->np, &st->saved));
  PetscCall(PetscArraycpy(st->saved, P, st->np));
  /* pass 1: gradient at w; BN running statistics are updated here only */
  PetscCall(pof_shard_begin(st->shard, G));
  PetscCall(pof_train_loss_grad(st->m, st->nloc, x, y, st->B, NULL, NULL, PETSC_TRUE, PETSC_TRUE,
                                loss_sum, wrong));
  PetscCall(pof_shard_end(st->shard));
  /* synchronized: the global gradient on every rank; per rank: the local arena as it is */
  if (cfg->opt.sam_sync) PetscCall(pof_shard_gather_grad(st->shard, G));
  for (PetscInt i = 0; i < st->np; i++) nrm2 += (double)G[i] * G[i];
  const double s = cfg->opt.sam_rho / (sqrt(nrm2) + 1e-12);
  for (PetscInt i = 0; i < st->np; i++) P[i] = (float)((double)st->saved[i] + s * G[i]);
  pof_wrn_params_changed(st->m);
  /* pass 2: gradient at w + e */
  PetscCall(pof_shard_begin(st->shard, G));
  PetscCall(pof_train_loss_grad(st->m, st->nloc, x, y, st->B, NULL, NULL, PETSC_TRUE, PETSC_FALSE,
                                &ls2, &wrong2));
  PetscCall(pof_shard_end(st->shard));
  /* base step from w (the master copy was never perturbed) */
  PetscCall(pof_shard_sgd(st->shard, &sp, 0, st->np, P));
  pof_wrn_params_changed(st->m);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_stepper_pof(PofStepper *st, double lr, PetscInt seed, PetscInt epoch,
                               PetscInt step, const float *x, const int32_t *y, const float *xw,
                               const int32_t *yw, PofRangeResult *res, double *loss_sum,
                               PetscInt *wrong)
{
  const PofConfig *cfg = st->cfg;
  PofRangeComm     rc  = { NULL, NULL, NULL, NULL };
  PetscFunctionBegin;
  PetscCheck(st->theta0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "PoF step without theta0");
  /* 1-2. weak features: training-mode BN (synchronized), nothing kept */
  pof_timer_start(POF_T_WEAK_FORWARD);
  PetscCall(pof_wrn_features(st->m, POF_BN_TRAIN,
                             cfg->pof.weak_bn_update ? POF_FWD_UPDATE_RUNNING : 0, st->nwloc, xw,
                             st->hw));
  pof_timer_stop(POF_T_WEAK_FORWARD);
  /* 3-7. range: g always global; bracket and grid jointly (global) or per rank (local) */
  pof_timer_start(POF_T_POF_RANGE);
  if (st->size > 1) {
    rc.dir_sum = pof_comm_sum_doubles;
    rc.dir_ctx = &st->comm;
    if (cfg->pof.mode == POF_MODE_GLOBAL) {
      rc.range_sum = pof_comm_sum_doubles;
      rc.range_ctx = &st->comm;
    }
  }
  const double gamma = pof_gamma_draw(
      seed, epoch, step, cfg->pof.mode == POF_MODE_LOCAL ? st->rank : 0, cfg->pof.gamma_max);
  PetscCall(pof_range_search(&cfg->pof, &rc, st->F, st->C, st->theta0,
                             st->theta0 + (size_t)st->C * (size_t)st->F, st->nwloc, st->hw, yw,
                             st->Bw, gamma, st->Wt, st->bt, res));
  pof_timer_stop(POF_T_POF_RANGE);
  /* 8. main batch through φ and θ̃; update φ only (θ stays θ0) */
  PetscCall(pof_stepper_sgd(st, lr, x, y, st->nf, st->Wt, st->bt, PETSC_FALSE, loss_sum, wrong));
  PetscFunctionReturn(PETSC_SUCCESS);
}
