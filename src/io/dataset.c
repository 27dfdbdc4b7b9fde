/* Datasets in parallel HDF5: slabs per rank, exact global shuffling, exchange, augmentation.
   See include/pof/data.h for the contract and the random recipe. */
#include "h5util.h"
#include "pof/phase.h"
#include "pof/augment.h"
#include "pof/data.h"
#include "pof/fsutil.h"
#include "pof/progress.h"
#include "pof/image.h"
#include "pof/comm_exchange.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* One split as held by this rank: samples [lo, hi) of the n in use. */
typedef struct {
  PetscInt n, lo, hi;
  uint8_t *images; /* (hi - lo, C, H, W) */
  int32_t *labels; /* (hi - lo) */
} DataSplit;

struct PofDataset_s {
  MPI_Comm       comm;
  PetscMPIInt    rank, size;
  char           source[POF_PATH_MAX]; /* file name for messages */
  PofDatasetInfo info;
  PetscBool      replicate;
  PetscInt       seed;
  PofAugParams   aug;          /* training augmentation (all zero with -data_augment 0) */
  size_t         sample_bytes; /* C*H*W */
  size_t         record_bytes; /* sample + int32 label, the unit of the exchange */
  float         *lut;          /* (C, 256) normalization table */
  DataSplit      split[2];     /* POF_SPLIT_TRAIN, POF_SPLIT_TEST */
  PetscInt       perm_epoch;   /* epoch held in perm, -1 = none */
  PetscInt      *perm;         /* (n_train) */
  /* work space, grown on demand */
  size_t          cap;                              /* slots the buffers below hold */
  PetscInt       *idx;                              /* (cap) global indices of a batch */
  uint8_t        *sendbuf, *recvbuf;                /* (cap, record_bytes) */
  const uint8_t **src;                              /* (cap) this rank's samples, raw */
  int32_t        *lab;                              /* (cap) their labels */
  int            *sendcounts, *recvcounts, *cursor; /* (size) */
};

static const char *const split_names[2] = { "train", "test" };

#define POF_DATA_MAX_CLASSES 100000 /* as -model_classes */
#define POF_DATA_MAX_INFLATE 1032   /* deflate's largest expansion (a compressed dataset) */

void pof_data_epoch_perm(PetscInt seed, PetscInt epoch, PetscInt n, PetscInt *perm)
{
  PofRng r;
  for (PetscInt i = 0; i < n; i++) perm[i] = i;
  pof_rng_init(&r, (uint64_t)seed, POF_RNG_ORDER, (uint32_t)epoch, 0, 0);
  for (PetscInt i = n - 1; i >= 1; i--) {
    const PetscInt j = (PetscInt)pof_rng_below(&r, (uint32_t)(i + 1));
    const PetscInt t = perm[i];
    perm[i]          = perm[j];
    perm[j]          = t;
  }
}

/* ------------------------------------------------------------------ reading the file */

/* Integer scalar attribute of the root group (required). */
static PetscErrorCode read_int_attr(PofDataset ds, hid_t fid, const char *name, PetscInt *v)
{
  hid_t   a, s;
  int64_t x = 0;
  PetscFunctionBegin;
  PetscCheck(H5Aexists(fid, name) > 0, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s' has no attribute '%s' (not written by pof convert?)", ds->source,
             name);
  PofCallH5Id(a, H5Aopen(fid, name, H5P_DEFAULT));
  PofCallH5Id(s, H5Aget_space(a));
  const hssize_t np = H5Sget_simple_extent_npoints(s);
  PofCallH5(H5Sclose(s));
  PofCallH5Id(s, H5Aget_type(a));
  const H5T_class_t cls = H5Tget_class(s);
  PofCallH5(H5Tclose(s));
  PetscCheck(np == 1 && cls == H5T_INTEGER, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' must be one integer, it holds %lld value(s) of "
             "HDF5 class %d",
             ds->source, name, (long long)np, (int)cls);
  PofCallH5(H5Aread(a, H5T_NATIVE_INT64, &x));
  PofCallH5(H5Aclose(a));
  PetscCheck(x >= 0 && x <= PETSC_MAX_INT, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' = %lld is out of range", ds->source, name,
             (long long)x);
  *v = (PetscInt)x;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Double array attribute with exactly n values (required). */
static PetscErrorCode read_double_attr(PofDataset ds, hid_t fid, const char *name, PetscInt n,
                                       double *v)
{
  hid_t a, s;
  PetscFunctionBegin;
  PetscCheck(H5Aexists(fid, name) > 0, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s' has no attribute '%s' (not written by pof convert?)", ds->source,
             name);
  PofCallH5Id(a, H5Aopen(fid, name, H5P_DEFAULT));
  PofCallH5Id(s, H5Aget_space(a));
  const hssize_t np = H5Sget_simple_extent_npoints(s);
  PofCallH5(H5Sclose(s));
  PetscCheck(
      np == n, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
      "dataset file '%s': attribute '%s' has %lld values, expected one per channel (%" PetscInt_FMT
      ")",
      ds->source, name, (long long)np, n);
  PofCallH5Id(s, H5Aget_type(a));
  const H5T_class_t cls = H5Tget_class(s);
  PofCallH5(H5Tclose(s));
  PetscCheck(cls == H5T_FLOAT || cls == H5T_INTEGER, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' must hold numbers (HDF5 class %d)", ds->source,
             name, (int)cls);
  PofCallH5(H5Aread(a, H5T_NATIVE_DOUBLE, v));
  PofCallH5(H5Aclose(a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* String attribute into out[n]; "" if absent. It must be one string (a scalar or a one-element
   array), fixed or variable length, of at most POF_DATA_MAX_STR_ATTR bytes; anything else (an
   array of strings, a number, a huge string) is an error naming the file and the attribute. */
#define POF_DATA_MAX_STR_ATTR 65536
static PetscErrorCode read_str_attr(PofDataset ds, hid_t fid, const char *name, char *out, size_t n)
{
  hid_t       a, t, s, mt;
  hssize_t    np;
  H5T_class_t cls;
  htri_t      vlen = 0;
  size_t      len  = 0;
  PetscFunctionBegin;
  out[0] = 0;
  if (H5Aexists(fid, name) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PofCallH5Id(a, H5Aopen(fid, name, H5P_DEFAULT));
  PofCallH5Id(s, H5Aget_space(a));
  np = H5Sget_simple_extent_npoints(s);
  PofCallH5(H5Sclose(s));
  PofCallH5Id(t, H5Aget_type(a));
  cls = H5Tget_class(t);
  if (cls == H5T_STRING) {
    vlen = H5Tis_variable_str(t);
    len  = H5Tget_size(t);
  }
  PofCallH5(H5Tclose(t));
  PetscCheck(cls == H5T_STRING && vlen >= 0, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' must be a string", ds->source, name);
  PetscCheck(np == 1, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' must be one string, it holds %lld", ds->source,
             name, (long long)np);
  PetscCheck(vlen || (len >= 1 && len <= POF_DATA_MAX_STR_ATTR), ds->comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': attribute '%s' is a string of %zu bytes (1 to %d allowed)",
             ds->source, name, len, POF_DATA_MAX_STR_ATTR);
  PofCallH5Id(mt, H5Tcopy(H5T_C_S1));
  if (vlen) {
    char *v = NULL;
    PofCallH5(H5Tset_size(mt, H5T_VARIABLE));
    PofCallH5(H5Aread(a, mt, &v));
    if (v) {
      PetscCall(PetscStrncpy(out, v, n));
      H5free_memory(v);
    }
  } else {
    char *v = NULL;
    /* one byte more than the file's type: a NUL-padded string (h5py's np.bytes_) that fills its
       size keeps its last character when converted to a NUL-terminated one */
    PetscCall(PetscCalloc1(len + 1, &v));
    PofCallH5(H5Tset_size(mt, len + 1));
    PofCallH5(H5Aread(a, mt, v));
    PetscCall(PetscStrncpy(out, v, n));
    PetscCall(PetscFree(v));
  }
  PofCallH5(H5Tclose(mt));
  PofCallH5(H5Aclose(a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open /<split>/<what> and check it is an integer dataset of the given rank; dims out. */
static PetscErrorCode open_dataset(PofDataset ds, hid_t fid, const char *split, const char *what,
                                   int want_rank, size_t want_size, hid_t *dset, hsize_t dims[4])
{
  char  path[64];
  hid_t s, t;
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", split, what));
  PetscCheck(H5Lexists(fid, path, H5P_DEFAULT) > 0, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s' has no dataset /%s", ds->source, path);
  *dset = H5Dopen2(fid, path, H5P_DEFAULT);
  PetscCheck(*dset >= 0, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': /%s is not a dataset", ds->source, path);
  PofCallH5Id(s, H5Dget_space(*dset));
  const int rank = H5Sget_simple_extent_ndims(s);
  PetscCheck(rank == want_rank, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': /%s has %d dimensions, expected %d", ds->source, path, rank,
             want_rank);
  PofCallH5(H5Sget_simple_extent_dims(s, dims, NULL));
  PofCallH5(H5Sclose(s));
  PofCallH5Id(t, H5Dget_type(*dset));
  const H5T_class_t cls = H5Tget_class(t);
  const size_t      sz  = H5Tget_size(t);
  PofCallH5(H5Tclose(t));
  PetscCheck(cls == H5T_INTEGER && (!want_size || sz == want_size), ds->comm,
             PETSC_ERR_FILE_UNEXPECTED, "dataset file '%s': /%s must hold %s", ds->source, path,
             want_size == 1 ? "8-bit unsigned integers" : "integers");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read rows [lo, hi) of dset (a row is dims[1..rank) elements, row_bytes in memory) into buf.
   Collective with collective transfers: every rank makes the same number of H5Dread calls
   (max_rows = the largest hi - lo of any rank), a rank with nothing left selects none.
   Each call moves at most 2^30 bytes. */
static PetscErrorCode read_rows(hid_t dset, hid_t memtype, hid_t dxpl, int rank,
                                const hsize_t *dims, PetscInt lo, PetscInt hi, PetscInt max_rows,
                                size_t row_bytes, void *buf)
{
  const PetscInt rpc      = (PetscInt)PetscMax(1, ((size_t)1 << 30) / row_bytes);
  const PetscInt ncalls   = (max_rows + rpc - 1) / rpc;
  char           dummy[8] = { 0 }; /* the destination of an empty selection */
  PetscFunctionBegin;
  for (PetscInt k = 0; k < ncalls; k++) {
    const PetscInt a = lo + k * rpc, b = PetscMin(hi, a + rpc), cnt = PetscMax(0, b - a);
    hsize_t        start[4] = { (hsize_t)a, 0, 0, 0 }, count[4], mdims[4];
    hid_t          fs, ms;
    for (int d = 0; d < rank; d++) count[d] = mdims[d] = dims[d];
    count[0] = (hsize_t)cnt;
    mdims[0] = (hsize_t)PetscMax(cnt, 1);
    PofCallH5Id(fs, H5Dget_space(dset));
    PofCallH5Id(ms, H5Screate_simple(rank, mdims, NULL));
    if (cnt > 0) {
      PofCallH5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
    } else {
      PofCallH5(H5Sselect_none(fs));
      PofCallH5(H5Sselect_none(ms));
    }
    void *dst = cnt > 0 ? (void *)((char *)buf + (size_t)(a - lo) * row_bytes) : (void *)dummy;
    PofCallH5(H5Dread(dset, memtype, ms, fs, dxpl, dst));
    pof_phase_beat(); /* a chunk read: progress for the -run_step_timeout watchdog */
    PofCallH5(H5Sclose(ms));
    PofCallH5(H5Sclose(fs));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Nothing is allocated for a dataset before its dimensions are checked against the bytes the file
   holds for it: the product of the dimensions (overflow-checked) times the element size must be
   stored (an unfiltered dataset) or be within what a compressed one can expand to. */
static PetscErrorCode check_storage(PofDataset ds, hid_t dset, const char *split, const char *what,
                                    const hsize_t *dims, int rank, size_t elsize)
{
  hid_t    t, dcpl;
  uint64_t bytes = 1;
  int      nfilters;
  PetscFunctionBegin;
  if (!elsize) {
    PofCallH5Id(t, H5Dget_type(dset));
    elsize = H5Tget_size(t);
    PofCallH5(H5Tclose(t));
  }
  for (int d = 0; d < rank; d++)
    PetscCheck(!__builtin_mul_overflow(bytes, (uint64_t)dims[d], &bytes), ds->comm,
               PETSC_ERR_FILE_UNEXPECTED, "dataset file '%s': the dimensions of /%s/%s overflow",
               ds->source, split, what);
  PetscCheck(!__builtin_mul_overflow(bytes, (uint64_t)elsize, &bytes), ds->comm,
             PETSC_ERR_FILE_UNEXPECTED, "dataset file '%s': the dimensions of /%s/%s overflow",
             ds->source, split, what);
  const uint64_t stored = H5Dget_storage_size(dset);
  PofCallH5Id(dcpl, H5Dget_create_plist(dset));
  nfilters = H5Pget_nfilters(dcpl);
  PofCallH5(H5Pclose(dcpl));
  PetscCheck(nfilters > 0 ? bytes / POF_DATA_MAX_INFLATE <= stored : bytes <= stored, ds->comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': /%s/%s declares %llu bytes but the file stores %llu for it "
             "(truncated or damaged file)",
             ds->source, split, what, (unsigned long long)bytes, (unsigned long long)stored);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every label in [0, classes), checked on all ranks together (each checks what it holds). */
static PetscErrorCode check_labels(PofDataset ds, int sp)
{
  const DataSplit *d       = &ds->split[sp];
  int64_t          vals[1] = { INT64_MAX }, bad[1];
  PetscFunctionBegin;
  for (PetscInt i = 0; i < d->hi - d->lo; i++)
    if (d->labels[i] < 0 || d->labels[i] >= ds->info.classes) {
      vals[0] = d->lo + i;
      break;
    }
  PetscCall(pof_comm_allreduce_i64(ds->comm, vals, 1, POF_COMM_MIN));
  if (vals[0] == INT64_MAX) PetscFunctionReturn(PETSC_SUCCESS);
  bad[0] = INT64_MIN;
  if (vals[0] >= d->lo && vals[0] < d->hi) bad[0] = d->labels[vals[0] - d->lo];
  PetscCall(pof_comm_allreduce_i64(ds->comm, bad, 1, POF_COMM_MAX));
  SETERRQ(ds->comm, PETSC_ERR_FILE_UNEXPECTED,
          "dataset file '%s': label %lld of sample %lld in /%s/labels is outside [0, %" PetscInt_FMT
          ") (classes attribute)",
          ds->source, (long long)bad[0], (long long)vals[0], split_names[sp], ds->info.classes);
}

/* Everything after the file is open: validate the layout, read this rank's slabs. */
static PetscErrorCode load(PofDataset ds, hid_t fid, hid_t dxpl, PetscInt train_subset)
{
  PofDatasetInfo *in = &ds->info;
  hid_t           dimg[2], dlab[2];
  hsize_t         idims[2][4], ldims[2][4];
  PetscFunctionBegin;
  for (int sp = 0; sp < 2; sp++) {
    PetscCheck(H5Lexists(fid, split_names[sp], H5P_DEFAULT) > 0, ds->comm,
               PETSC_ERR_FILE_UNEXPECTED,
               "dataset file '%s' has no group /%s (not written by pof convert?)", ds->source,
               split_names[sp]);
    PetscCall(open_dataset(ds, fid, split_names[sp], "images", 4, 1, &dimg[sp], idims[sp]));
    PetscCall(open_dataset(ds, fid, split_names[sp], "labels", 1, 0, &dlab[sp], ldims[sp]));
  }
  PetscCall(read_int_attr(ds, fid, "classes", &in->classes));
  PetscCall(read_int_attr(ds, fid, "channels", &in->c));
  PetscCall(read_int_attr(ds, fid, "height", &in->h));
  PetscCall(read_int_attr(ds, fid, "width", &in->w));
  PetscCheck(in->c >= 1 && in->c <= POF_DATA_MAX_CHANNELS, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': %" PetscInt_FMT " channels, pof supports 1 to %d", ds->source,
             in->c, POF_DATA_MAX_CHANNELS);
  PetscCheck(in->h >= 1 && in->w >= 1 && in->h <= 65536 && in->w <= 65536, ds->comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': image size %" PetscInt_FMT "x%" PetscInt_FMT
             " is zero or too large",
             ds->source, in->h, in->w);
  PetscCheck(in->classes >= 1 && in->classes <= POF_DATA_MAX_CLASSES, ds->comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': classes attribute is %" PetscInt_FMT ", pof supports 1 to %d",
             ds->source, in->classes, POF_DATA_MAX_CLASSES);
  for (int sp = 0; sp < 2; sp++) {
    PetscCheck(idims[sp][1] == (hsize_t)in->c && idims[sp][2] == (hsize_t)in->h &&
                   idims[sp][3] == (hsize_t)in->w,
               ds->comm, PETSC_ERR_FILE_UNEXPECTED,
               "dataset file '%s': /%s/images is N x %llu x %llu x %llu but the attributes say "
               "%" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT,
               ds->source, split_names[sp], (unsigned long long)idims[sp][1],
               (unsigned long long)idims[sp][2], (unsigned long long)idims[sp][3], in->c, in->h,
               in->w);
    PetscCheck(ldims[sp][0] == idims[sp][0], ds->comm, PETSC_ERR_FILE_UNEXPECTED,
               "dataset file '%s': /%s holds %llu images but %llu labels", ds->source,
               split_names[sp], (unsigned long long)idims[sp][0], (unsigned long long)ldims[sp][0]);
    PetscCheck(idims[sp][0] <= (hsize_t)PETSC_MAX_INT / 2, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
               "dataset file '%s': too many samples in /%s", ds->source, split_names[sp]);
    PetscCall(check_storage(ds, dimg[sp], split_names[sp], "images", idims[sp], 4, 1));
    PetscCall(check_storage(ds, dlab[sp], split_names[sp], "labels", ldims[sp], 1, 0));
  }
  PetscCall(read_double_attr(ds, fid, "mean", in->c, in->mean));
  PetscCall(read_double_attr(ds, fid, "std", in->c, in->std));
  for (PetscInt c = 0; c < in->c; c++)
    PetscCheck(isfinite(in->mean[c]) && isfinite(in->std[c]) && in->std[c] > 0, ds->comm,
               PETSC_ERR_FILE_UNEXPECTED,
               "dataset file '%s': channel %" PetscInt_FMT
               " has mean %g, std %g (std must be positive and finite)",
               ds->source, c, in->mean[c], in->std[c]);
  PetscCall(read_str_attr(ds, fid, "name", in->name, sizeof(in->name)));
  const PetscInt ntrain_file = (PetscInt)idims[0][0];
  PetscCheck(ntrain_file >= 1, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s': /train is empty", ds->source);
  PetscCheck(train_subset <= ntrain_file, ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-data_train_subset %" PetscInt_FMT " exceeds the %" PetscInt_FMT
             " training samples of '%s'",
             train_subset, ntrain_file, ds->source);
  in->n_train      = train_subset > 0 ? train_subset : ntrain_file;
  in->n_test       = (PetscInt)idims[1][0];
  ds->sample_bytes = (size_t)in->c * (size_t)in->h * (size_t)in->w;
  ds->record_bytes = ds->sample_bytes + sizeof(int32_t);
  ds->split[0].n   = in->n_train;
  ds->split[1].n   = in->n_test;
  pof_progress_begin(POF_PHASE_DATA_LOAD, 2);
  for (int sp = 0; sp < 2; sp++) {
    DataSplit     *d       = &ds->split[sp];
    const PetscInt maxrows = ds->replicate ? d->n : (d->n + ds->size - 1) / ds->size;
    d->lo                  = ds->replicate ? 0 : pof_data_share_lo(d->n, ds->size, ds->rank);
    d->hi                  = ds->replicate ? d->n : pof_data_share_lo(d->n, ds->size, ds->rank + 1);
    PetscCall(PetscMalloc1((size_t)(d->hi - d->lo) * ds->sample_bytes + 1, &d->images));
    PetscCall(PetscMalloc1((size_t)(d->hi - d->lo) + 1, &d->labels));
    PetscCall(read_rows(dimg[sp], H5T_NATIVE_UINT8, dxpl, 4, idims[sp], d->lo, d->hi, maxrows,
                        ds->sample_bytes, d->images));
    PetscCall(read_rows(dlab[sp], H5T_NATIVE_INT32, dxpl, 1, ldims[sp], d->lo, d->hi, maxrows,
                        sizeof(int32_t), d->labels));
    PofCallH5(H5Dclose(dimg[sp]));
    PofCallH5(H5Dclose(dlab[sp]));
    pof_progress_advance(sp + 1);
    if (pof_progress_due()) {
      char line[POF_PATH_MAX + 96];
      PetscCall(PetscSNPrintf(line, sizeof line, "data: %s: /%s read (%" PetscInt_FMT " samples)",
                              ds->source, split_names[sp], d->n));
      pof_progress_report(line, NULL);
    }
  }
  pof_progress_end();
  for (int sp = 0; sp < 2; sp++) PetscCall(check_labels(ds, sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ open / destroy */

static PetscErrorCode dataset_create(MPI_Comm comm, const char *source, const PofDataConfig *cfg,
                                     PetscInt seed, PofDataset *out)
{
  PofDataset ds;
  PetscFunctionBegin;
  PetscCheck(seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "seed must be >= 0, got %" PetscInt_FMT,
             seed);
  PetscCheck(cfg->train_subset >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-data_train_subset must be >= 0, got %" PetscInt_FMT, cfg->train_subset);
  PetscCheck(cfg->crop_pad >= 0 && cfg->crop_pad <= 64, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-data_crop_pad must be in [0, 64], got %" PetscInt_FMT, cfg->crop_pad);
  PetscCheck(cfg->cutout >= 0 && cfg->cutout <= 1024, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-data_cutout must be in [0, 1024], got %" PetscInt_FMT, cfg->cutout);
  PetscCall(PetscNew(&ds));
  ds->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &ds->rank));
  PetscCallMPI(MPI_Comm_size(comm, &ds->size));
  PetscCall(PetscStrncpy(ds->source, source, sizeof(ds->source)));
  ds->replicate  = cfg->replicate;
  ds->seed       = seed;
  ds->perm_epoch = -1;
  if (cfg->augment) {
    ds->aug.crop_pad = (int)cfg->crop_pad;
    ds->aug.flip     = cfg->flip ? 1 : 0;
    ds->aug.cutout   = (int)cfg->cutout;
  }
  PetscCall(
      PetscCalloc3(ds->size, &ds->sendcounts, ds->size, &ds->recvcounts, ds->size, &ds->cursor));
  *out = ds;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After load: the normalization table and the permutation buffer. */
static PetscErrorCode dataset_finish(PofDataset ds)
{
  PetscFunctionBegin;
  PetscCheck(ds->aug.cutout <= PetscMax(ds->info.h, ds->info.w), ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-data_cutout %d is larger than the %" PetscInt_FMT "x%" PetscInt_FMT
             " images of '%s': the hole would erase whole images",
             ds->aug.cutout, ds->info.h, ds->info.w, ds->source);
  PetscCheck(ds->aug.crop_pad < PetscMin(ds->info.h, ds->info.w), ds->comm,
             PETSC_ERR_ARG_OUTOFRANGE,
             "-data_crop_pad %d is not smaller than the %" PetscInt_FMT "x%" PetscInt_FMT
             " images of '%s': some crops would hold no pixel of the image",
             ds->aug.crop_pad, ds->info.h, ds->info.w, ds->source);
  PetscCall(PetscMalloc1((size_t)ds->info.c * 256, &ds->lut));
  pof_augment_lut((int)ds->info.c, ds->info.mean, ds->info.std, ds->lut);
  PetscCall(PetscMalloc1((size_t)ds->info.n_train, &ds->perm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode dataset_open_file(PofDataset ds, const char *path, const PofDataConfig *cfg);

/* Nodes that disagree (issue 32): each rank reads the dataset through its own node's file system,
   so a node-local copy that differs, or another file at the same path, would silently train on
   other data. Each rank digests the file's size and its first and last 64 KiB (HDF5's superblock
   and object headers) before the collective open, and the attributes after it; every rank must
   hold rank 0's digests, else an error naming the first node that differs. Collective. */
static PetscErrorCode check_same_attributes(PofDataset ds, const char *path)
{
  const PofDatasetInfo *in   = &ds->info;
  const PetscInt        v[6] = { in->n_train, in->n_test, in->c, in->h, in->w, in->classes };
  char                  here[256], msg[1024];
  PetscBool             same;
  PetscFunctionBegin;
  uint64_t h = pof_fs_digest_bytes(0, v, sizeof v);
  h          = pof_fs_digest_bytes(h, in->mean, sizeof in->mean);
  h          = pof_fs_digest_bytes(h, in->std, sizeof in->std);
  h          = pof_fs_digest_bytes(h, in->name, strnlen(in->name, sizeof in->name));
  snprintf(here, sizeof here,
           "'%s', %" PetscInt_FMT " train / %" PetscInt_FMT " test, %" PetscInt_FMT
           "x%" PetscInt_FMT "x%" PetscInt_FMT ", %" PetscInt_FMT " classes, digest %016llx",
           in->name, in->n_train, in->n_test, in->c, in->h, in->w, in->classes,
           (unsigned long long)h);
  PetscCall(pof_comm_same_digest(ds->comm, h, here, msg, sizeof msg, &same));
  PetscCheck(same, ds->comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s' differs between nodes (%s): every node must see the same file",
             path, msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_open(MPI_Comm comm, const char *path, const PofDataConfig *cfg,
                                PetscInt seed, PofDataset *out)
{
  PofDataset ds = NULL;
  PofH5Quiet q;
  PetscFunctionBegin;
  *out = NULL;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG,
             "no dataset file given (-data_file F.h5, written by pof convert)");
  {
    const void *img;
    size_t      img_len;
    pof_file_image_lookup(path, &img, &img_len);
    if (img) { /* registered in-memory image of this file (pof sweep, pof/image.h) */
      PetscCall(pof_dataset_open_image(comm, img, img_len, cfg, seed, out));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  }
  pof_h5_no_file_locking();
  /* Rank 0 checks the file before the collective open, so every rank fails the same way. */
  PetscCall(dataset_create(comm, path, cfg, seed, &ds));
  pof_h5_quiet_begin(&q);
  PetscErrorCode ierr = dataset_open_file(ds, path, cfg);
  pof_h5_quiet_end(&q);
  if (!ierr) ierr = check_same_attributes(ds, path);
  if (!ierr) ierr = dataset_finish(ds);
  if (ierr) { /* this process's memory; HDF5 closes what it still holds at exit */
    PetscCall(pof_dataset_destroy(&ds));
    PetscCall(ierr);
  }
  *out = ds;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After a failed load on one process (pof info, a singleton run): close the objects load left
   open and the file, so a caller that goes on (the fuzz target of pof info) keeps no descriptor.
   With several ranks the handles stay until exit: closing is collective under MPI-IO, and a
   rank-local failure would leave the others elsewhere. */
static void close_after_error(hid_t fid, hid_t fapl, hid_t dxpl)
{
  hid_t         ids[16];
  const ssize_t n = H5Fget_obj_ids(
      fid, H5F_OBJ_DATASET | H5F_OBJ_ATTR | H5F_OBJ_DATATYPE | H5F_OBJ_LOCAL, 16, ids);
  for (ssize_t i = 0; i < n; i++) {
    const H5I_type_t t = H5Iget_type(ids[i]);
    if (t == H5I_DATASET)
      (void)H5Dclose(ids[i]);
    else if (t == H5I_ATTR)
      (void)H5Aclose(ids[i]);
    else if (t == H5I_DATATYPE)
      (void)H5Tclose(ids[i]);
  }
  (void)H5Fclose(fid);
  (void)H5Pclose(fapl);
  (void)H5Pclose(dxpl);
}

static PetscErrorCode dataset_open_file(PofDataset ds, const char *path, const PofDataConfig *cfg)
{
  MPI_Comm comm  = ds->comm;
  int64_t  st[2] = { 0, 0 };
  hid_t    fapl, fid, dxpl;
  PetscFunctionBegin;
  if (ds->rank == 0) {
    if (access(path, R_OK) != 0) {
      st[0] = 1;
      st[1] = errno;
    } else if (H5Fis_hdf5(path) <= 0)
      st[0] = 2;
  }
  PetscCall(pof_comm_bcast_bytes(comm, st, sizeof(st), 0));
  PetscCheck(st[0] != 1, comm, PETSC_ERR_FILE_OPEN, "cannot read dataset file '%s': %s", path,
             strerror((int)st[1]));
  PetscCheck(st[0] != 2, comm, PETSC_ERR_FILE_UNEXPECTED,
             "dataset file '%s' is not an HDF5 file (expected the output of pof convert)", path);
  PetscCall(pof_fs_same_file(comm, path, "dataset file"));
  PofCallH5Id(fapl, H5Pcreate(H5P_FILE_ACCESS));
  PofCallH5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  pof_h5_file_set(path);
  fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PetscCheck(fid >= 0, comm, PETSC_ERR_FILE_OPEN,
             "cannot open dataset file '%s' with the MPI-IO driver (damaged HDF5 file?)", path);
  PofCallH5Id(dxpl, H5Pcreate(H5P_DATASET_XFER));
  PofCallH5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  const PetscErrorCode ierr = load(ds, fid, dxpl, cfg->train_subset);
  if (ierr && ds->size == 1) close_after_error(fid, fapl, dxpl);
  PetscCall(ierr);
  PofCallH5(H5Pclose(dxpl));
  PofCallH5(H5Fclose(fid));
  PofCallH5(H5Pclose(fapl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* HDF5 files start with this signature at offset 0, 512, 1024, 2048, ... (after a user block). */
static PetscBool has_hdf5_signature(const unsigned char *b, size_t len)
{
  static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
  for (size_t off = 0; off + 8 <= len; off = off ? 2 * off : 512)
    if (!memcmp(b + off, sig, 8)) return PETSC_TRUE;
  return PETSC_FALSE;
}

static PetscErrorCode dataset_open_image(PofDataset ds, const void *buf, size_t len,
                                         const PofDataConfig *cfg)
{
  MPI_Comm       comm = ds->comm;
  hid_t          fapl, fid;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCheck(buf && has_hdf5_signature((const unsigned char *)buf, len), comm,
             PETSC_ERR_FILE_UNEXPECTED, "dataset file image (%zu bytes) is not an HDF5 file", len);
  PofCallH5Id(fapl, H5Pcreate(H5P_FILE_ACCESS));
  PofCallH5(H5Pset_fapl_core(fapl, (size_t)1 << 20, 0));
  PofCallH5(H5Pset_file_image(fapl, (void *)buf, len));
  pof_h5_file_set(ds->source);
  fid  = H5Fopen("pof-dataset-image.h5", H5F_ACC_RDONLY, fapl);
  ierr = fid >= 0 ? load(ds, fid, H5P_DEFAULT, cfg->train_subset) : PETSC_SUCCESS;
  if (fid >= 0) (void)H5Fclose(fid); /* the core driver's copy of the image goes with it */
  (void)H5Pclose(fapl);
  PetscCheck(fid >= 0, comm, PETSC_ERR_FILE_OPEN,
             "cannot open the dataset file image (%zu bytes; damaged HDF5 file?)", len);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* On failure the dataset is freed (a caller that goes on, pof sweep, must not keep its images:
   20 lines failing here had grown a rank by 1 GB) and *out stays NULL. */
PetscErrorCode pof_dataset_open_image(MPI_Comm comm, const void *buf, size_t len,
                                      const PofDataConfig *cfg, PetscInt seed, PofDataset *out)
{
  PofDataset ds = NULL;
  PofH5Quiet q;
  PetscFunctionBegin;
  *out = NULL;
  PetscCall(dataset_create(comm, "<in-memory file image>", cfg, seed, &ds));
  pof_h5_no_file_locking();
  pof_h5_quiet_begin(&q);
  PetscErrorCode ierr = dataset_open_image(ds, buf, len, cfg);
  pof_h5_quiet_end(&q);
  if (!ierr) ierr = dataset_finish(ds);
  if (ierr) {
    PetscCall(pof_dataset_destroy(&ds));
    PetscCall(ierr);
  }
  *out = ds;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_destroy(PofDataset *dsp)
{
  PetscFunctionBegin;
  if (!dsp || !*dsp) PetscFunctionReturn(PETSC_SUCCESS);
  PofDataset ds = *dsp;
  for (int sp = 0; sp < 2; sp++) {
    PetscCall(PetscFree(ds->split[sp].images));
    PetscCall(PetscFree(ds->split[sp].labels));
  }
  PetscCall(PetscFree(ds->lut));
  PetscCall(PetscFree(ds->perm));
  PetscCall(PetscFree(ds->idx));
  PetscCall(PetscFree(ds->sendbuf));
  PetscCall(PetscFree(ds->recvbuf));
  PetscCall(PetscFree(ds->src));
  PetscCall(PetscFree(ds->lab));
  PetscCall(PetscFree3(ds->sendcounts, ds->recvcounts, ds->cursor));
  PetscCall(PetscFree(ds));
  *dsp = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_get_info(PofDataset ds, PofDatasetInfo *info)
{
  PetscFunctionBegin;
  *info = ds->info;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscInt pof_dataset_batches_per_epoch(PofDataset ds, PetscInt global_batch)
{
  return global_batch > 0 ? ds->info.n_train / global_batch : 0;
}

/* ------------------------------------------------------------------ batches */

static PetscErrorCode ensure_cap(PofDataset ds, size_t slots)
{
  PetscFunctionBegin;
  if (slots <= ds->cap) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(ds->idx));
  PetscCall(PetscFree(ds->sendbuf));
  PetscCall(PetscFree(ds->recvbuf));
  PetscCall(PetscFree(ds->src));
  PetscCall(PetscFree(ds->lab));
  PetscCall(PetscMalloc1(slots, &ds->idx));
  PetscCall(PetscMalloc1(slots * ds->record_bytes, &ds->sendbuf));
  PetscCall(PetscMalloc1(slots * ds->record_bytes, &ds->recvbuf));
  PetscCall(PetscMalloc1(slots, &ds->src));
  PetscCall(PetscMalloc1(slots, &ds->lab));
  ds->cap = slots;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*
 * Bring this rank's slots [my_lo, my_hi) of a global batch of nslots samples (global indices
 * gidx[] of split sp; slot s goes to rank pof_data_share_owner(nslots, P, s)) to ds->src /
 * ds->lab. Exchanged mode: owners pack the requested samples per destination in slot order,
 * one all-to-all moves them, receivers unpack per source in slot order. Collective.
 */
static PetscErrorCode gather(PofDataset ds, int sp, PetscInt nslots, const PetscInt *gidx,
                             PetscInt my_lo, PetscInt my_hi)
{
  const DataSplit *d  = &ds->split[sp];
  const size_t     sb = ds->sample_bytes, rb = ds->record_bytes;
  const PetscInt   P = ds->size;
  PetscFunctionBegin;
  if (ds->replicate) {
    for (PetscInt s = my_lo; s < my_hi; s++) {
      ds->src[s - my_lo] = d->images + (size_t)gidx[s] * sb;
      ds->lab[s - my_lo] = d->labels[gidx[s]];
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (PetscInt r = 0; r < P; r++) ds->sendcounts[r] = ds->recvcounts[r] = 0;
  for (PetscInt s = 0; s < nslots; s++) {
    const PetscInt o = pof_data_share_owner(d->n, P, gidx[s]),
                   t = pof_data_share_owner(nslots, P, s);
    if (o == ds->rank) ds->sendcounts[t]++;
    if (t == ds->rank) ds->recvcounts[o]++;
  }
  for (PetscInt r = 0, acc = 0; r < P; r++) ds->cursor[r] = (int)acc, acc += ds->sendcounts[r];
  for (PetscInt s = 0; s < nslots; s++) {
    if (pof_data_share_owner(d->n, P, gidx[s]) != ds->rank) continue;
    const PetscInt t   = pof_data_share_owner(nslots, P, s);
    uint8_t       *rec = ds->sendbuf + (size_t)ds->cursor[t]++ * rb;
    PetscCall(PetscMemcpy(rec, d->images + (size_t)(gidx[s] - d->lo) * sb, sb));
    PetscCall(PetscMemcpy(rec + sb, &d->labels[gidx[s] - d->lo], sizeof(int32_t)));
  }
  PetscCall(pof_comm_exchange_records(ds->comm, rb, ds->sendbuf, ds->sendcounts, ds->recvbuf,
                                      ds->recvcounts));
  for (PetscInt r = 0, acc = 0; r < P; r++) ds->cursor[r] = (int)acc, acc += ds->recvcounts[r];
  for (PetscInt s = my_lo; s < my_hi; s++) {
    const PetscInt o   = pof_data_share_owner(d->n, P, gidx[s]);
    const uint8_t *rec = ds->recvbuf + (size_t)ds->cursor[o]++ * rb;
    ds->src[s - my_lo] = rec;
    PetscCall(PetscMemcpy(&ds->lab[s - my_lo], rec + sb, sizeof(int32_t)));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Augment (with the stream (seed, purpose, epoch, step, slot)) or, for evaluation, only
   normalize the gathered samples into x; labels into y. */
static void emit(PofDataset ds, PetscBool augment, PofRngPurpose purpose, PetscInt epoch,
                 PetscInt step, PetscInt my_lo, PetscInt nmine, float *x, int32_t *y)
{
  const PofAugParams none = { 0, 0, 0 };
  const int          c = (int)ds->info.c, h = (int)ds->info.h, w = (int)ds->info.w;
  for (PetscInt k = 0; k < nmine; k++) {
    PofAugDraw          dr = { 0, 0, 0, 0, 0 };
    const PofAugParams *p  = augment ? &ds->aug : &none;
    if (augment) {
      PofRng r;
      pof_rng_init(&r, (uint64_t)ds->seed, purpose, (uint32_t)epoch, (uint32_t)step,
                   (uint32_t)(my_lo + k));
      pof_augment_draw(p, h, w, &r, &dr);
    }
    pof_augment_apply(p, &dr, c, h, w, ds->lut, ds->src[k], x + (size_t)k * ds->sample_bytes);
    y[k] = ds->lab[k];
  }
}

static PetscErrorCode check_batch(PofDataset ds, PetscInt epoch, PetscInt step, PetscInt B)
{
  PetscFunctionBegin;
  PetscCheck(B >= 1 && B % ds->size == 0, ds->comm, PETSC_ERR_ARG_WRONG,
             "global batch %" PetscInt_FMT " must be positive and divisible by the %d ranks", B,
             ds->size);
  PetscCheck(epoch >= 0 && epoch < (1 << 24), ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "epoch %" PetscInt_FMT " out of range [0, 2^24)", epoch);
  PetscCheck(step >= 0, ds->comm, PETSC_ERR_ARG_OUTOFRANGE, "step %" PetscInt_FMT " must be >= 0",
             step);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_train_indices(PofDataset ds, PetscInt epoch, PetscInt step, PetscInt B,
                                         PetscInt *idx)
{
  PetscFunctionBegin;
  PetscCheck(B >= 1 && epoch >= 0 && epoch < (1 << 24), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "batch %" PetscInt_FMT " / epoch %" PetscInt_FMT " out of range", B, epoch);
  const PetscInt nb = pof_dataset_batches_per_epoch(ds, B);
  PetscCheck(step >= 0 && step < nb, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "step %" PetscInt_FMT " out of range: an epoch has %" PetscInt_FMT
             " batches of %" PetscInt_FMT,
             step, nb, B);
  if (ds->perm_epoch != epoch) {
    pof_data_epoch_perm(ds->seed, epoch, ds->info.n_train, ds->perm);
    ds->perm_epoch = epoch;
  }
  PetscCall(PetscArraycpy(idx, ds->perm + (size_t)step * B, B));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_weak_indices(PofDataset ds, PetscInt epoch, PetscInt step, PetscInt B,
                                        PetscInt *idx)
{
  PofRng r;
  PetscFunctionBegin;
  PetscCheck(B >= 1 && epoch >= 0 && epoch < (1 << 24) && step >= 0, PETSC_COMM_SELF,
             PETSC_ERR_ARG_OUTOFRANGE,
             "batch %" PetscInt_FMT " / epoch %" PetscInt_FMT " / step %" PetscInt_FMT
             " out of range",
             B, epoch, step);
  pof_rng_init(&r, (uint64_t)ds->seed, POF_RNG_WEAK_INDEX, (uint32_t)epoch, (uint32_t)step, 0);
  for (PetscInt s = 0; s < B; s++) idx[s] = (PetscInt)pof_rng_below(&r, (uint32_t)ds->info.n_train);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_train_batch(PofDataset ds, PetscInt epoch, PetscInt step, PetscInt B,
                                       float *x, int32_t *y)
{
  PetscFunctionBegin;
  PetscCall(check_batch(ds, epoch, step, B));
  PetscCheck(step < pof_dataset_batches_per_epoch(ds, B), ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "step %" PetscInt_FMT " out of range: an epoch of %" PetscInt_FMT
             " samples has %" PetscInt_FMT " batches of %" PetscInt_FMT,
             step, ds->info.n_train, pof_dataset_batches_per_epoch(ds, B), B);
  PetscCall(ensure_cap(ds, (size_t)B));
  PetscCall(pof_dataset_train_indices(ds, epoch, step, B, ds->idx));
  const PetscInt lo = ds->rank * (B / ds->size), n = B / ds->size;
  PetscCall(gather(ds, POF_SPLIT_TRAIN, B, ds->idx, lo, lo + n));
  emit(ds, PETSC_TRUE, POF_RNG_AUG, epoch, step, lo, n, x, y);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_weak_batch(PofDataset ds, PetscInt epoch, PetscInt step, PetscInt B,
                                      float *x, int32_t *y)
{
  PetscFunctionBegin;
  PetscCall(check_batch(ds, epoch, step, B));
  PetscCall(ensure_cap(ds, (size_t)B));
  PetscCall(pof_dataset_weak_indices(ds, epoch, step, B, ds->idx));
  const PetscInt lo = ds->rank * (B / ds->size), n = B / ds->size;
  PetscCall(gather(ds, POF_SPLIT_TRAIN, B, ds->idx, lo, lo + n));
  emit(ds, PETSC_TRUE, POF_RNG_WEAK_AUG, epoch, step, lo, n, x, y);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_dataset_eval_batch(PofDataset ds, PofSplit split, PetscInt start, PetscInt count,
                                      float *x, int32_t *y, PetscInt *nlocal)
{
  PetscFunctionBegin;
  PetscCheck(split == POF_SPLIT_TRAIN || split == POF_SPLIT_TEST, ds->comm, PETSC_ERR_ARG_WRONG,
             "unknown split %d", (int)split);
  const PetscInt n = ds->split[split].n;
  PetscCheck(start >= 0 && count >= 0 && start + count <= n, ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "evaluation samples [%" PetscInt_FMT ", %" PetscInt_FMT ") outside the %" PetscInt_FMT
             " samples of /%s",
             start, start + count, n, split_names[split]);
  const PetscInt lo = pof_data_share_lo(count, ds->size, ds->rank),
                 hi = pof_data_share_lo(count, ds->size, ds->rank + 1);
  PetscCall(ensure_cap(ds, (size_t)PetscMax(count, 1)));
  for (PetscInt s = 0; s < count; s++) ds->idx[s] = start + s;
  PetscCall(gather(ds, split, count, ds->idx, lo, hi));
  emit(ds, PETSC_FALSE, POF_RNG_AUG, 0, 0, lo, hi - lo, x, y);
  *nlocal = hi - lo;
  PetscFunctionReturn(PETSC_SUCCESS);
}
