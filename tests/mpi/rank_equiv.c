/*
 * Rank-count equivalence driver: a tiny WRN trained for a few steps on synthetic global
 * batches (sample i of step s is the same whatever the rank count), with the real stepper
 * (synchronized BN, bucketed reduce-scatter, sharded SGD/SAM, PoF range search). Rank 0
 * writes the parameter update (final - initial, float32) and, for PoF, (eta*, gamma, eta_max)
 * per step to -out. Options: -mode sgd|sam|pof_global|pof_local, -bn_sync 0|1, -unsync,
 * -steps N, -lr X, -batch B, -bucket N.
 */
#include "pof/comm.h"
#include "pof/stepper.h"
#include "pof/train.h"

#include <stdio.h>
#include <string.h>

static PetscErrorCode run(void)
{
  MPI_Comm    comm = PETSC_COMM_WORLD;
  PetscMPIInt rank, size;
  char        mode[32] = "sgd", out[PETSC_MAX_PATH_LEN] = "update.bin";
  PetscInt    steps = 3, B = 8, bucket = 0;
  PetscReal   lr      = 0.2;
  PetscBool   bn_sync = PETSC_TRUE, unsync = PETSC_FALSE;
  PofConfig   cfg;
  PofWrn      m;
  PofShard    shard;
  PofStepper  st;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mode", mode, sizeof(mode), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof(out), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-steps", &steps, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-batch", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bucket", &bucket, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-lr", &lr, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-bn_sync", &bn_sync, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-unsync", &unsync, NULL));
  pof_config_defaults(&cfg);
  cfg.opt.bn_sync        = bn_sync;
  cfg.opt.sam_sync       = PETSC_TRUE;
  const PetscBool is_pof = !strncmp(mode, "pof", 3);
  cfg.pof.mode           = !strcmp(mode, "pof_local") ? POF_MODE_LOCAL : POF_MODE_GLOBAL;
  cfg.pof.eta_cap        = 16;
  PofWrnShape s          = { 10, 1, 4, 3, 8, 8, 5 };
  PetscCall(pof_wrn_create(&s, POF_DT_F32, PETSC_FALSE, &m));
  PetscCall(pof_wrn_init_params(m, 11));
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m), len = 3 * 8 * 8,
                 n = B / size;
  float   *p0, *x, *xw;
  int32_t *y, *yw;
  double  *theta0 = NULL, *rec;
  PetscCall(PetscMalloc6(np, &p0, n * len, &x, n * len, &xw, n, &y, n, &yw, 3 * steps + 1, &rec));
  PetscCall(PetscArraycpy(p0, pof_wrn_params(m), np));
  if (is_pof) {
    PetscCall(PetscMalloc1(np - nf, &theta0));
    for (PetscInt i = nf; i < np; i++) theta0[i - nf] = p0[i];
  }
  PetscCall(pof_shard_create(comm, np, bucket, p0, &shard));
  pof_shard_set_unsynchronized(shard, unsync);
  PetscCall(pof_stepper_init(&st, comm, &cfg, m, shard, B, B, theta0));
  for (PetscInt k = 0; k < steps; k++) {
    double         loss;
    PetscInt       wrong;
    PofRangeResult res;
    pof_synthetic_batch(5, k, rank * n, n, len, s.classes, x, y);
    pof_synthetic_batch(5, 1000 + k, rank * n, n, len, s.classes, xw, yw);
    if (!strcmp(mode, "sgd"))
      PetscCall(pof_stepper_sgd(&st, lr, x, y, np, NULL, NULL, PETSC_TRUE, &loss, &wrong));
    else if (!strcmp(mode, "sam"))
      PetscCall(pof_stepper_sam(&st, lr, x, y, &loss, &wrong));
    else {
      PetscCall(pof_stepper_pof(&st, lr, 5, 0, k, x, y, xw, yw, &res, &loss, &wrong));
      rec[3 * k] = res.eta_star, rec[3 * k + 1] = res.gamma, rec[3 * k + 2] = res.eta_max;
    }
  }
  if (rank == 0) {
    FILE        *f = fopen(out, "wb");
    const float *P = pof_wrn_params(m);
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", out);
    const int32_t hdr[3] = { (int32_t)np, (int32_t)nf, is_pof ? (int32_t)steps : 0 };
    fwrite(hdr, sizeof(hdr), 1, f);
    for (PetscInt i = 0; i < np; i++) {
      const float d = P[i] - p0[i];
      fwrite(&d, sizeof(float), 1, f);
    }
    if (is_pof) fwrite(rec, sizeof(double), (size_t)(3 * steps), f);
    fclose(f);
  }
  PetscCall(pof_stepper_release(&st));
  PetscCall(pof_shard_destroy(&shard));
  PetscCall(pof_wrn_destroy(&m));
  PetscCall(PetscFree6(p0, x, xw, y, yw, rec));
  PetscCall(PetscFree(theta0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr = PetscInitialize(&argc, &argv, NULL, NULL);
  if (ierr) return 1;
  ierr = pof_error_handler_push();
  if (!ierr) ierr = pof_comm_finish_init();
  if (!ierr) ierr = run();
  return pof_comm_finish(NULL, ierr, 0);
}
