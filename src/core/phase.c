/* The current phase and the time of the last progress: see include/pof/phase.h. */
#include "pof/phase.h"

#include <stdatomic.h>
#include <time.h>

const char *const PofWatchPhaseNames[POF_WATCH_COUNT] = {
  "idle", "setup", "data loading", "training", "evaluation", "checkpoint write", "checkpoint read"
};

static atomic_int   cur_phase = POF_WATCH_IDLE;
static atomic_llong cur_step  = 0;
static atomic_llong last_ns   = 0; /* CLOCK_MONOTONIC of the last progress */

static long long now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void pof_phase_beat(void) { atomic_store_explicit(&last_ns, now_ns(), memory_order_release); }

PofWatchPhase pof_phase_enter(PofWatchPhase p, int64_t step)
{
  const PofWatchPhase old = (PofWatchPhase)atomic_load(&cur_phase);
  if (step >= 0) atomic_store(&cur_step, (long long)step);
  pof_phase_beat();
  atomic_store(&cur_phase, (int)p);
  return old;
}

void pof_phase_leave(PofWatchPhase back)
{
  pof_phase_beat();
  atomic_store(&cur_phase, (int)back);
}

void pof_phase_get(PofWatchPhase *p, int64_t *step, double *idle_seconds)
{
  *p            = (PofWatchPhase)atomic_load(&cur_phase);
  *step         = (int64_t)atomic_load(&cur_step);
  *idle_seconds = (double)(now_ns() - atomic_load_explicit(&last_ns, memory_order_acquire)) * 1e-9;
}
