/**
 * @file comm_exchange.h
 * @brief Named MPI collectives of the data path and the drivers (only src/comm calls MPI
 *        collectives; each function says who must call it).
 *
 * The dataset loader plans which samples move where (pure computation in src/io) and calls
 * these to move them. Counts are in records, not bytes: a record is one contiguous derived
 * datatype of record_bytes, so a transfer of more than 2^31 bytes needs no special casing
 * as long as the number of records per peer fits an int.
 */
#ifndef POF_COMM_EXCHANGE_H
#define POF_COMM_EXCHANGE_H

#include "pof/core.h"

#include <stdint.h>

/** Reductions offered by pof_comm_allreduce_i64. */
typedef enum { POF_COMM_MIN = 0, POF_COMM_MAX = 1, POF_COMM_SUM = 2 } PofCommOp;

/**
 * All-to-all of fixed-size records. sendbuf holds sendcounts[0] records for rank 0, then
 * sendcounts[1] for rank 1, ... (packed, no gaps); recvbuf receives recvcounts[0] records
 * from rank 0, then from rank 1, ... (packed). Counts are in records; their sums must fit an
 * int. record_bytes must be in [1, 2^31). Collective on comm. Buffers are the caller's; a
 * rank that sends or receives nothing may pass NULL for that buffer.
 */
PetscErrorCode pof_comm_exchange_records(MPI_Comm comm, size_t record_bytes, const void *sendbuf,
                                         const int sendcounts[], void *recvbuf,
                                         const int recvcounts[]);

/** In place: vals[0..n) becomes the min / max / sum over the ranks of comm. Collective. */
PetscErrorCode pof_comm_allreduce_i64(MPI_Comm comm, int64_t *vals, int n, PofCommOp op);

/** Broadcast n bytes from root to every rank of comm (sent in pieces below 2^30 bytes). Collective.
 */
PetscErrorCode pof_comm_bcast_bytes(MPI_Comm comm, void *buf, size_t n, int root);

/**
 * An outcome that rank 0 alone found (its files: a lock, a listing, a summary), made every rank's:
 * rank 0's `code` (0 = success, else the PETSc error code to raise) and its msg (len bytes) are
 * broadcast; on a failure every rank returns that error with that message, together (no wait for
 * an error agreement's time-out). Other ranks' code and msg are ignored on entry; msg holds rank
 * 0's on return. Collective.
 */
PetscErrorCode pof_comm_rank0_verdict(MPI_Comm comm, PetscErrorCode code, char *msg, size_t len);

/** Wait until every rank of comm has called it (timing and phase boundaries). Collective. */
PetscErrorCode pof_comm_barrier(MPI_Comm comm);

/** *any = whether `mine` is true on some rank of comm (a logical or). Collective. */
PetscErrorCode pof_comm_any(MPI_Comm comm, PetscBool mine, PetscBool *any);

/** all[r * n + i] = rank r's mine[i] (n 64-bit words from every rank, in rank order). Collective.
 */
PetscErrorCode pof_comm_allgather_u64(MPI_Comm comm, const uint64_t *mine, int n, uint64_t *all);

/**
 * Agree on an outcome that every rank of comm reached on its own: *any_failed = whether some rank
 * has failed = PETSC_TRUE; then msg (len bytes, NUL-terminated) holds on every rank the message of
 * the lowest failing rank (its own msg on entry). Collective: every rank calls it once per outcome.
 */
PetscErrorCode pof_comm_agree_failure(MPI_Comm comm, PetscBool failed, char *msg, size_t len,
                                      PetscBool *any_failed);

/**
 * pof_comm_agree_failure for an outcome a rank may reach alone while the others are still inside
 * collectives of their own (use a communicator nothing else uses, e.g. a duplicate): non-blocking.
 * A rank that failed waits at most POF_ERROR_AGREE_SECONDS (default 10) s for the others; when
 * they do not come (*reached = PETSC_FALSE) the failure is confined to it and the caller aborts
 * (the timed-out request stays open, its buffers in static storage; a later call is refused).
 * A rank that did not fail waits as long as it takes (the failed ones come or abort the job).
 * `code` travels with the message: *code_out = the code of the lowest failing rank. Collective.
 */
PetscErrorCode pof_comm_agree_failure_bounded(MPI_Comm comm, PetscBool failed, int code, char *msg,
                                              size_t len, PetscBool *any_failed, int *code_out,
                                              PetscBool *reached);

/**
 * Nodes that disagree: does every rank of comm hold rank 0's `digest` (of a file it reads, of what
 * it sees in a directory)? `here` says in words what this rank sees. *same = PETSC_TRUE, or
 * PETSC_FALSE and msg (len bytes, on every rank) = "rank R on HOST: <R's here>; rank 0 on HOST0:
 * <0's here>" for the lowest rank R that differs. Collective.
 */
PetscErrorCode pof_comm_same_digest(MPI_Comm comm, uint64_t digest, const char *here, char *msg,
                                    size_t len, PetscBool *same);

#endif
