/* Recursive-halving reduce-scatter of float buckets, non-blocking. See rh.h. */
#include "comm/rh.h"

#include <string.h>

struct PofRh_s {
  MPI_Comm      comm;
  PetscMPIInt   rank, size, nsteps;
  PetscInt      nb;
  PetscInt     *len, *off, *roff; /* per bucket: floats, offset in acc, offset in rbuf */
  PetscInt     *blk;              /* (nb x (size+1)) block offsets within each bucket */
  float        *acc, *rbuf;       /* partial sums; receive buffers */
  MPI_Datatype *stype;            /* (nb x nsteps) the blocks sent at each step */
  int          *nrecv;            /* (nb x nsteps) floats received at each step */
  int          *step;             /* per bucket: the step in flight, -1 when idle */
  float       **dst;
  MPI_Request  *rq; /* (2 nb) receive, send of each bucket's step */
};

/* is block k sent (send = 1) or kept (0) by rank at step distance d */
static int rh_in(int k, int rank, int d, int send)
{
  const int mask = d - 1;
  if ((k & mask) != (rank & mask)) return 0;
  return send ? (k & d) != (rank & d) : (k & d) == (rank & d);
}

/* the send types and receive counts of bucket b */
static PetscErrorCode rh_plan(PofRh r, PetscInt b)
{
  const PetscInt *o = r->blk + (size_t)b * ((size_t)r->size + 1);
  int            *bl, *dp, nrmax = 0;
  PetscFunctionBegin;
  PetscCall(PetscMalloc2(r->size, &bl, r->size, &dp));
  for (int i = 0; i < r->nsteps; i++) {
    const int d = 1 << i;
    int       m = 0, nr = 0;
    for (int k = 0; k < r->size; k++) {
      const int c = (int)(o[k + 1] - o[k]);
      if (c > 0 && rh_in(k, r->rank, d, 1)) bl[m] = c, dp[m++] = (int)o[k];
      if (rh_in(k, r->rank, d, 0)) nr += c;
    }
    PetscCallMPI(MPI_Type_indexed(m, bl, dp, MPI_FLOAT, &r->stype[b * r->nsteps + i]));
    PetscCallMPI(MPI_Type_commit(&r->stype[b * r->nsteps + i]));
    r->nrecv[b * r->nsteps + i] = nr;
    nrmax                       = PetscMax(nrmax, nr);
  }
  PetscCall(PetscFree2(bl, dp));
  r->roff[b + 1] = r->roff[b] + nrmax;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rh_create(MPI_Comm comm, PetscInt nbuckets, const PetscInt *begin,
                             const PetscInt *end, const PetscInt *ranges, PofRh *out)
{
  PetscMPIInt size;
  PofRh       r;
  PetscFunctionBegin;
  *out = NULL;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size < 2 || (size & (size - 1))) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscCalloc1(1, &r));
  PetscCallMPI(MPI_Comm_dup(comm, &r->comm));
  PetscCallMPI(MPI_Comm_rank(comm, &r->rank));
  r->size = size;
  r->nb   = nbuckets;
  while ((1 << r->nsteps) < size) r->nsteps++;
  PetscCall(PetscMalloc4(nbuckets, &r->len, nbuckets + 1, &r->off, nbuckets + 1, &r->roff,
                         nbuckets * (size + 1), &r->blk));
  PetscCall(PetscMalloc5(nbuckets * r->nsteps, &r->stype, nbuckets * r->nsteps, &r->nrecv, nbuckets,
                         &r->step, nbuckets, &r->dst, 2 * nbuckets, &r->rq));
  r->off[0] = r->roff[0] = 0;
  for (PetscInt b = 0; b < nbuckets; b++) {
    r->len[b]            = end[b] - begin[b];
    r->off[b + 1]        = r->off[b] + r->len[b];
    r->step[b]           = -1;
    r->rq[2 * (size_t)b] = MPI_REQUEST_NULL;
    r->rq[2 * b + 1]     = MPI_REQUEST_NULL;
    for (PetscMPIInt k = 0; k <= size; k++)
      r->blk[b * (size + 1) + k] = PetscMin(PetscMax(ranges[k], begin[b]), end[b]) - begin[b];
    PetscCall(rh_plan(r, b));
  }
  PetscCall(PetscMalloc2(PetscMax(r->off[nbuckets], 1), &r->acc, PetscMax(r->roff[nbuckets], 1),
                         &r->rbuf));
  *out = r;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rh_destroy(PofRh *pr)
{
  PofRh r = *pr;
  PetscFunctionBegin;
  if (!r) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_rh_wait_all(r));
  for (PetscInt i = 0; i < r->nb * r->nsteps; i++) PetscCallMPI(MPI_Type_free(&r->stype[i]));
  PetscCallMPI(MPI_Comm_free(&r->comm));
  PetscCall(PetscFree2(r->acc, r->rbuf));
  PetscCall(PetscFree4(r->len, r->off, r->roff, r->blk));
  PetscCall(PetscFree5(r->stype, r->nrecv, r->step, r->dst, r->rq));
  PetscCall(PetscFree(*pr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* post step i of bucket b (tag b: buckets in flight together never match each other) */
static PetscErrorCode rh_post(PofRh r, PetscInt b, int i)
{
  const int peer = r->rank ^ (1 << i);
  PetscFunctionBegin;
  r->step[b] = i;
  PetscCallMPI(MPI_Irecv(r->rbuf + r->roff[b], r->nrecv[b * r->nsteps + i], MPI_FLOAT, peer, (int)b,
                         r->comm, &r->rq[2 * (size_t)b]));
  PetscCallMPI(MPI_Isend(r->acc + r->off[b], 1, r->stype[b * r->nsteps + i], peer, (int)b, r->comm,
                         &r->rq[2 * b + 1]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* both messages of bucket b's step are done: add the partner's partials to the kept blocks, then
   post the next step or copy this rank's block to dst */
static PetscErrorCode rh_advance(PofRh r, PetscInt b)
{
  const int       i = r->step[b], d = 1 << i;
  const PetscInt *o   = r->blk + (size_t)b * ((size_t)r->size + 1);
  float          *acc = r->acc + r->off[b];
  const float    *in  = r->rbuf + r->roff[b];
  PetscFunctionBegin;
  for (int k = 0; k < r->size; k++) {
    if (!rh_in(k, r->rank, d, 0)) continue;
    for (PetscInt j = o[k]; j < o[k + 1]; j++) acc[j] += *in++;
  }
  if (i + 1 < r->nsteps)
    PetscCall(rh_post(r, b, i + 1));
  else {
    r->step[b] = -1;
    if (o[r->rank + 1] > o[r->rank])
      PetscCall(PetscArraycpy(r->dst[b], acc + o[r->rank], o[r->rank + 1] - o[r->rank]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rh_start(PofRh r, PetscInt b, const float *src, float *dst)
{
  PetscFunctionBegin;
  PetscCheck(r->step[b] < 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE,
             "bucket %" PetscInt_FMT " started while in flight", b);
  if (r->len[b] > 0) PetscCall(PetscArraycpy(r->acc + r->off[b], src, r->len[b]));
  r->dst[b] = dst;
  PetscCall(rh_post(r, b, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rh_test(PofRh r, PetscInt b, PetscBool *done)
{
  PetscFunctionBegin;
  while (r->step[b] >= 0) {
    int flag;
    PetscCallMPI(MPI_Testall(2, &r->rq[2 * (size_t)b], &flag, MPI_STATUSES_IGNORE));
    if (!flag) break;
    PetscCall(rh_advance(r, b));
  }
  *done = r->step[b] < 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rh_wait_all(PofRh r)
{
  int *idx;
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(2 * r->nb, &idx));
  for (;;) {
    int n;
    PetscCallMPI(MPI_Waitsome((int)(2 * r->nb), r->rq, &n, idx, MPI_STATUSES_IGNORE));
    if (n == MPI_UNDEFINED) break;
    for (PetscInt b = 0; b < r->nb; b++)
      if (r->step[b] >= 0 && r->rq[2 * (size_t)b] == MPI_REQUEST_NULL &&
          r->rq[2 * b + 1] == MPI_REQUEST_NULL)
        PetscCall(rh_advance(r, b));
  }
  PetscCall(PetscFree(idx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
