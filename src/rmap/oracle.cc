#include "rmap/oracle.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <unordered_set>

namespace rmaplab {

void OracleReport::Note(std::string msg) {
  if (messages.size() < 20) messages.push_back(std::move(msg));
}

int64_t OracleReport::VisitedAt(int64_t i) const {
  if (i < 0) return 0;
  for (const auto& [cands, n] : visited_histogram) {
    if (i < n) return cands;
    i -= n;
  }
  return 0;
}

int64_t OracleReport::VisitedPercentile(double q) const {
  int64_t n = 0;
  for (const auto& [cands, k] : visited_histogram) n += k;
  if (n == 0) return 0;
  int64_t i = static_cast<int64_t>(q * static_cast<double>(n - 1) + 0.5);
  return VisitedAt(std::min(i, n - 1));
}

namespace {

// Every (mm, addr) whose PTE maps pfn, from a scan of all page tables.
std::vector<std::pair<const Mm*, Vpn>> TrueMappings(const Model& model, Pfn pfn) {
  std::vector<std::pair<const Mm*, Vpn>> out;
  for (const auto& mm : model.mms())
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn p) {
      if (p == pfn) out.emplace_back(mm.get(), addr);
    });
  return out;
}

std::unordered_set<const Vma*> LiveVmas(const Model& model) {
  std::unordered_set<const Vma*> live;
  for (const auto& mm : model.mms())
    for (const auto& [start, v] : mm->vmas) live.insert(v);
  return live;
}

using Mapping = std::pair<const Mm*, Vpn>;

WalkResult WalkWithTruth(const Model& model, const Folio& folio,
                         const std::unordered_set<const Vma*>& live,
                         std::span<const Mapping> truth) {
  WalkResult r;
  std::vector<WalkCandidate> cands;
  model.scheme().rmap_walk(folio, &cands, &r.cost);
  r.candidates = static_cast<int64_t>(cands.size());
  // Mappings found so far; a candidate naming one again is a false positive. Walks are
  // mostly short: a linear search, then a hash set once a walk has found many.
  struct MappingHash {
    size_t operator()(const Mapping& m) const {
      return std::hash<const void*>()(m.first) * 0x9E3779B97F4A7C15ULL ^ m.second;
    }
  };
  constexpr size_t kLinear = 32;
  std::unordered_set<Mapping, MappingHash> many;
  auto seen_before = [&](const Mapping& m) {
    if (many.empty()) {
      if (r.found.size() < kLinear) return std::find(r.found.begin(), r.found.end(), m) != r.found.end();
      many.insert(r.found.begin(), r.found.end());
    }
    return many.count(m) > 0;
  };
  for (const WalkCandidate& c : cands) {
    if (!live.count(c.vma)) {
      ++r.bad_candidates;
      ++r.false_positives;
      continue;
    }
    const Mm* mm = c.vma->vm_mm;
    if (c.vma->contains(c.addr) && model.PteMapsFolio(*mm, c.addr, folio) &&
        !seen_before({mm, c.addr})) {
      r.found.emplace_back(mm, c.addr);
      if (!many.empty()) many.insert(r.found.back());
    } else {
      ++r.false_positives;
    }
  }
  // Every true mapping must be among those found (each found one maps the folio, so
  // equal counts with no duplicates means all were found; otherwise name the missed).
  if (r.found.size() != truth.size()) {
    std::set<Mapping> found(r.found.begin(), r.found.end());
    for (const Mapping& t : truth)
      if (!found.count(t)) r.missed.push_back(t);
  }
  return r;
}

// The truth for every frame at once, in one pass over all page tables: a table of
// mappings grouped by pfn (counting sort), 16 bytes per PTE and 4 per frame.
class AllMappings {
 public:
  explicit AllMappings(const Model& model) {
    const Pfn end = model.folios().end();
    start_.assign(static_cast<size_t>(end) + 1, 0);
    for (const auto& mm : model.mms())
      mm->pt.ForEach(0, ~0ULL, [&](Vpn, Pfn p) {
        if (p != kZeroPfn) ++start_[p];
      });
    uint32_t sum = 0;
    for (uint32_t& c : start_) {
      uint32_t n = c;
      c = sum;
      sum += n;
    }
    flat_.resize(sum);
    std::vector<uint32_t> next(start_.begin(), start_.end() - 1);
    for (const auto& mm : model.mms())
      mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn p) {
        if (p != kZeroPfn) flat_[next[p]++] = {mm.get(), addr};
      });
  }
  std::span<const Mapping> Of(Pfn p) const {
    if (p + 1 >= start_.size()) return {};
    return {flat_.data() + start_[p], start_[p + 1] - start_[p]};
  }

 private:
  std::vector<uint32_t> start_;  // pfn -> first index in flat_ (and start_[end] = total)
  std::vector<Mapping> flat_;
};

}  // namespace

WalkResult Oracle::Walk(const Model& model, const Folio& folio) {
  return WalkWithTruth(model, folio, LiveVmas(model), TrueMappings(model, folio.pfn));
}

void Oracle::CheckAll(const Model& model, const std::string& where, OracleReport* report) {
  WalkAll(model, where, report);
  for (auto& msg : model.CheckInvariants()) {
    ++report->invariant_failures;
    report->Note(fmt::format("{}: invariant: {}", where, msg));
  }
  for (auto& msg : model.scheme().CheckInvariants()) {
    ++report->invariant_failures;
    report->Note(fmt::format("{}: {} invariant: {}", where, model.scheme().name(), msg));
  }
}

void Oracle::WalkAll(const Model& model, const std::string& where, OracleReport* report) {
  ++report->checks;
  const AllMappings truth(model);
  auto live = LiveVmas(model);
  model.folios().ForEachLive([&](const Folio& f) {
    if (f.kind != FolioKind::kAnon) return;
    WalkResult r = WalkWithTruth(model, f, live, truth.Of(f.pfn));
    ++report->walks;
    report->candidates += r.candidates;
    report->false_positives += r.false_positives;
    ++report->visited_histogram[r.candidates];
    report->misses += static_cast<int64_t>(r.missed.size());
    for (const auto& [mm, addr] : r.missed)
      report->Note(fmt::format("{}: walk of folio {} missed process {} at page {:#x}", where,
                               f.pfn, mm->name, addr));
    report->invariant_failures += r.bad_candidates;
    if (r.bad_candidates)
      report->Note(fmt::format("{}: walk of folio {} named {} VMA(s) that do not exist",
                               where, f.pfn, r.bad_candidates));
    report->objects_visited += r.cost.objects_visited;
    for (const auto& [lock, n] : r.cost.locks) report->locks[lock] += n;
  });
}

IncrementalOracle::IncrementalOracle(Model& model) : m_(model) {
  m_.EnableChangeLog();
  for (const auto& mm : m_.mms())
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn p) {
      if (p != kZeroPfn) truth_[p].emplace_back(mm.get(), addr);
    });
  m_.pte_log().clear();
  m_.folio_log().clear();
}

// Applies the logged PTE changes to the truth; the frames they name are dirty.
void IncrementalOracle::Absorb(std::vector<Pfn>* dirty) {
  for (const PteChange& c : m_.pte_log()) {
    const Mm* mm = static_cast<const Mm*>(c.owner);
    if (c.old_pfn != kNoPfn && c.old_pfn != kZeroPfn) {
      auto it = truth_.find(c.old_pfn);
      if (it != truth_.end()) {
        auto& v = it->second;
        for (size_t i = 0; i < v.size(); ++i)
          if (v[i].first == mm && v[i].second == c.vpn) {
            v[i] = v.back();
            v.pop_back();
            break;
          }
        if (v.empty()) truth_.erase(it);
      }
      dirty->push_back(c.old_pfn);
    }
    if (c.new_pfn != kNoPfn && c.new_pfn != kZeroPfn) {
      truth_[c.new_pfn].emplace_back(mm, c.vpn);
      dirty->push_back(c.new_pfn);
    }
  }
  for (Pfn p : m_.folio_log()) dirty->push_back(p);
  m_.pte_log().clear();
  m_.folio_log().clear();
}

void IncrementalOracle::Check(const std::string& where, bool full, OracleReport* report) {
  std::vector<Pfn> dirty;
  Absorb(&dirty);
  if (full) {
    ++full_checks_;
    Oracle::CheckAll(m_, where, report);
    return;
  }
  ++incremental_checks_;
  ++report->checks;
  std::sort(dirty.begin(), dirty.end());
  dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
  static const std::vector<std::pair<const Mm*, Vpn>> kNone;
  for (Pfn p : dirty) {
    const Folio& f = m_.folios().Get(p);
    auto it = truth_.find(p);
    const auto& truth = it == truth_.end() ? kNone : it->second;
    auto bad = [&](std::string msg) {
      ++report->invariant_failures;
      report->Note(fmt::format("{}: invariant: {}", where, msg));
    };
    if (f.kind == FolioKind::kFree) {
      if (!truth.empty()) bad(fmt::format("{} PTEs map free frame {}", truth.size(), p));
      continue;
    }
    if (static_cast<int64_t>(truth.size()) != f.mapcount)
      bad(fmt::format("folio {}: mapcount {} but {} PTEs map it", p, f.mapcount, truth.size()));
    for (const auto& [mm, addr] : truth) {
      const Vma* v = mm->vmas.Find(addr);
      if (!v)
        bad(fmt::format("mm {}: PTE at {:#x} outside every VMA", mm->name, addr));
      else if (f.kind == FolioKind::kAnon && !v->anon_vma)
        bad(fmt::format("mm {}: anon page at {:#x} in VMA #{} without anon_vma", mm->name,
                        addr, v->id));
    }
    if (f.kind != FolioKind::kAnon) continue;
    if (f.mapcount < 1 || !f.mapping)
      bad(fmt::format("anon folio {}: mapcount {}, mapping {}", p, f.mapcount,
                      f.mapping ? "set" : "null"));
    WalkResult r = WalkWithTruth(m_, f, m_.live_vmas(), truth);
    ++report->walks;
    report->candidates += r.candidates;
    report->false_positives += r.false_positives;
    ++report->visited_histogram[r.candidates];
    report->misses += static_cast<int64_t>(r.missed.size());
    for (const auto& [mm, addr] : r.missed)
      report->Note(fmt::format("{}: walk of folio {} missed process {} at page {:#x}", where,
                               p, mm->name, addr));
    report->invariant_failures += r.bad_candidates;
    if (r.bad_candidates)
      report->Note(fmt::format("{}: walk of folio {} named {} VMA(s) that do not exist",
                               where, p, r.bad_candidates));
    report->objects_visited += r.cost.objects_visited;
    for (const auto& [lock, n] : r.cost.locks) report->locks[lock] += n;
  }
}

}  // namespace rmaplab
