/*
 * Peak arithmetic throughput of this CPU, measured: the ceiling for the convolution speed
 * figures of bench/speed_table.py (bench/roofline.py turns images/s into a fraction of it).
 *
 * Each thread runs a loop of independent multiply-adds with no memory traffic: 16 accumulators
 * (12 for AVX2, which has 16 vector registers: 16 accumulators spilled to memory and read half
 * the peak) so that the FMA latency is hidden. Kernels (2 FLOPs per multiply-add):
 *   fp32_avx512  _mm512_fmadd_ps    16 lanes  x 2 FLOPs = 32 FLOPs per instruction
 *   fp32_avx2    _mm256_fmadd_ps     8 lanes  x 2       = 16
 *   bf16_avx512  _mm512_dpbf16_ps   32 pairs  x 2       = 64  (AVX512_BF16, what oneDNN's jit_bf16
 * uses) A kernel the CPU lacks is skipped. Threads: OMP_NUM_THREADS (default: all cores). Output:
 * one JSON line per kernel: {"kernel":..., "threads":T, "gflops":G, "gflops_per_thread":g}. Usage:
 * peak_flops [seconds per kernel, default 1]
 */
#include "pof/nn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* The kernels live in src/nn/cpu.c (pof_nn_peak_gflops), which pof bench also reports. */
int main(int argc, char **argv)
{
  const double secs = argc > 1 ? atof(argv[1]) : 1.0;
  const int    nthr = omp_get_max_threads();
  if (!(secs > 0)) {
    fprintf(stderr, "peak_flops: seconds must be positive, got '%s'\n", argv[1]);
    return 2;
  }
  for (int k = 0; k < POF_PEAK_COUNT; k++) {
    if (!pof_nn_peak_supported((PofPeakKernel)k)) {
      printf("{\"kernel\":\"%s\",\"supported\":false}\n", pof_nn_peak_name((PofPeakKernel)k));
      continue;
    }
    const double gf = pof_nn_peak_gflops((PofPeakKernel)k, secs);
    printf("{\"kernel\":\"%s\",\"supported\":true,\"threads\":%d,\"gflops\":%.1f,\"gflops_per_"
           "thread\":%.1f}\n",
           pof_nn_peak_name((PofPeakKernel)k), nthr, gf, gf / nthr);
  }
  return 0;
}
