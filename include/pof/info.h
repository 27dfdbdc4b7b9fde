/**
 * @file info.h
 * @brief What kind of pof file a path is (pof info). Local: no MPI, no collective call.
 */
#ifndef POF_INFO_H
#define POF_INFO_H

#include "pof/core.h"

typedef enum {
  POF_FILE_OTHER = 0, /**< not a pof file (not HDF5, or HDF5 without pof's layout) */
  POF_FILE_DATASET,   /**< written by pof convert: /train, /test and a classes attribute */
  POF_FILE_CHECKPOINT /**< a checkpoint or model file: /params and a format_version attribute */
} PofFileKind;
extern const char *const PofFileKindNames[]; /**< "other", "dataset", "checkpoint" */

/**
 * Look at the file `path` (HDF5 opened read-only, serially, without file locking) and say what
 * it is by its layout alone (nothing is validated: the readers do that). For POF_FILE_OTHER, why
 * (len bytes) says what the file is instead. Errors only on a failed library call.
 */
PetscErrorCode pof_file_probe(const char *path, PofFileKind *kind, char *why, size_t len);

/** Whether the HDF5 file `path` has a link `name` (e.g. "tensors"); PETSC_FALSE if unreadable. */
PetscErrorCode pof_file_has_group(const char *path, const char *name, PetscBool *yes);

#endif
