/**
 * @file convert.h
 * @brief pof convert: raw datasets (IDX, CIFAR-10/100 binary, SVHN .mat) to one HDF5 file.
 *
 * Output layout (read by pof/data.h):
 *   /train/images, /test/images  uint8 N x C x H x W, chunked (about 1 MiB per chunk)
 *   /train/labels, /test/labels  int32 N, in [0, classes)
 *   root attributes: classes, channels, height, width (int32); mean, std (double[C], over
 *   the training pixels scaled to [0,1], population std); name (e.g. "fashion-mnist",
 *   "cifar10", "cifar100", "cifar100-coarse", "svhn", "svhn+extra"); source_format;
 *   provenance ("<path> bytes=<n> crc32=<hex>" per source file, "; "-separated; fixed-length
 *   strings); format_version = 1.
 * Inputs:
 *   idx      plain or gzip IDX (unsigned-byte type 0x08): images N x H x W (C = 1) and labels N;
 *            classes = 1 + the largest training label.
 *   cifar10  data_batch_1..5.bin (train), test_batch.bin (test): records of 1 label byte +
 *            3072 pixel bytes (3 x 32 x 32); 10 classes.
 *   cifar100 train.bin, test.bin: records of coarse and fine label bytes + 3072 pixels; 100
 *            fine classes, or the 20 coarse ones with -convert_cifar100_coarse.
 *   svhn     train_32x32.mat, test_32x32.mat (+ extra_32x32.mat appended to train with
 *            -convert_svhn_extra): MATLAB v5 files (as MATLAB -v7 or scipy.io.savemat write
 *            them, uncompressed or with miCOMPRESSED elements, either byte order) with X uint8
 *            H x W x C x N and y N x 1 (any real numeric type) in 1..10, 10 meaning digit 0.
 *            MATLAB v4 and v7.3 (HDF5-based) files are rejected with a clear error.
 * Bad input (missing file, wrong magic number, truncated file, unsupported type, zero or
 * mismatched dimensions, image/label count mismatch, label >= class count) is an error naming
 * the file and the problem. The file is written to "<output>.tmp.<pid>" and renamed to
 * <output> only when complete; on error the temporary file is removed.
 */
#ifndef POF_CONVERT_H
#define POF_CONVERT_H

#include "pof/config.h"

/** What pof convert wrote. Plain value. */
typedef struct {
  PetscInt n_train, n_test;
  PetscInt c, h, w;
  PetscInt classes;
  double   mean[16], std[16];
  char     name[64];
  char     output[POF_PATH_MAX];
} PofConvertSummary;

/**
 * Convert per cfg (the -convert_* options). Rank 0 reads the sources and writes the file with
 * the serial HDF5 driver; the other ranks wait and receive the summary. Collective on comm.
 * On bad input rank 0 returns the error (the program then stops every rank).
 */
PetscErrorCode pof_convert_run(MPI_Comm comm, const PofConvertConfig *cfg, PofConvertSummary *sum);

#endif
