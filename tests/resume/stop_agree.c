/* pof_comm_stop_agree at any rank count: a flag raised on one rank (each rank in turn, with
   different signal numbers) is seen by every rank in the same call, and no flag means no stop.
   Then the cost: median over 5 rounds of the mean time of 200 calls, printed as
   "stop_agree: R ranks, X us per call" (PERF: this is the per-step overhead of stop requests). */
#include "pof/comm.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static PetscErrorCode run(void)
{
  PetscMPIInt rank, size;
  int         stop;
  double      round_us[5];
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  for (int it = 0; it < 3 * size + 2; it++) {
    const int who = it % (size + 1); /* == size: nobody */
    const int sig = 10 + it;
    PetscCall(pof_comm_stop_agree(PETSC_COMM_WORLD, rank == who ? sig : 0, &stop));
    PetscCheck(stop == (who < size ? sig : 0), PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "rank %d: iteration %d: agreed %d, expected %d", (int)rank, it, stop,
               who < size ? sig : 0);
  }
  PetscCall(pof_comm_stop_agree(PETSC_COMM_WORLD, rank == 0 ? 10 : 15,
                                &stop)); /* two ranks at once: the larger */
  PetscCheck(stop == (size > 1 ? 15 : 10), PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "rank %d: agreed %d with flags 10 and 15", (int)rank, stop);
  for (int r = 0; r < 5; r++) {
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    const double t0 = MPI_Wtime();
    for (int i = 0; i < 200; i++) PetscCall(pof_comm_stop_agree(PETSC_COMM_WORLD, 0, &stop));
    round_us[r] = (MPI_Wtime() - t0) / 200 * 1e6;
  }
  PetscCall(pof_comm_allreduce_max(PETSC_COMM_WORLD, round_us, 5));
  qsort(round_us, 5, sizeof(double), cmp_double);
  PetscCall(PetscPrintf(
      PETSC_COMM_WORLD,
      "stop_agree: %d ranks, agreement ok, %.2f us per call (median of 5 x 200, slowest rank)\n",
      (int)size, round_us[2]));
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
