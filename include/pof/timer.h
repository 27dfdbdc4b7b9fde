/**
 * @file timer.h
 * @brief Phase timers: one X-macro list gives the enum, the names and the PetscLogEvents.
 *
 * pof_timer_start/stop accumulate wall time per phase in a process-wide table and wrap the
 * matching PetscLogEvent, so `-log_view` shows the same phases. pof_timers_reduce gives the
 * min/avg/max over the ranks of a communicator for the metrics file (collective).
 * Not thread-safe: call from the rank's main thread only.
 */
#ifndef POF_TIMER_H
#define POF_TIMER_H

#include "pof/core.h"

/* X(ID, "PetscLogEvent name", "metrics key") */
#define POF_TIMERS(X)                               \
  X(DATA, "PofData", "data")                        \
  X(FORWARD, "PofForward", "forward")               \
  X(BACKWARD, "PofBackward", "backward")            \
  X(COMM_WAIT, "PofCommWait", "comm_wait")          \
  X(OPTIMIZER, "PofOptimizer", "optimizer")         \
  X(WEAK_FORWARD, "PofWeakForward", "weak_forward") \
  X(POF_RANGE, "PofRangeSearch", "pof_range")       \
  X(EVAL, "PofEval", "eval")                        \
  X(CKPT_IO, "PofCheckpointIO", "checkpoint_io")

typedef enum {
#define POF_TIMER_ENUM(id, ev, key) POF_T_##id,
  POF_TIMERS(POF_TIMER_ENUM)
#undef POF_TIMER_ENUM
      POF_T_COUNT
} PofTimerId;

/** Register the PetscLogEvents (idempotent; after PetscInitialize). */
PetscErrorCode pof_timers_register(void);
/** Zero all accumulated times. */
void pof_timers_reset(void);
/** Start/stop a phase (nesting different phases is allowed; the same phase is not). */
void pof_timer_start(PofTimerId id);
void pof_timer_stop(PofTimerId id);
/** Accumulated seconds of a phase on this rank. */
double pof_timer_total(PofTimerId id);
/** Metrics key ("forward", ...) of a phase. */
const char *pof_timer_key(PofTimerId id);
/** Collective on comm: min, average and max over ranks of every phase total. */
PetscErrorCode pof_timers_reduce(MPI_Comm comm, double mn[POF_T_COUNT], double avg[POF_T_COUNT],
                                 double mx[POF_T_COUNT]);

#endif
