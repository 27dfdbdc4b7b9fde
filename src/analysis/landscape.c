/* Directions and loss landscapes: see include/pof/analysis.h. Grid points are evaluated
   collectively: every rank evaluates every point on its share of the subset, and the local
   sums of a whole landscape go through one reduction. */
#include "pof/analysis.h"
#include "pof/rng.h"

#include <math.h>

void pof_grid(PetscInt n, double r, double *alpha)
{
  for (PetscInt i = 0; i < n; i++)
    alpha[i] = n == 1 ? 0.0 : -r + 2.0 * r * (double)i / (double)(n - 1);
  if (n % 2 == 1) alpha[n / 2] = 0.0;
}

void pof_direction_filter_normalized(PofWrn m, const double *theta, PetscInt seed, PetscInt index,
                                     double *d)
{
  PetscInt             nt;
  const PofTensorInfo *t = pof_wrn_tensors(m, &nt);
  PofRng               r;
  pof_rng_init(&r, (uint64_t)seed, POF_RNG_DIRECTION, (uint32_t)index, 0, 0);
  for (PetscInt i = 0; i < pof_wrn_num_params(m); i++) d[i] = pof_rng_normal(&r);
  for (PetscInt k = 0; k < nt; k++) {
    const PofTensorInfo *T = &t[k];
    if (T->kind == POF_TENSOR_CONV || T->kind == POF_TENSOR_LINEAR_WEIGHT) {
      const PetscInt rows = T->dims[0], len = T->numel / rows;
      for (PetscInt o = 0; o < rows; o++) {
        double        nd = 0, nw = 0;
        double       *dd = d + T->offset + (size_t)o * (size_t)len;
        const double *w  = theta + T->offset + (size_t)o * (size_t)len;
        for (PetscInt j = 0; j < len; j++) {
          nd += dd[j] * dd[j];
          nw += w[j] * w[j];
        }
        const double s = nd > 0 ? sqrt(nw / nd) : 0.0;
        for (PetscInt j = 0; j < len; j++) dd[j] *= s;
      }
    } else
      for (PetscInt j = 0; j < T->numel; j++) d[T->offset + j] = 0.0;
  }
}

PetscErrorCode pof_landscape_1d(PofLossFn L, const double *theta, const double *d, PetscInt n,
                                const double *alpha, double *loss)
{
  PetscFunctionBegin;
  PetscCall(pof_lossfn_eval_points(L, theta, d, alpha, NULL, NULL, n, loss));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_landscape_2d(PofLossFn L, const double *theta, const double *d1,
                                const double *d2, PetscInt n, const double *alpha, double *loss)
{
  double *a1, *a2;
  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n * n, &a1, n * n, &a2));
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) {
      a1[i * n + j] = alpha[i];
      a2[i * n + j] = alpha[j];
    }
  PetscCall(pof_lossfn_eval_points(L, theta, d1, a1, d2, a2, n * n, loss));
  PetscCall(PetscFree2(a1, a2));
  PetscFunctionReturn(PETSC_SUCCESS);
}
