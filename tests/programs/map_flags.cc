// A test workload for record/replay (regression): mmap flags that change VMA flags and so
// merging and anon_vma reuse (calc_vm_flag_bits()), threads (CLONE_VM), and System V
// shared memory (shmat maps without mmap). MAP_STACK sets VM_NOHUGEPAGE: a thread stack
// next to an anonymous mapping neither merges with it nor reuses its anon_vma (the model
// once merged them: found on a recorded pgbench, its thread stack).
#include <pthread.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const long kPage = 4096;

char* MapAt(uintptr_t addr, long pages, int extra) {
  void* p = mmap(reinterpret_cast<void*>(addr), pages * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | extra, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

void* Thread(void* arg) {
  char* p = static_cast<char*>(arg);
  for (int i = 0; i < 4; ++i) p[i * kPage] = 5;
  return nullptr;
}

}  // namespace

int main() {
  const uintptr_t base = 0x210000000000;
  char* a = MapAt(base, 4, 0);
  if (!a) return 1;
  a[0] = 1;  // a has an anon_vma; the neighbours below would reuse it if compatible
  char* s = MapAt(base + 4 * kPage, 4, MAP_STACK);
  char* g = MapAt(base + 8 * kPage, 4, MAP_GROWSDOWN);
  char* l = MapAt(base + 12 * kPage, 4, MAP_LOCKED);  // populated: faults without events
  if (!s || !g || !l) return 1;
  s[0] = 2;
  g[3 * kPage] = 3;
  l[kPage] = 4;
  // Threads share the mm; their stacks are MAP_STACK mappings.
  pthread_t t[2];
  for (auto& th : t) pthread_create(&th, nullptr, Thread, a);
  for (auto& th : t) pthread_join(th, nullptr);
  // System V shared memory, attached in the parent and inherited by a child.
  int id = shmget(IPC_PRIVATE, 3 * kPage, IPC_CREAT | 0600);
  if (id < 0) return 1;
  char* shm = static_cast<char*>(shmat(id, nullptr, 0));
  shmctl(id, IPC_RMID, nullptr);
  if (shm == reinterpret_cast<char*>(-1)) return 1;
  shm[0] = 1;
  pid_t c = fork();
  if (c == 0) {
    shm[kPage] = 2;
    a[kPage] = 2;
    shmdt(shm);
    _exit(0);
  }
  waitpid(c, nullptr, 0);
  shmdt(shm);
  return 0;
}
