/* Error handler and process helpers: see include/pof/core.h. */
#include "pof/core.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static PofErrorRecord rec;
static PetscBool      trace_on = PETSC_FALSE;

const PofErrorRecord *pof_error_record(void) { return &rec; }
void                  pof_error_set_trace(PetscBool on) { trace_on = on; }
PetscBool             pof_error_trace(void) { return trace_on; }
int                   pof_error_exit_status(PetscErrorCode code)
{
  return code == POF_ERR_STORAGE ? POF_EXIT_STORAGE : code ? POF_EXIT_ERROR : POF_EXIT_OK;
}
PetscErrorCode pof_error_of_write_errno(int err)
{
  return err == ENOSPC || err == EDQUOT || err == EIO || err == EFBIG || err == EROFS
             ? POF_ERR_STORAGE
             : PETSC_ERR_FILE_WRITE;
}
const char *pof_exit_status_word(int status)
{
  return status == POF_EXIT_STORAGE ? "storage" : "error";
}

/* Record, do not print: the ranks agree on who prints in pof_comm_finish. The first call of an
   error (PETSC_ERROR_INITIAL) gives its message (a later error replaces an earlier one that was
   handled); every call adds its frame to the trace. */
static PetscErrorCode pof_error_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                        PetscErrorCode n, PetscErrorType p, const char *mess,
                                        void *ctx)
{
  size_t used = strlen(rec.trace);
  (void)ctx;
  (void)comm;
  if (p == PETSC_ERROR_INITIAL) { /* the newest error is the one that reaches main */
    const char *text = mess;
    if (!text || !*text) PetscErrorMessage(n, &text, NULL);
    snprintf(rec.msg, sizeof rec.msg, "%s", text ? text : "unknown error");
    for (char *c = rec.msg; *c; c++)
      if (*c == '\n') *c = ' ';
    rec.code     = n;
    rec.have     = 1;
    used         = 0;
    rec.trace[0] = '\0';
  }
  if (used + 8 < sizeof rec.trace)
    snprintf(rec.trace + used, sizeof rec.trace - used, "  %s() at %s:%d\n", func ? func : "?",
             file ? file : "?", line);
  return n;
}

/* Popped by PetscFinalize (PetscRegisterFinalize), so the handler's record is freed before
   PETSc's -malloc_dump looks for what is left. */
static PetscErrorCode pof_error_handler_pop(void)
{
  PetscFunctionBegin;
  PetscCall(PetscPopErrorHandler());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_error_handler_push(void)
{
  PetscFunctionBegin;
  memset(&rec, 0, sizeof rec);
  const char *trace = getenv("POF_ERROR_TRACE");
  if (trace && strcmp(trace, "0") != 0) trace_on = PETSC_TRUE;
  PetscCall(PetscPushErrorHandler(pof_error_handler, NULL));
  PetscCall(PetscRegisterFinalize(pof_error_handler_pop));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_error_print(const char *prefix)
{
  fprintf(stderr, "pof: error: %s%s\n", prefix ? prefix : "", rec.have ? rec.msg : "unknown error");
  if (trace_on && rec.have)
    fprintf(stderr, "pof: error trace (code %d):\n%s", (int)rec.code, rec.trace);
  fflush(stderr);
}

void pof_abort_all(PetscErrorCode ierr)
{
  char host[256] = "?", prefix[320];
  int  wrank     = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
  (void)gethostname(host, sizeof host);
  host[sizeof host - 1] = '\0';
  snprintf(prefix, sizeof prefix, "[rank %d on %s] ", wrank, host);
  fflush(stdout);
  pof_error_print(prefix);
  MPI_Abort(MPI_COMM_WORLD, pof_error_exit_status(ierr ? ierr : 1));
  _exit(POF_EXIT_ERROR); /* not reached */
}
PetscErrorCode pof_print(MPI_Comm comm, const char *fmt, ...)
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int pof_threads(void) { return omp_get_max_threads(); }

double pof_peak_rss_mb(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
  return (double)ru.ru_maxrss / 1024.0;
}

double pof_now(void) { return MPI_Wtime(); }
