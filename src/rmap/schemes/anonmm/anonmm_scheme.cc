#include "rmap/schemes/anonmm/anonmm_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <iterator>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::anonmm {

RMAPLAB_REGISTER_SCHEME(AnonmmScheme, "anonmm");

namespace {
Anonmm* AM(AnonVmaBase* b) { return static_cast<Anonmm*>(b); }
const std::vector<Vpn> kNoChain;
}  // namespace

AnonmmScheme::AnonmmScheme(bool chains) : chains_(chains) {
  for (const char* c : {"fork.anonmm_alloc", "fork.family_lock", "fork.pages_touched",
                        "mremap.pages_touched", "mremap.pages_chained",
                        "chain.addresses_added", "cow_reuse.retagged", "exit.anonmm_kept"})
    counters_[c] = 0;
  if (!chains_) counters_["mremap.pages_untracked"] = 0;
}

AnonmmScheme::~AnonmmScheme() {
  // Objects of processes still alive when the model is destroyed.
  for (Anonmm* a : live_) delete a;
}

// Blocks of struct rmap_chain that n chained addresses occupy (add_rmap_address()).
int64_t AnonmmScheme::ChainBlocks(size_t n) {
  if (n == 0) return 0;
  if (n < kNrSlot) return 1;
  return 1 + static_cast<int64_t>((n - (kNrSlot - 1) + kNrSlot - 1) / kNrSlot);
}

const std::vector<Vpn>& AnonmmScheme::Chain(const Folio& folio) const {
  auto it = chains_by_pfn_.find(folio.pfn);
  return it == chains_by_pfn_.end() ? kNoChain : it->second;
}

// kmem_cache_alloc(anonmm_cachep).
Anonmm* AnonmmScheme::anonmm_alloc() {
  auto* a = new Anonmm();
  a->id = next_id_++;
  anonmm_stats_.OnAlloc();
  live_.insert(a);
  return a;
}

// kmem_cache_free(anonmm_cachep).
void AnonmmScheme::anonmm_free(Anonmm* a) {
  assert(a->count == 0 || (a->head == a && a->count == 1));
  live_.erase(a);
  anonmm_stats_.OnFree();
  delete a;
}

// exec_rmap(): a new family head, referenced by its mm and by itself as head.
void AnonmmScheme::exec_rmap(Mm& mm, Anonmm* a) {
  a->count = 2;
  a->mm = &mm;
  a->head = a;
  a->family.assign(1, a);
  a->pos = a->family.begin();
  mm.rmap = a;
}

// mm_alloc() -> exec_rmap(). Differs: the core's NewMm fires this for fork children
// too; mm_forked() then turns that object into the child's dup_rmap() anonmm, so each
// mm still costs exactly one allocation, as in the kernel.
void AnonmmScheme::mm_created(Mm& mm) { exec_rmap(mm, anonmm_alloc()); }

// copy_mm() -> dup_rmap(): the child's anonmm joins the tail of the head's list.
void AnonmmScheme::mm_forked(Mm& parent, Mm& child) {
  Anonmm* a = MmAnonmm(child);
  assert(a && a->count == 2 && a->family.size() == 1);
  Anonmm* hd = MmAnonmm(parent)->head;
  a->family.clear();
  a->count = 1;  // ref by mm
  a->head = hd;
  hd->count++;   // ref by anonmm's head
  hd->family.push_back(a);
  a->pos = std::prev(hd->family.end());
  counters_["fork.anonmm_alloc"]++;
  counters_["fork.family_lock"]++;
}

// mmput() -> exit_rmap(): the anonmm outlives its mm while pages still point at it;
// the head is freed when only its own reference is left.
void AnonmmScheme::mm_exited(Mm& mm) {
  Anonmm* a = MmAnonmm(mm);
  Anonmm* hd = a->head;
  mm.rmap = nullptr;
  a->mm = nullptr;
  if (--a->count == 0) {
    assert(a != hd);
    hd->family.erase(a->pos);
    anonmm_free(a);
    --hd->count;
    assert(hd->count > 0);
  } else {
    counters_["exit.anonmm_kept"]++;  // tagged pages (or, for a head, members) remain
  }
  if (hd->count == 1) {
    assert(!hd->mm && hd->family.size() == 1);
    hd->count = 0;
    anonmm_free(hd);
  }
}

// free_anonmm(): the last page of an exited mm's anonmm went; never the head.
void AnonmmScheme::free_anonmm(Anonmm* a) {
  Anonmm* hd = a->head;
  assert(!a->mm && a != hd);
  hd->family.erase(a->pos);
  anonmm_free(a);
  --hd->count;
  assert(hd->count > 0);
}

// clear_page_anon(): the page lets go of its anonmm.
void AnonmmScheme::clear_page_anon(Folio& folio) {
  Anonmm* a = AM(folio.mapping);
  folio.mapping = nullptr;
  if (--a->count == 0) free_anonmm(a);
}

// SetPageAnon(), page->mapping = anonmm, atomic_inc(&anonmm->count).
void AnonmmScheme::set_page_anon(Folio& folio, Anonmm* a) {
  folio.mapping = a;
  a->count++;
}

// add_rmap_address() (2003 5/6): append addr unless it is already chained; the first
// call makes the page PG_chained. Blocks of 7 slots, slot[0] of the first is the count.
void AnonmmScheme::add_rmap_address(Folio& folio, Vpn addr) {
  std::vector<Vpn>& chain = chains_by_pfn_[folio.pfn];
  if (std::find(chain.begin(), chain.end(), addr) != chain.end()) return;
  int64_t before = ChainBlocks(chain.size());
  chain.push_back(addr);
  for (int64_t b = before; b < ChainBlocks(chain.size()); ++b) chain_stats_.OnAlloc();
  counters_["chain.addresses_added"]++;
}

// clear_page_chained(): only when the mapcount reaches 0, so stale addresses stay.
void AnonmmScheme::clear_page_chained(Folio& folio) {
  auto it = chains_by_pfn_.find(folio.pfn);
  if (it == chains_by_pfn_.end()) return;
  for (int64_t b = 0; b < ChainBlocks(it->second.size()); ++b) chain_stats_.OnFree();
  chains_by_pfn_.erase(it);
}

// The VMA marker: the mm's own anonmm, set where Linux prepares an anon_vma.
int AnonmmScheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  vma.anon_vma = MmAnonmm(*vma.vm_mm);
  return 0;
}

// Split, dup_anon_vma, copy_vma: same mm, so dst already carries the right marker.
int AnonmmScheme::anon_vma_clone(Vma& dst, const Vma& src) {
  assert(dst.vm_mm == src.vm_mm && dst.anon_vma == MmAnonmm(*dst.vm_mm));
  return 0;
}

// dup_mmap(): nothing per VMA in anonmm; the child's VMA takes the child's marker.
int AnonmmScheme::anon_vma_fork(Vma& dst, const Vma& src) {
  if (src.anon_vma) dst.anon_vma = MmAnonmm(*dst.vm_mm);
  return 0;
}

// Nothing is linked per VMA: the marker goes.
void AnonmmScheme::unlink_anon_vmas(Vma& vma) { vma.anon_vma = nullptr; }

// 2.6.5 can_vma_merge_before/after(): anonymous memory put no rmap constraint on merges.
// All VMAs of one mm carry the same marker, so Linux's three cases all say yes.
bool AnonmmScheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                        const Vma* src, const Vma* copied_from) const {
  return true;
}

// page_add_rmap(page, vma, address, anon) on a fresh page (2003 4/6): index = virtual
// address, mapping = the faulting mm's anonmm, one reference per page.
void AnonmmScheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  assert(!chains_by_pfn_.count(folio.pfn));
  folio.index = addr;
  set_page_anon(folio, MmAnonmm(*vma.vm_mm));
}

// 2003 page_dup_rmap() (copy_page_range): fork bumps the count, which lives in the
// chain's slot[0] on a PG_chained page. Any other new PTE at an unrecorded address is
// chained as page_add_rmap() does (the model has no such path: swapin is not modelled).
void AnonmmScheme::pte_mapped(Folio& folio, const Vma& vma, Vpn addr) {
  if (folio.mapcount <= 1) return;  // the fresh mapping of folio_add_new_anon_rmap
  if (chains_by_pfn_.count(folio.pfn)) counters_["fork.pages_touched"]++;
  if (chains_ && addr != folio.index) add_rmap_address(folio, addr);
}

// March 2004 page_update_anon_rmap(): only a page mapped once is re-tagged (mm, address).
void AnonmmScheme::page_update_anon_rmap(Folio& folio, Mm& mm, Vpn addr) {
  if (folio.mapcount != 1) return;
  folio.index = addr;
  Anonmm* a = MmAnonmm(mm);
  if (AM(folio.mapping) != a) {
    clear_page_anon(folio);
    set_page_anon(folio, a);
  }
}

// 2003 page_turn_rmap() (do_wp_page reuse, mapcount 1): re-tag the page with the
// current mm so the next walk's first probe hits; the address stays. The March 2004
// page_update_anon_rmap() also moves the index to the faulting address, which this
// hook does not give: it is found in the VMA's page table.
void AnonmmScheme::folio_move_anon_rmap(Folio& folio, Vma& vma) {
  Anonmm* a = MmAnonmm(*vma.vm_mm);
  if (!chains_) {
    Vpn addr = folio.index;
    vma.vm_mm->pt.ForEach(vma.vm_start, vma.vm_end, [&](Vpn va, Pfn pfn) {
      if (pfn == folio.pfn) addr = va;
    });
    Vpn old_index = folio.index;
    Anonmm* old = AM(folio.mapping);
    page_update_anon_rmap(folio, *vma.vm_mm, addr);
    if (old != a || old_index != addr) counters_["cow_reuse.retagged"]++;
    return;
  }
  if (AM(folio.mapping) == a) return;
  clear_page_anon(folio);
  set_page_anon(folio, a);
  counters_["cow_reuse.retagged"]++;
}

// 2003 page_move_rmap() from mremap's copy_one_pte(): a page mapped once and not
// chained just takes the new address as its index; otherwise (shared with another mm
// of the family, or already chained) the new address is chained and the old address
// stays recorded. Without chains (March 2004) a shared page is left as it was.
void AnonmmScheme::pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                             Vpn new_addr) {
  counters_["mremap.pages_touched"]++;
  if (!chains_) {
    if (folio.mapcount != 1) counters_["mremap.pages_untracked"]++;
    page_update_anon_rmap(folio, *to.vm_mm, new_addr);
    return;
  }
  bool chained = chains_by_pfn_.count(folio.pfn);
  if (!chained && folio.mapcount == 1) {
    folio.index = new_addr;
  } else if (new_addr != folio.index) {
    if (!chained) counters_["mremap.pages_chained"]++;  // converted to the fallback
    add_rmap_address(folio, new_addr);
  }
}

// page_remove_rmap() of the last PTE: clear_page_chained(), clear_page_anon().
void AnonmmScheme::folio_freed(Folio& folio) {
  clear_page_chained(folio);
  clear_page_anon(folio);
}

const Vma* AnonmmScheme::ProbeVma(const Mm& mm, Vpn addr) {
  if (const Vma* v = mm.vmas.FindFrom(addr)) return v;
  return mm.vmas.size() ? mm.vmas.map().rbegin()->second : nullptr;
}

// page_referenced_anon() / try_to_unmap_anon() (2003 4/6 + 5/6): under the family
// head's lock, first the mm the page is tagged with, then the rest of the list from
// there round; mms gone or with rss 0 are skipped; in each, page->index and then every
// chained address is probed (next_rmap_address); the walk stops once mapcount PTEs
// were found. Differs: rss is the mm's present PTEs (the zero page included), and a
// probe where no VMA covers the address reports find_vma()'s VMA (a false positive).
void AnonmmScheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                             WalkCost* cost) const {
  const Anonmm* anonmm = AM(folio.mapping);
  const Anonmm* hd = anonmm->head;
  if (cost) cost->locks["anonhd->lock"]++;
  const std::vector<Vpn>& chain = Chain(folio);
  int64_t remaining = folio.mapcount;
  auto probe_mm = [&](const Anonmm* a) {  // true when every PTE was found
    if (cost) cost->objects_visited++;
    if (!a->mm || a->mm->pt.present() == 0) return false;
    if (cost) cost->objects_visited += ChainBlocks(chain.size());
    for (size_t i = 0; i <= chain.size(); ++i) {
      Vpn addr = i == 0 ? folio.index : chain[i - 1];
      if (cost) cost->locks["mm->page_table_lock(trylock)"]++;
      if (const Vma* v = ProbeVma(*a->mm, addr)) out->push_back({v, addr});
      if (model_->PteMapsFolio(*a->mm, addr, folio) && --remaining == 0) return true;
    }
    return false;
  };
  if (probe_mm(anonmm)) return;
  for (std::list<Anonmm*>::const_iterator it = std::next(anonmm->pos);; ++it) {
    if (it == hd->family.end()) it = hd->family.begin();
    if (*it == anonmm) break;
    if (probe_mm(*it)) return;
  }
}

std::map<std::string, ObjectStats> AnonmmScheme::Objects() const {
  ObjectStats a = anonmm_stats_, c = chain_stats_;
  a.object_bytes = kAnonmmBytes;
  c.object_bytes = kRmapChainBytes;
  return {{"anonmm", a}, {"rmap_chain", c}};
}

// Hugh Dickins' anonmm: one per mm, all of a fork family on its head's list; VMAs are
// not linked (the walk searches each member mm at the page's address).
void AnonmmScheme::DescribeGraph(SchemeGraph* g) const {
  std::vector<const Anonmm*> all(live_.begin(), live_.end());
  std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const Anonmm* a : all) {
    std::string id = fmt::format("anonmm{}", a->id);
    g->nodes.push_back({id,
                        fmt::format("anonmm {}{}\n{}  count {}", a->id, a->head == a ? " (head)" : "",
                                    a->mm ? "mm " + a->mm->name : "mm exited", a->count),
                        "box", a->head == a ? "#f9d29d" : ""});
    if (a->head && a->head != a)
      g->edges.push_back({id, fmt::format("anonmm{}", a->head->id), "head", "dashed", ""});
  }
}

std::string AnonmmScheme::FolioMappingNode(const Folio& folio) const {
  for (const Anonmm* a : live_)
    if (static_cast<const AnonVmaBase*>(a) == folio.mapping) return fmt::format("anonmm{}", a->id);
  return {};
}

std::string AnonmmScheme::DescribeVma(const Vma& vma) const {
  if (!vma.anon_vma) return "anonmm=-";
  const Anonmm* a = AM(vma.anon_vma);
  return fmt::format("anonmm=am{} head=am{}", a->id, a->head->id);
}

std::vector<std::string> AnonmmScheme::CheckInvariants() const {
  std::vector<std::string> bad;
  std::unordered_map<const Anonmm*, int64_t> pages, members;
  for (const auto& mm : model_->mms()) {
    const Anonmm* a = MmAnonmm(*mm);
    if (!mm->alive) {
      if (a) bad.push_back(fmt::format("exited mm {} still has an anonmm", mm->name));
      continue;
    }
    if (!a || !live_.count(const_cast<Anonmm*>(a)) || a->mm != mm.get()) {
      bad.push_back(fmt::format("mm {}: no anonmm of its own", mm->name));
      continue;
    }
    for (const auto& [start, v] : mm->vmas)
      if (v->anon_vma && v->anon_vma != a)
        bad.push_back(fmt::format("VMA #{}: marker is not its mm's anonmm", v->id));
  }
  for (const Anonmm* a : live_) {
    if (!live_.count(a->head)) {
      bad.push_back(fmt::format("am{}: head is not live", a->id));
      continue;
    }
    if (a->head == a) {
      if (a->family.empty() || a->family.front() != a)
        bad.push_back(fmt::format("am{}: head not first on its list", a->id));
      for (const Anonmm* m : a->family)
        if (m->head != a) bad.push_back(fmt::format("am{}: foreign anonmm on list", a->id));
      members[a] = static_cast<int64_t>(a->family.size()) - 1;
    } else if (*a->pos != a ||
               std::count(a->head->family.begin(), a->head->family.end(), a) != 1) {
      bad.push_back(fmt::format("am{}: not on its head's list once", a->id));
    }
  }
  std::unordered_map<Pfn, const Folio*> anon;
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind != FolioKind::kAnon) return;
    anon[f.pfn] = &f;
    const Anonmm* a = AM(f.mapping);
    if (!live_.count(const_cast<Anonmm*>(a))) {
      bad.push_back(fmt::format("folio {}: mapping is not a live anonmm", f.pfn));
      return;
    }
    pages[a]++;
    const auto& chain = Chain(f);
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i] == f.index || std::count(chain.begin(), chain.end(), chain[i]) != 1)
        bad.push_back(fmt::format("folio {}: duplicate chained address", f.pfn));
  });
  for (const auto& [pfn, chain] : chains_by_pfn_)
    if (!anon.count(pfn) || chain.empty())
      bad.push_back(fmt::format("pfn {}: stale rmap_chain", pfn));
  for (const Anonmm* a : live_) {
    int64_t want = (a->mm ? 1 : 0) + pages[a] + (a->head == a ? 1 + members[a] : 0);
    if (a->count != want || a->count <= 0)
      bad.push_back(fmt::format("am{}: count {} but expected {}", a->id, a->count, want));
  }
  for (const auto& mm : model_->mms()) {
    const Anonmm* own = MmAnonmm(*mm);
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn pfn) {
      auto it = anon.find(pfn);
      if (it == anon.end()) return;
      const Folio& f = *it->second;
      const auto& chain = Chain(f);
      bool at_known = addr == f.index || std::count(chain.begin(), chain.end(), addr);
      if ((chains_ && !at_known) || !own || !f.mapping || own->head != AM(f.mapping)->head)
        bad.push_back(fmt::format("folio {}: mm {} maps it at {:#x}, out of the walk's reach",
                                  pfn, mm->name, addr));
    });
  }
  return bad;
}

}  // namespace rmaplab::anonmm
