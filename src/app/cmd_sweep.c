/* pof sweep: the lines of a grid file as pretrain/posttrain runs in groups of ranks (pof/sweep.h). */
#include "commands.h"
#include "pof/json.h"
#include "pof/signal.h"
#include "pof/sweep.h"

#include <string.h>

static const char *const sweep_options[] = { "-sweep_command", "-sweep_grid", "-sweep_dir", "-sweep_summary", "-sweep_group_size" };

PetscErrorCode pof_cmd_sweep(PetscOptions opts, MPI_Comm comm)
{
  PofSweepConfig sc;
  PofSweepTotals tot;
  PetscBool      help        = PETSC_FALSE, set;
  char           command[32] = "posttrain";
  char          *all = NULL, *base = NULL;
  PetscOptions   o;
  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(opts, &help));
  if (help) {
    PetscCall(pof_print(comm, "pof sweep: many runs inside one MPI job. The ranks are split into groups of G; each group takes\n"
                              "the next line of the grid file and runs it exactly as `pof posttrain` (or pretrain) alone on G ranks.\n"
                              "  -sweep_command <posttrain|pretrain>  what each line runs (posttrain)\n"
                              "  -sweep_grid FILE       one run per line: options added to the others on the command line; '#' comments\n"
                              "  -sweep_dir DIR         run directory of line N is DIR/line-NNN (N counts runs, from 1)\n"
                              "  -sweep_group_size G    ranks per run; must divide the rank count (1)\n"
                              "  -sweep_summary PREFIX  results in PREFIX.csv and PREFIX.jsonl (DIR/summary)\n"
                              "All other options are the runs' options (see `pof posttrain -help`); -data_file and -model_in given here\n"
                              "are read once and shared in memory. Lines with a finished result are skipped on a rerun, an\n"
                              "interrupted one resumes from its checkpoint, a failing one is recorded as failed.\n"
                              "Exit status: 0 every line finished, 3 the grid went through but some lines failed (see the summary),\n"
                              "75 stopped on a signal (rerun to resume), 1 an error before or outside the lines.\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  memset(&sc, 0, sizeof(sc));
  sc.group_size = 1;
  PetscCall(PetscOptionsGetString(opts, NULL, "-sweep_command", command, sizeof(command), NULL));
  PetscCheck(!strcmp(command, "posttrain") || !strcmp(command, "pretrain"), comm, PETSC_ERR_ARG_WRONG, "-sweep_command must be posttrain or pretrain, got '%s'", command);
  sc.kind = !strcmp(command, "pretrain") ? POF_RUN_PRETRAIN : POF_RUN_POSTTRAIN;
  PetscCall(PetscOptionsGetString(opts, NULL, "-sweep_grid", sc.grid, sizeof(sc.grid), NULL));
  PetscCall(PetscOptionsGetString(opts, NULL, "-sweep_dir", sc.dir, sizeof(sc.dir), NULL));
  PetscCall(PetscOptionsGetString(opts, NULL, "-sweep_summary", sc.summary, sizeof(sc.summary), NULL));
  PetscCall(pof_option_check_length(comm, "-sweep_grid", sc.grid, sizeof(sc.grid)));
  PetscCall(pof_option_check_length(comm, "-sweep_dir", sc.dir, sizeof(sc.dir)));
  PetscCall(pof_option_check_length(comm, "-sweep_summary", sc.summary, sizeof(sc.summary)));
  PetscCall(PetscOptionsGetInt(opts, NULL, "-sweep_group_size", &sc.group_size, &set));
  /* the base options of every line: everything else on the command line */
  PetscCall(PetscOptionsGetAll(opts, &all));
  PetscCall(PetscOptionsCreate(&o));
  PetscCall(PetscOptionsInsertString(o, all));
  for (size_t i = 0; i < sizeof(sweep_options) / sizeof(sweep_options[0]); i++) PetscCall(PetscOptionsClearValue(o, sweep_options[i]));
  PetscCall(PetscOptionsGetAll(o, &base));
  PetscCall(PetscOptionsDestroy(&o));
  /* SIGUSR1/SIGTERM: the running lines finish their step and checkpoint, no new line is taken,
     exit POF_EXIT_CHECKPOINT; a rerun resumes the interrupted lines */
  PetscCall(pof_signal_install());
  pof_sweep_set_stop_check(pof_signal_caught);
  PetscCall(pof_sweep_run(comm, &sc, base, &tot));
  /* stopped wins: a rerun resumes the interrupted lines and runs the failed ones again */
  if (tot.stopped)
    pof_app_exit_status = POF_EXIT_CHECKPOINT;
  else if (tot.failed > 0)
    pof_app_exit_status = POF_EXIT_FAILED_RUN;
  PetscCall(pof_print(comm, "sweep: done: %" PetscInt_FMT " lines, %" PetscInt_FMT " finished now, %" PetscInt_FMT " skipped (finished earlier), %" PetscInt_FMT " failed, %" PetscInt_FMT " without a result\n", tot.lines, tot.ok, tot.skipped, tot.failed, tot.not_run));
  json_t *line = json_object();
  pof_json_set(&line, "command", json_string("sweep"));
  pof_json_set(&line, "status", json_string(tot.stopped ? "stopped" : "finished"));
  pof_json_set(&line, "lines", json_integer((json_int_t)tot.lines));
  pof_json_set(&line, "ok", json_integer((json_int_t)tot.ok));
  pof_json_set(&line, "skipped", json_integer((json_int_t)tot.skipped));
  pof_json_set(&line, "failed", json_integer((json_int_t)tot.failed));
  pof_json_set(&line, "not_run", json_integer((json_int_t)tot.not_run));
  pof_json_set(&line, "dir", pof_json_string(sc.dir));
  PetscCall(pof_json_print_line(comm, line));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(base));
  PetscFunctionReturn(PETSC_SUCCESS);
}
