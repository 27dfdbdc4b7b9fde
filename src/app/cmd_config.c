/* pof config -config_command C [options]: validate the options of command C and print them as JSON.
 */
#include "commands.h"

PetscErrorCode pof_cmd_config(PetscOptions opts, MPI_Comm comm)
{
  PofConfig   own, cfg;
  PetscBool   help = PETSC_FALSE;
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_CONFIG, &own, &help));
  if (!own.config.command[0] && help) {
    PetscCall(pof_print(
        comm, "pof config -config_command C [options of C]: validate the options of command C\n"
              "(convert, pretrain, posttrain, eval, bench) and print them, defaults filled in, as "
              "one JSON object.\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(own.config.command[0], comm, PETSC_ERR_ARG_WRONG,
             "pof config needs -config_command <convert|pretrain|posttrain|eval|bench>");
  PetscCall(pof_config_read(opts, comm, pof_command_id(own.config.command), &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(pof_config_write_json(&cfg, stdout));
    fputc('\n', stdout);
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
