/* pof pretrain, pof posttrain and pof eval: parse options, run the trainer, print the summary. */
#include "commands.h"
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
  PetscCall(pof_config_read(opts, comm, kind == POF_RUN_PRETRAIN ? POF_CMD_PRETRAIN : POF_CMD_POSTTRAIN, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  /* SIGUSR1/SIGTERM: finish the step, checkpoint, exit POF_EXIT_CHECKPOINT (see signal.h) */
  PetscCall(pof_signal_install());
  cfg.stop_requested = pof_signal_caught;
  PetscCall(pof_trainer_create(comm, &cfg, kind, &t));
  PetscCall(pof_trainer_run(t, &s));
  PetscCall(pof_trainer_destroy(&t));
  char j[2][POF_JNUM_LEN]; /* a diverged run's losses are non-finite: null in the JSON line */
  switch (s.status) {
  case POF_RUN_FINISHED:
    PetscCall(pof_print(comm, "%s: done, test error %.2f%%, test loss %.4f, %.1f s, model %s\n", name, s.test_error, s.test_loss, s.seconds, s.model_path));
    PetscCall(pof_print(comm, "{\"command\":\"%s\",\"status\":\"%s\",\"run_dir\":\"%s\",\"epochs_done\":%" PetscInt_FMT ",\"global_step\":%" PetscInt_FMT ",\"train_loss\":%s,\"train_error\":%.6g,\"test_loss\":%s,\"test_error\":%.6g,\"seconds\":%.3f,\"images_per_s\":%.3f,\"model\":\"%s\"}\n", name, PofRunStatusNames[s.status], cfg.run.dir, s.epochs_done, s.global_step, pof_jnum(j[0], s.train_loss), s.train_error, pof_jnum(j[1], s.test_loss), s.test_error, s.seconds, s.images_per_s, s.model_path));
    break;
  case POF_RUN_ALREADY_FINISHED: /* the training figures are in the run's metrics.jsonl */
    PetscCall(pof_print(comm, "{\"command\":\"%s\",\"status\":\"%s\",\"run_dir\":\"%s\",\"epochs_done\":%" PetscInt_FMT ",\"global_step\":%" PetscInt_FMT ",\"test_loss\":%s,\"test_error\":%.6g,\"seconds\":%.3f,\"model\":\"%s\"}\n", name, PofRunStatusNames[s.status], cfg.run.dir, s.epochs_done, s.global_step, pof_jnum(j[1], s.test_loss), s.test_error, s.seconds, s.model_path));
    break;
  case POF_RUN_STOPPED:
    PetscCall(pof_print(comm, "{\"command\":\"%s\",\"status\":\"%s\",\"signal\":\"%s\",\"run_dir\":\"%s\",\"epochs_done\":%" PetscInt_FMT ",\"global_step\":%" PetscInt_FMT ",\"seconds\":%.3f,\"checkpoint\":\"%s\"}\n", name, PofRunStatusNames[s.status], pof_signal_name(s.stop_signal), cfg.run.dir, s.epochs_done, s.global_step, s.seconds, s.model_path));
    pof_app_exit_status = POF_EXIT_CHECKPOINT;
    break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_cmd_pretrain(PetscOptions opts, MPI_Comm comm) { return run(opts, comm, POF_RUN_PRETRAIN); }
PetscErrorCode pof_cmd_posttrain(PetscOptions opts, MPI_Comm comm) { return run(opts, comm, POF_RUN_POSTTRAIN); }

PetscErrorCode pof_cmd_eval(PetscOptions opts, MPI_Comm comm)
{
  PofConfig cfg;
  PetscBool help;
  double    loss, err;
  PetscInt  count;
  char      j[POF_JNUM_LEN];
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_EVAL, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_evaluate_file(comm, &cfg, &loss, &err, &count));
  PetscCall(pof_print(comm, "eval: %s on the %s split of %s: error %.2f%%, loss %.4f (%" PetscInt_FMT " samples)\n", cfg.model.in, cfg.eval.split, cfg.data.file, err, loss, count));
  PetscCall(pof_print(comm, "{\"command\":\"eval\",\"model\":\"%s\",\"split\":\"%s\",\"samples\":%" PetscInt_FMT ",\"%s_error\":%.6g,\"%s_loss\":%s}\n", cfg.model.in, cfg.eval.split, count, cfg.eval.split, err, cfg.eval.split, pof_jnum(j, loss)));
  PetscFunctionReturn(PETSC_SUCCESS);
}
