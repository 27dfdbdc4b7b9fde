/* Logits of a pof model file on given inputs, computed by pof's own engine (eval-mode BN):
   the export test compares them with PyTorch's on the exported state dict.
   Usage: pof_logits MODEL.h5 X.f32 N OUT.f32
   X.f32: N x C x H x W native float32 (already normalized); OUT.f32: N x classes float32. */
#include "pof/ckpt.h"
#include "pof/nn.h"

#include <stdio.h>
#include <stdlib.h>

static PetscErrorCode run(const char *model, const char *xpath, PetscInt n, const char *out)
{
  PofCkptMeta meta;
  PofWrn      m;
  Vec         master;
  float      *x, *h, *logits;
  FILE       *f;
  PetscFunctionBegin;
  PetscCall(pof_ckpt_read_meta(PETSC_COMM_WORLD, model, &meta));
  const PofWrnShape shape  = { meta.depth, meta.width, meta.base,   meta.in_c,
                               meta.in_h,  meta.in_w,  meta.classes };
  const PetscInt    sample = meta.in_c * meta.in_h * meta.in_w;
  PetscCall(pof_wrn_create(&shape, POF_DT_F32, PETSC_FALSE, &m));
  PetscCheck(pof_wrn_num_params(m) == meta.n_params, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED,
             "%s: n_params does not fit its WRN", model);
  PetscCall(VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, meta.n_params, &master));
  PetscCall(pof_ckpt_read(PETSC_COMM_WORLD, model, master, NULL, pof_wrn_running(m), NULL, 0));
  {
    const PetscScalar *a;
    float             *p = pof_wrn_params(m);
    PetscCall(VecGetArrayRead(master, &a));
    for (PetscInt i = 0; i < meta.n_params; i++) p[i] = (float)a[i];
    PetscCall(VecRestoreArrayRead(master, &a));
    pof_wrn_params_changed(m);
  }
  PetscCall(
      PetscMalloc3(n * sample, &x, n * pof_wrn_feature_dim(m), &h, n * meta.classes, &logits));
  f = fopen(xpath, "rb");
  PetscCheck(f && fread(x, sizeof(float), (size_t)(n * sample), f) == (size_t)(n * sample),
             PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read %" PetscInt_FMT " samples from %s",
             n, xpath);
  fclose(f);
  PetscCall(pof_wrn_features(m, POF_BN_EVAL, 0, n, x, h));
  {
    const float   *p  = pof_wrn_params(m);
    const PetscInt nf = pof_wrn_num_feature_params(m), F = pof_wrn_feature_dim(m);
    pof_linear_forward(n, F, meta.classes, p + nf, p + nf + meta.classes * F, h, logits);
  }
  f = fopen(out, "wb");
  PetscCheck(f &&
                 fwrite(logits, sizeof(float), (size_t)(n * meta.classes), f) ==
                     (size_t)(n * meta.classes) &&
                 fclose(f) == 0,
             PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", out);
  PetscCall(PetscFree3(x, h, logits));
  PetscCall(VecDestroy(&master));
  PetscCall(pof_wrn_destroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  if (argc != 5) {
    fprintf(stderr, "usage: pof_logits MODEL.h5 X.f32 N OUT.f32\n");
    PetscCall(PetscFinalize());
    return 2;
  }
  PetscCall(run(argv[1], argv[2], (PetscInt)atol(argv[3]), argv[4]));
  PetscCall(pof_nn_finalize());
  PetscCall(PetscFinalize());
  return 0;
}
