/* Internals of pof convert: the HDF5 writer (convert.c) and the raw-format readers
   (convert_raw.c), which push samples into the writer and never call HDF5 themselves. */
#ifndef POF_IO_CONVERT_IMPL_H
#define POF_IO_CONVERT_IMPL_H

#include "pof/convert.h"

#include <hdf5.h>

#define POF_CONV_MAX_CHANNELS 16
/* largest image (C x H x W bytes) a reader buffers: 64 MiB, e.g. 4096 x 4096 x 4 */
#define POF_CONV_MAX_SAMPLE_BYTES ((size_t)1 << 26)

/* One split being written. */
typedef struct {
  hid_t    group, images, labels;            /* < 0 until created */
  uint64_t n_images, n_labels;               /* written so far */
  int32_t  max_label;                        /* largest label so far, -1 = none */
  int64_t  max_label_at;                     /* its sample index within max_label_file */
  char     max_label_file[POF_PATH_MAX];     /* the file it came from */
  uint64_t hist[POF_CONV_MAX_CHANNELS][256]; /* pixel histogram (training split only) */
} PofConvSplit;

/* The output file and what is known of the dataset so far. */
typedef struct {
  hid_t        file;
  int          c, h, w;                  /* 0 until the first image source sets them */
  char         shape_from[POF_PATH_MAX]; /* the file that set them */
  int          classes;                  /* fixed by the format; 0 = 1 + largest training label */
  PofConvSplit split[2];                 /* 0 = train, 1 = test */
  char        *provenance;               /* "path bytes=N crc32=X; ..." */
  size_t       prov_len, prov_cap;
} PofConvWriter;

/* Image shape of every source; the first call fixes it, later calls must agree (file names the
 * source). */
PetscErrorCode pof_conv_shape(PofConvWriter *wr, int c, int h, int w, const char *file);
/* Append count images (count x C x H x W uint8) to split sp (0 train, 1 test). */
PetscErrorCode pof_conv_images(PofConvWriter *wr, int sp, const uint8_t *buf, size_t count);
/* Append count labels; lab[i] is sample first + i of `file` (for messages); checked against classes
 * when fixed. */
PetscErrorCode pof_conv_labels(PofConvWriter *wr, int sp, const int32_t *lab, size_t count,
                               const char *file, uint64_t first);
/* Record a source file in the provenance attribute (its size and CRC-32 of its bytes). */
PetscErrorCode pof_conv_source(PofConvWriter *wr, const char *path);

/* The format readers (convert_raw.c). */
PetscErrorCode pof_conv_read_idx(PofConvWriter *wr, const PofConvertConfig *cfg);
PetscErrorCode pof_conv_read_cifar(PofConvWriter *wr, const PofConvertConfig *cfg);
PetscErrorCode pof_conv_read_svhn(PofConvWriter *wr, const PofConvertConfig *cfg);

#endif
