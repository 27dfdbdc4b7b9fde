/*
 * comm_bench: latency and bandwidth of the collectives pof uses, on MPI_COMM_WORLD.
 *   reduce_scatter  MPI_Reduce_scatter, float sum (blocking; for comparison)
 *   ireduce_scatter MPI_Ireduce_scatter + MPI_Wait, float sum (what the gradient exchange calls,
 *                   per bucket, src/comm/shard.c; Open MPI runs it with other algorithms, libnbc)
 *   allgather       MPI_Allgatherv in place, float (the parameter gather after the update)
 *   allreduce       MPI_Allreduce in place, double sum (synchronized BN statistics, loss sums)
 *   ring_reduce_scatter  a ring of point-to-point messages (P-1 steps of one block), float sum
 *   rh_reduce_scatter    recursive halving by distance doubling (log2 P steps; partner rank ^ d,
 *                   the blocks whose bit d differs from the rank's go to the partner): the same
 *                   sum tree as libnbc's binomial reduce ((r0+r1)+(r2+r3)), so bitwise the same
 *                   result, but every block is reduced towards its owner. Powers of two only
 *                   (skipped at other rank counts).
 * For each collective and message size (total bytes of the full vector, powers of 4 from 8 B to
 * -max bytes) it times -reps calls after 2 warm-up calls (barrier before each timed loop) and
 * prints one JSON line per point with the slowest rank's mean seconds per call:
 *   {"op":"allreduce","ranks":2,"bytes":4096,"seconds":1.2e-05}
 * Usage: mpiexec -n R comm_bench [-max BYTES] [-reps N]   (defaults 16777216 and 20)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the blocks k of [0, size) with (k & mask) == (rank & mask) and bit d of k equal to bit d of
   `who`, packed from buf into pack (to_pack) or unpacked-added from pack into buf; returns floats
 */
static long rh_blocks(float *buf, float *pack, int size, int rank, int who, int d, int mask,
                      const int *counts, const int *displs, int add)
{
  long m = 0;
  for (int k = 0; k < size; k++) {
    if ((k & mask) != (rank & mask) || (k & d) != (who & d)) continue;
    for (int i = 0; i < counts[k]; i++) {
      if (add == 0)
        pack[m + i] = buf[displs[k] + i];
      else
        buf[displs[k] + i] += pack[m + i];
    }
    m += counts[k];
  }
  return m;
}

/* recursive halving, distance doubling; the result (block `rank`) is left in buf (in place) */
static void rh_reduce_scatter(float *buf, float *tmp, float *tmp2, const int *counts,
                              const int *displs, MPI_Comm comm)
{
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  for (int d = 1; d < size; d <<= 1) {
    const int  mask = d - 1, peer = rank ^ d;
    const long ns = rh_blocks(buf, tmp, size, rank, peer, d, mask, counts, displs, 0);
    long       nr = 0;
    for (int k = 0; k < size; k++)
      if ((k & mask) == (rank & mask) && (k & d) == (rank & d)) nr += counts[k];
    MPI_Sendrecv(tmp, (int)ns, MPI_FLOAT, peer, 7, tmp2, (int)nr, MPI_FLOAT, peer, 7, comm,
                 MPI_STATUS_IGNORE);
    rh_blocks(buf, tmp2, size, rank, rank, d, mask, counts, displs, 1);
  }
}

/* ring: at step s rank r sends its partial sum of block (r - s - 1) mod P to r + 1 and adds the
   received partial of block (r - s - 2) mod P; after P-1 steps block r is complete */
static void ring_reduce_scatter(float *buf, float *tmp, const int *counts, const int *displs,
                                MPI_Comm comm)
{
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  for (int s = 0; s < size - 1; s++) {
    const int ks = ((rank - s - 1) % size + size) % size,
              kr = ((rank - s - 2) % size + size) % size;
    MPI_Sendrecv(buf + displs[ks], counts[ks], MPI_FLOAT, next, 8, tmp, counts[kr], MPI_FLOAT, prev,
                 8, comm, MPI_STATUS_IGNORE);
    for (int i = 0; i < counts[kr]; i++) buf[displs[kr] + i] += tmp[i];
  }
}

static double time_op(int op, void *buf, void *recv, long n, int *counts, int *displs, int reps,
                      MPI_Comm comm)
{
  double t0 = 0;
  for (int r = -2; r < reps; r++) {
    if (r == 0) {
      MPI_Barrier(comm);
      t0 = MPI_Wtime();
    }
    if (op == 0)
      MPI_Reduce_scatter(buf, recv, counts, MPI_FLOAT, MPI_SUM, comm);
    else if (op == 3) {
      MPI_Request req;
      MPI_Ireduce_scatter(buf, recv, counts, MPI_FLOAT, MPI_SUM, comm, &req);
      MPI_Wait(&req, MPI_STATUS_IGNORE);
    } else if (op == 4)
      ring_reduce_scatter(buf, recv, counts, displs, comm);
    else if (op == 5)
      rh_reduce_scatter(buf, recv, (float *)((char *)recv + (n + 16) * 4), counts, displs, comm);
    else if (op == 1)
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, comm);
    else
      MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, comm);
  }
  double dt = (MPI_Wtime() - t0) / reps, mx;
  MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm);
  return mx;
}

/* the point-to-point reduce-scatters against MPI_Ireduce_scatter on 1000 floats: returns 0 when
   they agree bitwise on every rank */
static int check_p2p(MPI_Comm comm)
{
  int size, rank, bad = 0, anybad;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  const int n = 1000;
  float    *v = malloc(sizeof(float) * 5 * n), *w = v + n, *ref = v + 2 * n, *tmp = v + 3 * n,
        *tmp2 = v + 4 * n;
  int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
  for (int r = 0; r < size; r++) {
    counts[r] = n * (r + 1) / size - n * r / size;
    displs[r] = n * r / size;
  }
  for (int alg = 4; alg <= 5; alg++) {
    if (alg == 5 && (size & (size - 1))) continue;
    /* inexact sums: the recursive halving must equal libnbc's MPI_Ireduce_scatter bitwise (the
       same sum tree); the ring only up to rounding (integers then) */
    for (int i = 0; i < n; i++)
      v[i] = w[i] = alg == 5 ? 1.0f / (float)(1 + (i * 7 + rank * 13) % 17) + (float)rank * 1e3f
                             : (float)((i * 7 + rank * 13) % 17);
    MPI_Request req;
    MPI_Ireduce_scatter(v, ref, counts, MPI_FLOAT, MPI_SUM, comm, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    if (alg == 4)
      ring_reduce_scatter(w, tmp, counts, displs, comm);
    else
      rh_reduce_scatter(w, tmp, tmp2, counts, displs, comm);
    for (int i = 0; i < counts[rank]; i++) bad |= w[displs[rank] + i] != ref[i];
  }
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, comm);
  free(v), free(counts), free(displs);
  return anybad;
}

int main(int argc, char **argv)
{
  long maxb = 16L << 20;
  int  reps = 20, size, rank;
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-max") && i + 1 < argc)
      maxb = atol(argv[++i]);
    else if (!strcmp(argv[i], "-reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      if (!rank)
        fprintf(stderr,
                "comm_bench: unknown argument '%s' (usage: comm_bench [-max BYTES] [-reps N])\n",
                argv[i]);
      MPI_Finalize();
      return 2;
    }
  }
  if (maxb < 8 || reps < 1) {
    if (!rank)
      fprintf(stderr, "comm_bench: -max must be >= 8 and -reps >= 1 (got %ld, %d)\n", maxb, reps);
    MPI_Finalize();
    return 2;
  }
  if (check_p2p(MPI_COMM_WORLD)) {
    if (!rank) fprintf(stderr, "comm_bench: the point-to-point reduce-scatters summed wrong\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  char *buf = calloc((size_t)maxb + 64, 1), *recv = calloc(2 * (size_t)maxb + 128, 1);
  int  *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
  if (!buf || !recv || !counts || !displs) MPI_Abort(MPI_COMM_WORLD, 1);
  static const char *names[6] = { "reduce_scatter",  "allgather",           "allreduce",
                                  "ireduce_scatter", "ring_reduce_scatter", "rh_reduce_scatter" };
  for (int op = 0; op < 6; op++) {
    if (op == 5 && (size & (size - 1))) continue; /* recursive halving: powers of two */
    for (long bytes = 8; bytes <= maxb; bytes *= 4) {
      const long n = op == 2 ? bytes / 8 : bytes / 4; /* elements of the full vector */
      for (int r = 0; r < size; r++) {
        counts[r] = (int)(n * (r + 1) / size - n * r / size);
        displs[r] = (int)(n * r / size);
      }
      const double s = time_op(op, buf, recv, n, counts, displs, reps, MPI_COMM_WORLD);
      if (!rank)
        printf("{\"op\":\"%s\",\"ranks\":%d,\"bytes\":%ld,\"seconds\":%.4e}\n", names[op], size,
               bytes, s);
      fflush(stdout);
    }
  }
  free(buf), free(recv), free(counts), free(displs);
  MPI_Finalize();
  return 0;
}
