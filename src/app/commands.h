/* The pof subcommands: each parses its options, calls the modules, prints its summary. */
#ifndef POF_APP_COMMANDS_H
#define POF_APP_COMMANDS_H

#include "pof/config.h"

/** A subcommand: opts is the run's options object (global database or a sweep line's). */
typedef PetscErrorCode (*PofCommandFn)(PetscOptions opts, MPI_Comm comm);

typedef struct {
  const char  *name;
  PofCommandFn fn;
  const char  *summary;
} PofCommand;

PetscErrorCode pof_cmd_config(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_bench(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_convert(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_pretrain(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_posttrain(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_eval(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_sweep(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_analyze(PetscOptions opts, MPI_Comm comm);
PetscErrorCode pof_cmd_info(PetscOptions opts, MPI_Comm comm);

/** The command line after PETSc took its options (argv[1] is the command): pof info's paths. */
extern int    pof_app_argc;
extern char **pof_app_argv;
extern int    pof_app_help; /**< -help was given */

/** Exit status main() returns after a command that succeeded (POF_EXIT_OK unless a command
    sets it, e.g. POF_EXIT_CHECKPOINT after a run stopped on a signal). */
extern int pof_app_exit_status;

/** Print the library versions (pof --version). Not collective beyond rank-0 printing. */
PetscErrorCode pof_print_versions(MPI_Comm comm);

#endif
