/**
 * @file dist_exchange.h
 * @brief MPI collectives of the data path (src/dist only calls MPI collectives).
 *
 * The dataset loader plans which samples move where (pure computation in src/io) and calls
 * these to move them. Counts are in records, not bytes: a record is one contiguous derived
 * datatype of record_bytes, so a transfer of more than 2^31 bytes needs no special casing
 * as long as the number of records per peer fits an int.
 */
#ifndef POF_DIST_EXCHANGE_H
#define POF_DIST_EXCHANGE_H

#include "pof/core.h"

/** Reductions offered by pof_dist_allreduce_i64. */
typedef enum { POF_DIST_MIN = 0,
               POF_DIST_MAX = 1,
               POF_DIST_SUM = 2 } PofDistOp;

/**
 * All-to-all of fixed-size records. sendbuf holds sendcounts[0] records for rank 0, then
 * sendcounts[1] for rank 1, ... (packed, no gaps); recvbuf receives recvcounts[0] records
 * from rank 0, then from rank 1, ... (packed). Counts are in records; their sums must fit an
 * int. record_bytes must be in [1, 2^31). Collective on comm. Buffers are the caller's; a
 * rank that sends or receives nothing may pass NULL for that buffer.
 */
PetscErrorCode pof_dist_exchange_records(MPI_Comm comm, size_t record_bytes, const void *sendbuf, const int sendcounts[], void *recvbuf, const int recvcounts[]);

/** In place: vals[0..n) becomes the min / max / sum over the ranks of comm. Collective. */
PetscErrorCode pof_dist_allreduce_i64(MPI_Comm comm, int64_t *vals, int n, PofDistOp op);

/** Broadcast n bytes from root to every rank of comm (sent in pieces below 2^30 bytes). Collective. */
PetscErrorCode pof_dist_bcast_bytes(MPI_Comm comm, void *buf, size_t n, int root);

#endif
