/**
 * @file trainer.h
 * @brief The training loops of pof pretrain and pof posttrain, and evaluation.
 *
 * A PofTrainer owns the dataset, the model, the sharded optimizer state and the run directory
 * (config.json, metrics.jsonl, steps.jsonl, checkpoints, model.h5). All functions are
 * collective on the trainer's communicator.
 *
 * pretrain:  SGD (Nesterov) or SAM from scratch (or from -model_in), step/cosine/const schedule.
 * posttrain: from a model file of pretrain (parameters, BN statistics, momentum, schedule,
 *            epochs done): PoF with the perturbation range computed jointly by all ranks
 *            (-pof_mode global), per rank (local), or the plain-SGD control (off); θ0 is frozen.
 */
#ifndef POF_TRAINER_H
#define POF_TRAINER_H

#include "pof/config.h"
#include "pof/data.h"
#include "pof/nn.h"

typedef enum { POF_RUN_PRETRAIN = 0, POF_RUN_POSTTRAIN = 1 } PofRunKind;

/** How pof_trainer_run ended. */
typedef enum {
  POF_RUN_FINISHED         = 0, /**< trained to the last epoch; model.h5 written */
  POF_RUN_STOPPED          = 1, /**< stopped on request (cfg.stop_requested) after a checkpoint */
  POF_RUN_ALREADY_FINISHED = 2  /**< the run directory holds a finished run: nothing trained */
} PofRunStatus;
extern const char *const PofRunStatusNames[]; /**< "finished", "stopped", "already_finished" */

/** Final figures of a run (for the JSON summary line). */
typedef struct {
  PofRunStatus status;
  int          stop_signal; /**< POF_RUN_STOPPED: the agreed signal number */
  PetscInt     epochs_done, global_step;
  double       train_loss, train_error;
  double       test_loss, test_error;
  double       seconds, images_per_s;
  char         model_path[POF_PATH_MAX];
} PofRunSummary;

typedef struct PofTrainer_s *PofTrainer;

/**
 * Open the data, build or load the model, prepare the run directory. The directory is checked
 * for writability first (before any training). With -ckpt_resume auto the newest complete
 * checkpoint of the directory is loaded; with -ckpt_resume no a directory that already holds
 * checkpoints (ckpt-*.h5) is refused with an error naming it. On error everything built so far is
 * freed and *t is NULL (pof sweep goes on with the next line). Works on any communicator.
 */
PetscErrorCode pof_trainer_create(MPI_Comm comm, const PofConfig *cfg, PofRunKind kind,
                                  PofTrainer *t);
/**
 * Train for the configured epochs, evaluating after each. At the end the final checkpoint
 * ckpt-<step>.h5 is written and model.h5 is a hard link of it (a copy where links fail), so a
 * rerun of the directory finds the finished state: status POF_RUN_ALREADY_FINISHED, nothing is
 * trained (the test split is evaluated for the summary).
 *
 * Stop requests: when cfg->stop_requested is set, it is polled after every step and the ranks
 * agree (pof_comm_step_agree: the step's one reduction, which also sums its loss and error
 * count into the epoch's figures). On an agreed request the trainer
 * writes a checkpoint at that step (mid-epoch, with the data-order position, so a resume at the
 * same rank count is bitwise identical to an uninterrupted run; a request on the last step of
 * an epoch first evaluates and logs the epoch and checkpoints at the boundary) and returns with
 * status POF_RUN_STOPPED. Sweep drivers set cfg.stop_requested = pof_signal_caught (signal.h).
 */
PetscErrorCode pof_trainer_run(PofTrainer t, PofRunSummary *summary);
PetscErrorCode pof_trainer_destroy(PofTrainer *t);

/**
 * Load the model file cfg->model.in for evaluation or analysis (collective): read its metadata,
 * check cfg's shape options against it (pof_ckpt_check_shape_options) and that it fits the
 * dataset described by info (input size, classes, dataset name), create the WRN in cfg's precision
 * and convolution algorithm, and set its parameters and BN running statistics on every rank. If
 * theta is not NULL, *theta receives every parameter in double (PetscFree it).
 */
PetscErrorCode pof_model_load(MPI_Comm comm, const PofConfig *cfg, const PofDatasetInfo *info,
                              PofWrn *m, double **theta);

/** Evaluate a model file on a split of a dataset (pof eval): mean CE loss and error in percent. */
PetscErrorCode pof_evaluate_file(MPI_Comm comm, const PofConfig *cfg, double *loss,
                                 double *error_pct, PetscInt *count);

/** Learning rate of the schedule at (0-based) epoch `epoch`. */
double pof_schedule_lr(double lr_base, PofScheduleKind kind, const PetscInt *milestones,
                       PetscInt nmilestones, double factor, PetscInt warmup, PetscInt total_epochs,
                       PetscInt epoch);

#endif
