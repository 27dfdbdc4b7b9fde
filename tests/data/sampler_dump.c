/*
 * Dump every global batch the loader produces, gathered in slot order on rank 0, so dumps made
 * at different rank counts (and in replicate or file-image mode) can be compared byte for byte
 * and checked against the Python reference (ref_loader.py check).
 *   sampler_dump -data_file F.h5 [-data_* ...] [-run_seed S] -dump_out D.bin
 *                [-dump_batch B] [-dump_epochs E] [-dump_weak_steps K] [-dump_eval_batch Be]
 *                [-dump_image]   (open the dataset from an in-memory file image)
 * Also checks on the fly: evaluation shares differ by at most 1 and cover every sample once,
 * every epoch's training indices are distinct.
 */
#include "pof/comm.h"
#include "pof/config.h"
#include "pof/data.h"

#include <stdio.h>
#include <stdlib.h>

static PetscErrorCode read_file(const char *path, void **buf, size_t *len)
{
  FILE *f = fopen(path, "rb");
  PetscFunctionBegin;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s'", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  PetscCall(PetscMalloc(*len, buf));
  PetscCheck(fread(*buf, 1, *len, f) == *len, PETSC_COMM_SELF, PETSC_ERR_FILE_READ,
             "short read of '%s'", path);
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Gather equal shares (nloc samples each) to rank 0 and append idx/y/x of the global batch. */
static PetscErrorCode dump_batch(MPI_Comm comm, FILE *out, PetscInt B, PetscInt chw,
                                 const PetscInt *idx, const float *x, const int32_t *y, float *gx,
                                 int32_t *gy)
{
  PetscMPIInt rank, size;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  const int nloc = (int)(B / size);
  PetscCallMPI(MPI_Gather(x, nloc * (int)chw, MPI_FLOAT, gx, nloc * (int)chw, MPI_FLOAT, 0, comm));
  PetscCallMPI(MPI_Gather(y, nloc, MPI_INT32_T, gy, nloc, MPI_INT32_T, 0, comm));
  if (rank == 0) {
    for (PetscInt s = 0; s < B; s++) {
      const int32_t i = (int32_t)idx[s];
      fwrite(&i, sizeof(i), 1, out);
    }
    fwrite(gy, sizeof(int32_t), (size_t)B, out);
    fwrite(gx, sizeof(float), (size_t)(B * chw), out);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(void)
{
  MPI_Comm       comm = PETSC_COMM_WORLD;
  PofConfig      cfg;
  PofDataset     ds = NULL;
  PofDatasetInfo in;
  PetscBool      help = PETSC_FALSE, image = PETSC_FALSE;
  PetscInt       B = 12, epochs = 2, weak_steps = 3, Be = 10;
  char           outpath[POF_PATH_MAX] = "";
  PetscMPIInt    rank, size;
  FILE          *out = NULL;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dump_batch", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dump_epochs", &epochs, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dump_weak_steps", &weak_steps, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dump_eval_batch", &Be, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-dump_image", &image, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-dump_out", outpath, sizeof(outpath), NULL));
  PetscCall(pof_config_read(NULL, comm, POF_CMD_PRETRAIN, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(outpath[0], comm, PETSC_ERR_ARG_WRONG, "need -dump_out");
  if (image) {
    void  *buf = NULL;
    size_t len = 0;
    PetscCall(read_file(cfg.data.file, &buf, &len));
    PetscCall(pof_dataset_open_image(comm, buf, len, &cfg.data, cfg.run.seed, &ds));
    PetscCall(PetscFree(buf));
  } else {
    PetscCall(pof_dataset_open(comm, cfg.data.file, &cfg.data, cfg.run.seed, &ds));
  }
  PetscCall(pof_dataset_get_info(ds, &in));
  const PetscInt chw = in.c * in.h * in.w, nmax = PetscMax(PetscMax(in.n_train, in.n_test), B);
  float         *x = NULL, *gx = NULL;
  int32_t       *y = NULL, *gy = NULL;
  PetscInt      *idx = NULL, *seen = NULL;
  PetscCall(PetscMalloc4((size_t)(nmax * chw), &x, (size_t)(nmax * chw), &gx, (size_t)nmax, &y,
                         (size_t)nmax, &gy));
  PetscCall(PetscMalloc2((size_t)B, &idx, (size_t)nmax, &seen));
  if (rank == 0) {
    out = fopen(outpath, "wb");
    PetscCheck(out, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", outpath);
    fprintf(out,
            "{\"batch\":%d,\"epochs\":%d,\"weak_steps\":%d,\"eval_batch\":%d,\"n_train\":%d,\"n_"
            "test\":%d,\"seed\":%d,\"augment\":%d,\"crop_pad\":%d,\"flip\":%d,\"cutout\":%d}\n",
            (int)B, (int)epochs, (int)weak_steps, (int)Be, (int)in.n_train, (int)in.n_test,
            (int)cfg.run.seed, (int)cfg.data.augment, (int)cfg.data.crop_pad, (int)cfg.data.flip,
            (int)cfg.data.cutout);
  }
  const PetscInt nb = pof_dataset_batches_per_epoch(ds, B);
  for (PetscInt e = 0; e < epochs; e++) {
    for (PetscInt i = 0; i < in.n_train; i++) seen[i] = 0;
    for (PetscInt s = 0; s < nb; s++) {
      PetscCall(pof_dataset_train_batch(ds, e, s, B, x, y));
      PetscCall(pof_dataset_train_indices(ds, e, s, B, idx));
      for (PetscInt k = 0; k < B; k++) {
        PetscCheck(idx[k] >= 0 && idx[k] < in.n_train && !seen[idx[k]], PETSC_COMM_SELF,
                   PETSC_ERR_PLIB, "epoch %d: sample %d drawn twice or out of range", (int)e,
                   (int)idx[k]);
        seen[idx[k]] = 1;
      }
      PetscCall(dump_batch(comm, out, B, chw, idx, x, y, gx, gy));
    }
  }
  for (PetscInt e = 0; e < epochs; e++)
    for (PetscInt s = 0; s < weak_steps; s++) {
      PetscCall(pof_dataset_weak_batch(ds, e, s, B, x, y));
      PetscCall(pof_dataset_weak_indices(ds, e, s, B, idx));
      PetscCall(dump_batch(comm, out, B, chw, idx, x, y, gx, gy));
    }
  for (int sp = 0; sp < 2;
       sp++) { /* evaluation passes: labels of the whole split, then its pixels */
    const PetscInt n      = sp == 0 ? in.n_train : in.n_test;
    float         *ex     = NULL;
    int32_t       *ey     = NULL;
    int           *counts = NULL, *displs = NULL;
    PetscCall(
        PetscMalloc4((size_t)(n * chw) + 1, &ex, (size_t)n + 1, &ey, size, &counts, size, &displs));
    for (PetscInt start = 0; start < n; start += Be) {
      const PetscInt count = PetscMin(Be, n - start);
      PetscInt       nloc  = -1;
      PetscCall(pof_dataset_eval_batch(ds, (PofSplit)sp, start, count, x, y, &nloc));
      const int mine = (int)nloc;
      PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm));
      int tot = 0, mn = counts[0], mx = counts[0];
      for (int r = 0; r < size; r++)
        displs[r] = tot, tot += counts[r], mn = PetscMin(mn, counts[r]),
        mx = PetscMax(mx, counts[r]);
      PetscCheck(tot == count && mx - mn <= 1, comm, PETSC_ERR_PLIB,
                 "evaluation shares of [%d, %d) sum to %d, spread %d", (int)start,
                 (int)(start + count), tot, mx - mn);
      PetscCallMPI(
          MPI_Gatherv(y, mine, MPI_INT32_T, ey + start, counts, displs, MPI_INT32_T, 0, comm));
      for (int r = 0; r < size; r++) counts[r] *= (int)chw, displs[r] *= (int)chw;
      PetscCallMPI(MPI_Gatherv(x, mine * (int)chw, MPI_FLOAT, ex + start * chw, counts, displs,
                               MPI_FLOAT, 0, comm));
    }
    if (rank == 0) {
      fwrite(ey, sizeof(int32_t), (size_t)n, out);
      fwrite(ex, sizeof(float), (size_t)(n * chw), out);
    }
    PetscCall(PetscFree4(ex, ey, counts, displs));
  }
  if (rank == 0) fclose(out);
  PetscCall(pof_print(comm,
                      "sampler_dump: %d ranks, %d epochs x %d batches of %d, %d weak steps, "
                      "n_train %d, n_test %d\n",
                      size, (int)epochs, (int)nb, (int)B, (int)weak_steps, (int)in.n_train,
                      (int)in.n_test));
  PetscCall(PetscFree4(x, gx, y, gy));
  PetscCall(PetscFree2(idx, seen));
  PetscCall(pof_dataset_destroy(&ds));
  PetscCall(pof_dataset_destroy(&ds)); /* a second destroy of NULL is a no-op */
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
