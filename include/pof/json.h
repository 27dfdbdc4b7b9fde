/* JSON through jansson: the few steps every writer and reader of pof's JSON repeats.
 * Everything pof writes as JSON (metrics.jsonl, steps.jsonl, result.json, summary.jsonl, the
 * final stdout line of each command, bench's line) is built as a jansson value and printed with
 * POF_JSON_FLAGS, so the output is strict JSON: strings escaped, NaN/Inf written as null,
 * integers as integers, reals with 17 significant digits (they parse back to the same double),
 * keys in insertion order. Not collective unless stated. */
#ifndef POF_JSON_H
#define POF_JSON_H

#include <jansson.h>
#include "pof/core.h"
#include <stdio.h>

#if JANSSON_VERSION_HEX < 0x020e00
#  error "pof needs jansson 2.14 or newer (objects keep insertion order)"
#endif

/** One line, no spaces, ASCII only (other characters as \uXXXX), keys in insertion order,
    reals with 17 significant digits. */
#define POF_JSON_FLAGS \
  (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))

/** A real, or null when v is NaN or infinite (JSON has no literal for them: a diverged run must
    not make its rows unreadable). New reference; NULL only when out of memory. */
json_t *pof_json_real_or_null(double v);

/** n reals as an array, each as pof_json_real_or_null. New reference; NULL when out of memory. */
json_t *pof_json_reals(const double *v, size_t n);

/** A string from any C string (a path or an option value as the user gave it): bytes that are
    not valid UTF-8 become U+FFFD, so the value is always representable; NULL gives null.
    New reference; NULL when out of memory. */
json_t *pof_json_string(const char *s);

/** (*obj)[key] = value, taking the reference to value (as json_object_set_new). When value or
    *obj is NULL (an allocation failed) or the insertion fails, *obj is released and set to NULL,
    so a sequence of calls needs one check at the end (pof_json_write_line errors on NULL). */
void pof_json_set(json_t **obj, const char *key, json_t *value);

/** The value as one line of text (POF_JSON_FLAGS, no newline), or NULL (value NULL or out of
    memory). The caller frees it with free(). */
char *pof_json_line(const json_t *value);

/** Write value and a newline to f, taking the reference to value. Errors when value is NULL
    (it could not be built) or the write fails. */
PetscErrorCode pof_json_write_line(FILE *f, json_t *value);

/** Rank 0 of comm prints value and a newline to stdout (flushed); every rank releases its
    reference to value. Not collective (no communication); errors when value is NULL. */
PetscErrorCode pof_json_print_line(MPI_Comm comm, json_t *value);

/** Parse one JSON text of len bytes (a line of a .jsonl file, trailing whitespace allowed).
    New reference, or NULL when it is not valid JSON (a line cut by a kill). */
json_t *pof_json_parse(const char *text, size_t len);

#endif
