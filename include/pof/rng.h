/**
 * @file rng.h
 * @brief Counter-based random numbers (Philox4x32-10, Salmon et al. SC'11).
 *
 * Every random draw in pof comes from a stream named by (seed, purpose, i0, i1, i2), never
 * by rank: the same key gives the same numbers on any rank count, and keys that differ in
 * any field give independent streams. The 128-bit counter is laid out as
 *   ctr[0] = block number inside the stream (each block gives 4 words),
 *   ctr[1] = i2 (e.g. slot in the global batch), ctr[2] = i1 (e.g. step),
 *   ctr[3] = purpose << 24 | i0 (e.g. epoch, < 2^24),
 * and the 64-bit key is the seed. A stream therefore holds 2^34 32-bit words.
 * Functions here are pure and thread-safe on distinct PofRng objects; not collective.
 */
#ifndef POF_RNG_H
#define POF_RNG_H

#include <stdint.h>

/** Distinct stream families (DESIGN.md: randomness). Values are part of the file format. */
typedef enum {
  POF_RNG_ORDER      = 1,  /**< main-batch order: (epoch, 0, 0) */
  POF_RNG_AUG        = 2,  /**< main-batch augmentation: (epoch, step, slot) */
  POF_RNG_WEAK_INDEX = 3,  /**< PoF weak-batch indices: (epoch, step, 0) */
  POF_RNG_WEAK_AUG   = 4,  /**< PoF weak-batch augmentation: (epoch, step, slot) */
  POF_RNG_GAMMA      = 5,  /**< PoF expansion factor gamma: (epoch, step, 0) */
  POF_RNG_SAM        = 6,  /**< SAM (reserved for stochastic variants) */
  POF_RNG_INIT       = 7,  /**< parameter initialization: (tensor, 0, 0) */
  POF_RNG_SYNTH      = 8,  /**< synthetic data for pof bench and tests */
  POF_RNG_HUTCH      = 9,  /**< Hutchinson probe vectors (analysis) */
  POF_RNG_DIRECTION  = 10, /**< random directions for loss landscapes (analysis) */
  POF_RNG_TEST       = 11  /**< unit tests */
} PofRngPurpose;

/** One stream. Plain value; copy it to fork a stream position. */
typedef struct {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t buf[4];
  int      avail; /**< words left in buf (taken from buf[4 - avail]) */
} PofRng;

/** The raw Philox4x32-10 bijection: out = philox(ctr, key). */
void pof_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/** Start the stream (seed, purpose, i0, i1, i2) at its first word. i0 must be < 2^24. */
void pof_rng_init(PofRng *r, uint64_t seed, PofRngPurpose purpose, uint32_t i0, uint32_t i1,
                  uint32_t i2);

/** Next 32 random bits. */
uint32_t pof_rng_u32(PofRng *r);
/** Next 64 random bits. */
uint64_t pof_rng_u64(PofRng *r);
/** Uniform double in [0, 1) with 53 random bits. */
double pof_rng_uniform(PofRng *r);
/** Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's method). */
uint32_t pof_rng_below(PofRng *r, uint32_t n);
/** Standard normal deviate (Box-Muller on two uniforms; one value per call). */
double pof_rng_normal(PofRng *r);

#endif
