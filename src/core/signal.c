/* Stop requests by signal: see include/pof/signal.h. */
#include "pof/signal.h"

#include <errno.h>

#include <signal.h>
#include <stdio.h>
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
  PetscCall(pof_fault_check());
  if (env && *env) {
    char     *end = NULL;
    long long n   = -1;
    if (!strncmp(env, "step:", 5) && env[5] >= '0' && env[5] <= '9') {
      errno = 0;
      n     = strtoll(env + 5, &end, 10);
      if (errno) n = -1;
    }
    const char *sname = end && *end == ':' ? end + 1 : "";
    PetscCheck(n >= 0 && n <= PETSC_MAX_INT && end &&
                   (*end == '\0' || !strcmp(sname, "USR1") || !strcmp(sname, "TERM") ||
                    !strcmp(sname, "WAIT")),
               PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
               "POF_TEST_RAISE='%s' is not of the form step:N or step:N:USR1|TERM|WAIT", env);
    test_step = (PetscInt)n;
    test_sig  = SIGUSR1;
    if (!strcmp(sname, "TERM")) test_sig = SIGTERM;
    if (!strcmp(sname, "WAIT")) test_sig = 0;
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
  if (!test_sig) { /* WAIT: hold this rank until a stop signal arrives from outside (60 s at most);
                     the line tells a test that this rank holds */
    struct timespec ts = { 0, 10000000 };
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr,
            "pof: test hook: rank %d holds after global step %" PetscInt_FMT
            " until a stop signal (60 s at most)\n",
            rank, global_step);
    fflush(stderr);
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

/* POF_TEST_FAULT: see signal.h. Parsed on each call (a test-only path; the points are rare). */
static int fault_parse(const char *env, char *point, size_t len, long *k, char *action)
{
  const char *colon = strchr(env, ':'), *at = strchr(env, '@');
  const char *end = at ? at : colon ? colon : env + strlen(env);
  *k              = 1;
  snprintf(action, 8, "KILL");
  if (end == env || (size_t)(end - env) >= len) return 0;
  snprintf(point, len, "%.*s", (int)(end - env), env);
  if (at && (colon ? at > colon : 0)) return 0;
  if (at) { /* K: a decimal count >= 1, up to the ':' or the end (the caller's errno kept) */
    char     *kend  = NULL;
    const int saved = errno;
    errno           = 0;
    *k              = strtol(at + 1, &kend, 10);
    const int bad   = kend == at + 1 || errno != 0 || *k < 1 || (*kend != '\0' && *kend != ':');
    errno           = saved;
    if (bad) return 0;
  }
  if (colon) {
    snprintf(action, 8, "%.7s", colon + 1);
    if (strcmp(action, "KILL") != 0 && strcmp(action, "USR1") != 0 && strcmp(action, "FAIL") != 0)
      return 0;
  }
  return 1;
}

PetscErrorCode pof_fault_check(void)
{
  const char *env = getenv("POF_TEST_FAULT");
  char        point[64], action[8];
  long        k;
  PetscFunctionBegin;
  PetscCheck(!env || !*env || fault_parse(env, point, sizeof point, &k, action), PETSC_COMM_SELF,
             PETSC_ERR_ARG_WRONG,
             "POF_TEST_FAULT='%s' is not of the form POINT[@K][:KILL|USR1|FAIL]", env);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int pof_fault_point(const char *point)
{
  static long count[8];
  static char seen[8][64];
  const char *env = getenv("POF_TEST_FAULT");
  char        want[64], action[8];
  long        k;
  int         slot = -1, rank = 0;
  if (!env || !*env || !fault_parse(env, want, sizeof want, &k, action) || strcmp(want, point) != 0)
    return 0;
  for (int i = 0; i < 8 && slot < 0; i++)
    if (!seen[i][0] || strcmp(seen[i], point) == 0) slot = i;
  if (slot < 0) return 0;
  snprintf(seen[slot], sizeof seen[slot], "%s", point);
  if (++count[slot] != k) return 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (strcmp(action, "KILL") == 0) raise(SIGKILL);
  if (strcmp(action, "USR1") == 0 && rank == 0) raise(SIGUSR1);
  return strcmp(action, "FAIL") == 0 && rank == 0;
}
