/* pof pretrain, pof posttrain and pof eval: parse options, run the trainer, print the summary. */
#include "commands.h"
#include "pof/json.h"
#include "pof/signal.h"
#include "pof/trainer.h"

static PetscErrorCode run(PetscOptions opts, MPI_Comm comm, PofRunKind kind)
{
  PofConfig     cfg;
  PetscBool     help;
  PofTrainer    t = NULL;
  PofRunSummary s;
  const char   *name = kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain";
  PetscFunctionBegin;
  PetscCall(pof_config_read(
      opts, comm, kind == POF_RUN_PRETRAIN ? POF_CMD_PRETRAIN : POF_CMD_POSTTRAIN, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  /* SIGUSR1/SIGTERM: finish the step, checkpoint, exit POF_EXIT_CHECKPOINT (see signal.h) */
  PetscCall(pof_signal_install());
  cfg.stop_requested = pof_signal_caught;
  PetscCall(pof_trainer_create(comm, &cfg, kind, &t));
  PetscCall(pof_trainer_run(t, &s));
  PetscCall(pof_trainer_destroy(&t));
  json_t *line = json_object();
  pof_json_set(&line, "command", json_string(name));
  pof_json_set(&line, "status", json_string(PofRunStatusNames[s.status]));
  if (s.status == POF_RUN_STOPPED)
    pof_json_set(&line, "signal", pof_json_string(pof_signal_name(s.stop_signal)));
  pof_json_set(&line, "run_dir", pof_json_string(cfg.run.dir));
  pof_json_set(&line, "epochs_done", json_integer((json_int_t)s.epochs_done));
  pof_json_set(&line, "global_step", json_integer((json_int_t)s.global_step));
  switch (s.status) { /* a diverged run's losses are non-finite: null */
  case POF_RUN_FINISHED:
    PetscCall(pof_print(comm, "%s: done, test error %.2f%%, test loss %.4f, %.1f s, model %s\n",
                        name, s.test_error, s.test_loss, s.seconds, s.model_path));
    pof_json_set(&line, "train_loss", pof_json_real_or_null(s.train_loss));
    pof_json_set(&line, "train_error", pof_json_real_or_null(s.train_error));
    pof_json_set(&line, "test_loss", pof_json_real_or_null(s.test_loss));
    pof_json_set(&line, "test_error", pof_json_real_or_null(s.test_error));
    pof_json_set(&line, "seconds", pof_json_real_or_null(s.seconds));
    pof_json_set(&line, "images_per_s", pof_json_real_or_null(s.images_per_s));
    pof_json_set(&line, "model", pof_json_string(s.model_path));
    break;
  case POF_RUN_ALREADY_FINISHED: /* the training figures are in the run's metrics.jsonl */
    pof_json_set(&line, "test_loss", pof_json_real_or_null(s.test_loss));
    pof_json_set(&line, "test_error", pof_json_real_or_null(s.test_error));
    pof_json_set(&line, "seconds", pof_json_real_or_null(s.seconds));
    pof_json_set(&line, "model", pof_json_string(s.model_path));
    break;
  case POF_RUN_STOPPED:
    pof_json_set(&line, "seconds", pof_json_real_or_null(s.seconds));
    pof_json_set(&line, "checkpoint", pof_json_string(s.model_path));
    pof_app_exit_status = POF_EXIT_CHECKPOINT;
    break;
  }
  PetscCall(pof_json_print_line(comm, line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_cmd_pretrain(PetscOptions opts, MPI_Comm comm)
{
  return run(opts, comm, POF_RUN_PRETRAIN);
}
PetscErrorCode pof_cmd_posttrain(PetscOptions opts, MPI_Comm comm)
{
  return run(opts, comm, POF_RUN_POSTTRAIN);
}

PetscErrorCode pof_cmd_eval(PetscOptions opts, MPI_Comm comm)
{
  PofConfig cfg;
  PetscBool help;
  double    loss, err;
  PetscInt  count;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_EVAL, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_evaluate_file(comm, &cfg, &loss, &err, &count));
  PetscCall(pof_print(
      comm, "eval: %s on the %s split of %s: error %.2f%%, loss %.4f (%" PetscInt_FMT " samples)\n",
      cfg.model.in, cfg.eval.split, cfg.data.file, err, loss, count));
  char key[2][64];
  PetscCall(PetscSNPrintf(key[0], sizeof(key[0]), "%s_error", cfg.eval.split));
  PetscCall(PetscSNPrintf(key[1], sizeof(key[1]), "%s_loss", cfg.eval.split));
  json_t *line = json_object();
  pof_json_set(&line, "command", json_string("eval"));
  pof_json_set(&line, "model", pof_json_string(cfg.model.in));
  pof_json_set(&line, "split", pof_json_string(cfg.eval.split));
  pof_json_set(&line, "samples", json_integer((json_int_t)count));
  pof_json_set(&line, key[0], pof_json_real_or_null(err));
  pof_json_set(&line, key[1], pof_json_real_or_null(loss));
  PetscCall(pof_json_print_line(comm, line));
  PetscFunctionReturn(PETSC_SUCCESS);
}
