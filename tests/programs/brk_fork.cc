// A test workload for record/replay (regression): the heap grows by brk in the parent,
// then again in a forked child, which writes its new heap pages. The model's fork once
// left the child's brk at zero, so the child's brk failed and its heap faults were refused
// (found on a recorded shell script: bash subshells growing their heap).
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char* Brk(char* want) { return reinterpret_cast<char*>(syscall(SYS_brk, want)); }

int main() {
  const long kPage = 4096;
  char* start = Brk(nullptr);
  char* end = Brk(start + 16 * kPage);
  for (char* p = start; p < end; p += kPage) *p = 1;
  pid_t c = fork();
  if (c == 0) {
    char* more = Brk(end + 16 * kPage);
    for (char* p = end; p < more; p += kPage) *p = 2;
    for (char* p = start; p < end; p += 2 * kPage) *p = 3;
    _exit(0);
  }
  waitpid(c, nullptr, 0);
  return 0;
}
