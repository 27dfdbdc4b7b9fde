/* Philox4x32-10 streams: see include/pof/rng.h. */
#include "pof/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void philox_round(uint32_t c[4], const uint32_t k[2])
{
  const uint64_t p0  = (uint64_t)PHILOX_M0 * c[0];
  const uint64_t p1  = (uint64_t)PHILOX_M1 * c[2];
  const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  const uint32_t n0 = hi1 ^ c[1] ^ k[0];
  const uint32_t n2 = hi0 ^ c[3] ^ k[1];
  c[0]              = n0;
  c[1]              = lo1;
  c[2]              = n2;
  c[3]              = lo0;
}

void pof_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
  uint32_t c[4] = { ctr[0], ctr[1], ctr[2], ctr[3] };
  uint32_t k[2] = { key[0], key[1] };
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k[0] += PHILOX_W0;
      k[1] += PHILOX_W1;
    }
    philox_round(c, k);
  }
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
  out[3] = c[3];
}

void pof_rng_init(PofRng *r, uint64_t seed, PofRngPurpose purpose, uint32_t i0, uint32_t i1,
                  uint32_t i2)
{
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->ctr[0] = 0;
  r->ctr[1] = i2;
  r->ctr[2] = i1;
  r->ctr[3] = ((uint32_t)purpose << 24) | (i0 & 0xFFFFFFu);
  r->avail  = 0;
}

uint32_t pof_rng_u32(PofRng *r)
{
  if (r->avail == 0) {
    pof_philox4x32_10(r->ctr, r->key, r->buf);
    r->ctr[0]++;
    r->avail = 4;
  }
  return r->buf[4 - r->avail--];
}

uint64_t pof_rng_u64(PofRng *r)
{
  const uint64_t lo = pof_rng_u32(r);
  const uint64_t hi = pof_rng_u32(r);
  return (hi << 32) | lo;
}

double pof_rng_uniform(PofRng *r) { return (double)(pof_rng_u64(r) >> 11) * 0x1.0p-53; }

uint32_t pof_rng_below(PofRng *r, uint32_t n)
{
  uint64_t m = (uint64_t)pof_rng_u32(r) * n;
  uint32_t l = (uint32_t)m;
  if (l < n) {
    const uint32_t t = (uint32_t)(-n) % n;
    while (l < t) {
      m = (uint64_t)pof_rng_u32(r) * n;
      l = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

double pof_rng_normal(PofRng *r)
{
  double       u1 = pof_rng_uniform(r);
  const double u2 = pof_rng_uniform(r);
  if (u1 <= 0.0) u1 = 0x1.0p-53;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}
