/* The part the model and checkpoint targets share: read a checkpoint's state the way pof does
   after its metadata passed (pof_ckpt_read into Vecs of n_params, BN state, theta0). */
#ifndef POF_FUZZ_CKPT_READ_H
#define POF_FUZZ_CKPT_READ_H

#include "pof/ckpt.h"

#include <petscvec.h>
#include <stdlib.h>

static PetscErrorCode fuzz_read_state(const char *path, const PofCkptMeta *m)
{
  Vec     master = NULL, momentum = NULL;
  float  *running = NULL;
  double *theta0  = NULL;
  PetscFunctionBegin;
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, m->n_params, &master));
  if (m->have_momentum) PetscCall(VecDuplicate(master, &momentum));
  PetscCall(PetscMalloc1((size_t)m->n_bn_state + 1, &running));
  if (m->have_theta0) PetscCall(PetscMalloc1((size_t)(m->n_params - m->n_feature) + 1, &theta0));
  PetscCall(pof_ckpt_read(PETSC_COMM_SELF, path, master, momentum, running, theta0,
                          m->have_theta0 ? m->n_params - m->n_feature : 0));
  PetscCall(PetscFree(theta0));
  PetscCall(PetscFree(running));
  PetscCall(VecDestroy(&momentum));
  PetscCall(VecDestroy(&master));
  PetscFunctionReturn(PETSC_SUCCESS);
}

#endif
