/* pof config <command> [options]: validate a command's options and print them as JSON. */
#include "commands.h"

#include <string.h>

static const struct {
  const char *name;
  unsigned    groups;
} command_groups[] = {
  { "convert", POF_GROUP_CONVERT },
  { "pretrain", POF_GROUP_RUN | POF_GROUP_DATA | POF_GROUP_MODEL | POF_GROUP_OPT | POF_GROUP_CKPT },
  { "posttrain", POF_GROUP_RUN | POF_GROUP_DATA | POF_GROUP_MODEL | POF_GROUP_OPT | POF_GROUP_POF | POF_GROUP_CKPT },
  { "eval", POF_GROUP_RUN | POF_GROUP_DATA | POF_GROUP_MODEL | POF_GROUP_EVAL },
  { "bench", POF_GROUP_RUN | POF_GROUP_MODEL | POF_GROUP_OPT | POF_GROUP_POF | POF_GROUP_BENCH },
};

PetscErrorCode pof_cmd_config(PetscOptions opts, MPI_Comm comm)
{
  PofConfig cfg;
  PetscBool help = PETSC_FALSE, set = PETSC_FALSE;
  char      target[64] = "";
  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(opts, NULL, "-config_command", target, sizeof(target), &set));
  PetscCall(PetscOptionsHasHelp(opts, &help));
  if (!set && help) {
    PetscCall(pof_print(comm, "pof config -config_command C [options of C]: validate the options of command C\n"
                              "(convert, pretrain, posttrain, eval, bench) and print them, defaults filled in, as one JSON object.\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(set, comm, PETSC_ERR_ARG_WRONG, "pof config needs -config_command <convert|pretrain|posttrain|eval|bench>");
  int k = -1;
  for (int i = 0; i < (int)(sizeof(command_groups) / sizeof(command_groups[0])); i++)
    if (!strcmp(target, command_groups[i].name)) k = i;
  PetscCheck(k >= 0, comm, PETSC_ERR_ARG_WRONG, "-config_command: unknown command '%s' (convert, pretrain, posttrain, eval, bench)", target);
  PetscCall(pof_config_read(opts, comm, target, command_groups[k].groups, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscMPIInt rank;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(pof_config_write_json(&cfg, stdout));
    fputc('\n', stdout);
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
