/* Opens an engine on the directory given, prints the library's version. */
#include <rattan.h>
#include <stdio.h>

int main(int argc, char **argv) {
  rattan_engine *e;
  char msg[256];
  if (rattan_open(argc > 1 ? argv[1] : "hello.db", NULL, &e, msg, sizeof msg))
    return fprintf(stderr, "hello: %s\n", msg), 1;
  printf("rattan %s\n", rattan_version());
  rattan_close(e);
  return 0;
}
