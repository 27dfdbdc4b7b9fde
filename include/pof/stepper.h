/**
 * @file stepper.h
 * @brief One optimizer step of each kind on a model with sharded state: SGD, SAM, PoF.
 *
 * Shared by the training loops and pof bench. All steps are collective on the stepper's
 * communicator (gradient exchange, synchronized BN, PoF reductions).
 */
#ifndef POF_STEPPER_H
#define POF_STEPPER_H

#include "pof/config.h"
#include "pof/comm.h"
#include "pof/nn.h"
#include "pof/pof.h"

typedef struct {
  MPI_Comm         comm;
  PetscMPIInt      rank, size;
  const PofConfig *cfg;
  PofWrn           m;
  PofShard         shard;
  PetscInt         B, nloc, Bw, nwloc; /* global and local main / weak batch */
  PetscInt         np, nf, F, C;
  double          *theta0;       /* classifier θ0 in double (PoF) */
  float           *hw, *Wt, *bt; /* weak features, perturbed classifier */
  float           *saved;        /* SAM */
} PofStepper;

/** Set up for model m and shard s (both owned by the caller); allocates the PoF buffers when
    theta0 != NULL (copied). Enables synchronized BN when cfg->opt.bn_sync and size > 1. */
PetscErrorCode pof_stepper_init(PofStepper *st, MPI_Comm comm, const PofConfig *cfg, PofWrn m,
                                PofShard s, PetscInt B, PetscInt Bw, const double *theta0);
PetscErrorCode pof_stepper_release(PofStepper *st);

/** SGD step on x (nloc samples): classifier (W, b) (NULL = own), update [0, upd_end). */
PetscErrorCode pof_stepper_sgd(PofStepper *st, double lr, const float *x, const int32_t *y,
                               PetscInt upd_end, const float *W, const float *b,
                               PetscBool classifier_grad, double *loss_sum, PetscInt *wrong);
/** SAM step (ρ, synchronized or per-rank perturbation; BN running statistics untouched in pass 2).
 */
PetscErrorCode pof_stepper_sam(PofStepper *st, double lr, const float *x, const int32_t *y,
                               double *loss_sum, PetscInt *wrong);
/**
 * PoF step (POF.md): weak features of xw (nwloc samples, no activations kept), range search
 * (global or local mode), main batch through φ and θ̃, SGD on φ only. gamma_slot: the γ stream
 * slot (0 in global mode, the rank in local mode is chosen here).
 */
PetscErrorCode pof_stepper_pof(PofStepper *st, double lr, PetscInt seed, PetscInt epoch,
                               PetscInt step, const float *x, const int32_t *y, const float *xw,
                               const int32_t *yw, PofRangeResult *res, double *loss_sum,
                               PetscInt *wrong);

#endif
