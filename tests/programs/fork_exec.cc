// A test workload for record/replay (regression): forked children write a fresh page of an
// inherited but never-written region as their last act before execve. That user-mode fault
// allocates an anon_vma in the old mm; replay once took every fault just before an exec for
// one inside execve and skipped it (found on a recorded `make -j2`: dash children).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// execve(path, argv, nullptr) with no library code between the caller's last write and
// the system call (library code would fault its own pages in after the write).
static long RawExecve(const char* path, char* const* argv) {
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "0"(long{SYS_execve}), "D"(path), "S"(argv), "d"(0L)
               : "rcx", "r11", "memory");
  return ret;
}

int main() {
  const long kPage = 4096;
  // Far from every other mapping, so it merges with none and has no anon_vma when forked.
  char* p = static_cast<char*>(mmap(reinterpret_cast<void*>(0x200000000000), 16 * kPage,
                                    PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
  if (p == MAP_FAILED) return 1;
  static const char kTrue[] = "/bin/true";
  for (int i = 0; i < 4; ++i) {
    pid_t c = fork();
    if (c == 0) {
      char* argv[] = {const_cast<char*>(kTrue), nullptr};  // the stack page is written here
      asm volatile("" ::: "memory");
      if (i < 3) *static_cast<volatile char*>(p + i * kPage) = 1;
      RawExecve(kTrue, argv);
      _exit(127);
    }
    waitpid(c, nullptr, 0);
  }
  return 0;
}
