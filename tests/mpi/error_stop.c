/* An error on one rank (before or after the others' last collective) or a collective one on all
   must stop every rank: the lines of DESIGN.md's contract, exit 1, no hang.
   Usage: error_stop -fail_rank R [-fail_late] | -fail_all */
#include "pof/comm.h"
#include "pof/core.h"

#include <unistd.h>

static PetscErrorCode run(void)
{
  PetscMPIInt rank, size;
  PetscInt    fail_rank = -1;
  PetscBool   fail_all = PETSC_FALSE, fail_late = PETSC_FALSE;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-fail_rank", &fail_rank, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-fail_all", &fail_all, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-fail_late", &fail_late, NULL));
  PetscCheck(!fail_all, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG,
             "collective failure requested on all %d ranks", size);
  if (rank == fail_rank && !fail_late) {
    usleep(200000); /* the others are already waiting in the collective */
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "rank %d cannot open 'missing.h5'", rank);
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD)); /* ranks != fail_rank block here */
  PetscCheck(!(fail_late && rank == fail_rank), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "rank %d fails after the last collective", rank);
  PetscCall(pof_print(PETSC_COMM_WORLD, "no failure\n"));
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
