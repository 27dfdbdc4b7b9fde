/* HDF5 error checking for src/io: PofCallH5 names the failed call (negative return = error). */
#ifndef POF_IO_H5UTIL_H
#define POF_IO_H5UTIL_H

#include "pof/core.h"

#include <hdf5.h>
#include <stdlib.h>

#define PofCallH5(call)                                                                   \
  do {                                                                                    \
    if ((call) < 0) SETERRQ(PETSC_COMM_SELF, POF_ERR_LIB, "HDF5 call failed: %s", #call); \
  } while (0)

/** Like PofCallH5 but keeps the returned id: id = result or error. */
#define PofCallH5Id(id, call)                                                           \
  do {                                                                                  \
    (id) = (call);                                                                      \
    PetscCheck((id) >= 0, PETSC_COMM_SELF, POF_ERR_LIB, "HDF5 call failed: %s", #call); \
  } while (0)

/** Saved HDF5 automatic error printing (see pof_h5_quiet_begin). */
typedef struct {
  H5E_auto2_t fn;
  void       *data;
} PofH5Quiet;

/** Stop HDF5 printing its error stack where pof checks and reports failures itself. */
static inline void pof_h5_quiet_begin(PofH5Quiet *q)
{
  if (H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data) < 0) q->fn = NULL, q->data = NULL;
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/** Restore what pof_h5_quiet_begin saved. */
static inline void pof_h5_quiet_end(const PofH5Quiet *q)
{
  (void)H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

/** Set HDF5_USE_FILE_LOCKING=FALSE unless the user set it (locking fails on many parallel file
 * systems). */
static inline void pof_h5_no_file_locking(void)
{
  (void)setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
}

#endif
