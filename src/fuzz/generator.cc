#include "fuzz/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <set>

namespace rmaplab::fuzz {
namespace {

class Gen {
 public:
  Gen(uint64_t seed, const GenOptions& o) : rng_(seed), o_(o) {}

  std::vector<std::string> Run() {
    Emit("file F0 32");
    Emit("file F1 8");
    NewProcess();
    if (Chance(0.3)) NewProcess();
    for (int i = 0; i < o_.statements; ++i) Statement();
    return std::move(lines_);
  }

 private:
  struct Proc {
    std::string name;
    std::set<int> edges;   // addresses where something was mapped, started or ended
    std::set<int> mapped;  // a shadow of its mapped pages (approximate: no errors modelled)
  };

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& Pick(const std::vector<T>& v) { return v[Uniform(0, static_cast<int>(v.size()) - 1)]; }
  void Emit(std::string s) { lines_.push_back(std::move(s)); }

  void NewProcess() {
    Proc p{fmt::format("P{}", next_name_++), {}, {}};
    Emit("process " + p.name);
    procs_.push_back(std::move(p));
  }

  // An address in the window: most often at or next to an edge the process has, so that
  // new mappings touch old ones (merges) and ranges cut VMAs (splits).
  int Addr(Proc& p, int len) {
    int lo = kWindowBase, hi = kWindowBase + o_.window_pages - 1;
    if (!p.edges.empty() && Chance(0.7)) {
      std::vector<int> e(p.edges.begin(), p.edges.end());
      int a = Pick(e) + (Chance(0.5) ? 0 : Pick(std::vector<int>{-len, -1, 1, len}));
      return std::clamp(a, lo, hi);
    }
    return Uniform(lo, hi);
  }
  int Len() { return Chance(0.6) ? Uniform(1, 4) : Uniform(5, 12); }
  // A mapped page (most statements should act on memory that is there).
  int Inside(Proc& p, int len) {
    if (p.mapped.empty() || Chance(0.15)) return Addr(p, len);
    std::vector<int> m(p.mapped.begin(), p.mapped.end());
    return Pick(m);
  }
  // Pages from a mapped page up to len, as far as they stay mapped (at least 1).
  int MappedRun(const Proc& p, int a, int len) {
    int n = 1;
    while (n < len && p.mapped.count(a + n)) ++n;
    return n;
  }
  // A free range of len pages next to an edge (so that it can merge), or anywhere free.
  int Free(Proc& p, int len) {
    for (int tries = 0; tries < 12; ++tries) {
      int a = Addr(p, len);
      bool free = a + len <= kWindowBase + o_.window_pages;
      for (int i = 0; free && i < len; ++i) free = !p.mapped.count(a + i);
      if (free) return a;
    }
    return Addr(p, len);
  }
  void Map(Proc& p, int a, int len) {
    for (int i = 0; i < len; ++i) p.mapped.insert(a + i);
  }
  void Unmap(Proc& p, int a, int len) {
    for (int i = 0; i < len; ++i) p.mapped.erase(a + i);
  }
  void Edge(Proc& p, int a, int len) {
    p.edges.insert(a);
    p.edges.insert(a + len);
  }

  std::string Prot() {
    double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.55) return "rw-";
    if (r < 0.75) return "r--";
    if (r < 0.85) return "rwx";
    if (r < 0.93) return "r-x";
    return "---";
  }

  void Statement() {
    // Weighted choice of the statement kind.
    static const std::vector<std::pair<int, int>> kWeights = {
        {0, 18},  // mmap
        {1, 22},  // write
        {2, 8},   // read
        {3, 10},  // mprotect
        {4, 6},   // munmap
        {5, 9},   // madvise
        {6, 9},   // mremap
        {7, 7},   // fork
        {8, 3},   // exit
        {9, 4},   // rmap
        {10, 2},  // observe
    };
    int total = 0;
    for (auto& [k, w] : kWeights) total += w;
    int r = Uniform(0, total - 1), kind = 0;
    for (auto& [k, w] : kWeights) {
      if (r < w) { kind = k; break; }
      r -= w;
    }
    if (procs_.empty()) { NewProcess(); return; }
    Proc& p = procs_[Uniform(0, static_cast<int>(procs_.size()) - 1)];
    if (p.mapped.empty() && kind != 7 && kind != 8) kind = 0;  // an empty process maps first
    int len = Len();
    int a = kind == 0 ? (Chance(0.3) ? Addr(p, len) : Free(p, len)) : Inside(p, len);
    if (kind >= 1 && kind <= 6 && p.mapped.count(a) && Chance(0.8)) len = MappedRun(p, a, len);
    const std::string& n = p.name;
    switch (kind) {
      case 0: {  // mmap
        std::string s = fmt::format("{} mmap {} {} {}", n, a, len, Prot());
        bool shared = Chance(0.2);
        if (shared) s += " shared";
        if (Chance(0.3)) {
          // pgoff linear with the address half the time: file VMAs that can merge.
          int pgoff = Chance(0.5) ? std::max(0, a - kWindowBase) % 24 : Uniform(0, 20);
          s += fmt::format(" file {}@{}", Chance(0.8) ? "F0" : "F1", pgoff);
        }
        bool fixed = Chance(0.3);
        if (fixed) s += " fixed";
        if (Chance(0.08)) s += " populate";
        if (Chance(0.12)) s += " noreserve";
        Emit(s);
        Edge(p, a, len);
        bool overlaps = false;
        for (int i = 0; i < len; ++i) overlaps |= p.mapped.count(a + i) > 0;
        if (fixed || !overlaps) Map(p, a, len);
        return;
      }
      case 1: Emit(fmt::format("{} write {} {}", n, a, Chance(0.6) ? 1 : len)); return;
      case 2: Emit(fmt::format("{} read {} {}", n, a, Chance(0.6) ? 1 : len)); return;
      case 3:
        Emit(fmt::format("{} mprotect {} {} {}", n, a, len, Prot()));
        Edge(p, a, len);
        return;
      case 4:
        Emit(fmt::format("{} munmap {} {}", n, a, len));
        Edge(p, a, len);
        Unmap(p, a, len);
        return;
      case 5: {
        static const std::vector<std::string> kAdvice = {
            "dontneed", "dontneed", "free", "dontfork", "dofork", "wipeonfork",
            "keeponfork", "hugepage", "nohugepage", "cold", "pageout"};
        Emit(fmt::format("{} madvise {} {} {}", n, a, len, Pick(kAdvice)));
        Edge(p, a, len);
        return;
      }
      case 6: {  // mremap: in place, or a move (maybe DONTUNMAP, maybe over several VMAs)
        int newlen = std::max(1, len + Uniform(-3, 4));
        if (Chance(0.4)) {
          Emit(fmt::format("{} mremap {} {} {}", n, a, len, newlen));
          Edge(p, a, newlen);
          if (newlen < len) Unmap(p, a + newlen, len - newlen);
          else Map(p, a, newlen);
        } else {
          bool dontunmap = Chance(0.25);
          if (dontunmap) newlen = len;  // MREMAP_DONTUNMAP needs equal lengths
          int to = Free(p, newlen);
          Emit(fmt::format("{} mremap {} {} {} to {}{}", n, a, len, newlen, to,
                           dontunmap ? " dontunmap" : ""));
          Edge(p, to, newlen);
          if (!dontunmap) Unmap(p, a, len);
          Map(p, to, newlen);
        }
        Edge(p, a, len);
        return;
      }
      case 7: {  // fork: the child inherits the parent's edges (merges next to its VMAs)
        if (static_cast<int>(procs_.size()) >= o_.max_processes) return Statement();
        Proc c{fmt::format("P{}", next_name_++), p.edges, p.mapped};
        Emit(fmt::format("{} fork {}", n, c.name));
        procs_.push_back(std::move(c));
        return;
      }
      case 8: {
        if (procs_.size() < 2) return Statement();
        Emit(n + " exit");
        procs_.erase(std::find_if(procs_.begin(), procs_.end(),
                                  [&](const Proc& q) { return &q == &p; }));
        return;
      }
      case 9: Emit(fmt::format("{} rmap {}", n, a)); return;
      case 10: Emit(fmt::format("observe s{}", lines_.size())); return;
    }
  }

  std::mt19937_64 rng_;
  GenOptions o_;
  std::vector<std::string> lines_;
  std::vector<Proc> procs_;
  int next_name_ = 0;
};

}  // namespace

std::vector<std::string> Generate(uint64_t seed, const GenOptions& options) {
  return Gen(seed, options).Run();
}

std::string ScenarioText(const std::vector<std::string>& lines, const std::string& header) {
  std::string s;
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find('\n', start);
    if (end == std::string::npos) end = header.size();
    s += "# " + header.substr(start, end - start) + "\n";
    start = end + 1;
  }
  for (const auto& l : lines) s += l + "\n";
  return s;
}

}  // namespace rmaplab::fuzz
