/* PoF range search on weak features. See include/pof/pof.h and POF.md. */
#include "pof/pof.h"
#include "pof/rng.h"

#include <math.h>

/* CE of one row of logits z0 - eta u (double). */
static double ce_row(PetscInt C, const double *z0, const double *u, double eta, PetscInt label)
{
  double mx = -INFINITY;
  for (PetscInt c = 0; c < C; c++) {
    const double z = z0[c] - eta * u[c];
    if (z > mx) mx = z;
  }
  double se = 0;
  for (PetscInt c = 0; c < C; c++) se += exp(z0[c] - eta * u[c] - mx);
  return mx + log(se) - (z0[label] - eta * u[label]);
}

static PetscErrorCode reduce(PofSumFn fn, void *ctx, double *buf, PetscInt n)
{
  PetscFunctionBegin;
  if (fn) PetscCall(fn(ctx, buf, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

double pof_gamma_draw(PetscInt seed, PetscInt epoch, PetscInt step, PetscInt slot, double gamma_max)
{
  PofRng r;
  pof_rng_init(&r, (uint64_t)seed, POF_RNG_GAMMA, (uint32_t)epoch, (uint32_t)step, (uint32_t)slot);
  return gamma_max * pof_rng_uniform(&r);
}

PetscErrorCode pof_range_search(const PofPofConfig *cfg, const PofRangeComm *rc, PetscInt F, PetscInt C, const double *W0, const double *b0, PetscInt n, const float *h, const int32_t *y, PetscInt weak_global, double gamma, float *Wt, float *bt, PofRangeResult *res)
{
  double  *z0, *p, *u, *dir, *trial;
  PetscInt J = 0;
  PetscFunctionBegin;
  for (double e = cfg->eta_init; e <= cfg->eta_cap * (1 + 1e-12); e *= 2) J++;
  const PetscInt K  = cfg->partitions;
  const PetscInt nd = C * F + C + 2; /* g_W, g_b, L0 sum, weak count */
  PetscCall(PetscMalloc5(n * C, &z0, n * C, &p, n * C, &u, nd, &dir, PetscMax(J, K) + 2, &trial));
  PetscCall(PetscArrayzero(dir, nd));
  for (PetscInt i = 0; i < n; i++) PetscCheck(y[i] >= 0 && y[i] < C, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "weak label %d out of range [0, %" PetscInt_FMT ")", (int)y[i], C);

  /* 3. direction: z0, p, local L0 and gradient sums */
  double L0_local = 0;
  for (PetscInt i = 0; i < n; i++) {
    double *zi = z0 + i * C, *pi = p + i * C, mx = -INFINITY, se = 0;
    for (PetscInt c = 0; c < C; c++) {
      double s = b0[c];
      for (PetscInt f = 0; f < F; f++) s += W0[c * F + f] * (double)h[i * F + f];
      zi[c] = s;
      if (s > mx) mx = s;
    }
    for (PetscInt c = 0; c < C; c++) se += exp(zi[c] - mx);
    const double lse = mx + log(se);
    L0_local += lse - zi[y[i]];
    for (PetscInt c = 0; c < C; c++) {
      pi[c]           = exp(zi[c] - lse);
      const double d  = pi[c] - (c == y[i] ? 1.0 : 0.0);
      double      *gW = dir + c * F;
      for (PetscInt f = 0; f < F; f++) gW[f] += d * (double)h[i * F + f];
      dir[C * F + c] += d;
    }
  }
  dir[C * F + C]     = L0_local;
  dir[C * F + C + 1] = (double)n;
  PetscCall(reduce(rc->dir_sum, rc->dir_ctx, dir, nd));
  const double Bw = dir[C * F + C + 1];
  PetscCheck(Bw == (double)weak_global, PETSC_COMM_SELF, PETSC_ERR_PLIB, "weak batch count %g differs from %" PetscInt_FMT, Bw, weak_global);
  for (PetscInt k = 0; k < C * F + C; k++) dir[k] /= Bw; /* g */
  const double *gW = dir, *gb = dir + C * F;
  double        gn = 0;
  for (PetscInt k = 0; k < C * F + C; k++) gn += dir[k] * dir[k];
  res->gnorm = sqrt(gn);
  res->L0    = dir[C * F + C] / Bw;

  /* u_i = G h_i + g_b; curvature sum Σ_i [Σ_c p u² − (Σ_c p u)²] */
  double kap = 0;
  for (PetscInt i = 0; i < n; i++) {
    double *ui = u + i * C, pu = 0, pu2 = 0;
    for (PetscInt c = 0; c < C; c++) {
      double s = gb[c];
      for (PetscInt f = 0; f < F; f++) s += gW[c * F + f] * (double)h[i * F + f];
      ui[c] = s;
      pu += p[i * C + c] * s;
      pu2 += p[i * C + c] * s * s;
    }
    kap += pu2 - pu * pu;
  }

  /* 4. bracket: all trials and the curvature in one reduction */
  const int    global = rc->range_sum != NULL || rc->dir_sum == NULL; /* range shared with g */
  const double Lref   = global ? dir[C * F + C] : L0_local;           /* sums over the same samples */
  for (PetscInt j = 0; j < J; j++) {
    const double eta = cfg->eta_init * ldexp(1.0, (int)j);
    double       s   = 0;
    for (PetscInt i = 0; i < n; i++) s += ce_row(C, z0 + i * C, u + i * C, eta, y[i]);
    trial[j] = s;
  }
  trial[J]     = kap;
  trial[J + 1] = (double)n;
  PetscCall(reduce(rc->range_sum, rc->range_ctx, trial, J + 2));
  res->kappa     = gn > 0 ? trial[J] / trial[J + 1] / gn : 0.0;
  res->trials    = J;
  PetscInt first = -1;
  for (PetscInt j = 0; j < J; j++)
    if (trial[j] > Lref) {
      first = j;
      break;
    }
  res->capped   = first < 0 ? PETSC_TRUE : PETSC_FALSE;
  res->rejected = (first < 0 && cfg->flat == POF_FLAT_REJECT) ? PETSC_TRUE : PETSC_FALSE;
  res->eta_max  = first >= 0 ? cfg->eta_init * ldexp(1.0, (int)first) : cfg->eta_cap;

  /* 5. grid: K points in one reduction; ties go to the smallest k */
  if (res->rejected) {
    res->eta_max = res->eta_star = 0;
  } else {
    for (PetscInt k = 1; k <= K; k++) {
      const double eta = (double)k * res->eta_max / (double)K;
      double       s   = 0;
      for (PetscInt i = 0; i < n; i++) s += ce_row(C, z0 + i * C, u + i * C, eta, y[i]);
      trial[k - 1] = s;
    }
    PetscCall(reduce(rc->range_sum, rc->range_ctx, trial, K));
    PetscInt best = 0;
    for (PetscInt k = 1; k < K; k++)
      if (trial[k] < trial[best]) best = k;
    res->eta_star = (double)(best + 1) * res->eta_max / (double)K;
  }

  /* 6-7. expansion and perturbation */
  res->gamma     = gamma;
  const double s = res->rejected ? 0.0 : gamma * res->eta_star;
  for (PetscInt k = 0; k < C * F; k++) Wt[k] = (float)(W0[k] - s * gW[k]);
  for (PetscInt c = 0; c < C; c++) bt[c] = (float)(b0[c] - s * gb[c]);
  res->pert_norm = s * res->gnorm;
  PetscCall(PetscFree5(z0, p, u, dir, trial));
  PetscFunctionReturn(PETSC_SUCCESS);
}
