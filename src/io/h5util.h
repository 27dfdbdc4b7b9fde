/* HDF5 error checking for src/io: PofCallH5 names the failed call (negative return = error). */
#ifndef POF_IO_H5UTIL_H
#define POF_IO_H5UTIL_H

#include "pof/core.h"

#include <hdf5.h>

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

#endif
