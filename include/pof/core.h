/**
 * @file core.h
 * @brief Error idiom, exit statuses, process start/stop and rank-0 printing.
 *
 * Every fallible function returns a PetscErrorCode and is written in PETSc's idiom:
 * PetscFunctionBegin / PetscCall / PetscCheck / PetscCallMPI / PetscFunctionReturn.
 * oneDNN calls are checked with PofCallDNNL (src/nn only) and HDF5 calls with PofCallH5
 * (src/io only); both turn a failure into a PETSc error that names the failed call.
 *
 * An error anywhere stops the whole job: pof_error_handler() prints one message (on the
 * failing rank, or on rank 0 only when the check was collective on a larger communicator)
 * and the program's main() aborts every rank with status POF_EXIT_ERROR.
 */
#ifndef POF_CORE_H
#define POF_CORE_H

#include <petscsys.h>
#include <stdint.h>
#include <stddef.h>

/* PETSc 3.18 (Debian 12) predates PETSC_SUCCESS. */
#ifndef PETSC_SUCCESS
#  define PETSC_SUCCESS ((PetscErrorCode)0)
#endif

/** Exit statuses of the pof program (documented in the README). */
enum {
  POF_EXIT_OK         = 0,  /**< finished */
  POF_EXIT_ERROR      = 1,  /**< any error: bad input, bad option, failed call */
  POF_EXIT_FAILED_RUN = 3,  /**< pof sweep went through its grid, but some lines failed */
  POF_EXIT_CHECKPOINT = 75, /**< stopped on a signal after writing a checkpoint (EX_TEMPFAIL) */
};

/** Error code pof uses for failures of external libraries (oneDNN, HDF5, zlib). */
#define POF_ERR_LIB PETSC_ERR_LIB

/** Install pof's error handler (one concise message per error, see file comment). */
PetscErrorCode pof_error_handler_push(void);

/**
 * Abort every rank of MPI_COMM_WORLD with POF_EXIT_ERROR. Called by main() when a
 * command returns an error, so no rank is left waiting in a collective.
 */
void pof_abort_all(PetscErrorCode ierr) __attribute__((noreturn));

/** printf on rank 0 of comm only (PetscPrintf), flushed. */
PetscErrorCode pof_print(MPI_Comm comm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Number of OpenMP threads a rank uses (OMP_NUM_THREADS, or the runtime default). */
int pof_threads(void);

/** Peak resident set size of this process in MiB (from getrusage). */
double pof_peak_rss_mb(void);

/** Wall-clock seconds (MPI_Wtime). */
double pof_now(void);

#endif
