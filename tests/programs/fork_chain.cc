// A test workload for record/replay: a fork chain of depth 4, each generation writing
// some of an inherited region, the parents waiting for their children.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main() {
  const long kPage = 4096;
  char* p = static_cast<char*>(mmap(nullptr, 64 * kPage, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (int i = 0; i < 64; ++i) p[i * kPage] = 1;
  for (int depth = 0; depth < 4; ++depth) {
    pid_t c = fork();
    if (c > 0) {
      waitpid(c, nullptr, 0);
      return 0;
    }
    for (int i = depth; i < 64; i += 8) p[i * kPage] = 2;
  }
  return 0;
}
