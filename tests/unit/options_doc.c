/* The option table as text: `options_doc markdown` prints docs/options.md, `options_doc names CMD`
   the options command CMD takes (one per line, with the dash). Used by tests/unit/options_table.sh
   and to regenerate docs/options.md. */
#include "pof/config.h"

#include <string.h>

int main(int argc, char **argv)
{
  PetscErrorCode ierr;
  if (argc < 2 || (strcmp(argv[1], "markdown") &&
                   (strcmp(argv[1], "names") || argc < 3 || !pof_command_id(argv[2])))) {
    fprintf(stderr, "usage: options_doc markdown | options_doc names <command>\n");
    return 2;
  }
  /* no PetscInitialize: the writers only print the table (and MPI's start-up would cost more than
     the rest of the test options_table) */
  if (!strcmp(argv[1], "markdown"))
    ierr = pof_options_write_markdown(stdout);
  else
    ierr = pof_options_write_names(stdout, pof_command_id(argv[2]));
  return ierr || fflush(stdout) ? 1 : 0;
}
