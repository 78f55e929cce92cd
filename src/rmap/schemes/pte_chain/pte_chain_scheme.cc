#include "rmap/schemes/pte_chain/pte_chain_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <functional>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::pte_chain {

RMAPLAB_REGISTER_SCHEME(PteChainScheme, "pte-chain");

namespace {
constexpr const char* kChainLock = "PG_chainlock";

bool PteLess(const PteAddr& a, const PteAddr& b) {
  return std::less<const Mm*>()(a.mm, b.mm) || (a.mm == b.mm && a.addr < b.addr);
}
}  // namespace

PteChainScheme::~PteChainScheme() {
  // Pages of processes still alive when the model is destroyed.
  for (auto& [pfn, page] : pages_) {
    for (PteChain* pc = page.chain; pc;) {
      PteChain* next = pc->next;
      delete pc;
      pc = next;
    }
  }
}

// pte_chain_alloc(): a fresh block from the pte_chain slab (the per-CPU one-deep cache
// of preallocated blocks is not modelled: only blocks put on a chain are counted).
PteChain* PteChainScheme::pte_chain_alloc() {
  chain_stats_.OnAlloc();
  return new PteChain();
}

// __pte_chain_free().
void PteChainScheme::pte_chain_free(PteChain* pc) {
  chain_stats_.OnFree();
  delete pc;
}

PageRmap& PteChainScheme::PageOf(const Folio& folio) {
  auto it = pages_.find(folio.pfn);
  assert(it != pages_.end());
  return it->second;
}

const PageRmap* PteChainScheme::Page(const Folio& folio) const {
  auto it = pages_.find(folio.pfn);
  return it == pages_.end() ? nullptr : &it->second;
}

std::vector<PteAddr> PteChainScheme::Entries(const PageRmap& page) {
  std::vector<PteAddr> out;
  if (page.direct) out.push_back(page.pte_direct);
  for (const PteChain* pc = page.chain; pc; pc = pc->next)
    for (int i = pc->idx; i < kNrpte; ++i) out.push_back(pc->ptes[i]);
  return out;
}

int PteChainScheme::ChainBlocks(const PageRmap& page) {
  int n = 0;
  for (const PteChain* pc = page.chain; pc; pc = pc->next) ++n;
  return n;
}

// page_add_rmap() (2.6.5 mm/rmap.c): an empty page takes the PTE directly; a direct
// page becomes a two-entry chain; otherwise the PTE fills the last free slot of the head
// block, or a new full-size head block is pushed when the head is full.
void PteChainScheme::page_add_rmap(PageRmap& page, PteAddr pte) {
  if (page.empty()) {
    page.direct = true;
    page.pte_direct = pte;
    return;
  }
  if (page.direct) {
    PteChain* pc = pte_chain_alloc();
    pc->ptes[kNrpte - 1] = page.pte_direct;
    pc->ptes[kNrpte - 2] = pte;
    pc->idx = kNrpte - 2;
    page.direct = false;
    page.pte_direct = {};
    page.chain = pc;
    ++counters_["pte_chain.direct_to_chain"];
    return;
  }
  PteChain* cur = page.chain;
  if (!cur->ptes[0].empty()) {  // the head block is full
    PteChain* pc = pte_chain_alloc();
    pc->next = cur;
    pc->idx = kNrpte - 1;
    pc->ptes[kNrpte - 1] = pte;
    page.chain = pc;
    return;
  }
  cur->ptes[cur->idx - 1] = pte;
  cur->idx--;
}

// page_remove_rmap() (2.6.5 mm/rmap.c): a linear search from the head block; the head's
// first used entry is copied over the victim and the head block is freed when it
// empties. A chain left with one entry is not collapsed back to PG_direct (2.5 did that
// lazily in page_referenced() under reclaim, which the model's const walks do not do).
int64_t PteChainScheme::page_remove_rmap(PageRmap& page, PteAddr pte) {
  if (page.direct) {
    assert(page.pte_direct == pte);
    page.direct = false;
    page.pte_direct = {};
    return 1;
  }
  PteChain* start = page.chain;
  assert(start);
  const int victim_i = start->idx;
  int64_t scanned = 0;
  for (PteChain* pc = start; pc; pc = pc->next) {
    for (int i = pc->idx; i < kNrpte; ++i) {
      ++scanned;
      if (!(pc->ptes[i] == pte)) continue;
      pc->ptes[i] = start->ptes[victim_i];
      start->ptes[victim_i] = {};
      if (victim_i == kNrpte - 1) {  // emptied the head block
        page.chain = start->next;
        pte_chain_free(start);
      } else {
        start->idx++;
      }
      return scanned;
    }
  }
  assert(false && "page_remove_rmap: PTE not on the page's chain");
  return scanned;
}

// __anon_vma_prepare() has no 2.5 counterpart: the VMA gets the marker so that the core
// sees "faulted" exactly where Linux would (nothing is allocated or counted).
int PteChainScheme::anon_vma_prepare(Vma& vma) {
  vma.anon_vma = &marker_;
  return 0;
}

// anon_vma_clone(): nothing; a split or a copied VMA keeps the marker the core copied.
int PteChainScheme::anon_vma_clone(Vma& dst, const Vma& src) {
  assert(dst.anon_vma == src.anon_vma);
  (void)dst;
  (void)src;
  return 0;
}

// anon_vma_fork(): nothing per VMA; 2.5's fork work is per PTE (pte_mapped from
// copy_page_range). The child VMA keeps the marker vm_area_dup copied (or none).
int PteChainScheme::anon_vma_fork(Vma& dst, const Vma& src) {
  dst.anon_vma = src.anon_vma;
  return 0;
}

// unlink_anon_vmas(): nothing to unlink; the VMA becomes "unfaulted" as in Linux.
void PteChainScheme::unlink_anon_vmas(Vma& vma) { vma.anon_vma = nullptr; }

// is_mergeable_anon_vma(): 2.5's anonymous memory put no constraint on merging (the rmap
// knows PTEs, not VMAs), so any merge that flags, file and pgoff allow is taken. Differs
// from 6.18 on fork children and on two faulted VMAs of different anon_vmas (README).
bool PteChainScheme::is_mergeable_anon_vma(const Vma&, const AnonVmaBase*, const Vma*,
                                           const Vma*) const {
  return true;
}

// folio_add_new_anon_rmap(): the page's pte union starts empty (SetPageAnon); the core
// wants a non-null mapping, so the marker stands in for 2.5's ANON_MAPPING_DEBUG (0).
void PteChainScheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  folio.mapping = &marker_;
  folio.index = vma.linear_page_index(addr);
  bool inserted = pages_.emplace(Pfn{folio.pfn}, PageRmap{}).second;
  assert(inserted);
  (void)inserted;
  page_stats_.OnAlloc();
}

// folio_move_anon_rmap(): COW reuse changes nothing in a per-PTE rmap.
void PteChainScheme::folio_move_anon_rmap(Folio&, Vma&) {}

// page_add_rmap() from do_anonymous_page / do_wp_page / do_no_page (fault) and
// copy_page_range (fork: every present anon PTE copied to the child adds an entry).
void PteChainScheme::pte_mapped(Folio& folio, const Vma& vma, Vpn addr) {
  PageRmap& page = PageOf(folio);
  counters_[std::string("locks.") + kChainLock]++;
  counters_["page_add_rmap"]++;
  if (vma.vm_mm == forking_ && !page.empty()) counters_["fork.pages_touched"]++;
  page_add_rmap(page, {vma.vm_mm, addr});
}

// page_remove_rmap() from zap_pte_range (munmap, exit, MADV_DONTNEED), do_wp_page (the
// COW break drops the old page) and MADV_FREE/PAGEOUT discards: all counted as zap work.
void PteChainScheme::pte_unmapped(Folio& folio, const Vma& vma, Vpn addr) {
  counters_[std::string("locks.") + kChainLock]++;
  counters_["page_remove_rmap"]++;
  counters_["zap.pages_touched"]++;
  counters_["zap.chain_entries_scanned"] += page_remove_rmap(PageOf(folio), {vma.vm_mm, addr});
}

// copy_one_pte() (2.6.5 mm/mremap.c): page_remove_rmap(src) then page_add_rmap(dst),
// each under the page's PG_chainlock.
void PteChainScheme::pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                               Vpn new_addr) {
  PageRmap& page = PageOf(folio);
  counters_[std::string("locks.") + kChainLock] += 2;
  counters_["page_remove_rmap"]++;
  counters_["page_add_rmap"]++;
  counters_["mremap.pages_touched"]++;
  counters_["mremap.chain_entries_scanned"] += page_remove_rmap(page, {from.vm_mm, old_addr});
  page_add_rmap(page, {to.vm_mm, new_addr});
}

// The page is freed (__free_pages_ok): its pte union must be empty again.
void PteChainScheme::folio_freed(Folio& folio) {
  auto it = pages_.find(folio.pfn);
  assert(it != pages_.end() && it->second.empty());
  pages_.erase(it);
  page_stats_.OnFree();
}

// dup_mmap(): remember the child so that copy_page_range's additions count as fork work.
void PteChainScheme::mm_forked(Mm&, Mm& child) { forking_ = &child; }

// try_to_unmap() / page_referenced() for an anon page: under PG_chainlock, the direct
// PTE or every chain entry from the head block's first used slot on; each entry is
// turned into (mm, address) and find_vma(mm, address) gives the VMA. Exact: no false
// positives. The mm->page_table_lock trylock per entry is the page_vma_mapped_walk()
// part that no scheme counts.
void PteChainScheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                               WalkCost* cost) const {
  const PageRmap* page = Page(folio);
  if (!page) return;
  if (cost) cost->locks[kChainLock]++;
  for (const PteAddr& pte : Entries(*page)) {
    if (cost) cost->objects_visited++;
    if (const Vma* vma = pte.mm->vmas.Find(pte.addr)) out->push_back({vma, pte.addr});
  }
}

std::map<std::string, ObjectStats> PteChainScheme::Objects() const {
  ObjectStats chain = chain_stats_, page = page_stats_;
  chain.object_bytes = kPteChainBytes;
  page.object_bytes = kPageWordBytes;
  return {{"pte_chain", chain}, {"page.pte", page}};
}

std::map<std::string, int64_t> PteChainScheme::Counters() const {
  std::map<std::string, int64_t> c = {{"fork.pages_touched", 0},
                                      {"mremap.pages_touched", 0},
                                      {"zap.pages_touched", 0},
                                      {"zap.chain_entries_scanned", 0}};
  for (const auto& [k, v] : counters_) c[k] = v;
  return c;
}

std::string PteChainScheme::DescribeVma(const Vma& vma) const {
  return vma.anon_vma ? "faulted (no per-VMA rmap state)" : "unfaulted";
}

std::vector<std::string> PteChainScheme::CheckInvariants() const {
  std::vector<std::string> bad;
  // The truth: every anon PTE inside a VMA, by page.
  std::unordered_map<Pfn, std::vector<PteAddr>> truth;
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, v] : mm->vmas) {
      mm->pt.ForEach(v->vm_start, v->vm_end, [&](Vpn addr, Pfn pfn) {
        if (pfn != kZeroPfn && model_->folios().Get(pfn).kind == FolioKind::kAnon)
          truth[pfn].push_back({mm.get(), addr});
      });
    }
  }
  int64_t blocks = 0;
  for (const auto& [pfn, page] : pages_) {
    const Folio& f = model_->folios().Get(pfn);
    if (f.kind != FolioKind::kAnon) {
      bad.push_back(fmt::format("page {}: rmap record of a page that is not anon", pfn));
      continue;
    }
    if (page.direct && (page.chain || page.pte_direct.empty()))
      bad.push_back(fmt::format("page {}: PG_direct with a chain or no PTE", pfn));
    if (!page.direct && !page.chain)
      bad.push_back(fmt::format("page {}: live anon page with an empty pte union", pfn));
    for (const PteChain* pc = page.chain; pc; pc = pc->next) {
      ++blocks;
      bool head = pc == page.chain;
      if (pc->idx < 0 || pc->idx >= kNrpte || (!head && pc->idx != 0))
        bad.push_back(fmt::format("page {}: {} block with first used slot {}", pfn,
                                  head ? "head" : "non-head", pc->idx));
      for (int i = 0; i < kNrpte; ++i) {
        if (pc->ptes[i].empty() != (i < pc->idx))
          bad.push_back(fmt::format("page {}: slot {} {} (first used slot {})", pfn, i,
                                    pc->ptes[i].empty() ? "empty" : "used", pc->idx));
      }
    }
    std::vector<PteAddr> have = Entries(page), want = truth[pfn];
    for (const PteAddr& pte : have) {
      if (!pte.empty() && !pte.mm->vmas.Find(pte.addr))
        bad.push_back(fmt::format("page {}: entry {:#x} outside every VMA", pfn, pte.addr));
    }
    std::sort(have.begin(), have.end(), PteLess);
    std::sort(want.begin(), want.end(), PteLess);
    if (have != want)
      bad.push_back(fmt::format("page {}: {} chain entries but {} PTEs map it (or they differ)",
                                pfn, have.size(), want.size()));
    if (static_cast<int64_t>(have.size()) != f.mapcount)
      bad.push_back(fmt::format("page {}: {} entries, mapcount {}", pfn, have.size(),
                                f.mapcount));
  }
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind == FolioKind::kAnon && !pages_.count(f.pfn))
      bad.push_back(fmt::format("page {}: anon page without an rmap record", f.pfn));
  });
  if (blocks != chain_stats_.live)
    bad.push_back(fmt::format("{} pte_chain blocks on chains, {} live", blocks,
                              chain_stats_.live));
  if (static_cast<int64_t>(pages_.size()) != page_stats_.live)
    bad.push_back(fmt::format("{} page records, {} live page words", pages_.size(),
                              page_stats_.live));
  return bad;
}

}  // namespace rmaplab::pte_chain
