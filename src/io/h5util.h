/* HDF5 error checking for src/io: PofCallH5 names the failed call (negative return = error) and
   the file it was on. */
#ifndef POF_IO_H5UTIL_H
#define POF_IO_H5UTIL_H

#include "pof/core.h"

#include <hdf5.h>
#include <stdlib.h>

/** The file that src/io's HDF5 calls are on now, named in PofCallH5's errors ("" = none). Each
 * function that opens or creates an HDF5 file by path sets it just before (a copy: it may outlive
 * the caller's string); it is not reset afterwards, so an error on a file opened without it could
 * name the previous file: every H5Fopen/H5Fcreate of src/io sets it. Main thread only. */
extern char pof_h5_file[];
void        pof_h5_file_set(const char *path);

#define PofCallH5(call)                                                 \
  do {                                                                  \
    if ((call) < 0)                                                     \
      SETERRQ(PETSC_COMM_SELF, POF_ERR_LIB, "HDF5 call failed%s%s: %s", \
              pof_h5_file[0] ? " on " : "", pof_h5_file, #call);        \
  } while (0)

/** Like PofCallH5 but keeps the returned id: id = result or error. */
#define PofCallH5Id(id, call)                                                       \
  do {                                                                              \
    (id) = (call);                                                                  \
    PetscCheck((id) >= 0, PETSC_COMM_SELF, POF_ERR_LIB, "HDF5 call failed%s%s: %s", \
               pof_h5_file[0] ? " on " : "", pof_h5_file, #call);                   \
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

/** The most bytes the data of dataset `dset` can hold given what the file stores for it: the
 * stored bytes, or for a filtered (compressed) dataset 1100 times as many (deflate's ratio is at
 * most 1032). A few bytes of file may declare a dataset of any size, whose unwritten data HDF5
 * reads as fill values: readers compare the size they are about to allocate with this first.
 * 0 on error. */
static inline hsize_t pof_h5_max_data_bytes(hid_t dset)
{
  const hsize_t stored = H5Dget_storage_size(dset);
  const hid_t   dcpl   = H5Dget_create_plist(dset);
  int           nf     = 0;
  if (dcpl >= 0) {
    nf = H5Pget_nfilters(dcpl);
    (void)H5Pclose(dcpl);
  }
  return nf > 0 ? (stored > ((hsize_t)-1) / 1100 ? (hsize_t)-1 : stored * 1100) : stored;
}

/** Set HDF5_USE_FILE_LOCKING=FALSE unless the user set it (locking fails on many parallel file
 * systems). */
static inline void pof_h5_no_file_locking(void)
{
  (void)setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
}

#endif
