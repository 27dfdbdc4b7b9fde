/* Error handler and process helpers: see include/pof/core.h. */
#include "pof/core.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* Set when this process printed an error message: pof_abort_all() then aborts at once; a rank
 * that stayed silent (it left the message of a collective check to rank 0) waits a moment first,
 * so that its MPI_Abort does not kill rank 0 before rank 0 has printed. */
static volatile int pof_error_printed = 0;

static PetscErrorCode pof_error_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                        PetscErrorCode n, PetscErrorType p, const char *mess,
                                        void *ctx)
{
  (void)ctx;
  if (p != PETSC_ERROR_INITIAL) return n; /* propagated: printed already */
  int print = 1;
  if (comm != PETSC_COMM_SELF && comm != MPI_COMM_NULL) {
    int rank = 0, size = 1;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    print = (rank == 0); /* a collective check fails on every rank: say it once */
  }
  if (print) {
    int wrank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    const char *text = mess;
    if (!text || !*text) PetscErrorMessage(n, &text, NULL);
    fprintf(stderr, "pof: error: %s\n", text ? text : "unknown error");
    fprintf(stderr, "pof: (rank %d, %s() at %s:%d, code %d)\n", wrank, func ? func : "?",
            file ? file : "?", line, (int)n);
    fflush(stderr);
    pof_error_printed = 1;
  }
  return n;
}

PetscErrorCode pof_error_handler_push(void)
{
  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(pof_error_handler, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_abort_all(PetscErrorCode ierr)
{
  (void)ierr;
  fflush(stdout);
  fflush(stderr);
  if (!pof_error_printed) usleep(500000); /* let the rank that prints the message do so */
  MPI_Abort(MPI_COMM_WORLD, POF_EXIT_ERROR);
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
