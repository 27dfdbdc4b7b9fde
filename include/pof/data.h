/**
 * @file data.h
 * @brief Datasets in parallel HDF5: exact global shuffling across ranks, augmentation, evaluation.
 *
 * File layout (written by pof convert, pof/convert.h): groups /train and /test, each with
 * `images` (uint8, N x C x H x W) and `labels` (integer, N); root attributes `classes`,
 * `channels`, `height`, `width` (int), `mean`, `std` (double[C], over the training pixels
 * scaled to [0,1]), `name` and `provenance` (strings).
 *
 * Parallel layout: every split is held as contiguous slabs, rank r of P holding samples
 * [floor(r*N/P), floor((r+1)*N/P)) (pof_data_share_lo), read collectively with the MPI-IO
 * driver. For each batch, the uint8 samples (and labels) move with one all-to-all to the rank
 * that needs them (src/comm/exchange.c); augmentation and normalization then run locally.
 * With -data_replicate every rank holds the whole dataset and nothing moves (same results).
 *
 * Reproducibility: which samples form global batch (epoch, step), in which order, and how
 * each is augmented depend only on (seed, epoch, step, slot), never on the rank count:
 *   epoch permutation: perm = 0..n-1; r = stream (seed, POF_RNG_ORDER, epoch, 0, 0);
 *                      for i = n-1 down to 1: j = pof_rng_below(r, i+1); swap(perm[i], perm[j])
 *   training batch:    idx[s] = perm[step*B + s], s in [0, B)
 *   weak batch:        r = stream (seed, POF_RNG_WEAK_INDEX, epoch, step, 0);
 *                      idx[s] = pof_rng_below(r, n) for s = 0, 1, ..., B-1 (with replacement)
 *   augmentation:      stream (seed, POF_RNG_AUG or POF_RNG_WEAK_AUG, epoch, step, s),
 *                      recipe in pof/augment.h
 * where n = n_train (after -data_train_subset) and the rank split of a global batch of B is
 * slots [r*B/P, (r+1)*B/P). tests/data/ref_loader.py reimplements all of it in Python.
 *
 * Thread safety: a PofDataset is used by one thread of each rank at a time.
 */
#ifndef POF_DATA_H
#define POF_DATA_H

#include "pof/config.h"

#define POF_DATA_MAX_CHANNELS 16

typedef enum { POF_SPLIT_TRAIN = 0, POF_SPLIT_TEST = 1 } PofSplit;

/** What a dataset holds. Plain value. */
typedef struct {
  PetscInt n_train; /**< training samples in use (after -data_train_subset) */
  PetscInt n_test;  /**< test samples */
  PetscInt c, h, w; /**< image shape */
  PetscInt classes; /**< class count (labels are in [0, classes)) */
  double   mean[POF_DATA_MAX_CHANNELS],
      std[POF_DATA_MAX_CHANNELS]; /**< per channel, training pixels in [0,1] */
  char name[64];                  /**< dataset name attribute, e.g. "fashion-mnist" */
} PofDatasetInfo;

typedef struct PofDataset_s *PofDataset;

/**
 * Open the HDF5 file `path` (written by pof convert) on every rank of comm and read this
 * rank's slab of each split (or everything with cfg->replicate). cfg: the -data_* options
 * (cfg->file is not used; path is); seed: -run_seed, the key of every random stream here.
 * Bad input (missing or non-HDF5 file, missing group/dataset/attribute, inconsistent shapes,
 * a label outside [0, classes), -data_train_subset larger than the training set) is an error
 * naming the file and the problem, raised on every rank. Collective on comm; *ds is owned by
 * the caller (pof_dataset_destroy).
 */
PetscErrorCode pof_dataset_open(MPI_Comm comm, const char *path, const PofDataConfig *cfg,
                                PetscInt seed, PofDataset *ds);

/**
 * Same as pof_dataset_open from an in-memory HDF5 file image (the bytes of such a file);
 * every rank passes the same bytes. The buffer is copied; the caller keeps ownership.
 * Collective on comm.
 */
PetscErrorCode pof_dataset_open_image(MPI_Comm comm, const void *buf, size_t len,
                                      const PofDataConfig *cfg, PetscInt seed, PofDataset *ds);

/** Free everything; accepts NULL and *ds == NULL, leaves *ds = NULL. Not collective. */
PetscErrorCode pof_dataset_destroy(PofDataset *ds);

/** Copy the dataset's description into *info. Not collective. */
PetscErrorCode pof_dataset_get_info(PofDataset ds, PofDatasetInfo *info);

/** Full global batches per epoch: floor(n_train / global_batch) (the last partial batch is
 * dropped). Not collective. */
PetscInt pof_dataset_batches_per_epoch(PofDataset ds, PetscInt global_batch);

/**
 * Global training batch `step` (0 <= step < batches_per_epoch) of `epoch` (0 <= epoch < 2^24),
 * global_batch B divisible by the rank count P (else an error). This rank receives slots
 * [r*B/P, (r+1)*B/P): x (B/P, C, H, W) float32 plain NCHW, augmented per cfg with the stream
 * (seed, POF_RNG_AUG, epoch, step, slot) and normalized with the file's mean/std; y (B/P)
 * labels. Identical global batches for any rank count. Collective on the dataset's comm;
 * x and y are the caller's buffers.
 */
PetscErrorCode pof_dataset_train_batch(PofDataset ds, PetscInt epoch, PetscInt step,
                                       PetscInt global_batch, float *x, int32_t *y);

/**
 * PoF weak batch: B global indices drawn uniformly WITH replacement from [0, n_train) with the
 * stream (seed, POF_RNG_WEAK_INDEX, epoch, step, 0) in slot order, augmented with the stream
 * (seed, POF_RNG_WEAK_AUG, epoch, step, slot). Same rank split and buffers as
 * pof_dataset_train_batch; step may be any value >= 0. Collective.
 */
PetscErrorCode pof_dataset_weak_batch(PofDataset ds, PetscInt epoch, PetscInt step,
                                      PetscInt global_batch, float *x, int32_t *y);

/**
 * Evaluation: samples [start, start+count) of the split (train = the n_train samples in use),
 * no augmentation, normalized. Rank r gets the contiguous share
 * [start + floor(r*count/P), start + floor((r+1)*count/P)) (shares differ by at most 1; count
 * need not divide); *nlocal = its size. x must hold ceil(count/P) samples (C*H*W floats each),
 * y ceil(count/P) labels. Looping start = 0, Be, 2Be, ... with count = min(Be, n - start)
 * covers every sample exactly once at any rank count. Collective.
 */
PetscErrorCode pof_dataset_eval_batch(PofDataset ds, PofSplit split, PetscInt start, PetscInt count,
                                      float *x, int32_t *y, PetscInt *nlocal);

/** The global sample indices idx[B] of training batch (epoch, step) (for tests and the PoF
 * fixture). Not collective. */
PetscErrorCode pof_dataset_train_indices(PofDataset ds, PetscInt epoch, PetscInt step,
                                         PetscInt global_batch, PetscInt *idx);

/** The global sample indices idx[B] of weak batch (epoch, step). Not collective. */
PetscErrorCode pof_dataset_weak_indices(PofDataset ds, PetscInt epoch, PetscInt step,
                                        PetscInt global_batch, PetscInt *idx);

/** The epoch permutation perm[n] of 0..n-1 (recipe in the file comment). Pure, not collective. */
void pof_data_epoch_perm(PetscInt seed, PetscInt epoch, PetscInt n, PetscInt *perm);

/** Start of part `part` of the contiguous partition of n items into `parts`: floor(part*n/parts).
 * Pure. */
static inline PetscInt pof_data_share_lo(PetscInt n, PetscInt parts, PetscInt part)
{
  return (PetscInt)(((int64_t)part * n) / parts);
}

/** The part of the partition above that holds item i (0 <= i < n). Pure. */
static inline PetscInt pof_data_share_owner(PetscInt n, PetscInt parts, PetscInt i)
{
  return (PetscInt)((((int64_t)i + 1) * parts - 1) / n);
}

#endif
