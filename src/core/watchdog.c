/* The -run_step_timeout watchdog: see include/pof/watchdog.h (also for the thread level). */
#include "pof/watchdog.h"

#include "pof/json.h"
#include "pof/phase.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  cv;
static pthread_t       thread;
static int             depth, stop_req, world_rank;
static double          limit;
static char            command[32];
static char            host[256] = "?";

void pof_watchdog_init(const char *cmd)
{
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  snprintf(command, sizeof command, "%s", cmd ? cmd : "");
  (void)gethostname(host, sizeof host);
  host[sizeof host - 1] = '\0';
}

/* No progress for `limit` s: say so, then end every rank with 69 (never returns). */
static void fire(PofWatchPhase p, int64_t step)
{
  char msg[256];
  snprintf(msg, sizeof msg, "no progress for %g s in %s at step %lld", limit, PofWatchPhaseNames[p],
           (long long)step);
  if (world_rank == 0) {
    fprintf(stderr, "pof: error: %s\n", msg);
    fflush(stderr);
    json_t *o = json_object();
    char   *s;
    if (command[0]) pof_json_set(&o, "command", pof_json_string(command));
    pof_json_set(&o, "status", json_string("lost_peer"));
    pof_json_set(&o, "message", pof_json_string(msg));
    if ((s = pof_json_line(o))) printf("%s\n", s);
    fflush(stdout);
  } else {
    fprintf(stderr, "pof: error: [rank %d on %s] %s\n", world_rank, host, msg);
    fflush(stderr);
  }
  /* for the job script: the launcher may not manage to end the job (a silent node cannot be
     told to kill its processes); the script ends the launcher a while after this file appears */
  const char *mark = getenv("POF_LOST_PEER_FILE");
  if (mark && *mark) {
    FILE *f = fopen(mark, "a");
    if (f) {
      fprintf(f, "rank %d on %s: %s\n", world_rank, host, msg);
      fclose(f);
    }
  }
  MPI_Abort(MPI_COMM_WORLD, POF_EXIT_LOST_PEER);
  _exit(POF_EXIT_LOST_PEER); /* not reached */
}

static double mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *watch(void *arg)
{
  const double    period = limit / 4 < 1.0 ? limit / 4 : 1.0;
  const long long pns    = (long long)(period * 1e9);
  double          woke = mono(), thawed = -1;
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!stop_req) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + pns;
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    (void)pthread_cond_timedwait(&cv, &mu, &ts);
    if (stop_req) break;
    PofWatchPhase p;
    int64_t       step;
    double        idle;
    pof_phase_get(&p, &step, &idle);
    /* woken far later than asked: this process itself was stopped (SIGSTOP, then the SIGCONT
       that comes before the launcher's SIGTERM) or starved; that is no peer's fault, so the
       time counts from now */
    const double now = mono();
    if (now - woke > period + 1.0) thawed = now;
    woke = now;
    if (thawed >= 0 && idle > now - thawed) idle = now - thawed;
    if (p != POF_WATCH_IDLE && idle > limit) fire(p, step);
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

PetscErrorCode pof_watchdog_start(MPI_Comm comm, double seconds)
{
  int                provided = MPI_THREAD_SINGLE;
  pthread_condattr_t ca;
  sigset_t           all, old;
  PetscFunctionBegin;
  if (depth > 0) { /* nested: the outer watchdog keeps running */
    depth++;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (seconds <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Query_thread(&provided));
  PetscCheck(provided == MPI_THREAD_MULTIPLE, comm, PETSC_ERR_SUP,
             "-run_step_timeout needs an MPI library with MPI_THREAD_MULTIPLE (its watchdog "
             "thread calls MPI_Abort); this one provides thread level %d",
             provided);
  limit    = seconds;
  stop_req = 0;
  PetscCheck(!pthread_condattr_init(&ca) && !pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) &&
                 !pthread_cond_init(&cv, &ca),
             comm, PETSC_ERR_SYS, "-run_step_timeout: cannot make the watchdog's condition");
  pthread_condattr_destroy(&ca);
  sigfillset(&all); /* the thread takes no signal: SIGUSR1/SIGTERM stay the main thread's */
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const int rc = pthread_create(&thread, NULL, watch, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  PetscCheck(rc == 0, comm, PETSC_ERR_SYS,
             "-run_step_timeout: cannot start the watchdog thread: %s", strerror(rc));
  depth = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_watchdog_stop(void)
{
  if (depth == 0) return;
  if (--depth > 0) return;
  pthread_mutex_lock(&mu);
  stop_req = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(thread, NULL);
  pthread_cond_destroy(&cv);
}

void pof_watchdog_stop_all(void)
{
  if (depth > 0) depth = 1;
  pof_watchdog_stop();
}
