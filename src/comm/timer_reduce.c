/* Min/avg/max of the phase timers over ranks (the collective half of include/pof/timer.h). */
#include "pof/timer.h"

PetscErrorCode pof_timers_reduce(MPI_Comm comm, double mn[POF_T_COUNT], double avg[POF_T_COUNT],
                                 double mx[POF_T_COUNT])
{
  double      totals[POF_T_COUNT];
  PetscMPIInt size;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int i = 0; i < POF_T_COUNT; i++) totals[i] = pof_timer_total((PofTimerId)i);
  PetscCallMPI(MPI_Allreduce(totals, mn, POF_T_COUNT, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(totals, mx, POF_T_COUNT, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(totals, avg, POF_T_COUNT, MPI_DOUBLE, MPI_SUM, comm));
  for (int i = 0; i < POF_T_COUNT; i++) avg[i] /= size;
  PetscFunctionReturn(PETSC_SUCCESS);
}
