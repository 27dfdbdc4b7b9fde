/* MPI test of src/comm/group.c: group split, the shared work counter, file-image broadcast.
   Run at 4 ranks (any count >= 2 works). Prints "ok ..." lines; exits non-zero on a failure.
   MPI is initialized at MPI_THREAD_MULTIPLE, as pof does (the counter's server thread), or with
   the argument "funneled" at MPI_THREAD_FUNNELED (the counter's MPI window). */
#include "pof/group.h"

#include <string.h>
#include <unistd.h>

static PetscErrorCode expect_error(PetscErrorCode ierr)
{
  return ierr ? PETSC_SUCCESS : PETSC_ERR_PLIB;
}

static PetscErrorCode quiet(MPI_Comm comm, int line, const char *func, const char *file,
                            PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  (void)comm, (void)line, (void)func, (void)file, (void)p, (void)mess, (void)ctx;
  return n;
}

static PetscErrorCode test_split(MPI_Comm world, PetscMPIInt wrank, PetscMPIInt wsize)
{
  PofGroups g;
  PetscFunctionBegin;
  for (PetscInt G = 1; G <= wsize; G++) {
    if (wsize % G) continue;
    PetscCall(pof_group_split(world, G, &g));
    PetscCheck(g.size == G && g.ngroups == wsize / G && g.group == wrank / G && g.rank == wrank % G,
               PETSC_COMM_SELF, PETSC_ERR_PLIB, "split G=%d: group %d of %d, rank %d", (int)G,
               g.group, g.ngroups, g.rank);
    PetscMPIInt gs, leader = wrank;
    PetscCallMPI(MPI_Comm_size(g.comm, &gs));
    PetscCallMPI(MPI_Bcast(&leader, 1, MPI_INT, 0, g.comm));
    PetscCheck(gs == G && leader == g.group * G, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "group comm of size %d, leader %d", gs, leader);
    PetscCall(pof_group_destroy(&g));
  }
  /* bad sizes: an error on every rank, no hang */
  PetscCall(PetscPushErrorHandler(quiet, NULL));
  PetscCall(expect_error(pof_group_split(world, 0, &g)));
  PetscCall(expect_error(pof_group_split(world, wsize + 1, &g)));
  if (wsize > 2) PetscCall(expect_error(pof_group_split(world, wsize - 1, &g)));
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscPrintf(world, "ok group split (G = 1..%d, bad sizes rejected)\n", wsize));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* every item 0..N-1 is taken by exactly one group; groups keep taking until they see >= N */
static PetscErrorCode test_counter(MPI_Comm world, PetscMPIInt wrank, PetscMPIInt wsize)
{
  const int  N = 50;
  PofGroups  g;
  PofCounter c;
  int        mine[64], nmine = 0, *counts, *all;
  int64_t    item;
  PetscFunctionBegin;
  PetscCall(pof_group_split(world, 2 <= wsize && wsize % 2 == 0 ? 2 : 1, &g));
  PetscCall(pof_counter_create(world, &c));
  for (;;) {
    PetscCall(pof_group_next_item(&g, c, &item));
    if (item >= N) break;
    PetscCheck(nmine < 64, PETSC_COMM_SELF, PETSC_ERR_PLIB, "too many items");
    mine[nmine++] = (int)item;
    /* every rank of the group must see the same item */
    int64_t lo = item, hi = item;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT64_T, MPI_MIN, g.comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT64_T, MPI_MAX, g.comm));
    PetscCheck(lo == hi, PETSC_COMM_SELF, PETSC_ERR_PLIB, "group %d saw items %lld and %lld",
               g.group, (long long)lo, (long long)hi);
    if (g.group == 0) usleep(2000); /* uneven speeds: the other groups take more */
  }
  PetscCallMPI(MPI_Barrier(world));
  PetscCall(pof_counter_destroy(&c));
  PetscCall(PetscCalloc2(N, &counts, N, &all));
  if (g.rank == 0)
    for (int i = 0; i < nmine; i++) counts[mine[i]]++;
  PetscCallMPI(MPI_Allreduce(counts, all, N, MPI_INT, MPI_SUM, world));
  for (int i = 0; i < N; i++)
    PetscCheck(all[i] == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "item %d taken %d times", i, all[i]);
  PetscCall(PetscFree2(counts, all));
  PetscCall(pof_group_destroy(&g));
  (void)wrank;
  int provided;
  PetscCallMPI(MPI_Query_thread(&provided));
  PetscCall(PetscPrintf(world, "ok counter (%s): %d items each taken exactly once by %d group(s)\n",
                        provided == MPI_THREAD_MULTIPLE ? "server thread" : "MPI window", N,
                        wsize % 2 == 0 ? wsize / 2 : wsize));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_image(MPI_Comm world, PetscMPIInt wrank, PetscMPIInt wsize)
{
  const size_t sizes[]  = { 0, 1, 100003 };
  const size_t chunks[] = { 7, 4096, 0 };
  PetscFunctionBegin;
  for (int si = 0; si < 3; si++)
    for (int ci = 0; ci < 3; ci++) {
      const int root = wsize - 1;
      void     *buf  = NULL;
      size_t    len  = sizes[si];
      if (wrank == root) {
        PetscCall(PetscMalloc(len ? len : 1, &buf));
        for (size_t i = 0; i < len; i++) ((unsigned char *)buf)[i] = (unsigned char)(i * 131 + 7);
      }
      PetscCall(pof_bcast_image(world, root, &buf, &len, chunks[ci]));
      PetscCheck(len == sizes[si], PETSC_COMM_SELF, PETSC_ERR_PLIB, "length %zu != %zu", len,
                 sizes[si]);
      for (size_t i = 0; i < len; i++)
        PetscCheck(((unsigned char *)buf)[i] == (unsigned char)(i * 131 + 7), PETSC_COMM_SELF,
                   PETSC_ERR_PLIB, "byte %zu differs (size %zu, chunk %zu)", i, len, chunks[ci]);
      PetscCall(PetscFree(buf));
    }
  PetscCall(
      PetscPrintf(world, "ok image broadcast (0, 1, 100003 bytes in chunks of 7, 4096, 2^30)\n"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscMPIInt wrank, wsize;
  PETSC_MPI_THREAD_REQUIRED =
      argc > 1 && !strcmp(argv[1], "funneled") ? MPI_THREAD_FUNNELED : MPI_THREAD_MULTIPLE;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  {
    int provided;
    PetscCallMPI(MPI_Query_thread(&provided));
    PetscCheck((provided == MPI_THREAD_MULTIPLE) ==
                   (PETSC_MPI_THREAD_REQUIRED == MPI_THREAD_MULTIPLE),
               PETSC_COMM_WORLD, PETSC_ERR_SUP, "asked for MPI thread level %d, got %d",
               PETSC_MPI_THREAD_REQUIRED, provided);
  }
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &wrank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &wsize));
  PetscCall(test_split(PETSC_COMM_WORLD, wrank, wsize));
  PetscCall(test_counter(PETSC_COMM_WORLD, wrank, wsize));
  PetscCall(test_image(PETSC_COMM_WORLD, wrank, wsize));
  PetscCall(PetscFinalize());
  return 0;
}
