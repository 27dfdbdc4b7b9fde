/* Writes what the reference WRN computes for check_torch.py, which compares it with PyTorch.
   Usage: ref_wrn_dump DIR depth width base in_c in_h in_w classes n seed
   DIR receives tensors.txt (name offset numel dims per line) and raw native-endian arrays:
   params, running0 (before), x, y (int32); train-mode results loss, h, logits, batch_stats,
   grad_params, grad_x, running1 (after the update); eval-mode (running1) results eval_loss,
   eval_logits, eval_grad_params, eval_grad_x; r (a feature gradient) and feat_grad_params,
   feat_grad_x from ref_wrn_backward_from_features. */
#include "ref/ref_wrn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int save(const char *dir, const char *name, const void *v, size_t size, long count)
{
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "ref_wrn_dump: cannot create %s\n", path);
    return 1;
  }
  const size_t w = fwrite(v, size, (size_t)count, f);
  if (fclose(f) != 0 || w != (size_t)count) {
    fprintf(stderr, "ref_wrn_dump: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

static double *alloc(long len)
{
  double *v = calloc((size_t)len, sizeof(double));
  if (!v) {
    fprintf(stderr, "ref_wrn_dump: out of memory\n");
    exit(1);
  }
  return v;
}

int main(int argc, char **argv)
{
  if (argc != 11) {
    fprintf(stderr, "usage: ref_wrn_dump DIR depth width base in_c in_h in_w classes n seed\n");
    return 1;
  }
  const char         *dir  = argv[1];
  const RefWrnShape   s    = { atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                               atoi(argv[6]), atoi(argv[7]), atoi(argv[8]) };
  const int           n    = atoi(argv[9]);
  const unsigned long seed = strtoul(argv[10], NULL, 10);
  if (!ref_wrn_shape_valid(&s) || n < 1) {
    fprintf(stderr, "ref_wrn_dump: invalid shape or batch size\n");
    return 1;
  }
  const long np = ref_wrn_num_params(&s), ns = ref_wrn_num_bn_state(&s),
             nx = (long)n * s.in_c * s.in_h * s.in_w;
  const int F   = ref_wrn_feature_dim(&s);

  char path[4096];
  snprintf(path, sizeof(path), "%s/tensors.txt", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "ref_wrn_dump: cannot create %s\n", path);
    return 1;
  }
  for (int i = 0; i < ref_wrn_num_tensors(&s); i++) {
    char name[64];
    long off, numel, dims[4];
    int  ndim;
    ref_wrn_tensor(&s, i, name, &off, &numel, &ndim, dims);
    fprintf(f, "%s %ld %ld", name, off, numel);
    for (int d = 0; d < ndim; d++) fprintf(f, " %ld", dims[d]);
    fprintf(f, "\n");
  }
  if (fclose(f) != 0) return 1;

  /* parameters: the POF.md init plus a perturbation so BN affine and bias gradients are generic;
     running statistics perturbed away from (0, 1) */
  double *p = alloc(np), *run0 = alloc(ns), *run = alloc(ns), *x = alloc(nx),
         *r = alloc((long)n * F);
  int *y    = malloc(sizeof(int) * (size_t)n);
  if (!y) return 1;
  ref_wrn_init(&s, seed, p, run0);
  unsigned long long st = seed * 2654435761ULL + 1;
#define URAND() \
  ((double)((st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) * 0x1p-53 * 2 - 1)
  for (long i = 0; i < np; i++) p[i] += 0.2 * URAND();
  for (long i = 0; i < ns; i++) run0[i] += 0.3 * (URAND() + 1);
  for (long i = 0; i < nx; i++) x[i] = URAND();
  for (long i = 0; i < (long)n * F; i++) r[i] = URAND();
  for (int i = 0; i < n; i++) y[i] = (3 * i + 1) % s.classes;
#undef URAND
  memcpy(run, run0, sizeof(double) * (size_t)ns);

  double *h = alloc((long)n * F), *logits = alloc((long)n * s.classes), *bs = alloc(ns),
         *g = alloc(np), *gx = alloc(nx);
  double loss = ref_wrn_run(&s, p, run, 1, n, x, y, h, logits, bs, g, gx);
  int    err =
      save(dir, "params", p, sizeof(double), np) ||
      save(dir, "running0", run0, sizeof(double), ns) || save(dir, "x", x, sizeof(double), nx) ||
      save(dir, "y", y, sizeof(int), n) || save(dir, "loss", &loss, sizeof(double), 1) ||
      save(dir, "h", h, sizeof(double), (long)n * F) ||
      save(dir, "logits", logits, sizeof(double), (long)n * s.classes) ||
      save(dir, "batch_stats", bs, sizeof(double), ns) ||
      save(dir, "grad_params", g, sizeof(double), np) ||
      save(dir, "grad_x", gx, sizeof(double), nx) || save(dir, "running1", run, sizeof(double), ns);
  loss = ref_wrn_run(&s, p, run, 0, n, x, y, NULL, logits, NULL, g, gx);
  err  = err || save(dir, "eval_loss", &loss, sizeof(double), 1) ||
        save(dir, "eval_logits", logits, sizeof(double), (long)n * s.classes) ||
        save(dir, "eval_grad_params", g, sizeof(double), np) ||
        save(dir, "eval_grad_x", gx, sizeof(double), nx);
  ref_wrn_backward_from_features(&s, p, n, x, r, g, gx);
  err = err || save(dir, "r", r, sizeof(double), (long)n * F) ||
        save(dir, "feat_grad_params", g, sizeof(double), np) ||
        save(dir, "feat_grad_x", gx, sizeof(double), nx);
  free(p), free(run0), free(run), free(x), free(r), free(y), free(h), free(logits), free(bs),
      free(g), free(gx);
  return err;
}
