/* SLEPc lives in src/analysis: its initialization and version for the commands. */
#include "pof/analysis.h"

#include <slepcsys.h>

PetscErrorCode pof_analysis_initialize(void)
{
  PetscFunctionBegin;
  PetscCall(SlepcInitialize(NULL, NULL, NULL, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_analysis_finalize(void)
{
  PetscFunctionBegin;
  PetscCall(SlepcFinalize());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_analysis_slepc_version(char *buf, size_t len)
{
  PetscFunctionBegin;
  PetscCall(SlepcGetVersion(buf, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}
