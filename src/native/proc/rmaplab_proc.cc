// rmaplab-proc: one scenario process of the native executor.
//
// A freestanding static binary (no libc) so that the process has no anonymous memory
// outside the arena: after start-up it runs on a MAP_SHARED stack and unmaps the stack
// execve gave it, and it has no writable ELF segment. Its fork therefore costs no
// anon_vma or anon_vma_chain outside the arena, and the kernel object counts of a
// scenario need no correction for the executor's own memory (docs/native.md).
//
// Invariant: this file defines no mutable global or static data (there is no .data or
// .bss: a write there would give the process an anon_vma). Everything lives on the
// stack.
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ucontext.h>

#include "native/proto.h"

using namespace rmaplab::native;

namespace {

inline long Syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
inline long Syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
  return Syscall6(n, a, b, c, d, 0, 0);
}

[[noreturn]] void ExitGroup(int code) {
  for (;;) Syscall(__NR_exit_group, code);
}

bool ReadFull(int fd, void* buf, long n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    long r = Syscall(__NR_read, fd, reinterpret_cast<long>(p), n);
    if (r == -EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

bool WriteFull(int fd, const void* buf, long n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    long r = Syscall(__NR_write, fd, reinterpret_cast<long>(p), n);
    if (r == -EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

}  // namespace

// Assembly: entry point, the touch primitive with its fault landing pad, the signal
// restorer, a fork that starts the child on its own stack, and a stack switch.
extern "C" {
long proc_touch(uintptr_t addr, int write);
void proc_touch_read_insn();
void proc_touch_write_insn();
void proc_touch_fault();
void proc_sigreturn();
long proc_fork_onto(uintptr_t child_sp, void (*fn)(long), long arg);
[[noreturn]] void proc_switch_stack(uintptr_t sp, void (*fn)(long), long arg);
}

asm(R"(
  .text
  .globl _start
_start:
  mov %rsp, %rdi
  and $-16, %rsp
  call proc_start
  hlt

  .globl proc_touch, proc_touch_read_insn, proc_touch_write_insn, proc_touch_fault
proc_touch:
  test %esi, %esi
  jnz 1f
proc_touch_read_insn:
  movb (%rdi), %al
  xor %eax, %eax
  ret
1:
proc_touch_write_insn:
  movb $1, (%rdi)
  xor %eax, %eax
  ret
proc_touch_fault:
  ret

  .globl proc_sigreturn
proc_sigreturn:
  mov $15, %eax
  syscall
  hlt

  .globl proc_fork_onto
proc_fork_onto:
  sub $16, %rdi
  mov %rsi, 0(%rdi)
  mov %rdx, 8(%rdi)
  mov %rdi, %rsi
  mov $17, %edi
  xor %edx, %edx
  xor %r10d, %r10d
  xor %r8d, %r8d
  mov $56, %eax
  syscall
  test %rax, %rax
  jnz 2f
  pop %rax
  pop %rdi
  call *%rax
  hlt
2:
  ret

  .globl proc_switch_stack
proc_switch_stack:
  mov %rdi, %rsp
  mov %rdx, %rdi
  call *%rsi
  hlt
)");

namespace {

struct KernelSigaction {
  uintptr_t handler;
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
constexpr unsigned long kSaSiginfo = 4, kSaRestorer = 0x04000000, kSaNodefer = 0x40000000;

// A fault in proc_touch lands on proc_touch_fault with rax = -signo; any other fault is
// a crash of the scenario process.
void OnFault(int sig, siginfo_t* info, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  uintptr_t rip = uc->uc_mcontext.gregs[REG_RIP];
  if (rip == reinterpret_cast<uintptr_t>(&proc_touch_read_insn) ||
      rip == reinterpret_cast<uintptr_t>(&proc_touch_write_insn)) {
    uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<uintptr_t>(&proc_touch_fault);
    uc->uc_mcontext.gregs[REG_RAX] = -sig;
    return;
  }
  // A crash: tell the executor which signal before dying. The process's index follows
  // from the stack it runs on (there are no globals to keep it in).
  uintptr_t here = reinterpret_cast<uintptr_t>(&rip);
  if (here >= kStackBase) {
    long index = static_cast<long>((here - kStackBase) / kStackStride);
    Reply crash{kOpCrash, 0, -sig, sig};
    WriteFull(kCmdFdBase + 2 * static_cast<int>(index) + 1, &crash, sizeof crash);
  }
  ExitGroup(128 + sig);
}

void InstallHandlers() {
  KernelSigaction sa{};
  sa.handler = reinterpret_cast<uintptr_t>(&OnFault);
  sa.flags = kSaSiginfo | kSaRestorer | kSaNodefer;
  sa.restorer = &proc_sigreturn;
  Syscall(__NR_rt_sigaction, SIGSEGV, reinterpret_cast<long>(&sa), 0, 8);
  Syscall(__NR_rt_sigaction, SIGBUS, reinterpret_cast<long>(&sa), 0, 8);
  KernelSigaction ign{};
  ign.handler = 1;  // SIG_IGN
  ign.flags = kSaRestorer;
  ign.restorer = &proc_sigreturn;
  Syscall(__NR_rt_sigaction, SIGCHLD, reinterpret_cast<long>(&ign), 0, 8);  // auto-reap
}

uintptr_t StackTop(long index) { return kStackBase + index * kStackStride + kStackSize; }

long MapStack(long index) {
  long r = Syscall6(__NR_mmap, kStackBase + index * kStackStride, kStackSize,
                    PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
  return r < 0 ? r : 0;
}

long ParseHex(const char* s, int* used) {
  long v = 0;
  int i = 0;
  for (;; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = v * 16 + d;
  }
  *used = i;
  return v;
}

// Unmaps the [stack] VMA that execve created (found in /proc/self/maps).
void UnmapExecStack() {
  char path[] = "/proc/self/maps";
  long fd = Syscall(__NR_open, reinterpret_cast<long>(path), 0 /*O_RDONLY*/);
  if (fd < 0) ExitGroup(101);
  char buf[16384];
  long n = 0;
  for (;;) {
    long r = Syscall(__NR_read, fd, reinterpret_cast<long>(buf + n), sizeof(buf) - 1 - n);
    if (r <= 0) break;
    n += r;
  }
  Syscall(__NR_close, fd);
  buf[n] = 0;
  const char* line = buf;
  while (*line) {
    const char* end = line;
    while (*end && *end != '\n') ++end;
    // "start-end perms offset dev inode   [stack]"
    bool is_stack = end - line > 7 && end[-1] == ']' && end[-7] == '[' && end[-6] == 's' &&
                    end[-5] == 't' && end[-4] == 'a' && end[-3] == 'c' && end[-2] == 'k';
    if (is_stack) {
      int used = 0;
      long start = ParseHex(line, &used);
      long stop = ParseHex(line + used + 1, &used);
      if (Syscall(__NR_munmap, start, stop - start) != 0) ExitGroup(102);
      return;
    }
    line = *end ? end + 1 : end;
  }
}

// The command loop of scenario process `index`.
[[noreturn]] void Serve(long index) {
  int cmd_fd = kCmdFdBase + 2 * index, reply_fd = cmd_fd + 1;
  Reply ready{kOpReady, 0, 0, Syscall(__NR_getpid)};
  if (!WriteFull(reply_fd, &ready, sizeof ready)) ExitGroup(103);
  for (;;) {
    Command c;
    if (!ReadFull(cmd_fd, &c, sizeof c)) ExitGroup(0);  // executor gone
    Reply r{c.op, 0, 0, 0};
    switch (c.op) {
      case kOpMmap:
        r.result = Syscall6(__NR_mmap, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
        break;
      case kOpMunmap:
        r.result = Syscall(__NR_munmap, c.a[0], c.a[1]);
        break;
      case kOpMprotect:
        r.result = Syscall(__NR_mprotect, c.a[0], c.a[1], c.a[2]);
        break;
      case kOpMremap:
        r.result = Syscall6(__NR_mremap, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], 0);
        break;
      case kOpMadvise:
        r.result = Syscall(__NR_madvise, c.a[0], c.a[1], c.a[2]);
        break;
      case kOpTouch: {
        long i = 0;
        for (; i < c.a[1]; ++i) {
          long t = proc_touch(c.a[0] + i * 4096, static_cast<int>(c.a[2]));
          if (t < 0) {
            r.extra = -t;
            break;
          }
        }
        r.result = i;
        break;
      }
      case kOpFork: {
        long child = c.a[0];
        long err = MapStack(child);
        r.result = err ? err : proc_fork_onto(StackTop(child), &Serve, child);
        break;
      }
      case kOpExit:
        ExitGroup(0);
      case kOpCrash:
        asm volatile("movb $1, 16" ::: "memory");  // a fault outside proc_touch
        break;
      case kOpSleep: {
        long ts[2] = {c.a[0], 0};
        Syscall(__NR_nanosleep, reinterpret_cast<long>(ts), 0);
        break;
      }
      default:
        r.result = -EINVAL;
    }
    if (!WriteFull(reply_fd, &r, sizeof r)) ExitGroup(104);
  }
}

void Start2(long index) {
  UnmapExecStack();
  Serve(index);
}

}  // namespace

// argv[1]: this process's index (decimal).
extern "C" [[noreturn]] void proc_start(long* sp) {
  long argc = sp[0];
  const char* const* argv = reinterpret_cast<const char* const*>(sp + 1);
  long index = 0;
  if (argc > 1)
    for (const char* p = argv[1]; *p >= '0' && *p <= '9'; ++p) index = index * 10 + (*p - '0');
  Syscall(__NR_prctl, PR_SET_THP_DISABLE, 1, 0, 0);
  Syscall(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
  InstallHandlers();
  if (MapStack(index)) ExitGroup(100);
  proc_switch_stack(StackTop(index), &Start2, index);
}

// The compiler may emit calls to these for struct copies.
extern "C" void* memset(void* d, int c, size_t n) {
  auto* p = static_cast<volatile char*>(d);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>(c);
  return d;
}
extern "C" void* memcpy(void* d, const void* s, size_t n) {
  auto* p = static_cast<volatile char*>(d);
  const char* q = static_cast<const char*>(s);
  for (size_t i = 0; i < n; ++i) p[i] = q[i];
  return d;
}
