/* RNG: Random123 known-answer vectors, stream determinism and independence, distributions. */
#include "pof/rng.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_known_answers(void **state)
{
  (void)state;
  /* Random123 tests/kat_vectors, "philox4x32 10" lines: counter, key, expected. */
  static const uint32_t kat[3][10] = {
    { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
    { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
      0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
    { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
      0x94fdcceb, 0x5001e420, 0x24126ea1 },
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    pof_philox4x32_10(&kat[i][0], &kat[i][4], out);
    for (int j = 0; j < 4; j++) assert_int_equal(out[j], kat[i][6 + j]);
  }
}

static void test_same_key_same_stream(void **state)
{
  (void)state;
  PofRng a, b;
  pof_rng_init(&a, 12345, POF_RNG_AUG, 3, 17, 99);
  pof_rng_init(&b, 12345, POF_RNG_AUG, 3, 17, 99);
  for (int i = 0; i < 1000; i++) assert_int_equal(pof_rng_u32(&a), pof_rng_u32(&b));
}

/* Streams differing in one key field: bitwise agreement ~ 1/2, and the correlation of their
   uniforms is ~0 (|r| < 5 / sqrt(n) is a > 5-sigma bound for independent streams). */
static void check_independent(PofRng a, PofRng b)
{
  const int n  = 20000;
  double    sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
  int       same = 0;
  for (int i = 0; i < n; i++) {
    const uint32_t ua = pof_rng_u32(&a), ub = pof_rng_u32(&b);
    same += ua == ub;
    const double x = ua / 4294967296.0, y = ub / 4294967296.0;
    sa += x, sb += y, sab += x * y, saa += x * x, sbb += y * y;
  }
  const double cov = sab / n - (sa / n) * (sb / n);
  const double r   = cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
  assert_true(same < 3);
  assert_true(fabs(r) < 5.0 / sqrt((double)n));
}

static void test_different_keys_independent(void **state)
{
  (void)state;
  PofRng base, other;
  pof_rng_init(&base, 7, POF_RNG_AUG, 1, 2, 3);
  pof_rng_init(&other, 8, POF_RNG_AUG, 1, 2, 3); /* seed */
  check_independent(base, other);
  pof_rng_init(&other, 7, POF_RNG_WEAK_AUG, 1, 2, 3); /* purpose */
  check_independent(base, other);
  pof_rng_init(&other, 7, POF_RNG_AUG, 2, 2, 3); /* i0 */
  check_independent(base, other);
  pof_rng_init(&other, 7, POF_RNG_AUG, 1, 3, 3); /* i1 */
  check_independent(base, other);
  pof_rng_init(&other, 7, POF_RNG_AUG, 1, 2, 4); /* i2 */
  check_independent(base, other);
}

/* Chi-square of uniform() over 64 bins, and of below(10): 99.9% quantiles 103.4 (63 dof)
   and 27.9 (9 dof). Deterministic streams, so this cannot flake. */
static void test_uniform_distribution(void **state)
{
  (void)state;
  PofRng r;
  pof_rng_init(&r, 42, POF_RNG_TEST, 0, 0, 0);
  const int n        = 640000;
  int       bins[64] = { 0 }, digits[10] = { 0 };
  double    mn = 1, mx = 0;
  for (int i = 0; i < n; i++) {
    const double u = pof_rng_uniform(&r);
    assert_true(u >= 0.0 && u < 1.0);
    mn = u < mn ? u : mn;
    mx = u > mx ? u : mx;
    bins[(int)(u * 64)]++;
    digits[pof_rng_below(&r, 10)]++;
  }
  double chi = 0, chid = 0;
  for (int i = 0; i < 64; i++) chi += (bins[i] - n / 64.0) * (bins[i] - n / 64.0) / (n / 64.0);
  for (int i = 0; i < 10; i++) chid += (digits[i] - n / 10.0) * (digits[i] - n / 10.0) / (n / 10.0);
  assert_true(chi < 103.4);
  assert_true(chid < 27.9);
  assert_true(mn < 1e-4 && mx > 1 - 1e-4);
}

static void test_normal_moments(void **state)
{
  (void)state;
  PofRng r;
  pof_rng_init(&r, 5, POF_RNG_INIT, 0, 0, 0);
  const int n = 200000;
  double    s = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; i++) {
    const double z = pof_rng_normal(&r);
    s += z, s2 += z * z, s4 += z * z * z * z;
  }
  assert_true(fabs(s / n) < 0.015);
  assert_true(fabs(s2 / n - 1.0) < 0.02);
  assert_true(fabs(s4 / n - 3.0) < 0.1);
}

static void test_below_edges(void **state)
{
  (void)state;
  PofRng r;
  pof_rng_init(&r, 1, POF_RNG_TEST, 0, 0, 1);
  for (int i = 0; i < 1000; i++) assert_int_equal(pof_rng_below(&r, 1), 0);
  for (int i = 0; i < 1000; i++) assert_true(pof_rng_below(&r, 0xFFFFFFFFu) < 0xFFFFFFFFu);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_known_answers),
    cmocka_unit_test(test_same_key_same_stream),
    cmocka_unit_test(test_different_keys_independent),
    cmocka_unit_test(test_uniform_distribution),
    cmocka_unit_test(test_normal_moments),
    cmocka_unit_test(test_below_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
