/*
 * comm_bench: latency and bandwidth of the collectives pof uses, on MPI_COMM_WORLD.
 *   reduce_scatter  MPI_Reduce_scatter, float sum (blocking; for comparison)
 *   ireduce_scatter MPI_Ireduce_scatter + MPI_Wait, float sum (what the gradient exchange calls,
 *                   per bucket, src/comm/shard.c; Open MPI runs it with other algorithms, libnbc)
 *   allgather       MPI_Allgatherv in place, float (the parameter gather after the update)
 *   allreduce       MPI_Allreduce in place, double sum (synchronized BN statistics, loss sums)
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
    } else if (op == 1)
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, comm);
    else
      MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, comm);
  }
  double dt = (MPI_Wtime() - t0) / reps, mx;
  MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm);
  return mx;
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
  char *buf = calloc((size_t)maxb + 64, 1), *recv = calloc((size_t)maxb + 64, 1);
  int  *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
  if (!buf || !recv || !counts || !displs) MPI_Abort(MPI_COMM_WORLD, 1);
  static const char *names[4] = { "reduce_scatter", "allgather", "allreduce", "ireduce_scatter" };
  for (int op = 0; op < 4; op++) {
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
