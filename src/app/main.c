/*
 * pof: PoF post-training of feature extractors on CPU clusters.
 *   pof <command> [options]      pof <command> -help      pof --version
 * main() reads like a script: strip -help, start PETSc, dispatch, agree on the outcome and exit
 * (pof_comm_finish: one error line, the final JSON line, the exit status of DESIGN.md).
 */
#include "commands.h"
#include "pof/comm.h"
#include "pof/timer.h"
#include "pof/watchdog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const PofCommand commands[] = {
  { "analyze", pof_cmd_analyze,
    "Hessian spectra (SLEPc), traces, curvatures and loss landscapes of a model" },
  { "bench", pof_cmd_bench, "synthetic-data throughput of a WRN step (forward, train, pof)" },
  { "config", pof_cmd_config, "validate the options of a command and print them as JSON" },
  { "eval", pof_cmd_eval, "test (or clean train) loss and error of a model file" },
  { "posttrain", pof_cmd_posttrain,
    "PoF post-training of the feature extractor (or the plain-SGD control)" },
  { "pretrain", pof_cmd_pretrain, "train a WRN from scratch (SGD or SAM)" },
  { "sweep", pof_cmd_sweep,
    "many posttrain/pretrain runs (grid lines) in groups of ranks in one MPI job" },
  { "convert", pof_cmd_convert, "raw dataset (IDX, CIFAR-10/100, SVHN) -> one HDF5 file" },
  { "info", pof_cmd_info,
    "what a dataset, model, checkpoint, run or sweep directory is (pof info PATH...)" },
};
int pof_app_exit_status = POF_EXIT_OK;

static const int ncommands = (int)(sizeof(commands) / sizeof(commands[0]));

static void usage(FILE *f)
{
  fprintf(f, "usage: pof <command> [options]    pof <command> -help    pof --version\ncommands:\n");
  for (int i = 0; i < ncommands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "Options may also come from -options_file F and the PETSC_OPTIONS variable.\n");
}

/* A usage error as a PETSc error (raised outside main(): PETSc aborts on errors raised in main). */
static PetscErrorCode usage_error(const char *fmt, const char *arg)
{
  PetscFunctionBegin;
  SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, fmt, arg);
}

static int is_help_flag(const char *a)
{
  return !strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* PETSc reads -options_file inside PetscInitialize and answers a missing file with a page of its
   configuration; check the files first and say it in one line (from the first rank only: MPI is
   not started yet, so the launcher's rank variables tell which one that is). */
static int options_files_readable(int argc, char **argv)
{
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (!r) r = getenv("PMI_RANK");
  if (!r) r = getenv("SLURM_PROCID");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-options_file") != 0) continue;
    const char *f = i + 1 < argc ? argv[i + 1] : NULL;
    if (f && !access(f, R_OK)) continue;
    if (!r || !strcmp(r, "0"))
      fprintf(stderr, "pof: error: -options_file %s: %s\n", f ? f : "(missing file name)",
              f ? strerror(errno) : "give a file");
    return 0;
  }
  return 1;
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;
  int            help = 0, version = 0;
  /* -help is taken out before PETSc sees it (PETSc would print its own generic help) and put
     back into the options database after initialization, where the command's options print it. */
  int out = 1;
  for (int i = 1; i < argc; i++) {
    if (is_help_flag(argv[i]))
      help = 1;
    else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-version"))
      version = 1;
    else if (!strcmp(argv[i],
                     "-run_error_trace")) /* read here: an error may come before any option is */
      pof_error_set_trace(PETSC_TRUE);
    else
      argv[out++] = argv[i];
  }
  argc       = out;
  argv[argc] = NULL;

  if (!options_files_readable(argc, argv)) return POF_EXIT_ERROR;
  /* the -run_step_timeout watchdog calls MPI_Abort from its own thread while this one may be
     inside MPI: only MPI_THREAD_MULTIPLE allows that (watchdog.h) */
  PETSC_MPI_THREAD_REQUIRED = MPI_THREAD_MULTIPLE;
  /* Open MPI's MPI-IO (ompio) picks a shared-file-pointer component at every file open. Across
     nodes that is "lockedfile", which creates a lock file beside the file: for a file on a
     node-local path (a dataset staged to each node's /scratch) the ranks of the other nodes cannot
     see rank 0's lock file, their open fails while rank 0's succeeds, and the ranks hang in
     mismatched barriers inside MPI_File_open/close. pof never uses shared file pointers, so the
     per-process component is enough. A value the user set is kept. */
  (void)setenv("OMPI_MCA_sharedfp", "individual", 0);
  ierr = PetscInitialize(&argc, &argv, NULL, NULL);
  if (ierr) return POF_EXIT_ERROR;
  ierr = pof_error_handler_push();
  if (!ierr) ierr = pof_comm_finish_init();
  if (!ierr) ierr = pof_timers_register();
  if (ierr) pof_abort_all(ierr);

  if (version) return pof_comm_finish(NULL, pof_print_versions(PETSC_COMM_WORLD), POF_EXIT_OK);
  if (argc < 2 || argv[1][0] == '-') {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) usage(help ? stdout : stderr);
    if (help) return pof_comm_finish(NULL, 0, POF_EXIT_OK);
    return pof_comm_finish(NULL, usage_error("no command given (see the list above)", ""),
                           POF_EXIT_OK);
  }
  const PofCommand *cmd = NULL;
  for (int i = 0; i < ncommands; i++)
    if (!strcmp(argv[1], commands[i].name)) cmd = &commands[i];
  if (!cmd) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) usage(stderr);
    return pof_comm_finish(NULL, usage_error("unknown command '%s' (see the list above)", argv[1]),
                           POF_EXIT_OK);
  }
  pof_app_argc = argc, pof_app_argv = argv, pof_app_help = help;      /* pof info takes paths */
  if (help && cmd->fn != pof_cmd_info) ierr = pof_options_set_help(); /* info has no options */
  pof_watchdog_init(cmd->name);
  if (!ierr) ierr = cmd->fn(NULL, PETSC_COMM_WORLD);
  pof_watchdog_stop_all(); /* the agreement below has its own bounded wait */
  return pof_comm_finish(cmd->name, ierr, pof_app_exit_status);
}
