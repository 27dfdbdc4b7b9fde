/* The end of every pof process: the ranks agree on the outcome and say it once. See comm.h. */
#include "pof/comm.h"

#include "pof/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static MPI_Comm finish_comm = MPI_COMM_NULL; /* a duplicate of MPI_COMM_WORLD: the agreement
                                                 cannot match any collective of the program */

PetscErrorCode pof_comm_finish_init(void)
{
  PetscFunctionBegin;
  if (finish_comm == MPI_COMM_NULL) PetscCallMPI(MPI_Comm_dup(MPI_COMM_WORLD, &finish_comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Wait for req up to `seconds`; 1 if it completed. The first 0.2 s poll without sleeping (a
   non-blocking collective progresses only inside MPI calls), then every millisecond. */
static int wait_bounded(MPI_Request *req, double seconds)
{
  const struct timespec ts   = { 0, 1000000 };
  const double          t0   = MPI_Wtime();
  int                   done = 0;
  while (!done) {
    if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
    if (done) break;
    const double dt = MPI_Wtime() - t0;
    if (dt > seconds) return 0;
    if (dt > 0.2) nanosleep(&ts, NULL);
  }
  return 1;
}

static double agree_seconds(void)
{
  const char  *e   = getenv("POF_ERROR_AGREE_SECONDS");
  char        *end = NULL;
  const double v   = e ? strtod(e, &end) : 0;
  return v > 0 && end && *end == '\0' ? v : 10.0; /* unset, unparsable or <= 0: the default */
}

/* The last stdout line on an error: {"command":..., "status":"error", "message":...}, through
   pof/json.h like every other JSON line (a message with bytes that are not UTF-8 keeps its text).
 */
static void print_error_json(const char *command, const char *msg, int status)
{
  json_t *o = json_object();
  char   *s;
  if (command) pof_json_set(&o, "command", pof_json_string(command));
  pof_json_set(&o, "status", json_string(pof_exit_status_word(status)));
  pof_json_set(&o, "message", pof_json_string(msg));
  if ((s = pof_json_line(o))) printf("%s\n", s);
  fflush(stdout);
  free(s);
  json_decref(o);
}

int pof_comm_finish(const char *command, PetscErrorCode ierr, int ok_status)
{
  const PofErrorRecord *r      = pof_error_record();
  int                   status = ierr ? pof_error_exit_status(ierr) : ok_status;
  int                   rank = 0, size = 1, v[3];
  char                  msg[sizeof r->msg];
  MPI_Request           req_reduce, req_msg;
  fflush(stdout);
  if (finish_comm ==
      MPI_COMM_NULL) { /* started before pof_comm_finish_init: no agreement possible */
    if (ierr) pof_abort_all(ierr);
    return PetscFinalize() ? POF_EXIT_ERROR : status;
  }
  MPI_Comm_rank(finish_comm, &rank);
  MPI_Comm_size(finish_comm, &size);
  /* one MAX reduction: the worst status, the lowest failing rank (as -rank), whether some rank
   * succeeded */
  v[0] = ierr ? status : 0;
  v[1] = ierr ? -rank : -size;
  v[2] = ierr ? 0 : 1;
  if (MPI_Iallreduce(MPI_IN_PLACE, v, 3, MPI_INT, MPI_MAX, finish_comm, &req_reduce) !=
          MPI_SUCCESS ||
      !wait_bounded(&req_reduce, agree_seconds())) {
    /* the others are out of reach (busy or blocked elsewhere): abort with the request open */
    /* NOLINTNEXTLINE(clang-analyzer-optin.mpi.MPI-Checker) it timed out: a wait would hang */
    if (ierr) pof_abort_all(ierr);
    MPI_Abort(MPI_COMM_WORLD, POF_EXIT_ERROR);
  }
  MPI_Wait(&req_reduce, MPI_STATUS_IGNORE); /* completed above (now MPI_REQUEST_NULL): at once */
  if (v[0] == 0) {                          /* every rank succeeded */
    MPI_Comm_free(&finish_comm);
    return PetscFinalize() ? POF_EXIT_ERROR : ok_status;
  }
  /* some rank failed: its lowest one's message to every rank (rank 0 writes the JSON line) */
  snprintf(msg, sizeof msg, "%s", ierr && r->have ? r->msg : "");
  if (MPI_Ibcast(msg, (int)sizeof msg, MPI_CHAR, -v[1], finish_comm, &req_msg) != MPI_SUCCESS ||
      !wait_bounded(&req_msg, agree_seconds())) {
    /* NOLINTNEXTLINE(clang-analyzer-optin.mpi.MPI-Checker) it timed out: a wait would hang */
    if (ierr) pof_abort_all(ierr);
    MPI_Abort(MPI_COMM_WORLD, POF_EXIT_ERROR);
  }
  MPI_Wait(&req_msg, MPI_STATUS_IGNORE); /* completed above: returns at once */
  msg[sizeof msg - 1] = '\0';
  if (v[2] == 0) { /* every rank failed: said once, by rank 0 */
    if (rank == 0) pof_error_print(NULL);
  } else if (ierr) { /* only some: each says it, with its rank and host */
    char host[256] = "?", prefix[320];
    (void)gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(prefix, sizeof prefix, "[rank %d on %s] ", rank, host);
    pof_error_print(prefix);
  }
  if (rank == 0) print_error_json(command, msg[0] ? msg : "an error on another rank", v[0]);
  MPI_Comm_free(&finish_comm);
  (void)PetscFinalize();
  return v[0];
}
