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
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define NACC  16
#define NACC2 12 /* AVX2: accumulators + 2 operands fit in 16 ymm registers */

static double now(void) { return omp_get_wtime(); }

__attribute__((target("avx512f"))) static double run_fp32_avx512(long iters)
{
  __m512 acc[NACC], a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
  for (int k = 0; k < NACC; k++) acc[k] = _mm512_set1_ps((float)k);
  for (long i = 0; i < iters; i++)
#pragma GCC unroll 16
    for (int k = 0; k < NACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  float s = 0, o[16];
  for (int k = 0; k < NACC; k++) {
    _mm512_storeu_ps(o, acc[k]);
    s += o[0];
  }
  return s;
}

__attribute__((target("avx2,fma"))) static double run_fp32_avx2(long iters)
{
  __m256 acc[NACC2], a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
  for (int k = 0; k < NACC2; k++) acc[k] = _mm256_set1_ps((float)k);
  for (long i = 0; i < iters; i++)
#pragma GCC unroll 16
    for (int k = 0; k < NACC2; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  float s = 0, o[8];
  for (int k = 0; k < NACC2; k++) {
    _mm256_storeu_ps(o, acc[k]);
    s += o[0];
  }
  return s;
}

__attribute__((target("avx512f,avx512bf16"))) static double run_bf16_avx512(long iters)
{
  __m512   acc[NACC];
  __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80),
           b = (__m512bh)_mm512_set1_epi16(0x3f80); /* 1.0 in bf16 */
  for (int k = 0; k < NACC; k++) acc[k] = _mm512_set1_ps((float)k);
  for (long i = 0; i < iters; i++)
#pragma GCC unroll 16
    for (int k = 0; k < NACC; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  float s = 0, o[16];
  for (int k = 0; k < NACC; k++) {
    _mm512_storeu_ps(o, acc[k]);
    s += o[0];
  }
  return s;
}

typedef struct {
  const char *name;
  const char *isa;
  double      flops_per_instr;
  int         nacc; /* instructions per iteration */
  double (*fn)(long);
} Kernel;

static int supported(const char *isa)
{
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  if (isa[0] == '2') return 1;
  if (!__builtin_cpu_supports("avx512f")) return 0;
  if (isa[0] == 'f') return 1;
  return __builtin_cpu_supports("avx512bf16");
}

int main(int argc, char **argv)
{
  const double secs = argc > 1 ? atof(argv[1]) : 1.0;
  const Kernel k[]  = {
     { "fp32_avx512", "f", 32, NACC, run_fp32_avx512 },
     { "fp32_avx2", "2", 16, NACC2, run_fp32_avx2 },
     { "bf16_avx512", "b", 64, NACC, run_bf16_avx512 },
  };
  const int       nthr = omp_get_max_threads();
  volatile double sink = 0;
  if (!(secs > 0)) {
    fprintf(stderr, "peak_flops: seconds must be positive, got '%s'\n", argv[1]);
    return 2;
  }
  for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
    if (!supported(k[j].isa)) {
      printf("{\"kernel\":\"%s\",\"supported\":false}\n", k[j].name);
      continue;
    }
    long   iters = 1 << 16;
    double t;
    for (;;) { /* calibrate on one thread: about secs / 4 */
      const double t0 = now();
      sink += k[j].fn(iters);
      t = now() - t0;
      if (t > secs / 4) break;
      iters *= 2;
    }
    iters          = (long)((double)iters * secs / t);
    double elapsed = 0;
#pragma omp parallel reduction(max : elapsed) reduction(+ : sink)
    {
#pragma omp barrier
      const double t0 = now();
      sink += k[j].fn(iters);
      elapsed = now() - t0;
    }
    const double gf =
        (double)nthr * (double)iters * k[j].nacc * k[j].flops_per_instr / elapsed / 1e9;
    printf("{\"kernel\":\"%s\",\"supported\":true,\"threads\":%d,\"gflops\":%.1f,\"gflops_per_"
           "thread\":%.1f}\n",
           k[j].name, nthr, gf, gf / nthr);
  }
  return sink == 12345.678 ? 1 : 0;
}
