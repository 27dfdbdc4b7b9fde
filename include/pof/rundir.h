/**
 * @file rundir.h
 * @brief The run directory of pretrain/posttrain (and the sweep directory): checkpoint names
 *        "ckpt-<global step, 10 digits>.h5", finding the start point (the newest good
 *        checkpoint), pruning, the directory check and the one-job lock.
 *
 * One checkpoint's file format is ckpt.h. Everything here is collective on the given
 * communicator: rank 0 looks at the file system and broadcasts what it found, so every rank
 * gets the same answer or the same error.
 */
#ifndef POF_RUNDIR_H
#define POF_RUNDIR_H

#include "pof/ckpt.h"

/**
 * Newest good checkpoint in `dir` among the files named exactly "ckpt-<10 digits>.h5" (the
 * digits are the global step, so name order is step order). Collective on comm: rank 0 tries
 * them newest first; a candidate is good when it passes the pof_ckpt_read_meta checks and every
 * dataset matches its stored CRC-32 (rank 0 reads the whole file once). The newer candidates
 * that failed are renamed "<name>.corrupt" (never deleted; ".corrupt.<k>" if taken), each named
 * with its reason in one warning on stderr (rank 0). On success *found = PETSC_TRUE and path
 * (len bytes) holds "<dir>/<name>" on every rank; *found = PETSC_FALSE if there is no candidate
 * or dir does not exist. Error (nothing renamed) when there are candidates but none is good: the
 * message lists each with its reason. Error if dir cannot be listed or the name does not fit.
 */
PetscErrorCode pof_rundir_find_latest(MPI_Comm comm, const char *dir, char *path, size_t len,
                                      PetscBool *found);

/**
 * Delete all but the newest `keep` (>= 1) "ckpt-<10 digits>.h5" files in dir, and stale
 * temporaries "ckpt-<10 digits>.h5.tmp.*" of interrupted writes. Other files are untouched.
 * Collective on comm (rank 0 deletes); a file that cannot be deleted gives a warning on rank 0.
 */
PetscErrorCode pof_rundir_prune(MPI_Comm comm, const char *dir, PetscInt keep);

/**
 * Make sure checkpoints can be written to dir before training starts: create dir with its
 * parents if missing (rank 0), check that it is a directory in which a file can be created
 * (rank 0 creates and removes a probe file), and that every rank sees it as a directory (a
 * node-local path on a multi-node job fails here, naming the first rank and host that cannot see
 * it). Error naming the directory and the reason otherwise. Collective on comm.
 */
PetscErrorCode pof_rundir_check(MPI_Comm comm, const char *dir);

/**
 * Claim dir for this job: rank 0 takes an exclusive fcntl() write lock on "<dir>/.pof-lock"
 * (opened with O_NOFOLLOW: a symbolic link there is refused with an error; created if missing
 * and left in place; it holds "pid <pid> host <host>" of the holder). If
 * another live process holds it (a second job started on the same run directory, or the ranks
 * of a killed mpirun that are still running), the error names the directory and the holder.
 * The kernel drops the lock when the holder exits, also on kill -9, so nothing stale remains.
 * On a file system without fcntl locks rank 0 prints one warning and goes on without a lock.
 * *lock is the descriptor on rank 0 (-1 elsewhere or without a lock); pof_rundir_unlock()
 * releases it. Collective on comm; dir must exist (pof_rundir_check).
 */
PetscErrorCode pof_rundir_lock(MPI_Comm comm, const char *dir, int *lock);

/**
 * Refuse a run directory in which one of the names pof writes (config.json, metrics.jsonl,
 * steps.jsonl, model.h5, result.json, result.csv, ckpt-<10 digits>.h5) is a symbolic link: a link
 * planted in a shared scratch directory would redirect a write. Error naming the link and its
 * target (which is not touched). Collective on comm (rank 0 looks).
 */
PetscErrorCode pof_rundir_refuse_links(MPI_Comm comm, const char *dir);

/** Release a lock of pof_rundir_lock (no-op for -1); sets *lock to -1. Local. */
void pof_rundir_unlock(int *lock);

/** "<dir>/ckpt-<global_step, 10 digits>.h5" into path (len bytes); error if it does not fit. Not
 * collective. */
PetscErrorCode pof_rundir_ckpt_name(const char *dir, PetscInt global_step, char *path, size_t len);

/**
 * Where a run starts (pof_rundir_start): its own newest good checkpoint (resume), the model file
 * -model_in, or nothing (scratch).
 */
typedef struct {
  PetscBool   resumed;            /**< start from own checkpoint `path` */
  PetscBool   from_model;         /**< start from the model file `path` (-model_in), not resumed */
  char        path[POF_PATH_MAX]; /**< the checkpoint or model file ("" from scratch) */
  PofCkptMeta meta;               /**< its metadata (valid when resumed or from_model) */
  int         lock;               /**< the run directory's lock (pof_rundir_unlock), -1 without */
} PofRunStart;

/** Checks of a -model_in file before the run directory is made (the shape options, ...). */
typedef PetscErrorCode (*PofModelCheck)(MPI_Comm comm, const char *path, const PofCkptMeta *meta,
                                        void *ctx);

/**
 * Resolve once where a run in `dir` starts. Collective on comm. In order:
 *  1. with resume = auto and any "ckpt-*.h5" in dir, the run resumes (-model_in is not read:
 *     the file may be gone by then); else, with model_in given, its metadata is read and
 *     `check` (may be NULL) is called, before the directory exists: a file that cannot serve
 *     stops a new run before anything is written;
 *  2. the directory is made and checked (pof_rundir_check), locked (pof_rundir_lock), and a
 *     symbolic link at an output name refused (pof_rundir_refuse_links);
 *  3. resume = no with checkpoints in dir is an error naming one of them;
 *  4. resume = auto: the newest good checkpoint (pof_rundir_find_latest: corrupt newer ones set
 *     aside) is the start point, its metadata read.
 * *out holds the result and the lock; on error the lock is released.
 */
PetscErrorCode pof_rundir_start(MPI_Comm comm, const char *dir, PetscBool resume_auto,
                                const char *model_in, PofModelCheck check, void *ctx,
                                PofRunStart *out);

/** Name of one "ckpt-<10 digits>.h5" in dir (the newest by name) into name, "" if none or no dir.
 * Collective. */
PetscErrorCode pof_rundir_any_checkpoint(MPI_Comm comm, const char *dir, char name[256]);

#endif
