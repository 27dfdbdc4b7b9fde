/* The process-wide oneDNN CPU engine, stream and shared scratchpad. */
#include "nn_internal.h"

#include <stdlib.h>

static dnnl_engine_t nn_engine        = NULL;
static dnnl_stream_t nn_stream        = NULL;
static void         *nn_scratch       = NULL;
static size_t        nn_scratch_size  = 0;
static void         *nn_wscratch      = NULL; /* shared blocked weights (low-memory mode) */
static size_t        nn_wscratch_size = 0;

PetscErrorCode pof_nn_engine(dnnl_engine_t *engine, dnnl_stream_t *stream)
{
  PetscFunctionBegin;
  if (!nn_engine) {
    PofCallDNNL(dnnl_engine_create(&nn_engine, dnnl_cpu, 0));
    PofCallDNNL(dnnl_stream_create(&nn_stream, nn_engine, dnnl_stream_default_flags));
  }
  if (engine) *engine = nn_engine;
  if (stream) *stream = nn_stream;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_nn_scratchpad(size_t bytes, void **ptr)
{
  PetscFunctionBegin;
  if (bytes > nn_scratch_size) {
    free(nn_scratch);
    nn_scratch_size = (bytes + 4095) / 4096 * 4096;
    nn_scratch      = aligned_alloc(4096, nn_scratch_size);
    PetscCheck(nn_scratch, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "cannot allocate a %zu-byte oneDNN scratchpad", nn_scratch_size);
  }
  *ptr = nn_scratch;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_nn_weight_scratch(size_t bytes, void **ptr)
{
  PetscFunctionBegin;
  if (bytes > nn_wscratch_size) {
    free(nn_wscratch);
    nn_wscratch_size = (bytes + 4095) / 4096 * 4096;
    nn_wscratch      = aligned_alloc(4096, nn_wscratch_size);
    PetscCheck(nn_wscratch, PETSC_COMM_SELF, PETSC_ERR_MEM,
               "cannot allocate %zu bytes of shared convolution weights", nn_wscratch_size);
  }
  *ptr = nn_wscratch;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_nn_finalize(void)
{
  PetscFunctionBegin;
  if (nn_stream) PofCallDNNL(dnnl_stream_destroy(nn_stream));
  if (nn_engine) PofCallDNNL(dnnl_engine_destroy(nn_engine));
  nn_stream = NULL;
  nn_engine = NULL;
  free(nn_scratch);
  nn_scratch      = NULL;
  nn_scratch_size = 0;
  free(nn_wscratch);
  nn_wscratch      = NULL;
  nn_wscratch_size = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool pof_nn_has_avx512(void)
{
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa(); /* honours ONEDNN_MAX_CPU_ISA */
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? PETSC_TRUE : PETSC_FALSE;
}

PetscInt pof_nn_cblk(void)
{
  static PetscInt blk = 0;
  if (!blk) blk = pof_nn_has_avx512() ? 16 : 8;
  return blk;
}

PetscErrorCode pof_act_md(const PofAct *a, dnnl_memory_desc_t *md)
{
  const dnnl_dims_t d = { a->n, a->c, a->h, a->w };
  PetscFunctionBegin;
  PetscCheck(a->blk == 8 || a->blk == 16, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "activation block %" PetscInt_FMT " is neither 8 nor 16", a->blk);
  PofCallDNNL(dnnl_memory_desc_init_by_tag(md, 4, d, pof_dt_dnnl(a->dt),
                                           a->blk == 16 ? dnnl_nChw16c : dnnl_nChw8c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
