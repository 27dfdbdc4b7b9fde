/* Stop requests by signal: see include/pof/signal.h. */
#include "pof/signal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t caught = 0;
static int                   installed;
static PetscInt              test_step = -1;      /* POF_TEST_RAISE */
static int                   test_sig  = SIGUSR1; /* 0: WAIT */

/* async-signal-safe: one store to a volatile sig_atomic_t, the first signal wins */
static void on_stop_signal(int sig)
{
  if (!caught) caught = sig;
}

PetscErrorCode pof_signal_install(void)
{
  const char *env = getenv("POF_TEST_RAISE");
  PetscFunctionBegin;
  if (env && *env) {
    long long n    = -1;
    char      tail = 0, sname[8] = "";
    int       k = sscanf(env, "step:%lld%c%7s", &n, &tail, sname);
    PetscCheck((k == 1 ||
                (k == 3 && tail == ':' &&
                 (!strcmp(sname, "USR1") || !strcmp(sname, "TERM") || !strcmp(sname, "WAIT")))) &&
                   n >= 0,
               PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
               "POF_TEST_RAISE='%s' is not of the form step:N or step:N:USR1|TERM|WAIT", env);
    test_step = (PetscInt)n;
    test_sig  = SIGUSR1;
    if (k == 3 && !strcmp(sname, "TERM")) test_sig = SIGTERM;
    if (k == 3 && !strcmp(sname, "WAIT")) test_sig = 0;
  }
  if (installed) PetscFunctionReturn(PETSC_SUCCESS);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; /* a signal during I/O or MPI does not make the call fail with EINTR */
  PetscCheck(sigaction(SIGUSR1, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0,
             PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install the SIGUSR1/SIGTERM handlers");
  installed = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int pof_signal_caught(void) { return (int)caught; }

void pof_signal_reset(void) { caught = 0; }

void pof_signal_test_hook(PetscInt global_step)
{
  int rank = 0;
  if (test_step < 0 || global_step != test_step) return;
  if (!test_sig) { /* WAIT: hold this rank until a stop signal arrives from outside (60 s at most)
                    */
    struct timespec ts = { 0, 10000000 };
    for (int i = 0; i < 6000 && !caught; i++) nanosleep(&ts, NULL);
    return;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) raise(test_sig);
}

const char *pof_signal_name(int sig)
{
  static char buf[24];
  if (sig == SIGUSR1) return "SIGUSR1";
  if (sig == SIGTERM) return "SIGTERM";
  snprintf(buf, sizeof(buf), "signal %d", sig);
  return buf;
}
