/**
 * @file comm.h
 * @brief MPI side of training: sharded optimizer state in PETSc Vecs, bucketed non-blocking
 *        gradient reduce-scatter, parameter allgather, synchronized-BN and scalar reductions.
 *
 * Only src/comm (and PETSc) calls MPI collectives. Rank r owns the contiguous slice
 * [o_r, o_{r+1}) of the flat parameter vector (ZeRO-1): the master parameters and the momentum
 * are MPI-parallel PETSc Vecs of doubles (PetscScalar) with that ownership. During backward the
 * model reports finished gradient slices (in reverse layer order); each fixed bucket of the
 * arena is reduce-scattered as soon as it is complete (recvcounts = |bucket ∩ slice_r|):
 * by recursive halving over point-to-point messages at 4, 8, 16, ... ranks (src/comm/rh.c), else
 * with MPI_Ireduce_scatter (libnbc; the same sum tree, bitwise the same result), progressed from
 * the backward hooks, overlapping communication with the rest of backward. After the last
 * bucket every rank updates its slice in double and the float compute copy is allgathered.
 */
#ifndef POF_COMM_H
#define POF_COMM_H

#include <petscvec.h>

#include "pof/core.h"

typedef struct PofShard_s *PofShard;

/** SGD hyper-parameters of one update (torch.optim.SGD semantics, dampening 0). */
typedef struct {
  double    lr, momentum, wd;
  PetscBool nesterov;
} PofSgdParams;

/**
 * Create the sharded state for n parameters on comm, with gradient buckets of about
 * bucket_elems elements (0 = default 1M). The master Vec is initialized from `params` (the
 * float arena, identical on every rank). Collective.
 */
PetscErrorCode pof_shard_create(MPI_Comm comm, PetscInt n, PetscInt bucket_elems,
                                const float *params, PofShard *s);
PetscErrorCode pof_shard_destroy(PofShard *s);

/** The master-parameter and momentum Vecs (double, owned by the shard; do not destroy). */
Vec pof_shard_master(PofShard s);
Vec pof_shard_momentum(PofShard s);
/** This rank's slice [*lo, *hi). */
void pof_shard_range(PofShard s, PetscInt *lo, PetscInt *hi);

/** Start collecting a new gradient from `grads` (the model's float gradient arena). Local. */
PetscErrorCode pof_shard_begin(PofShard s, float *grads);
/**
 * The gradient slice [offset, offset+count) is final (a PofGradReadyFn; ctx = the shard).
 * Slices must arrive in decreasing offset order and tile [lo_reported, n). Launches the
 * reduce-scatter of every bucket that became complete. Collective in the sense that every rank
 * must report the same slices in the same order.
 */
PetscErrorCode pof_shard_grad_ready(void *ctx, PetscInt offset, PetscInt count);
/** Report every slice not yet reported down to offset 0 and wait for all buckets (timed as
    communication wait). Afterwards the rank's slice of the summed gradient is available.
   Collective. */
PetscErrorCode pof_shard_end(PofShard s);
/** What the exchange did since creation or the last pof_shard_stats_reset, over all ranks. */
typedef struct {
  PetscInt buckets;     /**< gradient buckets per exchange (0 at 1 rank: no collective) */
  double   open_at_end; /**< buckets still in flight when backward ended, per exchange (one per
                             pof_shard_end: one per SGD/PoF step, two per SAM step), worst rank */
  double grad_wait;     /**< seconds in pof_shard_end waiting for the buckets, mean over ranks */
  double param_gather;  /**< seconds in the allgather of pof_shard_gather_params (includes
                             waiting for the slowest rank), mean over ranks */
} PofShardStats;
/** Reduce this rank's exchange counters over the shard's communicator. Collective. */
PetscErrorCode pof_shard_stats(PofShard s, PofShardStats *st);
void           pof_shard_stats_reset(PofShard s);

/** A deliberately broken exchange for negative-control tests: skip the reduction (each rank keeps
 * its own gradient). */
void pof_shard_set_unsynchronized(PofShard s, PetscBool flag);

/**
 * One SGD step on the owned slice restricted to [begin, end) of the parameter vector (e.g. the
 * feature extractor only), in double, then allgather of the float compute copy into `params`
 * (every rank's arena becomes identical). Collective.
 */
PetscErrorCode pof_shard_sgd(PofShard s, const PofSgdParams *p, PetscInt begin, PetscInt end,
                             float *params);
/** Copy the master parameters (all of them) into the float arena on every rank (allgather).
 * Collective. */
PetscErrorCode pof_shard_gather_params(PofShard s, float *params);
/** The summed gradient of the owned slice (valid after pof_shard_end): pointer to hi - lo floats.
    At 1 rank it is the gradient arena given to pof_shard_begin (no copy), so it stays valid only
    while that arena is not written again. */
const float *pof_shard_grad_slice(PofShard s);
/** Allgather the summed gradient into `full` (n floats on every rank). Collective. */
PetscErrorCode pof_shard_gather_grad(PofShard s, float *full);

/** Synchronized-BN reduction (a PofSumFn; ctx = a pointer to the MPI_Comm). Collective. */
PetscErrorCode pof_comm_sum_doubles(void *ctx, double *buf, PetscInt n);
/** In-place sum of n doubles over comm. */
PetscErrorCode pof_comm_allreduce_sum(MPI_Comm comm, double *buf, PetscInt n);
/** In-place max of n doubles over comm. */
PetscErrorCode pof_comm_allreduce_max(MPI_Comm comm, double *buf, PetscInt n);

/**
 * Stop agreement: *stop = the maximum of local_flag over comm (one int MPI_Allreduce). The
 * training loops call it after every step with the rank's caught stop signal (0 = none), so
 * either every rank stops after this step or none does, and no rank is left in a collective.
 * Collective.
 */
PetscErrorCode pof_comm_stop_agree(MPI_Comm comm, int local_flag, int *stop);

/**
 * The one reduction of a training step: sums[0] and sums[1] are summed over comm in place (the
 * step's loss sum and misclassified count, so the epoch's figures are sums of global per-step
 * values: the same after a resume, and independent of the rank count up to this sum's order),
 * and *stop = the maximum of local_flag (as pof_comm_stop_agree). One MPI_Allreduce of three
 * doubles. Collective: every rank calls it once after every training step.
 */
PetscErrorCode pof_comm_step_agree(MPI_Comm comm, int local_flag, double sums[2], int *stop);

/**
 * The ranks' agreement at the end of a pof process (DESIGN.md "Exit statuses and error output").
 * pof_comm_finish_init: once after PetscInitialize, on every rank of MPI_COMM_WORLD (it
 * duplicates the communicator, so the agreement matches no collective of the program).
 * pof_comm_finish: every rank calls it once at the end, with the error its command returned
 * (ierr, 0 if none) and the status to exit with when every rank succeeded (ok_status). The
 * ranks agree in a bounded wait (POF_ERROR_AGREE_SECONDS, default 10 s), then:
 *  - all succeeded: PetscFinalize, returns ok_status;
 *  - all failed: rank 0 prints its error once (`pof: error: <what>`), and the last stdout line
 *    `{"command":..,"status":"error","message":..}`; PetscFinalize; returns the error's status;
 *  - some failed: each failing rank prints `pof: error: [rank R on HOST] <what>`, rank 0 the JSON
 *    line with the lowest failing rank's message; PetscFinalize; returns the error's status;
 *  - the agreement does not complete (a rank is blocked or busy elsewhere): a failing rank
 *    prints as above and aborts every rank (MPI_Abort; the launcher's banner may follow).
 * With the trace on (pof_error_set_trace) the frames follow the message.
 */
PetscErrorCode pof_comm_finish_init(void);
int            pof_comm_finish(const char *command, PetscErrorCode ierr, int ok_status);

#endif
