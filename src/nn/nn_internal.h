/* Internals of src/nn: the oneDNN engine, blocked-layout helpers, BN kernels, convolutions. */
#ifndef POF_NN_INTERNAL_H
#define POF_NN_INTERNAL_H

#include "dnnl_util.h"
#include "pof/nn.h"

/* ------------------------------------------------------------------ engine */
/** The process-wide CPU engine and stream (created on first use; released by pof_nn_finalize). */
PetscErrorCode pof_nn_engine(dnnl_engine_t *engine, dnnl_stream_t *stream);
/** A scratchpad buffer of at least `bytes`, shared by all primitives (user scratchpad mode). */
PetscErrorCode pof_nn_scratchpad(size_t bytes, void **ptr);
/* One process-wide buffer for blocked weights reordered on every use (low-memory mode). */
PetscErrorCode pof_nn_weight_scratch(size_t bytes, void **ptr);

/** Bytes of one element of a pof data type. */
static inline size_t           pof_dt_size(PofDType dt) { return dt == POF_DT_BF16 ? 2 : 4; }
static inline dnnl_data_type_t pof_dt_dnnl(PofDType dt)
{
  return dt == POF_DT_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* ------------------------------------------------------------------ blocked activations */
/*
 * Activations are nChw16c ([n][C/16][h][w][16]) on CPUs with AVX-512 and nChw8c elsewhere (the
 * layout oneDNN 2.6's AVX2 kernels take: given nChw16c they fall back to ref:any, ~2000x slower).
 * Channels are padded with zeros to a multiple of POF_CPAD in both layouts, so buffer sizes and
 * convolution shapes do not depend on the block.
 */
#define POF_CPAD     16 /* channel padding (oneDNN's JIT kernels need whole blocks) */
#define POF_CBLK_MAX 16
typedef struct {
  PetscInt n, c, h, w; /* logical dims */
  PetscInt cb;         /* channel blocks = roundup(c, POF_CPAD) / blk */
  PofDType dt;
  PetscInt blk; /* channels per block: 16 or 8 (pof_nn_cblk) */
} PofAct;

/** Whether oneDNN's effective ISA (ONEDNN_MAX_CPU_ISA honoured) includes avx512_core: AVX-512
 *  convolution kernels, and bf16 ones (oneDNN 2.6 has none below avx512_core). */
PetscBool pof_nn_has_avx512(void);
/** Channels per activation block on this CPU: 16 when oneDNN runs AVX-512 kernels, else 8. */
PetscInt pof_nn_cblk(void);
/** Channel count rounded up to the padding. */
static inline PetscInt pof_cpad(PetscInt c) { return (c + POF_CPAD - 1) / POF_CPAD * POF_CPAD; }
/** An activation shape (n may be 0 and set per call) in this CPU's block layout. */
static inline PofAct pof_act(PetscInt n, PetscInt c, PetscInt h, PetscInt w, PofDType dt)
{
  const PetscInt blk = pof_nn_cblk();
  return (PofAct){ n, c, h, w, pof_cpad(c) / blk, dt, blk };
}
static inline PetscInt pof_act_elems(const PofAct *a)
{
  return a->n * a->cb * a->blk * a->h * a->w;
}
static inline size_t pof_act_bytes(const PofAct *a)
{
  return (size_t)pof_act_elems(a) * pof_dt_size(a->dt);
}
/** oneDNN memory descriptor of an activation (nChw16c or nChw8c by a->blk). */
PetscErrorCode pof_act_md(const PofAct *a, dnnl_memory_desc_t *md);

/* bf16 <-> f32 (round to nearest even) */
static inline float pof_bf16_to_f32(uint16_t v)
{
  union {
    uint32_t u;
    float    f;
  } t;
  t.u = (uint32_t)v << 16;
  return t.f;
}
static inline uint16_t pof_f32_to_bf16(float f)
{
  union {
    uint32_t u;
    float    f;
  } t;
  t.f = f;
  /* branch-free (a select, no early return) so that loops over it vectorize: with an early return
     for NaN the BN+ReLU kernel ran 8x slower in bf16 than in f32 */
  const uint32_t rounded = (t.u + 0x7fffu + ((t.u >> 16) & 1u)) >> 16;
  const uint32_t quiet   = (t.u >> 16) | 0x40u; /* NaN stays NaN */
  return (uint16_t)((t.u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
}

/* ------------------------------------------------------------------ BN + ReLU kernels (bn.c) */
/** Per-channel local sums of x: sum[c], sumsq[c] (double), c < a->c. */
void pof_bn_stats(const PofAct *a, const void *x, double *sum, double *sumsq);
/** y = relu?(x * scale[c] + shift[c]); padded lanes of y are set to zero. x may equal y. */
void pof_bn_apply(const PofAct *a, const void *x, const float *scale, const float *shift, int relu,
                  void *y);
/**
 * Backward sums through ReLU(x * relu_scale + relu_shift) (the forward's affine; the mask is
 * recomputed from x instead of reading the output; relu_scale = NULL: no ReLU):
 *   dz = dy * [x * relu_scale[c] + relu_shift[c] > 0];  sdz[c] = sum dz,  sdzx[c] = sum dz * (x -
 * mean[c]) * rstd[c]   (double, local).
 */
void pof_bn_bwd_sums(const PofAct *a, const void *dy, const float *relu_scale,
                     const float *relu_shift, const void *x, const float *mean, const float *rstd,
                     double *sdz, double *sdzx);
/**
 * dx = gamma[c] * rstd[c] * (dz - sdz[c] / M - xhat * sdzx[c] / M) (+ addend if not NULL), with the
 * sums already reduced over every rank that shares the statistics and M their element count per
 * channel. dx may alias dy (elementwise). Padded lanes of dx are set to zero.
 */
void pof_bn_bwd_dx(const PofAct *a, const void *dy, const float *relu_scale,
                   const float *relu_shift, const void *x, const float *mean, const float *rstd,
                   const float *gamma, const double *sdz, const double *sdzx, double M,
                   const void *addend, void *dx);
/** h[n][c] = mean over h,w of x (x blocked, h plain [n][c] float). */
void pof_avgpool_fwd(const PofAct *a, const void *x, float *h);
/** dx[n][c][hw] = dh[n][c] / (H W); padded lanes zero. */
void pof_avgpool_bwd(const PofAct *a, const float *dh, void *dx);
/** out = in (elementwise copy of a whole activation). */
void pof_act_copy(const PofAct *a, const void *in, void *out);

/* ------------------------------------------------------------------ convolution (conv.c) */
typedef struct PofConvEntry PofConvEntry;
typedef struct {
  PetscInt  cin, cout, k, stride, pad, hin, win, hout, wout;
  PofDType  dt;
  PetscBool plain_src; /* source is the plain NCHW network input (first conv) */
  PetscBool sum_dst;   /* forward accumulates into dst (residual add as a sum post-op) */
  PetscBool need_dsrc; /* backward data is needed */
  /* weights: plain OIHW f32 in the parameter arena, reordered on demand */
  const float *w_plain;
  float       *dw_plain;
  /* reordered weight copies and their formats */
  void              *w_fwd, *w_bd;
  dnnl_memory_desc_t w_fwd_md, w_bd_md;
  PetscInt           w_fwd_version, w_bd_version;
  void              *r_fwd, *r_bd; /* cached plain -> blocked weight reorders (dnnl_primitive_t) */
  /* channel counts rounded up to POF_CPAD (oneDNN's JIT kernels need full channel blocks; smaller
     counts fell back to ref:any): zero-padded plain weights and gradient when they differ */
  PetscInt  cin_p, cout_p;
  float    *w_pad, *dw_pad;
  PetscBool low_mem;       /* backward-data weights reordered into a shared buffer on each use */
  PetscBool winograd;      /* Winograd F(4x4,3x3) where oneDNN has it (f32, 3x3, stride 1) */
  size_t wino_scratch_max; /* largest Winograd scratchpad before the batch is chunked (0: 64 MiB) */
  PetscInt      nentries;
  PofConvEntry *entries[8];
  char          impl[3][64];
} PofConv;

/** Winograd on or off (cached primitives are dropped when it changes). */
PetscErrorCode pof_conv_set_winograd(PofConv *cv, PetscBool on);
/** How batch n runs: images per primitive call, whether Winograd runs, largest scratchpad. */
PetscErrorCode pof_conv_plan(PofConv *cv, PetscInt n, PetscInt *chunk, PetscBool *wino,
                             size_t *scratch);
PetscErrorCode pof_conv_setup(PofConv *cv);
PetscErrorCode pof_conv_release(PofConv *cv);
/** dst = conv(src) (+ dst when sum_dst). version = parameter version (re-reorder weights when
 * changed). */
PetscErrorCode pof_conv_forward(PofConv *cv, PetscInt n, PetscInt version, const void *src,
                                void *dst);
/** dsrc = conv^T(ddst) (needs need_dsrc). */
PetscErrorCode pof_conv_backward_data(PofConv *cv, PetscInt n, PetscInt version, const void *ddst,
                                      void *dsrc);
/** dw_plain = dL/dW from src and ddst (overwrites). */
PetscErrorCode pof_conv_backward_weights(PofConv *cv, PetscInt n, const void *src,
                                         const void *ddst);
/** The oneDNN implementation names of the forward, backward-data and backward-weights primitives.
 */
void pof_conv_impl(const PofConv *cv, const char **fwd, const char **bd, const char **bw);
/** One line per cached batch size: algorithm, calls x images per call, largest scratchpad. */
void pof_conv_describe(const PofConv *cv, char *buf, size_t len);

#endif
