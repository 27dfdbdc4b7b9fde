/*
 * Open a dataset with the loader and print what it holds as one JSON line (rank 0):
 * shape, classes, mean/std, name and the per-class sample counts of both splits, counted from
 * a full evaluation pass (every sample once, at any rank count).
 *   data_probe -data_file F.h5 [-data_* ...] [-probe_image] [-probe_eval_batch Be]
 * Used by the tests for bad dataset files (the loader's errors) and on the real Fashion-MNIST.
 */
#include "pof/comm.h"
#include "pof/config.h"
#include "pof/data.h"

#include <stdio.h>

static PetscErrorCode class_counts(MPI_Comm comm, PofDataset ds, PofSplit sp, PetscInt n,
                                   PetscInt Be, const PofDatasetInfo *in, long *counts)
{
  float   *x = NULL;
  int32_t *y = NULL;
  PetscFunctionBegin;
  PetscCall(PetscMalloc2((size_t)(Be * in->c * in->h * in->w), &x, (size_t)Be, &y));
  for (PetscInt c = 0; c < in->classes; c++) counts[c] = 0;
  for (PetscInt start = 0; start < n; start += Be) {
    PetscInt nloc = 0;
    PetscCall(pof_dataset_eval_batch(ds, sp, start, PetscMin(Be, n - start), x, y, &nloc));
    for (PetscInt k = 0; k < nloc; k++) counts[y[k]]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, counts, (int)in->classes, MPI_LONG, MPI_SUM, comm));
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void print_counts(const char *key, const long *c, PetscInt n)
{
  printf(",\"%s\":[", key);
  for (PetscInt i = 0; i < n; i++) printf("%s%ld", i ? "," : "", c[i]);
  printf("]");
}

static PetscErrorCode run(void)
{
  MPI_Comm       comm = PETSC_COMM_WORLD;
  PofConfig      cfg;
  PofDataset     ds = NULL;
  PofDatasetInfo in;
  PetscBool      help = PETSC_FALSE, image = PETSC_FALSE;
  PetscInt       Be = 1000;
  PetscMPIInt    rank, size;
  long          *ctr = NULL, *cte = NULL;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-probe_image", &image, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-probe_eval_batch", &Be, NULL));
  PetscCall(pof_config_read(NULL, comm, POF_CMD_PRETRAIN, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  if (image) {
    FILE  *f   = fopen(cfg.data.file, "rb");
    void  *buf = NULL;
    size_t len = 0;
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s'", cfg.data.file);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    PetscCall(PetscMalloc(len + 1, &buf));
    PetscCheck(fread(buf, 1, len, f) == len, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "short read");
    fclose(f);
    PetscCall(pof_dataset_open_image(comm, buf, len, &cfg.data, cfg.run.seed, &ds));
    PetscCall(PetscFree(buf));
  } else {
    PetscCall(pof_dataset_open(comm, cfg.data.file, &cfg.data, cfg.run.seed, &ds));
  }
  PetscCall(pof_dataset_get_info(ds, &in));
  PetscCall(PetscMalloc2((size_t)in.classes, &ctr, (size_t)in.classes, &cte));
  PetscCall(class_counts(comm, ds, POF_SPLIT_TRAIN, in.n_train, Be, &in, ctr));
  PetscCall(class_counts(comm, ds, POF_SPLIT_TEST, in.n_test, Be, &in, cte));
  if (rank == 0) {
    printf("{\"ranks\":%d,\"name\":\"%s\",\"n_train\":%d,\"n_test\":%d,\"shape\":[%d,%d,%d],"
           "\"classes\":%d,\"mean\":[",
           size, in.name, (int)in.n_train, (int)in.n_test, (int)in.c, (int)in.h, (int)in.w,
           (int)in.classes);
    for (PetscInt c = 0; c < in.c; c++) printf("%s%.9g", c ? "," : "", in.mean[c]);
    printf("],\"std\":[");
    for (PetscInt c = 0; c < in.c; c++) printf("%s%.9g", c ? "," : "", in.std[c]);
    printf("]");
    print_counts("train_class_counts", ctr, in.classes);
    print_counts("test_class_counts", cte, in.classes);
    printf("}\n");
    fflush(stdout);
  }
  PetscCall(PetscFree2(ctr, cte));
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
