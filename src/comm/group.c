/* Rank groups, the shared work counter and file-image broadcast: see include/pof/group.h. */
#include "pof/group.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

PetscErrorCode pof_group_split(MPI_Comm world, PetscInt G, PofGroups *g)
{
  PetscMPIInt wrank, wsize;
  PetscFunctionBegin;
  memset(g, 0, sizeof(*g));
  g->comm  = MPI_COMM_NULL;
  g->agree = MPI_COMM_NULL;
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCallMPI(MPI_Comm_size(world, &wsize));
  PetscCheck(G >= 1 && G <= wsize, world, PETSC_ERR_ARG_OUTOFRANGE,
             "-sweep_group_size %" PetscInt_FMT " must be in [1, %d] (the rank count)", G,
             (int)wsize);
  PetscCheck(wsize % G == 0, world, PETSC_ERR_ARG_WRONG,
             "-sweep_group_size %" PetscInt_FMT " does not divide the %d ranks", G, (int)wsize);
  g->world   = world;
  g->size    = (PetscMPIInt)G;
  g->group   = wrank / g->size;
  g->ngroups = wsize / g->size;
  PetscCallMPI(MPI_Comm_split(world, g->group, wrank, &g->comm));
  PetscCallMPI(MPI_Comm_rank(g->comm, &g->rank));
  PetscCallMPI(MPI_Comm_dup(g->comm, &g->agree));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_group_destroy(PofGroups *g)
{
  PetscFunctionBegin;
  if (g->comm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&g->comm));
  if (g->agree != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&g->agree));
  g->comm  = MPI_COMM_NULL;
  g->agree = MPI_COMM_NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two ways to keep the counter, chosen by the thread level MPI gave (the same on every rank):
   - MPI_THREAD_MULTIPLE (pof's main asks for it): world rank 0 runs a server thread that answers
     requests sent with point-to-point messages on a duplicate of world. No one-sided
     communication: Open MPI 4.1 has no window component for TCP between nodes at this level
     (osc/pt2pt refuses MULTIPLE, osc/rdma needs an RDMA network), so MPI_Win_allocate failed with
     MPI_ERR_WIN for a sweep whose ranks sat on two Ethernet-connected nodes.
   - a lower level: an MPI window on world rank 0 and MPI_Fetch_and_op (passive target). */
enum { COUNTER_SERVER, COUNTER_WINDOW };
enum { TAG_REQUEST = 1, TAG_REPLY = 2 };
/* the server thread's sleep between tests of its request: 2 ms */
#define COUNTER_POLL_NS 2000000L

struct PofCounter_s {
  int         mode;
  MPI_Comm    comm;   /* COUNTER_SERVER: a duplicate of world (owned) */
  PetscMPIInt rank;   /* in world */
  pthread_t   thread; /* COUNTER_SERVER on rank 0 */
  int         thread_started;
  int64_t     value; /* COUNTER_SERVER: the next value, owned by the server thread */
  int         error; /* COUNTER_SERVER: the server thread's first MPI error (0 = none) */
  MPI_Win     win;   /* COUNTER_WINDOW */
  int64_t    *base;
};

/* The server thread on world rank 0: one request (an int64: 1 = take a value, -1 = stop) at a
   time from any rank, answered with the value. It polls with MPI_Iprobe and sleeps between probes
   so that it does not spin a core beside the training on rank 0. Requests are served in arrival
   order; each value is handed out once. */
static void *counter_serve(void *arg)
{
  PofCounter c = (PofCounter)arg;
  for (;;) {
    int64_t    msg  = 0;
    int        seen = 0;
    MPI_Status st;
    while (!seen) { /* only this thread receives TAG_REQUEST on c->comm: the probed message is
                       the one received next */
      const struct timespec ts = { 0, COUNTER_POLL_NS };
      if ((c->error = MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, c->comm, &seen, &st))) return NULL;
      if (!seen) nanosleep(&ts, NULL);
    }
    if ((c->error = MPI_Recv(&msg, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_REQUEST, c->comm,
                             MPI_STATUS_IGNORE)))
      return NULL;
    if (msg < 0) return NULL;
    if ((c->error = MPI_Send(&c->value, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_REPLY, c->comm)))
      return NULL;
    c->value++;
  }
}

PetscErrorCode pof_counter_create(MPI_Comm world, PofCounter *out)
{
  PofCounter c;
  int        provided = MPI_THREAD_SINGLE;
  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->comm = MPI_COMM_NULL;
  c->win  = MPI_WIN_NULL;
  PetscCallMPI(MPI_Comm_rank(world, &c->rank));
  PetscCallMPI(MPI_Query_thread(&provided));
  c->mode = provided == MPI_THREAD_MULTIPLE ? COUNTER_SERVER : COUNTER_WINDOW;
  if (c->mode == COUNTER_SERVER) {
    int err = 0;
    PetscCallMPI(MPI_Comm_dup(world, &c->comm));
    if (c->rank == 0) {
      err               = pthread_create(&c->thread, NULL, counter_serve, c);
      c->thread_started = !err;
    }
    PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, world));
    PetscCheck(!err, world, PETSC_ERR_SYS, "cannot start the sweep's line counter thread: %s",
               strerror(err));
  } else {
    PetscCallMPI(MPI_Win_allocate(c->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t),
                                  MPI_INFO_NULL, world, &c->base, &c->win));
    if (c->rank == 0) {
      PetscCallMPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win));
      *c->base = 0;
      PetscCallMPI(MPI_Win_unlock(0, c->win));
    }
    PetscCallMPI(MPI_Barrier(world)); /* nobody takes a value before it is initialized */
  }
  *out = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_counter_next(PofCounter c, int64_t *value)
{
  const int64_t one = 1;
  PetscFunctionBegin;
  if (c->mode == COUNTER_SERVER) {
    PetscCallMPI(MPI_Send(&one, 1, MPI_INT64_T, 0, TAG_REQUEST, c->comm));
    PetscCallMPI(MPI_Recv(value, 1, MPI_INT64_T, 0, TAG_REPLY, c->comm, MPI_STATUS_IGNORE));
  } else {
    PetscCallMPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, c->win));
    PetscCallMPI(MPI_Fetch_and_op(&one, value, MPI_INT64_T, 0, 0, MPI_SUM, c->win));
    PetscCallMPI(MPI_Win_unlock(0, c->win));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_counter_destroy(PofCounter *cp)
{
  PofCounter c   = *cp;
  int        err = 0;
  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(PETSC_SUCCESS);
  if (c->mode == COUNTER_SERVER) {
    /* every rank has its last reply: no request is in flight after the barrier */
    PetscCallMPI(MPI_Barrier(c->comm));
    if (c->thread_started) {
      const int64_t stop = -1;
      PetscCallMPI(MPI_Send(&stop, 1, MPI_INT64_T, 0, TAG_REQUEST, c->comm));
      (void)pthread_join(c->thread, NULL);
      err = c->error;
    }
    PetscCallMPI(MPI_Comm_free(&c->comm));
  } else
    PetscCallMPI(MPI_Win_free(&c->win));
  PetscCall(PetscFree(*cp));
  PetscCallMPI(err);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_group_next_item(const PofGroups *g, PofCounter c, int64_t *item)
{
  PetscFunctionBegin;
  if (g->rank == 0) PetscCall(pof_counter_next(c, item));
  PetscCallMPI(MPI_Bcast(item, 1, MPI_INT64_T, 0, g->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_bcast_image(MPI_Comm comm, int root, void **buf, size_t *len, size_t chunk)
{
  PetscMPIInt rank;
  uint64_t    n;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!chunk || chunk > ((size_t)1 << 30)) chunk = (size_t)1 << 30;
  n = rank == root ? (uint64_t)*len : 0;
  PetscCallMPI(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm));
  if (rank != root) {
    *len = (size_t)n;
    *buf = NULL;
    PetscCall(PetscMalloc(n ? (size_t)n : 1, buf));
  }
  for (size_t off = 0; off < (size_t)n; off += chunk) {
    const size_t piece = (size_t)n - off < chunk ? (size_t)n - off : chunk;
    PetscCallMPI(MPI_Bcast((char *)*buf + off, (int)piece, MPI_BYTE, root, comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_bcast_file(MPI_Comm comm, int root, const char *path, void **buf, size_t *len)
{
  PetscMPIInt rank;
  int64_t     err = 0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  *buf = NULL;
  *len = 0;
  if (rank == root) {
    FILE *f = fopen(path, "rb");
    long  sz;
    if (!f)
      err = errno;
    else if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
      err = errno ? errno : EIO;
    else {
      *len = (size_t)sz;
      PetscCall(PetscMalloc(*len ? *len : 1, buf));
      if (*len && fread(*buf, 1, *len, f) != *len) err = ferror(f) ? EIO : EINVAL;
    }
    if (f) fclose(f);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT64_T, root, comm));
  if (err && rank == root) PetscCall(PetscFree(*buf));
  PetscCheck(!err, comm, PETSC_ERR_FILE_READ, "cannot read '%s': %s", path, strerror((int)err));
  PetscCall(pof_bcast_image(comm, root, buf, len, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
