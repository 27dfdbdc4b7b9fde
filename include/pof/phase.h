/**
 * @file phase.h
 * @brief What this process is doing now (its phase and global step) and when it last made
 * progress, for the -run_step_timeout watchdog (watchdog.h). Separate from progress.h (the
 * -run_progress lines, main thread only): this state is read from the watchdog's thread. Writes
 * are the main thread's, reads any thread's (C11 atomics). Not collective; no MPI.
 */
#ifndef POF_PHASE_H
#define POF_PHASE_H

#include <stdint.h>

/** The phases. POF_WATCH_IDLE: outside any timed work (before a run, between sweep lines). */
typedef enum {
  POF_WATCH_IDLE,
  POF_WATCH_SETUP,
  POF_WATCH_DATA_LOAD,
  POF_WATCH_TRAIN,
  POF_WATCH_EVAL,
  POF_WATCH_CKPT_WRITE,
  POF_WATCH_CKPT_READ,
  POF_WATCH_COUNT
} PofWatchPhase;

/** Names as the error messages print them ("training", "checkpoint write", ...). */
extern const char *const PofWatchPhaseNames[POF_WATCH_COUNT];

/** Enter phase p at global step `step` (< 0: keep the step), which counts as progress; returns
    the phase it left. */
PofWatchPhase pof_phase_enter(PofWatchPhase p, int64_t step);
/** Back to a phase pof_phase_enter returned, keeping the step (progress too). */
void pof_phase_leave(PofWatchPhase back);
/** Progress within the current phase: one more batch, chunk or step done. Cheap (a clock read). */
void pof_phase_beat(void);
/** The current phase, its step and the seconds since the last progress (monotonic clock). */
void pof_phase_get(PofWatchPhase *p, int64_t *step, double *idle_seconds);

#endif
