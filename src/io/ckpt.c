/* Checkpoints in parallel HDF5: see include/pof/ckpt.h.
 *
 * Agreement protocol: whatever could differ between ranks (does the file exist, is it valid,
 * did the rename work, which file is the newest good one) is decided on rank 0 and broadcast,
 * so every rank takes the same path and no rank waits alone in a collective HDF5 call. These
 * broadcasts, reductions and the CRC combine's gather go through src/comm. */
#include "h5util.h"
#include "tensors.h"
#include "pof/phase.h"
#include "pof/ckpt.h"
#include "pof/fsutil.h"
#include "pof/image.h"
#include "pof/comm_exchange.h"
#include "pof/signal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#if defined(PETSC_USE_COMPLEX) || !defined(PETSC_USE_REAL_DOUBLE)
#  error "pof checkpoints assume PetscScalar is a real double"
#endif
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#  error "pof checkpoint checksums are defined on little-endian bytes"
#endif

#define CKPT_MSG_LEN (2 * POF_PATH_MAX + 512) /* reasons and messages broadcast from rank 0 */
#define CKPT_H5_LEN  256                      /* innermost HDF5 error description */

/* Largest number of elements one rank moves per H5Dwrite/H5Dread call. */
static PetscInt ckpt_io_chunk = (PetscInt)1 << 26;

/* ------------------------------------------------------------------ metadata attributes */

typedef enum { CKPT_A_INT, CKPT_A_REAL, CKPT_A_STR } CkptAttrKind;

/* One attribute of "/" <-> one PofCkptMeta field. count: elements (int/real) or buffer bytes (str).
   optional: a file without it reads as 0 (fields added after format version 1 was fixed). */
typedef struct {
  const char  *name;
  size_t       offset;
  size_t       count;
  CkptAttrKind kind;
  int          optional;
} CkptAttr;

#define CKPT_ATTR(f, k, n, opt)                                                                  \
  {                                                                                              \
    .name = #f, .offset = offsetof(PofCkptMeta, f), .count = (n), .kind = (k), .optional = (opt) \
  }
#define CKPT_INT(f)          CKPT_ATTR(f, CKPT_A_INT, 1, 0)
#define CKPT_REAL(f)         CKPT_ATTR(f, CKPT_A_REAL, 1, 0)
#define CKPT_STR(f)          CKPT_ATTR(f, CKPT_A_STR, sizeof(((PofCkptMeta *)0)->f), 0)
#define CKPT_OPT(f, kind, n) CKPT_ATTR(f, kind, n, 1)

static const CkptAttr ckpt_attrs[] = {
  CKPT_INT(depth),
  CKPT_INT(width),
  CKPT_INT(base),
  CKPT_INT(in_c),
  CKPT_INT(in_h),
  CKPT_INT(in_w),
  CKPT_INT(classes),
  CKPT_STR(dataset),
  CKPT_INT(n_params),
  CKPT_INT(n_feature),
  CKPT_INT(n_bn_state),
  CKPT_STR(kind),
  CKPT_INT(epochs_done),
  CKPT_INT(step_in_epoch),
  CKPT_INT(global_step),
  CKPT_INT(seed),
  CKPT_INT(ranks),
  CKPT_REAL(lr_base),
  CKPT_REAL(lr_factor),
  CKPT_INT(schedule),
  CKPT_ATTR(milestones, CKPT_A_INT, POF_MAX_MILESTONES, 0),
  CKPT_INT(nmilestones),
  CKPT_INT(warmup_epochs),
  CKPT_INT(schedule_epochs),
  CKPT_INT(run_start_epoch),
  CKPT_INT(have_momentum),
  CKPT_INT(have_theta0),
  CKPT_STR(options_json),
  CKPT_OPT(post_lr, CKPT_A_REAL, 1),
  CKPT_OPT(acc_loss, CKPT_A_REAL, 1),
  CKPT_OPT(acc_wrong, CKPT_A_INT, 1),
  CKPT_OPT(acc_seen, CKPT_A_INT, 1),
  CKPT_OPT(acc_capped, CKPT_A_INT, 1),
  CKPT_OPT(acc_rejected, CKPT_A_INT, 1),
  CKPT_OPT(acc_stat_s, CKPT_A_REAL, POF_CKPT_MAX_STATS),
  CKPT_OPT(acc_stat_s2, CKPT_A_REAL, POF_CKPT_MAX_STATS),
  CKPT_OPT(acc_stat_n, CKPT_A_INT, POF_CKPT_MAX_STATS),
};
#define CKPT_NATTRS ((int)(sizeof(ckpt_attrs) / sizeof(ckpt_attrs[0])))

/* The four datasets, in file order of their checksum attributes. */
enum { CKPT_D_PARAMS, CKPT_D_MOMENTUM, CKPT_D_RUNNING, CKPT_D_THETA0, CKPT_ND };
static const char *const ckpt_dset_names[CKPT_ND] = { "params", "momentum", "bn_running",
                                                      "theta0" };
static const char *const ckpt_crc_names[CKPT_ND]  = { "crc32_params", "crc32_momentum",
                                                      "crc32_bn_running", "crc32_theta0" };

/* What the file holds besides PofCkptMeta. */
typedef struct {
  PetscInt n_theta0;
  uLong    crc[CKPT_ND];
} CkptExtra;

/* Verdict of rank 0 on a file, broadcast to every rank as plain bytes. */
typedef struct {
  int            ok;
  PetscErrorCode code;
  char           reason[CKPT_MSG_LEN];
  PofCkptMeta    meta;
  CkptExtra      extra;
} CkptProbe;

/* ------------------------------------------------------------------ MPI agreement helpers */

static uLong ckpt_crc(const void *buf, size_t nbytes)
{
  uLong c = crc32_z(0L, Z_NULL, 0);
  return nbytes ? crc32_z(c, (const Bytef *)buf, nbytes) : c;
}

/* CRC-32 of the concatenation, in rank order, of every rank's `nbytes` at buf. Collective. */
static PetscErrorCode ckpt_crc_global(MPI_Comm comm, const void *buf, size_t nbytes, uLong *crc)
{
  PetscMPIInt size;
  uint64_t    mine[2], *all;
  uLong       c = crc32_z(0L, Z_NULL, 0);
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  mine[0] = ckpt_crc(buf, nbytes);
  mine[1] = nbytes;
  PetscCall(PetscMalloc1(2 * (size_t)size, &all));
  PetscCall(pof_comm_allgather_u64(comm, mine, 2, all));
  for (PetscMPIInt r = 0; r < size; r++)
    c = crc32_combine(c, (uLong)all[2 * (size_t)r], (z_off_t)all[2 * (size_t)r + 1]);
  PetscCall(PetscFree(all));
  *crc = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ HDF5 error helpers */

typedef struct {
  H5E_auto2_t func;
  void       *data;
} CkptQuiet;

/* Stop HDF5 from printing its error stack (we report the problem ourselves). */
static PetscErrorCode ckpt_quiet_begin(CkptQuiet *q)
{
  PetscFunctionBegin;
  q->func = NULL;
  q->data = NULL;
  PofCallH5(H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data));
  PofCallH5(H5Eset_auto2(H5E_DEFAULT, NULL, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void ckpt_quiet_end(const CkptQuiet *q)
{
  (void)H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct {
  char  *buf;
  size_t len;
} CkptH5Msg;

static herr_t ckpt_h5_walk(unsigned n, const H5E_error2_t *e, void *ctx)
{
  CkptH5Msg *m = (CkptH5Msg *)ctx;
  if (n == 0 && e && e->desc) snprintf(m->buf, m->len, "%s", e->desc);
  return 0;
}

/* The most specific message on HDF5's error stack (e.g. "truncated file: eof = ..."), then clear
 * it. */
static void ckpt_h5_error(char *buf, size_t len)
{
  CkptH5Msg m = { buf, len };
  snprintf(buf, len, "no HDF5 error message");
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, ckpt_h5_walk, &m);
  (void)H5Eclear2(H5E_DEFAULT);
}

/* The name HDF5 opens for `path`: path itself, or for a registered image a name that exists on no
   disk (the core driver refuses to open an image under the name of an existing file). */
static const char *ckpt_open_name(const char *path, char *buf, size_t len)
{
  const void *img;
  size_t      img_len;
  pof_file_image_lookup(path, &img, &img_len);
  if (!img) return path;
  snprintf(buf, len, "pof-file-image:%s", path);
  return buf;
}

/* File-access list: the core driver on the registered image of `path` (pof/image.h) if any, else
   MPI-IO on comm (or the default serial driver for comm == MPI_COMM_NULL), no file locking (=
   HDF5_USE_FILE_LOCKING=FALSE), collective metadata. */
static PetscErrorCode ckpt_fapl(MPI_Comm comm, const char *path, hid_t *fapl)
{
  const void *img;
  size_t      img_len;
  PetscFunctionBegin;
  pof_file_image_lookup(path, &img, &img_len);
  PofCallH5Id(*fapl, H5Pcreate(H5P_FILE_ACCESS));
  PofCallH5(H5Pset_file_locking(*fapl, 0, 1));
  if (img) { /* a registered in-memory image (pof sweep): every rank reads its own copy */
    PofCallH5(H5Pset_fapl_core(*fapl, (size_t)1 << 20, 0));
    PofCallH5(H5Pset_file_image(*fapl, (void *)img, img_len));
    PofCallH5(H5Pset_fclose_degree(*fapl, H5F_CLOSE_STRONG));
  } else if (comm != MPI_COMM_NULL) {
    PofCallH5(H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL));
    PofCallH5(H5Pset_all_coll_metadata_ops(*fapl, 1));
    PofCallH5(H5Pset_coll_metadata_write(*fapl, 1));
    PofCallH5(H5Pset_fclose_degree(*fapl, H5F_CLOSE_STRONG)); /* a failed write's open objects */
  } else {
    PofCallH5(H5Pset_fclose_degree(
        *fapl, H5F_CLOSE_STRONG)); /* closing the file closes what is open in it */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ attributes */

static PetscErrorCode ckpt_attr_write(hid_t fid, const char *name, CkptAttrKind kind,
                                      const void *data, size_t count)
{
  hid_t   space, type = -1, a;
  hsize_t dims[1] = { count };
  PetscFunctionBegin;
  if (kind == CKPT_A_STR) {
    PofCallH5Id(space, H5Screate(H5S_SCALAR));
    PofCallH5Id(type, H5Tcopy(H5T_C_S1));
    PofCallH5(H5Tset_size(type, strlen((const char *)data) + 1));
    PofCallH5(H5Tset_strpad(type, H5T_STR_NULLTERM));
    PofCallH5Id(a, H5Acreate2(fid, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
    PofCallH5(H5Awrite(a, type, data));
    PofCallH5(H5Tclose(type));
  } else {
    const hid_t ftype = kind == CKPT_A_INT ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    const hid_t mtype = kind == CKPT_A_INT ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    if (count == 1)
      PofCallH5Id(space, H5Screate(H5S_SCALAR));
    else
      PofCallH5Id(space, H5Screate_simple(1, dims, NULL));
    PofCallH5Id(a, H5Acreate2(fid, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
    PofCallH5(H5Awrite(a, mtype, data));
  }
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_attr_write_int(hid_t fid, const char *name, int64_t v)
{
  PetscFunctionBegin;
  PetscCall(ckpt_attr_write(fid, name, CKPT_A_INT, &v, 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read attribute `name` of the probed file `path` (serial, errors are reasons: PETSC_COMM_SELF).
   INT: count int64_t; REAL: count doubles; STR: a NUL-terminated string in count bytes. */
static PetscErrorCode ckpt_attr_read(hid_t fid, const char *path, const char *name,
                                     CkptAttrKind kind, void *out, size_t count)
{
  static const char *const what[] = { "integer", "real", "string" };
  htri_t                   exists;
  hid_t                    a, space, type;
  hssize_t                 npoints;
  H5T_class_t              cls;
  size_t                   size = 0;
  htri_t                   vlen = 0;
  PetscFunctionBegin;
  PofCallH5Id(exists, H5Aexists(fid, name));
  PetscCheck(exists > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s lacks the attribute '%s'", path, name);
  PofCallH5Id(a, H5Aopen(fid, name, H5P_DEFAULT));
  PofCallH5Id(space, H5Aget_space(a));
  npoints = H5Sget_simple_extent_npoints(space);
  PofCallH5(H5Sclose(space));
  PofCallH5Id(type, H5Aget_type(a));
  cls = H5Tget_class(type);
  if (cls == H5T_STRING) {
    size = H5Tget_size(type);
    vlen = H5Tis_variable_str(type);
  }
  PofCallH5(H5Tclose(type));
  if (kind == CKPT_A_STR) {
    PetscCheck(cls == H5T_STRING && npoints == 1 && vlen == 0 && size >= 1, PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: attribute '%s' is not a fixed-length string", path, name);
    PetscCheck(size <= count, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: attribute '%s' has %zu bytes, more than the %zu pof keeps", path,
               name, size, count);
    PofCallH5Id(type, H5Tcopy(H5T_C_S1));
    /* one byte more than the file's type where the buffer has it: a NUL-padded string that
       fills its size keeps its last character when converted to a NUL-terminated one */
    PofCallH5(H5Tset_size(type, size < count ? size + 1 : size));
    PofCallH5(H5Tset_strpad(type, H5T_STR_NULLTERM));
    memset(out, 0, count);
    PofCallH5(H5Aread(a, type, out));
    PofCallH5(H5Tclose(type));
    ((char *)out)[size < count ? size : count - 1] = '\0';
  } else {
    const H5T_class_t want = kind == CKPT_A_INT ? H5T_INTEGER : H5T_FLOAT;
    PetscCheck(
        cls == want && npoints == (hssize_t)count, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
        "checkpoint %s: attribute '%s' should hold %zu %s value(s)", path, name, count, what[kind]);
    PofCallH5(H5Aread(a, kind == CKPT_A_INT ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, out));
  }
  PofCallH5(H5Aclose(a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_attr_read_petscint(hid_t fid, const char *path, const char *name,
                                              PetscInt *v, size_t count)
{
  int64_t buf[POF_MAX_MILESTONES];
  PetscFunctionBegin;
  PetscCheck(count <= POF_MAX_MILESTONES, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "attribute '%s': %zu values", name, count);
  PetscCall(ckpt_attr_read(fid, path, name, CKPT_A_INT, buf, count));
  for (size_t i = 0; i < count; i++) {
    PetscCheck(buf[i] >= PETSC_MIN_INT && buf[i] <= PETSC_MAX_INT, PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED, "checkpoint %s: attribute '%s' = %lld is out of range",
               path, name, (long long)buf[i]);
    v[i] = (PetscInt)buf[i];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ probing a file (rank 0,
 * serial) */

static PetscErrorCode ckpt_record_handler(MPI_Comm comm, int line, const char *func,
                                          const char *file, PetscErrorCode n, PetscErrorType p,
                                          const char *mess, void *ctx)
{
  CkptProbe *res = (CkptProbe *)ctx;
  (void)comm;
  (void)line;
  (void)func;
  (void)file;
  if (p == PETSC_ERROR_INITIAL) {
    snprintf(res->reason, sizeof(res->reason), "%s", mess && *mess ? mess : "unknown error");
    res->code = n;
  }
  return n;
}

/* Does the file carry the HDF5 signature at offset 0, 512, 1024, ... (after a user block)? */
static PetscErrorCode ckpt_has_h5_signature(const char *path, off_t size, PetscBool *yes)
{
  static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
  unsigned char              buf[8];
  FILE                      *f = fopen(path, "rb");
  PetscFunctionBegin;
  *yes = PETSC_FALSE;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open checkpoint %s: %s", path,
             strerror(errno));
  for (off_t off = 0; off + 8 <= size && !*yes; off = off ? 2 * off : 512) {
    if (fseeko(f, off, SEEK_SET) != 0 || fread(buf, 1, 8, f) != 8) break;
    if (!memcmp(buf, sig, 8)) *yes = PETSC_TRUE;
  }
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Dataset /name must exist as a 1-D float array of `elsize`-byte values and length n. */
static PetscErrorCode ckpt_check_dataset(hid_t fid, const char *path, const char *name,
                                         size_t elsize, PetscInt n, const char *nname)
{
  htri_t      exists;
  hid_t       d, type, space;
  H5T_class_t cls;
  size_t      size;
  int         ndims;
  hsize_t     dims[1] = { 0 }, stored;
  PetscFunctionBegin;
  PofCallH5Id(exists, H5Lexists(fid, name, H5P_DEFAULT));
  PetscCheck(exists > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s has no dataset /%s", path, name);
  PofCallH5Id(d, H5Dopen2(fid, name, H5P_DEFAULT));
  PofCallH5Id(type, H5Dget_type(d));
  cls  = H5Tget_class(type);
  size = H5Tget_size(type);
  PofCallH5(H5Tclose(type));
  PofCallH5Id(space, H5Dget_space(d));
  ndims = H5Sget_simple_extent_ndims(space);
  if (ndims == 1) PofCallH5(H5Sget_simple_extent_dims(space, dims, NULL));
  PofCallH5(H5Sclose(space));
  stored = pof_h5_max_data_bytes(d); /* 0 for data never written */
  PofCallH5(H5Dclose(d));
  PetscCheck(cls == H5T_FLOAT && size == elsize, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: dataset /%s should hold %s values", path, name,
             elsize == 8 ? "double" : "float");
  PetscCheck(ndims == 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: dataset /%s has %d dimensions, expected 1", path, name, ndims);
  PetscCheck(dims[0] == (hsize_t)n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: dataset /%s has %llu values, but %s = %" PetscInt_FMT, path, name,
             (unsigned long long)dims[0], nname, n);
  /* the file must hold the data: a few bytes may declare a dataset of any length, which the
     readers would otherwise allocate and read as fill values (found by fuzzing, tests/fuzz) */
  PetscCheck(stored >= (hsize_t)n * elsize, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: dataset /%s holds at most %llu bytes, but its %" PetscInt_FMT
             " values need %llu (truncated or never written)",
             path, name, (unsigned long long)stored, n, (unsigned long long)((hsize_t)n * elsize));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The file exists, is a regular non-empty file (or a registered image) with the HDF5 signature,
   and HDF5 opens it (serial driver): *fapl and *fid are set. */
static PetscErrorCode ckpt_probe_open(const char *path, hid_t *fapl, hid_t *fid)
{
  struct stat st;
  PetscBool   sig;
  char        h5msg[CKPT_H5_LEN];
  const void *img;
  size_t      img_len;
  char        oname[POF_PATH_MAX + 32];
  PetscFunctionBegin;
  pof_file_image_lookup(path, &img, &img_len);
  if (img) { /* registered in-memory image: no file to stat */
    static const unsigned char h5sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
    PetscCheck(img_len >= 8 && !memcmp(img, h5sig, 8), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s (in-memory image, %zu bytes) is not an HDF5 file", path, img_len);
    st.st_size = (off_t)img_len;
  } else if (stat(path, &st) != 0) {
    PetscCheck(errno != ENOENT, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN,
               "checkpoint %s does not exist", path);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot access checkpoint %s: %s", path,
            strerror(errno));
  }
  if (!img) {
    PetscCheck(S_ISREG(st.st_mode), PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN,
               "checkpoint %s is not a regular file", path);
    PetscCheck(st.st_size > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s is empty (0 bytes)", path);
    PetscCall(ckpt_has_h5_signature(path, st.st_size, &sig));
  } else
    sig = PETSC_TRUE;
  PetscCheck(sig, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s is not an HDF5 file (%lld bytes, no HDF5 signature)", path,
             (long long)st.st_size);

  PetscCall(ckpt_fapl(MPI_COMM_NULL, path, fapl));
  pof_h5_file_set(path);
  *fid = H5Fopen(ckpt_open_name(path, oname, sizeof(oname)), H5F_ACC_RDONLY, *fapl);
  if (*fid < 0) {
    ckpt_h5_error(h5msg, sizeof(h5msg));
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
            "checkpoint %s is truncated or damaged: HDF5 cannot open it (%s; %lld bytes)", path,
            h5msg, (long long)st.st_size);
  }

  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The largest values a checkpoint may hold where the options have no upper bound: nothing larger
   is trained, and these keep every size computed from the fields inside 64-bit arithmetic. */
#define CKPT_MAX_DEPTH  1000
#define CKPT_MAX_EPOCHS 100000000

/* Every field read must be plausible (ranges, sizes that agree), naming the field. */
static PetscErrorCode ckpt_probe_plausible(const char *path, const CkptProbe *res)
{
  const PofCkptMeta *m = &res->meta;
  const struct {
    const char *name;
    PetscInt    v, lo, hi;
  } f[] = {
    { "depth", m->depth, 10, CKPT_MAX_DEPTH },
    { "width", m->width, 1, 64 },
    { "base", m->base, 1, 256 },
    { "in_c", m->in_c, 1, 16 },
    { "in_h", m->in_h, 1, 65536 },
    { "in_w", m->in_w, 1, 65536 },
    { "classes", m->classes, 2, 100000 },
    { "n_params", m->n_params, 1, PETSC_MAX_INT },
    { "n_feature", m->n_feature, 1,
      m->n_params > 1 ? m->n_params - 1 : 0 }, /* no overflow at INT_MIN */
    { "n_bn_state", m->n_bn_state, 0, PETSC_MAX_INT },
    { "epochs_done", m->epochs_done, 0, CKPT_MAX_EPOCHS },
    { "run_start_epoch", m->run_start_epoch, 0, m->epochs_done },
    { "step_in_epoch", m->step_in_epoch, 0, PETSC_MAX_INT },
    { "global_step", m->global_step, 0, PETSC_MAX_INT },
    { "seed", m->seed, 0, PETSC_MAX_INT },
    { "ranks", m->ranks, 0, PETSC_MAX_INT },
    { "schedule", m->schedule, POF_SCHED_STEP, POF_SCHED_CONST },
    { "nmilestones", m->nmilestones, 0, POF_MAX_MILESTONES },
    { "warmup_epochs", m->warmup_epochs, 0, CKPT_MAX_EPOCHS },
    { "schedule_epochs", m->schedule_epochs, 0, CKPT_MAX_EPOCHS },
    { "have_momentum", m->have_momentum, 0, 1 },
    { "have_theta0", m->have_theta0, 0, 1 },
    { "acc_seen", m->acc_seen, 0, PETSC_MAX_INT },
    { "acc_wrong", m->acc_wrong, 0, m->acc_seen },
    { "acc_capped", m->acc_capped, 0, PETSC_MAX_INT },
    { "acc_rejected", m->acc_rejected, 0, PETSC_MAX_INT },
  };
  const struct {
    const char *name;
    double      v;
  } r[] = { { "lr_base", m->lr_base },
            { "lr_factor", m->lr_factor },
            { "post_lr", m->post_lr },
            { "acc_loss", m->acc_loss } };
  PetscFunctionBegin;
  PetscCheck(!strcmp(m->kind, "pretrain") || !strcmp(m->kind, "posttrain"), PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: kind '%s' is neither 'pretrain' nor 'posttrain'", path, m->kind);
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    PetscCheck(f[i].v >= f[i].lo && f[i].v <= f[i].hi, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: field '%s' = %" PetscInt_FMT " is out of range [%" PetscInt_FMT
               ", %" PetscInt_FMT "]",
               path, f[i].name, f[i].v, f[i].lo, f[i].hi);
  PetscCheck((m->depth - 4) % 6 == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s: field 'depth' = %" PetscInt_FMT " is not 6n+4", path, m->depth);
  for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
    char v[32]; /* C's formatting: PETSc's %g prints "nan." */
    if (isfinite(r[i].v) && r[i].v >= 0) continue;
    snprintf(v, sizeof(v), "%g", r[i].v);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
            "checkpoint %s: field '%s' = %s is not a finite value >= 0", path, r[i].name, v);
  }
  for (PetscInt i = 0; i < m->nmilestones; i++)
    PetscCheck(m->milestones[i] >= 0 && m->milestones[i] <= CKPT_MAX_EPOCHS, PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: field 'milestones' entry %" PetscInt_FMT " = %" PetscInt_FMT
               " is out of range",
               path, i, m->milestones[i]);
  for (int i = 0; i < POF_CKPT_MAX_STATS; i++)
    PetscCheck(isfinite(m->acc_stat_s[i]) && isfinite(m->acc_stat_s2[i]) &&
                   m->acc_stat_s2[i] >= 0 && m->acc_stat_n[i] >= 0,
               PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: fields 'acc_stat_s', 'acc_stat_s2', 'acc_stat_n' entry %d = %g, "
               "%g, %" PetscInt_FMT " are not finite sums and a count >= 0",
               path, i, m->acc_stat_s[i], m->acc_stat_s2[i], m->acc_stat_n[i]);
  if (m->have_theta0)
    PetscCheck(res->extra.n_theta0 == m->n_params - m->n_feature, PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s: n_theta0 = %" PetscInt_FMT
               " but the classifier has n_params - n_feature = %" PetscInt_FMT " values",
               path, res->extra.n_theta0, m->n_params - m->n_feature);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_probe_body(const char *path, CkptProbe *res, hid_t *fapl, hid_t *fid)
{
  PofCkptMeta *m       = &res->meta;
  PetscInt     version = 0, complete = 0;
  int64_t      crc;
  PetscFunctionBegin;
  PetscCall(ckpt_probe_open(path, fapl, fid));

  {
    htri_t has;
    PofCallH5Id(has, H5Aexists(*fid, "format_version"));
    PetscCheck(has > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "%s is not a pof checkpoint (no 'format_version' attribute)", path);
    /* a writer sets the model attributes first, so even an interrupted checkpoint has them */
    PofCallH5Id(has, H5Aexists(*fid, "n_params"));
    if (has <= 0) {
      htri_t data;
      PofCallH5Id(data, H5Aexists(*fid, "source_format"));
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
              "%s is not a pof model or checkpoint (no 'n_params' attribute)%s", path,
              data > 0 ? ": it is a dataset written by pof convert" : "");
    }
  }
  PetscCall(ckpt_attr_read_petscint(*fid, path, "format_version", &version, 1));
  PetscCheck(version == POF_CKPT_FORMAT_VERSION, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "checkpoint %s has format version %" PetscInt_FMT ", this pof reads version %d", path,
             version, POF_CKPT_FORMAT_VERSION);
  {
    htri_t has;
    PofCallH5Id(has, H5Aexists(*fid, "complete"));
    if (has > 0) PetscCall(ckpt_attr_read_petscint(*fid, path, "complete", &complete, 1));
    PetscCheck(complete == 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s is incomplete (no 'complete' mark): its writer was interrupted",
               path);
  }

  for (int i = 0; i < CKPT_NATTRS; i++) {
    const CkptAttr *at    = &ckpt_attrs[i];
    char           *field = (char *)m + at->offset;
    if (at->optional) {
      htri_t has;
      PofCallH5Id(has, H5Aexists(*fid, at->name));
      if (has <= 0) continue; /* res is zeroed: the field reads as 0 */
    }
    if (at->kind == CKPT_A_INT)
      PetscCall(
          ckpt_attr_read_petscint(*fid, path, at->name, (PetscInt *)(void *)field, at->count));
    else
      PetscCall(ckpt_attr_read(*fid, path, at->name, at->kind, field, at->count));
  }
  PetscCall(ckpt_attr_read_petscint(*fid, path, "n_theta0", &res->extra.n_theta0, 1));
  for (int k = 0; k < CKPT_ND; k++) {
    PetscCall(ckpt_attr_read(*fid, path, ckpt_crc_names[k], CKPT_A_INT, &crc, 1));
    res->extra.crc[k] = (uLong)crc;
  }

  PetscCall(ckpt_probe_plausible(path, res));
  PetscCall(ckpt_check_dataset(*fid, path, "params", 8, m->n_params, "n_params"));
  if (m->have_momentum)
    PetscCall(ckpt_check_dataset(*fid, path, "momentum", 8, m->n_params, "n_params"));
  PetscCall(ckpt_check_dataset(*fid, path, "bn_running", 4, m->n_bn_state, "n_bn_state"));
  if (m->have_theta0)
    PetscCall(ckpt_check_dataset(*fid, path, "theta0", 8, res->extra.n_theta0, "n_theta0"));

  PofCallH5(H5Fclose(*fid));
  *fid = -1;
  PofCallH5(H5Pclose(*fapl));
  *fapl = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Probe `path` on this process alone: res->ok, or res->reason/code. Errors go into res, not up. */
static PetscErrorCode ckpt_probe(const char *path, CkptProbe *res)
{
  CkptQuiet      q;
  hid_t          fapl = -1, fid = -1;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  memset(res, 0, sizeof(*res));
  PetscCall(ckpt_quiet_begin(&q));
  PetscCall(PetscPushErrorHandler(ckpt_record_handler, res));
  ierr = ckpt_probe_body(path, res, &fapl, &fid);
  PetscCall(PetscPopErrorHandler());
  if (fid >= 0)
    (void)H5Fclose(fid); /* strong close degree: also closes what the failed probe left open */
  if (fapl >= 0) (void)H5Pclose(fapl);
  (void)H5Eclear2(H5E_DEFAULT);
  ckpt_quiet_end(&q);
  res->ok = (ierr == PETSC_SUCCESS);
  if (res->ok) {
    res->reason[0] = '\0';
    res->code      = 0;
  } else if (!res->code)
    res->code = ierr;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_xfer(hid_t d, hid_t memtype, size_t elsize, PetscBool write, PetscInt lo,
                                PetscInt hi, PetscInt npieces, void *buf);

/* Read every dataset the probed file holds (res->ok) with the serial driver and compare its
   CRC-32 with the stored one; errors name the file and the dataset. Local (rank 0 of a search). */
static PetscErrorCode ckpt_verify_body(const char *path, CkptProbe *res, hid_t *fapl, hid_t *fid,
                                       void **buf)
{
  const PofCkptMeta *m          = &res->meta;
  const PetscInt     n[CKPT_ND] = { m->n_params, m->have_momentum ? m->n_params : 0, m->n_bn_state,
                                m->have_theta0 ? res->extra.n_theta0 : 0 };
  const size_t   elsz[CKPT_ND]  = { sizeof(double), sizeof(double), sizeof(float), sizeof(double) };
  const PetscInt piece          = PetscMin(ckpt_io_chunk, (PetscInt)1 << 20);
  char           oname[POF_PATH_MAX + 32];
  PetscFunctionBegin;
  PetscCall(ckpt_fapl(MPI_COMM_NULL, path, fapl));
  pof_h5_file_set(path);
  PofCallH5Id(*fid, H5Fopen(ckpt_open_name(path, oname, sizeof(oname)), H5F_ACC_RDONLY, *fapl));
  PetscCall(PetscMalloc(sizeof(double) * (size_t)piece, buf));
  for (int k = 0; k < CKPT_ND; k++) {
    uLong c = crc32_z(0L, Z_NULL, 0);
    hid_t d;
    if (k != CKPT_D_PARAMS && k != CKPT_D_RUNNING && n[k] == 0) continue;
    PofCallH5Id(d, H5Dopen2(*fid, ckpt_dset_names[k], H5P_DEFAULT));
    for (PetscInt a = 0; a < n[k]; a += piece) {
      const PetscInt b = PetscMin(n[k], a + piece);
      PetscCall(ckpt_xfer(d, elsz[k] == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE,
                          elsz[k], PETSC_FALSE, a, b, 1, *buf));
      c = crc32_z(c, (const Bytef *)*buf, (size_t)(b - a) * elsz[k]);
    }
    PofCallH5(H5Dclose(d));
    PetscCheck(c == res->extra.crc[k], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s is corrupt: the data of /%s do not match their checksum (stored "
               "%08lx, read %08lx)",
               path, ckpt_dset_names[k], res->extra.crc[k], c);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ckpt_probe, then (if the metadata hold) the checksums of all data. Errors go into res. Local. */
static PetscErrorCode ckpt_probe_verified(const char *path, CkptProbe *res)
{
  CkptQuiet      q;
  hid_t          fapl = -1, fid = -1;
  void          *buf = NULL;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCall(ckpt_probe(path, res));
  if (!res->ok) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(ckpt_quiet_begin(&q));
  PetscCall(PetscPushErrorHandler(ckpt_record_handler, res));
  ierr = ckpt_verify_body(path, res, &fapl, &fid, &buf);
  PetscCall(PetscPopErrorHandler());
  if (fid >= 0) (void)H5Fclose(fid);
  if (fapl >= 0) (void)H5Pclose(fapl);
  PetscCall(PetscFree(buf));
  (void)H5Eclear2(H5E_DEFAULT);
  ckpt_quiet_end(&q);
  if (ierr) {
    res->ok = 0;
    if (!res->code) res->code = ierr;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 probes, every rank gets the verdict. Collective. */
static PetscErrorCode ckpt_probe_collective(MPI_Comm comm, const char *path, CkptProbe *res)
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) PetscCall(ckpt_probe(path, res));
  PetscCall(pof_comm_bcast_bytes(comm, res, sizeof(*res), 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ bulk data */

/* Number of pieces every rank loops over for ownership `ranges` (size+1 entries). */
static PetscInt ckpt_npieces(const PetscInt *ranges, PetscMPIInt size)
{
  int64_t most = 0;
  for (PetscMPIInt r = 0; r < size; r++) {
    const int64_t own = (int64_t)ranges[r + 1] - ranges[r];
    const int64_t k   = (own + ckpt_io_chunk - 1) / ckpt_io_chunk;
    if (k > most) most = k;
  }
  return (PetscInt)most;
}

/* Collective transfer of this rank's elements [lo, hi) of dataset d to/from buf, in npieces
   calls (the same count on every rank; a rank with nothing left selects none). */
static PetscErrorCode ckpt_xfer(hid_t d, hid_t memtype, size_t elsize, PetscBool write, PetscInt lo,
                                PetscInt hi, PetscInt npieces, void *buf)
{
  static double dummy;
  hid_t         fspace, mspace, dxpl;
  PetscFunctionBegin;
  PofCallH5Id(fspace, H5Dget_space(d));
  PofCallH5Id(dxpl, H5Pcreate(H5P_DATASET_XFER));
  {
    /* collective transfers on MPI-IO files; an in-memory image (core driver) is read independently
     */
    hid_t fid, fapl, drv;
    PofCallH5Id(fid, H5Iget_file_id(d));
    PofCallH5Id(fapl, H5Fget_access_plist(fid));
    drv = H5Pget_driver(fapl);
    PofCallH5(H5Pclose(fapl));
    PofCallH5(H5Fclose(fid));
    if (drv == H5FD_MPIO) PofCallH5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  }
  for (PetscInt k = 0; k < npieces; k++) {
    const int64_t a = (int64_t)lo + (int64_t)k * ckpt_io_chunk;
    const int64_t b = a + ckpt_io_chunk < (int64_t)hi ? a + ckpt_io_chunk : (int64_t)hi;
    void         *ptr;
    if (a < b) {
      hsize_t start[1] = { (hsize_t)a }, count[1] = { (hsize_t)(b - a) };
      PofCallH5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
      PofCallH5Id(mspace, H5Screate_simple(1, count, NULL));
      ptr = (char *)buf + (size_t)(a - lo) * elsize;
    } else {
      hsize_t one[1] = { 1 };
      PofCallH5(H5Sselect_none(fspace));
      PofCallH5Id(mspace, H5Screate_simple(1, one, NULL));
      PofCallH5(H5Sselect_none(mspace));
      ptr = &dummy;
    }
    if (write)
      PofCallH5(H5Dwrite(d, memtype, mspace, fspace, dxpl, ptr));
    else
      PofCallH5(H5Dread(d, memtype, mspace, fspace, dxpl, ptr));
    PofCallH5(H5Sclose(mspace));
    pof_phase_beat(); /* a chunk moved: progress for the -run_step_timeout watchdog */
  }
  PofCallH5(H5Pclose(dxpl));
  PofCallH5(H5Sclose(fspace));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_dset_create(hid_t fid, const char *name, hid_t ftype, PetscInt n,
                                       hid_t *d)
{
  hid_t   space, dcpl;
  hsize_t dims[1] = { (hsize_t)n };
  PetscFunctionBegin;
  PofCallH5Id(space, H5Screate_simple(1, dims, NULL));
  PofCallH5Id(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  PofCallH5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  PofCallH5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  PofCallH5Id(*d, H5Dcreate2(fid, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  PofCallH5(H5Pclose(dcpl));
  PofCallH5(H5Sclose(space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write Vec v (global size n) as /name, one hyperslab per rank. */
static PetscErrorCode ckpt_write_vec(MPI_Comm comm, hid_t fid, const char *name, Vec v)
{
  hid_t              d;
  PetscInt           n, lo, hi;
  const PetscInt    *ranges;
  const PetscScalar *a;
  PetscMPIInt        size;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(VecGetSize(v, &n));
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetOwnershipRanges(v, &ranges));
  PetscCall(ckpt_dset_create(fid, name, H5T_IEEE_F64LE, n, &d));
  PetscCall(VecGetArrayRead(v, &a));
  PetscCall(ckpt_xfer(d, H5T_NATIVE_DOUBLE, sizeof(double), PETSC_TRUE, lo, hi,
                      ckpt_npieces(ranges, size), (void *)a));
  PetscCall(VecRestoreArrayRead(v, &a));
  PofCallH5(H5Dclose(d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* *crc = CRC-32 of the whole Vec v (its slices in rank order). Collective. */
static PetscErrorCode ckpt_crc_vec(MPI_Comm comm, Vec v, uLong *crc)
{
  PetscInt           lo, hi;
  const PetscScalar *a;
  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayRead(v, &a));
  PetscCall(ckpt_crc_global(comm, a, (size_t)(hi - lo) * sizeof(double), crc));
  PetscCall(VecRestoreArrayRead(v, &a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write an array identical on every rank as /name: rank 0 selects all, the others none. */
static PetscErrorCode ckpt_write_replicated(MPI_Comm comm, hid_t fid, const char *name, hid_t ftype,
                                            hid_t mtype, size_t elsize, PetscInt n, const void *buf)
{
  hid_t       d;
  PetscMPIInt rank;
  PetscInt    ranges[2] = { 0, n };
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(ckpt_dset_create(fid, name, ftype, n, &d));
  PetscCall(ckpt_xfer(d, mtype, elsize, PETSC_TRUE, 0, rank == 0 ? n : 0, ckpt_npieces(ranges, 1),
                      (void *)buf));
  PofCallH5(H5Dclose(d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ write */

typedef struct {
  hid_t        fapl, fid;
  PetscBool    tmp_made;
  PetscBool    agreed; /* the failure was agreed by every rank (they may close the file together) */
  char         tmp[POF_PATH_MAX];
  char         why[CKPT_MSG_LEN]; /* this rank's first error message inside a stage */
  PofCkptMeta *meta;              /* copy with the derived fields */
} CkptWriteCtx;

static double ckpt_verify_secs = 0; /* pof_ckpt_last_verify_seconds */

/* Records the first message of an error inside a stage of the write (CkptWriteCtx.why). */
static PetscErrorCode ckpt_stage_handler(MPI_Comm comm, int line, const char *func,
                                         const char *file, PetscErrorCode n, PetscErrorType p,
                                         const char *mess, void *ctx)
{
  CkptWriteCtx *w = (CkptWriteCtx *)ctx;
  (void)comm, (void)line, (void)func, (void)file;
  if (p == PETSC_ERROR_INITIAL && !w->why[0])
    snprintf(w->why, sizeof(w->why), "%s", mess && *mess ? mess : "unknown error");
  return n;
}

/* Free space of the file system holding `path`, as text ("12.3 MB free"), for failure messages. */
static void ckpt_free_text(const char *path, char *buf, size_t len)
{
  struct statvfs st;
  char           dir[POF_PATH_MAX];
  const char    *slash = strrchr(path, '/');
  snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
  if (statvfs(dir[0] ? dir : "/", &st) == 0)
    snprintf(buf, len, "%.1f MB free on the file system of %s",
             (double)st.f_bavail * (double)st.f_frsize / 1e6, dir[0] ? dir : "/");
  else
    snprintf(buf, len, "free space of %s unknown", dir);
}

/* The end of one stage of the write, on every rank: ierr is this rank's outcome of the stage
   (or an injected failure, pof_fault_point). If any rank failed, every rank returns the same
   storage error (POF_ERR_STORAGE) naming the checkpoint, the stage and the lowest failing rank's
   message; the caller then closes and removes the temporary file. Collective. */
static PetscErrorCode ckpt_agree(MPI_Comm comm, PetscErrorCode ierr, const char *path,
                                 const char *stage, CkptWriteCtx *w)
{
  PetscMPIInt rank;
  PetscBool   any, reached;
  int         code;
  char        msg[CKPT_MSG_LEN], fr[POF_PATH_MAX + 64];
  char        point[32];
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  snprintf(point, sizeof(point), "ckpt_%s", stage);
  if (!ierr && pof_fault_point(point)) {
    ierr = POF_ERR_STORAGE;
    snprintf(w->why, sizeof(w->why), "%s", "No space left on device (injected by POF_TEST_FAULT)");
  }
  /* a failed HDF5 transfer, flush or close is an I/O failure (its errno stays inside MPI-IO);
     the rename and the read-back say what they are (ckpt_commit, ckpt_verify_tmp) */
  if (ierr == POF_ERR_LIB) ierr = POF_ERR_STORAGE;
  snprintf(msg, sizeof(msg), "rank %d: %.1024s", (int)rank, w->why[0] ? w->why : "unknown error");
  PetscCall(pof_comm_agree_failure_bounded(comm, ierr ? PETSC_TRUE : PETSC_FALSE, (int)ierr, msg,
                                           sizeof(msg), &any, &code, &reached));
  if (!any && reached) PetscFunctionReturn(PETSC_SUCCESS);
  if (!reached) code = (int)ierr; /* not expected: every rank runs the same stages */
  w->agreed = reached;
  ckpt_free_text(path, fr, sizeof(fr));
  const PetscBool dset = (PetscBool)(!strcmp(stage, "data") || !strcmp(stage, "momentum") ||
                                     !strcmp(stage, "bn_running") || !strcmp(stage, "theta0"));
  SETERRQ(comm, code == (int)POF_ERR_STORAGE ? POF_ERR_STORAGE : PETSC_ERR_FILE_WRITE,
          "%scheckpoint %s not written (%s%s failed on %s; %s); its temporary file is removed and "
          "the earlier checkpoints are intact",
          code == (int)POF_ERR_STORAGE ? "storage failure: " : "", path,
          dset ? "writing /" : "stage ", !strcmp(stage, "data") ? "params" : stage, msg, fr);
}

/* Run one stage of the write (a call returning PetscErrorCode) on every rank, then agree. */
#define CKPT_STAGE(comm, path, name, w, call)                  \
  do {                                                         \
    PetscErrorCode e_;                                         \
    CkptQuiet      q_;                                         \
    PetscCall(ckpt_quiet_begin(&q_));                          \
    PetscCall(PetscPushErrorHandler(ckpt_stage_handler, (w))); \
    e_ = (call);                                               \
    PetscCall(PetscPopErrorHandler());                         \
    ckpt_quiet_end(&q_);                                       \
    PetscCall(ckpt_agree((comm), e_, (path), (name), (w)));    \
  } while (0)

static PetscErrorCode ckpt_check_vec(MPI_Comm comm, const char *path, Vec v, const char *what,
                                     PetscInt n)
{
  PetscInt    N;
  MPI_Comm    vcomm;
  PetscMPIInt cmp;
  PetscFunctionBegin;
  PetscCall(VecGetSize(v, &N));
  PetscCheck(N == n, comm, PETSC_ERR_ARG_SIZ,
             "checkpoint %s: the %s Vec has %" PetscInt_FMT
             " entries, but n_params = %" PetscInt_FMT,
             path, what, N, n);
  PetscCall(PetscObjectGetComm((PetscObject)v, &vcomm));
  PetscCallMPI(MPI_Comm_compare(comm, vcomm, &cmp));
  PetscCheck(cmp == MPI_IDENT || cmp == MPI_CONGRUENT, comm, PETSC_ERR_ARG_NOTSAMECOMM,
             "checkpoint %s: the %s Vec lives on another communicator", path, what);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The arguments of pof_ckpt_write, each with an error naming the value. Collective (no
 * communication). */
static PetscErrorCode ckpt_write_check_args(MPI_Comm comm, const char *path, size_t tmp_len,
                                            const PofCkptMeta *meta, Vec master, Vec momentum,
                                            const float *running, const double *theta0,
                                            PetscInt n_theta0)
{
  PetscFunctionBegin;
  PetscCheck(path && *path, comm, PETSC_ERR_ARG_NULL, "checkpoint: no path given");
  PetscCheck(strlen(path) + 48 < tmp_len, comm, PETSC_ERR_ARG_SIZ, "checkpoint path %s is too long",
             path);
  PetscCheck(meta && master, comm, PETSC_ERR_ARG_NULL,
             "checkpoint %s: meta and master are required", path);
  PetscCheck(memchr(meta->dataset, 0, sizeof(meta->dataset)) &&
                 memchr(meta->kind, 0, sizeof(meta->kind)) &&
                 memchr(meta->options_json, 0, sizeof(meta->options_json)),
             comm, PETSC_ERR_ARG_WRONG,
             "checkpoint %s: a string field of the metadata is not NUL-terminated", path);
  PetscCheck(!strcmp(meta->kind, "pretrain") || !strcmp(meta->kind, "posttrain"), comm,
             PETSC_ERR_ARG_WRONG, "checkpoint %s: kind must be 'pretrain' or 'posttrain', got '%s'",
             path, meta->kind);
  PetscCheck(meta->n_params > 0 && meta->n_bn_state >= 0 && meta->n_feature > 0 &&
                 meta->classes > 0,
             comm, PETSC_ERR_ARG_OUTOFRANGE,
             "checkpoint %s: implausible sizes n_params %" PetscInt_FMT
             ", n_bn_state %" PetscInt_FMT ", n_feature %" PetscInt_FMT ", classes %" PetscInt_FMT,
             path, meta->n_params, meta->n_bn_state, meta->n_feature, meta->classes);
  PetscCheck(meta->nmilestones >= 0 && meta->nmilestones <= POF_MAX_MILESTONES, comm,
             PETSC_ERR_ARG_OUTOFRANGE,
             "checkpoint %s: nmilestones = %" PetscInt_FMT " is out of range [0, %d]", path,
             meta->nmilestones, POF_MAX_MILESTONES);
  PetscCall(ckpt_check_vec(comm, path, master, "master", meta->n_params));
  if (momentum) PetscCall(ckpt_check_vec(comm, path, momentum, "momentum", meta->n_params));
  PetscCheck(running || meta->n_bn_state == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "checkpoint %s: running statistics missing", path);
  if (theta0)
    PetscCheck(n_theta0 == meta->n_params - meta->n_feature, comm, PETSC_ERR_ARG_SIZ,
               "checkpoint %s: theta0 has %" PetscInt_FMT
               " values, but the classifier has n_params - n_feature = %" PetscInt_FMT,
               path, n_theta0, meta->n_params - meta->n_feature);

  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The metadata attributes: the format, the writer, one per PofCkptMeta field, n_theta0. */
static PetscErrorCode ckpt_write_meta(hid_t fid, const PofCkptMeta *m, PetscInt n_theta0)
{
  PetscFunctionBegin;
  PetscCall(ckpt_attr_write_int(fid, "format_version", POF_CKPT_FORMAT_VERSION));
  PetscCall(ckpt_attr_write(fid, "writer", CKPT_A_STR, "pof " POF_VERSION, 0));
  for (int i = 0; i < CKPT_NATTRS; i++) {
    const CkptAttr *at    = &ckpt_attrs[i];
    const char     *field = (const char *)m + at->offset;
    if (at->kind == CKPT_A_INT) {
      int64_t v[POF_MAX_MILESTONES];
      for (size_t k = 0; k < at->count; k++) v[k] = ((const PetscInt *)(const void *)field)[k];
      PetscCall(ckpt_attr_write(fid, at->name, CKPT_A_INT, v, at->count));
    } else
      PetscCall(ckpt_attr_write(fid, at->name, at->kind, field, at->count));
  }
  PetscCall(ckpt_attr_write_int(fid, "n_theta0", n_theta0));

  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stage "create": the temporary file, made exclusively (a new, unpredictable name). */
static PetscErrorCode ckpt_create(MPI_Comm comm, CkptWriteCtx *w)
{
  CkptQuiet q;
  char      h5msg[CKPT_H5_LEN] = "";
  PetscFunctionBegin;
  PetscCall(ckpt_fapl(comm, NULL, &w->fapl));
  PetscCall(ckpt_quiet_begin(&q));
  w->tmp_made = PETSC_TRUE; /* from here on a failure removes the temporary (a partly made one) */
  pof_h5_file_set(w->tmp);
  w->fid = H5Fcreate(w->tmp, H5F_ACC_EXCL, H5P_DEFAULT, w->fapl);
  if (w->fid < 0) ckpt_h5_error(h5msg, sizeof(h5msg));
  ckpt_quiet_end(&q);
  PetscCheck(w->fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN,
             "cannot create checkpoint file %s (%s)", w->tmp, h5msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stage "checksums": the CRC attributes, every rank's data on disk, then the "complete" mark. */
static PetscErrorCode ckpt_finish_marks(hid_t fid, const uLong crc[CKPT_ND])
{
  PetscFunctionBegin;
  for (int k = 0; k < CKPT_ND; k++)
    PetscCall(ckpt_attr_write_int(fid, ckpt_crc_names[k], (int64_t)crc[k]));
  PofCallH5(H5Fflush(fid, H5F_SCOPE_GLOBAL));
  PetscCall(ckpt_attr_write_int(fid, "complete", 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stage "close" (the handle is given up even when closing fails: it is not closed twice). */
static PetscErrorCode ckpt_close(CkptWriteCtx *w)
{
  const hid_t fid = w->fid;
  PetscFunctionBegin;
  w->fid = -1;
  PofCallH5(H5Fclose(fid));
  PofCallH5(H5Pclose(w->fapl));
  w->fapl = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stage "verify" (rank 0): read the closed temporary back and check every checksum. */
static PetscErrorCode ckpt_verify_tmp(CkptWriteCtx *w)
{
  char         reason[CKPT_MSG_LEN];
  const double t0 = pof_now();
  PetscBool    ok = pof_ckpt_verify_local(w->tmp, reason, sizeof(reason));
  PetscFunctionBegin;
  ckpt_verify_secs = pof_now() - t0;
  PetscCheck(ok, PETSC_COMM_SELF, POF_ERR_STORAGE, "read-back verification failed: %s", reason);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stage "commit" (rank 0): rename the verified temporary to its name, fsync the directory. */
static PetscErrorCode ckpt_commit(CkptWriteCtx *w, const char *path)
{
  char msg[CKPT_MSG_LEN];
  int  err = pof_fs_commit(w->tmp, path, msg, sizeof(msg));
  PetscFunctionBegin;
  PetscCheck(!err, PETSC_COMM_SELF, pof_error_of_write_errno(err), "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The stages of a write after the temporary exists, each agreed by every rank (ckpt_agree). */
static PetscErrorCode ckpt_write_stages(MPI_Comm comm, const char *path, CkptWriteCtx *w,
                                        Vec master, Vec momentum, const float *running,
                                        const double *theta0, PetscInt n_theta0,
                                        const uLong crc[CKPT_ND])
{
  PetscMPIInt  rank;
  const hid_t  f64 = H5T_IEEE_F64LE, d = H5T_NATIVE_DOUBLE;
  PofCkptMeta *m = w->meta;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  CKPT_STAGE(comm, path, "metadata", w, ckpt_write_meta(w->fid, m, n_theta0));
  CKPT_STAGE(comm, path, "data", w, ckpt_write_vec(comm, w->fid, "params", master));
  if (momentum)
    CKPT_STAGE(comm, path, "momentum", w, ckpt_write_vec(comm, w->fid, "momentum", momentum));
  CKPT_STAGE(comm, path, "bn_running", w,
             ckpt_write_replicated(comm, w->fid, "bn_running", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                                   sizeof(float), m->n_bn_state, running));
  if (theta0)
    CKPT_STAGE(
        comm, path, "theta0", w,
        ckpt_write_replicated(comm, w->fid, "theta0", f64, d, sizeof(double), n_theta0, theta0));
  /* views of /params, /bn_running by PyTorch name (src/io/tensors.h) */
  CKPT_STAGE(comm, path, "tensors", w, pof_tensors_write(w->fid, m));
  CKPT_STAGE(comm, path, "checksums", w, ckpt_finish_marks(w->fid, crc));
  CKPT_STAGE(comm, path, "close", w, ckpt_close(w));
  ckpt_verify_secs = 0;
  CKPT_STAGE(comm, path, "verify", w, rank == 0 ? ckpt_verify_tmp(w) : PETSC_SUCCESS);
  PetscCall(pof_comm_bcast_bytes(comm, &ckpt_verify_secs, sizeof(ckpt_verify_secs), 0));
  CKPT_STAGE(comm, path, "commit", w, rank == 0 ? ckpt_commit(w, path) : PETSC_SUCCESS);
  w->tmp_made = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_write_body(MPI_Comm comm, const char *path, const PofCkptMeta *meta,
                                      Vec master, Vec momentum, const float *running,
                                      const double *theta0, PetscInt n_theta0, CkptWriteCtx *w)
{
  PetscMPIInt  rank, size;
  PofCkptMeta *m;
  uLong        crc[CKPT_ND] = { 0, 0, 0, 0 };
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));

  PetscCall(ckpt_write_check_args(comm, path, sizeof(w->tmp), meta, master, momentum, running,
                                  theta0, n_theta0));

  PetscCall(PetscMalloc1(1, &w->meta));
  m                = w->meta;
  *m               = *meta;
  m->ranks         = size;
  m->have_momentum = momentum ? 1 : 0;
  m->have_theta0   = theta0 ? 1 : 0;
  if (!theta0) n_theta0 = 0;

  /* the checksums first, from memory (collective; nothing here can fail on one rank alone) */
  PetscCall(ckpt_crc_vec(comm, master, &crc[CKPT_D_PARAMS]));
  if (momentum) PetscCall(ckpt_crc_vec(comm, momentum, &crc[CKPT_D_MOMENTUM]));
  crc[CKPT_D_RUNNING] = ckpt_crc(running, (size_t)m->n_bn_state * sizeof(float));
  if (theta0) crc[CKPT_D_THETA0] = ckpt_crc(theta0, (size_t)n_theta0 * sizeof(double));

  /* temporary name chosen by rank 0 */
  if (rank == 0) (void)pof_fs_tmp_name(path, w->tmp, sizeof(w->tmp)); /* length checked above */
  PetscCall(pof_comm_bcast_bytes(comm, w->tmp, sizeof(w->tmp), 0));
  CKPT_STAGE(comm, path, "create", w, ckpt_create(comm, w));
  PetscCall(ckpt_write_stages(comm, path, w, master, momentum, running, theta0, n_theta0, crc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_ckpt_write(MPI_Comm comm, const char *path, const PofCkptMeta *meta, Vec master,
                              Vec momentum, const float *running, const double *theta0,
                              PetscInt n_theta0)
{
  CkptWriteCtx  *w;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCheck(meta, comm, PETSC_ERR_ARG_NULL, "checkpoint %s: no metadata given", path);
  PetscCall(PetscNew(&w));
  w->fapl = w->fid         = -1;
  const PofWatchPhase back = pof_phase_enter(POF_WATCH_CKPT_WRITE, meta->global_step);
  ierr = ckpt_write_body(comm, path, meta, master, momentum, running, theta0, n_theta0, w);
  pof_phase_leave(back);
  if (ierr) {
    /* A failure every rank agreed on: the temporary is emptied first (its blocks freed, so the
       flush inside H5Fclose finds room: on a full disk it failed on some ranks only, which then
       left while the others waited in MPI_File_close), then the ranks close it together.
       Otherwise the handle is abandoned, not closed: H5Fclose is collective and the other ranks
       may be elsewhere (the caller stops every rank). The temporary file goes now. */
    if (w->agreed && w->fid >= 0) {
      CkptQuiet   q;
      PetscMPIInt rank = 0;
      (void)MPI_Comm_rank(comm, &rank);
      if (rank == 0 && truncate(w->tmp, 0) != 0) { /* then the close may fail: still tried */
      }
      if (!pof_comm_barrier(comm) && !ckpt_quiet_begin(&q)) {
        (void)H5Fclose(w->fid);
        (void)H5Eclear2(H5E_DEFAULT);
        ckpt_quiet_end(&q);
      }
    }
    if (w->tmp_made) (void)unlink(w->tmp);
    if (w->fapl >= 0) (void)H5Pclose(w->fapl);
  }
  PetscCall(PetscFree(w->meta));
  PetscCall(PetscFree(w));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double pof_ckpt_last_verify_seconds(void) { return ckpt_verify_secs; }

/* ------------------------------------------------------------------ read */

PetscErrorCode pof_ckpt_read_meta(MPI_Comm comm, const char *path, PofCkptMeta *meta)
{
  CkptProbe     *p;
  PetscErrorCode code;
  char           reason[CKPT_MSG_LEN];
  PetscFunctionBegin;
  PetscCall(PetscNew(&p));
  PetscCall(ckpt_probe_collective(comm, path, p));
  code = p->ok ? 0 : p->code;
  memcpy(reason, p->reason, sizeof(reason));
  if (p->ok) *meta = p->meta;
  PetscCall(PetscFree(p));
  PetscCheck(!code, comm, code, "%s", reason);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_read_vec(MPI_Comm comm, hid_t fid, const char *name, Vec v, uLong *crc)
{
  hid_t           d;
  PetscInt        lo, hi;
  const PetscInt *ranges;
  PetscScalar    *a;
  PetscMPIInt     size;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetOwnershipRanges(v, &ranges));
  PofCallH5Id(d, H5Dopen2(fid, name, H5P_DEFAULT));
  PetscCall(VecGetArrayWrite(v, &a));
  PetscCall(ckpt_xfer(d, H5T_NATIVE_DOUBLE, sizeof(double), PETSC_FALSE, lo, hi,
                      ckpt_npieces(ranges, size), a));
  PetscCall(ckpt_crc_global(comm, a, (size_t)(hi - lo) * sizeof(double), crc));
  PetscCall(VecRestoreArrayWrite(v, &a));
  PofCallH5(H5Dclose(d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 reads /name (n values), then broadcast: buf is filled on every rank. */
static PetscErrorCode ckpt_read_replicated(MPI_Comm comm, hid_t fid, const char *name, hid_t mtype,
                                           size_t elsize, PetscInt n, void *buf, uLong *crc)
{
  hid_t       d;
  PetscMPIInt rank;
  PetscInt    ranges[2] = { 0, n };
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PofCallH5Id(d, H5Dopen2(fid, name, H5P_DEFAULT));
  PetscCall(
      ckpt_xfer(d, mtype, elsize, PETSC_FALSE, 0, rank == 0 ? n : 0, ckpt_npieces(ranges, 1), buf));
  PofCallH5(H5Dclose(d));
  PetscCall(pof_comm_bcast_bytes(comm, buf, (size_t)n * elsize, 0));
  *crc = ckpt_crc(buf, (size_t)n * elsize);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every rank reads the file through its own node's file system: a node-local -model_in whose
   copies differ would give each rank other parameters. The ranks compare the file's digest
   (pof_fs_file_digest) before the collective open; a registered file image needs no check.
   Collective. */
static PetscErrorCode ckpt_same_file(MPI_Comm comm, const char *path)
{
  const void *img;
  size_t      img_len;
  PetscFunctionBegin;
  pof_file_image_lookup(path, &img, &img_len);
  if (!img) PetscCall(pof_fs_same_file(comm, path, "model file"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_read_body(MPI_Comm comm, const char *path, Vec master, Vec momentum,
                                     float *running, double *theta0, PetscInt n_theta0,
                                     CkptProbe *p)
{
  PofCkptMeta   *m;
  hid_t          fapl         = -1, fid;
  uLong          crc[CKPT_ND] = { 0, 0, 0, 0 };
  PetscBool      want[CKPT_ND];
  CkptQuiet      q;
  char           h5msg[CKPT_H5_LEN];
  char           oname[POF_PATH_MAX + 32];
  PetscErrorCode code;
  PetscFunctionBegin;
  PetscCall(ckpt_probe_collective(comm, path, p));
  code = p->ok ? 0 : p->code;
  PetscCheck(!code, comm, code, "%s", p->reason);
  m = &p->meta;

  PetscCheck(master, comm, PETSC_ERR_ARG_NULL, "checkpoint %s: master Vec required", path);
  PetscCall(ckpt_check_vec(comm, path, master, "master", m->n_params));
  if (momentum) {
    PetscCheck(m->have_momentum, comm, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s holds no optimizer state (momentum)", path);
    PetscCall(ckpt_check_vec(comm, path, momentum, "momentum", m->n_params));
  }
  PetscCheck(running || m->n_bn_state == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "checkpoint %s: no buffer for the running statistics", path);
  if (theta0) {
    PetscCheck(m->have_theta0, comm, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s holds no theta0 (it was not written by PoF post-training)", path);
    PetscCheck(n_theta0 == p->extra.n_theta0, comm, PETSC_ERR_ARG_SIZ,
               "checkpoint %s: theta0 has %" PetscInt_FMT
               " values, the caller expects %" PetscInt_FMT,
               path, p->extra.n_theta0, n_theta0);
  }

  PetscCall(ckpt_same_file(comm, path));
  PetscCall(ckpt_fapl(comm, path, &fapl));
  PetscCall(ckpt_quiet_begin(&q));
  pof_h5_file_set(path);
  fid = H5Fopen(ckpt_open_name(path, oname, sizeof(oname)), H5F_ACC_RDONLY, fapl);
  if (fid < 0) ckpt_h5_error(h5msg, sizeof(h5msg));
  ckpt_quiet_end(&q);
  PetscCheck(fid >= 0, comm, PETSC_ERR_FILE_OPEN, "cannot open checkpoint %s with MPI-IO (%s)",
             path, h5msg);
  PetscCall(ckpt_read_vec(comm, fid, "params", master, &crc[CKPT_D_PARAMS]));
  if (momentum) PetscCall(ckpt_read_vec(comm, fid, "momentum", momentum, &crc[CKPT_D_MOMENTUM]));
  PetscCall(ckpt_read_replicated(comm, fid, "bn_running", H5T_NATIVE_FLOAT, sizeof(float),
                                 m->n_bn_state, running, &crc[CKPT_D_RUNNING]));
  if (theta0)
    PetscCall(ckpt_read_replicated(comm, fid, "theta0", H5T_NATIVE_DOUBLE, sizeof(double), n_theta0,
                                   theta0, &crc[CKPT_D_THETA0]));
  PofCallH5(H5Fclose(fid));
  PofCallH5(H5Pclose(fapl));

  /* every rank holds the same checksums, so the verdict is the same everywhere */
  want[CKPT_D_PARAMS]   = PETSC_TRUE;
  want[CKPT_D_MOMENTUM] = momentum ? PETSC_TRUE : PETSC_FALSE;
  want[CKPT_D_RUNNING]  = PETSC_TRUE;
  want[CKPT_D_THETA0]   = theta0 ? PETSC_TRUE : PETSC_FALSE;
  for (int k = 0; k < CKPT_ND; k++)
    PetscCheck(!want[k] || crc[k] == p->extra.crc[k], comm, PETSC_ERR_FILE_UNEXPECTED,
               "checkpoint %s is corrupt: the data of /%s do not match their checksum (stored "
               "%08lx, read %08lx)",
               path, ckpt_dset_names[k], p->extra.crc[k], crc[k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_ckpt_read(MPI_Comm comm, const char *path, Vec master, Vec momentum,
                             float *running, double *theta0, PetscInt n_theta0)
{
  CkptProbe     *p;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCall(PetscNew(&p));
  const PofWatchPhase back = pof_phase_enter(POF_WATCH_CKPT_READ, -1);
  ierr = ckpt_read_body(comm, path, master, momentum, running, theta0, n_theta0, p);
  pof_phase_leave(back);
  PetscCall(PetscFree(p));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ signature */

static void ckpt_describe(const PofCkptMeta *m, char *buf, size_t len)
{
  snprintf(buf, len,
           "WRN-%" PetscInt_FMT "-%" PetscInt_FMT " (base %" PetscInt_FMT ", %" PetscInt_FMT
           "x%" PetscInt_FMT "x%" PetscInt_FMT " input, %" PetscInt_FMT " classes%s%s)",
           m->depth, m->width, m->base, m->in_c, m->in_h, m->in_w, m->classes,
           m->dataset[0] ? ", dataset " : "", m->dataset);
}

PetscErrorCode pof_ckpt_check_signature(MPI_Comm comm, const char *path, const PofCkptMeta *have,
                                        const PofCkptMeta *want)
{
  char h[256], w[256];
  const struct {
    const char *name;
    PetscInt    have, want;
  } f[] = {
    { "depth", have->depth, want->depth },       { "width", have->width, want->width },
    { "base", have->base, want->base },          { "input channels", have->in_c, want->in_c },
    { "input height", have->in_h, want->in_h },  { "input width", have->in_w, want->in_w },
    { "classes", have->classes, want->classes },
  };
  const struct {
    const char *name;
    PetscInt    have, want;
  } g[] = {
    { "n_params", have->n_params, want->n_params },
    { "n_feature", have->n_feature, want->n_feature },
    { "n_bn_state", have->n_bn_state, want->n_bn_state },
  };
  PetscFunctionBegin;
  ckpt_describe(have, h, sizeof(h));
  ckpt_describe(want, w, sizeof(w));
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    PetscCheck(f[i].have == f[i].want, comm, PETSC_ERR_ARG_INCOMP,
               "model file %s is %s, but this run needs %s: %s %" PetscInt_FMT " != %" PetscInt_FMT,
               path, h, w, f[i].name, f[i].have, f[i].want);
  PetscCheck(!have->dataset[0] || !want->dataset[0] || !strcmp(have->dataset, want->dataset), comm,
             PETSC_ERR_ARG_INCOMP,
             "model file %s is %s, but this run needs %s: dataset '%s' != '%s'", path, h, w,
             have->dataset, want->dataset);
  for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
    PetscCheck(g[i].have == g[i].want, comm, PETSC_ERR_ARG_INCOMP,
               "model file %s is %s, but this run needs %s: %s %" PetscInt_FMT " != %" PetscInt_FMT
               " (same architecture, different layout: written by another pof version?)",
               path, h, w, g[i].name, g[i].have, g[i].want);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_ckpt_check_shape_options(MPI_Comm comm, const char *path,
                                            const PofCkptMeta *have, const PofModelConfig *model)
{
  char h[256];
  const struct {
    const char *opt;
    PetscBool   set;
    PetscInt    given, file;
  } f[] = {
    { "-model_depth", model->depth_set, model->depth, have->depth },
    { "-model_width", model->width_set, model->width, have->width },
    { "-model_base", model->base_set, model->base, have->base },
    { "-model_classes", model->classes_set, model->classes, have->classes },
  };
  PetscFunctionBegin;
  ckpt_describe(have, h, sizeof(h));
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    PetscCheck(!f[i].set || f[i].given == f[i].file, comm, PETSC_ERR_ARG_INCOMP,
               "%s %" PetscInt_FMT " does not match model file %s, a %s: a run from a model file "
               "takes the file's shape; drop %s",
               f[i].opt, f[i].given, path, h, f[i].opt);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_ckpt_set_io_chunk(PetscInt elems)
{
  PetscFunctionBegin;
  PetscCheck(elems > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "checkpoint I/O piece must be positive, got %" PetscInt_FMT, elems);
  ckpt_io_chunk = elems;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool pof_ckpt_verify_local(const char *path, char *reason, size_t len)
{
  CkptProbe *p = NULL;
  PetscBool  ok;
  if (PetscNew(&p) || ckpt_probe_verified(path, p)) {
    (void)PetscFree(p);
    snprintf(reason, len, "checkpoint %s: cannot verify it (out of memory)", path);
    return PETSC_FALSE;
  }
  ok = p->ok ? PETSC_TRUE : PETSC_FALSE;
  snprintf(reason, len, "%s", ok ? "" : p->reason);
  (void)PetscFree(p);
  return ok;
}

PetscBool pof_ckpt_inspect_local(const char *path, PofCkptMeta *meta, PetscBool *have_meta,
                                 char *reason, size_t len)
{
  CkptProbe *p = NULL;
  PetscBool  ok;
  *have_meta = PETSC_FALSE;
  if (PetscNew(&p) || ckpt_probe(path, p)) {
    (void)PetscFree(p);
    snprintf(reason, len, "checkpoint %s: cannot verify it (out of memory)", path);
    return PETSC_FALSE;
  }
  if (p->ok) { /* the metadata hold; then the checksums of the data */
    *meta      = p->meta;
    *have_meta = PETSC_TRUE;
    if (ckpt_probe_verified(path, p)) p->ok = 0;
  }
  ok = p->ok ? PETSC_TRUE : PETSC_FALSE;
  snprintf(reason, len, "%s", ok ? "" : p->reason);
  (void)PetscFree(p);
  return ok;
}
