/* Linked into every executable of the sanitizer build (POF_SANITIZE=ON; tests/CMakeLists.txt) so
   that LeakSanitizer's stacks, taken with the fast frame-pointer unwinder, reach a frame of the
   library that made an allocation; tests/lsan.supp suppresses third-party leaks by module name
   (libopen-pal.so, mca_*.so, libpmix.so, ...). Nothing here frees or hides anything.
   - dlclose does nothing, so every shared object stays mapped until the process exits. Open MPI
     closes its plugins (mca_*.so, and libpmix, libpsm2 with them) in MPI_Finalize, and Open MPI
     4.1 has no parameter to keep them; a leak allocated in an unmapped plugin shows as
     "(<unknown module>)", which no suppression can name.
   - asprintf and vasprintf (and the _FORTIFY_SOURCE entry points __asprintf_chk and
     __vasprintf_chk, which Debian's Open MPI calls) allocate here, in code with frame pointers:
     glibc has none, so a stack through its vasprintf ends in a garbage frame after it, and the
     strings Open MPI keeps (e.g. from mca_base_component_to_string) could not be named.
   The executable's definitions come first in the dynamic linker's lookup order (exported with
   -Wl,--export-dynamic-symbol). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int dlclose(void *handle);
int vasprintf(char **strp, const char *fmt, va_list ap);
int asprintf(char **strp, const char *fmt, ...);
int __vasprintf_chk(char **strp, int flag, const char *fmt, va_list ap);
int __asprintf_chk(char **strp, int flag, const char *fmt, ...);

int dlclose(void *handle)
{
  (void)handle;
  return 0;
}

int vasprintf(char **strp, const char *fmt, va_list ap)
{
  va_list aq;
  va_copy(aq, ap);
  const int n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (!s) return -1;
  (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
  *strp = s;
  return n;
}

int asprintf(char **strp, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  const int n = vasprintf(strp, fmt, ap);
  va_end(ap);
  return n;
}

int __vasprintf_chk(char **strp, int flag, const char *fmt, va_list ap)
{
  (void)flag;
  return vasprintf(strp, fmt, ap);
}

int __asprintf_chk(char **strp, int flag, const char *fmt, ...)
{
  va_list ap;
  (void)flag;
  va_start(ap, fmt);
  const int n = vasprintf(strp, fmt, ap);
  va_end(ap);
  return n;
}
