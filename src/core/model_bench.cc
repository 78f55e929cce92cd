// Google Benchmark microbenchmarks of the model's hot paths and of how the operations'
// cost grows (fork / munmap / mremap against VMA count and pages, walks against fork
// depth). `make bench` runs them (rmaplab_microbench); docs/performance.md has numbers.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "core/model.h"
#include "core/page_table.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"

namespace rmaplab {
namespace {

constexpr Vpn kBase = 0x100000000ULL;

MmapArgs Anon(Vpn addr, uint64_t len, bool write = true) {
  MmapArgs a;
  a.addr = addr;
  a.len = len;
  a.read = true;
  a.write = write;
  return a;
}

// A model under `linux` with one process.
struct Fixture {
  std::unique_ptr<Scheme> scheme = CreateScheme("linux");
  Model model{scheme.get()};
  Mm* mm = model.NewMm("A");
};

// Every `vmas`-th mapping alternates rw / r so that none merge; one written page each.
void MapDistinct(Fixture& f, int64_t vmas, uint64_t pages_each) {
  for (int64_t i = 0; i < vmas; ++i) {
    Vpn at = kBase + i * pages_each;
    f.model.Mmap(*f.mm, Anon(at, pages_each, i % 2 == 0));
    f.model.Access(*f.mm, at, i % 2 == 0);
  }
}

void BM_PageTableSet(benchmark::State& state) {
  for (auto _ : state) {
    PageTable pt;
    for (Vpn v = 0; v < 4096; ++v) pt.Set(kBase + v, 2 + v);
    benchmark::DoNotOptimize(pt.present());
  }
  state.SetItemsProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_PageTableSet);

// One write fault per page on fresh anonymous memory (do_anonymous_page).
void BM_WriteFault(benchmark::State& state) {
  const int64_t pages = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    auto f = std::make_unique<Fixture>();
    f->model.Mmap(*f->mm, Anon(kBase, pages));
    state.ResumeTiming();
    for (int64_t i = 0; i < pages; ++i) f->model.Access(*f->mm, kBase + i, true);
    state.PauseTiming();
    f.reset();  // the teardown is not the fault path
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * pages);
}
BENCHMARK(BM_WriteFault)->Arg(1 << 12)->Arg(1 << 16);

// fork() + exit() of a process with N VMAs (one page each): dup_mmap is O(VMAs).
void BM_ForkExitVsVmas(benchmark::State& state) {
  Fixture f;
  MapDistinct(f, state.range(0), 1);
  int n = 0;
  for (auto _ : state) {
    Mm* c = f.model.Fork(*f.mm, "C" + std::to_string(n++));
    f.model.Exit(*c);
  }
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_ForkExitVsVmas)->RangeMultiplier(4)->Range(16, 16384)->Complexity();

// munmap of one VMA out of N (the tree is O(log N); nothing should be O(N)).
void BM_MunmapOneVsVmas(benchmark::State& state) {
  Fixture f;
  MapDistinct(f, state.range(0), 1);
  Vpn mid = kBase + state.range(0) / 2;
  for (auto _ : state) {
    f.model.Munmap(*f.mm, mid, 1);
    f.model.Mmap(*f.mm, Anon(mid, 1, (state.range(0) / 2) % 2 == 0));
  }
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_MunmapOneVsVmas)->RangeMultiplier(4)->Range(16, 16384)->Complexity();

// mremap move of a faulted region of P pages there and back (move_page_tables: O(P)).
void BM_MremapMoveVsPages(benchmark::State& state) {
  const int64_t pages = state.range(0);
  Fixture f;
  f.model.Mmap(*f.mm, Anon(kBase, pages));
  for (int64_t i = 0; i < pages; ++i) f.model.Access(*f.mm, kBase + i, true);
  Vpn a = kBase, b = kBase + (1 << 24);
  for (auto _ : state) {
    f.model.Mremap(*f.mm, a, pages, pages, Model::kMremapMaymove | Model::kMremapFixed, b);
    std::swap(a, b);
  }
  state.SetComplexityN(pages);
}
BENCHMARK(BM_MremapMoveVsPages)->RangeMultiplier(4)->Range(16, 65536)->Complexity();

// rmap_walk of the first page after a fork chain of depth D (every process still maps
// it): the walk visits D+1 VMAs, O(D).
void BM_RmapWalkVsForkDepth(benchmark::State& state) {
  Fixture f;
  f.model.Mmap(*f.mm, Anon(kBase, 4));
  f.model.Access(*f.mm, kBase, true);
  Mm* p = f.mm;
  for (int64_t d = 0; d < state.range(0); ++d) p = f.model.Fork(*p, "P" + std::to_string(d));
  const Folio& folio = f.model.folios().Get(f.mm->pt.Get(kBase));
  std::vector<WalkCandidate> cands;
  for (auto _ : state) {
    cands.clear();
    WalkCost cost;
    f.model.scheme().rmap_walk(folio, &cands, &cost);
    benchmark::DoNotOptimize(cands.data());
    state.counters["candidates"] = static_cast<double>(cands.size());
    state.counters["objects"] = static_cast<double>(cost.objects_visited);
  }
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_RmapWalkVsForkDepth)->RangeMultiplier(4)->Range(4, 4096)->Complexity();

// One full oracle pass (every folio walked, every invariant) over P resident pages.
void BM_OracleCheckAllVsPages(benchmark::State& state) {
  const int64_t pages = state.range(0);
  Fixture f;
  f.model.Mmap(*f.mm, Anon(kBase, pages));
  for (int64_t i = 0; i < pages; ++i) f.model.Access(*f.mm, kBase + i, true);
  for (auto _ : state) {
    OracleReport r;
    Oracle::CheckAll(f.model, "bench", &r);
    benchmark::DoNotOptimize(r.walks);
  }
  state.SetItemsProcessed(state.iterations() * pages);
  state.SetComplexityN(pages);
}
BENCHMARK(BM_OracleCheckAllVsPages)->RangeMultiplier(8)->Range(64, 32768)->Complexity();

}  // namespace
}  // namespace rmaplab

BENCHMARK_MAIN();
