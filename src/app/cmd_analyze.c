/* pof analyze: Hessian spectra, traces, curvatures and loss landscapes of a model file. */
#include "commands.h"
#include "pof/analysis.h"

PetscErrorCode pof_cmd_analyze(PetscOptions opts, MPI_Comm comm)
{
  PofConfig cfg;
  PetscBool help;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_ANALYZE, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_analysis_initialize());
  PetscCall(pof_analyze_run(comm, &cfg, &cfg.analyze));
  PetscCall(pof_analysis_finalize());
  PetscFunctionReturn(PETSC_SUCCESS);
}
