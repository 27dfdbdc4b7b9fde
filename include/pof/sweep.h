/**
 * @file sweep.h
 * @brief pof sweep: many pretrain/posttrain runs (the lines of a grid file) inside one MPI job.
 *
 * The world is split into groups of G ranks (pof/group.h); each group takes the next grid line
 * from a shared counter and runs it exactly as `pof posttrain` (or `pretrain`) would run alone on
 * G ranks: the line's options are the base options (the command line without -sweep_*) plus
 * the line, read from their own PetscOptions object into the same PofConfig, with
 * -run_dir DIR/line-NNN (NNN = the 1-based run number, comments and blank lines not counted).
 * The dataset file and -model_in of the base options are read once by world rank 0, broadcast
 * and registered as in-memory file images (pof/image.h), so no run reads them from disk.
 *
 * Restart: a line whose run directory holds result.json with status "ok" is skipped; any other
 * line is (re)run, and the trainer resumes it from its newest checkpoint (-ckpt_resume auto).
 * A result.json whose recorded options differ from the grid's line of that number (the grid was
 * edited) stops the sweep before any line runs.
 * Failure of a line (bad option, error inside the run, non-finite final loss) is recorded as
 * status "failed" with the message; the group goes on with the next line. Such an error must be
 * raised on every rank of the group (all of pof's option and input checks are), or on a rank
 * that is not waiting in a collective: a rank that stops inside a collective of the run while
 * the others wait in it cannot be recovered without ULFM, and hangs the group.
 *
 * Results: the group leader writes DIR/line-NNN/result.csv (the summary row) and then result.json
 * (one JSON object), each atomically, and appends the same
 * JSON line to <summary>.jsonl as lines finish; at the end world rank 0 rewrites <summary>.jsonl
 * and <summary>.csv from the result files in line order, each line once.
 */
#ifndef POF_SWEEP_H
#define POF_SWEEP_H

#include "pof/config.h"
#include "pof/trainer.h"

typedef struct {
  PofRunKind kind;               /**< -sweep_command posttrain|pretrain */
  char       grid[POF_PATH_MAX]; /**< -sweep_grid: one run per line, '#' comments */
  char       dir[POF_PATH_MAX];  /**< -sweep_dir: DIR/line-NNN per run */
  char summary[POF_PATH_MAX];    /**< -sweep_summary: prefix of .csv/.jsonl (default DIR/summary) */
  PetscInt group_size;           /**< -sweep_group_size G */
} PofSweepConfig;

typedef struct {
  PetscInt  lines, ok, failed, skipped, not_run;
  PetscBool stopped; /**< a stop request ended the sweep: lines left are resumed by a rerun */
  PetscBool storage; /**< a storage failure ended the sweep (exit 74): the rerun resumes the line */
} PofSweepTotals;

/** Checked by each group leader before it takes the next line (the signal branch sets it). */
typedef int (*PofSweepStopFn)(void); /**< non-zero: stop (e.g. pof_signal_caught) */
void pof_sweep_set_stop_check(PofSweepStopFn fn);

/**
 * Run the sweep. base: the options every line starts from (one string, PetscOptionsInsertString
 * syntax, no -sweep_* options). Errors that concern the whole sweep (grid file unreadable,
 * empty grid, bad group size, unwritable DIR) are returned on every rank; errors of one line
 * are recorded and not returned. Collective on world.
 */
PetscErrorCode pof_sweep_run(MPI_Comm world, const PofSweepConfig *sc, const char *base,
                             PofSweepTotals *totals);

#endif
