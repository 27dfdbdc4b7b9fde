/* Data unit tests: contiguous partitions, the epoch permutation, augmentation draws and their
   effect on a known image (crop offsets, flip, cutout with clipping, normalization). */
#include "pof/augment.h"
#include "pof/data.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_partition(void **state)
{
  (void)state;
  for (PetscInt n = 0; n <= 40; n++)
    for (PetscInt parts = 1; parts <= 7; parts++) {
      PetscInt mn = n + 1, mx = -1;
      assert_int_equal(pof_data_share_lo(n, parts, 0), 0);
      assert_int_equal(pof_data_share_lo(n, parts, parts), n);
      for (PetscInt r = 0; r < parts; r++) {
        const PetscInt lo = pof_data_share_lo(n, parts, r), hi = pof_data_share_lo(n, parts, r + 1);
        assert_true(lo <= hi);
        mn = hi - lo < mn ? hi - lo : mn;
        mx = hi - lo > mx ? hi - lo : mx;
        for (PetscInt i = lo; i < hi; i++) assert_int_equal(pof_data_share_owner(n, parts, i), r);
      }
      assert_true(mx - mn <= 1);
    }
}

static void test_epoch_perm(void **state)
{
  (void)state;
  enum { N = 1000 };
  static PetscInt a[N], b[N], c[N], d[N];
  int             seen[N] = { 0 };
  pof_data_epoch_perm(3, 5, N, a);
  for (int i = 0; i < N; i++) {
    assert_true(a[i] >= 0 && a[i] < N);
    assert_int_equal(seen[a[i]]++, 0);
  }
  /* the documented recipe, written out again */
  PofRng r;
  for (int i = 0; i < N; i++) b[i] = i;
  pof_rng_init(&r, 3, POF_RNG_ORDER, 5, 0, 0);
  for (int i = N - 1; i >= 1; i--) {
    const int j = (int)pof_rng_below(&r, (uint32_t)(i + 1));
    PetscInt  t = b[i];
    b[i] = b[j], b[j] = t;
  }
  assert_memory_equal(a, b, sizeof(a));
  pof_data_epoch_perm(3, 5, N, b);
  assert_memory_equal(a, b, sizeof(a)); /* deterministic */
  pof_data_epoch_perm(4, 5, N, c);      /* another seed */
  pof_data_epoch_perm(3, 6, N, d);      /* another epoch */
  int same_c = 0, same_d = 0, fixed = 0;
  for (int i = 0; i < N; i++) same_c += a[i] == c[i], same_d += a[i] == d[i], fixed += a[i] == i;
  assert_true(same_c < 20 && same_d < 20 && fixed < 20); /* ~1 expected for random permutations */
}

/* Draws come from the stream in the documented order; disabled operations draw nothing. */
static void test_draw_order(void **state)
{
  (void)state;
  const PofAugParams all = { 4, 1, 16 }, noflip = { 4, 0, 16 }, none = { 0, 0, 0 };
  for (uint32_t slot = 0; slot < 50; slot++) {
    PofRng     r, m;
    PofAugDraw d;
    pof_rng_init(&r, 9, POF_RNG_AUG, 2, 7, slot);
    pof_augment_draw(&all, 32, 30, &r, &d);
    pof_rng_init(&m, 9, POF_RNG_AUG, 2, 7, slot);
    assert_int_equal(d.dy, (int)pof_rng_below(&m, 9));
    assert_int_equal(d.dx, (int)pof_rng_below(&m, 9));
    assert_int_equal(d.flip, (int)pof_rng_below(&m, 2));
    assert_int_equal(d.cy, (int)pof_rng_below(&m, 32));
    assert_int_equal(d.cx, (int)pof_rng_below(&m, 30));
    assert_int_equal(pof_rng_u32(&r), pof_rng_u32(&m)); /* nothing else consumed */

    pof_rng_init(&r, 9, POF_RNG_AUG, 2, 7, slot);
    pof_augment_draw(&noflip, 32, 30, &r, &d);
    pof_rng_init(&m, 9, POF_RNG_AUG, 2, 7, slot);
    assert_int_equal(d.dy, (int)pof_rng_below(&m, 9));
    assert_int_equal(d.dx, (int)pof_rng_below(&m, 9));
    assert_int_equal(d.flip, 0);
    assert_int_equal(d.cy, (int)pof_rng_below(&m, 32));
    assert_int_equal(d.cx, (int)pof_rng_below(&m, 30));

    pof_rng_init(&r, 9, POF_RNG_AUG, 2, 7, slot);
    pof_rng_init(&m, 9, POF_RNG_AUG, 2, 7, slot);
    pof_augment_draw(&none, 32, 30, &r, &d);
    assert_int_equal(d.dy, 0);
    assert_int_equal(d.dx, 0);
    assert_int_equal(pof_rng_u32(&r), pof_rng_u32(&m)); /* nothing consumed */
  }
}

/* Every crop offset in [0, 2p] and both flips occur, with roughly the right frequencies. */
static void test_draw_ranges(void **state)
{
  (void)state;
  const PofAugParams p     = { 3, 1, 5 };
  int                hy[7] = { 0 }, hx[7] = { 0 }, flips = 0;
  const int          n = 7000;
  for (int i = 0; i < n; i++) {
    PofRng     r;
    PofAugDraw d;
    pof_rng_init(&r, 1, POF_RNG_WEAK_AUG, 0, 0, (uint32_t)i);
    pof_augment_draw(&p, 8, 6, &r, &d);
    assert_true(d.dy >= 0 && d.dy <= 6 && d.dx >= 0 && d.dx <= 6);
    assert_true(d.cy >= 0 && d.cy < 8 && d.cx >= 0 && d.cx < 6);
    hy[d.dy]++, hx[d.dx]++, flips += d.flip;
  }
  for (int k = 0; k < 7; k++)
    assert_true(hy[k] > 800 && hy[k] < 1200 && hx[k] > 800 && hx[k] < 1200);
  assert_true(flips > 3200 && flips < 3800);
}

/* A 2 x 4 x 5 image with pixel value 100 c + 10 y + x, normalized with mean 0 and std 1/255 so
   that every output equals the raw source pixel (0 for padding). */
enum { C = 2, H = 4, W = 5 };
static uint8_t src[C * H * W];
static float   lut[C * 256];

static void setup_image(void)
{
  const double mean[C] = { 0, 0 }, sd[C] = { 1 / 255.0, 1 / 255.0 };
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) src[(c * H + y) * W + x] = (uint8_t)(100 * c + 10 * y + x);
  pof_augment_lut(C, mean, sd, lut);
}

static float px(int c, int y, int x)
{
  return (y < 0 || y >= H || x < 0 || x >= W) ? 0.0f : (float)src[(c * H + y) * W + x];
}

static void check(const PofAugParams *p, const PofAugDraw *d,
                  float (*want)(const PofAugDraw *, int, int, int))
{
  float out[C * H * W];
  pof_augment_apply(p, d, C, H, W, lut, src, out);
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        const float w = want(d, c, y, x), got = out[(c * H + y) * W + x];
        if (fabsf(w - got) > 1e-3f)
          fail_msg("c %d y %d x %d: got %g, want %g (dy %d dx %d flip %d)", c, y, x, (double)got,
                   (double)w, d->dy, d->dx, d->flip);
      }
}

static float want_crop(const PofAugDraw *d, int c, int y, int x)
{
  return px(c, y + d->dy - 2, x + d->dx - 2);
}
static float want_crop_flip(const PofAugDraw *d, int c, int y, int x)
{
  return px(c, y + d->dy - 2, (W - 1 - x) + d->dx - 2);
}
static float want_flip(const PofAugDraw *d, int c, int y, int x)
{
  return (void)d, px(c, y, W - 1 - x);
}

static void test_apply_known_image(void **state)
{
  (void)state;
  setup_image();
  /* normalization alone: identity on this table; general table = (v/255 - mean)/std in double */
  const PofAugParams none = { 0, 0, 0 };
  PofAugDraw         d0   = { 0, 0, 0, 0, 0 };
  float              out[C * H * W];
  pof_augment_apply(&none, &d0, C, H, W, lut, src, out);
  for (int i = 0; i < C * H * W; i++) assert_true(fabsf(out[i] - (float)src[i]) < 1e-3f);
  const double m2[1] = { 0.25 }, s2[1] = { 0.5 };
  float        l2[256];
  pof_augment_lut(1, m2, s2, l2);
  assert_true(l2[0] == (float)((0 / 255.0 - 0.25) / 0.5));
  assert_true(l2[200] == (float)((200 / 255.0 - 0.25) / 0.5));

  /* crop with pad 2: every offset (dy, dx) in [0, 4]^2, including the padded borders */
  const PofAugParams crop = { 2, 0, 0 }, cropflip = { 2, 1, 0 }, flip = { 0, 1, 0 };
  for (int dy = 0; dy <= 4; dy++)
    for (int dx = 0; dx <= 4; dx++) {
      PofAugDraw d = { dy, dx, 0, 0, 0 };
      check(&crop, &d, want_crop);
      d.flip = 1;
      check(&cropflip, &d, want_crop_flip);
    }
  /* spot values written out by hand: dy = 0, dx = 4 shifts the image down 2 and left 2 */
  PofAugDraw d = { 0, 4, 0, 0, 0 };
  pof_augment_apply(&crop, &d, C, H, W, lut, src, out);
  assert_true(out[0 * W + 0] == 0.0f);                         /* row 0 from padding */
  assert_true(fabsf(out[2 * W + 0] - 2.0f) < 1e-3f);           /* (y 2, x 0) <- src (0, 2) = 2 */
  assert_true(fabsf(out[3 * W + 2] - 14.0f) < 1e-3f);          /* (3, 2) <- (1, 4) = 14 */
  assert_true(out[3 * W + 3] == 0.0f);                         /* (3, 3) <- (1, 5): padding */
  assert_true(fabsf(out[H * W + 3 * W + 1] - 113.0f) < 1e-3f); /* channel 1: (1, 3) = 113 */
  /* flip alone: mirror image */
  PofAugDraw f = { 0, 0, 1, 0, 0 };
  check(&flip, &f, want_flip);
  pof_augment_apply(&flip, &f, C, H, W, lut, src, out);
  assert_true(fabsf(out[0] - 4.0f) < 1e-3f && fabsf(out[W - 1] - 0.0f) < 1e-3f);
}

static void test_cutout(void **state)
{
  (void)state;
  setup_image();
  float out[C * H * W];
  /* lut with mean 0.5: padding/normalized values are non-zero, so zeros mark the hole only */
  const double mean[C] = { 0.5, 0.5 }, sd[C] = { 0.25, 0.25 };
  float        l[C * 256];
  pof_augment_lut(C, mean, sd, l);
  struct {
    int s, cy, cx, y0, y1, x0, x1;
  } cases[] = {
    { 2, 2, 2, 1, 3, 1, 3 },  /* even side, inside: [c - 1, c + 1) */
    { 3, 2, 2, 1, 4, 1, 4 },  /* odd side: s wide, [c - 1, c + 2) */
    { 3, 0, 0, 0, 2, 0, 2 },  /* clipped at the top-left corner */
    { 4, 3, 4, 1, 4, 2, 5 },  /* clipped at the bottom-right corner */
    { 16, 1, 1, 0, 4, 0, 5 }, /* larger than the image: everything */
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    const PofAugParams p = { 0, 0, cases[k].s };
    PofAugDraw         d = { 0, 0, 0, cases[k].cy, cases[k].cx };
    pof_augment_apply(&p, &d, C, H, W, l, src, out);
    for (int c = 0; c < C; c++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          const int in = y >= cases[k].y0 && y < cases[k].y1 && x >= cases[k].x0 && x < cases[k].x1;
          const float want = in ? 0.0f : l[c * 256 + src[(c * H + y) * W + x]];
          if (out[(c * H + y) * W + x] != want)
            fail_msg("cutout case %zu: c %d y %d x %d: got %g want %g", k, c, y, x,
                     (double)out[(c * H + y) * W + x], (double)want);
        }
  }
  /* cutout after crop + flip: the hole is in output coordinates */
  const PofAugParams p = { 1, 1, 2 };
  PofAugDraw         d = { 0, 2, 1, 0, 4 };
  pof_augment_apply(&p, &d, C, H, W, l, src, out);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      const int   in = y < 1 && x >= 3;
      const int   sy = y - 1, sx = (W - 1 - x) + 1;
      const int   v    = (sy < 0 || sx < 0 || sx >= W) ? 0 : src[sy * W + sx];
      const float want = in ? 0.0f : l[v];
      if (out[y * W + x] != want)
        fail_msg("crop+flip+cutout: y %d x %d: got %g want %g", y, x, (double)out[y * W + x],
                 (double)want);
    }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_partition),         cmocka_unit_test(test_epoch_perm),
    cmocka_unit_test(test_draw_order),        cmocka_unit_test(test_draw_ranges),
    cmocka_unit_test(test_apply_known_image), cmocka_unit_test(test_cutout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
