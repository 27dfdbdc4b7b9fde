/* Phase state, progress lines and the heartbeat file: see include/pof/progress.h. */
#include "pof/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const phase_names[POF_PHASE_COUNT] = { "idle", "data_load",  "train",
                                                          "eval", "checkpoint", "analyze",
                                                          "sweep" };

enum { MAX_DEPTH = 8 };
typedef struct {
  PofPhase phase;
  int64_t  done, total;
} Frame;

static struct {
  Frame              stack[MAX_DEPTH];
  int                depth;
  int64_t            step;
  double             last_change, last_report, period;
  int                reporter;
  char               heartbeat[4096], context[64];
  PofProgressWriteFn write;
} P;

const char *pof_progress_phase_name(PofPhase phase)
{
  return phase >= 0 && phase < POF_PHASE_COUNT ? phase_names[phase] : "unknown";
}

void pof_progress_setup(double period, int reporter, const char *heartbeat,
                        PofProgressWriteFn write)
{
  P.period       = period > 0 ? period : 0;
  P.reporter     = reporter;
  P.write        = write;
  P.last_report  = pof_now();
  P.heartbeat[0] = 0;
  if (heartbeat && strlen(heartbeat) < sizeof P.heartbeat)
    memcpy(P.heartbeat, heartbeat, strlen(heartbeat) + 1);
}

void pof_progress_begin(PofPhase phase, int64_t total)
{
  if (P.depth < MAX_DEPTH) P.stack[P.depth] = (Frame){ phase, 0, total };
  P.depth++;
  P.last_change = pof_now();
}

void pof_progress_end(void)
{
  if (P.depth > 0) P.depth--;
  P.last_change = pof_now();
}

void pof_progress_advance(int64_t done)
{
  if (P.depth > 0 && P.depth <= MAX_DEPTH) P.stack[P.depth - 1].done = done;
  P.last_change = pof_now();
}

void pof_progress_set_step(int64_t step) { P.step = step; }

void pof_progress_get(PofProgressState *s)
{
  const int top  = P.depth < MAX_DEPTH ? P.depth : MAX_DEPTH;
  s->phase       = top > 0 ? P.stack[top - 1].phase : POF_PHASE_IDLE;
  s->done        = top > 0 ? P.stack[top - 1].done : 0;
  s->total       = top > 0 ? P.stack[top - 1].total : 0;
  s->step        = P.step;
  s->last_change = P.last_change;
}

int pof_progress_on(void) { return P.reporter && P.period > 0; }

int pof_progress_due(void) { return pof_progress_on() && pof_now() - P.last_report >= P.period; }

void pof_progress_report(const char *line, json_t *hb)
{
  P.last_report = pof_now();
  if (line && P.reporter) {
    fprintf(stdout, "%s%s\n", P.context, line);
    fflush(stdout);
  }
  if (!hb) return;
  if (P.heartbeat[0] && P.write && P.reporter) {
    PofProgressState s;
    char             msg[512];
    pof_progress_get(&s);
    pof_json_set(&hb, "phase", pof_json_string(pof_progress_phase_name(s.phase)));
    pof_json_set(&hb, "time", json_real((double)time(NULL)));
    if (P.context[0]) pof_json_set(&hb, "context", pof_json_string(P.context));
    char *text = pof_json_line(hb);
    int   err  = text ? P.write(P.heartbeat, text, msg, sizeof msg) : 0;
    free(text);
    if (err) {
      fprintf(stdout, "pof: warning: progress file not written (%s); no more tries\n", msg);
      fflush(stdout);
      P.heartbeat[0] = 0;
    }
  }
  json_decref(hb);
}

void pof_progress_duration(double seconds, char *buf, size_t len)
{
  const long s = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;
  if (s < 60)
    snprintf(buf, len, "%lds", s);
  else if (s < 3600)
    snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
  else if (s < 86400)
    snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else
    snprintf(buf, len, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

int pof_progress_depth(void) { return P.depth; }

void pof_progress_unwind(int depth)
{
  if (depth >= 0 && depth < P.depth) P.depth = depth;
  P.last_change = pof_now();
}

void pof_progress_set_context(const char *prefix)
{
  P.context[0] = 0;
  if (prefix && strlen(prefix) < sizeof P.context) memcpy(P.context, prefix, strlen(prefix) + 1);
}
