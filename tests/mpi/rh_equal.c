/*
 * The recursive-halving reduce-scatter (src/comm/rh.c) against MPI_Ireduce_scatter (libnbc),
 * bitwise, on inexact float sums: buckets of several sizes over uneven rank parts (parts empty
 * inside a bucket, a bucket inside one part, one spanning all), started in reverse order and
 * progressed by pof_rh_test as src/comm/shard.c does, then pof_rh_wait_all; twice (the buckets are
 * reused). At a rank count that is not a power of two, pof_rh_create must decline (NULL). Prints
 * "rh_equal: ok".
 */
#include "comm/rh.h"

#include <stdio.h>
#include <string.h>

#define N  1000
#define NB 5

static PetscErrorCode run(void)
{
  MPI_Comm    comm = PETSC_COMM_WORLD;
  PetscMPIInt rank, size;
  PofRh       rh;
  PetscInt    ranges[65], begin[NB] = { 0, 1, 300, 301, 620 }, end[NB] = { 1, 300, 301, 620, N };
  float      *x, *got, *want;
  int         counts[64], bad = 0, anybad;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(size <= 64, comm, PETSC_ERR_SUP, "at most 64 ranks");
  /* uneven parts: rank r gets about N r^2-weighted, the first rank's part empty at >= 4 ranks */
  ranges[0] = 0;
  for (int r = 0; r < size; r++) ranges[r + 1] = (PetscInt)N * (r + 1) * (r + 1) / (size * size);
  if (size >= 4) ranges[1] = 0;
  PetscCall(pof_rh_create(comm, NB, begin, end, ranges, &rh));
  if (size & (size - 1)) {
    PetscCheck(!rh, comm, PETSC_ERR_PLIB, "pof_rh_create accepted %d ranks", size);
    PetscCall(PetscPrintf(comm, "rh_equal: ok (declined at %d ranks)\n", size));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(rh, comm, PETSC_ERR_PLIB, "pof_rh_create declined %d ranks", size);
  PetscCall(PetscMalloc3(N, &x, N, &got, N, &want));
  for (int rep = 0; rep < 2; rep++) {
    for (int i = 0; i < N; i++)
      x[i] = 1.0f / (float)(1 + (i * 7 + rank * 13 + rep) % 17) + (float)(rank * 1000 + i);
    for (int i = 0; i < N; i++) got[i] = want[i] = -1.0f;
    for (int b = NB - 1; b >= 0; b--) {
      const PetscInt a = PetscMax(begin[b], ranges[rank]), e = PetscMin(end[b], ranges[rank + 1]);
      PetscCall(pof_rh_start(rh, b, x + begin[b], got + (e > a ? a : 0)));
      for (int c = b; c < NB; c++) {
        PetscBool done;
        PetscCall(pof_rh_test(rh, c, &done));
      }
    }
    PetscCall(pof_rh_wait_all(rh));
    for (int b = 0; b < NB; b++) {
      MPI_Request req;
      for (int r = 0; r < size; r++) {
        const PetscInt a = PetscMax(begin[b], ranges[r]), e = PetscMin(end[b], ranges[r + 1]);
        counts[r] = (int)(e > a ? e - a : 0);
      }
      const PetscInt a = PetscMax(begin[b], ranges[rank]);
      PetscCallMPI(MPI_Ireduce_scatter(x + begin[b], want + (counts[rank] ? a : 0), counts,
                                       MPI_FLOAT, MPI_SUM, comm, &req));
      PetscCallMPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
    }
    for (PetscInt i = ranges[rank]; i < ranges[rank + 1]; i++)
      if (memcmp(&got[i], &want[i], sizeof(float))) bad++;
  }
  PetscCallMPI(MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_SUM, comm));
  PetscCheck(anybad == 0, comm, PETSC_ERR_PLIB, "%d sums differ from MPI_Ireduce_scatter", anybad);
  PetscCall(pof_rh_destroy(&rh));
  PetscCall(PetscFree3(x, got, want));
  PetscCall(
      PetscPrintf(comm, "rh_equal: ok (%d ranks, bitwise equal to MPI_Ireduce_scatter)\n", size));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(run());
  PetscCall(PetscFinalize());
  return 0;
}
