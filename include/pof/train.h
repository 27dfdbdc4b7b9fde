/**
 * @file train.h
 * @brief Training steps on a PofWrn: loss + gradient of a batch, SGD updates, synthetic data.
 */
#ifndef POF_TRAIN_H
#define POF_TRAIN_H

#include "pof/config.h"
#include "pof/nn.h"

/**
 * Forward + backward of one local batch through φ and the classifier (W, b) (NULL = the
 * model's own θ). Loss = Σ CE / global_batch, so per-rank gradients sum to the global-batch
 * gradient. Writes the gradient of φ into the model's gradient arena and, when classifier_grad
 * is true, the gradient of θ into its tail (else zeros). BN running statistics are updated when
 * update_running is true (SAM's second pass passes false). Returns the local CE sum and error
 * count. Collective only through the model's BN-sum hook.
 */
PetscErrorCode pof_train_loss_grad(PofWrn m, PetscInt n, const float *x, const int32_t *y,
                                   PetscInt global_batch, const float *W, const float *b,
                                   PetscBool classifier_grad, PetscBool update_running,
                                   double *loss_sum, PetscInt *wrong);

/** Evaluation forward of a local batch (BN in eval mode): CE sum and error count. Local. */
PetscErrorCode pof_eval_batch(PofWrn m, PetscInt n, const float *x, const int32_t *y,
                              double *loss_sum, PetscInt *wrong);

/**
 * After the first step: when any convolution of m runs a oneDNN reference (`ref:`) kernel on
 * any rank, rank 0 prints one warning naming the CPU ISA (reference kernels are ~1000x slower;
 * on CPUs without AVX-512 oneDNN 2.6 has them only for bf16). Collective.
 */
PetscErrorCode pof_warn_reference_kernels(MPI_Comm comm, PofWrn m, const char *cmd);

/**
 * With -precision bf16 on a CPU where oneDNN emulates bf16 (pof_nn_bf16_support() ==
 * POF_BF16_EMULATED: avx512_core without avx512_bf16 or AMX), time one forward+backward step of
 * a fresh WRN of `shape` in bf16 and in fp32 on min(n, 8) synthetic images (each rank, local) and
 * print one warning from rank 0 with the slowdown. Nothing where bf16 is native. Collective only
 * through rank-0 printing.
 */
PetscErrorCode pof_warn_bf16_speed(MPI_Comm comm, const PofWrnShape *shape, PetscInt n,
                                   const char *cmd);

/** Synthetic batch for benchmarks: x ~ N(0,1), y uniform, from stream (seed, SYNTH, step). */
void pof_synthetic_batch(PetscInt seed, PetscInt step, PetscInt first, PetscInt n,
                         PetscInt sample_len, PetscInt classes, float *x, int32_t *y);

#endif
