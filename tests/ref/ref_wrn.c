/* The whole WRN of the layout documented in include/pof/nn.h in double precision, composed from the
 * ref_nn.h layers. */
#include "ref/ref_wrn.h"
#include "ref/ref_nn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ layout */

/* One pre-activation block: out = conv2(ReLU(BN2(conv1(ReLU(BN1(x)))))) + shortcut(x). */
typedef struct {
  int  in, out, stride; /* channels in and out; stride of conv2 and of the shortcut conv */
  int  h, w, oh, ow;    /* input and output spatial size */
  long bn1w, bn1b, conv1, bn2w, bn2b, conv2, sc; /* arena offsets; sc = -1: identity shortcut */
  long st1, st2;                                 /* offsets of bn1 and bn2 in the BN-state array */
} Block;

typedef struct {
  char name[64];
  long offset, numel;
  int  ndim;
  long dims[4];
} Tensor;

typedef struct {
  int     nblocks, ntensors;
  Block  *blocks;
  Tensor *tensors;
  long    conv1, bnw, bnb, linw, linb; /* arena offsets of the non-block tensors */
  long    stf;                         /* offset of the final BN in the BN-state array */
  long    nparams, nstate;
  int     w0, feat, hf, wf; /* first-conv width, F = w3, final spatial size */
} Layout;

int ref_wrn_shape_valid(const RefWrnShape *s)
{
  return s && s->depth >= 10 && (s->depth - 4) % 6 == 0 && s->width >= 1 && s->base >= 1 &&
         s->in_c >= 1 && s->in_h >= 1 && s->in_w >= 1 && s->classes >= 1;
}

static void layout_free(Layout *L)
{
  free(L->blocks);
  free(L->tensors);
  L->blocks  = NULL;
  L->tensors = NULL;
}

/* Append a tensor at the end of the arena and return its offset. */
static long add_tensor(Layout *L, const char *name, int ndim, long d0, long d1, long d2, long d3)
{
  Tensor *t = &L->tensors[L->ntensors++];
  snprintf(t->name, sizeof(t->name), "%s", name);
  t->ndim    = ndim;
  t->dims[0] = d0, t->dims[1] = d1, t->dims[2] = d2, t->dims[3] = d3;
  t->numel  = d0 * d1 * d2 * d3;
  t->offset = L->nparams;
  L->nparams += t->numel;
  return t->offset;
}

/* Spatial output of a 3x3/pad 1 or 1x1/pad 0 conv with the given stride: floor((in - 1) / stride)
 * + 1. */
static int out_size(int in, int stride) { return (in - 1) / stride + 1; }

/* Build the layout of s; returns 0, or -1 for an invalid shape or when memory runs out. */
static int layout_build(const RefWrnShape *s, Layout *L)
{
  memset(L, 0, sizeof(*L));
  if (!ref_wrn_shape_valid(s)) return -1;
  const int nper = (s->depth - 4) / 6;
  L->blocks      = calloc((size_t)3 * nper, sizeof(Block));
  L->tensors     = calloc((size_t)21 * nper + 5, sizeof(Tensor));
  if (!L->blocks || !L->tensors) {
    layout_free(L);
    return -1;
  }
  const int widths[3]  = { s->base * s->width, 2 * s->base * s->width, 4 * s->base * s->width };
  const int strides[3] = { 1, 2, 2 };
  char      nm[64];
  L->w0    = s->base;
  L->conv1 = add_tensor(L, "conv1.weight", 4, L->w0, s->in_c, 3, 3);
  int prev = L->w0, h = s->in_h, w = s->in_w;
  for (int st = 0; st < 3; st++)
    for (int j = 0; j < nper; j++) {
      Block *b  = &L->blocks[L->nblocks++];
      b->in     = j == 0 ? prev : widths[st];
      b->out    = widths[st];
      b->stride = j == 0 ? strides[st] : 1;
      b->h = h, b->w = w;
      b->oh = out_size(h, b->stride), b->ow = out_size(w, b->stride);
#define NAME(part) (snprintf(nm, sizeof(nm), "layer%d.%d." part, st + 1, j), nm)
      b->bn1w  = add_tensor(L, NAME("bn1.weight"), 1, b->in, 1, 1, 1);
      b->bn1b  = add_tensor(L, NAME("bn1.bias"), 1, b->in, 1, 1, 1);
      b->conv1 = add_tensor(L, NAME("conv1.weight"), 4, b->out, b->in, 3, 3);
      b->bn2w  = add_tensor(L, NAME("bn2.weight"), 1, b->out, 1, 1, 1);
      b->bn2b  = add_tensor(L, NAME("bn2.bias"), 1, b->out, 1, 1, 1);
      b->conv2 = add_tensor(L, NAME("conv2.weight"), 4, b->out, b->out, 3, 3);
      b->sc    = (b->stride != 1 || b->in != b->out)
                     ? add_tensor(L, NAME("shortcut.0.weight"), 4, b->out, b->in, 1, 1)
                     : -1;
#undef NAME
      b->st1 = L->nstate, L->nstate += 2L * b->in;
      b->st2 = L->nstate, L->nstate += 2L * b->out;
      h = b->oh, w = b->ow;
      prev = b->out;
    }
  L->feat = widths[2];
  L->hf = h, L->wf = w;
  L->bnw  = add_tensor(L, "bn1.weight", 1, L->feat, 1, 1, 1);
  L->bnb  = add_tensor(L, "bn1.bias", 1, L->feat, 1, 1, 1);
  L->stf  = L->nstate, L->nstate += 2L * L->feat;
  L->linw = add_tensor(L, "linear.weight", 2, s->classes, L->feat, 1, 1);
  L->linb = add_tensor(L, "linear.bias", 1, s->classes, 1, 1, 1);
  return 0;
}

int ref_wrn_num_tensors(const RefWrnShape *s)
{
  Layout L;
  if (layout_build(s, &L)) return 0;
  const int r = L.ntensors;
  layout_free(&L);
  return r;
}

void ref_wrn_tensor(const RefWrnShape *s, int i, char name[64], long *offset, long *numel,
                    int *ndim, long dims[4])
{
  Layout L;
  name[0] = 0, *offset = 0, *numel = 0, *ndim = 0;
  for (int d = 0; d < 4; d++) dims[d] = 1;
  if (layout_build(s, &L)) return;
  if (i >= 0 && i < L.ntensors) {
    const Tensor *t = &L.tensors[i];
    memcpy(name, t->name, sizeof(t->name));
    *offset = t->offset, *numel = t->numel, *ndim = t->ndim;
    for (int d = 0; d < 4; d++) dims[d] = t->dims[d];
  }
  layout_free(&L);
}

long ref_wrn_num_params(const RefWrnShape *s)
{
  Layout L;
  if (layout_build(s, &L)) return 0;
  const long r = L.nparams;
  layout_free(&L);
  return r;
}

long ref_wrn_num_feature_params(const RefWrnShape *s)
{
  Layout L;
  if (layout_build(s, &L)) return 0;
  const long r = L.linw;
  layout_free(&L);
  return r;
}

long ref_wrn_num_bn_state(const RefWrnShape *s)
{
  Layout L;
  if (layout_build(s, &L)) return 0;
  const long r = L.nstate;
  layout_free(&L);
  return r;
}

int ref_wrn_feature_dim(const RefWrnShape *s)
{
  return ref_wrn_shape_valid(s) ? 4 * s->base * s->width : 0;
}

/* ------------------------------------------------------------------ init */

static uint64_t splitmix64(uint64_t *st)
{
  uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in (0, 1): 53 random bits, offset by half a step so 0 never occurs. */
static double uniform01(uint64_t *st) { return ((double)(splitmix64(st) >> 11) + 0.5) * 0x1p-53; }

static double normal(uint64_t *st)
{
  const double u1 = uniform01(st), u2 = uniform01(st);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ref_wrn_init(const RefWrnShape *s, unsigned long seed, double *params, double *running)
{
  Layout L;
  if (layout_build(s, &L)) return;
  uint64_t st = (uint64_t)seed;
  for (int i = 0; i < L.ntensors; i++) {
    const Tensor *t   = &L.tensors[i];
    double       *p   = params + t->offset;
    const size_t  len = strlen(t->name);
    const int     isw = len > 7 && strcmp(t->name + len - 7, ".weight") == 0;
    if (t->ndim == 4) { /* conv: Kaiming normal, fan_out = out * kh * kw */
      const double sd = sqrt(2.0 / (double)(t->dims[0] * t->dims[2] * t->dims[3]));
      for (long k = 0; k < t->numel; k++) p[k] = sd * normal(&st);
    } else if (t->ndim == 2) { /* linear.weight */
      for (long k = 0; k < t->numel; k++) p[k] = 0.1 * normal(&st);
    } else { /* BN weight 1, BN bias 0, linear.bias 0 */
      const double v = (isw && strncmp(t->name, "linear", 6) != 0) ? 1.0 : 0.0;
      for (long k = 0; k < t->numel; k++) p[k] = v;
    }
  }
  if (running) {
    for (int b = 0; b < L.nblocks; b++) {
      const Block *B = &L.blocks[b];
      for (int c = 0; c < B->in; c++) running[B->st1 + c] = 0, running[B->st1 + B->in + c] = 1;
      for (int c = 0; c < B->out; c++) running[B->st2 + c] = 0, running[B->st2 + B->out + c] = 1;
    }
    for (int c = 0; c < L.feat; c++) running[L.stf + c] = 0, running[L.stf + L.feat + c] = 1;
  }
  layout_free(&L);
}

/* ------------------------------------------------------------------ workspace */

/* Every buffer of one pass, zero-initialized, freed together; after a failed allocation every
   further one returns NULL and failed stays set. */
typedef struct {
  void **ptr;
  int    n, cap, failed;
} Ws;

static void *ws_alloc(Ws *ws, size_t count, size_t size)
{
  if (ws->failed) return NULL;
  if (ws->n == ws->cap) {
    const int cap = ws->cap ? 2 * ws->cap : 64;
    void    **p   = realloc(ws->ptr, sizeof(void *) * (size_t)cap);
    if (!p) {
      ws->failed = 1;
      return NULL;
    }
    ws->ptr = p, ws->cap = cap;
  }
  void *b = calloc(count ? count : 1, size);
  if (!b) {
    ws->failed = 1;
    return NULL;
  }
  ws->ptr[ws->n++] = b;
  return b;
}

static double *ws_take(Ws *ws, long len) { return ws_alloc(ws, (size_t)len, sizeof(double)); }

static void ws_free(Ws *ws)
{
  for (int i = 0; i < ws->n; i++) free(ws->ptr[i]);
  free(ws->ptr);
  memset(ws, 0, sizeof(*ws));
}

/* ------------------------------------------------------------------ forward and backward */

typedef struct {
  const double *x;       /* block input (n, in, h, w): the previous output, not owned */
  double       *t1, *a1; /* BN1(x), ReLU of it (n, in, h, w) */
  double       *c1, *t2; /* conv1(a1), BN2(c1) (n, out, h, w) */
  double       *a2;      /* ReLU(t2) (n, out, h, w) */
  double       *out;     /* conv2(a2) + shortcut(x) (n, out, oh, ow) */
} BlockAct;

typedef struct {
  const Layout *L;
  const double *p;     /* parameter arena */
  const double *norm;  /* statistics BN normalizes with: batch (train) or running (eval) */
  double       *stats; /* batch statistics of every BN input in this pass (nstate) */
  int           n, train, in_c, in_h, in_w, classes;
  const double *x0;          /* input (n, in_c, in_h, in_w) */
  double       *c0;          /* conv1(x0) (n, w0, in_h, in_w) */
  BlockAct     *blk;         /* one per block */
  double       *tf, *af, *h; /* final BN, ReLU (n, F, hf, wf), pooled features (n, F) */
  double       *logits;      /* (n, classes) */
} Pass;

static RefConv conv3x3(int n, int ci, int h, int w, int co, int stride)
{
  return (RefConv){ n, ci, h, w, co, 3, 3, stride, 1 };
}
static RefConv conv1x1(int n, int ci, int h, int w, int co, int stride)
{
  return (RefConv){ n, ci, h, w, co, 1, 1, stride, 0 };
}

/* BN forward of one layer; the batch statistics of x always go to P->stats + st. */
static void bn_forward(Pass *P, double *y, const double *x, long pw, long pb, long st, int c,
                       int hw)
{
  double *mean = P->stats + st, *var = P->stats + st + c;
  ref_bn_train_forward(y, mean, var, x, P->p + pw, P->p + pb, REF_BN_EPS, P->n, c, hw);
  if (!P->train)
    ref_bn_infer_forward(y, x, P->norm + st, P->norm + st + c, P->p + pw, P->p + pb, REF_BN_EPS,
                         P->n, c, hw);
}

static void bn_backward(const Pass *P, double *dx, double *dgamma, double *dbeta, const double *dy,
                        const double *x, long pw, long st, int c, int hw)
{
  if (P->train)
    ref_bn_train_backward(dx, dgamma, dbeta, dy, x, P->norm + st, P->norm + st + c, P->p + pw,
                          REF_BN_EPS, P->n, c, hw);
  else
    ref_bn_infer_backward(dx, dgamma, dbeta, dy, x, P->norm + st, P->norm + st + c, P->p + pw,
                          REF_BN_EPS, P->n, c, hw);
}

/* Allocate the activations and run the forward up to the logits. Returns 0 or -1 (no memory). */
static int wrn_forward(Pass *P, Ws *ws)
{
  const Layout *L = P->L;
  const int     n = P->n;
  P->blk          = ws_alloc(ws, (size_t)L->nblocks, sizeof(BlockAct));
  P->c0           = ws_take(ws, (long)n * L->w0 * P->in_h * P->in_w);
  if (ws->failed) return -1;
  RefConv cv = conv3x3(n, P->in_c, P->in_h, P->in_w, L->w0, 1);
  ref_conv2d_forward(P->c0, P->x0, P->p + L->conv1, &cv);
  const double *x = P->c0;
  for (int i = 0; i < L->nblocks; i++) {
    const Block *B   = &L->blocks[i];
    BlockAct    *A   = &P->blk[i];
    const long   nin = (long)n * B->in * B->h * B->w, nmid = (long)n * B->out * B->h * B->w;
    A->x       = x;
    A->t1      = ws_take(ws, nin);
    A->a1      = ws_take(ws, nin);
    A->c1      = ws_take(ws, nmid);
    A->t2      = ws_take(ws, nmid);
    A->a2      = ws_take(ws, nmid);
    A->out     = ws_take(ws, (long)n * B->out * B->oh * B->ow);
    double *sc = ws_take(ws, (long)n * B->out * B->oh * B->ow);
    if (ws->failed) return -1;
    bn_forward(P, A->t1, x, B->bn1w, B->bn1b, B->st1, B->in, B->h * B->w);
    ref_relu_forward(A->a1, A->t1, nin);
    cv = conv3x3(n, B->in, B->h, B->w, B->out, 1);
    ref_conv2d_forward(A->c1, A->a1, P->p + B->conv1, &cv);
    bn_forward(P, A->t2, A->c1, B->bn2w, B->bn2b, B->st2, B->out, B->h * B->w);
    ref_relu_forward(A->a2, A->t2, nmid);
    cv = conv3x3(n, B->out, B->h, B->w, B->out, B->stride);
    ref_conv2d_forward(A->out, A->a2, P->p + B->conv2, &cv);
    if (B->sc >= 0) { /* 1x1 conv of the raw block input x, not of a1 */
      cv = conv1x1(n, B->in, B->h, B->w, B->out, B->stride);
      ref_conv2d_forward(sc, x, P->p + B->sc, &cv);
    } else
      memcpy(sc, x, sizeof(double) * (size_t)nin);
    ref_add_forward(A->out, A->out, sc, (long)n * B->out * B->oh * B->ow);
    x = A->out;
  }
  const int  hw = L->hf * L->wf;
  const long nf = (long)n * L->feat * hw;
  P->tf         = ws_take(ws, nf);
  P->af         = ws_take(ws, nf);
  P->h          = ws_take(ws, (long)n * L->feat);
  P->logits     = ws_take(ws, (long)n * P->classes);
  if (ws->failed) return -1;
  bn_forward(P, P->tf, x, L->bnw, L->bnb, L->stf, L->feat, hw);
  ref_relu_forward(P->af, P->tf, nf);
  ref_gap_forward(P->h, P->af, n, L->feat, hw);
  ref_linear_forward(P->logits, P->h, P->p + L->linw, P->p + L->linb, n, L->feat, P->classes);
  return 0;
}

/* Backward from dh (n, F) into the feature-extractor part of g (the classifier part is left
   alone) and, if gx != NULL, into the input gradient. Returns 0 or -1 (no memory). */
static int wrn_backward_features(const Pass *P, Ws *ws, const double *dh, double *g, double *gx)
{
  const Layout *L  = P->L;
  const int     n  = P->n;
  const int     hw = L->hf * L->wf;
  const long    nf = (long)n * L->feat * hw;
  double       *d1 = ws_take(ws, nf), *d2 = ws_take(ws, nf);
  if (ws->failed) return -1;
  ref_gap_backward(d1, dh, n, L->feat, hw);
  ref_relu_backward(d1, d1, P->tf, nf);
  const double *xl = L->nblocks ? P->blk[L->nblocks - 1].out : P->c0;
  bn_backward(P, d2, g + L->bnw, g + L->bnb, d1, xl, L->bnw, L->stf, L->feat, hw);
  double *dout = d2; /* gradient of the current block's output */
  for (int i = L->nblocks - 1; i >= 0; i--) {
    const Block    *B   = &L->blocks[i];
    const BlockAct *A   = &P->blk[i];
    const long      nin = (long)n * B->in * B->h * B->w, nmid = (long)n * B->out * B->h * B->w;
    double         *dsc  = ws_take(ws, nin); /* shortcut's gradient to x */
    double         *dmid = ws_take(ws, nmid), *dmid2 = ws_take(ws, nmid);
    double         *din = ws_take(ws, nin), *dx = ws_take(ws, nin);
    if (ws->failed) return -1;
    RefConv cv;
    if (B->sc >= 0) {
      cv = conv1x1(n, B->in, B->h, B->w, B->out, B->stride);
      ref_conv2d_backward_data(dsc, dout, P->p + B->sc, &cv);
      ref_conv2d_backward_weights(g + B->sc, dout, A->x, &cv);
    } else
      ref_add_backward(dsc, NULL, dout, nin); /* identity: straight through */
    cv = conv3x3(n, B->out, B->h, B->w, B->out, B->stride);
    ref_conv2d_backward_data(dmid, dout, P->p + B->conv2, &cv);
    ref_conv2d_backward_weights(g + B->conv2, dout, A->a2, &cv);
    ref_relu_backward(dmid, dmid, A->t2, nmid);
    bn_backward(P, dmid2, g + B->bn2w, g + B->bn2b, dmid, A->c1, B->bn2w, B->st2, B->out,
                B->h * B->w);
    cv = conv3x3(n, B->in, B->h, B->w, B->out, 1);
    ref_conv2d_backward_data(din, dmid2, P->p + B->conv1, &cv);
    ref_conv2d_backward_weights(g + B->conv1, dmid2, A->a1, &cv);
    ref_relu_backward(din, din, A->t1, nin);
    bn_backward(P, dx, g + B->bn1w, g + B->bn1b, din, A->x, B->bn1w, B->st1, B->in, B->h * B->w);
    ref_add_forward(dx, dx, dsc, nin);
    dout = dx;
  }
  RefConv cv = conv3x3(n, P->in_c, P->in_h, P->in_w, L->w0, 1);
  ref_conv2d_backward_weights(g + L->conv1, dout, P->x0, &cv);
  if (gx) ref_conv2d_backward_data(gx, dout, P->p + L->conv1, &cv);
  return 0;
}

static void fill_nan(double *v, long len)
{
  if (v)
    for (long i = 0; i < len; i++) v[i] = NAN;
}

double ref_wrn_run(const RefWrnShape *s, const double *params, double *running, int train, int n,
                   const double *x, const int *y, double *h, double *logits, double *batch_stats,
                   double *grad_params, double *grad_x)
{
  Layout L;
  Ws     ws   = { 0 };
  double loss = NAN;
  if (n < 1 || (!train && !running) || layout_build(s, &L)) return NAN;
  Pass P  = { .L       = &L,
              .p       = params,
              .n       = n,
              .train   = train,
              .in_c    = s->in_c,
              .in_h    = s->in_h,
              .in_w    = s->in_w,
              .classes = s->classes,
              .x0      = x };
  P.stats = ws_take(&ws, L.nstate);
  if (ws.failed) goto done;
  P.norm = train ? P.stats : running;
  if (wrn_forward(&P, &ws)) goto done;
  if (y) {
    double *dlogits = ws_take(&ws, (long)n * s->classes), *dh = ws_take(&ws, (long)n * L.feat);
    double *g = ws_take(&ws, L.nparams);
    if (ws.failed) goto done;
    loss = ref_softmax_ce(dlogits, P.logits, y, n, s->classes);
    if (grad_params || grad_x) {
      ref_linear_backward(dh, g + L.linw, g + L.linb, dlogits, P.h, params + L.linw, n, L.feat,
                          s->classes);
      if (wrn_backward_features(&P, &ws, dh, g, grad_x)) {
        loss = NAN;
        goto done;
      }
      if (grad_params) memcpy(grad_params, g, sizeof(double) * (size_t)L.nparams);
    }
  }
  if (h) memcpy(h, P.h, sizeof(double) * (size_t)n * L.feat);
  if (logits) memcpy(logits, P.logits, sizeof(double) * (size_t)n * s->classes);
  if (batch_stats) memcpy(batch_stats, P.stats, sizeof(double) * (size_t)L.nstate);
  if (train && running) {
    for (int i = 0; i < L.nblocks; i++) {
      const Block *B = &L.blocks[i];
      const long   m = (long)n * B->h * B->w;
      ref_bn_update_running(running + B->st1, running + B->st1 + B->in, P.stats + B->st1,
                            P.stats + B->st1 + B->in, REF_BN_MOMENTUM, m, B->in);
      ref_bn_update_running(running + B->st2, running + B->st2 + B->out, P.stats + B->st2,
                            P.stats + B->st2 + B->out, REF_BN_MOMENTUM, m, B->out);
    }
    ref_bn_update_running(running + L.stf, running + L.stf + L.feat, P.stats + L.stf,
                          P.stats + L.stf + L.feat, REF_BN_MOMENTUM, (long)n * L.hf * L.wf, L.feat);
  }
done:
  ws_free(&ws);
  layout_free(&L);
  return loss;
}

void ref_wrn_backward_from_features(const RefWrnShape *s, const double *params, int n,
                                    const double *x, const double *dh, double *grad_params,
                                    double *grad_x)
{
  Layout L;
  Ws     ws = { 0 };
  if (n < 1 || layout_build(s, &L)) {
    fill_nan(grad_params, ref_wrn_num_params(s));
    if (ref_wrn_shape_valid(s) && n >= 1) fill_nan(grad_x, (long)n * s->in_c * s->in_h * s->in_w);
    return;
  }
  Pass P    = { .L       = &L,
                .p       = params,
                .n       = n,
                .train   = 1,
                .in_c    = s->in_c,
                .in_h    = s->in_h,
                .in_w    = s->in_w,
                .classes = s->classes,
                .x0      = x };
  P.stats   = ws_take(&ws, L.nstate);
  P.norm    = P.stats;
  double *g = ws_take(&ws, L.nparams); /* zero-initialized: the classifier part stays zero */
  if (ws.failed || wrn_forward(&P, &ws) || wrn_backward_features(&P, &ws, dh, g, grad_x)) {
    fill_nan(grad_params, L.nparams);
    fill_nan(grad_x, (long)n * s->in_c * s->in_h * s->in_w);
  } else if (grad_params)
    memcpy(grad_params, g, sizeof(double) * (size_t)L.nparams);
  ws_free(&ws);
  layout_free(&L);
}
