/**
 * @file image.h
 * @brief In-memory HDF5 file images standing in for files on disk (pof sweep).
 *
 * pof sweep reads the dataset file and the starting model once (rank 0), broadcasts their bytes
 * to every rank and registers them here under their path. While a path is registered,
 * pof_dataset_open() and the checkpoint readers (pof_ckpt_read_meta, pof_ckpt_read)
 * open the image with HDF5's core driver
 * (H5Pset_file_image) instead of the file: same bytes, so the same results, without
 * touching the file system once per run. Only exact path strings match. The caller keeps the
 * buffer alive until it unregisters it. Registration is per process (not collective); every
 * rank of a communicator must register the same paths, or they would open different things.
 */
#ifndef POF_IMAGE_H
#define POF_IMAGE_H

#include "pof/core.h"

/** Register buf[len] (an HDF5 file's bytes) for `path`; replaces an earlier image of path. */
PetscErrorCode pof_file_image_register(const char *path, const void *buf, size_t len);
/** Forget the image of `path` (no-op if none). */
PetscErrorCode pof_file_image_unregister(const char *path);
/** The image registered for path in buf and len, or buf = NULL. Not collective. */
void pof_file_image_lookup(const char *path, const void **buf, size_t *len);

#endif
