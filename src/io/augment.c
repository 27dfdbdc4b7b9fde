/* Crop / flip / cutout / normalize one image: see include/pof/augment.h for the exact recipe. */
#include "pof/augment.h"

#include <stddef.h>

void pof_augment_draw(const PofAugParams *p, int h, int w, PofRng *r, PofAugDraw *d)
{
  d->dy = d->dx = p->crop_pad;
  d->flip       = 0;
  d->cy = d->cx = 0;
  if (p->crop_pad > 0) {
    const uint32_t span = (uint32_t)(2 * p->crop_pad + 1);
    d->dy               = (int)pof_rng_below(r, span);
    d->dx               = (int)pof_rng_below(r, span);
  }
  if (p->flip) d->flip = (int)pof_rng_below(r, 2);
  if (p->cutout > 0) {
    d->cy = (int)pof_rng_below(r, (uint32_t)h);
    d->cx = (int)pof_rng_below(r, (uint32_t)w);
  }
}

void pof_augment_lut(int channels, const double *mean, const double *std, float *lut)
{
  for (int c = 0; c < channels; c++)
    for (int v = 0; v < 256; v++) lut[c * 256 + v] = (float)((v / 255.0 - mean[c]) / std[c]);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

void pof_augment_apply(const PofAugParams *p, const PofAugDraw *d, int c, int h, int w,
                       const float *lut, const uint8_t *src, float *dst)
{
  const int oy = d->dy - p->crop_pad, ox = d->dx - p->crop_pad; /* source = output + offset */
  for (int ch = 0; ch < c; ch++) {
    const float   *l   = lut + (size_t)256 * (size_t)ch;
    const uint8_t *s   = src + (size_t)ch * h * w;
    float         *out = dst + (size_t)ch * h * w;
    for (int y = 0; y < h; y++) {
      const int iy  = y + oy;
      float    *row = out + (size_t)y * w;
      if (iy < 0 || iy >= h) {
        for (int x = 0; x < w; x++) row[x] = l[0];
        continue;
      }
      const uint8_t *srow = s + (size_t)iy * w;
      if (!d->flip) {
        /* output x reads source column x + ox: valid for x in [max(0,-ox), min(w, w-ox)) */
        const int x0 = clampi(-ox, 0, w), x1 = clampi(w - ox, 0, w);
        for (int x = 0; x < x0; x++) row[x] = l[0];
        for (int x = x0; x < x1; x++) row[x] = l[srow[x + ox]];
        for (int x = x1 < x0 ? x0 : x1; x < w; x++) row[x] = l[0];
      } else {
        for (int x = 0; x < w; x++) {
          const int ix = (w - 1 - x) + ox;
          row[x]       = (ix >= 0 && ix < w) ? l[srow[ix]] : l[0];
        }
      }
    }
  }
  if (p->cutout > 0) {
    const int y0 = clampi(d->cy - p->cutout / 2, 0, h),
              y1 = clampi(d->cy - p->cutout / 2 + p->cutout, 0, h);
    const int x0 = clampi(d->cx - p->cutout / 2, 0, w),
              x1 = clampi(d->cx - p->cutout / 2 + p->cutout, 0, w);
    for (int ch = 0; ch < c; ch++)
      for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) dst[((size_t)ch * h + y) * w + x] = 0.0f;
  }
}
