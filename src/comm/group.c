/* Rank groups, the shared work counter and file-image broadcast: see include/pof/group.h. */
#include "pof/group.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

struct PofCounter_s {
  MPI_Win  win;
  int64_t *base;
};

PetscErrorCode pof_counter_create(MPI_Comm world, PofCounter *out)
{
  PofCounter  c;
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(world, &rank));
  PetscCall(PetscNew(&c));
  PetscCallMPI(MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t),
                                MPI_INFO_NULL, world, &c->base, &c->win));
  if (rank == 0) {
    PetscCallMPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win));
    *c->base = 0;
    PetscCallMPI(MPI_Win_unlock(0, c->win));
  }
  PetscCallMPI(MPI_Barrier(world)); /* nobody takes a value before it is initialized */
  *out = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_counter_next(PofCounter c, int64_t *value)
{
  const int64_t one = 1;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, c->win));
  PetscCallMPI(MPI_Fetch_and_op(&one, value, MPI_INT64_T, 0, 0, MPI_SUM, c->win));
  PetscCallMPI(MPI_Win_unlock(0, c->win));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_counter_destroy(PofCounter *c)
{
  PetscFunctionBegin;
  if (!*c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Win_free(&(*c)->win));
  PetscCall(PetscFree(*c));
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
