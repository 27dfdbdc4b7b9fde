/* The /tensors group of checkpoints and model files: see include/pof/ckpt.h and
   src/io/tensors.h. */
#include "h5util.h"
#include "tensors.h"

#include <string.h>

/* One state_dict entry: a slice of /params (double) or /bn_running (float), or a BN's
   num_batches_tracked (int64 scalar, the global step). */
typedef enum { SRC_PARAMS, SRC_RUNNING, SRC_STEP } TensorSource;
typedef struct {
  char         name[64];
  TensorSource src;
  PetscInt     offset, ndim, dims[4];
} Tensor;

typedef struct {
  Tensor  *t;
  PetscInt n, cap, off_params, off_running;
} Layout;

static PetscErrorCode add(Layout *L, const char *prefix, const char *suffix, TensorSource src,
                          PetscInt ndim, PetscInt d0, PetscInt d1, PetscInt d2, PetscInt d3)
{
  PetscFunctionBegin;
  if (L->n == L->cap) {
    Tensor *t;
    PetscCall(PetscMalloc1(2 * L->cap + 16, &t));
    if (L->n) PetscCall(PetscArraycpy(t, L->t, L->n));
    PetscCall(PetscFree(L->t));
    L->t   = t;
    L->cap = 2 * L->cap + 16;
  }
  Tensor *e = &L->t[L->n++];
  PetscCall(PetscSNPrintf(e->name, sizeof e->name, "%s%s", prefix, suffix));
  e->src     = src;
  e->ndim    = ndim;
  e->dims[0] = d0, e->dims[1] = d1, e->dims[2] = d2, e->dims[3] = d3;
  PetscInt numel = 1;
  for (PetscInt k = 0; k < ndim; k++) numel *= e->dims[k];
  e->offset = src == SRC_PARAMS ? L->off_params : src == SRC_RUNNING ? L->off_running : 0;
  if (src == SRC_PARAMS) L->off_params += numel;
  if (src == SRC_RUNNING) L->off_running += numel;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A BatchNorm2d over c channels: weight and bias (params), running_mean and running_var
   (running), num_batches_tracked. The parameters and the statistics are added separately, as
   their arenas order them differently. */
static PetscErrorCode add_bn_params(Layout *L, const char *p, PetscInt c)
{
  PetscFunctionBegin;
  PetscCall(add(L, p, "weight", SRC_PARAMS, 1, c, 0, 0, 0));
  PetscCall(add(L, p, "bias", SRC_PARAMS, 1, c, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode add_bn_stats(Layout *L, const char *p, PetscInt c)
{
  PetscFunctionBegin;
  PetscCall(add(L, p, "running_mean", SRC_RUNNING, 1, c, 0, 0, 0));
  PetscCall(add(L, p, "running_var", SRC_RUNNING, 1, c, 0, 0, 0));
  PetscCall(add(L, p, "num_batches_tracked", SRC_STEP, 0, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The state_dict of the WRN the metadata describes (tests/ref/WRN_LAYOUT.md). */
static PetscErrorCode build_layout(const PofCkptMeta *m, Layout *L)
{
  const PetscInt n = (m->depth - 4) / 6, w[4] = { m->base, m->base * m->width,
                                                  2 * m->base * m->width, 4 * m->base * m->width };
  char           p[48];
  PetscFunctionBegin;
  PetscCall(add(L, "conv1.", "weight", SRC_PARAMS, 4, w[0], m->in_c, 3, 3));
  for (PetscInt s = 1, prev = w[0]; s <= 3; prev = w[s], s++)
    for (PetscInt j = 0; j < n; j++) {
      const PetscInt in = j == 0 ? prev : w[s], out = w[s], stride = j == 0 && s > 1 ? 2 : 1;
      PetscCall(PetscSNPrintf(p, sizeof p, "layer%" PetscInt_FMT ".%" PetscInt_FMT ".", s, j));
      char q[64];
      PetscCall(PetscSNPrintf(q, sizeof q, "%sbn1.", p));
      PetscCall(add_bn_params(L, q, in));
      PetscCall(add_bn_stats(L, q, in));
      PetscCall(add(L, p, "conv1.weight", SRC_PARAMS, 4, out, in, 3, 3));
      PetscCall(PetscSNPrintf(q, sizeof q, "%sbn2.", p));
      PetscCall(add_bn_params(L, q, out));
      PetscCall(add_bn_stats(L, q, out));
      PetscCall(add(L, p, "conv2.weight", SRC_PARAMS, 4, out, out, 3, 3));
      if (stride != 1 || in != out)
        PetscCall(add(L, p, "shortcut.0.weight", SRC_PARAMS, 4, out, in, 1, 1));
    }
  PetscCall(add_bn_params(L, "bn1.", w[3]));
  PetscCall(add_bn_stats(L, "bn1.", w[3]));
  PetscCall(add(L, "linear.", "weight", SRC_PARAMS, 2, m->classes, w[3], 0, 0));
  PetscCall(add(L, "linear.", "bias", SRC_PARAMS, 1, m->classes, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One virtual dataset /tensors/<name> mapping the slice of /src (in this very file, ".") */
static PetscErrorCode write_virtual(hid_t g, const Tensor *e, const char *src, hid_t type,
                                    hsize_t src_len)
{
  hsize_t dims[4], start = (hsize_t)e->offset, count = 1;
  hid_t   vs, ss, dcpl, d;
  PetscFunctionBegin;
  for (PetscInt k = 0; k < e->ndim; k++) dims[k] = (hsize_t)e->dims[k], count *= dims[k];
  PofCallH5Id(vs, H5Screate_simple((int)e->ndim, dims, NULL));
  PofCallH5Id(ss, H5Screate_simple(1, &src_len, NULL));
  PofCallH5(H5Sselect_hyperslab(ss, H5S_SELECT_SET, &start, NULL, &count, NULL));
  PofCallH5Id(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  PofCallH5(H5Pset_virtual(dcpl, vs, ".", src, ss));
  PofCallH5Id(d, H5Dcreate2(g, e->name, type, vs, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  PofCallH5(H5Dclose(d));
  PofCallH5(H5Pclose(dcpl));
  PofCallH5(H5Sclose(ss));
  PofCallH5(H5Sclose(vs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* num_batches_tracked: an int64 scalar whose fill value is the step (nothing to write, so no
   data transfer in a parallel file: the fill is written when the dataset is allocated). */
static PetscErrorCode write_step(hid_t g, const char *name, int64_t step)
{
  hid_t s, dcpl, d;
  PetscFunctionBegin;
  PofCallH5Id(s, H5Screate(H5S_SCALAR));
  PofCallH5Id(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  PofCallH5(H5Pset_fill_value(dcpl, H5T_NATIVE_INT64, &step));
  PofCallH5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  PofCallH5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
  PofCallH5Id(d, H5Dcreate2(g, name, H5T_STD_I64LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  PofCallH5(H5Dclose(d));
  PofCallH5(H5Pclose(dcpl));
  PofCallH5(H5Sclose(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_tensors_write(hid_t fid, const PofCkptMeta *m)
{
  Layout L = { NULL, 0, 0, 0, 0 };
  hid_t  lcpl, g;
  PetscFunctionBegin;
  if (m->depth < 10 || (m->depth - 4) % 6 || m->width < 1 || m->base < 1 || m->in_c < 1 ||
      m->classes < 1)
    PetscFunctionReturn(PETSC_SUCCESS); /* not a WRN (a test's arrays): no state_dict */
  PetscCall(build_layout(m, &L));
  if (L.off_params != m->n_params || L.off_running != m->n_bn_state) {
    PetscCall(PetscFree(L.t)); /* the arrays are not this WRN's: no state_dict to name */
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PofCallH5Id(lcpl, H5Pcreate(H5P_LINK_CREATE));
  PofCallH5(H5Pset_create_intermediate_group(lcpl, 0));
  PofCallH5Id(g, H5Gcreate2(fid, "tensors", lcpl, H5P_DEFAULT, H5P_DEFAULT));
  for (PetscInt i = 0; i < L.n; i++) {
    const Tensor *e = &L.t[i];
    if (e->src == SRC_STEP)
      PetscCall(write_step(g, e->name, (int64_t)m->global_step));
    else if (e->src == SRC_PARAMS)
      PetscCall(write_virtual(g, e, "/params", H5T_IEEE_F64LE, (hsize_t)m->n_params));
    else
      PetscCall(write_virtual(g, e, "/bn_running", H5T_IEEE_F32LE, (hsize_t)m->n_bn_state));
  }
  PofCallH5(H5Gclose(g));
  PofCallH5(H5Pclose(lcpl));
  PetscCall(PetscFree(L.t));
  PetscFunctionReturn(PETSC_SUCCESS);
}
