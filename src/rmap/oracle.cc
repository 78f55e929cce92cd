#include "rmap/oracle.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <unordered_set>

namespace rmaplab {

void OracleReport::Note(std::string msg) {
  if (messages.size() < 20) messages.push_back(std::move(msg));
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

WalkResult WalkWithTruth(const Model& model, const Folio& folio,
                         const std::unordered_set<const Vma*>& live,
                         const std::vector<std::pair<const Mm*, Vpn>>& truth) {
  WalkResult r;
  std::vector<WalkCandidate> cands;
  model.scheme().rmap_walk(folio, &cands, &r.cost);
  r.candidates = static_cast<int64_t>(cands.size());
  std::set<std::pair<const Mm*, Vpn>> hits;
  for (const WalkCandidate& c : cands) {
    if (!live.count(c.vma)) {
      ++r.bad_candidates;
      ++r.false_positives;
      continue;
    }
    const Mm* mm = c.vma->vm_mm;
    if (c.vma->contains(c.addr) && model.PteMapsFolio(*mm, c.addr, folio) &&
        hits.insert({mm, c.addr}).second) {
      r.found.emplace_back(mm, c.addr);
    } else {
      ++r.false_positives;
    }
  }
  for (const auto& t : truth)
    if (!hits.count(t)) r.missed.push_back(t);
  return r;
}

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
  // The truth for every folio in one pass over all page tables.
  std::map<Pfn, std::vector<std::pair<const Mm*, Vpn>>> truth;
  for (const auto& mm : model.mms())
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn p) {
      if (p != kZeroPfn) truth[p].emplace_back(mm.get(), addr);
    });
  auto live = LiveVmas(model);
  static const std::vector<std::pair<const Mm*, Vpn>> kNone;
  model.folios().ForEachLive([&](const Folio& f) {
    if (f.kind != FolioKind::kAnon) return;
    auto it = truth.find(f.pfn);
    WalkResult r = WalkWithTruth(model, f, live, it == truth.end() ? kNone : it->second);
    ++report->walks;
    report->candidates += r.candidates;
    report->false_positives += r.false_positives;
    report->visited_per_walk.push_back(r.candidates);
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

}  // namespace rmaplab
