/*
 * Convolutions with oneDNN 2.6: forward, backward data, backward weights.
 *
 * Activations are nChw16c, or nChw8c without AVX-512 (the network input of the first conv is
 * plain NCHW). Weights are described with format_tag_any so oneDNN picks its blocked format;
 * the plain OIHW float weights of the parameter arena are reordered into the forward and
 * backward-data formats when the parameter version changes (reorders only at the edge of the
 * arena), and the weight gradient is reordered back to plain OIHW into the gradient arena. Backward
 * descriptors are built from format_tag_any weights with the forward primitive descriptor as hint
 * (PERF.md: building them from the forward's blocked descriptors fell back to a reference
 * implementation). Primitives are created once per batch size (a few sizes per run) and reused.
 */
#include "nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blocked4(const dnnl_memory_desc_t *md)
{
  return md->format_kind == dnnl_blocked && md->ndims == 4;
}

struct PofConvEntry {
  PetscInt              n; /* batch size this entry serves */
  PetscInt              m; /* images per primitive call (n / m calls; m < n only with Winograd) */
  PetscBool             wino; /* some pass runs Winograd */
  dnnl_primitive_desc_t fwd_pd, bd_pd, bw_pd;
  dnnl_primitive_t      fwd, bd, bw;
  dnnl_memory_desc_t    src_md, dst_md; /* activation formats (fixed by us) */
  dnnl_memory_desc_t    dw_md;          /* format of the weight gradient chosen by oneDNN */
  dnnl_memory_desc_t    bw_src_md; /* source format of backward weights (src_md unless reordered) */
  dnnl_primitive_t r_bw_src;   /* plain input -> bw_src_md (first conv on AVX2, see entry_build) */
  PetscBool        dw_reorder; /* dw_md differs from plain OIHW f32 */
  dnnl_primitive_t r_dw;       /* oneDNN's reorder for a dw_md our loop does not handle */
  size_t           scratch[3];
};

static PetscErrorCode md_plain_weights(const PofConv *cv, dnnl_data_type_t dt,
                                       dnnl_memory_desc_t *md)
{
  const dnnl_dims_t d = { cv->cout_p, cv->cin_p, cv->k, cv->k };
  PetscFunctionBegin;
  PofCallDNNL(dnnl_memory_desc_init_by_tag(md, 4, d, dt, dnnl_oihw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode md_src(const PofConv *cv, PetscInt n, dnnl_memory_desc_t *md)
{
  PetscFunctionBegin;
  if (cv->plain_src) {
    const dnnl_dims_t d = { n, cv->cin, cv->hin, cv->win };
    PofCallDNNL(dnnl_memory_desc_init_by_tag(md, 4, d, pof_dt_dnnl(cv->dt), dnnl_nchw));
  } else {
    PofAct a = pof_act(n, cv->cin_p, cv->hin, cv->win, cv->dt);
    PetscCall(pof_act_md(&a, md));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode impl_name(dnnl_primitive_desc_t pd, char *buf, size_t len)
{
  const char *s = NULL;
  PetscFunctionBegin;
  PofCallDNNL(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s));
  PetscCall(PetscStrncpy(buf, s ? s : "?", len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static size_t scratch_size(dnnl_primitive_desc_t pd)
{
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  return md ? dnnl_memory_desc_get_size(md) : 0;
}

/*
 * Primitive descriptor of pass `which` (0 forward, 1 backward data, 2 backward weights) with
 * weights (or diff weights) w. With cv->winograd, a 3x3 stride-1 f32 convolution first asks for
 * oneDNN's Winograd F(4x4,3x3) (jit_wino_4x3); where oneDNN has none (bf16, the plain-input
 * first convolution, an ISA without it) the direct algorithm is used.
 */
static PetscErrorCode create_pd(const PofConv *cv, PofConvEntry *e, const dnnl_memory_desc_t *src,
                                PetscBool wino, int which, const dnnl_memory_desc_t *w,
                                const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                                dnnl_primitive_desc_t *pd)
{
  const dnnl_dims_t strides = { cv->stride, cv->stride };
  const dnnl_dims_t pad_l   = { cv->pad, cv->pad };
  /* right padding so that the output size is (in + 2 pad - k) / stride + 1 exactly */
  const dnnl_dims_t pad_r = { (cv->hout - 1) * cv->stride + cv->k - cv->hin - cv->pad,
                              (cv->wout - 1) * cv->stride + cv->k - cv->win - cv->pad };
  dnnl_engine_t     eng;
  dnnl_stream_t     stream;
  dnnl_alg_kind_t   alg = wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
  PetscFunctionBegin;
  PetscCall(pof_nn_engine(&eng, &stream));
  for (;;) {
    dnnl_convolution_desc_t d;
    dnnl_status_t           st;
    if (which == 0)
      PofCallDNNL(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, alg, src, w, NULL,
                                                     &e->dst_md, strides, pad_l, pad_r));
    else if (which == 1)
      PofCallDNNL(dnnl_convolution_backward_data_desc_init(&d, alg, src, w, &e->dst_md, strides,
                                                           pad_l, pad_r));
    else
      PofCallDNNL(dnnl_convolution_backward_weights_desc_init(&d, alg, src, w, NULL, &e->dst_md,
                                                              strides, pad_l, pad_r));
    st = dnnl_primitive_desc_create(pd, &d, attr, eng, hint);
    if (st == dnnl_unimplemented && alg == dnnl_convolution_winograd) {
      alg = dnnl_convolution_direct;
      continue;
    }
    PofCallDNNL(st);
    break;
  }
  if (alg == dnnl_convolution_winograd) e->wino = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode entry_build(PofConv *cv, PetscInt n, PetscBool wino, PofConvEntry **out)
{
  dnnl_engine_t          eng;
  dnnl_stream_t          stream;
  PofConvEntry          *e;
  dnnl_memory_desc_t     w_any, dst_md;
  dnnl_primitive_attr_t  attr, attr_fwd;
  const dnnl_data_type_t dt  = pof_dt_dnnl(cv->dt);
  const dnnl_dims_t      wd  = { cv->cout_p, cv->cin_p, cv->k, cv->k };
  PofAct                 dst = pof_act(n, cv->cout_p, cv->hout, cv->wout, cv->dt);
  PetscFunctionBegin;
  PetscCall(pof_nn_engine(&eng, &stream));
  PetscCall(PetscCalloc1(1, &e));
  e->n = e->m = n;
  PetscCall(md_src(cv, n, &e->src_md));
  PetscCall(pof_act_md(&dst, &dst_md));
  e->dst_md = dst_md;
  PofCallDNNL(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dt, dnnl_format_tag_any));

  PofCallDNNL(dnnl_primitive_attr_create(&attr));
  PofCallDNNL(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  PofCallDNNL(dnnl_primitive_attr_create(&attr_fwd));
  PofCallDNNL(dnnl_primitive_attr_set_scratchpad_mode(attr_fwd, dnnl_scratchpad_mode_user));
  if (cv->sum_dst) {
    dnnl_post_ops_t po;
    PofCallDNNL(dnnl_post_ops_create(&po));
    PofCallDNNL(dnnl_post_ops_append_sum(po, 1.0f));
    PofCallDNNL(dnnl_primitive_attr_set_post_ops(attr_fwd, po));
    PofCallDNNL(dnnl_post_ops_destroy(po));
  }

  PetscCall(create_pd(cv, e, &e->src_md, wino, 0, &w_any, attr_fwd, NULL, &e->fwd_pd));
  PofCallDNNL(dnnl_primitive_create(&e->fwd, e->fwd_pd));
  PetscCall(impl_name(e->fwd_pd, cv->impl[0], sizeof(cv->impl[0])));
  e->scratch[0] = scratch_size(e->fwd_pd);

  if (cv->need_dsrc) {
    PetscCall(create_pd(cv, e, &e->src_md, wino, 1, &w_any, attr, e->fwd_pd, &e->bd_pd));
    PofCallDNNL(dnnl_primitive_create(&e->bd, e->bd_pd));
    PetscCall(impl_name(e->bd_pd, cv->impl[1], sizeof(cv->impl[1])));
    e->scratch[1] = scratch_size(e->bd_pd);
  }

  {
    /* bf16 backward-weights with bf16 diff weights is a cliff (PERF.md): keep diff weights f32 */
    dnnl_memory_desc_t dw_any;
    PofCallDNNL(dnnl_memory_desc_init_by_tag(&dw_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    PetscCall(create_pd(cv, e, &e->src_md, wino, 2, &dw_any, attr, e->fwd_pd, &e->bw_pd));
    PetscCall(impl_name(e->bw_pd, cv->impl[2], sizeof(cv->impl[2])));
    e->bw_src_md = e->src_md;
    if (cv->plain_src && !strncmp(cv->impl[2], "ref", 3)) {
      /* oneDNN 2.6's AVX2 backward weights of a 1-channel NCHW input has no JIT kernel (ref:any);
         with the source format left to oneDNN it takes nChw8c: the input is reordered per call */
      dnnl_memory_desc_t    src_any;
      dnnl_primitive_desc_t rpd;
      PofCallDNNL(dnnl_memory_desc_init_by_tag(&src_any, 4, e->src_md.dims, e->src_md.data_type,
                                               dnnl_format_tag_any));
      PofCallDNNL(dnnl_primitive_desc_destroy(e->bw_pd));
      PetscCall(create_pd(cv, e, &src_any, wino, 2, &dw_any, attr, e->fwd_pd, &e->bw_pd));
      PetscCall(impl_name(e->bw_pd, cv->impl[2], sizeof(cv->impl[2])));
      e->bw_src_md = *dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_src_md, 0);
      if (!dnnl_memory_desc_equal(&e->bw_src_md, &e->src_md)) {
        PofCallDNNL(
            dnnl_reorder_primitive_desc_create(&rpd, &e->src_md, eng, &e->bw_src_md, eng, NULL));
        PofCallDNNL(dnnl_primitive_create(&e->r_bw_src, rpd));
        PofCallDNNL(dnnl_primitive_desc_destroy(rpd));
      }
    }
    PofCallDNNL(dnnl_primitive_create(&e->bw, e->bw_pd));
    e->scratch[2] = scratch_size(e->bw_pd);
    e->dw_md      = *dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_diff_weights_md, 0);
    dnnl_memory_desc_t    plain;
    dnnl_primitive_desc_t rpd;
    PetscCall(md_plain_weights(cv, dnnl_f32, &plain));
    e->dw_reorder = dnnl_memory_desc_equal(&plain, &e->dw_md) ? PETSC_FALSE : PETSC_TRUE;
    if (e->dw_reorder && !is_blocked4(&e->dw_md)) {
      PofCallDNNL(dnnl_reorder_primitive_desc_create(&rpd, &e->dw_md, eng, &plain, eng, NULL));
      PofCallDNNL(dnnl_primitive_create(&e->r_dw, rpd));
      PofCallDNNL(dnnl_primitive_desc_destroy(rpd));
    }
  }
  PofCallDNNL(dnnl_primitive_attr_destroy(attr));
  PofCallDNNL(dnnl_primitive_attr_destroy(attr_fwd));
  *out = e;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode entry_destroy(PofConvEntry **pe)
{
  PofConvEntry *e = *pe;
  PetscFunctionBegin;
  if (!e) PetscFunctionReturn(PETSC_SUCCESS);
  if (e->fwd) PofCallDNNL(dnnl_primitive_destroy(e->fwd));
  if (e->bd) PofCallDNNL(dnnl_primitive_destroy(e->bd));
  if (e->bw) PofCallDNNL(dnnl_primitive_destroy(e->bw));
  if (e->r_dw) PofCallDNNL(dnnl_primitive_destroy(e->r_dw));
  if (e->r_bw_src) PofCallDNNL(dnnl_primitive_destroy(e->r_bw_src));
  if (e->fwd_pd) PofCallDNNL(dnnl_primitive_desc_destroy(e->fwd_pd));
  if (e->bd_pd) PofCallDNNL(dnnl_primitive_desc_destroy(e->bd_pd));
  if (e->bw_pd) PofCallDNNL(dnnl_primitive_desc_destroy(e->bw_pd));
  PetscCall(PetscFree(*pe));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode drop_entries(PofConv *cv)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < cv->nentries; i++) PetscCall(entry_destroy(&cv->entries[i]));
  cv->nentries = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_set_winograd(PofConv *cv, PetscBool on)
{
  PetscFunctionBegin;
  if (cv->winograd != on) PetscCall(drop_entries(cv)); /* primitives are rebuilt on the next pass */
  cv->winograd = on;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*
 * Primitives for batch n. Winograd's scratchpad grows with the batch (oneDNN transforms whole
 * batches: 181 MB for 64->128 channels at 28x28, batch 128), so a Winograd entry whose largest
 * scratchpad exceeds POF_WINO_SCRATCH_MAX runs its batch in equal chunks of m = n/d images for
 * the smallest divisor d of n that fits (the weight gradient summed over the chunks); when not
 * even single images fit, the direct algorithm is used. Chunks of 32 cost 0-10 % against the
 * whole batch per layer (WRN-16-4 shapes, 2 threads).
 */
#define POF_WINO_SCRATCH_MAX ((size_t)64 << 20)
static size_t entry_scratch(const PofConvEntry *e)
{
  return PetscMax(PetscMax(e->scratch[0], e->scratch[1]), e->scratch[2]);
}

static PetscErrorCode entry_create(PofConv *cv, PetscInt n, PofConvEntry **out)
{
  PetscBool wino =
      (cv->winograd && cv->dt == POF_DT_F32 && cv->k == 3 && cv->stride == 1 && !cv->plain_src)
          ? PETSC_TRUE
          : PETSC_FALSE;
  PetscInt m = n;
  PetscFunctionBegin;
  PetscCall(entry_build(cv, m, wino, out));
  const size_t budget = cv->wino_scratch_max ? cv->wino_scratch_max : POF_WINO_SCRATCH_MAX;
  for (PetscInt d = 2; (*out)->wino && entry_scratch(*out) > budget; d++) {
    while (d <= n && n % d) d++; /* the next divisor d of n: m = n/2, n/3, n/4, ... */
    PetscCall(entry_destroy(out));
    if (d > n)
      wino = PETSC_FALSE, m = n;
    else
      m = n / d;
    PetscCall(entry_build(cv, m, wino, out));
  }
  (*out)->n = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode get_entry(PofConv *cv, PetscInt n, PofConvEntry **e)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < cv->nentries; i++)
    if (cv->entries[i]->n == n) {
      *e = cv->entries[i];
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  if (cv->nentries == (PetscInt)(sizeof(cv->entries) / sizeof(cv->entries[0]))) {
    /* evict the oldest shape */
    PetscCall(entry_destroy(&cv->entries[0]));
    for (PetscInt i = 1; i < cv->nentries; i++) cv->entries[i - 1] = cv->entries[i];
    cv->nentries--;
  }
  PetscCall(entry_create(cv, n, &cv->entries[cv->nentries]));
  *e = cv->entries[cv->nentries++];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Execute primitive p with (arg, md, ptr) triples; memory objects wrap the caller's buffers. */
typedef struct {
  int                       arg;
  const dnnl_memory_desc_t *md;
  void                     *ptr;
} ExecArg;

static PetscErrorCode exec(dnnl_primitive_t p, int nargs, const ExecArg *a)
{
  dnnl_engine_t   eng;
  dnnl_stream_t   stream;
  dnnl_exec_arg_t args[8];
  dnnl_memory_t   mem[8];
  PetscFunctionBegin;
  PetscCall(pof_nn_engine(&eng, &stream));
  for (int i = 0; i < nargs; i++) {
    PofCallDNNL(dnnl_memory_create(&mem[i], a[i].md, eng, a[i].ptr));
    args[i].arg    = a[i].arg;
    args[i].memory = mem[i];
  }
  PofCallDNNL(dnnl_primitive_execute(p, stream, nargs, args));
  PofCallDNNL(dnnl_stream_wait(stream));
  for (int i = 0; i < nargs; i++) PofCallDNNL(dnnl_memory_destroy(mem[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Run p over the n / e->m chunks of the batch: activation arguments advance by m images (the size
 * of their md). */
static PetscErrorCode exec_chunks(const PofConvEntry *e, dnnl_primitive_t p, int nargs, ExecArg *a)
{
  void *base[8];
  PetscFunctionBegin;
  for (int i = 0; i < nargs; i++) base[i] = a[i].ptr;
  for (PetscInt c = 0; c < e->n / e->m; c++) {
    for (int i = 0; i < nargs; i++)
      if (a[i].arg == DNNL_ARG_SRC || a[i].arg == DNNL_ARG_DST || a[i].arg == DNNL_ARG_DIFF_SRC ||
          a[i].arg == DNNL_ARG_DIFF_DST)
        a[i].ptr = (char *)base[i] + (size_t)c * dnnl_memory_desc_get_size(a[i].md);
    PetscCall(exec(p, nargs, a));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Offset of logical element pos[] in a blocked oneDNN memory descriptor (any blocking). */
static size_t blocked_offset(const dnnl_memory_desc_t *md, const dnnl_dim_t pos[4])
{
  const dnnl_blocking_desc_t *b      = &md->format_desc.blocking;
  dnnl_dim_t                  blk[4] = { 1, 1, 1, 1 }, rem[4];
  size_t                      off = (size_t)md->offset0, inner = 0, mult = 1;
  for (int k = 0; k < b->inner_nblks; k++) blk[b->inner_idxs[k]] *= b->inner_blks[k];
  for (int d = 0; d < 4; d++) {
    off += (size_t)(pos[d] / blk[d] * b->strides[d]);
    rem[d] = pos[d] % blk[d];
  }
  for (int k = b->inner_nblks - 1; k >= 0; k--) {
    const int d = (int)b->inner_idxs[k];
    inner += (size_t)(rem[d] % b->inner_blks[k]) * mult;
    rem[d] /= b->inner_blks[k];
    mult *= (size_t)b->inner_blks[k];
  }
  return off + inner;
}

/*
 * plain OIHW float (dims of md) <-> blocked md (f32 or bf16), a plain loop: oneDNN's generic
 * reorders of these small tensors took milliseconds each. to_blocked zero-fills padding.
 * A blocked offset is offset0 plus one term per dimension (outer block times stride, and each
 * inner block's digit times its place value depend on that dimension's index alone), so the
 * terms are tabulated once per call, and the loop runs on all threads. Calling blocked_offset
 * per (o, i) on one thread had cost 5 % of a bf16 WRN-28-10 training step in `perf record`
 * (36 M weights reordered twice per step) and 16 % of its time (the other thread waited).
 */
static PetscErrorCode reorder_weights(const dnnl_memory_desc_t *md, float *plain, void *blocked,
                                      int to_blocked)
{
  const dnnl_dim_t *d  = md->dims;
  const int         bf = md->data_type == dnnl_bf16;
  size_t           *tab[4];
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(d[0] + d[1] + d[2] + d[3], &tab[0]));
  tab[1] = tab[0] + d[0], tab[2] = tab[1] + d[1], tab[3] = tab[2] + d[2];
  for (int k = 0; k < 4; k++)
    for (dnnl_dim_t v = 0; v < d[k]; v++) {
      dnnl_dim_t pos[4] = { 0, 0, 0, 0 };
      pos[k]            = v;
      tab[k][v]         = blocked_offset(md, pos) - (size_t)md->offset0;
    }
  if (to_blocked) memset(blocked, 0, dnnl_memory_desc_get_size(md));
  const size_t off0 = (size_t)md->offset0;
#pragma omp parallel for schedule(static) if (d[0] * d[1] * d[2] * d[3] > (1 << 16))
  for (dnnl_dim_t o = 0; o < d[0]; o++)
    for (dnnl_dim_t i = 0; i < d[1]; i++)
      for (dnnl_dim_t h = 0; h < d[2]; h++) {
        const size_t qh = off0 + tab[0][o] + tab[1][i] + tab[2][h],
                     ph = (size_t)(((o * d[1] + i) * d[2] + h) * d[3]);
        for (dnnl_dim_t w = 0; w < d[3]; w++) {
          const size_t p = ph + (size_t)w, q = qh + tab[3][w];
          if (to_blocked) {
            if (bf)
              ((uint16_t *)blocked)[q] = pof_f32_to_bf16(plain[p]);
            else
              ((float *)blocked)[q] = plain[p];
          } else
            plain[p] =
                bf ? pof_bf16_to_f32(((const uint16_t *)blocked)[q]) : ((const float *)blocked)[q];
        }
      }
  PetscCall(PetscFree(tab[0]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* logical OIHW into the zero-padded one (when the channel counts are padded) */
static PetscErrorCode pad_weights(PofConv *cv)
{
  PetscFunctionBegin;
  if (cv->w_pad) {
    const PetscInt kk = cv->k * cv->k;
    for (PetscInt o = 0; o < cv->cout; o++)
      for (PetscInt i = 0; i < cv->cin; i++)
        PetscCall(PetscArraycpy(
            cv->w_pad + ((size_t)o * (size_t)cv->cin_p + (size_t)i) * (size_t)kk,
            cv->w_plain + ((size_t)o * (size_t)cv->cin + (size_t)i) * (size_t)kk, kk));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reorder the plain weights into format md (buffer *buf with md *cur, cached reorder *rp), when
 * stale. */
static PetscErrorCode ensure_weights(PofConv *cv, const dnnl_memory_desc_t *md, void **buf,
                                     dnnl_memory_desc_t *cur, PetscInt *have_version,
                                     PetscInt version, void **rp)
{
  dnnl_engine_t      eng;
  dnnl_stream_t      stream;
  dnnl_memory_desc_t plain;
  PetscFunctionBegin;
  if (*buf && dnnl_memory_desc_equal(md, cur) && *have_version == version)
    PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_nn_engine(&eng, &stream));
  PetscCall(md_plain_weights(cv, dnnl_f32, &plain));
  if (!*buf || !dnnl_memory_desc_equal(md, cur)) {
    dnnl_primitive_desc_t rpd;
    free(*buf);
    *buf = aligned_alloc(64, (dnnl_memory_desc_get_size(md) + 63) / 64 * 64);
    PetscCheck(*buf, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "cannot allocate %zu bytes of convolution weights", dnnl_memory_desc_get_size(md));
    *cur = *md;
    if (*rp) PofCallDNNL(dnnl_primitive_destroy((dnnl_primitive_t)*rp));
    *rp = NULL;
    if (!is_blocked4(md)) { /* our loop handles every blocked 4-d format; oneDNN the rest */
      PofCallDNNL(dnnl_reorder_primitive_desc_create(&rpd, &plain, eng, md, eng, NULL));
      PofCallDNNL(dnnl_primitive_create((dnnl_primitive_t *)rp, rpd));
      PofCallDNNL(dnnl_primitive_desc_destroy(rpd));
    }
  }
  PetscCall(pad_weights(cv));
  if (is_blocked4(md)) {
    PetscCall(reorder_weights(md, cv->w_pad ? cv->w_pad : (float *)cv->w_plain, *buf, 1));
  } else {
    ExecArg a[2] = { { DNNL_ARG_FROM, &plain, cv->w_pad ? (void *)cv->w_pad : (void *)cv->w_plain },
                     { DNNL_ARG_TO, md, *buf } };
    PetscCall(exec((dnnl_primitive_t)*rp, 2, a));
  }
  *have_version = version;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_setup(PofConv *cv)
{
  PetscFunctionBegin;
  PetscCheck(cv->k >= 1 && cv->stride >= 1 && cv->cin >= 1 && cv->cout >= 1, PETSC_COMM_SELF,
             PETSC_ERR_ARG_OUTOFRANGE, "bad convolution shape");
  cv->hout          = (cv->hin + 2 * cv->pad - cv->k) / cv->stride + 1;
  cv->wout          = (cv->win + 2 * cv->pad - cv->k) / cv->stride + 1;
  cv->w_fwd_version = cv->w_bd_version = -1;
  cv->cin_p                            = cv->plain_src ? cv->cin : pof_cpad(cv->cin);
  cv->cout_p                           = pof_cpad(cv->cout);
  cv->w_pad = cv->dw_pad = NULL;
  if (cv->cin_p != cv->cin || cv->cout_p != cv->cout) {
    PetscCall(PetscCalloc1(cv->cout_p * cv->cin_p * cv->k * cv->k, &cv->w_pad));
    PetscCall(PetscCalloc1(cv->cout_p * cv->cin_p * cv->k * cv->k, &cv->dw_pad));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_release(PofConv *cv)
{
  PetscFunctionBegin;
  PetscCall(drop_entries(cv));
  free(cv->w_fwd);
  free(cv->w_bd);
  cv->w_fwd = cv->w_bd = NULL;
  if (cv->r_fwd) PofCallDNNL(dnnl_primitive_destroy((dnnl_primitive_t)cv->r_fwd));
  if (cv->r_bd) PofCallDNNL(dnnl_primitive_destroy((dnnl_primitive_t)cv->r_bd));
  cv->r_fwd = cv->r_bd = NULL;
  PetscCall(PetscFree(cv->w_pad));
  PetscCall(PetscFree(cv->dw_pad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_forward(PofConv *cv, PetscInt n, PetscInt version, const void *src,
                                void *dst)
{
  PofConvEntry *e;
  void         *scr;
  PetscFunctionBegin;
  PetscCall(get_entry(cv, n, &e));
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_weights_md, 0);
  void                     *w;
  if (cv->low_mem && is_blocked4(wmd)) { /* no cached copy: reorder into the shared buffer */
    PetscCall(pof_nn_weight_scratch(dnnl_memory_desc_get_size(wmd), &w));
    PetscCall(pad_weights(cv));
    PetscCall(reorder_weights(wmd, cv->w_pad ? cv->w_pad : (float *)cv->w_plain, w, 1));
  } else {
    PetscCall(ensure_weights(cv, wmd, &cv->w_fwd, &cv->w_fwd_md, &cv->w_fwd_version, version,
                             &cv->r_fwd));
    w = cv->w_fwd;
  }
  PetscCall(pof_nn_scratchpad(e->scratch[0], &scr));
  const dnnl_memory_desc_t *smd =
      dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_scratchpad_md, 0);
  ExecArg a[4] = { { DNNL_ARG_SRC, &e->src_md, (void *)src },
                   { DNNL_ARG_WEIGHTS, wmd, w },
                   { DNNL_ARG_DST, &e->dst_md, dst },
                   { DNNL_ARG_SCRATCHPAD, smd, scr } };
  PetscCall(exec_chunks(e, e->fwd, 4, a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_backward_data(PofConv *cv, PetscInt n, PetscInt version, const void *ddst,
                                      void *dsrc)
{
  PofConvEntry *e;
  void         *scr;
  PetscFunctionBegin;
  PetscCheck(cv->need_dsrc, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE,
             "convolution was set up without backward data");
  PetscCall(get_entry(cv, n, &e));
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(e->bd_pd, dnnl_query_weights_md, 0);
  void                     *w;
  if (cv->w_fwd && cv->w_fwd_version == version && dnnl_memory_desc_equal(wmd, &cv->w_fwd_md))
    w = cv->w_fwd; /* same format: no second copy */
  else if (cv->low_mem && is_blocked4(wmd)) {
    PetscCall(pof_nn_weight_scratch(dnnl_memory_desc_get_size(wmd), &w));
    PetscCall(pad_weights(cv));
    PetscCall(reorder_weights(wmd, cv->w_pad ? cv->w_pad : (float *)cv->w_plain, w, 1));
  } else {
    PetscCall(
        ensure_weights(cv, wmd, &cv->w_bd, &cv->w_bd_md, &cv->w_bd_version, version, &cv->r_bd));
    w = cv->w_bd;
  }
  PetscCall(pof_nn_scratchpad(e->scratch[1], &scr));
  const dnnl_memory_desc_t *smd =
      dnnl_primitive_desc_query_md(e->bd_pd, dnnl_query_scratchpad_md, 0);
  ExecArg a[4] = { { DNNL_ARG_DIFF_DST, &e->dst_md, (void *)ddst },
                   { DNNL_ARG_WEIGHTS, wmd, w },
                   { DNNL_ARG_DIFF_SRC, &e->src_md, dsrc },
                   { DNNL_ARG_SCRATCHPAD, smd, scr } };
  PetscCall(exec_chunks(e, e->bd, 4, a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_backward_weights(PofConv *cv, PetscInt n, const void *src, const void *ddst)
{
  PofConvEntry *e;
  void         *scr;
  PetscFunctionBegin;
  PetscCall(get_entry(cv, n, &e));
  const dnnl_memory_desc_t *smd =
      dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_scratchpad_md, 0);
  const size_t   dwsz = dnnl_memory_desc_get_size(&e->dw_md);
  const size_t   dwal = (dwsz + 63) / 64 * 64, scal = (e->scratch[2] + 63) / 64 * 64;
  const PetscInt nch  = e->n / e->m;
  const size_t   srcb = e->r_bw_src ? dnnl_memory_desc_get_size(&e->bw_src_md) : 0;
  /* scratchpad | reordered dW (when not plain) | one chunk's dW (when chunked) | reordered source
   */
  PetscCall(
      pof_nn_scratchpad(scal + (e->dw_reorder ? dwal : 0) + (nch > 1 ? dwal : 0) + srcb, &scr));
  void  *dwbuf = e->dw_reorder ? (void *)((char *)scr + scal)
                               : (void *)(cv->dw_pad ? cv->dw_pad : cv->dw_plain);
  float *part  = (float *)(void *)((char *)scr + scal + (e->dw_reorder ? dwal : 0));
  if (e->r_bw_src) { /* unchunked: only the plain-input first convolution, which never runs Winograd
                      */
    void   *rs   = (char *)scr + scal + (e->dw_reorder ? dwal : 0) + (nch > 1 ? dwal : 0);
    ExecArg r[2] = { { DNNL_ARG_FROM, &e->src_md, (void *)src },
                     { DNNL_ARG_TO, &e->bw_src_md, rs } };
    PetscCheck(nch == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "reordered backward-weights source in a chunked convolution");
    PetscCall(exec(e->r_bw_src, 2, r));
    src = rs;
  }
  ExecArg a[4] = { { DNNL_ARG_SRC, &e->bw_src_md, (void *)src },
                   { DNNL_ARG_DIFF_DST, &e->dst_md, (void *)ddst },
                   { DNNL_ARG_DIFF_WEIGHTS, &e->dw_md, dwbuf },
                   { DNNL_ARG_SCRATCHPAD, smd, scr } };
  for (PetscInt c = 0; c < nch; c++) {
    a[0].ptr =
        (char *)src + (size_t)c * dnnl_memory_desc_get_size(&e->bw_src_md); /* mds hold m images */
    a[1].ptr = (char *)ddst + (size_t)c * dnnl_memory_desc_get_size(&e->dst_md);
    a[2].ptr = c ? (void *)part : dwbuf;
    PetscCall(exec(e->bw, 4, a));
    if (c) { /* the weight gradient is the sum over the chunks (diff weights are always f32) */
      float *acc = (float *)dwbuf;
      for (size_t i = 0; i < dwsz / sizeof(float); i++) acc[i] += part[i];
    }
  }
  if (e->dw_reorder && !e->r_dw) {
    PetscCall(reorder_weights(&e->dw_md, cv->dw_pad ? cv->dw_pad : cv->dw_plain, dwbuf, 0));
  } else if (e->r_dw) {
    dnnl_memory_desc_t plain;
    PetscCall(md_plain_weights(cv, dnnl_f32, &plain));
    ExecArg r[2] = { { DNNL_ARG_FROM, &e->dw_md, dwbuf },
                     { DNNL_ARG_TO, &plain, cv->dw_pad ? cv->dw_pad : cv->dw_plain } };
    PetscCall(exec(e->r_dw, 2, r));
  }
  if (cv->dw_pad) { /* the logical part of the padded gradient */
    const PetscInt kk = cv->k * cv->k;
    for (PetscInt o = 0; o < cv->cout; o++)
      for (PetscInt i = 0; i < cv->cin; i++)
        PetscCall(PetscArraycpy(
            cv->dw_plain + ((size_t)o * (size_t)cv->cin + (size_t)i) * (size_t)kk,
            cv->dw_pad + ((size_t)o * (size_t)cv->cin_p + (size_t)i) * (size_t)kk, kk));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_plan(PofConv *cv, PetscInt n, PetscInt *chunk, PetscBool *wino,
                             size_t *scratch)
{
  PofConvEntry *e;
  PetscFunctionBegin;
  PetscCall(get_entry(cv, n, &e));
  if (chunk) *chunk = e->m;
  if (wino) *wino = e->wino;
  if (scratch) *scratch = entry_scratch(e);
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_conv_describe(const PofConv *cv, char *buf, size_t len)
{
  size_t k = 0;
  buf[0]   = 0;
  for (PetscInt i = 0; i < cv->nentries && k < len; i++) {
    const PofConvEntry *e = cv->entries[i];
    int w = snprintf(buf + k, len - k, "%sbatch %d: %s %d x %d, scratchpad %.1f MB", i ? "; " : "",
                     (int)e->n, e->wino ? "Winograd" : "direct", (int)(e->n / e->m), (int)e->m,
                     (double)entry_scratch(e) / 1e6);
    if (w < 0) break;
    k += (size_t)w;
  }
}

void pof_conv_impl(const PofConv *cv, const char **fwd, const char **bd, const char **bw)
{
  *fwd = cv->impl[0];
  *bd  = cv->need_dsrc ? cv->impl[1] : "-";
  *bw  = cv->impl[2];
}
