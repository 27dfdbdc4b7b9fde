/* Sharded optimizer state, bucketed gradient reduce-scatter, allgather. See include/pof/comm.h. */
#include "pof/comm.h"
#include "pof/timer.h"
#include "comm/rh.h"

#include <stdlib.h>
#include <string.h>

#define POF_MAX_BUCKETS 1024

typedef struct {
  PetscInt  begin, end; /* arena range */
  PetscBool launched;
  int      *recvcounts; /* per rank: |bucket ∩ slice_r| */
} Bucket;

struct PofShard_s {
  MPI_Comm     comm;
  PetscMPIInt  rank, size;
  PetscInt     n, lo, hi;
  PetscInt    *ranges; /* size+1 ownership offsets */
  Vec          master, momentum;
  float       *grads;  /* model arena (reported slices) */
  float       *gslice; /* summed gradient of the owned slice: gbuf, or at 1 rank the arena itself */
  float       *gbuf;   /* owned receive buffer of the reduce-scatter (NULL at 1 rank) */
  PetscInt     low;    /* lowest reported offset */
  Bucket      *buckets;
  MPI_Request *reqs; /* (nbuckets) each bucket's open reduction, MPI_REQUEST_NULL when none */
  PofRh        rh;   /* recursive halving (power-of-two ranks), else NULL: MPI_Ireduce_scatter */
  PetscInt     nbuckets;
  PetscBool    unsync;
  int         *gather_counts, *gather_displs;
  struct {
    PetscInt exchanges, open_at_end; /* pof_shard_end calls; buckets still open in them */
    double   grad_wait, param_gather;
  } stats; /* this rank's, since the last pof_shard_stats_reset */
};

/* The recursive-halving exchange at power-of-two rank counts from 4 up, else MPI_Ireduce_scatter
   (libnbc). Both sum in the same tree: the results are bitwise the same. At 2 ranks both move the
   same bytes into rank 0 for the last bucket and the halving only lets rank 1 reach the parameter
   gather earlier, which measured no faster (docs/design.md, "Over a measured network").
   POF_REDUCE_SCATTER=rh|libnbc forces one (a benchmark switch, bench/comm_net.sh; rh still needs a
   power of two). */
static PetscErrorCode shard_rh_create(PofShard s)
{
  const char *alg = getenv("POF_REDUCE_SCATTER");
  PetscInt   *begin, *end;
  PetscFunctionBegin;
  if (alg && !strcmp(alg, "libnbc")) PetscFunctionReturn(PETSC_SUCCESS);
  if (!(alg && !strcmp(alg, "rh")) && s->size < 4) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc2(s->nbuckets, &begin, s->nbuckets, &end));
  for (PetscInt b = 0; b < s->nbuckets; b++)
    begin[b] = s->buckets[b].begin, end[b] = s->buckets[b].end;
  PetscCall(pof_rh_create(s->comm, s->nbuckets, begin, end, s->ranges, &s->rh));
  PetscCall(PetscFree2(begin, end));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_create(MPI_Comm comm, PetscInt n, PetscInt bucket_elems,
                                const float *params, PofShard *out)
{
  PofShard s;
  PetscFunctionBegin;
  PetscCheck(n > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "parameter count must be positive");
  PetscCall(PetscCalloc1(1, &s));
  s->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &s->rank));
  PetscCallMPI(MPI_Comm_size(comm, &s->size));
  s->n = n;
  PetscCall(VecCreateMPI(comm, PETSC_DECIDE, n, &s->master));
  PetscCall(VecDuplicate(s->master, &s->momentum));
  PetscCall(VecSet(s->momentum, 0.0));
  PetscCall(VecGetOwnershipRange(s->master, &s->lo, &s->hi));
  PetscCall(PetscMalloc1(s->size + 1, &s->ranges));
  {
    const PetscInt *r;
    PetscCall(VecGetOwnershipRanges(s->master, &r));
    for (PetscMPIInt i = 0; i <= s->size; i++) s->ranges[i] = r[i];
  }
  PetscCheck(n < 0x7fffffff, comm, PETSC_ERR_SUP,
             "more than 2^31 parameters are not supported (MPI int counts)");
  {
    PetscScalar *m;
    PetscCall(VecGetArray(s->master, &m));
    for (PetscInt i = s->lo; i < s->hi; i++) m[i - s->lo] = params[i];
    PetscCall(VecRestoreArray(s->master, &m));
  }
  /* at 1 rank the "summed" gradient is the arena itself (set by pof_shard_begin): no float copy
     of every parameter (146 MB for WRN-28-10) */
  if (s->size > 1) PetscCall(PetscCalloc1(PetscMax(s->hi - s->lo, 1), &s->gbuf));
  /* buckets: equal contiguous ranges of about bucket_elems */
  if (bucket_elems <= 0) bucket_elems = 1 << 20;
  s->nbuckets = PetscMin((n + bucket_elems - 1) / bucket_elems, POF_MAX_BUCKETS);
  PetscCall(PetscCalloc1(s->nbuckets, &s->buckets));
  PetscCall(PetscMalloc1(s->nbuckets, &s->reqs));
  for (PetscInt b = 0; b < s->nbuckets; b++) {
    Bucket *B = &s->buckets[b];
    B->begin  = n * b / s->nbuckets;
    B->end    = n * (b + 1) / s->nbuckets;
    PetscCall(PetscMalloc1(s->size, &B->recvcounts));
    for (PetscMPIInt r = 0; r < s->size; r++) {
      const PetscInt a = PetscMax(B->begin, s->ranges[r]), e = PetscMin(B->end, s->ranges[r + 1]);
      B->recvcounts[r] = (int)(e > a ? e - a : 0);
    }
    s->reqs[b] = MPI_REQUEST_NULL;
  }
  PetscCall(shard_rh_create(s));
  PetscCall(PetscMalloc2(s->size, &s->gather_counts, s->size, &s->gather_displs));
  for (PetscMPIInt r = 0; r < s->size; r++) {
    s->gather_counts[r] = (int)(s->ranges[r + 1] - s->ranges[r]);
    s->gather_displs[r] = (int)s->ranges[r];
  }
  *out = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_destroy(PofShard *ps)
{
  PofShard s = *ps;
  PetscFunctionBegin;
  if (!s) PetscFunctionReturn(PETSC_SUCCESS);
  if (s->reqs) PetscCallMPI(MPI_Waitall((int)s->nbuckets, s->reqs, MPI_STATUSES_IGNORE));
  PetscCall(pof_rh_destroy(&s->rh));
  for (PetscInt b = 0; b < s->nbuckets; b++) PetscCall(PetscFree(s->buckets[b].recvcounts));
  PetscCall(PetscFree(s->buckets));
  PetscCall(PetscFree(s->reqs));
  PetscCall(VecDestroy(&s->master));
  PetscCall(VecDestroy(&s->momentum));
  PetscCall(PetscFree(s->ranges));
  PetscCall(PetscFree(s->gbuf));
  PetscCall(PetscFree2(s->gather_counts, s->gather_displs));
  PetscCall(PetscFree(*ps));
  PetscFunctionReturn(PETSC_SUCCESS);
}

Vec  pof_shard_master(PofShard s) { return s->master; }
Vec  pof_shard_momentum(PofShard s) { return s->momentum; }
void pof_shard_range(PofShard s, PetscInt *lo, PetscInt *hi)
{
  *lo = s->lo;
  *hi = s->hi;
}
void pof_shard_set_unsynchronized(PofShard s, PetscBool flag) { s->unsync = flag; }

PetscErrorCode pof_shard_begin(PofShard s, float *grads)
{
  PetscFunctionBegin;
  s->grads  = grads;
  s->low    = s->n;
  s->gslice = s->gbuf ? s->gbuf : grads;
  for (PetscInt b = 0; b < s->nbuckets; b++) s->buckets[b].launched = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode launch(PofShard s, PetscInt b)
{
  Bucket *B = &s->buckets[b];
  PetscFunctionBegin;
  const PetscInt a = PetscMax(B->begin, s->lo), e = PetscMin(B->end, s->hi);
  float         *recv = s->gslice + (e > a ? a - s->lo : 0);
  if (!s->gbuf) { /* 1 rank: the arena is the sum */
    s->reqs[b] = MPI_REQUEST_NULL;
  } else if (s->unsync) { /* negative control: keep the local gradient */
    if (e > a) PetscCall(PetscArraycpy(recv, s->grads + a, e - a));
    s->reqs[b] = MPI_REQUEST_NULL;
  } else if (s->rh) {
    PetscCall(pof_rh_start(s->rh, b, s->grads + B->begin, recv));
    s->reqs[b] = MPI_REQUEST_NULL;
  } else {
    PetscCallMPI(MPI_Ireduce_scatter(s->grads + B->begin, recv, B->recvcounts, MPI_FLOAT, MPI_SUM,
                                     s->comm, &s->reqs[b]));
  }
  B->launched = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_grad_ready(void *ctx, PetscInt offset, PetscInt count)
{
  PofShard s = (PofShard)ctx;
  PetscFunctionBegin;
  PetscCheck(offset + count == s->low, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "gradient slices must arrive in decreasing, contiguous order (got [%" PetscInt_FMT
             ", %" PetscInt_FMT ") after %" PetscInt_FMT ")",
             offset, offset + count, s->low);
  s->low = offset;
  /* buckets are launched from the top of the arena downwards, all ranks in the same order */
  for (PetscInt b = s->nbuckets - 1; b >= 0; b--) {
    Bucket *B = &s->buckets[b];
    if (B->launched) continue;
    if (B->begin < s->low) break;
    PetscCall(launch(s, b));
  }
  /* let the non-blocking collectives progress (Open MPI progresses them inside MPI calls) */
  for (PetscInt b = 0; b < s->nbuckets; b++) {
    int       flag;
    PetscBool done;
    if (s->buckets[b].launched && s->reqs[b] != MPI_REQUEST_NULL)
      PetscCallMPI(MPI_Test(&s->reqs[b], &flag, MPI_STATUS_IGNORE));
    if (s->buckets[b].launched && s->rh) PetscCall(pof_rh_test(s->rh, b, &done));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_end(PofShard s)
{
  PetscFunctionBegin;
  if (s->low > 0) PetscCall(pof_shard_grad_ready(s, 0, s->low));
  pof_timer_start(POF_T_COMM_WAIT);
  const double t0 = pof_now();
  /* how many buckets the overlap with backward did not finish (an MPI_Test also progresses them) */
  for (PetscInt b = 0; b < s->nbuckets; b++) {
    int       done = 1;
    PetscBool rdone;
    if (s->reqs[b] != MPI_REQUEST_NULL)
      PetscCallMPI(MPI_Test(&s->reqs[b], &done, MPI_STATUS_IGNORE));
    if (s->rh) {
      PetscCall(pof_rh_test(s->rh, b, &rdone));
      done = rdone;
    }
    if (!done) s->stats.open_at_end++;
  }
  if (s->rh)
    PetscCall(pof_rh_wait_all(s->rh));
  else
    PetscCallMPI(MPI_Waitall((int)s->nbuckets, s->reqs, MPI_STATUSES_IGNORE));
  s->stats.grad_wait += pof_now() - t0;
  s->stats.exchanges++;
  pof_timer_stop(POF_T_COMM_WAIT);
  PetscFunctionReturn(PETSC_SUCCESS);
}

const float *pof_shard_grad_slice(PofShard s) { return s->gslice; }

PetscErrorCode pof_shard_stats(PofShard s, PofShardStats *st)
{
  double w[2] = { s->stats.grad_wait, s->stats.param_gather },
         open = (double)s->stats.open_at_end / (double)PetscMax(s->stats.exchanges, 1);
  PetscFunctionBegin;
  PetscCall(pof_comm_allreduce_sum(s->comm, w, 2));
  PetscCall(pof_comm_allreduce_max(s->comm, &open, 1));
  st->buckets      = s->gbuf ? s->nbuckets : 0; /* 1 rank: no collective */
  st->open_at_end  = open;
  st->grad_wait    = w[0] / s->size;
  st->param_gather = w[1] / s->size;
  PetscFunctionReturn(PETSC_SUCCESS);
}
void pof_shard_stats_reset(PofShard s) { memset(&s->stats, 0, sizeof(s->stats)); }

PetscErrorCode pof_shard_gather_params(PofShard s, float *params)
{
  const PetscScalar *m;
  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(s->master, &m));
  for (PetscInt i = s->lo; i < s->hi; i++) params[i] = (float)m[i - s->lo];
  PetscCall(VecRestoreArrayRead(s->master, &m));
  pof_timer_start(POF_T_COMM_WAIT);
  const double t0 = pof_now();
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, params, s->gather_counts,
                              s->gather_displs, MPI_FLOAT, s->comm));
  s->stats.param_gather += pof_now() - t0;
  pof_timer_stop(POF_T_COMM_WAIT);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_gather_grad(PofShard s, float *full)
{
  PetscFunctionBegin;
  if (s->hi > s->lo && full + s->lo != s->gslice)
    PetscCall(PetscArraycpy(full + s->lo, s->gslice, s->hi - s->lo));
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full, s->gather_counts,
                              s->gather_displs, MPI_FLOAT, s->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_shard_sgd(PofShard s, const PofSgdParams *p, PetscInt begin, PetscInt end,
                             float *params)
{
  PetscScalar *m, *v;
  PetscFunctionBegin;
  pof_timer_start(POF_T_OPTIMIZER);
  PetscCall(VecGetArray(s->master, &m));
  PetscCall(VecGetArray(s->momentum, &v));
  const PetscInt a = PetscMax(begin, s->lo), e = PetscMin(end, s->hi);
  const double   mu = p->momentum, wd = p->wd, lr = p->lr;
  for (PetscInt i = a; i < e; i++) {
    const PetscInt k = i - s->lo;
    double         g = (double)s->gslice[k] + wd * m[k];
    if (mu != 0.0) {
      v[k] = mu * v[k] + g; /* torch sets buf = g on the first step: the same, from zero */
      g    = p->nesterov ? g + mu * v[k] : v[k];
    }
    m[k] -= lr * g;
  }
  PetscCall(VecRestoreArray(s->momentum, &v));
  PetscCall(VecRestoreArray(s->master, &m));
  pof_timer_stop(POF_T_OPTIMIZER);
  PetscCall(pof_shard_gather_params(s, params));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ small reductions */
PetscErrorCode pof_comm_sum_doubles(void *ctx, double *buf, PetscInt n)
{
  MPI_Comm comm = *(MPI_Comm *)ctx;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_allreduce_sum(MPI_Comm comm, double *buf, PetscInt n)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_allreduce_max(MPI_Comm comm, double *buf, PetscInt n)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_MAX, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
