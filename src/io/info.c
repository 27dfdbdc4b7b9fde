/* What kind of pof file a path is: see include/pof/info.h. */
#include "h5util.h"
#include "pof/info.h"

#include <string.h>

const char *const PofFileKindNames[] = { "other", "dataset", "checkpoint" };

static PetscErrorCode probe_body(const char *path, hid_t *fapl, hid_t *fid, PofFileKind *kind,
                                 char *why, size_t len)
{
  PetscFunctionBegin;
  PofCallH5Id(*fapl, H5Pcreate(H5P_FILE_ACCESS));
  PofCallH5(H5Pset_file_locking(*fapl, 0, 1));
  if (H5Fis_hdf5(path) <= 0) {
    snprintf(why, len, "not an HDF5 file");
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  pof_h5_file_set(path);
  *fid = H5Fopen(path, H5F_ACC_RDONLY, *fapl);
  if (*fid < 0) {
    snprintf(why, len, "an HDF5 file that cannot be opened");
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (H5Aexists(*fid, "format_version") > 0 && H5Lexists(*fid, "params", H5P_DEFAULT) > 0)
    *kind = POF_FILE_CHECKPOINT;
  else if (H5Lexists(*fid, "train", H5P_DEFAULT) > 0 && H5Lexists(*fid, "test", H5P_DEFAULT) > 0 &&
           H5Aexists(*fid, "classes") > 0)
    *kind = POF_FILE_DATASET;
  else
    snprintf(why, len,
             "an HDF5 file without pof's layout (neither /params with a format_version "
             "attribute nor /train, /test with a classes attribute)");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_file_probe(const char *path, PofFileKind *kind, char *why, size_t len)
{
  hid_t          fapl = -1, fid = -1;
  PofH5Quiet     q;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  *kind  = POF_FILE_OTHER;
  why[0] = 0;
  pof_h5_quiet_begin(&q);
  ierr = probe_body(path, &fapl, &fid, kind, why, len);
  if (fid >= 0) (void)H5Fclose(fid);
  if (fapl >= 0) (void)H5Pclose(fapl);
  (void)H5Eclear2(H5E_DEFAULT);
  pof_h5_quiet_end(&q);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_file_has_group(const char *path, const char *name, PetscBool *yes)
{
  hid_t      fapl = -1, fid = -1;
  PofH5Quiet q;
  PetscFunctionBegin;
  *yes = PETSC_FALSE;
  pof_h5_file_set(path);
  pof_h5_quiet_begin(&q);
  if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0 &&
      (fid = H5Fopen(path, H5F_ACC_RDONLY, fapl)) >= 0)
    *yes = H5Lexists(fid, name, H5P_DEFAULT) > 0 ? PETSC_TRUE : PETSC_FALSE;
  if (fid >= 0) (void)H5Fclose(fid);
  if (fapl >= 0) (void)H5Pclose(fapl);
  (void)H5Eclear2(H5E_DEFAULT);
  pof_h5_quiet_end(&q);
  PetscFunctionReturn(PETSC_SUCCESS);
}
