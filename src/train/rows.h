/* Internal to src/train: the rows of a resumed run's metrics.jsonl / steps.jsonl. */
#ifndef POF_TRAIN_ROWS_H
#define POF_TRAIN_ROWS_H

#include "pof/core.h"

/**
 * A resumed run continues metrics.jsonl / steps.jsonl after the rows of the checkpoint's state
 * (epochs_done E, step_in_epoch S): rows written after it (a job killed between a row and its
 * checkpoint, or checkpoints every few epochs) are dropped, so the files end up holding an
 * uninterrupted run's rows. Metrics rows {"epoch":e,...} are kept for e <= E; step rows
 * {"epoch":e,"step":s,...} (steps = PETSC_TRUE) for (e - 1, s) < (E, S); a line that is not a
 * JSON object with these integers (cut by a kill) goes too. The file is rewritten atomically
 * (pof_fs_write_atomic); a missing file is no error. *dropped: the rows dropped. Rank 0 only.
 */
PetscErrorCode pof_rows_trim(const char *path, PetscBool steps, PetscInt E, PetscInt S,
                             int *dropped);

#endif
