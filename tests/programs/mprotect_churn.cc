// A test workload for record/replay: mprotect splits and re-merges over a faulted
// region, madvise, munmap of the middle.
#include <sys/mman.h>

int main() {
  const long kPage = 4096;
  char* p = static_cast<char*>(mmap(nullptr, 128 * kPage, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (int i = 0; i < 128; i += 2) p[i * kPage] = 1;
  for (int r = 0; r < 20; ++r) {
    long s = (r * 37) % 120;
    mprotect(p + s * kPage, 4 * kPage, PROT_READ);
    mprotect(p + s * kPage, 4 * kPage, PROT_READ | PROT_WRITE);
    p[(s + 1) * kPage] = 2;
  }
  madvise(p, 16 * kPage, MADV_DONTNEED);
  p[3 * kPage] = 4;
  munmap(p + 60 * kPage, 8 * kPage);
  return 0;
}
