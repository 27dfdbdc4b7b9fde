/**
 * @file signal.h
 * @brief Stop requests by signal: SIGUSR1 and SIGTERM set a flag that the training loops poll.
 *
 * The handlers are async-signal-safe: they only store the signal number in a volatile
 * sig_atomic_t. Nothing else happens in signal context; the training loop reads the flag after
 * each step, agrees with the other ranks (pof_comm_step_agree in comm.h, so every rank stops
 * after the same step and none is left in a collective), writes a checkpoint and returns a
 * "stopped" status, for which the program exits with POF_EXIT_CHECKPOINT (75).
 *
 * Commands that honour stop requests install the handlers (pof_signal_install, after
 * PetscInitialize, which installs PETSc's own handlers for these signals) and pass
 * pof_signal_caught as PofConfig.stop_requested. Commands that do not (eval, bench) leave the
 * default behaviour: the signal terminates the process.
 *
 * Test hook: with the environment variable POF_TEST_RAISE="step:N", rank 0 of MPI_COMM_WORLD
 * raises SIGUSR1 at itself when pof_signal_test_hook(N) is called (the trainer calls it after
 * global step N), so tests can stop a run at a deterministic step; "step:N:TERM" raises SIGTERM.
 * "step:N:WAIT" raises nothing: every rank holds after global step N (before that step's stop
 * agreement and periodic checkpoint) until a stop signal arrives from outside, 60 s at most, so a
 * test can signal mpiexec while the run is known to be mid-epoch however fast the steps are; each
 * rank first prints "pof: test hook: rank R holds after global step N ..." on stderr.
 */
#ifndef POF_SIGNAL_H
#define POF_SIGNAL_H

#include "pof/core.h"

/** Install the handlers for SIGUSR1 and SIGTERM (idempotent) and read POF_TEST_RAISE (an
    ill-formed value is an error naming it). Not collective. */
PetscErrorCode pof_signal_install(void);

/** The number of the first stop signal caught since install/reset, 0 if none. Async-signal-safe. */
int pof_signal_caught(void);

/** Forget a caught signal (tests; a driver running several configurations). */
void pof_signal_reset(void);

/** Test hook (see the file comment): raise the configured signal on world rank 0 (or, for WAIT,
    hold every rank until a stop signal is caught) when global_step equals the configured step.
    No-op without POF_TEST_RAISE. Not collective. */
void pof_signal_test_hook(PetscInt global_step);

/**
 * Test-only fault hook: with POF_TEST_FAULT="<point>[@<k>][:KILL|USR1|FAIL]" the k-th call (default
 * 1st) of pof_fault_point(<point>) on a rank does the action: KILL (default) raises SIGKILL on
 * every rank that gets there (the whole job dies, as on a node failure or a batch system's kill
 * -9); USR1 raises SIGUSR1 on world rank 0 (a stop request at that very point); FAIL returns 1 on
 * world rank 0 only, and the caller fails there as if the disk were full on that rank alone.
 * Points: "ckpt_<stage>" right after each stage of a checkpoint write (ckpt.c): create (temporary
 * made), metadata, data (parameters written), momentum, bn_running, theta0, checksums, close,
 * verify (read back, not yet renamed), commit (renamed, not yet pruned); "eval" (inside an
 * evaluation, after its first batch); "line" (the start of each line a rank runs in pof sweep:
 * FAIL there is an error on world rank 0 alone). Returns 0 otherwise; no-op without the variable.
 * Not collective.
 */
int pof_fault_point(const char *point);

/** Check POF_TEST_FAULT's form (an error naming it when ill-formed). Not collective. */
PetscErrorCode pof_fault_check(void);

/** "SIGUSR1", "SIGTERM" or "signal N". */
const char *pof_signal_name(int sig);

#endif
