/* pof --version: the versions of the libraries this binary runs with. */
#include "commands.h"
#include "pof/analysis.h"
#include "pof/io.h"
#include "pof/nn.h"

PetscErrorCode pof_print_versions(MPI_Comm comm)
{
  char petsc[256], slepc[256], dnnl[128], hdf5[64], mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int  len = 0;
  PetscFunctionBegin;
  PetscCall(PetscGetVersion(petsc, sizeof(petsc)));
  PetscCall(pof_analysis_slepc_version(slepc, sizeof(slepc)));
  pof_nn_version(dnnl, sizeof(dnnl));
  PetscCall(pof_io_hdf5_version(hdf5, sizeof(hdf5)));
  PetscCallMPI(MPI_Get_library_version(mpi, &len));
  for (int i = 0; i < len; i++)
    if (mpi[i] == '\n' || mpi[i] == ',') {
      mpi[i] = 0;
      break;
    }
  PetscCall(pof_print(comm,
                      "pof %s\n  oneDNN %s\n  PETSc  %s\n  SLEPc  %s\n  HDF5   %s\n  MPI    %s\n",
                      POF_VERSION, dnnl, petsc, slepc, hdf5, mpi));
  PetscFunctionReturn(PETSC_SUCCESS);
}
