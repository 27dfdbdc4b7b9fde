/**
 * @file group.h
 * @brief Rank groups of pof sweep: communicator split, a dynamic work counter, file-image
 * broadcast.
 *
 * The world communicator is split into size/G groups of G consecutive ranks (group g holds
 * world ranks [g*G, (g+1)*G)); rank 0 of each group is its leader. Work items (grid lines) are
 * handed out by a shared counter kept on world rank 0: a leader takes the next item and
 * broadcasts it in its group, so a group that finishes early takes the next item (dynamic load
 * balance). Under MPI_THREAD_MULTIPLE (what pof asks for) a thread on world rank 0 answers
 * point-to-point requests, which work over any transport (TCP between nodes included); at a lower
 * thread level the counter is an MPI window read with MPI_Fetch_and_op (passive target).
 */
#ifndef POF_GROUP_H
#define POF_GROUP_H

#include "pof/core.h"

typedef struct {
  MPI_Comm    world; /**< the communicator that was split (not owned) */
  MPI_Comm    comm;  /**< this rank's group (owned; freed by pof_group_destroy) */
  PetscMPIInt group; /**< index of this rank's group */
  PetscMPIInt ngroups;
  PetscMPIInt size;  /**< G: ranks per group */
  PetscMPIInt rank;  /**< rank in the group (0 = leader) */
  MPI_Comm    agree; /**< a duplicate of comm for the verdict of a line (owned): it cannot match a
                          collective of the line's run, which a rank that failed alone leaves */
} PofGroups;

/** Split world into groups of G ranks; error naming the sizes if G < 1 or G does not divide the
 * world size. Collective on world. */
PetscErrorCode pof_group_split(MPI_Comm world, PetscInt G, PofGroups *g);
PetscErrorCode pof_group_destroy(PofGroups *g);

typedef struct PofCounter_s *PofCounter;

/** A shared counter (int64, starting at 0) on world rank 0: a server thread there under
 * MPI_THREAD_MULTIPLE, else an MPI window. Collective on world. */
PetscErrorCode pof_counter_create(MPI_Comm world, PofCounter *c);
/** Atomically take the current value and add 1 (any rank, alone: rank 0 takes no action). */
PetscErrorCode pof_counter_next(PofCounter c, int64_t *value);
/** Stop the server thread or free the window. Collective on world (call after every rank has
 * stopped taking values). */
PetscErrorCode pof_counter_destroy(PofCounter *c);

/**
 * The group's next work item: the leader takes it from the counter, every rank of the group
 * gets it (MPI_Bcast on g->comm). Collective on g->comm.
 */
PetscErrorCode pof_group_next_item(const PofGroups *g, PofCounter c, int64_t *item);

/**
 * Broadcast a byte buffer from root to every rank of comm: *len first, then the bytes in pieces
 * of at most `chunk` bytes (0 = 2^30; every MPI count stays below 2^31). On non-root ranks *buf
 * is allocated here (PetscMalloc; free with PetscFree). Collective on comm.
 */
PetscErrorCode pof_bcast_image(MPI_Comm comm, int root, void **buf, size_t *len, size_t chunk);

/** Read a whole file on root and broadcast it with pof_bcast_image (error naming the file, on every
 * rank). Collective. */
PetscErrorCode pof_bcast_file(MPI_Comm comm, int root, const char *path, void **buf, size_t *len);

#endif
