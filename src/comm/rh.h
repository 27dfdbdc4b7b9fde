/* Non-blocking reduce-scatter of float buckets by recursive halving over point-to-point messages
   (internal to src/comm; the gradient exchange of src/comm/shard.c at power-of-two rank counts).

   Distance doubling: at step d = 1, 2, 4, ... rank r exchanges with r ^ d; it sends its partial
   sums of the blocks (ranks' parts of the bucket) whose bit d differs from its own and adds the
   partner's partials of the blocks it keeps. The sum of every element is ((r0+r1)+(r2+r3))...:
   the tree of libnbc's MPI_Ireduce_scatter (a binomial reduce to rank 0, then a scatter), so the
   result is bitwise the same; but every block is reduced towards its owner, no rank carries
   log2 P times the bucket, and there is no scatter. log2 P message steps per bucket. */
#pragma once
#include "pof/core.h"

typedef struct PofRh_s *PofRh;

/* For buckets [begin[b], end[b]) (b < nbuckets) of a vector whose part of rank r is
   [ranges[r], ranges[r+1]). *out = NULL (use MPI_Ireduce_scatter) unless the size of comm is a
   power of two >= 2. Collective (duplicates comm). */
PetscErrorCode pof_rh_create(MPI_Comm comm, PetscInt nbuckets, const PetscInt *begin,
                             const PetscInt *end, const PetscInt *ranges, PofRh *out);
PetscErrorCode pof_rh_destroy(PofRh *r);
/* Start bucket b: src is the bucket's local data (end - begin floats, read now), dst receives
   this rank's part of the sum (|bucket ∩ own part| floats) when the bucket completes. */
PetscErrorCode pof_rh_start(PofRh r, PetscInt b, const float *src, float *dst);
/* Progress bucket b without blocking; *done when its sum is in dst (or it was not started). */
PetscErrorCode pof_rh_test(PofRh r, PetscInt b, PetscBool *done);
/* Complete every started bucket (MPI_Waitsome over the open steps, at least one call). */
PetscErrorCode pof_rh_wait_all(PofRh r);
