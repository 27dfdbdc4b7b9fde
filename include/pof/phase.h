/**
 * @file phase.h
 * @brief What this process is doing now (its phase and global step) and when it last made
 * progress. Kept apart from its users (the watchdog, watchdog.h; a progress report may read it
 * too) so that there is one notion of phase. Writes are the main thread's, reads any thread's
 * (C11 atomics). Not collective; no MPI.
 */
#ifndef POF_PHASE_H
#define POF_PHASE_H

#include <stdint.h>

/** The phases. POF_PHASE_IDLE: outside any timed work (before a run, between sweep lines). */
typedef enum {
  POF_PHASE_IDLE,
  POF_PHASE_SETUP,
  POF_PHASE_DATA_LOAD,
  POF_PHASE_TRAIN,
  POF_PHASE_EVAL,
  POF_PHASE_CKPT_WRITE,
  POF_PHASE_CKPT_READ,
  POF_PHASE_COUNT
} PofPhase;

/** Names as the error messages print them ("training", "checkpoint write", ...). */
extern const char *const PofPhaseNames[POF_PHASE_COUNT];

/** Enter phase p at global step `step` (< 0: keep the step), which counts as progress; returns
    the phase it left. */
PofPhase pof_phase_enter(PofPhase p, int64_t step);
/** Back to a phase pof_phase_enter returned, keeping the step (progress too). */
void pof_phase_leave(PofPhase back);
/** Progress within the current phase: one more batch, chunk or step done. Cheap (a clock read). */
void pof_phase_beat(void);
/** The current phase, its step and the seconds since the last progress (monotonic clock). */
void pof_phase_get(PofPhase *p, int64_t *step, double *idle_seconds);

#endif
