/**
 * @file pof.h
 * @brief The PoF perturbation-range search on weak-batch features (POF.md steps 3-7).
 *
 * Works on features only: with z0_i = W0 h'_i + b0 and u_i = G h'_i + g_b (G, g_b the classifier
 * gradient at θ0), the logits at θ0 − η g are z0_i − η u_i, so every bracket and grid trial is a
 * batched small product, not a network pass. All sums are in double. Reductions go through
 * PofSumFn callbacks (an MPI_Allreduce in src/comm, or NULL for none): one for the direction
 * (weak loss L0 and g), one for all bracket trials (with the curvature sum), one for all grid
 * points.
 */
#ifndef POF_POF_H
#define POF_POF_H

#include "pof/config.h"
#include "pof/nn.h"

/** Outcome of one range search. */
typedef struct {
  double    L0;        /**< weak loss at θ0 (mean over the weak batch) */
  double    eta_max;   /**< bracket end */
  double    eta_star;  /**< grid argmin */
  double    gamma;     /**< expansion factor used */
  double    gnorm;     /**< ‖g‖ */
  double    pert_norm; /**< ‖θ̃ − θ0‖ = γ η* ‖g‖ */
  double    kappa;     /**< gᵀ H g / ‖g‖² at θ0 on the weak features */
  PetscBool capped;    /**< no bracket trial raised the loss: η_max = η_cap */
  PetscBool rejected;  /**< the same with -pof_flat reject: no perturbation */
  PetscInt  trials;    /**< bracket trials evaluated */
} PofRangeResult;

/** Reductions of one search: dir_sum over everyone sharing g; range_sum over everyone sharing
    the bracket and grid (the same in global mode; NULL = this rank alone in local mode). */
typedef struct {
  PofSumFn dir_sum;
  void    *dir_ctx;
  PofSumFn range_sum;
  void    *range_ctx;
} PofRangeComm;

/**
 * Range search of one PoF step. h (n × F float) and y are this rank's share of the weak batch,
 * `weak_global` the size of the weak batch shared by dir_sum. W0 (C × F) and b0 (C) are θ0 in
 * double. gamma is the expansion factor (drawn by the caller from the shared γ stream).
 * Writes the perturbed classifier θ̃ = θ0 − γ η* g into Wt, bt (float) and the diagnostics into
 * res.
 * Collective through the callbacks. Scratch memory is allocated per call.
 */
PetscErrorCode pof_range_search(const PofPofConfig *cfg, const PofRangeComm *rc, PetscInt F,
                                PetscInt C, const double *W0, const double *b0, PetscInt n,
                                const float *h, const int32_t *y, PetscInt weak_global,
                                double gamma, float *Wt, float *bt, PofRangeResult *res);

/** γ of (seed, epoch, step, slot): Uniform[0, gamma_max) from the POF_RNG_GAMMA stream. */
double pof_gamma_draw(PetscInt seed, PetscInt epoch, PetscInt step, PetscInt slot,
                      double gamma_max);

#endif
