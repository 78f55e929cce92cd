#include "bench/workloads.h"

#include <fmt/format.h>

namespace rmaplab::bench {

std::vector<Workload> Workloads(int scale) {
  std::vector<Workload> w;
  {  // Faults: one process writing and reading a large region page by page.
    int pages = 4096 * scale;
    std::string s = "process A\n";
    s += fmt::format("A mmap 0 {} rw-\n", pages);
    for (int i = 0; i < pages; i += 256) s += fmt::format("A write {} 256\n", i);
    for (int i = 0; i < pages; i += 256) s += fmt::format("A read {} 256\n", i);
    w.push_back({"fault-heavy", fmt::format("{} write + {} read faults in one VMA", pages, pages), s});
  }
  {  // Forks: a server forking workers that each write a share and exit.
    int workers = 64 * scale;
    std::string s = "process S\nS mmap 0 512 rw-\nS write 0 512\n";
    for (int i = 0; i < workers; ++i) {
      s += fmt::format("S fork W{}\nW{} write {} 8\n", i, i, (i * 8) % 512);
      if (i >= 8) s += fmt::format("W{} exit\n", i - 8);
    }
    w.push_back({"fork-server", fmt::format("{} workers forked from a 512-page server", workers), s});
  }
  {  // VMA churn: mprotect splits and re-merges over many VMAs.
    int vmas = 256 * scale;
    std::string s = fmt::format("process A\nA mmap 0 {} rw-\nA write 0 {}\n", vmas * 4, vmas * 4);
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < vmas; i += 2) s += fmt::format("A mprotect {} 2 r--\n", i * 4 + 1);
      for (int i = 0; i < vmas; i += 2) s += fmt::format("A mprotect {} 2 rw-\n", i * 4 + 1);
    }
    w.push_back({"mprotect-churn", fmt::format("split/merge over {} pages, 4 rounds", vmas * 4), s});
  }
  {  // mremap: a growing buffer moved repeatedly (realloc pattern).
    int steps = 128 * scale;
    std::string s = "process A\nA mmap 0 4 rw-\nA write 0 4\n";
    int len = 4, at = 0;
    for (int i = 0; i < steps; ++i) {
      int to = (i % 2) ? 0 : 100000;
      s += fmt::format("A mremap {} {} {} to {}\nA write {} 1\n", at, len, len + 4, to, to + len);
      at = to;
      len += 4;
      if (len > 2000) {
        s += fmt::format("A munmap {} {}\nA mmap {} 4 rw-\nA write {} 4\n", at, len, at, at);
        len = 4;
      }
    }
    w.push_back({"mremap-grow", fmt::format("{} grow-and-move steps", steps), s});
  }
  {  // Deep fork chain: rmap walks get longer with depth under some designs.
    int depth = 16 * scale;
    std::string s = "process P0\nP0 mmap 0 64 rw-\nP0 write 0 64\n";
    for (int i = 1; i <= depth; ++i)
      s += fmt::format("P{} fork P{}\nP{} write {} 1\nP{} rmap 0\n", i - 1, i, i, i % 64, i);
    w.push_back({"fork-chain", fmt::format("a fork chain of depth {}", depth), s});
  }
  return w;
}

Workload DataCentre(const DataCentreShape& d) {
  std::string s = fmt::format("# data-centre fleet: {} families x {} processes, {} VMAs x {} pages each\n",
                              d.families, d.procs, d.vmas, d.vma_pages);
  // Every process writes every page of every VMA, one statement per VMA (the one-page
  // gaps would stop a single write with SIGSEGV).
  auto write_all = [&](const std::string& proc) {
    for (int v = 0; v < d.vmas; ++v)
      s += fmt::format("{} write {} {}\n", proc, int64_t{v} * (d.vma_pages + 1), d.vma_pages);
  };
  for (int f = 0; f < d.families; ++f) {
    std::string p = fmt::format("F{}", f);
    s += fmt::format("process {}\n", p);
    for (int v = 0; v < d.vmas; ++v)
      s += fmt::format("{} mmap {} {} rw-\n", p, int64_t{v} * (d.vma_pages + 1), d.vma_pages);
    write_all(p);
    for (int c = 1; c < d.procs; ++c) {
      std::string child = fmt::format("{}c{}", p, c);
      s += fmt::format("{} fork {}\n", p, child);
      write_all(child);
    }
  }
  return {"datacentre",
          fmt::format("{} processes, {} VMAs, {} resident pages", d.processes(), d.total_vmas(),
                      d.resident_pages()),
          s};
}

}  // namespace rmaplab::bench
