/* Phase timers: see include/pof/timer.h. */
#include "pof/timer.h"

static const char *const timer_event_names[POF_T_COUNT] = {
#define POF_TIMER_EVNAME(id, ev, key) ev,
  POF_TIMERS(POF_TIMER_EVNAME)
#undef POF_TIMER_EVNAME
};
static const char *const timer_keys[POF_T_COUNT] = {
#define POF_TIMER_KEY(id, ev, key) key,
  POF_TIMERS(POF_TIMER_KEY)
#undef POF_TIMER_KEY
};

static PetscLogEvent timer_events[POF_T_COUNT];
static double        timer_total[POF_T_COUNT];
static double        timer_begin[POF_T_COUNT];
static PetscBool     timer_registered = PETSC_FALSE;
static PetscClassId  timer_classid;

PetscErrorCode pof_timers_register(void)
{
  PetscFunctionBegin;
  if (timer_registered) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscClassIdRegister("pof", &timer_classid));
  for (int i = 0; i < POF_T_COUNT; i++)
    PetscCall(PetscLogEventRegister(timer_event_names[i], timer_classid, &timer_events[i]));
  timer_registered = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_timers_reset(void)
{
  for (int i = 0; i < POF_T_COUNT; i++) timer_total[i] = 0.0;
}

void pof_timer_start(PofTimerId id)
{
  if (timer_registered) (void)PetscLogEventBegin(timer_events[id], 0, 0, 0, 0);
  timer_begin[id] = MPI_Wtime();
}

void pof_timer_stop(PofTimerId id)
{
  timer_total[id] += MPI_Wtime() - timer_begin[id];
  if (timer_registered) (void)PetscLogEventEnd(timer_events[id], 0, 0, 0, 0);
}

double pof_timer_total(PofTimerId id) { return timer_total[id]; }

const char *pof_timer_key(PofTimerId id) { return timer_keys[id]; }
