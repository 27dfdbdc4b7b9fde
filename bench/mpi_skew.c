/*
 * mpi_skew: a PMPI interposer (LD_PRELOAD) that measures how unevenly the ranks reach the two
 * waits of pof's step, for bench/comm_net.sh. Per step (one MPI_Allgatherv: the parameter gather
 * after the update) it records, on this rank's CLOCK_MONOTONIC:
 *   wait   the first MPI_Waitall or MPI_Waitsome since the previous MPI_Allgatherv
 *          (src/comm/shard.c, pof_shard_end: the wait for the gradient buckets after backward;
 *          MPI_Waitall for libnbc's, MPI_Waitsome for the recursive halving), -1 if none
 *   gather the entry into MPI_Allgatherv
 * and at MPI_Finalize writes them to $MPI_SKEW_OUT.<world rank> as one JSON object,
 *   {"rank":0,"wait":[...],"gather":[...]}
 * bench/comm_net.py turns them into the skew per step: the mean over ranks of (the latest
 * rank's entry - this rank's). Meaningful only where the ranks share one clock (one host).
 * Build: mpicc -O2 -shared -fPIC -o libmpi_skew.so bench/mpi_skew.c
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAXSTEPS 4096
static double wait_t[MAXSTEPS], gather_t[MAXSTEPS], cur_wait = -1;
static int    nsteps;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int MPI_Waitall(int count, MPI_Request reqs[], MPI_Status st[])
{
  if (cur_wait < 0) cur_wait = now();
  return PMPI_Waitall(count, reqs, st);
}

int MPI_Waitsome(int count, MPI_Request reqs[], int *outcount, int idx[], MPI_Status st[])
{
  if (cur_wait < 0) cur_wait = now();
  return PMPI_Waitsome(count, reqs, outcount, idx, st);
}

int MPI_Allgatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[],
                   const int displs[], MPI_Datatype rt, MPI_Comm comm)
{
  if (nsteps < MAXSTEPS) {
    wait_t[nsteps]   = cur_wait;
    gather_t[nsteps] = now();
    nsteps++;
  }
  cur_wait = -1;
  return PMPI_Allgatherv(sb, sc, st, rb, rc, displs, rt, comm);
}

int MPI_Finalize(void)
{
  const char *out = getenv("MPI_SKEW_OUT");
  int         rank;
  PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (out) {
    char path[4096];
    snprintf(path, sizeof(path), "%s.%d", out, rank);
    FILE *f = fopen(path, "w");
    if (f) {
      fprintf(f, "{\"rank\":%d,\"wait\":[", rank);
      for (int i = 0; i < nsteps; i++) fprintf(f, "%s%.9f", i ? "," : "", wait_t[i]);
      fprintf(f, "],\"gather\":[");
      for (int i = 0; i < nsteps; i++) fprintf(f, "%s%.9f", i ? "," : "", gather_t[i]);
      fprintf(f, "]}\n");
      fclose(f);
    }
  }
  return PMPI_Finalize();
}
