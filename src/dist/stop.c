/* Stop agreement: see pof_dist_stop_agree in include/pof/dist.h. */
#include "pof/dist.h"

PetscErrorCode pof_dist_stop_agree(MPI_Comm comm, int local_flag, int *stop)
{
  int v = local_flag;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm));
  *stop = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}
