/* Structure-aware mutator of the HDF5 fuzz targets (dataset, model, checkpoint files).
 *
 * libhdf5 is not instrumented, so byte-level mutations of an HDF5 file mostly give files HDF5
 * refuses to open: pof's checks behind the open are rarely reached. This mutator opens the input
 * with HDF5 (core driver, in memory), copies it into a fresh in-memory file and edits it through
 * the HDF5 API the way a wrong writer would: attribute values (interesting integers and reals, NaN,
 * Inf, long or empty strings), attribute types and shapes (int <-> real <-> string, scalar <->
 * array, empty), missing or added attributes, datasets with other lengths, ranks, element types
 * or huge unallocated extents (optionally with the integer attributes that named the old length
 * set to the new one, so the file stays consistent), special values in the data, deleted or
 * swapped datasets and groups. Afterwards the CRC-32 attributes of a pof checkpoint
 * ("crc32_<dataset>") are usually recomputed so the edit reaches the checks behind them. One
 * mutation in eight, or when the input does not open, is libFuzzer's own byte-level mutation
 * (with the dictionary), which exercises HDF5's parser on damaged files. With
 * POF_FUZZ_STRUCT_ONLY=1 (the suite's short runs) there are no byte-level mutations: libhdf5 1.10
 * itself crashes on some damaged files (docs/testing.md, "Fuzzing"), which is no regression of pof.
 */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define MAX_OBJS  64
#define MAX_BYTES ((size_t)1 << 24) /* datasets larger than this are not read by the mutator */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return n ? (unsigned)((rng_state >> 33) % n) : 0;
}

typedef struct {
  char name[MAX_OBJS][128];
  int  is_dset[MAX_OBJS];
  int  n;
} Objs;

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *ctx)
{
  Objs *o = (Objs *)ctx;
  (void)obj;
  if (o->n < MAX_OBJS && strlen(name) < sizeof(o->name[0]) &&
      (info->type == H5O_TYPE_DATASET || info->type == H5O_TYPE_GROUP)) {
    snprintf(o->name[o->n], sizeof(o->name[0]), "%s", name);
    o->is_dset[o->n++] = info->type == H5O_TYPE_DATASET;
  }
  return 0;
}

static int64_t interesting_int(int64_t old)
{
  static const int64_t v[] = {
    0,          1,          -1,        2,         3,         7,         8,         10,
    16,         255,        256,       65535,     65536,     65537,     INT32_MAX, INT32_MIN,
    0x80000000, UINT32_MAX, INT64_MAX, INT64_MIN, 1LL << 40, 1LL << 31, 1LL << 53, -(1LL << 31)
  };
  switch (rnd(6)) {
  case 0: return old + 1;
  case 1: return old - 1;
  case 2: return old * 2;
  case 3: return old / 2;
  default: return v[rnd(sizeof(v) / sizeof(v[0]))];
  }
}

static double interesting_real(double old)
{
  static const double v[] = { 0, -0.0, 1, -1, 1e308, -1e308, 1e-308, 4.9e-324, 0.5, 1e9, 3e38 };
  switch (rnd(8)) {
  case 0: return NAN;
  case 1: return INFINITY;
  case 2: return -INFINITY;
  case 3: return old * 2;
  case 4: return old + 1;
  default: return v[rnd(sizeof(v) / sizeof(v[0]))];
  }
}

/* ------------------------------------------------------------------ copying into a fresh file */

/* Read attribute `name` of obj as raw bytes of its native memory type (caller frees *buf and
   closes *mtype and *space). */
static int attr_get(hid_t obj, const char *name, hid_t *mtype, hid_t *space, void **buf)
{
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT), ft;
  if (a < 0) return -1;
  ft     = H5Aget_type(a);
  *mtype = H5Tget_native_type(ft, H5T_DIR_DEFAULT);
  *space = H5Aget_space(a);
  H5Tclose(ft);
  hssize_t     np = H5Sget_simple_extent_npoints(*space);
  const size_t sz = H5Tget_size(*mtype);
  if (*mtype < 0 || *space < 0 || np < 0 || sz == 0 || (size_t)np * sz > MAX_BYTES) {
    H5Aclose(a);
    return -1;
  }
  *buf = calloc((size_t)np + 1, sz);
  if (!*buf || H5Aread(a, *mtype, *buf) < 0) {
    H5Aclose(a);
    return -1;
  }
  H5Aclose(a);
  return 0;
}

static void attr_put(hid_t obj, const char *name, hid_t mtype, hid_t space, const void *buf)
{
  hid_t a = H5Acreate2(obj, name, mtype, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    H5Awrite(a, mtype, buf);
    H5Aclose(a);
  }
}

static void attr_release(hid_t mtype, hid_t space, void *buf)
{
  if (buf && (H5Tdetect_class(mtype, H5T_VLEN) > 0 || H5Tis_variable_str(mtype) > 0))
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
  free(buf);
  H5Tclose(mtype);
  H5Sclose(space);
}

static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
  hid_t mtype, space;
  void *buf = NULL;
  (void)info;
  if (attr_get(loc, name, &mtype, &space, &buf) == 0) {
    attr_put(*(hid_t *)ctx, name, mtype, space, buf);
    attr_release(mtype, space, buf);
  } else
    free(buf);
  return 0;
}

static herr_t copy_child(hid_t loc, const char *name, const H5L_info_t *info, void *ctx)
{
  (void)info;
  H5Ocopy(loc, name, *(hid_t *)ctx, name, H5P_DEFAULT, H5P_DEFAULT);
  return 0;
}

/* ------------------------------------------------------------------ edits */

static void edit_attr_value(hid_t obj, const char *name)
{
  hid_t mtype, space;
  void *buf = NULL;
  if (attr_get(obj, name, &mtype, &space, &buf) != 0) {
    free(buf);
    return;
  }
  const hssize_t np  = H5Sget_simple_extent_npoints(space);
  const size_t   k   = np > 0 ? rnd((unsigned)np) : 0;
  H5T_class_t    cls = H5Tget_class(mtype);
  if (np > 0 && cls == H5T_INTEGER && H5Tget_size(mtype) == 8) {
    ((int64_t *)buf)[k] = interesting_int(((int64_t *)buf)[k]);
  } else if (np > 0 && cls == H5T_INTEGER && H5Tget_size(mtype) == 4) {
    ((int32_t *)buf)[k] = (int32_t)interesting_int(((int32_t *)buf)[k]);
  } else if (np > 0 && cls == H5T_FLOAT && H5Tget_size(mtype) == 8) {
    ((double *)buf)[k] = interesting_real(((double *)buf)[k]);
  } else if (np > 0 && cls == H5T_FLOAT && H5Tget_size(mtype) == 4) {
    ((float *)buf)[k] = (float)interesting_real(((float *)buf)[k]);
  } else if (np > 0 && cls == H5T_STRING && H5Tis_variable_str(mtype) <= 0) {
    char        *s = (char *)buf;
    const size_t n = H5Tget_size(mtype);
    switch (rnd(4)) {
    case 0: s[0] = '\0'; break;
    case 1: memset(s, 'A' + (int)rnd(26), n); break; /* no terminating NUL */
    case 2: s[rnd((unsigned)n)] = (char)rnd(256); break;
    default: s[rnd((unsigned)n)] = '\0';
    }
  }
  H5Adelete(obj, name);
  attr_put(obj, name, mtype, space, buf);
  attr_release(mtype, space, buf);
}

/* A new type/shape for an attribute or dataset: *type (close it) and dims/rank. */
static hid_t random_type(void)
{
  static const hid_t *const types[] = { &H5T_NATIVE_INT32_g, &H5T_NATIVE_INT64_g,
                                        &H5T_NATIVE_UINT8_g, &H5T_NATIVE_DOUBLE_g,
                                        &H5T_NATIVE_FLOAT_g, &H5T_NATIVE_UINT64_g,
                                        &H5T_NATIVE_INT16_g };
  const unsigned            r       = rnd(9);
  if (r < 7) return H5Tcopy(*types[r]);
  hid_t t = H5Tcopy(H5T_C_S1);
  if (r == 7)
    H5Tset_size(t, H5T_VARIABLE);
  else
    H5Tset_size(t, 1 + rnd(40));
  return t;
}

static void edit_attr_retype(hid_t obj, const char *name)
{
  hid_t   t = random_type(), sp;
  hsize_t d[1];
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  switch (rnd(4)) {
  case 0: sp = H5Screate(H5S_NULL); break;
  case 1:
    d[0] = rnd(3) ? 1 + rnd(20) : 0;
    sp   = H5Screate_simple(1, d, NULL);
    break;
  default: sp = H5Screate(H5S_SCALAR);
  }
  const hssize_t np = H5Sget_simple_extent_npoints(sp);
  const size_t   sz = H5Tget_size(t);
  void          *buf;
  if (H5Tis_variable_str(t) > 0) {
    char **s = calloc((size_t)(np > 0 ? np : 1), sizeof(char *));
    for (hssize_t i = 0; s && i < np; i++) s[i] = "pretrain";
    buf = s;
  } else {
    buf = calloc((size_t)(np > 0 ? np : 1), sz);
    if (buf && H5Tget_class(t) == H5T_STRING && sz > 1) memcpy(buf, "posttrain", sz < 10 ? sz : 10);
    if (buf && H5Tget_class(t) != H5T_STRING)
      for (size_t i = 0; i < (size_t)(np > 0 ? np : 0) * sz; i++)
        ((uint8_t *)buf)[i] = (uint8_t)rnd(3);
  }
  if (buf) attr_put(obj, name, t, sp, buf);
  free(buf);
  H5Sclose(sp);
  H5Tclose(t);
}

static const char *const attr_names[] = {
  "format_version", "complete", "n_params",     "n_feature",     "n_bn_state",    "n_theta0",
  "classes",        "channels", "height",       "width",         "mean",          "std",
  "name",           "depth",    "base",         "in_c",          "in_h",          "in_w",
  "epochs_done",    "kind",     "milestones",   "nmilestones",   "have_momentum", "have_theta0",
  "crc32_params",   "seed",     "options_json", "source_format", "lr_base",       "post_lr"
};

/* Attributes of obj (by index) or a name of pof's; mode: value, type, delete, add. */
static void edit_attr(hid_t obj)
{
  H5O_info_t info;
  char       name[256] = "";
  if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return;
  if (info.num_attrs > 0 && rnd(8))
    H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, rnd((unsigned)info.num_attrs), name,
                       sizeof(name), H5P_DEFAULT);
  else
    snprintf(name, sizeof(name), "%s", attr_names[rnd(sizeof(attr_names) / sizeof(attr_names[0]))]);
  const int exists = H5Aexists(obj, name) > 0;
  switch (rnd(6)) {
  case 0:
    if (exists) H5Adelete(obj, name);
    break;
  case 1: edit_attr_retype(obj, name); break;
  default:
    if (exists)
      edit_attr_value(obj, name);
    else
      edit_attr_retype(obj, name);
  }
}

/* Root integer attributes equal to `from` become `to` (the counts that named a dataset's size). */
static herr_t retarget(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
  const int64_t *ft = (const int64_t *)ctx;
  hid_t          mtype, space;
  void          *buf = NULL;
  (void)info;
  if (attr_get(loc, name, &mtype, &space, &buf) == 0) {
    if (H5Tget_class(mtype) == H5T_INTEGER && H5Sget_simple_extent_npoints(space) == 1 &&
        H5Tget_size(mtype) == 8 && *(int64_t *)buf == ft[0]) {
      *(int64_t *)buf = ft[1];
      H5Adelete(loc, name);
      attr_put(loc, name, mtype, space, buf);
    }
    attr_release(mtype, space, buf);
  } else
    free(buf);
  return 0;
}

/* Recreate dataset `name` with another shape and/or type; data copied (converted) where it fits. */
static void edit_dset_shape(hid_t fid, const char *name)
{
  hid_t   d       = H5Dopen2(fid, name, H5P_DEFAULT), sp, ft, t, dcpl, nd;
  hsize_t dims[4] = { 0 }, nw[4], maxd[4];
  int     rank;
  double *old = NULL;
  size_t  onp = 0;
  if (d < 0) return;
  sp   = H5Dget_space(d);
  rank = H5Sget_simple_extent_ndims(sp);
  if (rank < 0 || rank > 4) rank = 0;
  if (rank > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
  ft = H5Dget_type(d);
  {
    hid_t          mt = H5Tget_native_type(ft, H5T_DIR_DEFAULT);
    const hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (np > 0 && (size_t)np * 8 <= MAX_BYTES && H5Tget_class(ft) != H5T_STRING) {
      old = calloc((size_t)np, 8);
      if (old && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, old) < 0) {
        free(old);
        old = NULL;
      }
      onp = old ? (size_t)np : 0;
    }
    H5Tclose(mt);
  }
  H5Sclose(sp);
  H5Dclose(d);
  t = rnd(2) ? H5Tcopy(ft) : random_type();
  H5Tclose(ft);
  const int nrank = rnd(4) ? (rank ? rank : 1) : 1 + (int)rnd(4);
  int       huge  = 0;
  for (int i = 0; i < nrank; i++) {
    const hsize_t o = i < rank ? dims[i] : 1;
    switch (rnd(8)) {
    case 0: nw[i] = 0; break;
    case 1: nw[i] = o + 1; break;
    case 2: nw[i] = o ? o - 1 : 1; break;
    case 3: nw[i] = o * 2; break;
    case 4:
      nw[i] = (hsize_t)1 << (20 + rnd(24));
      huge  = 1;
      break;
    default: nw[i] = o;
    }
    maxd[i] = H5S_UNLIMITED;
  }
  hsize_t total = 1;
  for (int i = 0; i < nrank; i++)
    total = nw[i] && total > (hsize_t)-1 / nw[i] ? (hsize_t)-1 : total * nw[i];
  H5Ldelete(fid, name, H5P_DEFAULT);
  sp   = H5Screate_simple(nrank, nw, maxd);
  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  {
    hsize_t chunk[4];
    for (int i = 0; i < nrank; i++) chunk[i] = nw[i] ? (nw[i] < 4096 ? nw[i] : 4096) : 1;
    H5Pset_chunk(dcpl, nrank, chunk);
  }
  nd = H5Dcreate2(fid, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (nd >= 0 && !huge && total * 8 <= MAX_BYTES && total > 0 && H5Tget_class(t) != H5T_STRING) {
    double *buf = calloc((size_t)total, sizeof(double));
    if (buf) {
      for (hsize_t i = 0; i < total; i++) buf[i] = onp ? old[i % onp] : (double)rnd(3);
      H5Dwrite(nd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      free(buf);
    }
  }
  if (nd >= 0) H5Dclose(nd);
  if (rank >= 1 && nrank >= 1 && rnd(2)) { /* keep the file consistent: counts follow */
    for (int i = 0; i < nrank && i < rank; i++) {
      int64_t ft2[2] = { (int64_t)dims[i], (int64_t)nw[i] };
      if (ft2[0] != ft2[1]) H5Aiterate2(fid, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, retarget, ft2);
    }
  }
  free(old);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Tclose(t);
}

/* Special values at a few positions of dataset `name` (in its own type). */
static void edit_dset_values(hid_t fid, const char *name)
{
  hid_t d = H5Dopen2(fid, name, H5P_DEFAULT), sp;
  if (d < 0) return;
  sp                = H5Dget_space(d);
  const hssize_t np = H5Sget_simple_extent_npoints(sp);
  if (np > 0 && (size_t)np * 8 <= MAX_BYTES) {
    double *buf = calloc((size_t)np, sizeof(double));
    if (buf && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
      const unsigned k = 1 + rnd(4);
      for (unsigned i = 0; i < k; i++) {
        const size_t at = rnd((unsigned)np);
        buf[at] = rnd(2) ? interesting_real(buf[at]) : (double)interesting_int((int64_t)buf[at]);
      }
      H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    }
    free(buf);
  }
  H5Sclose(sp);
  H5Dclose(d);
}

/* crc32_<name> = CRC-32 of the dataset's bytes in file order (little-endian), as pof writes it. */
static void fix_crcs(hid_t fid)
{
  static const char *const names[] = { "params", "momentum", "bn_running", "theta0" };
  for (int k = 0; k < 4; k++) {
    char    an[32];
    int64_t crc = (int64_t)crc32_z(0L, Z_NULL, 0);
    snprintf(an, sizeof(an), "crc32_%s", names[k]);
    if (H5Aexists(fid, an) <= 0) continue;
    if (H5Lexists(fid, names[k], H5P_DEFAULT) > 0) {
      hid_t d = H5Dopen2(fid, names[k], H5P_DEFAULT), sp = H5Dget_space(d), ft = H5Dget_type(d);
      const hssize_t np = H5Sget_simple_extent_npoints(sp);
      const size_t   sz = H5Tget_size(ft);
      if (np < 0 || sz == 0 || (size_t)np * sz > MAX_BYTES) {
        H5Tclose(ft), H5Sclose(sp), H5Dclose(d);
        continue;
      }
      void *buf = calloc((size_t)np + 1, sz);
      if (buf && H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)
        crc = (int64_t)crc32_z((uLong)crc, buf, (size_t)np * sz);
      free(buf);
      H5Tclose(ft), H5Sclose(sp), H5Dclose(d);
    }
    hid_t a = H5Aopen(fid, an, H5P_DEFAULT);
    if (a >= 0) {
      H5Awrite(a, H5T_NATIVE_INT64, &crc);
      H5Aclose(a);
    }
  }
}

static void edit_once(hid_t fid, const Objs *o)
{
  const int i = o->n ? (int)rnd((unsigned)o->n) : -1;
  switch (rnd(10)) {
  case 0:
  case 1:
  case 2:
  case 3: edit_attr(fid); break; /* pof keeps its metadata on "/" */
  case 4:
    if (i >= 0) {
      hid_t obj = H5Oopen(fid, o->name[i], H5P_DEFAULT);
      if (obj >= 0) edit_attr(obj), H5Oclose(obj);
    }
    break;
  case 5:
  case 6:
    if (i >= 0 && o->is_dset[i]) edit_dset_shape(fid, o->name[i]);
    break;
  case 7:
    if (i >= 0 && o->is_dset[i]) edit_dset_values(fid, o->name[i]);
    break;
  case 8:
    if (i >= 0) H5Ldelete(fid, o->name[i], H5P_DEFAULT);
    break;
  default: /* one object also (or instead) under another's name */
    if (i >= 0 && o->n > 1) {
      const int j = (int)rnd((unsigned)o->n);
      if (j != i) {
        H5Ldelete(fid, o->name[j], H5P_DEFAULT);
        H5Lcreate_hard(fid, o->name[i], fid, o->name[j], H5P_DEFAULT, H5P_DEFAULT);
      }
    }
  }
}

/* The edited file's image into data (at most max_size bytes): its size, or 0. */
static size_t h5_mutate(uint8_t *data, size_t size, size_t max_size)
{
  hid_t  sfapl = H5Pcreate(H5P_FILE_ACCESS), dfapl = H5Pcreate(H5P_FILE_ACCESS), src, dst;
  size_t out = 0;
  Objs   o;
  H5Pset_fapl_core(sfapl, 1 << 16, 0);
  H5Pset_file_image(sfapl, data, size);
  H5Pset_fclose_degree(sfapl, H5F_CLOSE_STRONG);
  H5Pset_fapl_core(dfapl, 1 << 16, 0);
  H5Pset_fclose_degree(dfapl, H5F_CLOSE_STRONG);
  src = H5Fopen("pof-fuzz-mutator-in.h5", H5F_ACC_RDONLY, sfapl);
  dst = src >= 0 ? H5Fcreate("pof-fuzz-mutator-out.h5", H5F_ACC_TRUNC, H5P_DEFAULT, dfapl) : -1;
  if (dst >= 0) {
    H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, copy_attr, &dst);
    H5Literate(src, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, copy_child, &dst);
    o.n = 0;
    H5Ovisit2(dst, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &o, H5O_INFO_BASIC);
    const unsigned k = 1 + rnd(3);
    for (unsigned e = 0; e < k; e++) edit_once(dst, &o);
    if (rnd(4)) fix_crcs(dst);
    if (H5Fflush(dst, H5F_SCOPE_GLOBAL) >= 0) {
      const ssize_t n = H5Fget_file_image(dst, NULL, 0);
      if (n > 0 && (size_t)n <= max_size && H5Fget_file_image(dst, data, (size_t)n) == n)
        out = (size_t)n;
    }
    H5Fclose(dst);
  }
  if (src >= 0) H5Fclose(src);
  H5Pclose(sfapl);
  H5Pclose(dfapl);
  return out;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
  static int struct_only = -1; /* POF_FUZZ_STRUCT_ONLY=1: never a byte-level mutation */
  size_t     n           = 0;
  if (struct_only < 0)
    struct_only = getenv("POF_FUZZ_STRUCT_ONLY") && strcmp(getenv("POF_FUZZ_STRUCT_ONLY"), "0");
  rng_state = seed * 2654435761ULL + 1;
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (struct_only || rnd(8)) n = h5_mutate(data, size, max_size);
  if (struct_only) return n ? n : size; /* an input HDF5 cannot open stays as it is */
  return n ? n : LLVMFuzzerMutate(data, size, max_size);
}
