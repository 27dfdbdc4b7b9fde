/* pof analyze: Hessian spectra, traces, curvatures and loss landscapes of a model file. */
#include "commands.h"
#include "pof/analysis.h"

PetscErrorCode pof_cmd_analyze(PetscOptions opts, MPI_Comm comm)
{
  PofConfig        cfg;
  PofAnalyzeConfig acfg;
  PetscBool        help, help2;
  PetscFunctionBegin;
  /* the -analyze_* options first: pof_config_read rejects options nobody has read */
  PetscCall(pof_analyze_config_read(opts, comm, &acfg, &help));
  PetscCall(pof_config_read(opts, comm, "analyze", POF_GROUP_RUN | POF_GROUP_DATA | POF_GROUP_MODEL, &cfg, &help2));
  if (help || help2) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_analysis_initialize());
  PetscCall(pof_analyze_run(comm, &cfg, &acfg));
  PetscCall(pof_analysis_finalize());
  PetscFunctionReturn(PETSC_SUCCESS);
}
