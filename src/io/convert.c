/* pof convert: the HDF5 writer and the driver. See include/pof/convert.h for the layout. */
#include "convert_impl.h"
#include "h5util.h"
#include "pof/comm_exchange.h"
#include "pof/fsutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char *const split_names[2] = { "train", "test" };

/* ------------------------------------------------------------------ writer */

static PetscErrorCode create_split(PofConvWriter *wr, int sp)
{
  PofConvSplit *s       = &wr->split[sp];
  hsize_t       dims[1] = { 0 }, maxd[1] = { H5S_UNLIMITED }, chunk[1] = { 65536 };
  hid_t         space, dcpl;
  PetscFunctionBegin;
  PofCallH5Id(s->group,
              H5Gcreate2(wr->file, split_names[sp], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5Id(space, H5Screate_simple(1, dims, maxd));
  PofCallH5Id(dcpl, H5Pcreate(H5P_DATASET_CREATE));
  PofCallH5(H5Pset_chunk(dcpl, 1, chunk));
  PofCallH5Id(s->labels,
              H5Dcreate2(s->group, "labels", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  PofCallH5(H5Pclose(dcpl));
  PofCallH5(H5Sclose(space));
  s->max_label = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_shape(PofConvWriter *wr, int c, int h, int w, const char *file)
{
  PetscFunctionBegin;
  PetscCheck(c >= 1 && h >= 1 && w >= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': zero image dimension (%d channels, %d x %d)", file, c, h, w);
  PetscCheck(c <= POF_CONV_MAX_CHANNELS && h <= 65536 && w <= 65536, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s': image shape %d x %d x %d is too large (at most %d channels, 65536 x 65536)",
             file, c, h, w, POF_CONV_MAX_CHANNELS);
  PetscCheck((size_t)c * (size_t)h * (size_t)w <= POF_CONV_MAX_SAMPLE_BYTES, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s': images of %d x %d x %d bytes are larger than the %d MiB pof takes per image",
             file, c, h, w, (int)(POF_CONV_MAX_SAMPLE_BYTES >> 20));
  if (wr->c) {
    PetscCheck(wr->c == c && wr->h == h && wr->w == w, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s' holds %d x %d x %d images but '%s' holds %d x %d x %d", file, c, h, w,
               wr->shape_from, wr->c, wr->h, wr->w);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  wr->c = c, wr->h = h, wr->w = w;
  PetscCall(PetscStrncpy(wr->shape_from, file, sizeof(wr->shape_from)));
  const size_t sample  = (size_t)c * h * w;
  hsize_t      dims[4] = { 0, (hsize_t)c, (hsize_t)h, (hsize_t)w },
          maxd[4]      = { H5S_UNLIMITED, (hsize_t)c, (hsize_t)h, (hsize_t)w };
  hsize_t chunk[4]     = { (hsize_t)PetscMax(1, ((size_t)1 << 20) / sample), (hsize_t)c, (hsize_t)h,
                           (hsize_t)w };
  for (int sp = 0; sp < 2; sp++) {
    hid_t space, dcpl;
    PofCallH5Id(space, H5Screate_simple(4, dims, maxd));
    PofCallH5Id(dcpl, H5Pcreate(H5P_DATASET_CREATE));
    PofCallH5(H5Pset_chunk(dcpl, 4, chunk));
    PofCallH5Id(wr->split[sp].images, H5Dcreate2(wr->split[sp].group, "images", H5T_STD_U8LE, space,
                                                 H5P_DEFAULT, dcpl, H5P_DEFAULT));
    PofCallH5(H5Pclose(dcpl));
    PofCallH5(H5Sclose(space));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Append count rows of row (row_dims[1..rank)) elements to a 1-D or 4-D extendible dataset. */
static PetscErrorCode append_rows(hid_t dset, int rank, const hsize_t *row_dims, uint64_t have,
                                  size_t count, hid_t memtype, const void *buf)
{
  hsize_t size[4], start[4] = { (hsize_t)have, 0, 0, 0 }, cnt[4];
  hid_t   fs, ms;
  PetscFunctionBegin;
  if (!count) PetscFunctionReturn(PETSC_SUCCESS);
  for (int d = 1; d < rank; d++) size[d] = cnt[d] = row_dims[d];
  size[0] = (hsize_t)have + (hsize_t)count;
  cnt[0]  = (hsize_t)count;
  PofCallH5(H5Dset_extent(dset, size));
  PofCallH5Id(fs, H5Dget_space(dset));
  PofCallH5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL));
  PofCallH5Id(ms, H5Screate_simple(rank, cnt, NULL));
  PofCallH5(H5Dwrite(dset, memtype, ms, fs, H5P_DEFAULT, buf));
  PofCallH5(H5Sclose(ms));
  PofCallH5(H5Sclose(fs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_images(PofConvWriter *wr, int sp, const uint8_t *buf, size_t count)
{
  PofConvSplit *s       = &wr->split[sp];
  hsize_t       row[4]  = { 0, (hsize_t)wr->c, (hsize_t)wr->h, (hsize_t)wr->w };
  const size_t  plane   = (size_t)wr->h * wr->w;
  const size_t  per_sam = plane * wr->c;
  PetscFunctionBegin;
  PetscCheck(wr->c > 0, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "pof_conv_shape must come before the first images");
  /* write in pieces of at most 2^30 bytes */
  const size_t piece = PetscMax(1, ((size_t)1 << 30) / per_sam);
  for (size_t off = 0; off < count; off += piece) {
    const size_t n = PetscMin(piece, count - off);
    PetscCall(
        append_rows(s->images, 4, row, s->n_images, n, H5T_NATIVE_UINT8, buf + off * per_sam));
    s->n_images += n;
  }
  if (sp == 0)
    for (size_t i = 0; i < count; i++)
      for (int c = 0; c < wr->c; c++) {
        const uint8_t *p    = buf + i * per_sam + (size_t)c * plane;
        uint64_t      *hist = s->hist[c];
        for (size_t k = 0; k < plane; k++) hist[p[k]]++;
      }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_labels(PofConvWriter *wr, int sp, const int32_t *lab, size_t count,
                               const char *file, uint64_t first)
{
  PofConvSplit *s      = &wr->split[sp];
  hsize_t       row[1] = { 0 };
  PetscFunctionBegin;
  for (size_t i = 0; i < count; i++) {
    PetscCheck(lab[i] >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "label %d of sample %llu in '%s' is negative", (int)lab[i],
               (unsigned long long)(first + i), file);
    PetscCheck(!wr->classes || lab[i] < wr->classes, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "label %d of sample %llu in '%s' >= class count %d", (int)lab[i],
               (unsigned long long)(first + i), file, wr->classes);
    if (lab[i] > s->max_label) {
      s->max_label    = lab[i];
      s->max_label_at = (int64_t)(first + i);
      PetscCall(PetscStrncpy(s->max_label_file, file, sizeof(s->max_label_file)));
    }
  }
  PetscCall(append_rows(s->labels, 1, row, s->n_labels, count, H5T_NATIVE_INT32, lab));
  s->n_labels += count;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_source(PofConvWriter *wr, const char *path)
{
  FILE         *f;
  unsigned char buf[1 << 16];
  uLong         crc   = crc32(0L, Z_NULL, 0);
  uint64_t      bytes = 0;
  size_t        got;
  char          line[POF_PATH_MAX + 96];
  PetscFunctionBegin;
  f = fopen(path, "rb");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s': %s", path,
             strerror(errno));
  while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
    crc = crc32(crc, buf, (uInt)got);
    bytes += got;
  }
  const int err = ferror(f);
  fclose(f);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "error reading '%s'", path);
  PetscCall(PetscSNPrintf(line, sizeof(line), "%s%s bytes=%llu crc32=%08lx",
                          wr->prov_len ? "; " : "", path, (unsigned long long)bytes,
                          (unsigned long)crc));
  const size_t len = strlen(line);
  if (wr->prov_len + len + 1 > wr->prov_cap) {
    char        *grown = NULL;
    const size_t cap   = 2 * (wr->prov_len + len + 1);
    PetscCall(PetscCalloc1(cap, &grown));
    if (wr->provenance) PetscCall(PetscMemcpy(grown, wr->provenance, wr->prov_len));
    PetscCall(PetscFree(wr->provenance));
    wr->provenance = grown;
    wr->prov_cap   = cap;
  }
  PetscCall(PetscMemcpy(wr->provenance + wr->prov_len, line, len + 1));
  wr->prov_len += len;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode attr_ints(hid_t obj, const char *name, int n, const int32_t *v)
{
  hsize_t dims[1] = { (hsize_t)n };
  hid_t   sp, a;
  PetscFunctionBegin;
  PofCallH5Id(sp, n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL));
  PofCallH5Id(a, H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, H5T_NATIVE_INT32, v));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode attr_doubles(hid_t obj, const char *name, int n, const double *v)
{
  hsize_t dims[1] = { (hsize_t)n };
  hid_t   sp, a;
  PetscFunctionBegin;
  PofCallH5Id(sp, H5Screate_simple(1, dims, NULL));
  PofCallH5Id(a, H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, H5T_NATIVE_DOUBLE, v));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fixed-length, NUL-terminated string attribute. */
static PetscErrorCode attr_string(hid_t obj, const char *name, const char *v)
{
  hid_t sp, t, a;
  PetscFunctionBegin;
  PofCallH5Id(t, H5Tcopy(H5T_C_S1));
  PofCallH5(H5Tset_size(t, strlen(v) + 1));
  PofCallH5(H5Tset_strpad(t, H5T_STR_NULLTERM));
  PofCallH5Id(sp, H5Screate(H5S_SCALAR));
  PofCallH5Id(a, H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, t, v));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PofCallH5(H5Tclose(t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* All sources read: check counts and classes, compute the statistics, write the attributes. */
static PetscErrorCode finish(PofConvWriter *wr, const PofConvertConfig *cfg, const char *name,
                             PofConvertSummary *sum)
{
  PetscFunctionBegin;
  PetscCheck(wr->c > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "no images found in the %s input", PofConvertFormats[cfg->format]);
  for (int sp = 0; sp < 2; sp++) {
    const PofConvSplit *s = &wr->split[sp];
    PetscCheck(s->n_images == s->n_labels, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "count mismatch in the %s split: %llu images but %llu labels", split_names[sp],
               (unsigned long long)s->n_images, (unsigned long long)s->n_labels);
    PetscCheck(s->n_images > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "the %s split is empty",
               split_names[sp]);
    PetscCheck(s->n_images <= (uint64_t)PETSC_MAX_INT / 2, PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED, "the %s split has %llu samples, more than pof supports",
               split_names[sp], (unsigned long long)s->n_images);
  }
  if (!wr->classes) { /* IDX: the training labels define the classes */
    wr->classes             = wr->split[0].max_label + 1;
    const PofConvSplit *tst = &wr->split[1];
    PetscCheck(tst->max_label < wr->classes, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "label %d of sample %lld in '%s' >= class count %d (1 + the largest training label)",
               (int)tst->max_label, (long long)tst->max_label_at, tst->max_label_file, wr->classes);
  }
  sum->n_train = (PetscInt)wr->split[0].n_images;
  sum->n_test  = (PetscInt)wr->split[1].n_images;
  sum->c = wr->c, sum->h = wr->h, sum->w = wr->w;
  sum->classes = wr->classes;
  PetscCall(PetscStrncpy(sum->name, name, sizeof(sum->name)));
  for (int c = 0; c < wr->c; c++) {
    long double n = 0, s1 = 0, s2 = 0;
    for (int v = 0; v < 256; v++) {
      const long double k = (long double)wr->split[0].hist[c][v], x = v / 255.0L;
      n += k, s1 += k * x, s2 += k * x * x;
    }
    const long double m = s1 / n, var = s2 / n - m * m;
    sum->mean[c] = (double)m;
    sum->std[c]  = (double)sqrtl(var > 0 ? var : 0);
  }
  const int32_t one[4]  = { (int32_t)wr->classes, (int32_t)wr->c, (int32_t)wr->h, (int32_t)wr->w },
                version = 1;
  PetscCall(attr_ints(wr->file, "classes", 1, &one[0]));
  PetscCall(attr_ints(wr->file, "channels", 1, &one[1]));
  PetscCall(attr_ints(wr->file, "height", 1, &one[2]));
  PetscCall(attr_ints(wr->file, "width", 1, &one[3]));
  PetscCall(attr_ints(wr->file, "format_version", 1, &version));
  PetscCall(attr_doubles(wr->file, "mean", wr->c, sum->mean));
  PetscCall(attr_doubles(wr->file, "std", wr->c, sum->std));
  PetscCall(attr_string(wr->file, "name", name));
  PetscCall(attr_string(wr->file, "source_format", PofConvertFormats[cfg->format]));
  PetscCall(attr_string(wr->file, "provenance", wr->provenance ? wr->provenance : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Default dataset name: the format's, or for IDX the directory holding the training images. */
static PetscErrorCode default_name(const PofConvertConfig *cfg, char *name, size_t n)
{
  PetscFunctionBegin;
  if (cfg->name[0]) {
    PetscCall(PetscStrncpy(name, cfg->name, n));
  } else if (cfg->format == POF_FMT_IDX) {
    char        dir[POF_PATH_MAX];
    const char *slash;
    PetscCall(PetscStrncpy(dir, cfg->train_images, sizeof(dir)));
    char *last = strrchr(dir, '/');
    if (last)
      *last = 0;
    else
      dir[0] = 0;
    slash = strrchr(dir, '/');
    PetscCall(PetscStrncpy(name, dir[0] ? (slash ? slash + 1 : dir) : "idx", n));
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
      PetscCall(PetscStrncpy(name, "idx", n));
  } else if (cfg->format == POF_FMT_CIFAR100) {
    PetscCall(PetscStrncpy(name, cfg->cifar100_coarse ? "cifar100-coarse" : "cifar100", n));
  } else if (cfg->format == POF_FMT_SVHN) {
    PetscCall(PetscStrncpy(name, cfg->svhn_extra ? "svhn+extra" : "svhn", n));
  } else {
    PetscCall(PetscStrncpy(name, "cifar10", n));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode convert_into(PofConvWriter *wr, const PofConvertConfig *cfg, const char *tmp,
                                   PofConvertSummary *sum)
{
  hid_t fapl;
  char  name[64];
  PetscFunctionBegin;
  PetscCall(default_name(cfg, name, sizeof(name)));
  PofCallH5Id(fapl, H5Pcreate(H5P_FILE_ACCESS));
  PofCallH5(
      H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)); /* closing the file closes everything in it */
  pof_h5_file_set(tmp);
  wr->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  PofCallH5(H5Pclose(fapl));
  PetscCheck(wr->file >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN,
             "cannot create '%s' (does the directory of -convert_output exist and is it writable?)",
             tmp);
  for (int sp = 0; sp < 2; sp++) PetscCall(create_split(wr, sp));
  switch (cfg->format) {
  case POF_FMT_IDX: PetscCall(pof_conv_read_idx(wr, cfg)); break;
  case POF_FMT_CIFAR10:
  case POF_FMT_CIFAR100: PetscCall(pof_conv_read_cifar(wr, cfg)); break;
  case POF_FMT_SVHN: PetscCall(pof_conv_read_svhn(wr, cfg)); break;
  default:
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "unknown -convert_format %d", (int)cfg->format);
  }
  PetscCall(finish(wr, cfg, name, sum));
  PofCallH5(H5Fclose(wr->file));
  wr->file = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: convert into a temporary file, rename when complete, remove it on any error. */
static PetscErrorCode convert_rank0(const PofConvertConfig *cfg, PofConvertSummary *sum)
{
  PofConvWriter *wr = NULL;
  char           tmp[POF_PATH_MAX + 64];
  PofH5Quiet     q;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCheck(!pof_fs_tmp_name(cfg->output, tmp, sizeof(tmp)), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "-convert_output %s is too long", cfg->output);
  PetscCall(PetscNew(&wr));
  wr->file = -1;
  for (int sp = 0; sp < 2; sp++)
    wr->split[sp].group = wr->split[sp].images = wr->split[sp].labels = -1;
  wr->classes = cfg->format == POF_FMT_CIFAR10    ? 10
                : cfg->format == POF_FMT_CIFAR100 ? (cfg->cifar100_coarse ? 20 : 100)
                : cfg->format == POF_FMT_SVHN     ? 10
                                                  : 0;
  pof_h5_quiet_begin(&q);
  ierr = convert_into(wr, cfg, tmp, sum);
  if (ierr) {
    if (wr->file >= 0) (void)H5Fclose(wr->file);
    (void)remove(tmp);
  }
  pof_h5_quiet_end(&q);
  PetscCall(PetscFree(wr->provenance));
  PetscCall(PetscFree(wr));
  PetscCall(ierr);
  {
    char msg[2 * POF_PATH_MAX + 128];
    if (pof_fs_commit(tmp, cfg->output, msg, sizeof(msg))) {
      (void)remove(tmp);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s", msg);
    }
  }
  PetscCall(PetscStrncpy(sum->output, cfg->output, sizeof(sum->output)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_convert_run(MPI_Comm comm, const PofConvertConfig *cfg, PofConvertSummary *sum)
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCall(PetscMemzero(sum, sizeof(*sum)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  pof_h5_no_file_locking();
  /* rank 0 converts; its outcome (with its message) is agreed on by every rank, so a bad input
     is one error on all ranks, not rank 0's alone while the others wait */
  {
    PetscErrorCode ierr = rank == 0 ? convert_rank0(cfg, sum) : PETSC_SUCCESS;
    char           msg[sizeof(pof_error_record()->msg)];
    PetscBool      failed;
    PetscCall(PetscStrncpy(msg, ierr ? pof_error_record()->msg : "", sizeof(msg)));
    PetscCall(
        pof_comm_agree_failure(comm, ierr ? PETSC_TRUE : PETSC_FALSE, msg, sizeof(msg), &failed));
    PetscCheck(!failed, comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  }
  PetscCall(pof_comm_bcast_bytes(comm, sum, sizeof(*sum), 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
