/*
 * Loader benchmark (built, not run as a test): time per global training batch of the loader
 * (indices + exchange + augmentation + normalization) and of the PoF weak batch, plus the
 * time to open the file and read the slabs.
 *   mpiexec -n P bench_loader -data_file F.h5 [-data_* ...] [-bench_batch 128]
 *           [-bench_batches 200] [-bench_warmup 5]
 * Per-batch times are the max over ranks of each rank's average. Last line: one JSON object.
 */
#include "pof/comm.h"
#include "pof/config.h"
#include "pof/data.h"

#include <stdio.h>

static PetscErrorCode time_batches(MPI_Comm comm, PofDataset ds, PetscBool weak, PetscInt B,
                                   PetscInt warm, PetscInt nbat, float *x, int32_t *y, double *ms)
{
  const PetscInt nb = pof_dataset_batches_per_epoch(ds, B);
  double         t0 = 0;
  PetscFunctionBegin;
  for (PetscInt i = -warm; i < nbat; i++) {
    const PetscInt k = i < 0 ? i + warm : i; /* warm-up batches are the first ones */
    if (i == 0) {
      PetscCallMPI(MPI_Barrier(comm));
      t0 = pof_now();
    }
    if (weak)
      PetscCall(pof_dataset_weak_batch(ds, 0, k, B, x, y));
    else
      PetscCall(pof_dataset_train_batch(ds, k / nb, k % nb, B, x, y));
  }
  double t = (pof_now() - t0) / (double)nbat * 1e3;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  *ms = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(void)
{
  MPI_Comm       comm = PETSC_COMM_WORLD;
  PofConfig      cfg;
  PofDataset     ds = NULL;
  PofDatasetInfo in;
  PetscBool      help = PETSC_FALSE;
  PetscInt       B = 128, nbat = 200, warm = 5;
  PetscMPIInt    size;
  double         t_open, t_train, t_weak;
  float         *x = NULL;
  int32_t       *y = NULL;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_batch", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_batches", &nbat, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_warmup", &warm, NULL));
  PetscCall(pof_config_read(NULL, comm, POF_CMD_PRETRAIN, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(B >= size && B % size == 0 && nbat >= 1 && warm >= 0, comm, PETSC_ERR_ARG_WRONG,
             "-bench_batch must be a multiple of the rank count, -bench_batches >= 1");
  PetscCallMPI(MPI_Barrier(comm));
  t_open = pof_now();
  PetscCall(pof_dataset_open(comm, cfg.data.file, &cfg.data, cfg.run.seed, &ds));
  t_open = pof_now() - t_open;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t_open, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCall(pof_dataset_get_info(ds, &in));
  PetscCall(PetscMalloc2((size_t)(B / size * in.c * in.h * in.w), &x, (size_t)(B / size), &y));
  PetscCall(time_batches(comm, ds, PETSC_FALSE, B, warm, nbat, x, y, &t_train));
  PetscCall(time_batches(comm, ds, PETSC_TRUE, B, warm, nbat, x, y, &t_weak));
  PetscCall(pof_print(comm,
                      "bench_loader: %s, %d ranks x %d threads, %s, batch %d: open+read %.3f s, "
                      "train batch %.3f ms, weak batch %.3f ms\n",
                      in.name, size, pof_threads(), cfg.data.replicate ? "replicated" : "exchanged",
                      (int)B, t_open, t_train, t_weak));
  PetscCall(
      pof_print(comm,
                "{\"dataset\":\"%s\",\"ranks\":%d,\"threads\":%d,\"mode\":\"%s\",\"batch\":%d,"
                "\"batches\":%d,\"open_s\":%.4f,\"train_batch_ms\":%.4f,\"weak_batch_ms\":%.4f}\n",
                in.name, size, pof_threads(), cfg.data.replicate ? "replicate" : "exchange", (int)B,
                (int)nbat, t_open, t_train, t_weak));
  PetscCall(PetscFree2(x, y));
  PetscCall(pof_dataset_destroy(&ds));
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
