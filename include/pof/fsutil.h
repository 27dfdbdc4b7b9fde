/**
 * @file fsutil.h
 * @brief File-system helpers every output of pof shares (checkpoints, model files, converter
 *        output, config.json, metrics rewrites, sweep summaries): temporary names, the atomic
 *        rename and the fsyncs that make it durable.
 *
 * A file is written under a temporary name next to its final one, fsync'ed, renamed over the
 * final name, and the directory is fsync'ed, so a reader (or a job killed at any point) sees
 * either the previous file or the complete new one. Temporary names are
 * "<path>.tmp.<pid>.<16 random hex digits>": unpredictable, so a name planted in a shared
 * directory cannot be guessed. All functions are local (no MPI) and return an errno value
 * (0 = success) with a message naming the file, so callers can agree across ranks.
 */
#ifndef POF_FSUTIL_H
#define POF_FSUTIL_H

#include "pof/core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** "<path>.tmp.<pid>.<random>" into buf (len bytes). 0, or ENAMETOOLONG. */
int pof_fs_tmp_name(const char *path, char *buf, size_t len);

/** fsync the directory that holds `path` (best effort: some file systems refuse it). */
void pof_fs_sync_dir_of(const char *path);

/** fsync `tmp`, rename it to `path`, fsync the directory. 0 or errno (msg says what failed). */
int pof_fs_commit(const char *tmp, const char *path, char *msg, size_t len);

/** The digest of a file as this process reads it: its size and CRC-32s of its first and last
 * 64 KiB (an HDF5 file's superblock and object headers), so that ranks on several nodes can check
 * that they read the same file. `here` (len bytes) gets "N bytes, digest H", or "cannot read it
 * (reason)" with *digest = 1. */
void pof_fs_file_digest(const char *path, uint64_t *digest, char *here, size_t len);

/** Every rank of comm reads `path` through its own node's file system: their pof_fs_file_digest
 * must equal rank 0's, else every rank fails with "<what> '<path>' differs between nodes (rank R
 * on HOST: ...; rank 0 on HOST0: ...): every node must see the same file (a node-local copy must
 * be identical)". The one collective function of this header. */
PetscErrorCode pof_fs_same_file(MPI_Comm comm, const char *path, const char *what);

/** Fold n bytes at p into the digest h (as pof_fs_file_digest does; for digests of other data). */
uint64_t pof_fs_digest_bytes(uint64_t h, const void *p, size_t n);

/** Writes the content of a file into f; returns 0 or an errno value. */
typedef int (*PofFsWriteFn)(FILE *f, void *ctx);

/**
 * Write `path` atomically: a temporary created exclusively (O_EXCL | O_NOFOLLOW), `fn` writes into
 * it, then fflush, pof_fs_commit. On any failure the temporary is removed and `path` is
 * untouched. 0 or errno (msg says what failed).
 */
int pof_fs_write_atomic(const char *path, PofFsWriteFn fn, void *ctx, char *msg, size_t len);

/** pof_fs_write_atomic of `text` and a newline (the writer progress.h's heartbeat uses). */
int pof_fs_write_text_atomic(const char *path, const char *text, char *msg, size_t len);

#endif
