/* The demo's "real build": compiled and tested inside a cell with the host's gcc bound read-only. */
#include <stdio.h>
#include <string.h>

static int add(int a, int b) { return a + b; }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--test") == 0) {
    int ok = add(2, 3) == 5 && add(-1, 1) == 0;
    printf("%s: add() %s\n", argv[0], ok ? "passes" : "FAILS");
    return ok ? 0 : 1;
  }
  printf("hello from a cell\n");
  return 0;
}
