/* What this CPU offers pof: oneDNN's ISA, the bf16 decision and the measured arithmetic peak
   (the kernels of bench/peak_flops.c). See include/pof/nn.h. */
#include "dnnl_util.h"
#include "pof/nn.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

const char *const PofBf16Names[] = { "none", "emulated", "native" };

PofBf16Support pof_nn_bf16_support_of(unsigned isa)
{
  const unsigned bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16,
                 core = (unsigned)dnnl_cpu_isa_avx512_core;
  if ((isa & bf16) == bf16) return POF_BF16_NATIVE; /* AMX includes these bits */
  if ((isa & core) == core) return POF_BF16_EMULATED;
  return POF_BF16_NONE;
}

PofBf16Support pof_nn_bf16_support(void)
{
  return pof_nn_bf16_support_of((unsigned)dnnl_get_effective_cpu_isa());
}

const char *pof_nn_isa_name_of(unsigned isa, char *buf, size_t len)
{
  switch (isa) {
  case dnnl_cpu_isa_all: return "all";
  case dnnl_cpu_isa_sse41: return "sse41";
  case dnnl_cpu_isa_avx: return "avx";
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
  case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
  case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
  default: snprintf(buf, len, "isa 0x%x", isa); return buf;
  }
}

const char *pof_nn_isa_name(void)
{
  static char buf[32];
  return pof_nn_isa_name_of((unsigned)dnnl_get_effective_cpu_isa(), buf, sizeof buf);
}

/* ------------------------------------------------------------------ peak */
#define NACC  16
#define NACC2 12 /* AVX2: accumulators + 2 operands fit in 16 ymm registers */

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

static const struct {
  const char *name;
  double      flops_per_instr;
  int         nacc; /* instructions per iteration */
  double (*fn)(long);
} peak_kernels[POF_PEAK_COUNT] = {
  { "fp32_avx512", 32, NACC, run_fp32_avx512 },
  { "fp32_avx2", 16, NACC2, run_fp32_avx2 },
  { "bf16_avx512", 64, NACC, run_bf16_avx512 },
};

const char *pof_nn_peak_name(PofPeakKernel k) { return peak_kernels[k].name; }

int pof_nn_peak_supported(PofPeakKernel k)
{
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  if (k == POF_PEAK_FP32_AVX2) return 1;
  if (!__builtin_cpu_supports("avx512f")) return 0;
  return k == POF_PEAK_FP32_AVX512 || __builtin_cpu_supports("avx512bf16");
}

double pof_nn_peak_gflops(PofPeakKernel k, double seconds)
{
  volatile double sink  = 0;
  long            iters = 1 << 16;
  double          t, elapsed = 0;
  if (!pof_nn_peak_supported(k) || !(seconds > 0)) return 0;
  for (;;) { /* calibrate on one thread: about seconds / 4 */
    const double t0 = omp_get_wtime();
    sink += peak_kernels[k].fn(iters);
    t = omp_get_wtime() - t0;
    if (t > seconds / 4) break;
    iters *= 2;
  }
  iters          = (long)((double)iters * seconds / t);
  const int nthr = omp_get_max_threads();
#pragma omp parallel reduction(max : elapsed)
  {
#pragma omp barrier
    const double t0 = omp_get_wtime();
    const double s  = peak_kernels[k].fn(iters);
    elapsed         = omp_get_wtime() - t0;
#pragma omp atomic
    sink += s;
  }
  (void)sink;
  return (double)nthr * (double)iters * peak_kernels[k].nacc * peak_kernels[k].flops_per_instr /
         elapsed / 1e9;
}
