/* JSON helpers (include/pof/json.h): non-finite reals as null, strings escaped and read back
   equal, reals that round-trip bitwise, integers as integers, keys in insertion order. */
#include "pof/json.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* value as its line, parsed back (the line is checked to be one line of printable ASCII) */
static json_t *round_trip(json_t *value, char **text)
{
  char *s = pof_json_line(value);
  assert_non_null(s);
  for (const char *p = s; *p; p++)
    assert_true(*p >= 0x20 && *p <= 0x7f); /* DEL needs no escape in JSON */
  json_t *back = pof_json_parse(s, strlen(s));
  assert_non_null(back);
  if (text)
    *text = s;
  else
    free(s);
  return back;
}

static void test_non_finite_is_null(void **state)
{
  (void)state;
  const double bad[] = { NAN, -NAN, INFINITY, -INFINITY };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *v = pof_json_real_or_null(bad[i]);
    assert_true(json_is_null(v));
    json_decref(v);
  }
  const double row[] = { 1.5, NAN, -INFINITY, 0.25 };
  json_t      *a     = pof_json_reals(row, 4);
  char        *s     = pof_json_line(a);
  assert_string_equal(s, "[1.5,null,null,0.25]");
  free(s);
  json_decref(a);
  json_t *o = json_object();
  pof_json_set(&o, "loss", pof_json_real_or_null(NAN));
  pof_json_set(&o, "lr", pof_json_real_or_null(0.5));
  s = pof_json_line(o);
  assert_string_equal(s, "{\"loss\":null,\"lr\":0.5}");
  free(s);
  json_decref(o);
}

static void test_strings_escaped(void **state)
{
  (void)state;
  /* quotes, backslashes, every control character class, 2-, 3- and 4-byte UTF-8, a slash */
  static const char nasty[] = "r\"un\\x\\\\ \"q\" \x01\x02\x1f\t\n\r\b\f /a/b caf\xc3\xa9 "
                              "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 end\x7f";
  char             *text;
  json_t *a    = json_pack("[o]", pof_json_string(nasty)); /* a line holds an object or an array */
  json_t *back = round_trip(a, &text), *str = json_array_get(back, 0);
  assert_true(json_is_string(str));
  assert_string_equal(json_string_value(str), nasty);
  assert_int_equal(json_string_length(str), strlen(nasty));
  assert_non_null(strstr(text, "r\\\"un\\\\x")); /* " and \ escaped */
  assert_non_null(strstr(text, "\\u0001"));
  assert_non_null(strstr(text, "caf\\u00E9"));     /* non-ASCII as \u escapes */
  assert_non_null(strstr(text, "\\uD83D\\uDE00")); /* U+1F600 as a surrogate pair */
  free(text);
  json_decref(back);
  json_decref(a);
  /* as an object key's value inside a row, next to other values */
  json_t *o = json_object();
  pof_json_set(&o, "run_dir", pof_json_string(nasty));
  pof_json_set(&o, "epoch", json_integer(3));
  back = round_trip(o, NULL);
  assert_string_equal(json_string_value(json_object_get(back, "run_dir")), nasty);
  json_decref(back);
  json_decref(o);
  json_t *n = pof_json_string(NULL);
  assert_true(json_is_null(n));
  json_decref(n);
}

static void test_invalid_utf8_replaced(void **state)
{
  (void)state;
  /* a Latin-1 byte, a lone continuation byte, an overlong '/', a UTF-16 surrogate, a cut sequence
   */
  static const char bad[] = "a\xe9z \x80 \xc0\xaf \xed\xa0\x80 \xe6\x97";
  json_t           *s     = pof_json_string(bad);
  assert_non_null(s);
  const char *v = json_string_value(s);
  assert_string_equal(v, "a\xef\xbf\xbdz \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
  json_t *a    = json_pack("[O]", s);
  json_t *back = round_trip(a, NULL);
  assert_true(json_equal(json_array_get(back, 0), s));
  json_decref(back);
  json_decref(a);
  json_decref(s);
}

static void test_reals_round_trip(void **state)
{
  (void)state;
  double   v[64] = { 0.1,       1.0 / 3.0,
                     2.0 / 3.0, 1e-300,
                     5e-324,    DBL_MIN,
                     DBL_MAX,   -DBL_MAX,
                     0.0,       -0.0,
                     1.0,       100.0,
                     1e22,      123456789.123456789,
                     -2.5e-7,   0.07226562500000001 };
  uint64_t x     = 0x9E3779B97F4A7C15u; /* the rest: doubles with random bits (finite ones) */
  for (int i = 16; i < 64; i++) {
    do {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      memcpy(&v[i], &x, sizeof v[i]);
    } while (!isfinite(v[i]));
  }
  json_t *a    = pof_json_reals(v, 64);
  json_t *back = round_trip(a, NULL);
  assert_int_equal(json_array_size(back), 64);
  for (size_t i = 0; i < 64; i++) {
    json_t *e = json_array_get(back, i);
    assert_true(json_is_real(e)); /* 1.0 and 0.0 too: reals stay reals */
    const double y = json_real_value(e);
    assert_memory_equal(&y, &v[i], sizeof y);
  }
  json_decref(back);
  json_decref(a);
}

static void test_integers_and_key_order(void **state)
{
  (void)state;
  json_t *o = json_object();
  pof_json_set(&o, "zeta",
               json_integer((json_int_t)9007199254740993LL)); /* 2^53 + 1: not a double */
  pof_json_set(&o, "alpha", json_integer(-7));
  pof_json_set(&o, "mid", json_string("x"));
  char *s = pof_json_line(o);
  assert_string_equal(s, "{\"zeta\":9007199254740993,\"alpha\":-7,\"mid\":\"x\"}");
  free(s);
  json_decref(o);
}

static void test_set_failure_releases(void **state)
{
  (void)state;
  json_t *o = json_object();
  pof_json_set(&o, "a", json_integer(1));
  pof_json_set(&o, "b", NULL); /* a value that could not be built */
  assert_null(o);
  pof_json_set(&o, "c", json_integer(2)); /* later calls are harmless */
  assert_null(o);
  assert_null(pof_json_line(o));
  o = json_object();
  pof_json_set(&o, "bad\xff", json_integer(1)); /* a key that is not UTF-8 */
  assert_null(o);
}

static void test_write_and_parse_lines(void **state)
{
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  json_t *o = json_object();
  pof_json_set(&o, "epoch", json_integer(1));
  pof_json_set(&o, "loss", pof_json_real_or_null(INFINITY));
  assert_int_equal(pof_json_write_line(f, o), 0);
  rewind(f);
  char line[256];
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "{\"epoch\":1,\"loss\":null}\n");
  fclose(f);
  json_t *r = pof_json_parse(line, strlen(line)); /* the newline is allowed */
  assert_non_null(r);
  assert_int_equal(json_integer_value(json_object_get(r, "epoch")), 1);
  json_decref(r);
  assert_null(pof_json_parse("{\"epoch\":1,\"lo", 14)); /* a line cut by a kill */
  assert_null(pof_json_parse("{\"a\":1} {", 9));        /* trailing garbage */
  assert_int_not_equal(pof_json_write_line(stdout, NULL), 0);
}

static int setup(void **state)
{
  (void)state;
  if (PetscInitializeNoArguments()) return 1;
  return PetscPushErrorHandler(PetscReturnErrorHandler, NULL) ? 1 : 0;
}
static int teardown(void **state)
{
  (void)state;
  return PetscFinalize() ? 1 : 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_non_finite_is_null),     cmocka_unit_test(test_strings_escaped),
    cmocka_unit_test(test_invalid_utf8_replaced),  cmocka_unit_test(test_reals_round_trip),
    cmocka_unit_test(test_integers_and_key_order), cmocka_unit_test(test_set_failure_releases),
    cmocka_unit_test(test_write_and_parse_lines),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
