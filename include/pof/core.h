/**
 * @file core.h
 * @brief Error idiom, exit statuses, process start/stop and rank-0 printing.
 *
 * Every fallible function returns a PetscErrorCode and is written in PETSc's idiom:
 * PetscFunctionBegin / PetscCall / PetscCheck / PetscCallMPI / PetscFunctionReturn.
 * oneDNN calls are checked with PofCallDNNL (src/nn only) and HDF5 calls with PofCallH5
 * (src/io only); both turn a failure into a PETSc error that names the failed call.
 *
 * Errors follow one contract (DESIGN.md "Exit statuses and error output"): pof's error handler
 * records the first message of an error on this process, and the frames it passes through,
 * without printing; main() then calls pof_comm_finish() (comm.h), where the ranks agree on the
 * outcome (bounded wait) and the message is printed once (every rank failed: rank 0 prints
 * `pof: error: <what>`), or by each failing rank with its rank and host (only some failed); the
 * locations and frames only when the trace is on (-run_error_trace or POF_ERROR_TRACE=1).
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
  POF_EXIT_LOST_PEER  = 69, /**< a peer was lost: a rank, a node, or no progress (watchdog.h) */
  POF_EXIT_STORAGE    = 74, /**< storage failure while writing (disk full, quota, I/O error) */
  POF_EXIT_CHECKPOINT = 75, /**< stopped on a signal after writing a checkpoint (EX_TEMPFAIL) */
};

/** Error code pof uses for failures of external libraries (oneDNN, HDF5, zlib). */
#define POF_ERR_LIB PETSC_ERR_LIB
/** Error code of a storage failure while writing (disk full, quota, I/O error): exit
    POF_EXIT_STORAGE, JSON status "storage". Outside PETSc's own range of codes. */
#define POF_ERR_STORAGE ((PetscErrorCode)274)

/** Install pof's error handler (records the error, see the file comment). */
PetscErrorCode pof_error_handler_push(void);

/** What pof's error handler recorded on this process (the first error since the last reset). */
typedef struct {
  int            have;        /**< an error was recorded */
  PetscErrorCode code;        /**< its PETSc error code */
  char           msg[2048];   /**< its message, one line */
  char           trace[4096]; /**< "func() at file:line" of each frame it passed, one per line */
} PofErrorRecord;

/** The record of this process's error (have = 0 if none). Not collective. */
const PofErrorRecord *pof_error_record(void);
/** Whether a trace (locations, frames) is printed with errors; set from -run_error_trace. */
void      pof_error_set_trace(PetscBool on);
PetscBool pof_error_trace(void);
/** Exit status of an error code: POF_EXIT_STORAGE for POF_ERR_STORAGE, else POF_EXIT_ERROR.
    Not collective. */
int pof_error_exit_status(PetscErrorCode code);
/** The error code of a failed write with errno `err`: POF_ERR_STORAGE for a full disk, quota, I/O
    error, file too large or read-only file system (ENOSPC, EDQUOT, EIO, EFBIG, EROFS), else
    PETSC_ERR_FILE_WRITE. */
PetscErrorCode pof_error_of_write_errno(int err);

/**
 * Print this process's recorded error with its rank and host (`pof: error: [rank R on HOST]
 * ...`, the trace if on) and abort every rank of MPI_COMM_WORLD with the error's status: for an
 * error that only some ranks see, when the others cannot be reached (pof_comm_finish's wait ran
 * out). The launcher's banner may follow.
 */
void pof_abort_all(PetscErrorCode ierr) __attribute__((noreturn));

/** Print the recorded error of this process as `pof: error: [prefix]<msg>` (+ trace if on). */
void pof_error_print(const char *prefix);

/** The JSON "status" word of an exit status: "storage" (74), else "error". */
const char *pof_exit_status_word(int status);

/** printf on rank 0 of comm only (PetscPrintf), flushed. */
PetscErrorCode pof_print(MPI_Comm comm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Number of OpenMP threads a rank uses (OMP_NUM_THREADS, or the runtime default). */
int pof_threads(void);

/** Peak resident set size of this process in MiB (from getrusage). */
double pof_peak_rss_mb(void);

/** Wall-clock seconds (MPI_Wtime). */
double pof_now(void);

#endif
