/**
 * @file watchdog.h
 * @brief -run_step_timeout: end the job with POF_EXIT_LOST_PEER (69) when this process has made
 * no progress for S seconds (a peer SIGSTOPped or on a silent node, a stuck file system).
 *
 * "Progress" is pof_phase_beat/pof_phase_enter (phase.h): every training step, evaluation batch,
 * checkpoint or dataset chunk written or read. A thread of each rank wakes every min(1, S/4) s;
 * when the phase is not POF_WATCH_IDLE and the last progress is more than S s old, it prints
 * `pof: error: no progress for S s in <phase> at step N` (rank 0; other ranks with
 * `[rank R on HOST] ` before the text), rank 0 also the JSON line
 * `{"command":..,"status":"lost_peer","message":..}`, and calls
 * MPI_Abort(MPI_COMM_WORLD, 69): the launcher ends every rank (a stopped one too). When
 * POF_LOST_PEER_FILE is set, the line is also appended to that file first: a launcher that cannot
 * reach a silent node may never finish the abort, and the job scripts end it (jobs/env.sh).
 * Checkpoints are written under a temporary name and renamed once complete, so the newest complete
 * checkpoint stays the newest one.
 *
 * Thread level: MPI_Abort is called from the watchdog thread while the main thread may be inside
 * an MPI call (blocked in the collective that waits for the lost peer). That is legal only at
 * MPI_THREAD_MULTIPLE, which main() requests (PETSC_MPI_THREAD_REQUIRED); pof_watchdog_start
 * refuses S > 0 when the library provides less. The thread makes no other MPI call, blocks every
 * signal (SIGUSR1/SIGTERM stay the main thread's) and reads the phase through C11 atomics.
 */
#ifndef POF_WATCHDOG_H
#define POF_WATCHDOG_H

#include "pof/core.h"

/** The command named in the JSON line, and this process's rank in MPI_COMM_WORLD. Main thread,
    after MPI_Init, before any pof_watchdog_start. Not collective. */
void pof_watchdog_init(const char *command);
/** Start watching with limit `seconds` (0: do nothing). Starts nest: the outermost start's limit
    holds until the matching number of stops. Errors on comm when MPI_THREAD_MULTIPLE is
    missing or the thread cannot be made. Not collective. */
PetscErrorCode pof_watchdog_start(MPI_Comm comm, double seconds);
/** Undo one pof_watchdog_start (the last one joins the thread at once). Safe without a start. */
void pof_watchdog_stop(void);
/** Stop whatever runs (main(), before the ranks agree on the outcome). */
void pof_watchdog_stop_all(void);

#endif
