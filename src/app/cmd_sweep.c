/* pof sweep: the lines of a grid file as pretrain/posttrain runs in groups of ranks (pof/sweep.h).
 */
#include "commands.h"
#include "pof/json.h"
#include "pof/signal.h"
#include "pof/sweep.h"

#include <string.h>

PetscErrorCode pof_cmd_sweep(PetscOptions opts, MPI_Comm comm)
{
  PofConfig      cfg;
  PofSweepConfig sc;
  PofSweepTotals tot;
  PetscBool      help = PETSC_FALSE;
  char          *base = NULL;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_SWEEP, &cfg, &help));
  if (help) {
    PetscCall(pof_print(
        comm,
        "pof sweep: many runs inside one MPI job. The ranks are split into groups of G; each group "
        "takes\n"
        "the next line of the grid file and runs it exactly as `pof posttrain` (or pretrain) alone "
        "on G ranks.\n"
        "All options but -sweep_* are the runs' options (see `pof posttrain -help`); -data_file "
        "and -model_in given here\n"
        "are read once and shared in memory. Lines with a finished result are skipped on a rerun, "
        "an\n"
        "interrupted one resumes from its checkpoint, a failing one is recorded as failed.\n"
        "Exit status: 0 every line finished, 3 the grid went through but some lines failed (see "
        "the summary),\n"
        "75 stopped on a signal (rerun to resume), 74 a storage failure (disk full: rerun with "
        "room to resume),\n1 an error before or outside the lines, or on one rank of a group "
        "alone.\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  memset(&sc, 0, sizeof(sc));
  sc.kind       = !strcmp(cfg.sweep.command, "pretrain") ? POF_RUN_PRETRAIN : POF_RUN_POSTTRAIN;
  sc.group_size = cfg.sweep.group_size;
  PetscCall(PetscStrncpy(sc.grid, cfg.sweep.grid, sizeof(sc.grid)));
  PetscCall(PetscStrncpy(sc.dir, cfg.sweep.dir, sizeof(sc.dir)));
  PetscCall(PetscStrncpy(sc.summary, cfg.sweep.summary, sizeof(sc.summary)));
  /* the base options of every line: everything else on the command line */
  PetscCall(pof_config_other_options(opts, POF_CMD_SWEEP, &base));
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
  PetscCall(pof_print(comm,
                      "sweep: done: %" PetscInt_FMT " lines, %" PetscInt_FMT
                      " finished now, %" PetscInt_FMT " skipped (finished earlier), %" PetscInt_FMT
                      " failed, %" PetscInt_FMT " without a result\n",
                      tot.lines, tot.ok, tot.skipped, tot.failed, tot.not_run));
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
  PetscCall(PetscFree(base));
  PetscFunctionReturn(PETSC_SUCCESS);
}
