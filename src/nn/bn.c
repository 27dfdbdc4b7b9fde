/*
 * BatchNorm(+ReLU), average pooling and copies on nChw16c activations, f32 or bf16.
 *
 * Own kernels rather than oneDNN's batch normalization primitive: synchronized BN needs the
 * per-channel sums of the forward (Σx, Σx²) and of the backward (Σdz, Σdz·x̂) reduced across
 * ranks between two passes, and oneDNN 2.6 drops the statistics terms from diff_src when it is
 * given external statistics. One code path serves per-rank and synchronized BN, so the two agree
 * bitwise at one rank. Each kernel is written once and specialised for f32 and bf16 by inlining
 * with a constant `bf` flag. Sums are accumulated in double.
 */
#include "nn_internal.h"

#include <string.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE float ld(const void *p, size_t i, int bf) { return bf ? pof_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i]; }
ALWAYS_INLINE void  st(void *p, size_t i, float v, int bf)
{
  if (bf)
    ((uint16_t *)p)[i] = pof_f32_to_bf16(v);
  else
    ((float *)p)[i] = v;
}

/* Sums per (channel block, lane) over n and hw. Parallel over channel blocks, then over
   images inside (each thread keeps its own partial sums, added in a fixed order). */
ALWAYS_INLINE void stats_impl(const PofAct *a, const void *x, double *sum, double *sumsq, int bf)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
  for (PetscInt c = 0; c < a->c; c++) sum[c] = sumsq[c] = 0;
#pragma omp parallel for schedule(static) collapse(1)
  for (PetscInt b = 0; b < cb; b++) {
    double s[POF_CBLK], q[POF_CBLK];
    for (int l = 0; l < POF_CBLK; l++) s[l] = q[l] = 0;
    for (PetscInt i = 0; i < n; i++) {
      const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      float        fs[POF_CBLK], fq[POF_CBLK];
      for (int l = 0; l < POF_CBLK; l++) fs[l] = fq[l] = 0;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) {
          const float v = ld(x, base + (size_t)p * POF_CBLK + (size_t)l, bf);
          fs[l] += v;
          fq[l] += v * v;
        }
      }
      for (int l = 0; l < POF_CBLK; l++) s[l] += fs[l], q[l] += fq[l];
    }
    for (int l = 0; l < POF_CBLK; l++) {
      const PetscInt c = b * POF_CBLK + l;
      if (c < a->c) sum[c] = s[l], sumsq[c] = q[l];
    }
  }
}

void pof_bn_stats(const PofAct *a, const void *x, double *sum, double *sumsq)
{
  if (a->dt == POF_DT_BF16)
    stats_impl(a, x, sum, sumsq, 1);
  else
    stats_impl(a, x, sum, sumsq, 0);
}

ALWAYS_INLINE void apply_impl(const PofAct *a, const void *x, const float *scale, const float *shift, int relu, void *y, int bf)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
#pragma omp parallel for schedule(static) collapse(2)
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt b = 0; b < cb; b++) {
      float sc[POF_CBLK], sh[POF_CBLK];
      for (int l = 0; l < POF_CBLK; l++) {
        const PetscInt c = b * POF_CBLK + l;
        sc[l]            = c < a->c ? scale[c] : 0.0f;
        sh[l]            = c < a->c ? shift[c] : 0.0f;
      }
      const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) {
          const size_t k = base + (size_t)p * POF_CBLK + (size_t)l;
          float        v = ld(x, k, bf) * sc[l] + sh[l];
          if (relu) v = v > 0.0f ? v : 0.0f;
          st(y, k, v, bf);
        }
      }
    }
  }
}

void pof_bn_apply(const PofAct *a, const void *x, const float *scale, const float *shift, int relu, void *y)
{
  if (a->dt == POF_DT_BF16) {
    if (relu)
      apply_impl(a, x, scale, shift, 1, y, 1);
    else
      apply_impl(a, x, scale, shift, 0, y, 1);
  } else {
    if (relu)
      apply_impl(a, x, scale, shift, 1, y, 0);
    else
      apply_impl(a, x, scale, shift, 0, y, 0);
  }
}

ALWAYS_INLINE void bwd_sums_impl(const PofAct *a, const void *dy, const float *rsc, const float *rsh, const void *x, const float *mean, const float *rstd, double *sdz, double *sdzx, int bf, int relu)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
#pragma omp parallel for schedule(static)
  for (PetscInt b = 0; b < cb; b++) {
    double s[POF_CBLK], q[POF_CBLK];
    float  mu[POF_CBLK], rs[POF_CBLK], sc[POF_CBLK], sh[POF_CBLK];
    for (int l = 0; l < POF_CBLK; l++) {
      const PetscInt c = b * POF_CBLK + l;
      s[l] = q[l] = 0;
      sc[l]       = (relu && c < a->c) ? rsc[c] : 0.0f;
      sh[l]       = (relu && c < a->c) ? rsh[c] : 0.0f;
      mu[l]       = c < a->c ? mean[c] : 0.0f;
      rs[l]       = c < a->c ? rstd[c] : 0.0f;
    }
    for (PetscInt i = 0; i < n; i++) {
      const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      float        fs[POF_CBLK], fq[POF_CBLK];
      for (int l = 0; l < POF_CBLK; l++) fs[l] = fq[l] = 0;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) {
          const size_t k  = base + (size_t)p * POF_CBLK + (size_t)l;
          float        dz = ld(dy, k, bf);
          if (relu) dz = ld(x, k, bf) * sc[l] + sh[l] > 0.0f ? dz : 0.0f; /* the ReLU mask, recomputed: y is not read */
          fs[l] += dz;
          fq[l] += dz * (ld(x, k, bf) - mu[l]) * rs[l];
        }
      }
      for (int l = 0; l < POF_CBLK; l++) s[l] += fs[l], q[l] += fq[l];
    }
    for (int l = 0; l < POF_CBLK; l++) {
      const PetscInt c = b * POF_CBLK + l;
      if (c < a->c) sdz[c] = s[l], sdzx[c] = q[l];
    }
  }
}

void pof_bn_bwd_sums(const PofAct *a, const void *dy, const float *rsc, const float *rsh, const void *x, const float *mean, const float *rstd, double *sdz, double *sdzx)
{
  if (a->dt == POF_DT_BF16) {
    if (rsc)
      bwd_sums_impl(a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx, 1, 1);
    else
      bwd_sums_impl(a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx, 1, 0);
  } else {
    if (rsc)
      bwd_sums_impl(a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx, 0, 1);
    else
      bwd_sums_impl(a, dy, rsc, rsh, x, mean, rstd, sdz, sdzx, 0, 0);
  }
}

ALWAYS_INLINE void bwd_dx_impl(const PofAct *a, const void *dy, const float *rsc, const float *rsh, const void *x, const float *mean, const float *rstd, const float *gamma, const double *sdz, const double *sdzx, double M, const void *addend, void *dx, int bf, int relu, int add)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
#pragma omp parallel for schedule(static) collapse(2)
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt b = 0; b < cb; b++) {
      float mu[POF_CBLK], rs[POF_CBLK], g[POF_CBLK], mdz[POF_CBLK], mdzx[POF_CBLK], sc[POF_CBLK], sh[POF_CBLK];
      for (int l = 0; l < POF_CBLK; l++) {
        const PetscInt c  = b * POF_CBLK + l;
        const int      in = c < a->c;
        sc[l]             = (relu && in) ? rsc[c] : 0.0f;
        sh[l]             = (relu && in) ? rsh[c] : 0.0f;
        mu[l]             = in ? mean[c] : 0.0f;
        rs[l]             = in ? rstd[c] : 0.0f;
        g[l]              = in ? gamma[c] * rstd[c] : 0.0f;
        mdz[l]            = in ? (float)(sdz[c] / M) : 0.0f;
        mdzx[l]           = in ? (float)(sdzx[c] / M) : 0.0f;
      }
      const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) {
          const size_t k  = base + (size_t)p * POF_CBLK + (size_t)l;
          float        dz = ld(dy, k, bf);
          if (relu) dz = ld(x, k, bf) * sc[l] + sh[l] > 0.0f ? dz : 0.0f; /* the ReLU mask, recomputed: y is not read */
          const float xh = (ld(x, k, bf) - mu[l]) * rs[l];
          float       v  = g[l] * (dz - mdz[l] - xh * mdzx[l]);
          if (add) v += ld(addend, k, bf);
          st(dx, k, v, bf);
        }
      }
    }
  }
}

void pof_bn_bwd_dx(const PofAct *a, const void *dy, const float *rsc, const float *rsh, const void *x, const float *mean, const float *rstd, const float *gamma, const double *sdz, const double *sdzx, double M, const void *addend, void *dx)
{
  const int bf = a->dt == POF_DT_BF16, relu = rsc != NULL, add = addend != NULL;
  /* 8 specialisations */
  if (bf) {
    if (relu) {
      if (add)
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 1, 1, 1);
      else
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 1, 1, 0);
    } else {
      if (add)
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 1, 0, 1);
      else
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 1, 0, 0);
    }
  } else {
    if (relu) {
      if (add)
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 0, 1, 1);
      else
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 0, 1, 0);
    } else {
      if (add)
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 0, 0, 1);
      else
        bwd_dx_impl(a, dy, rsc, rsh, x, mean, rstd, gamma, sdz, sdzx, M, addend, dx, 0, 0, 0);
    }
  }
}

ALWAYS_INLINE void pool_fwd_impl(const PofAct *a, const void *x, float *h, int bf)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
#pragma omp parallel for schedule(static) collapse(2)
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt b = 0; b < cb; b++) {
      float        s[POF_CBLK] = { 0 };
      const size_t base        = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) s[l] += ld(x, base + (size_t)p * POF_CBLK + (size_t)l, bf);
      }
      for (int l = 0; l < POF_CBLK; l++) {
        const PetscInt c = b * POF_CBLK + l;
        if (c < a->c) h[i * a->c + c] = s[l] / (float)hw;
      }
    }
  }
}

void pof_avgpool_fwd(const PofAct *a, const void *x, float *h)
{
  if (a->dt == POF_DT_BF16)
    pool_fwd_impl(a, x, h, 1);
  else
    pool_fwd_impl(a, x, h, 0);
}

ALWAYS_INLINE void pool_bwd_impl(const PofAct *a, const float *dh, void *dx, int bf)
{
  const PetscInt hw = a->h * a->w, cb = a->cb, n = a->n;
#pragma omp parallel for schedule(static) collapse(2)
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt b = 0; b < cb; b++) {
      float v[POF_CBLK];
      for (int l = 0; l < POF_CBLK; l++) {
        const PetscInt c = b * POF_CBLK + l;
        v[l]             = c < a->c ? dh[i * a->c + c] / (float)hw : 0.0f;
      }
      const size_t base = ((size_t)(i * cb + b) * (size_t)hw) * POF_CBLK;
      for (PetscInt p = 0; p < hw; p++) {
#pragma omp simd
        for (int l = 0; l < POF_CBLK; l++) st(dx, base + (size_t)p * POF_CBLK + (size_t)l, v[l], bf);
      }
    }
  }
}

void pof_avgpool_bwd(const PofAct *a, const float *dh, void *dx)
{
  if (a->dt == POF_DT_BF16)
    pool_bwd_impl(a, dh, dx, 1);
  else
    pool_bwd_impl(a, dh, dx, 0);
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
