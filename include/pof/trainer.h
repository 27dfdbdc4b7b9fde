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

typedef enum { POF_RUN_PRETRAIN  = 0,
               POF_RUN_POSTTRAIN = 1 } PofRunKind;

/** Final figures of a run (for the JSON summary line). */
typedef struct {
  PetscInt epochs_done, global_step;
  double   train_loss, train_error;
  double   test_loss, test_error;
  double   seconds, images_per_s;
  char     model_path[POF_PATH_MAX];
} PofRunSummary;

typedef struct _p_PofTrainer *PofTrainer;

/** Open the data, build or load the model, prepare the run directory. On error everything built
    so far is freed and *t is NULL (pof sweep goes on with the next line). Works on any communicator. */
PetscErrorCode pof_trainer_create(MPI_Comm comm, const PofConfig *cfg, PofRunKind kind, PofTrainer *t);
/** Train for the configured epochs, evaluating after each; writes model.h5 at the end. */
PetscErrorCode pof_trainer_run(PofTrainer t, PofRunSummary *summary);
PetscErrorCode pof_trainer_destroy(PofTrainer *t);

/** Evaluate a model file on a split of a dataset (pof eval): mean CE loss and error in percent. */
PetscErrorCode pof_evaluate_file(MPI_Comm comm, const PofConfig *cfg, double *loss, double *error_pct, PetscInt *count);

/** Learning rate of the schedule at (0-based) epoch `epoch`. */
double pof_schedule_lr(double lr_base, PofScheduleKind kind, const PetscInt *milestones, PetscInt nmilestones, double factor, PetscInt warmup, PetscInt total_epochs, PetscInt epoch);

#endif
