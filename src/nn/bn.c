/*
 * BatchNorm(+ReLU), average pooling and copies on blocked activations (nChw16c or nChw8c), f32 or
 * bf16.
 *
 * Own kernels rather than oneDNN's batch normalization primitive: synchronized BN needs the
 * per-channel sums of the forward (Σx, Σx²) and of the backward (Σdz, Σdz·x̂) reduced across
 * ranks between two passes, and oneDNN 2.6 drops the statistics terms from diff_src when it is
 * given external statistics. One code path serves per-rank and synchronized BN, so the two agree
 * bitwise at one rank. Each kernel is written once and specialised for f32 and bf16 by inlining
 * with constant flags (data type, ReLU, addend, block width). Sums are accumulated in double,
 * per channel in the same order in both block widths.
 *
 * Each kernel is a tile function (one channel block, or one image x channel block) inlined into
 * one OpenMP driver per flag combination (the DRIVER macros). The `omp parallel` must not sit in
 * the inlined function itself: gcc outlines a parallel region before inlining, so the flags would
 * reach the outlined body as run-time values, and the BN backward loops stayed scalar (28 % of a
 * bf16 training step of WRN-16-4, `perf record`).
 */
#include "nn_internal.h"

#include <string.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE float ld(const void *p, size_t i, int bf)
{
  return bf ? pof_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
ALWAYS_INLINE void st(void *p, size_t i, float v, int bf)
{
  if (bf)
    ((uint16_t *)p)[i] = pof_f32_to_bf16(v);
  else
    ((float *)p)[i] = v;
}

/* v where pre > 0, else +0 (the ReLU mask in backward) as a bitwise and: written as a select of a
   loaded value, gcc turned the load into a masked load and left the loop scalar. */
ALWAYS_INLINE float relu_mask(float v, float pre)
{
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  u &= pre > 0.0f ? 0xffffffffu : 0u;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* Sums per (channel block, lane) over n and hw. Parallel over channel blocks, then over
   images inside (each thread keeps its own partial sums, added in a fixed order). */
ALWAYS_INLINE void stats_tile(const PofAct *a, const void *x, double *sum, double *sumsq,
                              PetscInt b, int bf, int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
  double         s[POF_CBLK_MAX], q[POF_CBLK_MAX];
  for (int l = 0; l < B; l++) s[l] = q[l] = 0;
  for (PetscInt i = 0; i < n; i++) {
    const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * B;
    float        fs[POF_CBLK_MAX], fq[POF_CBLK_MAX];
    for (int l = 0; l < B; l++) fs[l] = fq[l] = 0;
    for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
      for (int l = 0; l < B; l++) {
        const float v = ld(x, base + (size_t)p * B + (size_t)l, bf);
        fs[l] += v;
        fq[l] += v * v;
      }
    }
    for (int l = 0; l < B; l++) s[l] += fs[l], q[l] += fq[l];
  }
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    if (c < a->c) sum[c] = s[l], sumsq[c] = q[l];
  }
}

/* Parallel over channel blocks, each thread summing its blocks over all images in a fixed order. */
#define STATS_DRIVER(NAME, BF, BLK)                                                   \
  static void NAME(const PofAct *a, const void *x, double *sum, double *sumsq)        \
  {                                                                                   \
    for (PetscInt c = 0; c < a->c; c++) sum[c] = sumsq[c] = 0;                        \
    _Pragma("omp parallel for schedule(static)") for (PetscInt b = 0; b < a->cb; b++) \
        stats_tile(a, x, sum, sumsq, b, BF, BLK);                                     \
  }
STATS_DRIVER(stats_f32, 0, 16)
STATS_DRIVER(stats_bf16, 1, 16)
STATS_DRIVER(stats_f32_b8, 0, 8)
STATS_DRIVER(stats_bf16_b8, 1, 8)

void pof_bn_stats(const PofAct *a, const void *x, double *sum, double *sumsq)
{
  typedef void (*Fn)(const PofAct *, const void *, double *, double *);
  static const Fn fn[2][2] = { { stats_f32, stats_bf16 }, { stats_f32_b8, stats_bf16_b8 } };
  fn[a->blk == 8][a->dt == POF_DT_BF16](a, x, sum, sumsq);
}

ALWAYS_INLINE void apply_tile(const PofAct *a, const void *x, const float *scale,
                              const float *shift, void *y, PetscInt i, PetscInt b, int relu, int bf,
                              int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb;
  float          sc[POF_CBLK_MAX], sh[POF_CBLK_MAX];
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    sc[l]            = c < a->c ? scale[c] : 0.0f;
    sh[l]            = c < a->c ? shift[c] : 0.0f;
  }
  const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * B;
  for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
    for (int l = 0; l < B; l++) {
      const size_t k = base + (size_t)p * B + (size_t)l;
      float        v = ld(x, k, bf) * sc[l] + sh[l];
      if (relu) v = v > 0.0f ? v : 0.0f;
      st(y, k, v, bf);
    }
  }
}

#define APPLY_DRIVER(NAME, RELU, BF, BLK)                                                   \
  static void NAME(const PofAct *a, const void *x, const float *scale, const float *shift,  \
                   void *y)                                                                 \
  {                                                                                         \
    _Pragma("omp parallel for schedule(static) collapse(2)") for (PetscInt i = 0; i < a->n; \
                                                                  i++) for (PetscInt b = 0; \
                                                                            b < a->cb; b++) \
        apply_tile(a, x, scale, shift, y, i, b, RELU, BF, BLK);                             \
  }
APPLY_DRIVER(apply_f32, 0, 0, 16)
APPLY_DRIVER(apply_relu_f32, 1, 0, 16)
APPLY_DRIVER(apply_bf16, 0, 1, 16)
APPLY_DRIVER(apply_relu_bf16, 1, 1, 16)
APPLY_DRIVER(apply_f32_b8, 0, 0, 8)
APPLY_DRIVER(apply_relu_f32_b8, 1, 0, 8)
APPLY_DRIVER(apply_bf16_b8, 0, 1, 8)
APPLY_DRIVER(apply_relu_bf16_b8, 1, 1, 8)

void pof_bn_apply(const PofAct *a, const void *x, const float *scale, const float *shift, int relu,
                  void *y)
{
  typedef void (*Fn)(const PofAct *, const void *, const float *, const float *, void *);
  static const Fn fn[2][2][2] = {
    { { apply_f32, apply_relu_f32 }, { apply_bf16, apply_relu_bf16 } },
    { { apply_f32_b8, apply_relu_f32_b8 }, { apply_bf16_b8, apply_relu_bf16_b8 } }
  };
  fn[a->blk == 8][a->dt == POF_DT_BF16][relu != 0](a, x, scale, shift, y);
}

ALWAYS_INLINE void bwd_sums_tile(const PofAct *a, const void *dy, const float *rsc,
                                 const float *rsh, const void *x, const float *mean,
                                 const float *rstd, double *sdz, double *sdzx, PetscInt b, int relu,
                                 int bf, int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
  double         s[POF_CBLK_MAX], q[POF_CBLK_MAX];
  float          mu[POF_CBLK_MAX], rs[POF_CBLK_MAX], sc[POF_CBLK_MAX], sh[POF_CBLK_MAX];
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    s[l] = q[l] = 0;
    sc[l]       = (relu && c < a->c) ? rsc[c] : 0.0f;
    sh[l]       = (relu && c < a->c) ? rsh[c] : 0.0f;
    mu[l]       = c < a->c ? mean[c] : 0.0f;
    rs[l]       = c < a->c ? rstd[c] : 0.0f;
  }
  for (PetscInt i = 0; i < n; i++) {
    const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * B;
    float        fs[POF_CBLK_MAX], fq[POF_CBLK_MAX];
    for (int l = 0; l < B; l++) fs[l] = fq[l] = 0;
    for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
      for (int l = 0; l < B; l++) {
        const size_t k  = base + (size_t)p * B + (size_t)l;
        const float  xv = ld(x, k, bf), dyv = ld(dy, k, bf);
        const float  dz = relu ? relu_mask(dyv, xv * sc[l] + sh[l])
                               : dyv; /* the ReLU mask, recomputed: y is not read */
        fs[l] += dz;
        fq[l] += dz * (xv - mu[l]) * rs[l];
      }
    }
    for (int l = 0; l < B; l++) s[l] += fs[l], q[l] += fq[l];
  }
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    if (c < a->c) sdz[c] = s[l], sdzx[c] = q[l];
  }
}

#define BWD_SUMS_DRIVER(NAME, RELU, BF, BLK)                                                       \
  static void NAME(const PofAct *a, const void *dy, const float *rsc, const float *rsh,            \
                   const void *x, const float *mean, const float *rstd, double *sdz, double *sdzx) \
  {                                                                                                \
    _Pragma("omp parallel for schedule(static)") for (PetscInt b = 0; b < a->cb; b++)              \
        bwd_sums_tile(a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx, b, RELU, BF, BLK);                \
  }
BWD_SUMS_DRIVER(bwd_sums_f32, 0, 0, 16)
BWD_SUMS_DRIVER(bwd_sums_relu_f32, 1, 0, 16)
BWD_SUMS_DRIVER(bwd_sums_bf16, 0, 1, 16)
BWD_SUMS_DRIVER(bwd_sums_relu_bf16, 1, 1, 16)
BWD_SUMS_DRIVER(bwd_sums_f32_b8, 0, 0, 8)
BWD_SUMS_DRIVER(bwd_sums_relu_f32_b8, 1, 0, 8)
BWD_SUMS_DRIVER(bwd_sums_bf16_b8, 0, 1, 8)
BWD_SUMS_DRIVER(bwd_sums_relu_bf16_b8, 1, 1, 8)

void pof_bn_bwd_sums(const PofAct *a, const void *dy, const float *rsc, const float *rsh,
                     const void *x, const float *mean, const float *rstd, double *sdz, double *sdzx)
{
  typedef void (*Fn)(const PofAct *, const void *, const float *, const float *, const void *,
                     const float *, const float *, double *, double *);
  static const Fn fn[2][2][2] = {
    { { bwd_sums_f32, bwd_sums_relu_f32 }, { bwd_sums_bf16, bwd_sums_relu_bf16 } },
    { { bwd_sums_f32_b8, bwd_sums_relu_f32_b8 }, { bwd_sums_bf16_b8, bwd_sums_relu_bf16_b8 } }
  };
  fn[a->blk == 8][a->dt == POF_DT_BF16][rsc != NULL](a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx);
}

ALWAYS_INLINE void bwd_dx_tile(const PofAct *a, const void *dy, const float *rsc, const float *rsh,
                               const void *x, const float *mean, const float *rstd,
                               const float *gamma, const double *sdz, const double *sdzx, double M,
                               const void *addend, void *dx, PetscInt i, PetscInt b, int relu,
                               int add, int bf, int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb;
  float mu[POF_CBLK_MAX], rs[POF_CBLK_MAX], g[POF_CBLK_MAX], mdz[POF_CBLK_MAX], mdzx[POF_CBLK_MAX],
      sc[POF_CBLK_MAX], sh[POF_CBLK_MAX];
  for (int l = 0; l < B; l++) {
    const PetscInt c  = b * B + l;
    const int      in = c < a->c;
    sc[l]             = (relu && in) ? rsc[c] : 0.0f;
    sh[l]             = (relu && in) ? rsh[c] : 0.0f;
    mu[l]             = in ? mean[c] : 0.0f;
    rs[l]             = in ? rstd[c] : 0.0f;
    g[l]              = in ? gamma[c] * rstd[c] : 0.0f;
    mdz[l]            = in ? (float)(sdz[c] / M) : 0.0f;
    mdzx[l]           = in ? (float)(sdzx[c] / M) : 0.0f;
  }
  const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * B;
  for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
    for (int l = 0; l < B; l++) {
      const size_t k  = base + (size_t)p * B + (size_t)l;
      const float  xv = ld(x, k, bf), dyv = ld(dy, k, bf);
      const float  dz = relu ? relu_mask(dyv, xv * sc[l] + sh[l])
                             : dyv; /* the ReLU mask, recomputed: y is not read */
      const float  xh = (xv - mu[l]) * rs[l];
      float        v  = g[l] * (dz - mdz[l] - xh * mdzx[l]);
      if (add) v += ld(addend, k, bf);
      st(dx, k, v, bf);
    }
  }
}

#define BWD_DX_DRIVER(NAME, RELU, ADD, BF, BLK)                                                   \
  static void NAME(const PofAct *a, const void *dy, const float *rsc, const float *rsh,           \
                   const void *x, const float *mean, const float *rstd, const float *gamma,       \
                   const double *sdz, const double *sdzx, double M, const void *addend, void *dx) \
  {                                                                                               \
    _Pragma("omp parallel for schedule(static) collapse(2)") for (PetscInt i = 0; i < a->n;       \
                                                                  i++) for (PetscInt b = 0;       \
                                                                            b < a->cb; b++)       \
        bwd_dx_tile(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, i, b, RELU,  \
                    ADD, BF, BLK);                                                                \
  }
BWD_DX_DRIVER(bwd_dx_f32, 0, 0, 0, 16)
BWD_DX_DRIVER(bwd_dx_add_f32, 0, 1, 0, 16)
BWD_DX_DRIVER(bwd_dx_relu_f32, 1, 0, 0, 16)
BWD_DX_DRIVER(bwd_dx_relu_add_f32, 1, 1, 0, 16)
BWD_DX_DRIVER(bwd_dx_bf16, 0, 0, 1, 16)
BWD_DX_DRIVER(bwd_dx_add_bf16, 0, 1, 1, 16)
BWD_DX_DRIVER(bwd_dx_relu_bf16, 1, 0, 1, 16)
BWD_DX_DRIVER(bwd_dx_relu_add_bf16, 1, 1, 1, 16)
BWD_DX_DRIVER(bwd_dx_f32_b8, 0, 0, 0, 8)
BWD_DX_DRIVER(bwd_dx_add_f32_b8, 0, 1, 0, 8)
BWD_DX_DRIVER(bwd_dx_relu_f32_b8, 1, 0, 0, 8)
BWD_DX_DRIVER(bwd_dx_relu_add_f32_b8, 1, 1, 0, 8)
BWD_DX_DRIVER(bwd_dx_bf16_b8, 0, 0, 1, 8)
BWD_DX_DRIVER(bwd_dx_add_bf16_b8, 0, 1, 1, 8)
BWD_DX_DRIVER(bwd_dx_relu_bf16_b8, 1, 0, 1, 8)
BWD_DX_DRIVER(bwd_dx_relu_add_bf16_b8, 1, 1, 1, 8)

void pof_bn_bwd_dx(const PofAct *a, const void *dy, const float *rsc, const float *rsh,
                   const void *x, const float *mean, const float *rstd, const float *gamma,
                   const double *sdz, const double *sdzx, double M, const void *addend, void *dx)
{
  typedef void (*Fn)(const PofAct *, const void *, const float *, const float *, const void *,
                     const float *, const float *, const float *, const double *, const double *,
                     double, const void *, void *);
  static const Fn fn[2][2][2][2] = {
    { { { bwd_dx_f32, bwd_dx_add_f32 }, { bwd_dx_relu_f32, bwd_dx_relu_add_f32 } },
      { { bwd_dx_bf16, bwd_dx_add_bf16 }, { bwd_dx_relu_bf16, bwd_dx_relu_add_bf16 } } },
    { { { bwd_dx_f32_b8, bwd_dx_add_f32_b8 }, { bwd_dx_relu_f32_b8, bwd_dx_relu_add_f32_b8 } },
      { { bwd_dx_bf16_b8, bwd_dx_add_bf16_b8 }, { bwd_dx_relu_bf16_b8, bwd_dx_relu_add_bf16_b8 } } }
  };
  fn[a->blk == 8][a->dt == POF_DT_BF16][rsc != NULL][addend != NULL](
      a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx);
}

ALWAYS_INLINE void pool_fwd_tile(const PofAct *a, const void *x, float *h, PetscInt i, PetscInt b,
                                 int bf, int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb;
  float          s[POF_CBLK_MAX] = { 0 };
  const size_t   base            = ((size_t)(i * cb + b) * (size_t)hw) * B;
  for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
    for (int l = 0; l < B; l++) s[l] += ld(x, base + (size_t)p * B + (size_t)l, bf);
  }
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    if (c < a->c) h[i * a->c + c] = s[l] / (float)hw;
  }
}

ALWAYS_INLINE void pool_bwd_tile(const PofAct *a, const float *dh, void *dx, PetscInt i, PetscInt b,
                                 int bf, int B)
{
  const PetscInt hw = a->h * a->w, cb = a->cb;
  float          v[POF_CBLK_MAX];
  for (int l = 0; l < B; l++) {
    const PetscInt c = b * B + l;
    v[l]             = c < a->c ? dh[i * a->c + c] / (float)hw : 0.0f;
  }
  const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * B;
  for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
    for (int l = 0; l < B; l++) st(dx, base + (size_t)p * B + (size_t)l, v[l], bf);
  }
}

#define POOL_DRIVER(NAME, TILE, IN_T, OUT_T, BF, BLK)                                       \
  static void NAME(const PofAct *a, IN_T in, OUT_T out)                                     \
  {                                                                                         \
    _Pragma("omp parallel for schedule(static) collapse(2)") for (PetscInt i = 0; i < a->n; \
                                                                  i++) for (PetscInt b = 0; \
                                                                            b < a->cb; b++) \
        TILE(a, in, out, i, b, BF, BLK);                                                    \
  }
POOL_DRIVER(pool_fwd_f32, pool_fwd_tile, const void *, float *, 0, 16)
POOL_DRIVER(pool_fwd_bf16, pool_fwd_tile, const void *, float *, 1, 16)
POOL_DRIVER(pool_bwd_f32, pool_bwd_tile, const float *, void *, 0, 16)
POOL_DRIVER(pool_bwd_bf16, pool_bwd_tile, const float *, void *, 1, 16)
POOL_DRIVER(pool_fwd_f32_b8, pool_fwd_tile, const void *, float *, 0, 8)
POOL_DRIVER(pool_fwd_bf16_b8, pool_fwd_tile, const void *, float *, 1, 8)
POOL_DRIVER(pool_bwd_f32_b8, pool_bwd_tile, const float *, void *, 0, 8)
POOL_DRIVER(pool_bwd_bf16_b8, pool_bwd_tile, const float *, void *, 1, 8)

void pof_avgpool_fwd(const PofAct *a, const void *x, float *h)
{
  if (a->blk == 8)
    (a->dt == POF_DT_BF16 ? pool_fwd_bf16_b8 : pool_fwd_f32_b8)(a, x, h);
  else
    (a->dt == POF_DT_BF16 ? pool_fwd_bf16 : pool_fwd_f32)(a, x, h);
}

void pof_avgpool_bwd(const PofAct *a, const float *dh, void *dx)
{
  if (a->blk == 8)
    (a->dt == POF_DT_BF16 ? pool_bwd_bf16_b8 : pool_bwd_f32_b8)(a, dh, dx);
  else
    (a->dt == POF_DT_BF16 ? pool_bwd_bf16 : pool_bwd_f32)(a, dh, dx);
}

void pof_act_copy(const PofAct *a, const void *in, void *out)
{
  const size_t bytes   = pof_act_bytes(a);
  const size_t chunk   = 1 << 20;
  const size_t nchunks = (bytes + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < nchunks; i++) {
    const size_t off = i * chunk, len = off + chunk < bytes ? chunk : bytes - off;
    memcpy((char *)out + off, (const char *)in + off, len);
  }
}
