/**
 * @file io.h
 * @brief HDF5 I/O helpers shared by the datasets and checkpoints (src/io only calls HDF5).
 */
#ifndef POF_IO_H
#define POF_IO_H

#include "pof/core.h"

/** HDF5 library version "1.10.8". Not collective. */
PetscErrorCode pof_io_hdf5_version(char *buf, size_t n);

#endif
