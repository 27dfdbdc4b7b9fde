/**
 * @file progress.h
 * @brief What the process is doing now (its phase and how far it is), and the rate-limited
 *        progress lines and heartbeat file (-run_progress) that report it.
 *
 * One process-wide state, used from the main thread only (not thread-safe, no MPI: every function
 * is local and cheap, so it can be called every step or every read).
 *
 * Phase contract (for readers such as a watchdog): pof_progress_get() returns the innermost
 * phase entered with pof_progress_begin() and not yet left with pof_progress_end() (phases nest:
 * an evaluation or a checkpoint write inside training), its position (done of total, in the
 * phase's own unit: steps, batches, rows, lines), the global step last set and the time
 * (pof_now) of the last begin, end or advance. POF_PHASE_IDLE when nothing is running.
 *
 * Reporting contract: pof_progress_setup() sets the period (seconds; 0 = no lines, no heartbeat)
 * and whether this process reports (rank 0 of the run; the others never print). Reporters call
 * pof_progress_due() and, when it says so, build their line and heartbeat object and call
 * pof_progress_report(): so at most one line per period, whatever the phase. The heartbeat is a
 * JSON object rewritten atomically to the path given to setup by the writer given there (so this
 * module needs no file-system code); it gets "phase" and "time" (Unix seconds) added.
 */
#ifndef POF_PROGRESS_H
#define POF_PROGRESS_H

#include "pof/core.h"
#include "pof/json.h"

#include <stdint.h>

/** What a process can be doing. */
typedef enum {
  POF_PHASE_IDLE = 0,
  POF_PHASE_DATA_LOAD,  /**< reading a dataset file */
  POF_PHASE_TRAIN,      /**< training steps (done/total: steps of the epoch) */
  POF_PHASE_EVAL,       /**< evaluating a split (done/total: batches) */
  POF_PHASE_CHECKPOINT, /**< writing a checkpoint or model file */
  POF_PHASE_ANALYZE,    /**< pof analyze (done/total: the analysis' own steps) */
  POF_PHASE_SWEEP,      /**< pof sweep (done/total: lines) */
  POF_PHASE_COUNT
} PofPhase;

/** "idle", "data_load", "train", "eval", "checkpoint", "analyze", "sweep". */
const char *pof_progress_phase_name(PofPhase phase);

/** Writes text to path atomically; 0 or an errno value (msg says what failed). */
typedef int (*PofProgressWriteFn)(const char *path, const char *text, char *msg, size_t len);

/**
 * Set the reporting: lines every `period` seconds (0: none) from this process if `reporter`,
 * and the heartbeat file `heartbeat` (NULL or "": none) written with `write`. Resets the clock of
 * the last line (the first line comes one period after setup).
 */
void pof_progress_setup(double period, int reporter, const char *heartbeat,
                        PofProgressWriteFn write);

/** Enter a phase with `total` units of work (0 if unknown). Nested at most 8 deep. */
void pof_progress_begin(PofPhase phase, int64_t total);
/** Leave the innermost phase. */
void pof_progress_end(void);
/** How deep the phases nest now; pof_progress_unwind(d) leaves every phase entered since
    (a caller that goes on after an error, such as pof sweep after a failed line). */
int  pof_progress_depth(void);
void pof_progress_unwind(int depth);
/** The innermost phase has done `done` units. */
void pof_progress_advance(int64_t done);
/** The run's global step (kept across phases). */
void pof_progress_set_step(int64_t step);

/** The state a watchdog reads (see the file comment). */
typedef struct {
  PofPhase phase;
  int64_t  done, total, step;
  double   last_change; /**< pof_now() of the last begin, end or advance */
} PofProgressState;
void pof_progress_get(PofProgressState *s);

/** Whether this process should report now: reporter, period > 0 and a period since the last. */
int pof_progress_due(void);
/** Whether lines are on at all for this process (reporter and period > 0). */
int pof_progress_on(void);

/**
 * Print `line` (if not NULL; a newline is added) and rewrite the heartbeat with `hb` (if not
 * NULL; "phase" and "time" added; hb is consumed). Restarts the period. A failed heartbeat
 * write prints one warning and turns the heartbeat off.
 */
void pof_progress_report(const char *line, json_t *hb);

/** A prefix of every line and a "context" key of the heartbeat (pof sweep: "sweep line 3/8: "),
    NULL for none; at most 63 characters. */
void pof_progress_set_context(const char *prefix);

/** "4m12s", "13h05m", "52s", "2d03h" into buf. */
void pof_progress_duration(double seconds, char *buf, size_t len);

#endif
