/**
 * @file ckpt.h
 * @brief One checkpoint (= model file) in parallel HDF5: its format; write, validate, verify, read
 *        at any rank count. The run directory (names, the start point, pruning, the lock) is
 *        rundir.h.
 *
 * Every model file of `pof pretrain` / `pof posttrain` is a checkpoint, so every command can
 * start from any of them. File layout (format version POF_CKPT_FORMAT_VERSION):
 *
 *   /params      double[n_params]    master parameters (arena order of tests/ref/WRN_LAYOUT.md)
 *   /momentum    double[n_params]    optimizer state          (only when have_momentum = 1)
 *   /bn_running  float[n_bn_state]   BN running mean/var      (BN order of tests/ref/WRN_LAYOUT.md)
 *   /tensors/<name>                  the PyTorch state_dict by name and shape: virtual datasets of
 *                                    the /params and /bn_running slices, num_batches_tracked
 *                                    int64 = global_step (src/io/tensors.h; not read by pof)
 *   /theta0      double[n_theta0]    PoF's classifier θ0      (only when have_theta0 = 1),
 *                                    n_theta0 = n_params - n_feature = classes * (F + 1), F the
 * feature dimension  (W then b) attributes of "/": one per PofCkptMeta field (same name; integers
 * int64, reals double, strings fixed-length NUL-terminated, milestones int64[16]),
 * "format_version", "n_theta0", "writer" ("pof <version>"), CRC-32 checksums of every dataset
 * ("crc32_params", "crc32_momentum", "crc32_bn_running", "crc32_theta0": zlib CRC-32 of the
 * little-endian bytes in file order, 0 for an absent dataset) and "complete" = 1, written last. The
 *     fields post_lr and acc_* are optional when read (files of earlier versions lack them:
 *     they read as 0).
 *
 * Safety: a file is written under an unpredictable temporary name (pof_fs_tmp_name, fsutil.h) and
 * renamed to `path` (pof_fs_commit) only after
 * every rank's data is written, flushed (MPI_File_sync), the file closed, read back by rank 0 with
 * every checksum verified (pof_ckpt_verify_local), and fsync'ed; the directory is fsync'ed after
 * the rename. A reader therefore sees either the previous file or the complete new one, and a
 * file under a checkpoint name has verified once. The ranks agree on the outcome of every stage
 * of the write (create, metadata, each dataset, checksums, close, verify, rename): a failure on
 * any rank (disk full, quota, I/O error: one rank can hit it in the middle of a collective write)
 * makes every rank return the same error with code POF_ERR_STORAGE (exit 74) naming the file,
 * the stage, the failing rank's message and the free space, after the temporary is removed;
 * nothing else is touched, so earlier checkpoints stay intact. Files are validated on rank 0 with
 * the serial driver and the verdict is broadcast before any collective open, so a bad file gives
 * the same error on every rank and no rank waits in a collective call. Data are verified against
 * their CRC-32 after reading.
 *
 * HDF5 file locking is switched off per file (H5Pset_file_locking(fapl, 0, 1)), which has the
 * effect of HDF5_USE_FILE_LOCKING=FALSE without touching the environment; the environment
 * variable, when set, still takes precedence (HDF5's rule). HDF5's own error-stack printing is
 * silenced while files are probed/opened: the user sees pof's message, which quotes HDF5's
 * innermost error where that helps.
 *
 * Errors: every function returns a PETSc error with a message naming the file and the
 * problem. An error inside a collective HDF5 transfer leaves the file handle open (closing is
 * collective and the other ranks may be elsewhere): the caller is expected to stop every rank,
 * as pof's main() does with pof_abort_all(). The temporary file is removed by the failing rank.
 *
 * Not timed here: callers wrap the calls in pof_timer_start/stop(POF_T_CKPT_IO).
 */
#ifndef POF_CKPT_H
#define POF_CKPT_H

#include <petscvec.h>

#include "pof/config.h"
#include "pof/core.h"

#define POF_CKPT_FORMAT_VERSION 1
#define POF_CKPT_MAX_STATS \
  8 /**< per-step diagnostics a checkpoint carries through a mid-epoch resume */

/** Everything a checkpoint says about itself besides the arrays. Plain value: copy freely. */
typedef struct {
  /* model signature */
  PetscInt depth, width, base, in_c, in_h, in_w, classes;
  char     dataset[64]; /**< dataset name attribute of the data file ("" if synthetic) */
  PetscInt n_params, n_feature, n_bn_state;
  /* progress */
  char     kind[16];      /**< "pretrain" or "posttrain" */
  PetscInt epochs_done;   /**< completed epochs of this run's schedule (global epoch counter) */
  PetscInt step_in_epoch; /**< steps done inside the current epoch (0 at epoch boundaries) */
  PetscInt global_step;   /**< steps since the start of pretraining */
  PetscInt seed;
  PetscInt ranks; /**< rank count that wrote it (informational; set by pof_ckpt_write) */
  /* learning-rate schedule of pretraining, so posttrain can read it at the epoch where it starts */
  double   lr_base, lr_factor;
  PetscInt schedule; /**< PofScheduleKind value */
  PetscInt milestones[POF_MAX_MILESTONES], nmilestones, warmup_epochs, schedule_epochs;
  PetscInt run_start_epoch; /**< global epoch at which this run (pretrain or posttrain) started */
  PetscInt have_momentum;   /**< /momentum holds optimizer state (set by pof_ckpt_write) */
  PetscInt have_theta0;     /**< PoF: /theta0 stored (set by pof_ckpt_write) */
  /* PoF post-training: the learning rate fixed when the run started (POF.md), so a resume uses
     the same value; 0 = not recorded (pretraining, or a checkpoint written before pof 0.1.1) */
  double post_lr;
  /* the running epoch's figures at a mid-epoch checkpoint (all 0 at an epoch boundary), so the
     epoch's metrics row after a resume equals an uninterrupted run's: global loss sum and
     counts, PoF's capped/rejected steps and its per-step diagnostics (sum, sum of squares, n) */
  double   acc_loss;
  PetscInt acc_wrong, acc_seen, acc_capped, acc_rejected;
  double   acc_stat_s[POF_CKPT_MAX_STATS], acc_stat_s2[POF_CKPT_MAX_STATS];
  PetscInt acc_stat_n[POF_CKPT_MAX_STATS];
  /* RNG/data-order position is fully given by (seed, epochs_done, step_in_epoch) */
  char options_json[16384]; /**< the full option set of the run, one JSON object */
} PofCkptMeta;

/**
 * Write a checkpoint to `path` atomically (see the file comment). Collective on comm.
 *
 * master, momentum: MPI Vecs on comm of global size meta->n_params, any ownership; each is
 *   written as one global dataset with one hyperslab per rank and collective transfers
 *   (ranks owning nothing select nothing). momentum may be NULL (no optimizer state).
 * running: meta->n_bn_state floats, identical on every rank (rank 0's copy is written).
 * theta0: n_theta0 = n_params - n_feature = classes * (F + 1), F the feature dimension doubles
 * identical on every rank, or NULL (then n_theta0 is ignored). meta: identical on every rank; its
 * fields ranks, have_momentum and have_theta0 are ignored and written from comm's size and the
 * arguments. The caller keeps ownership of everything. Checks the arguments first (sizes, kind
 * "pretrain"/"posttrain", string termination) with an error naming the value; on any failure the
 * temporary file is removed and an existing file at `path` is untouched.
 */
PetscErrorCode pof_ckpt_write(MPI_Comm comm, const char *path, const PofCkptMeta *meta, Vec master,
                              Vec momentum, const float *running, const double *theta0,
                              PetscInt n_theta0);

/** Seconds the read-back verification of the last pof_ckpt_write took (rank 0's, on every rank). */
double pof_ckpt_last_verify_seconds(void);

/**
 * Read and validate the metadata of `path` into *meta (on every rank). Collective on comm.
 * Rank 0 probes the file and broadcasts the verdict; errors name the file and the problem:
 * missing/unreadable file, not an HDF5 file, truncated or damaged HDF5 file, not a pof
 * checkpoint, no "complete" mark, another format version, a missing or ill-typed attribute,
 * missing datasets, dataset lengths that disagree with n_params / n_bn_state / n_theta0.
 * Data are not read (their checksums are verified by pof_ckpt_read).
 */
PetscErrorCode pof_ckpt_read_meta(MPI_Comm comm, const char *path, PofCkptMeta *meta);

/**
 * Read the state of `path`. Collective on comm. Validates like pof_ckpt_read_meta first.
 * master, momentum: MPI Vecs on comm of global size meta.n_params with ANY ownership (a file
 *   written at 2 ranks reads at 1 or 4); each rank reads its own slice collectively.
 *   momentum may be NULL; non-NULL requires a file with optimizer state (have_momentum).
 * running: n_bn_state floats, filled on every rank (rank 0 reads, then broadcast).
 * theta0: n_theta0 doubles filled on every rank, or NULL; non-NULL requires have_theta0 and
 *   n_theta0 equal to the stored length.
 * Every dataset read is verified against its stored CRC-32 (error "... is corrupt").
 */
PetscErrorCode pof_ckpt_read(MPI_Comm comm, const char *path, Vec master, Vec momentum,
                             float *running, double *theta0, PetscInt n_theta0);

/**
 * Compare the signature of the checkpoint `path` (`have`, from pof_ckpt_read_meta) with the
 * model this run needs (`want`): depth, width, base, in_c, in_h, in_w, classes, the dataset
 * name when both are non-empty, then n_params, n_feature, n_bn_state. Error naming both models
 * and the first mismatch, e.g. "model file x.h5 is WRN-16-4 (base 16, 1x28x28 input, 10
 * classes, dataset fashion-mnist), but this run needs WRN-28-10 (...): depth 16 != 28".
 * Collective on comm (no communication; have and want must be identical on every rank).
 */
PetscErrorCode pof_ckpt_check_signature(MPI_Comm comm, const char *path, const PofCkptMeta *have,
                                        const PofCkptMeta *want);

/**
 * A run that starts from the model file `path` (`have`, from pof_ckpt_read_meta) takes its shape
 * from the file; the shape options the user gave anyway (model->*_set) must agree with it. Errors
 * like "-model_depth 16 does not match model file pre/model.h5, a WRN-10-1 (...): a run from a
 * model file takes the file's shape; drop -model_depth". Collective on comm (no communication).
 */
PetscErrorCode pof_ckpt_check_shape_options(MPI_Comm comm, const char *path,
                                            const PofCkptMeta *have, const PofModelConfig *model);

/**
 * Verify the checkpoint `path` on this process alone: the pof_ckpt_read_meta checks and the
 * CRC-32 of every dataset (the whole file is read once, serially). PETSC_TRUE if it holds;
 * otherwise reason (len bytes) names the file and the first problem. Raises no error. Local.
 */
PetscBool pof_ckpt_verify_local(const char *path, char *reason, size_t len);

/**
 * pof_ckpt_verify_local that also gives the metadata (*have_meta) whenever they could be read,
 * also when the data fail their checksums (pof info). Local.
 */
PetscBool pof_ckpt_inspect_local(const char *path, PofCkptMeta *meta, PetscBool *have_meta,
                                 char *reason, size_t len);

/**
 * Largest number of elements one rank moves in one H5Dwrite/H5Dread call (default 2^26, i.e.
 * 512 MiB of doubles; larger slices are moved in pieces, so no MPI count exceeds 2^31 bytes).
 * For tests (small values exercise the piece loop); must be the same on every rank. Not collective.
 */
PetscErrorCode pof_ckpt_set_io_chunk(PetscInt elems);

#endif
