/* The linear classifier and the softmax cross-entropy loss (plain C: tiny GEMMs on features). */
#include "pof/nn.h"

#include <math.h>

void pof_linear_forward(PetscInt n, PetscInt F, PetscInt C, const float *W, const float *b,
                        const float *h, float *logits)
{
#pragma omp parallel for schedule(static) if (n * C * F > 100000)
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt c = 0; c < C; c++) {
      double s = b ? b[c] : 0.0;
      for (PetscInt f = 0; f < F; f++) s += (double)W[c * F + f] * h[i * F + f];
      logits[i * C + c] = (float)s;
    }
  }
}

void pof_linear_backward(PetscInt n, PetscInt F, PetscInt C, const float *W, const float *h,
                         const float *dlogits, float *dW, float *db, float *dh)
{
  if (dW) {
#pragma omp parallel for schedule(static) if (n * C * F > 100000)
    for (PetscInt c = 0; c < C; c++) {
      for (PetscInt f = 0; f < F; f++) {
        double s = 0;
        for (PetscInt i = 0; i < n; i++) s += (double)dlogits[i * C + c] * h[i * F + f];
        dW[c * F + f] = (float)s;
      }
    }
  }
  if (db) {
    for (PetscInt c = 0; c < C; c++) {
      double s = 0;
      for (PetscInt i = 0; i < n; i++) s += dlogits[i * C + c];
      db[c] = (float)s;
    }
  }
  if (dh) {
#pragma omp parallel for schedule(static) if (n * C * F > 100000)
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt f = 0; f < F; f++) {
        double s = 0;
        for (PetscInt c = 0; c < C; c++) s += (double)dlogits[i * C + c] * W[c * F + f];
        dh[i * F + f] = (float)s;
      }
    }
  }
}

void pof_softmax_ce(PetscInt n, PetscInt C, const float *logits, const int32_t *labels,
                    double scale, double *loss_sum, PetscInt *wrong, float *dlogits)
{
  double   total = 0;
  PetscInt bad   = 0;
  for (PetscInt i = 0; i < n; i++) {
    const float *z   = logits + (size_t)i * (size_t)C;
    PetscInt     arg = 0;
    double       mx  = z[0];
    for (PetscInt c = 1; c < C; c++)
      if (z[c] > mx) mx = z[c], arg = c;
    double se = 0;
    for (PetscInt c = 0; c < C; c++) se += exp((double)z[c] - mx);
    // cppcheck-suppress invalidFunctionArg ; se >= 1: the largest term is exp(0)
    const double lse = mx + log(se);
    total += lse - (double)z[labels[i]];
    bad += arg != labels[i];
    if (dlogits) {
      for (PetscInt c = 0; c < C; c++) {
        const double p     = exp((double)z[c] - lse);
        dlogits[i * C + c] = (float)(scale * (p - (c == labels[i] ? 1.0 : 0.0)));
      }
    }
  }
  if (loss_sum) *loss_sum = total;
  if (wrong) *wrong = bad;
}
