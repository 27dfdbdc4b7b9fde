/* JSON helpers over jansson: see include/pof/json.h. */
#include "pof/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *pof_json_real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *pof_json_reals(const double *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, pof_json_real_or_null(v[i])) != 0) {
      json_decref(a);
      a = NULL;
    }
  return a;
}

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most
   U+10FFFF) at s, or 0 when s does not start one. s is NUL-terminated. */
static size_t utf8_seq_len(const unsigned char *s)
{
  const unsigned char c  = s[0];
  unsigned char       lo = 0x80, hi = 0xBF;
  size_t              n;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return n;
}

json_t *pof_json_string(const char *s)
{
  if (!s) return json_null();
  const unsigned char *p   = (const unsigned char *)s;
  size_t               len = 0, bad = 0;
  for (size_t k; *p; p += k) {
    k = utf8_seq_len(p);
    if (k == 0) k = 1, bad++;
    len += k;
  }
  if (!bad) return json_stringn(s, len);
  char *t = malloc(len + 2 * bad + 1), *q = t; /* each bad byte: 3 bytes of U+FFFD */
  if (!t) return NULL;
  for (p = (const unsigned char *)s; *p;) {
    size_t k = utf8_seq_len(p);
    if (k == 0) {
      memcpy(q, "\xEF\xBF\xBD", 3), q += 3, p++;
      continue;
    }
    memcpy(q, p, k), q += k, p += k;
  }
  json_t *j = json_stringn(t, (size_t)(q - t));
  free(t);
  return j;
}

void pof_json_set(json_t **obj, const char *key, json_t *value)
{
  if (*obj && json_object_set_new(*obj, key, value) == 0) return;
  if (!*obj) json_decref(value); /* json_object_set_new released it otherwise */
  json_decref(*obj);
  *obj = NULL;
}

char *pof_json_line(const json_t *value)
{
  return value ? json_dumps(value, POF_JSON_FLAGS) : NULL;
}

PetscErrorCode pof_json_write_line(FILE *f, json_t *value)
{
  char *s = pof_json_line(value);
  int   w;
  PetscFunctionBegin;
  json_decref(value);
  PetscCheck(s, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot build a JSON line (out of memory)");
  w = fputs(s, f) < 0 || fputc('\n', f) == EOF;
  free(s);
  PetscCheck(!w, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write a JSON line");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_json_print_line(MPI_Comm comm, json_t *value)
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank != 0) {
    json_decref(value);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(pof_json_write_line(stdout, value));
  fflush(stdout);
  PetscFunctionReturn(PETSC_SUCCESS);
}

json_t *pof_json_parse(const char *text, size_t len)
{
  json_error_t err;
  return json_loadb(text, len, 0, &err);
}
