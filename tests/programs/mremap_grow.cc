// A test workload for record/replay: a buffer that grows by mremap (in place or moved),
// written after each step, with a fork in the middle.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main() {
  const long kPage = 4096;
  size_t pages = 4;
  char* p = static_cast<char*>(mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (size_t i = 0; i < pages; ++i) p[i * kPage] = 1;
  for (int step = 0; step < 8; ++step) {
    char* q = static_cast<char*>(mremap(p, pages * kPage, pages * 2 * kPage, MREMAP_MAYMOVE));
    if (q == MAP_FAILED) return 1;
    p = q;
    for (size_t i = pages; i < pages * 2; ++i) p[i * kPage] = 1;
    pages *= 2;
    if (step == 4) {
      pid_t c = fork();
      if (c == 0) {
        p[0] = 3;
        _exit(0);
      }
      waitpid(c, nullptr, 0);
    }
  }
  return 0;
}
