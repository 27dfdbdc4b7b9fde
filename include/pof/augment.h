/**
 * @file augment.h
 * @brief Training augmentation and normalization of one uint8 image (C, H, W) into floats.
 *
 * The loader (pof/data.h) calls these per sample with the stream
 * (seed, purpose, epoch, step, slot), slot = position in the GLOBAL batch. The exact recipe,
 * so that another implementation (tests/data/ref_loader.py) reproduces it bit for bit:
 *
 * Draws, in this order, from the sample's stream r (an operation that is off draws nothing):
 *   1. crop (pad p > 0):  dy = below(r, 2p+1), then dx = below(r, 2p+1)     (else dy = dx = p = 0)
 *   2. flip (on):         f  = below(r, 2); f == 1 mirrors the image       (else f = 0)
 *   3. cutout (side s>0): cy = below(r, H), then cx = below(r, W)          (the hole's centre)
 * below(r, n) is pof_rng_below (Lemire: m = u32 * n in 64 bits; while (uint32)m < (2^32 - n) % n
 * redraw; result m >> 32), u32 = the stream's next 32-bit word (pof_rng_u32).
 *
 * Output pixel (c, y, x), for y in [0, H), x in [0, W):
 *   sx = f ? W-1-x : x;  iy = y + dy - p;  ix = sx + dx - p
 *   v  = (0 <= iy < H && 0 <= ix < W) ? src[c][iy][ix] : 0          (zero padding, raw pixels)
 *   out[c][y][x] = lut[c][v],  lut[c][v] = (float)((v / 255.0 - mean[c]) / std[c]) in double
 *   cutout: if cy - s/2 <= y < cy - s/2 + s and cx - s/2 <= x < cx - s/2 + s (integer s/2),
 *           out[c][y][x] = 0.0f for every c — applied AFTER normalization, as in DeVries &
 *           Taylor's cutout code; the hole is clipped at the borders. For even s this is their
 *           hole [c - s/2, c + s/2); for odd s ours is s wide (theirs s - 1).
 * That is torchvision's RandomCrop(padding=p) -> RandomHorizontalFlip -> ToTensor -> Normalize
 * -> Cutout, with pof's own random draws.
 * All functions are pure and thread-safe; not collective.
 */
#ifndef POF_AUGMENT_H
#define POF_AUGMENT_H

#include "pof/rng.h"

#include <stdint.h>

/** Which augmentations are on (all zero: normalization only). */
typedef struct {
  int crop_pad; /**< zero padding p of the random crop, 0 = no crop */
  int flip;     /**< 1 = random horizontal flip */
  int cutout;   /**< side s of the cutout hole, 0 = off */
} PofAugParams;

/** The random choices for one sample (see the file comment). */
typedef struct {
  int dy, dx; /**< crop window offset in [0, 2p] (p when the crop is off) */
  int flip;   /**< 1 = mirrored */
  int cy, cx; /**< cutout centre (unused when the cutout is off) */
} PofAugDraw;

/** Draw one sample's choices from r in the documented order. h, w: image size. */
void pof_augment_draw(const PofAugParams *p, int h, int w, PofRng *r, PofAugDraw *d);

/** Fill lut[c * 256 + v] = (float)((v / 255.0 - mean[c]) / std[c]) for c < channels. */
void pof_augment_lut(int channels, const double *mean, const double *std, float *lut);

/**
 * dst (c, h, w) float = augment(src (c, h, w) uint8) with the choices d, normalized through
 * lut (from pof_augment_lut). src and dst must not overlap.
 */
void pof_augment_apply(const PofAugParams *p, const PofAugDraw *d, int c, int h, int w,
                       const float *lut, const uint8_t *src, float *dst);

#endif
