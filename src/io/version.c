/* HDF5 version string. */
#include "h5util.h"
#include "pof/io.h"

#include <stdio.h>

PetscErrorCode pof_io_hdf5_version(char *buf, size_t n)
{
  unsigned maj = 0, min = 0, rel = 0;
  PetscFunctionBegin;
  PofCallH5(H5get_libversion(&maj, &min, &rel));
  snprintf(buf, n, "%u.%u.%u (parallel)", maj, min, rel);
  PetscFunctionReturn(PETSC_SUCCESS);
}
