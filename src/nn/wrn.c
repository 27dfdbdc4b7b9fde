/*
 * The WRN feature extractor on oneDNN convolutions and pof's BN kernels. See include/pof/nn.h.
 *
 * Forward of block b (buffers named as in the code):
 *   A1 = ReLU(BN1(X))   C1 = conv1(A1)   A2 = ReLU(BN2(C1))
 *   OUT = shortcut(X) (1x1 conv, or a copy of X), then OUT += conv2(A2) (sum post-op)
 * With POF_FWD_KEEP every block keeps X, A1, C1, A2 for backward; without it four rotating
 * buffers hold one block at a time (the PoF weak pass and evaluation keep nothing). Those are
 * the four gradient buffers G, which hold data only inside pof_wrn_features_backward (a kept
 * forward stores nothing in them, and a backward after an unkept forward is refused anyway: the
 * unkept pass overwrites the saved BN statistics).
 * Recompute mode (pof_wrn_set_recompute) keeps only X and C1 per block: A1, A2 and the final
 * ReLU(BN(X)) are written to one scratch buffer R in forward and recomputed into R in backward
 * from X / C1 and the BN scale and shift of that forward, by the same kernel, so they are
 * bit-identical to the stored ones (and so are all gradients).
 * Backward of block b with gradient buffers G0 (dOUT), G1, G2, G3:
 *   G1 = conv2ᵀ(G0), dW2;  shortcut: G2 = scᵀ(G0), dWsc (identity: the addend is G0 itself)
 *   G1 = BN2ᵀ(G1) (in place), dγ2, dβ2;  G3 = conv1ᵀ(G1), dW1
 *   G1 = BN1ᵀ(G3) + addend = dX, dγ1, dβ1;  swap(G0, G1)
 */
#include "nn_internal.h"
#include "pof/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1

typedef struct {
  PetscInt c;
  PetscInt w_off, b_off, r_off; /* gamma, beta in params; running mean (var = +c) in running */
  float   *mean, *rstd;         /* batch statistics of the last training forward */
  float   *scale, *shift;       /* per-channel affine of the last forward */
  uint8_t *mask;                /* ReLU mask of the last kept forward (replay mode), or NULL */
} BnLayer;

typedef struct {
  PetscInt  in, out, stride;
  PetscBool has_sc;
  PetscInt  p_begin, p_end; /* parameter slice of the block */
  PofAct    ax, amid, aout; /* X (n,in,H,W), C1/A1-out shapes (n,out,H,W), OUT (n,out,Ho,Wo) */
  BnLayer   bn1, bn2;
  PofConv   conv1, conv2, sc;
  void     *A1, *C1, *A2; /* kept activations (KEEP mode) */
} Block;

struct PofWrn_s {
  PofWrnShape    shape;
  PofDType       dt;
  PetscBool      input_grad;
  PetscInt       nblocks, F, n_params, n_feature, n_bn_state;
  PofTensorInfo *tensors;
  PetscInt       ntensors;
  float         *params, *grads, *running;
  PetscInt       version;
  PofConv        conv0;
  Block         *blocks;
  BnLayer        bnf;
  PetscInt       bnf_begin;
  PofAct         a0, af; /* conv0 output shape (n, b, H, W); final activation shape */
  /* storage */
  PetscInt  keep_cap, grad_cap;
  void    **X;    /* X[0..nblocks]: block inputs (X[nblocks] = last output) */
  void     *AF;   /* final ReLU(BN(X)) */
  void     *G[4]; /* gradient buffers in backward, rotating buffers of an unkept forward */
  void     *xin;  /* converted network input (bf16) */
  void     *R;    /* recompute scratch (largest activation) */
  PetscInt  r_cap;
  PetscBool recompute;
  PetscBool winograd;
  PetscInt  xin_cap;
  /* last kept forward */
  PetscInt       kept_n;
  const float   *kept_x;
  PofBnMode      kept_mode; /* BN mode of the last kept forward */
  PofReluMode    relu_mode; /* live, record or replay ReLU masks (pof_wrn_relu_masks) */
  uint8_t       *mask_buf;
  size_t         mask_cap, mask_pos;
  PofSumFn       bn_sum;
  void          *bn_sum_ctx;
  PofGradReadyFn grad_ready;
  void          *grad_ready_ctx;
  double        *red; /* reduction buffer 2*maxC + 1 */
};

/* ------------------------------------------------------------------ shapes */
PetscBool pof_wrn_shape_ok(const PofWrnShape *s, char *why, size_t len)
{
  if (!(s->depth >= 10 && (s->depth - 4) % 6 == 0))
    snprintf(why, len, "WRN depth must be 6n+4 with n >= 1, got %" PetscInt_FMT, s->depth);
  else if (s->width < 1)
    snprintf(why, len, "WRN width must be >= 1, got %" PetscInt_FMT, s->width);
  else if (s->base < 1)
    snprintf(why, len, "WRN base width must be >= 1, got %" PetscInt_FMT, s->base);
  else if (s->in_c < 1 || s->in_h < 1 || s->in_w < 1)
    snprintf(why, len,
             "WRN input shape must be positive, got %" PetscInt_FMT "x%" PetscInt_FMT
             "x%" PetscInt_FMT,
             s->in_c, s->in_h, s->in_w);
  else if (s->classes < 2)
    snprintf(why, len, "WRN needs at least 2 classes, got %" PetscInt_FMT, s->classes);
  else if (s->depth > POF_WRN_MAX_DEPTH) /* a shape read from a file: its tensor walk stays short */
    snprintf(why, len, "WRN depth %" PetscInt_FMT " is larger than pof supports (%d)", s->depth,
             POF_WRN_MAX_DEPTH);
  else {
    /* an upper bound of the parameter count in double (each block at most BN 4C, two 3x3
       convolutions and a 1x1 shortcut of C = 4 base width channels), so the exact counts in
       PetscInt cannot overflow; likewise one input image */
    const double C = 4.0 * (double)s->base * (double)s->width, n = (double)(s->depth - 4) / 6;
    const double bound = 9.0 * (double)s->in_c * (double)s->base + 3 * n * (19 * C * C + 4 * C) +
                         2 * C + (double)s->classes * (C + 1);
    const double image = (double)s->in_c * (double)s->in_h * (double)s->in_w;
    if (bound <= (double)PETSC_MAX_INT && image <= (double)PETSC_MAX_INT) return PETSC_TRUE;
    snprintf(why, len,
             "WRN-%" PetscInt_FMT "-%" PetscInt_FMT " (base %" PetscInt_FMT ", %" PetscInt_FMT
             "x%" PetscInt_FMT "x%" PetscInt_FMT " input, %" PetscInt_FMT
             " classes) is too large: up to %.3g parameters and %.3g values per image, pof "
             "counts them in 32-bit integers",
             s->depth, s->width, s->base, s->in_c, s->in_h, s->in_w, s->classes, bound, image);
  }
  return PETSC_FALSE;
}

PetscErrorCode pof_wrn_shape_check(const PofWrnShape *s, MPI_Comm comm)
{
  char why[256];
  PetscFunctionBegin;
  PetscCheck(pof_wrn_shape_ok(s, why, sizeof(why)), comm, PETSC_ERR_ARG_OUTOFRANGE, "%s", why);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Walk the architecture: calls add(name, kind, ndim, dims) for every tensor in arena order. */
typedef struct {
  PofTensorInfo *t;
  PetscInt       n, off;
} TensorList;

static void add_tensor(TensorList *L, const char *name, PofTensorKind kind, PetscInt ndim,
                       PetscInt d0, PetscInt d1, PetscInt d2, PetscInt d3)
{
  const PetscInt dims[4] = { d0, d1, d2, d3 };
  PetscInt       numel   = 1;
  for (PetscInt i = 0; i < ndim; i++) numel *= dims[i];
  if (L->t) {
    PofTensorInfo *t = &L->t[L->n];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->kind   = kind;
    t->offset = L->off;
    t->numel  = numel;
    t->ndim   = ndim;
    for (int i = 0; i < 4; i++) t->dims[i] = i < ndim ? dims[i] : 1;
  }
  L->n++;
  L->off += numel;
}

static void walk(const PofWrnShape *s, TensorList *L, PetscInt *n_feature, PetscInt *n_bn_state)
{
  const PetscInt n = (s->depth - 4) / 6, w[4] = { s->base, s->base * s->width,
                                                  2 * s->base * s->width, 4 * s->base * s->width };
  char           name[64];
  PetscInt       in = w[0], bnstate = 0;
  add_tensor(L, "conv1.weight", POF_TENSOR_CONV, 4, w[0], s->in_c, 3, 3);
  for (int st = 1; st <= 3; st++) {
    for (PetscInt j = 0; j < n; j++) {
      const PetscInt out = w[st], stride = (j == 0 && st > 1) ? 2 : 1;
      snprintf(name, sizeof(name), "layer%d.%d.bn1.weight", st, (int)j);
      add_tensor(L, name, POF_TENSOR_BN_WEIGHT, 1, in, 1, 1, 1);
      snprintf(name, sizeof(name), "layer%d.%d.bn1.bias", st, (int)j);
      add_tensor(L, name, POF_TENSOR_BN_BIAS, 1, in, 1, 1, 1);
      snprintf(name, sizeof(name), "layer%d.%d.conv1.weight", st, (int)j);
      add_tensor(L, name, POF_TENSOR_CONV, 4, out, in, 3, 3);
      snprintf(name, sizeof(name), "layer%d.%d.bn2.weight", st, (int)j);
      add_tensor(L, name, POF_TENSOR_BN_WEIGHT, 1, out, 1, 1, 1);
      snprintf(name, sizeof(name), "layer%d.%d.bn2.bias", st, (int)j);
      add_tensor(L, name, POF_TENSOR_BN_BIAS, 1, out, 1, 1, 1);
      snprintf(name, sizeof(name), "layer%d.%d.conv2.weight", st, (int)j);
      add_tensor(L, name, POF_TENSOR_CONV, 4, out, out, 3, 3);
      if (stride != 1 || in != out) {
        snprintf(name, sizeof(name), "layer%d.%d.shortcut.0.weight", st, (int)j);
        add_tensor(L, name, POF_TENSOR_CONV, 4, out, in, 1, 1);
      }
      bnstate += 2 * in + 2 * out;
      in = out;
    }
  }
  add_tensor(L, "bn1.weight", POF_TENSOR_BN_WEIGHT, 1, w[3], 1, 1, 1);
  add_tensor(L, "bn1.bias", POF_TENSOR_BN_BIAS, 1, w[3], 1, 1, 1);
  bnstate += 2 * w[3];
  if (n_feature) *n_feature = L->off;
  add_tensor(L, "linear.weight", POF_TENSOR_LINEAR_WEIGHT, 2, s->classes, w[3], 1, 1);
  add_tensor(L, "linear.bias", POF_TENSOR_LINEAR_BIAS, 1, s->classes, 1, 1, 1);
  if (n_bn_state) *n_bn_state = bnstate;
}

PetscErrorCode pof_wrn_shape_sizes(const PofWrnShape *s, PetscInt *n_params, PetscInt *n_feature,
                                   PetscInt *feature_dim, PetscInt *n_bn_state)
{
  TensorList L = { NULL, 0, 0 };
  PetscInt   nf, nb;
  PetscFunctionBegin;
  PetscCall(pof_wrn_shape_check(s, PETSC_COMM_SELF));
  walk(s, &L, &nf, &nb);
  if (n_params) *n_params = L.off;
  if (n_feature) *n_feature = nf;
  if (feature_dim) *feature_dim = 4 * s->base * s->width;
  if (n_bn_state) *n_bn_state = nb;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bn_setup(BnLayer *bn, PetscInt c, PetscInt w_off, PetscInt r_off)
{
  PetscFunctionBegin;
  bn->c     = c;
  bn->w_off = w_off;
  bn->b_off = w_off + c;
  bn->r_off = r_off;
  PetscCall(PetscCalloc4(c, &bn->mean, c, &bn->rstd, c, &bn->scale, c, &bn->shift));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bn_release(BnLayer *bn)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(bn->mean, bn->rstd, bn->scale, bn->shift));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void *xalloc(size_t bytes)
{
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (p) memset(p, 0, (bytes + 63) / 64 * 64 + 64);
  return p;
}

/* One pre-activation block (BN, conv1, BN, conv2, shortcut) at tensor *t of the arena and BN
   state *r_off, for an input of in channels and *H x *W pixels; advances *t, *r_off, *H, *W. */
static PetscErrorCode block_setup(PofWrn m, Block *B, PetscInt in, PetscInt out, PetscInt stride,
                                  PofDType dt, PetscInt *t, PetscInt *r_off, PetscInt *H,
                                  PetscInt *W)
{
  PetscFunctionBegin;
  B->in = in, B->out = out, B->stride = stride;
  B->has_sc  = stride != 1 || in != out;
  B->p_begin = m->tensors[*t].offset;
  PetscCall(bn_setup(&B->bn1, in, m->tensors[*t].offset, *r_off));
  *r_off += 2 * in;
  *t += 2;
  B->conv1          = (PofConv){ .cin       = in,
                                 .cout      = out,
                                 .k         = 3,
                                 .stride    = 1,
                                 .pad       = 1,
                                 .hin       = *H,
                                 .win       = *W,
                                 .dt        = dt,
                                 .need_dsrc = PETSC_TRUE };
  B->conv1.w_plain  = m->params + m->tensors[*t].offset;
  B->conv1.dw_plain = m->grads + m->tensors[*t].offset;
  PetscCall(pof_conv_setup(&B->conv1));
  (*t)++;
  PetscCall(bn_setup(&B->bn2, out, m->tensors[*t].offset, *r_off));
  *r_off += 2 * out;
  *t += 2;
  B->conv2          = (PofConv){ .cin       = out,
                                 .cout      = out,
                                 .k         = 3,
                                 .stride    = stride,
                                 .pad       = 1,
                                 .hin       = *H,
                                 .win       = *W,
                                 .dt        = dt,
                                 .need_dsrc = PETSC_TRUE,
                                 .sum_dst   = PETSC_TRUE };
  B->conv2.w_plain  = m->params + m->tensors[*t].offset;
  B->conv2.dw_plain = m->grads + m->tensors[*t].offset;
  PetscCall(pof_conv_setup(&B->conv2));
  (*t)++;
  if (B->has_sc) {
    B->sc          = (PofConv){ .cin       = in,
                                .cout      = out,
                                .k         = 1,
                                .stride    = stride,
                                .pad       = 0,
                                .hin       = *H,
                                .win       = *W,
                                .dt        = dt,
                                .need_dsrc = PETSC_TRUE };
    B->sc.w_plain  = m->params + m->tensors[*t].offset;
    B->sc.dw_plain = m->grads + m->tensors[*t].offset;
    PetscCall(pof_conv_setup(&B->sc));
    PetscCheck(B->sc.hout == B->conv2.hout && B->sc.wout == B->conv2.wout, PETSC_COMM_SELF,
               PETSC_ERR_PLIB, "shortcut and conv2 output sizes differ");
    (*t)++;
  }
  B->p_end = m->tensors[*t].offset;
  B->ax    = pof_act(0, in, *H, *W, dt);
  B->amid  = pof_act(0, out, *H, *W, dt);
  *H = B->conv2.hout, *W = B->conv2.wout;
  B->aout = pof_act(0, out, *H, *W, dt);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_wrn_create(const PofWrnShape *shape, PofDType dt, PetscBool input_grad,
                              PofWrn *model)
{
  PofWrn     m;
  TensorList L = { NULL, 0, 0 };
  PetscFunctionBegin;
  PetscCall(pof_wrn_shape_check(shape, PETSC_COMM_SELF));
  if (dt == POF_DT_BF16 &&
      !pof_nn_has_avx512()) { /* oneDNN 2.6 has bf16 convolutions from avx512_core up */
    char ver[128];
    pof_nn_version(ver, sizeof ver);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_SUP,
            "-precision bf16 needs a CPU with AVX-512: oneDNN %s has no bf16 convolutions here; "
            "use -precision fp32",
            ver);
  }
  PetscCall(PetscCalloc1(1, &m));
  m->shape      = *shape;
  m->dt         = dt;
  m->input_grad = input_grad;
  m->nblocks    = 3 * ((shape->depth - 4) / 6);
  m->F          = 4 * shape->base * shape->width;
  walk(shape, &L, &m->n_feature, &m->n_bn_state);
  m->ntensors = L.n;
  m->n_params = L.off;
  PetscCall(PetscCalloc1(m->ntensors, &m->tensors));
  L.t = m->tensors, L.n = 0, L.off = 0;
  walk(shape, &L, NULL, NULL);
  m->params  = xalloc(sizeof(float) * (size_t)m->n_params);
  m->grads   = xalloc(sizeof(float) * (size_t)m->n_params);
  m->running = xalloc(sizeof(float) * (size_t)m->n_bn_state);
  PetscCheck(m->params && m->grads && m->running, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "cannot allocate the parameter arenas (%" PetscInt_FMT " parameters)", m->n_params);
  m->version = 0;

  /* layers, offsets taken from the tensor list in arena order */
  const PetscInt n    = (shape->depth - 4) / 6,
                 w[4] = { shape->base, shape->base * shape->width, 2 * shape->base * shape->width,
                          4 * shape->base * shape->width };
  PetscInt t = 0, r_off = 0, H = shape->in_h, W = shape->in_w, in = w[0];
  PetscCall(PetscCalloc1(m->nblocks, &m->blocks));
  m->conv0          = (PofConv){ .cin       = shape->in_c,
                                 .cout      = w[0],
                                 .k         = 3,
                                 .stride    = 1,
                                 .pad       = 1,
                                 .hin       = H,
                                 .win       = W,
                                 .dt        = dt,
                                 .plain_src = PETSC_TRUE,
                                 .need_dsrc = input_grad };
  m->conv0.w_plain  = m->params + m->tensors[t].offset;
  m->conv0.dw_plain = m->grads + m->tensors[t].offset;
  PetscCall(pof_conv_setup(&m->conv0));
  m->a0 = pof_act(0, w[0], H, W, dt);
  t++;
  PetscInt b = 0;
  for (int st = 1; st <= 3; st++) {
    for (PetscInt j = 0; j < n; j++, b++) {
      const PetscInt out = w[st], stride = (j == 0 && st > 1) ? 2 : 1;
      PetscCall(block_setup(m, &m->blocks[b], in, out, stride, dt, &t, &r_off, &H, &W));
      in = out;
    }
  }
  m->bnf_begin = m->tensors[t].offset;
  PetscCall(bn_setup(&m->bnf, w[3], m->tensors[t].offset, r_off));
  r_off += 2 * w[3];
  PetscCheck(r_off == m->n_bn_state && m->tensors[t + 2].offset == m->n_feature, PETSC_COMM_SELF,
             PETSC_ERR_PLIB, "WRN layout walk is inconsistent");
  m->af = pof_act(0, w[3], H, W, dt);
  PetscCall(PetscMalloc1(m->nblocks + 1, &m->X));
  for (PetscInt i = 0; i <= m->nblocks; i++) m->X[i] = NULL;
  PetscCall(PetscMalloc1(2 * 4 * (size_t)m->F + 2 * (size_t)PetscMax(w[0], m->F) + 8, &m->red));
  *model = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void free_keep(PofWrn m)
{
  for (PetscInt i = 0; i <= m->nblocks; i++) free(m->X[i]), m->X[i] = NULL;
  for (PetscInt b = 0; b < m->nblocks; b++) {
    free(m->blocks[b].A1), free(m->blocks[b].C1), free(m->blocks[b].A2);
    m->blocks[b].A1 = m->blocks[b].C1 = m->blocks[b].A2 = NULL;
  }
  free(m->AF), free(m->R);
  m->AF = m->R = NULL;
  m->keep_cap = m->r_cap = 0;
}

PetscErrorCode pof_wrn_destroy(PofWrn *pm)
{
  PofWrn m = *pm;
  PetscFunctionBegin;
  if (!m) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_conv_release(&m->conv0));
  for (PetscInt b = 0; b < m->nblocks; b++) {
    Block *B = &m->blocks[b];
    PetscCall(pof_conv_release(&B->conv1));
    PetscCall(pof_conv_release(&B->conv2));
    if (B->has_sc) PetscCall(pof_conv_release(&B->sc));
    PetscCall(bn_release(&B->bn1));
    PetscCall(bn_release(&B->bn2));
  }
  PetscCall(bn_release(&m->bnf));
  free_keep(m);
  for (int i = 0; i < 4; i++) free(m->G[i]);
  free(m->xin);
  free(m->params), free(m->grads), free(m->running);
  PetscCall(PetscFree(m->X));
  PetscCall(PetscFree(m->blocks));
  PetscCall(PetscFree(m->tensors));
  PetscCall(PetscFree(m->red));
  PetscCall(PetscFree(*pm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void                 pof_wrn_get_shape(PofWrn m, PofWrnShape *s) { *s = m->shape; }
PofDType             pof_wrn_dtype(PofWrn m) { return m->dt; }
PetscInt             pof_wrn_num_params(PofWrn m) { return m->n_params; }
PetscInt             pof_wrn_num_feature_params(PofWrn m) { return m->n_feature; }
PetscInt             pof_wrn_feature_dim(PofWrn m) { return m->F; }
PetscInt             pof_wrn_num_bn_state(PofWrn m) { return m->n_bn_state; }
const PofTensorInfo *pof_wrn_tensors(PofWrn m, PetscInt *n)
{
  if (n) *n = m->ntensors;
  return m->tensors;
}
float *pof_wrn_params(PofWrn m) { return m->params; }
float *pof_wrn_grads(PofWrn m) { return m->grads; }
float *pof_wrn_running(PofWrn m) { return m->running; }
void   pof_wrn_params_changed(PofWrn m) { m->version++; }
void   pof_wrn_set_recompute(PofWrn m, PetscBool on)
{
  if (on == m->recompute) return;
  free_keep(m); /* the kept buffers are reallocated for the new mode on the next kept forward */
  m->recompute     = on;
  m->conv0.low_mem = on;
  for (PetscInt b = 0; b < m->nblocks; b++) {
    m->blocks[b].conv1.low_mem = m->blocks[b].conv2.low_mem = on;
    if (m->blocks[b].has_sc) m->blocks[b].sc.low_mem = on;
  }
  m->kept_n = 0;
}
PetscBool      pof_wrn_recompute(PofWrn m) { return m->recompute; }
PetscErrorCode pof_wrn_set_winograd(PofWrn m, PetscBool on)
{
  PetscFunctionBegin;
  PetscCall(pof_conv_set_winograd(&m->conv0, on));
  for (PetscInt b = 0; b < m->nblocks; b++) {
    PetscCall(pof_conv_set_winograd(&m->blocks[b].conv1, on));
    PetscCall(pof_conv_set_winograd(&m->blocks[b].conv2, on));
    if (m->blocks[b].has_sc) PetscCall(pof_conv_set_winograd(&m->blocks[b].sc, on));
  }
  m->winograd = on;
  PetscFunctionReturn(PETSC_SUCCESS);
}
PetscBool pof_wrn_winograd(PofWrn m) { return m->winograd; }
void      pof_wrn_set_bn_sum(PofWrn m, PofSumFn fn, void *ctx)
{
  m->bn_sum     = fn;
  m->bn_sum_ctx = ctx;
}
void pof_wrn_set_grad_ready(PofWrn m, PofGradReadyFn fn, void *ctx)
{
  m->grad_ready     = fn;
  m->grad_ready_ctx = ctx;
}

PetscErrorCode pof_wrn_init_params(PofWrn m, PetscInt seed)
{
  PetscFunctionBegin;
  for (PetscInt t = 0; t < m->ntensors; t++) {
    const PofTensorInfo *T = &m->tensors[t];
    float               *p = m->params + T->offset;
    PofRng               r;
    pof_rng_init(&r, (uint64_t)seed, POF_RNG_INIT, (uint32_t)t, 0, 0);
    switch (T->kind) {
    case POF_TENSOR_CONV: {
      const double std = sqrt(2.0 / (double)(T->dims[0] * T->dims[2] * T->dims[3]));
      for (PetscInt i = 0; i < T->numel; i++) p[i] = (float)(std * pof_rng_normal(&r));
    } break;
    case POF_TENSOR_BN_WEIGHT:
      for (PetscInt i = 0; i < T->numel; i++) p[i] = 1.0f;
      break;
    case POF_TENSOR_BN_BIAS:
    case POF_TENSOR_LINEAR_BIAS:
      for (PetscInt i = 0; i < T->numel; i++) p[i] = 0.0f;
      break;
    case POF_TENSOR_LINEAR_WEIGHT:
      for (PetscInt i = 0; i < T->numel; i++) p[i] = (float)(0.1 * pof_rng_normal(&r));
      break;
    }
  }
  /* running statistics: mean 0, var 1 per BN layer */
  for (PetscInt b = 0; b < m->nblocks; b++) {
    BnLayer *bns[2] = { &m->blocks[b].bn1, &m->blocks[b].bn2 };
    for (int k = 0; k < 2; k++)
      for (PetscInt c = 0; c < bns[k]->c; c++)
        m->running[bns[k]->r_off + c] = 0.0f, m->running[bns[k]->r_off + bns[k]->c + c] = 1.0f;
  }
  for (PetscInt c = 0; c < m->bnf.c; c++)
    m->running[m->bnf.r_off + c] = 0.0f, m->running[m->bnf.r_off + m->bnf.c + c] = 1.0f;
  m->version++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ storage */
static size_t max_act_bytes(PofWrn m, PetscInt n);

static PetscErrorCode ensure_keep(PofWrn m, PetscInt n)
{
  PetscFunctionBegin;
  if (n <= m->keep_cap) PetscFunctionReturn(PETSC_SUCCESS);
  free_keep(m);
  PofAct a = m->a0;
  a.n      = n;
  m->X[0]  = xalloc(pof_act_bytes(&a));
  PetscCheck(m->X[0], PETSC_COMM_SELF, PETSC_ERR_MEM,
             "out of memory for activations (batch %" PetscInt_FMT ")", n);
  for (PetscInt b = 0; b < m->nblocks; b++) {
    Block *B  = &m->blocks[b];
    PofAct ax = B->ax, am = B->amid, ao = B->aout;
    ax.n = am.n = ao.n = n;
    B->C1              = xalloc(pof_act_bytes(&am));
    m->X[b + 1]        = xalloc(pof_act_bytes(&ao));
    if (!m->recompute) {
      B->A1 = xalloc(pof_act_bytes(&ax));
      B->A2 = xalloc(pof_act_bytes(&am));
    }
    PetscCheck((m->recompute || (B->A1 && B->A2)) && B->C1 && m->X[b + 1], PETSC_COMM_SELF,
               PETSC_ERR_MEM, "out of memory for activations (batch %" PetscInt_FMT ")", n);
  }
  if (m->recompute) {
    free(m->R);
    m->R = xalloc(max_act_bytes(m, n));
    PetscCheck(m->R, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "out of memory for activations (batch %" PetscInt_FMT ")", n);
    m->r_cap = n;
  } else {
    a     = m->af;
    a.n   = n;
    m->AF = xalloc(pof_act_bytes(&a));
    PetscCheck(m->AF, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "out of memory for activations (batch %" PetscInt_FMT ")", n);
  }
  m->keep_cap = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* largest activation (bytes) over the network for batch n */
static size_t max_act_bytes(PofWrn m, PetscInt n)
{
  PofAct a  = m->a0;
  a.n       = n;
  size_t mx = pof_act_bytes(&a);
  for (PetscInt b = 0; b < m->nblocks; b++) {
    PofAct ax = m->blocks[b].ax, am = m->blocks[b].amid, ao = m->blocks[b].aout;
    ax.n = am.n = ao.n = n;
    const size_t bx = pof_act_bytes(&ax), bm = pof_act_bytes(&am), bo = pof_act_bytes(&ao);
    mx = PetscMax(mx, PetscMax(bx, PetscMax(bm, bo)));
  }
  return mx;
}

static PetscErrorCode ensure_bufs(void *buf[4], PetscInt *cap, PofWrn m, PetscInt n)
{
  PetscFunctionBegin;
  if (n <= *cap) PetscFunctionReturn(PETSC_SUCCESS);
  const size_t bytes = max_act_bytes(m, n);
  for (int i = 0; i < 4; i++) {
    free(buf[i]);
    buf[i] = xalloc(bytes);
    PetscCheck(buf[i], PETSC_COMM_SELF, PETSC_ERR_MEM,
               "out of memory for activation buffers (batch %" PetscInt_FMT ")", n);
  }
  *cap = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ BN forward/backward */
static PetscErrorCode bn_forward(PofWrn m, BnLayer *bn, const PofAct *a, PofBnMode mode,
                                 unsigned flags, const void *x, void *y)
{
  const float   *gamma = m->params + bn->w_off, *beta = m->params + bn->b_off;
  float         *rmean = m->running + bn->r_off, *rvar = m->running + bn->r_off + bn->c;
  const PetscInt C = bn->c;
  PetscFunctionBegin;
  if (mode == POF_BN_EVAL) {
    for (PetscInt c = 0; c < C; c++) {
      const double rs = 1.0 / sqrt((double)rvar[c] + BN_EPS);
      bn->mean[c]     = rmean[c]; /* for an eval-mode backward: the statistics are constants */
      bn->rstd[c]     = (float)rs;
      bn->scale[c]    = (float)(gamma[c] * rs);
      bn->shift[c]    = (float)(beta[c] - rmean[c] * gamma[c] * rs);
    }
  } else {
    double *buf = m->red; /* sum[C], sumsq[C], count */
    pof_bn_stats(a, x, buf, buf + C);
    buf[2 * (size_t)C] = (double)a->n * (double)a->h * (double)a->w;
    if (m->bn_sum) PetscCall(m->bn_sum(m->bn_sum_ctx, buf, 2 * C + 1));
    const double M = buf[2 * (size_t)C];
    PetscCheck(
        M > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
        "batch normalization in training mode needs more than one value per channel (got %g)", M);
    for (PetscInt c = 0; c < C; c++) {
      const double mu  = buf[c] / M;
      double       var = buf[C + c] / M - mu * mu;
      if (var < 0) var = 0;
      const double rs = 1.0 / sqrt(var + BN_EPS);
      bn->mean[c]     = (float)mu;
      bn->rstd[c]     = (float)rs;
      bn->scale[c]    = (float)(gamma[c] * rs);
      bn->shift[c]    = (float)(beta[c] - mu * gamma[c] * rs);
      if (flags & POF_FWD_UPDATE_RUNNING) {
        rmean[c] = (float)((1 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mu);
        rvar[c]  = (float)((1 - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * var * M / (M - 1));
      }
    }
  }
  if (m->relu_mode == POF_RELU_LIVE) {
    pof_bn_apply(a, x, bn->scale, bn->shift, 1, y);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* recorded masks: one byte per element (padded lanes included), consumed in pass order */
  const size_t elems = (size_t)pof_act_elems(a);
  PetscCheck(m->mask_pos + elems <= m->mask_cap, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "ReLU mask buffer too small (%zu bytes, need more than %zu)", m->mask_cap,
             m->mask_pos + elems);
  uint8_t *mk = m->mask_buf + m->mask_pos;
  m->mask_pos += elems;
  bn->mask = mk;
  if (m->relu_mode == POF_RELU_RECORD) {
    pof_bn_apply(a, x, bn->scale, bn->shift, 1, y);
    if (a->dt == POF_DT_F32)
      for (size_t k = 0; k < elems; k++) mk[k] = ((const float *)y)[k] > 0.0f;
    else
      for (size_t k = 0; k < elems; k++) mk[k] = pof_bf16_to_f32(((const uint16_t *)y)[k]) > 0.0f;
  } else { /* replay: the affine, then the recorded pattern instead of max(0, .) */
    pof_bn_apply(a, x, bn->scale, bn->shift, 0, y);
    if (a->dt == POF_DT_F32) {
      float *v = (float *)y;
      for (size_t k = 0; k < elems; k++)
        if (!mk[k]) v[k] = 0.0f;
    } else {
      uint16_t *v = (uint16_t *)y;
      for (size_t k = 0; k < elems; k++)
        if (!mk[k]) v[k] = 0;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* dy -> dx through ReLU(BN(x)) with y the ReLU output; writes dγ, dβ (local sums) to grads.
   After an eval-mode forward the statistics are constants: dx = γ·rstd·dz (the batch-statistics
   terms vanish, done by passing zero sums) and nothing is reduced across ranks. */
static PetscErrorCode bn_backward(PofWrn m, BnLayer *bn, const PofAct *a, const void *dy,
                                  const void *y, const void *x, const void *addend, void *dx)
{
  const PetscInt C   = bn->c;
  double        *sdz = m->red, *sdzx = m->red + C;
  PetscFunctionBegin;
  if (y && m->relu_mode == POF_RELU_REPLAY) { /* the recorded ReLU pattern: mask dy, then no ReLU */
    const size_t elems = (size_t)pof_act_elems(a);
    if (a->dt == POF_DT_F32) {
      float *v = (float *)(uintptr_t)dy;
      for (size_t k = 0; k < elems; k++)
        if (!bn->mask[k]) v[k] = 0.0f;
    } else {
      uint16_t *v = (uint16_t *)(uintptr_t)dy;
      for (size_t k = 0; k < elems; k++)
        if (!bn->mask[k]) v[k] = 0;
    }
    y = NULL;
  }
  pof_bn_bwd_sums(a, dy, y ? bn->scale : NULL, y ? bn->shift : NULL, x, bn->mean, bn->rstd, sdz,
                  sdzx);
  for (PetscInt c = 0; c < C; c++) {
    m->grads[bn->w_off + c] = (float)sdzx[c];
    m->grads[bn->b_off + c] = (float)sdz[c];
  }
  if (m->kept_mode == POF_BN_EVAL) {
    for (PetscInt c = 0; c < 2 * C; c++) m->red[c] = 0.0;
    pof_bn_bwd_dx(a, dy, y ? bn->scale : NULL, y ? bn->shift : NULL, x, bn->mean, bn->rstd,
                  m->params + bn->w_off, sdz, sdzx, 1.0, addend, dx);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  m->red[2 * (size_t)C] = (double)a->n * (double)a->h * (double)a->w;
  if (m->bn_sum) PetscCall(m->bn_sum(m->bn_sum_ctx, m->red, 2 * C + 1));
  pof_bn_bwd_dx(a, dy, y ? bn->scale : NULL, y ? bn->shift : NULL, x, bn->mean, bn->rstd,
                m->params + bn->w_off, sdz, sdzx, m->red[2 * (size_t)C], addend, dx);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ forward */
static PetscErrorCode input_to_compute(PofWrn m, PetscInt n, const float *x, const void **xin)
{
  PetscFunctionBegin;
  if (m->dt == POF_DT_F32) {
    *xin = x;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const PetscInt len = n * m->shape.in_c * m->shape.in_h * m->shape.in_w;
  if (len > m->xin_cap) {
    free(m->xin);
    m->xin = xalloc(sizeof(uint16_t) * (size_t)len);
    PetscCheck(m->xin, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory");
    m->xin_cap = len;
  }
  uint16_t *o = (uint16_t *)m->xin;
  for (PetscInt i = 0; i < len; i++) o[i] = pof_f32_to_bf16(x[i]);
  *xin = m->xin;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_wrn_features(PofWrn m, PofBnMode mode, unsigned flags, PetscInt n,
                                const float *x, float *h)
{
  const PetscBool keep = (flags & POF_FWD_KEEP) ? PETSC_TRUE : PETSC_FALSE;
  const void     *xin;
  PetscFunctionBegin;
  PetscCheck(n >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "batch must be positive, got %" PetscInt_FMT, n);
  if (keep)
    PetscCall(ensure_keep(m, n));
  else
    PetscCall(ensure_bufs(m->G, &m->grad_cap, m, n));
  PetscCall(input_to_compute(m, n, x, &xin));
  void *cur = keep ? m->X[0] : m->G[0];
  PetscCall(pof_conv_forward(&m->conv0, n, m->version, xin, cur));
  for (PetscInt b = 0; b < m->nblocks; b++) {
    Block *B  = &m->blocks[b];
    PofAct ax = B->ax, am = B->amid;
    ax.n = am.n = n;
    void *A1 = keep ? (m->recompute ? m->R : B->A1) : m->G[1], *C1 = keep ? B->C1 : m->G[2],
         *A2  = keep ? (m->recompute ? m->R : B->A2) : m->G[1];
    void *OUT = keep ? m->X[b + 1] : m->G[3];
    PetscCall(bn_forward(m, &B->bn1, &ax, mode, flags, cur, A1));
    PetscCall(pof_conv_forward(&B->conv1, n, m->version, A1, C1));
    PetscCall(bn_forward(m, &B->bn2, &am, mode, flags, C1, A2));
    if (B->has_sc)
      PetscCall(pof_conv_forward(&B->sc, n, m->version, cur, OUT));
    else
      pof_act_copy(&ax, cur, OUT);
    PetscCall(pof_conv_forward(&B->conv2, n, m->version, A2, OUT));
    if (!keep) { /* rotate: OUT becomes the next input */
      void *t = m->G[0];
      m->G[0] = m->G[3];
      m->G[3] = t;
      cur     = m->G[0];
    } else
      cur = OUT;
  }
  PofAct af = m->af;
  af.n      = n;
  void *AF  = keep ? (m->recompute ? m->R : m->AF) : m->G[1];
  PetscCall(bn_forward(m, &m->bnf, &af, mode, flags, cur, AF));
  pof_avgpool_fwd(&af, AF, h);
  if (keep) {
    m->kept_n    = n;
    m->kept_x    = x;
    m->kept_mode = mode;
  } else
    m->kept_n = 0; /* a non-kept pass may have changed BN batch statistics */
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_wrn_relu_masks(PofWrn m, PofReluMode mode, uint8_t *buf, size_t cap)
{
  PetscFunctionBegin;
  PetscCheck(mode == POF_RELU_LIVE || buf, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "ReLU mask recording/replay needs a buffer");
  m->relu_mode = mode;
  m->mask_buf  = buf;
  m->mask_cap  = cap;
  m->mask_pos  = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

size_t pof_wrn_relu_mask_bytes(PofWrn m, PetscInt n)
{
  PofAct a  = m->af;
  a.n       = n;
  size_t sz = (size_t)pof_act_elems(&a);
  for (PetscInt b = 0; b < m->nblocks; b++) {
    PofAct ax = m->blocks[b].ax, am = m->blocks[b].amid;
    ax.n = am.n = n;
    sz += (size_t)pof_act_elems(&ax) + (size_t)pof_act_elems(&am);
  }
  return sz;
}

/* ------------------------------------------------------------------ backward */
static PetscErrorCode grad_ready(PofWrn m, PetscInt begin, PetscInt end)
{
  PetscFunctionBegin;
  if (m->grad_ready && end > begin) PetscCall(m->grad_ready(m->grad_ready_ctx, begin, end - begin));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_wrn_features_backward(PofWrn m, const float *dh, float *dx)
{
  const PetscInt n = m->kept_n;
  PetscFunctionBegin;
  PetscCheck(n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE,
             "pof_wrn_features_backward needs a preceding forward with POF_FWD_KEEP");
  PetscCheck(!dx || m->input_grad, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE,
             "input gradient requested from a model created without input_grad");
  PetscCall(ensure_bufs(m->G, &m->grad_cap, m, n));
  void  *G0 = m->G[0], *G1 = m->G[1], *G2 = m->G[2], *G3 = m->G[3];
  PofAct af = m->af;
  af.n      = n;
  pof_avgpool_bwd(&af, dh, G0);
  const void *AF = m->AF;
  if (m->recompute)
    pof_bn_apply(&af, m->X[m->nblocks], m->bnf.scale, m->bnf.shift, 1, m->R), AF = m->R;
  PetscCall(bn_backward(m, &m->bnf, &af, G0, AF, m->X[m->nblocks], NULL, G0));
  PetscCall(grad_ready(m, m->bnf_begin, m->n_feature));
  for (PetscInt b = m->nblocks - 1; b >= 0; b--) {
    Block *B  = &m->blocks[b];
    PofAct ax = B->ax, am = B->amid;
    ax.n = am.n    = n;
    const void *A1 = B->A1, *A2 = B->A2;
    if (m->recompute) pof_bn_apply(&am, B->C1, B->bn2.scale, B->bn2.shift, 1, m->R), A2 = m->R;
    PetscCall(pof_conv_backward_weights(&B->conv2, n, A2, G0));
    PetscCall(pof_conv_backward_data(&B->conv2, n, m->version, G0, G1));
    const void *addend = G0;
    if (B->has_sc) {
      PetscCall(pof_conv_backward_weights(&B->sc, n, m->X[b], G0));
      PetscCall(pof_conv_backward_data(&B->sc, n, m->version, G0, G2));
      addend = G2;
    }
    PetscCall(bn_backward(m, &B->bn2, &am, G1, A2, B->C1, NULL, G1));
    if (m->recompute) pof_bn_apply(&ax, m->X[b], B->bn1.scale, B->bn1.shift, 1, m->R), A1 = m->R;
    PetscCall(pof_conv_backward_weights(&B->conv1, n, A1, G1));
    PetscCall(pof_conv_backward_data(&B->conv1, n, m->version, G1, G3));
    PetscCall(bn_backward(m, &B->bn1, &ax, G3, A1, m->X[b], addend, G1));
    void *t = G0;
    G0      = G1;
    G1      = t;
    PetscCall(grad_ready(m, B->p_begin, B->p_end));
  }
  const void *xin;
  PetscCall(input_to_compute(m, n, m->kept_x, &xin));
  PetscCall(pof_conv_backward_weights(&m->conv0, n, xin, G0));
  if (dx) {
    const PetscInt len = n * m->shape.in_c * m->shape.in_h * m->shape.in_w;
    if (m->dt == POF_DT_F32)
      PetscCall(pof_conv_backward_data(&m->conv0, n, m->version, G0, dx));
    else {
      PetscCall(pof_conv_backward_data(&m->conv0, n, m->version, G0, m->xin));
      const uint16_t *s = (const uint16_t *)m->xin;
      for (PetscInt i = 0; i < len; i++) dx[i] = pof_bf16_to_f32(s[i]);
    }
  }
  PetscCall(grad_ready(m, 0, m->tensors[1].offset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_wrn_report_grad(PofWrn m, PetscInt offset, PetscInt count)
{
  PetscFunctionBegin;
  PetscCall(grad_ready(m, offset, offset + count));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ reports */
PetscErrorCode pof_wrn_print_impls(PofWrn m, FILE *f)
{
  const char *a, *b, *c;
  char        plan[256];
  PetscFunctionBegin;
  pof_conv_impl(&m->conv0, &a, &b, &c);
  pof_conv_describe(&m->conv0, plan, sizeof(plan));
  fprintf(f, "  conv1: fwd %s | bwd-data %s | bwd-weights %s | %s\n", a, b, c, plan);
  for (PetscInt i = 0; i < m->nblocks; i++) {
    Block *B = &m->blocks[i];
    pof_conv_impl(&B->conv1, &a, &b, &c);
    pof_conv_describe(&B->conv1, plan, sizeof(plan));
    fprintf(f,
            "  block %2d conv1 (%" PetscInt_FMT "->%" PetscInt_FMT
            "): fwd %s | bwd-data %s | bwd-weights %s | %s\n",
            (int)i, B->in, B->out, a, b, c, plan);
    pof_conv_impl(&B->conv2, &a, &b, &c);
    pof_conv_describe(&B->conv2, plan, sizeof(plan));
    fprintf(f,
            "  block %2d conv2 (s%" PetscInt_FMT "): fwd %s | bwd-data %s | bwd-weights %s | %s\n",
            (int)i, B->stride, a, b, c, plan);
    if (B->has_sc) {
      pof_conv_impl(&B->sc, &a, &b, &c);
      pof_conv_describe(&B->sc, plan, sizeof(plan));
      fprintf(f, "  block %2d shortcut: fwd %s | bwd-data %s | bwd-weights %s | %s\n", (int)i, a, b,
              c, plan);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool is_ref(const char *s)
{
  return strncmp(s, "ref", 3) == 0 ? PETSC_TRUE : PETSC_FALSE;
}

PetscBool pof_wrn_uses_ref_impl(PofWrn m)
{
  const char *a, *b, *c;
  pof_conv_impl(&m->conv0, &a, &b, &c);
  if (is_ref(a) || is_ref(c)) return PETSC_TRUE;
  for (PetscInt i = 0; i < m->nblocks; i++) {
    PofConv *cv[3] = { &m->blocks[i].conv1, &m->blocks[i].conv2,
                       m->blocks[i].has_sc ? &m->blocks[i].sc : NULL };
    for (int k = 0; k < 3; k++) {
      if (!cv[k]) continue;
      pof_conv_impl(cv[k], &a, &b, &c);
      if (is_ref(a) || is_ref(b) || is_ref(c)) return PETSC_TRUE;
    }
  }
  return PETSC_FALSE;
}
