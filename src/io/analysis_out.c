/* HDF5 result file of pof analyze (layout in include/pof/analysis.h). Rank 0 writes with the
   default (serial) driver; the outcome is broadcast so every rank returns the same verdict. */
#include "h5util.h"
#include "pof/analysis.h"
#include "pof/comm.h"

#include <string.h>

static PetscErrorCode attr_d(hid_t loc, const char *name, double v)
{
  hid_t sp, a;
  PetscFunctionBegin;
  PofCallH5Id(sp, H5Screate(H5S_SCALAR));
  PofCallH5Id(a, H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, H5T_NATIVE_DOUBLE, &v));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode attr_i(hid_t loc, const char *name, PetscInt v)
{
  hid_t   sp, a;
  int64_t x = v;
  PetscFunctionBegin;
  PofCallH5Id(sp, H5Screate(H5S_SCALAR));
  PofCallH5Id(a, H5Acreate2(loc, name, H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, H5T_NATIVE_INT64, &x));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode attr_s(hid_t loc, const char *name, const char *v)
{
  hid_t sp, a, t;
  PetscFunctionBegin;
  PofCallH5Id(t, H5Tcopy(H5T_C_S1));
  PofCallH5(H5Tset_size(t, strlen(v) + 1));
  PofCallH5Id(sp, H5Screate(H5S_SCALAR));
  PofCallH5Id(a, H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
  PofCallH5(H5Awrite(a, t, v));
  PofCallH5(H5Aclose(a));
  PofCallH5(H5Sclose(sp));
  PofCallH5(H5Tclose(t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode dset(hid_t loc, const char *name, int rank, PetscInt d0, PetscInt d1,
                           const double *v)
{
  hsize_t dims[2] = { (hsize_t)d0, (hsize_t)d1 };
  hid_t   sp, d;
  PetscFunctionBegin;
  PofCallH5Id(sp, H5Screate_simple(rank, dims, NULL));
  PofCallH5Id(d,
              H5Dcreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (d0 > 0 && (rank == 1 || d1 > 0))
    PofCallH5(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
  PofCallH5(H5Dclose(d));
  PofCallH5(H5Sclose(sp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_spectrum(hid_t f, const char *name, const PofSpectrum *s)
{
  hid_t g;
  PetscFunctionBegin;
  PofCallH5Id(g, H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(dset(g, "eigenvalues", 1, s->k, 0, s->eig));
  PetscCall(dset(g, "residuals", 1, s->k, 0, s->resid));
  if (s->vec) PetscCall(dset(g, "eigenvectors", 2, s->k, s->n, s->vec));
  PetscCall(attr_i(g, "n", s->n));
  PetscCall(attr_i(g, "converged", s->nconv));
  PetscCall(attr_d(g, "trace", s->trace));
  PetscCall(attr_d(g, "trace_se", s->trace_se));
  PetscCall(attr_i(g, "probes", s->probes));
  PetscCall(attr_i(g, "hv_count", s->hv_count));
  PetscCall(attr_d(g, "seconds", s->seconds));
  PofCallH5(H5Gclose(g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_file(const char *path, const PofAnalysis *a)
{
  hid_t      f, g;
  PofH5Quiet q;
  PetscFunctionBegin;
  pof_h5_no_file_locking();
  pof_h5_quiet_begin(&q);
  pof_h5_file_set(path);
  f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  pof_h5_quiet_end(&q);
  PetscCheck(f >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create the analysis file '%s'",
             path);
  PetscCall(attr_s(f, "model", a->model));
  PetscCall(attr_s(f, "data", a->data));
  PetscCall(attr_s(f, "split", a->split));
  PetscCall(attr_i(f, "samples", a->samples));
  PetscCall(attr_i(f, "n_params", a->n_params));
  PetscCall(attr_i(f, "ranks", a->ranks));
  PetscCall(attr_d(f, "loss0", a->loss0));
  PetscCall(attr_d(f, "err0", a->err0));
  PetscCall(attr_d(f, "pof_gnorm", a->pof_gnorm));
  if (a->has_cls) PetscCall(write_spectrum(f, "classifier", &a->cls));
  if (a->has_net) PetscCall(write_spectrum(f, "network", &a->net));
  if (a->nkappa > 0) {
    hid_t   t, sp, d;
    hsize_t n = (hsize_t)a->nkappa;
    PofCallH5Id(g, H5Gcreate2(f, "kappa", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    PetscCall(dset(g, "values", 1, a->nkappa, 0, a->kappa));
    PofCallH5Id(t, H5Tcopy(H5T_C_S1));
    PofCallH5(H5Tset_size(t, sizeof(a->kappa_name[0])));
    PofCallH5Id(sp, H5Screate_simple(1, &n, NULL));
    PofCallH5Id(d, H5Dcreate2(g, "names", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    PofCallH5(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->kappa_name));
    PofCallH5(H5Dclose(d));
    PofCallH5(H5Sclose(sp));
    PofCallH5(H5Tclose(t));
    PofCallH5(H5Gclose(g));
  }
  if (a->n1 > 0 || a->n2 > 0) {
    PofCallH5Id(g, H5Gcreate2(f, "landscape", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (a->n1 > 0) {
      PetscCall(dset(g, "alpha1", 1, a->n1, 0, a->alpha1));
      PetscCall(dset(g, "loss_random", 1, a->n1, 0, a->land_rand));
      if (a->land_pof) PetscCall(dset(g, "loss_pof", 1, a->n1, 0, a->land_pof));
    }
    if (a->n2 > 0) {
      PetscCall(dset(g, "alpha2", 1, a->n2, 0, a->alpha2));
      PetscCall(dset(g, "loss_2d", 2, a->n2, a->n2, a->land2));
    }
    PofCallH5(H5Gclose(g));
  }
  PofCallH5(H5Fclose(f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_analysis_write(MPI_Comm comm, const char *path, const PofAnalysis *a)
{
  PetscMPIInt rank;
  double      failed = 0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscErrorCode ierr;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = write_file(path, a);
    PetscCall(PetscPopErrorHandler());
    if (ierr) failed = 1;
  }
  PetscCall(pof_comm_allreduce_max(comm, &failed, 1)); /* rank 0's verdict on every rank */
  PetscCheck(failed == 0, comm, PETSC_ERR_FILE_WRITE, "cannot write the analysis file '%s'", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}
