/* Shared parts of pof's libFuzzer targets (tests/fuzz, built with -DPOF_FUZZ=ON): PETSc, MPI and
   HDF5 are started once (LLVMFuzzerInitialize, in common.c); every input runs between
   pof_fuzz_begin and pof_fuzz_end, which check that the input left no file descriptor open. */
#ifndef POF_FUZZ_COMMON_H
#define POF_FUZZ_COMMON_H

#include "pof/convert.h"
#include "pof/core.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/** The process's private scratch directory on tmpfs (/dev/shm/pof-fuzz.<pid>), removed at exit. */
const char *pof_fuzz_dir(void);
/** Write data[0..n) to <dir>/name; path (len bytes) gets the full name. Aborts on failure. */
void pof_fuzz_write(const char *name, const void *data, size_t n, char *path, size_t len);
/** pof convert per cfg (every field but output set by the caller) on this process, into
    <dir>/out.h5, which is removed afterwards. The converter's result. */
PetscErrorCode pof_fuzz_convert(PofConvertConfig *cfg);
/** Before an input: note the open file descriptors. */
void pof_fuzz_begin(void);
/** After an input: ierr is the reader's result (printed with POF_FUZZ_VERBOSE=1); aborts when the
    input left a file descriptor open (a reader that leaks one per bad file runs out of them). */
void pof_fuzz_end(PetscErrorCode ierr);

#endif
