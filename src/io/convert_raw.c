/* pof convert: readers of the raw formats (IDX, CIFAR binary, SVHN MATLAB v5). They validate
   their input and push samples into the writer (convert.c); no HDF5 here. */
#include "convert_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define CHUNK_BYTES ((size_t)1 << 24) /* samples are read and written in pieces of about 16 MiB */

static uint32_t be32(const unsigned char *b)
{
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ------------------------------------------------------------------ IDX (plain or gzip) */

typedef struct {
  gzFile      f;
  const char *path;
  uint32_t    dims[3];
} IdxFile;

/* Read exactly n bytes (gzread reads plain files too); a short read is a truncated file. */
static PetscErrorCode idx_read(IdxFile *x, void *buf, size_t n, const char *what)
{
  size_t done = 0;
  PetscFunctionBegin;
  while (done < n) {
    const unsigned ask = (unsigned)PetscMin(n - done, (size_t)1 << 30);
    const int      got = gzread(x->f, (char *)buf + done, ask);
    if (got <= 0) {
      int         zerr = Z_OK;
      const char *msg  = gzerror(x->f, &zerr);
      PetscCheck(zerr == Z_OK || zerr == Z_BUF_ERROR, PETSC_COMM_SELF, PETSC_ERR_FILE_READ,
                 "'%s': corrupt gzip data while reading %s: %s", x->path, what, msg);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
              "'%s' is truncated: it ends after %zu of the %zu bytes of %s", x->path, done, n,
              what);
    }
    done += (size_t)got;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open and check an IDX header: magic 0x00 0x00, type 0x08 (unsigned byte), ndim dimensions. */
static PetscErrorCode idx_open(IdxFile *x, const char *path, int ndim)
{
  unsigned char h[16];
  PetscFunctionBegin;
  x->path = path;
  x->f    = gzopen(path, "rb");
  PetscCheck(x->f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open IDX file '%s': %s", path,
             errno ? strerror(errno) : "out of memory");
  gzbuffer(x->f, 1 << 18);
  PetscCall(idx_read(x, h, 4, "the IDX header"));
  PetscCheck(h[0] == 0 && h[1] == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' is not an IDX file: wrong magic number 0x%02x%02x%02x%02x (IDX files start with "
             "0x0000, then the type and the number of dimensions)",
             path, h[0], h[1], h[2], h[3]);
  PetscCheck(h[2] == 0x08, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': IDX data type 0x%02x is not supported (only unsigned byte, 0x08)", path, h[2]);
  PetscCheck(h[3] == ndim, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': IDX file has %d dimensions, expected %d (%s)", path, h[3], ndim,
             ndim == 3 ? "images: N x rows x columns" : "labels: N");
  PetscCall(idx_read(x, h + 4, 4 * (size_t)ndim, "the IDX header"));
  x->dims[1] = x->dims[2] = 1;
  for (int d = 0; d < ndim; d++) {
    x->dims[d] = be32(h + 4 + 4 * (size_t)d);
    PetscCheck(x->dims[d] > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s': IDX dimension %d is zero", path, d);
  }
  PetscCheck(
      x->dims[0] <= (uint32_t)PETSC_MAX_INT / 2 && x->dims[1] <= 65536 && x->dims[2] <= 65536,
      PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': IDX dimensions %u x %u x %u are too large",
      path, x->dims[0], x->dims[1], x->dims[2]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After the declared data: anything more is an error (the header's count is wrong). Reading on
   past the data also makes zlib reach the gzip trailer: a stream that ends before it (Z_BUF_ERROR,
   "unexpected end of file") or whose CRC or length do not match (Z_DATA_ERROR) is an error, so
   only a complete gzip stream that checks converts. */
static PetscErrorCode idx_close(IdxFile *x)
{
  char        extra;
  int         zerr = Z_OK, cerr;
  const char *msg  = NULL;
  char        why[256];
  PetscFunctionBegin;
  const int got = gzread(x->f, &extra, 1);
  if (got < 0) {
    msg = gzerror(x->f, &zerr);
    PetscCall(PetscStrncpy(why, msg ? msg : "unknown error", sizeof(why)));
  }
  cerr = gzclose(x->f);
  x->f = NULL;
  PetscCheck(got <= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' holds more data than its IDX header declares (count mismatch between header and "
             "file size)",
             x->path);
  if (cerr == Z_BUF_ERROR &&
      zerr == Z_OK) { /* gzread saw a clean end, gzclose the missing trailer */
    zerr = Z_BUF_ERROR;
    PetscCall(PetscStrncpy(why, "unexpected end of file", sizeof(why)));
  }
  PetscCheck(zerr != Z_BUF_ERROR, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' is truncated: its gzip stream ends before the trailer (CRC and size) after all "
             "the data the IDX header declares (zlib: %s)",
             x->path, why);
  PetscCheck(zerr == Z_OK, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': corrupt gzip stream (zlib: %s)", x->path, why);
  PetscCheck(cerr == Z_OK, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': the gzip stream is incomplete or corrupt (gzclose: %d)", x->path, cerr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode idx_split_body(PofConvWriter *wr, int sp, IdxFile *im, IdxFile *lb,
                                     uint8_t **buf, int32_t **lab)
{
  const char *img_path = im->path, *lab_path = lb->path;
  PetscFunctionBegin;
  PetscCall(idx_open(im, img_path, 3));
  PetscCall(idx_open(lb, lab_path, 1));
  PetscCheck(im->dims[0] == lb->dims[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "count mismatch: '%s' holds %u images but '%s' holds %u labels", img_path, im->dims[0],
             lab_path, lb->dims[0]);
  PetscCall(pof_conv_shape(wr, 1, (int)im->dims[1], (int)im->dims[2], img_path));
  const size_t n = im->dims[0], sample = (size_t)im->dims[1] * im->dims[2],
               per = PetscMax(1, CHUNK_BYTES / sample);
  PetscCall(PetscMalloc1(per * sample, buf));
  for (size_t i = 0; i < n; i += per) {
    const size_t k = PetscMin(per, n - i);
    PetscCall(idx_read(im, *buf, k * sample, "the images"));
    PetscCall(pof_conv_images(wr, sp, *buf, k));
  }
  PetscCall(idx_close(im));
  PetscCall(PetscFree(*buf));
  PetscCall(PetscMalloc1(n, buf));
  PetscCall(PetscMalloc1(n, lab));
  PetscCall(idx_read(lb, *buf, n, "the labels"));
  for (size_t i = 0; i < n; i++) (*lab)[i] = (*buf)[i];
  PetscCall(idx_close(lb));
  PetscCall(pof_conv_labels(wr, sp, *lab, n, lab_path, 0));
  PetscCall(pof_conv_source(wr, img_path));
  PetscCall(pof_conv_source(wr, lab_path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One split's image and label files; on error too, both files are closed (a reader that left
   them open would run out of descriptors when called again, as the fuzz targets do). */
static PetscErrorCode idx_split(PofConvWriter *wr, int sp, const char *img_path,
                                const char *lab_path)
{
  IdxFile        im = { NULL, img_path, { 0, 0, 0 } }, lb = { NULL, lab_path, { 0, 0, 0 } };
  uint8_t       *buf = NULL;
  int32_t       *lab = NULL;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  ierr = idx_split_body(wr, sp, &im, &lb, &buf, &lab);
  if (im.f) (void)gzclose(im.f);
  if (lb.f) (void)gzclose(lb.f);
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree(lab));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_read_idx(PofConvWriter *wr, const PofConvertConfig *cfg)
{
  PetscFunctionBegin;
  PetscCall(idx_split(wr, 0, cfg->train_images, cfg->train_labels));
  PetscCall(idx_split(wr, 1, cfg->test_images, cfg->test_labels));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ CIFAR-10 / CIFAR-100 binary */

#define CIFAR_PIXELS 3072 /* 3 x 32 x 32, channel-major (R, G, B planes), rows top to bottom */

static PetscErrorCode cifar_file_body(PofConvWriter *wr, int sp, FILE *f, const char *path, int hdr,
                                      int label_byte, const char *kind, uint8_t **raw,
                                      uint8_t **img, int32_t **lab)
{
  const size_t rec = (size_t)hdr + CIFAR_PIXELS, per = 4096;
  struct stat  st;
  PetscFunctionBegin;
  PetscCheck(fstat(fileno(f), &st) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ,
             "cannot stat '%s': %s", path, strerror(errno));
  PetscCheck(st.st_size > 0 && (size_t)st.st_size % rec == 0, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s' has %lld bytes, not a positive multiple of the %zu-byte %s record (truncated or "
             "not a %s batch?)",
             path, (long long)st.st_size, rec, kind, kind);
  const size_t n = (size_t)st.st_size / rec;
  PetscCall(pof_conv_shape(wr, 3, 32, 32, path));
  PetscCall(PetscMalloc3(per * rec, raw, per * CIFAR_PIXELS, img, per, lab));
  for (size_t i = 0; i < n; i += per) {
    const size_t k = PetscMin(per, n - i);
    PetscCheck(fread(*raw, rec, k, f) == k, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s' is truncated: it ends before record %zu of %zu", path, i + k, n);
    for (size_t j = 0; j < k; j++) {
      (*lab)[j] = (*raw)[j * rec + (size_t)label_byte];
      PetscCall(PetscMemcpy(*img + j * CIFAR_PIXELS, *raw + j * rec + hdr, CIFAR_PIXELS));
    }
    PetscCall(pof_conv_images(wr, sp, *img, k));
    PetscCall(pof_conv_labels(wr, sp, *lab, k, path, i));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One batch file; closed and its buffers freed on error too. */
static PetscErrorCode cifar_file(PofConvWriter *wr, int sp, const char *path, int hdr,
                                 int label_byte, const char *kind)
{
  uint8_t       *raw = NULL, *img = NULL;
  int32_t       *lab = NULL;
  FILE          *f;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  f = fopen(path, "rb");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s batch '%s': %s", kind, path,
             strerror(errno));
  ierr = cifar_file_body(wr, sp, f, path, hdr, label_byte, kind, &raw, &img, &lab);
  fclose(f);
  PetscCall(PetscFree3(raw, img, lab));
  PetscCall(ierr);
  PetscCall(pof_conv_source(wr, path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_read_cifar(PofConvWriter *wr, const PofConvertConfig *cfg)
{
  char path[POF_PATH_MAX + 32];
  PetscFunctionBegin;
  if (cfg->format == POF_FMT_CIFAR10) {
    for (int b = 1; b <= 5; b++) {
      PetscCall(PetscSNPrintf(path, sizeof(path), "%s/data_batch_%d.bin", cfg->input_dir, b));
      PetscCall(cifar_file(wr, 0, path, 1, 0, "CIFAR-10"));
    }
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/test_batch.bin", cfg->input_dir));
    PetscCall(cifar_file(wr, 1, path, 1, 0, "CIFAR-10"));
  } else {
    const int lb = cfg->cifar100_coarse ? 0 : 1; /* record: coarse label, fine label, pixels */
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/train.bin", cfg->input_dir));
    PetscCall(cifar_file(wr, 0, path, 2, lb, "CIFAR-100"));
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/test.bin", cfg->input_dir));
    PetscCall(cifar_file(wr, 1, path, 2, lb, "CIFAR-100"));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ SVHN: MATLAB v5 .mat */

enum {
  miINT8 = 1,
  miUINT8,
  miINT16,
  miUINT16,
  miINT32,
  miUINT32,
  miSINGLE,
  miDOUBLE = 9,
  miINT64  = 12,
  miUINT64,
  miMATRIX,
  miCOMPRESSED
};
enum { mxUINT8_CLASS = 9 };

/* A byte source: the file itself, or the zlib stream of one miCOMPRESSED element. */
typedef struct {
  FILE          *f;
  const char    *path;
  long long      size; /* file size */
  int            swap; /* file byte order differs from ours */
  int            inflating;
  z_stream       z;
  unsigned char *zin;   /* compressed input buffer */
  uint64_t       zleft; /* compressed bytes of the element not yet read from the file */
} MatIn;

#define ZIN_BYTES ((size_t)1 << 18)

static PetscErrorCode mat_read(MatIn *m, void *buf, size_t n, const char *what)
{
  PetscFunctionBegin;
  if (!m->inflating) {
    PetscCheck(fread(buf, 1, n, m->f) == n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s' is truncated (it ends inside %s)", m->path, what);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  unsigned char *out = (unsigned char *)buf;
  while (n > 0) {
    const size_t ask = PetscMin(n, (size_t)1 << 30);
    m->z.next_out    = out;
    m->z.avail_out   = (uInt)ask;
    while (m->z.avail_out > 0) {
      if (m->z.avail_in == 0) {
        PetscCheck(m->zleft > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                   "'%s': a compressed element ends inside %s (truncated or corrupt)", m->path,
                   what);
        const size_t k = (size_t)PetscMin((uint64_t)ZIN_BYTES, m->zleft);
        PetscCheck(fread(m->zin, 1, k, m->f) == k, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                   "'%s' is truncated (it ends inside %s)", m->path, what);
        m->zleft -= k;
        m->z.next_in  = m->zin;
        m->z.avail_in = (uInt)k;
      }
      const int ret = inflate(&m->z, Z_NO_FLUSH);
      PetscCheck(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR, PETSC_COMM_SELF,
                 PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt compressed data in %s (zlib: %s)",
                 m->path, what, m->z.msg ? m->z.msg : "error");
      PetscCheck(ret != Z_STREAM_END || m->z.avail_out == 0, PETSC_COMM_SELF,
                 PETSC_ERR_FILE_UNEXPECTED, "'%s': a compressed element ends inside %s", m->path,
                 what);
    }
    out += ask;
    n -= ask;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Inflate the rest of the compressed element, so zlib verifies its checksum (corruption shows). */
static PetscErrorCode mat_drain(MatIn *m)
{
  unsigned char scratch[1 << 14];
  PetscFunctionBegin;
  for (;;) {
    if (m->z.avail_in == 0 && m->zleft > 0) {
      const size_t k = (size_t)PetscMin((uint64_t)ZIN_BYTES, m->zleft);
      PetscCheck(fread(m->zin, 1, k, m->f) == k, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
                 "'%s' is truncated (it ends inside a compressed element)", m->path);
      m->zleft -= k;
      m->z.next_in  = m->zin;
      m->z.avail_in = (uInt)k;
    }
    m->z.next_out  = scratch;
    m->z.avail_out = sizeof(scratch);
    const int ret  = inflate(&m->z, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) break;
    PetscCheck(ret == Z_OK || (ret == Z_BUF_ERROR && (m->z.avail_in > 0 || m->zleft > 0)),
               PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s': corrupt compressed data (zlib: %s)", m->path,
               m->z.msg ? m->z.msg : "the stream ends early");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static uint32_t mat_u32(const MatIn *m, const unsigned char *b)
{
  uint32_t v;
  memcpy(&v, b, 4);
  return m->swap ? __builtin_bswap32(v) : v;
}

static void mat_swap(void *p, size_t elem, size_t n)
{
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++, b += elem)
    for (size_t j = 0; j < elem / 2; j++) {
      const unsigned char t = b[j];
      b[j]                  = b[elem - 1 - j];
      b[elem - 1 - j]       = t;
    }
}

/* A data element tag: regular (8-byte tag, data padded to 8) or small (type, size and up to
   4 data bytes in 8 bytes). *small_data holds the small element's bytes. */
typedef struct {
  uint32_t      type, nbytes;
  int           small;
  unsigned char data[4];
} MatTag;

static PetscErrorCode mat_tag(MatIn *m, MatTag *t, const char *what)
{
  unsigned char b[8];
  PetscFunctionBegin;
  PetscCall(mat_read(m, b, 8, what));
  const uint32_t w0 = mat_u32(m, b);
  t->small          = (w0 >> 16) != 0;
  if (t->small) {
    t->type   = w0 & 0xFFFFu;
    t->nbytes = w0 >> 16;
    PetscCheck(t->nbytes <= 4, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s': corrupt small data element in %s", m->path, what);
    memcpy(t->data, b + 4, 4);
  } else {
    t->type   = w0;
    t->nbytes = mat_u32(m, b + 4);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* Bytes an element takes in its enclosing matrix. */
static uint64_t mat_elem_span(const MatTag *t) { return t->small ? 8 : 8 + pad8(t->nbytes); }

/* Read a (small or regular) element's data, at most cap bytes, then its padding. */
static PetscErrorCode mat_elem_data(MatIn *m, const MatTag *t, void *buf, size_t cap,
                                    const char *what)
{
  unsigned char pad[8];
  PetscFunctionBegin;
  PetscCheck(t->nbytes <= cap, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': %s has %u bytes, more than expected (%zu)", m->path, what, t->nbytes, cap);
  if (t->small) {
    memcpy(buf, t->data, t->nbytes);
  } else {
    PetscCall(mat_read(m, buf, t->nbytes, what));
    PetscCall(mat_read(m, pad, pad8(t->nbytes) - t->nbytes, what));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static size_t mat_type_size(uint32_t type)
{
  switch (type) {
  case miINT8:
  case miUINT8: return 1;
  case miINT16:
  case miUINT16: return 2;
  case miINT32:
  case miUINT32:
  case miSINGLE: return 4;
  case miDOUBLE:
  case miINT64:
  case miUINT64: return 8;
  default: return 0;
  }
}

static double mat_value(uint32_t type, const unsigned char *p)
{
  switch (type) {
  case miINT8: return *(const int8_t *)p;
  case miUINT8: return *p;
  case miINT16: {
    int16_t v;
    memcpy(&v, p, 2);
    return v;
  }
  case miUINT16: {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
  }
  case miINT32: {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  case miUINT32: {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  case miSINGLE: {
    float v;
    memcpy(&v, p, 4);
    return v;
  }
  case miDOUBLE: {
    double v;
    memcpy(&v, p, 8);
    return v;
  }
  case miINT64: {
    int64_t v;
    memcpy(&v, p, 8);
    return (double)v;
  }
  default: {
    uint64_t v;
    memcpy(&v, p, 8);
    return (double)v;
  }
  }
}

/* What one .mat file held. */
typedef struct {
  int      have_x, have_y;
  uint64_t nx, ny;
} SvhnVars;

/* X (H x W x C x N uint8, MATLAB column order) -> N x C x H x W, streamed to the writer. */
static PetscErrorCode svhn_images(PofConvWriter *wr, int sp, MatIn *m, const uint32_t *dims,
                                  int ndims, const MatTag *t, int mxclass, SvhnVars *v)
{
  PetscFunctionBegin;
  PetscCheck(ndims == 4, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable X has %d dimensions, expected 4 (H x W x C x N)", m->path, ndims);
  PetscCheck(mxclass == mxUINT8_CLASS && t->type == miUINT8, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable X must be uint8 (MATLAB class %d stored as type %u)", m->path, mxclass,
             t->type);
  const int h = (int)dims[0], w = (int)dims[1], c = (int)dims[2];
  PetscCheck(dims[0] && dims[1] && dims[2] && dims[3], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable X has a zero dimension (%u x %u x %u x %u)", m->path, dims[0], dims[1],
             dims[2], dims[3]);
  PetscCall(pof_conv_shape(wr, c, h, w, m->path));
  PetscCheck(!t->small, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable X is too small (%u bytes)", m->path, t->nbytes);
  const size_t sample = (size_t)h * w * c, n = dims[3];
  PetscCheck(
      (uint64_t)t->nbytes == (uint64_t)sample * n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
      "'%s': variable X holds %u bytes but its dimensions %u x %u x %u x %u need %llu", m->path,
      t->nbytes, dims[0], dims[1], dims[2], dims[3], (unsigned long long)sample * n);
  const size_t per = PetscMax(1, CHUNK_BYTES / sample);
  uint8_t     *in = NULL, *out = NULL;
  PetscCall(PetscMalloc2(per * sample, &in, per * sample, &out));
  for (size_t i = 0; i < n; i += per) {
    const size_t k = PetscMin(per, n - i);
    PetscCall(mat_read(m, in, k * sample, "variable X"));
    for (size_t s = 0; s < k; s++) {
      const uint8_t *src = in + s * sample;  /* (C, W, H): row index fastest */
      uint8_t       *dst = out + s * sample; /* (C, H, W) */
      for (int ch = 0; ch < c; ch++)
        for (int x = 0; x < w; x++)
          for (int y = 0; y < h; y++)
            dst[((size_t)ch * h + y) * w + x] = src[((size_t)ch * w + x) * h + y];
    }
    PetscCall(pof_conv_images(wr, sp, out, k));
  }
  PetscCall(PetscFree2(in, out));
  v->have_x = 1;
  v->nx     = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y (N x 1 or 1 x N, any real numeric type) with values 1..10; 10 is digit 0. */
static PetscErrorCode svhn_labels(PofConvWriter *wr, int sp, MatIn *m, const uint32_t *dims,
                                  int ndims, const MatTag *t, SvhnVars *v)
{
  const size_t   es  = mat_type_size(t->type);
  unsigned char *raw = NULL;
  int32_t       *lab = NULL;
  PetscFunctionBegin;
  PetscCheck(ndims == 2 && (dims[0] == 1 || dims[1] == 1), PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable y must be a vector (N x 1), got %d dimensions", m->path, ndims);
  PetscCheck(es > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable y has unsupported data type %u", m->path, t->type);
  const size_t n = (size_t)dims[0] * dims[1];
  PetscCheck(n > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable y is empty (zero dimension)", m->path);
  PetscCheck((uint64_t)t->nbytes == (uint64_t)n * es, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable y holds %u bytes but %zu values of %zu bytes are declared", m->path,
             t->nbytes, n, es);
  PetscCall(PetscMalloc2(n * es + 8, &raw, n, &lab));
  PetscCall(mat_elem_data(m, t, raw, n * es, "variable y"));
  if (m->swap) mat_swap(raw, es, n);
  for (size_t i = 0; i < n; i++) {
    const double val = mat_value(t->type, raw + i * es);
    if (!(val >= 1 && val <= 10 && val == floor(val))) {
      char txt[64];
      snprintf(txt, sizeof(txt), "%.17g", val); /* C's formatting: PETSc's would print "11." */
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
              "label %s of sample %zu in '%s' is not in 1..10 (SVHN labels: 10 is digit 0)", txt, i,
              m->path);
    }
    lab[i] = (int32_t)val % 10;
  }
  PetscCall(pof_conv_labels(wr, sp, lab, n, m->path, 0));
  PetscCall(PetscFree2(raw, lab));
  v->have_y = 1;
  v->ny     = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One miMATRIX element of nbytes (its tag already read): X and y are taken, others ignored.
   The caller moves to the next top-level element afterwards, so nothing is skipped here. */
static PetscErrorCode mat_matrix(PofConvWriter *wr, int sp, MatIn *m, uint32_t nbytes, SvhnVars *v)
{
  MatTag        t;
  unsigned char flags[8];
  uint32_t      dims[32];
  char          name[64];
  uint64_t      used = 0;
  PetscFunctionBegin;
  PetscCall(mat_tag(m, &t, "array flags"));
  PetscCheck(t.type == miUINT32 && t.nbytes == 8, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': corrupt matrix element (array flags)", m->path);
  PetscCall(mat_elem_data(m, &t, flags, 8, "array flags"));
  used += mat_elem_span(&t);
  const uint32_t fl      = mat_u32(m, flags);
  const int      mxclass = (int)(fl & 0xFF), is_complex = (fl & 0x800) != 0;
  if (mxclass < 6 || mxclass > 15)
    PetscFunctionReturn(PETSC_SUCCESS); /* cell, struct, char, sparse...: not ours */
  PetscCall(mat_tag(m, &t, "dimensions"));
  PetscCheck(t.type == miINT32 && t.nbytes % 4 == 0 && t.nbytes >= 8, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt matrix element (dimensions)", m->path);
  PetscCall(mat_elem_data(m, &t, dims, sizeof(dims), "dimensions"));
  used += mat_elem_span(&t);
  const int ndims = (int)(t.nbytes / 4);
  for (int d = 0; d < ndims; d++) dims[d] = mat_u32(m, (const unsigned char *)&dims[d]);
  PetscCall(mat_tag(m, &t, "array name"));
  PetscCheck(t.type == miINT8 && t.nbytes < sizeof(name), PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt matrix element (array name)", m->path);
  PetscCall(mat_elem_data(m, &t, name, sizeof(name) - 1, "array name"));
  name[t.nbytes] = 0;
  used += mat_elem_span(&t);
  const int is_x = !strcmp(name, "X"), is_y = !strcmp(name, "y");
  if (!is_x && !is_y) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!(is_x ? v->have_x : v->have_y), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable %s appears twice", m->path, name);
  PetscCheck(!is_complex, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable %s is complex", m->path, name);
  PetscCall(mat_tag(m, &t, "the real part"));
  PetscCheck(used + mat_elem_span(&t) <= nbytes, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': variable %s: its data (%u bytes) overruns its matrix element (%u bytes)",
             m->path, name, t.nbytes, nbytes);
  if (is_x)
    PetscCall(svhn_images(wr, sp, m, dims, ndims, &t, mxclass, v));
  else
    PetscCall(svhn_labels(wr, sp, m, dims, ndims, &t, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode svhn_file_body(PofConvWriter *wr, int sp, MatIn *m, const char *path)
{
  unsigned char hdr[128];
  SvhnVars      v = { 0, 0, 0, 0 };
  struct stat   st;
  PetscFunctionBegin;
  m->f = fopen(path, "rb");
  PetscCheck(m->f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open SVHN file '%s': %s", path,
             strerror(errno));
  PetscCheck(fstat(fileno(m->f), &st) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ,
             "cannot stat '%s': %s", path, strerror(errno));
  m->size = (long long)st.st_size;
  PetscCheck(m->size >= 128, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' is not a MATLAB v5 .mat file: %lld bytes, shorter than the 128-byte header",
             path, m->size);
  PetscCall(mat_read(m, hdr, 128, "the header"));
  PetscCheck(memcmp(hdr, "MATLAB 7.3", 10) != 0, PETSC_COMM_SELF, PETSC_ERR_SUP,
             "'%s' is a MATLAB v7.3 (HDF5-based) .mat file, which is not supported: save it as v7 "
             "(MATLAB save -v7, or scipy.io.savemat)",
             path);
  PetscCheck(memcmp(hdr, "MATLAB 5.0 MAT-file", 19) == 0, PETSC_COMM_SELF,
             PETSC_ERR_FILE_UNEXPECTED,
             "'%s' is not a MATLAB v5 .mat file: wrong magic (its header must start with 'MATLAB "
             "5.0 MAT-file'; v4 files are not supported)",
             path);
  PetscCheck((hdr[126] == 'I' && hdr[127] == 'M') || (hdr[126] == 'M' && hdr[127] == 'I'),
             PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s': bad byte-order mark in the .mat header", path);
  m->swap =
      (hdr[126] == 'M') == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__); /* 'IM' = little endian */
  for (;;) {
    const long long pos = (long long)ftello(m->f);
    MatTag          t;
    if (pos == m->size) break;
    PetscCheck(m->size - pos >= 8, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s' is truncated: %lld stray bytes at its end", path, m->size - pos);
    PetscCall(mat_tag(m, &t, "a data element tag"));
    PetscCheck(!t.small, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
               "'%s': corrupt top-level data element at byte %lld", path, pos);
    const long long end = pos + 8 + (long long)(t.type == miCOMPRESSED ? t.nbytes : pad8(t.nbytes));
    PetscCheck(end <= m->size + (t.type == miCOMPRESSED ? 0 : 7), PETSC_COMM_SELF,
               PETSC_ERR_FILE_UNEXPECTED,
               "'%s' is truncated: the data element at byte %lld declares %u bytes but the file "
               "has only %lld",
               path, pos, t.nbytes, m->size - pos - 8);
    if (t.type == miCOMPRESSED) {
      MatTag inner;
      PetscCall(PetscMalloc1(ZIN_BYTES, &m->zin));
      PetscCheck(inflateInit(&m->z) == Z_OK, PETSC_COMM_SELF, POF_ERR_LIB,
                 "zlib inflateInit failed");
      m->inflating = 1;
      m->zleft     = t.nbytes;
      PetscCall(mat_tag(m, &inner, "a compressed data element"));
      if (inner.type == miMATRIX) PetscCall(mat_matrix(wr, sp, m, inner.nbytes, &v));
      PetscCall(mat_drain(m));
      inflateEnd(&m->z);
      PetscCall(PetscMemzero(&m->z, sizeof(m->z)));
      PetscCall(PetscFree(m->zin));
      m->inflating = 0;
    } else if (t.type == miMATRIX) {
      PetscCall(mat_matrix(wr, sp, m, t.nbytes, &v));
    }
    PetscCheck(fseeko(m->f, (off_t)PetscMin(end, m->size), SEEK_SET) == 0, PETSC_COMM_SELF,
               PETSC_ERR_FILE_READ, "'%s': seek failed", path);
  }
  fclose(m->f);
  m->f = NULL;
  PetscCheck(v.have_x, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' has no variable X (the images)", path);
  PetscCheck(v.have_y, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "'%s' has no variable y (the labels)", path);
  PetscCheck(v.nx == v.ny, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "count mismatch in '%s': X holds %llu images but y holds %llu labels", path,
             (unsigned long long)v.nx, (unsigned long long)v.ny);
  PetscCall(pof_conv_source(wr, path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One .mat file; closed, and its zlib stream ended, on error too. */
static PetscErrorCode svhn_file(PofConvWriter *wr, int sp, const char *path)
{
  MatIn          m;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCall(PetscMemzero(&m, sizeof(m)));
  m.path = path;
  ierr   = svhn_file_body(wr, sp, &m, path);
  if (m.f) fclose(m.f);
  if (m.inflating) inflateEnd(&m.z);
  PetscCall(PetscFree(m.zin));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_conv_read_svhn(PofConvWriter *wr, const PofConvertConfig *cfg)
{
  char path[POF_PATH_MAX + 32];
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/train_32x32.mat", cfg->input_dir));
  PetscCall(svhn_file(wr, 0, path));
  if (cfg->svhn_extra) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/extra_32x32.mat", cfg->input_dir));
    PetscCall(svhn_file(wr, 0, path));
  }
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/test_32x32.mat", cfg->input_dir));
  PetscCall(svhn_file(wr, 1, path));
  PetscFunctionReturn(PETSC_SUCCESS);
}
