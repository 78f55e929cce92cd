#include "rmap/schemes/avc_2010/avc_2010_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::avc_2010 {

RMAPLAB_REGISTER_SCHEME(Avc2010Scheme, "avc-2010");

namespace {
AnonVma* AV(AnonVmaBase* b) { return static_cast<AnonVma*>(b); }
constexpr const char* kWalkLock = "anon_vma->lock(spin)";
}  // namespace

Avc2010Scheme::~Avc2010Scheme() {
  // Objects of processes still alive when the model is destroyed.
  for (AnonVma* av : live_) {
    for (Avc* avc = av->head.front(); avc;) {
      Avc* next = avc->same_anon_vma.next;
      delete avc;
      avc = next;
    }
    delete av;
  }
}

VmaState& Avc2010Scheme::State(Vma& vma) {
  if (!vma.rmap) vma.rmap = new VmaState();
  return *static_cast<VmaState*>(vma.rmap);
}

const AvcChain* Avc2010Scheme::Chain(const Vma& vma) {
  return vma.rmap ? &static_cast<const VmaState*>(vma.rmap)->chain : nullptr;
}

size_t Avc2010Scheme::chain_len(const Vma* vma) {
  const auto* c = Chain(*vma);
  return c ? c->size() : 0;
}

// anon_vma_alloc() from the SLAB_DESTROY_BY_RCU cache; the constructor set up an empty
// list. No root, no parent, no refcount in 2.6.34.
AnonVma* Avc2010Scheme::anon_vma_alloc() {
  auto* av = new AnonVma();
  av->id = next_av_id_++;
  av_stats_.OnAlloc();
  live_.insert(av);
  return av;
}

void Avc2010Scheme::anon_vma_free(AnonVma* av) {
  assert(av->head.empty());
  live_.erase(av);
  av_stats_.OnFree();
  delete av;
}

Avc* Avc2010Scheme::anon_vma_chain_alloc() {
  avc_stats_.OnAlloc();
  return new Avc();
}

void Avc2010Scheme::anon_vma_chain_free(Avc* avc) {
  avc_stats_.OnFree();
  delete avc;
}

void Avc2010Scheme::NoteChain(const Vma& vma) {
  max_chain_ = std::max(max_chain_, static_cast<int64_t>(chain_len(&vma)));
}

// anon_vma_chain_link() (2.6.34): head of the VMA's chain; under anon_vma->lock, the
// TAIL of the anon_vma's list, so that a walk sees a fork child or mremap copy after
// its source.
void Avc2010Scheme::anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av) {
  avc->vma = &vma;
  avc->anon_vma = av;
  State(vma).chain.push_front(avc);
  ++locks_;
  av->head.push_back(avc);
  if (in_fork_)
    ++fork_avcs_;
  else
    ++clone_avcs_;
}

// anon_vma_compatible() + the list_is_singular() test Linus added in April 2010
// (d0e9fe1758f2). 2010 masked only VM_READ|VM_WRITE|VM_EXEC (VM_SOFTDIRTY came in 3.11).
AnonVma* Avc2010Scheme::reusable_anon_vma(const Vma& old, const Vma& a, const Vma& b) const {
  bool compatible = a.vm_end == b.vm_start && a.vm_file == b.vm_file &&
                    !((a.vm_flags ^ b.vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) &&
                    b.vm_pgoff == a.vm_pgoff + (b.vm_start - a.vm_start);
  if (compatible && old.anon_vma && chain_len(&old) == 1) return AV(old.anon_vma);
  return nullptr;
}

// find_mergeable_anon_vma() (mm/mmap.c, 2.6.34): vma->vm_next first, then the previous.
AnonVma* Avc2010Scheme::find_mergeable_anon_vma(const Vma& vma) const {
  if (Vma* next = model_->vma_next(vma)) {
    if (AnonVma* av = reusable_anon_vma(*next, vma, *next)) return av;
  }
  if (Vma* prev = model_->vma_prev(vma)) return reusable_anon_vma(*prev, *prev, vma);
  return nullptr;
}

// anon_vma_prepare() (2.6.34). Differs from later kernels: the AVC goes to the HEAD of
// the anon_vma's list (list_add); Andrea's "always add new vmas at the end" (2.6.36)
// made it list_add_tail.
int Avc2010Scheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  Avc* avc = anon_vma_chain_alloc();
  AnonVma* av = find_mergeable_anon_vma(vma);
  if (!av) av = anon_vma_alloc();
  ++locks_;  // spin_lock(&anon_vma->lock), then mm->page_table_lock
  vma.anon_vma = av;
  avc->vma = &vma;
  avc->anon_vma = av;
  State(vma).chain.push_front(avc);
  av->head.push_front(avc);
  NoteChain(vma);
  return 0;
}

// anon_vma_clone() (2.6.34): one AVC per AVC of src, oldest first
// (list_for_each_entry_reverse, Linus' April 2010 order fix). No reuse: dst keeps the
// anon_vma its caller gave it.
int Avc2010Scheme::anon_vma_clone(Vma& dst, const Vma& src) {
  const auto* chain = Chain(src);
  if (!chain) return 0;
  for (auto it = chain->rbegin(); it != chain->rend(); ++it)
    anon_vma_chain_link(dst, anon_vma_chain_alloc(), (*it)->anon_vma);
  NoteChain(dst);
  return 0;
}

// anon_vma_fork() (2.6.34): clone the parent's chain, then always a new anon_vma for
// the child's COWed pages (no root pointer, no get_anon_vma(root), no reuse).
int Avc2010Scheme::anon_vma_fork(Vma& dst, const Vma& src) {
  if (!src.anon_vma) return 0;
  in_fork_ = true;
  anon_vma_clone(dst, src);
  AnonVma* av = anon_vma_alloc();
  Avc* avc = anon_vma_chain_alloc();
  anon_vma_chain_link(dst, avc, av);
  dst.anon_vma = av;
  in_fork_ = false;
  NoteChain(dst);
  return 0;
}

// anon_vma_unlink() (2.6.34): off the list under anon_vma->lock; an anon_vma whose list
// empties is freed at once (ksm_refcount is always 0 here: no KSM in the model).
void Avc2010Scheme::anon_vma_unlink(Avc* avc) {
  AnonVma* av = avc->anon_vma;
  ++locks_;
  av->head.erase(avc);
  if (av->head.empty()) anon_vma_free(av);
}

// unlink_anon_vmas() (2.6.34): the VMA's chain from newest to oldest. Also clears
// vma->anon_vma, which 2.6.34 left to the VMA's imminent free (the core may reuse a
// whole-VMA MREMAP_DONTUNMAP source).
void Avc2010Scheme::unlink_anon_vmas(Vma& vma) {
  if (!vma.rmap) {
    assert(!vma.anon_vma);
    return;
  }
  auto& chain = State(vma).chain;
  for (Avc* avc = chain.front(); avc;) {
    Avc* next = avc->same_vma.next;
    anon_vma_unlink(avc);
    anon_vma_chain_free(avc);
    avc = next;
  }
  chain.clear();
  vma.anon_vma = nullptr;
}

void Avc2010Scheme::vm_area_free(Vma& vma) {
  auto* st = static_cast<VmaState*>(vma.rmap);
  assert(!st || st->chain.empty());
  delete st;
  vma.rmap = nullptr;
}

// is_mergeable_anon_vma() of 2.6.7-2.6.38: "!anon_vma1 || !anon_vma2 || anon_vma1 ==
// anon_vma2". Differs from 6.18 on purpose: no fork-child test on either side (Shaohua
// Li's list_is_singular() test came in 2011; 6.16's three cases in 2025).
bool Avc2010Scheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                          const Vma* /*src*/, const Vma* /*copied_from*/) const {
  return !tgt.anon_vma || !src_anon || tgt.anon_vma == src_anon;
}

// vma_merge() cases 1 and 6 (2.6.34): is_mergeable_anon_vma(prev->anon_vma,
// next->anon_vma), the same plain test.
bool Avc2010Scheme::anon_vmas_compatible(const Vma& prev, const Vma& next) const {
  return !prev.anon_vma || !next.anon_vma || prev.anon_vma == next.anon_vma;
}

// page_add_new_anon_rmap() -> __page_set_anon_rmap(exclusive): the VMA's own anon_vma.
void Avc2010Scheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  folio.mapping = vma.anon_vma;
  folio.index = vma.linear_page_index(addr);
}

// page_move_anon_rmap() (Rik van Riel, 2.6.34): a reused exclusive page moves to the
// faulting VMA's own anon_vma.
void Avc2010Scheme::folio_move_anon_rmap(Folio& folio, Vma& vma) { folio.mapping = vma.anon_vma; }

// rmap_walk_anon() / try_to_unmap_anon() (2.6.34): spin_lock(&anon_vma->lock) of the
// page's own anon_vma, then list_for_each_entry over EVERY AVC on its same_anon_vma list.
// vma_address() of a VMA that does not cover page->index is -EFAULT, which 2.6.34 skips:
// such AVCs are reported with the out-of-range address so that the oracle counts them
// as false positives. Order-0 pages only (no THP before 2.6.38).
void Avc2010Scheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                              WalkCost* cost) const {
  const AnonVma* av = AV(folio.mapping);
  // Not the design: a safety net so that a broken invariant shows as misses, not a crash.
  if (!live_.count(const_cast<AnonVma*>(av))) return;
  if (cost) cost->locks[kWalkLock]++;
  const Pgoff pgoff = folio.index;
  for (const Avc* avc : av->head) {
    const Vma* vma = avc->vma;
    out->push_back({vma, vma->vm_start + (pgoff - vma->vm_pgoff)});  // unsigned, as C
  }
  if (cost) cost->objects_visited += static_cast<int64_t>(av->head.size());
}

std::map<std::string, ObjectStats> Avc2010Scheme::Objects() const {
  ObjectStats av = av_stats_, avc = avc_stats_;
  av.object_bytes = kAnonVmaBytes;
  avc.object_bytes = kAvcBytes;
  return {{kAnonVmaName, av}, {kAvcName, avc}};
}

std::map<std::string, int64_t> Avc2010Scheme::Counters() const {
  return {
      {"fork.pages_touched", 0},  // an object-based design: fork links VMAs, not pages
      {"mremap.pages_touched", 0},       {"fork.avc_linked", fork_avcs_},
      {"clone.avc_linked", clone_avcs_}, {"anon_vma_lock.acquisitions", locks_},
      {"chain_length.max", max_chain_},
  };
}

// 2.6.34's picture: anon_vmas (no parent/root links yet: those came with 2.6.36's fix)
// and one edge per anon_vma_chain, bold for the VMA's own anon_vma.
void Avc2010Scheme::DescribeGraph(SchemeGraph* g) const {
  std::vector<const AnonVma*> avs(live_.begin(), live_.end());
  std::sort(avs.begin(), avs.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const AnonVma* av : avs)
    g->nodes.push_back({fmt::format("av{}", av->id),
                        fmt::format("anon_vma av{}\n{} chain entries", av->id, av->head.size()),
                        "ellipse", ""});
  for (const auto& mm : model_->mms())
    for (const auto& [start, v] : mm->vmas) {
      const auto* chain = Chain(*v);
      if (!chain) continue;
      for (const Avc* avc : *chain) {
        bool own = v->anon_vma == avc->anon_vma;
        g->edges.push_back({fmt::format("vma:{}", v->id), fmt::format("av{}", avc->anon_vma->id),
                            own ? "avc (own)" : "avc", own ? "bold" : "solid", ""});
      }
    }
}

std::string Avc2010Scheme::FolioMappingNode(const Folio& folio) const {
  for (const AnonVma* av : live_)
    if (static_cast<const AnonVmaBase*>(av) == folio.mapping) return fmt::format("av{}", av->id);
  return {};
}

std::string Avc2010Scheme::DescribeVma(const Vma& vma) const {
  if (!vma.anon_vma) return fmt::format("anon_vma=- chain={}", chain_len(&vma));
  return fmt::format("anon_vma=av{} chain={}", AV(vma.anon_vma)->id, chain_len(&vma));
}

std::vector<std::string> Avc2010Scheme::CheckInvariants() const {
  std::vector<std::string> bad;
  std::unordered_map<const AnonVma*, const Vma*> first_user;  // for invariant 3
  int64_t avcs = 0;
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, v] : mm->vmas) {
      const auto* chain = Chain(*v);
      size_t len = chain ? chain->size() : 0;
      avcs += static_cast<int64_t>(len);
      if (!v->anon_vma) {
        if (len) bad.push_back(fmt::format("VMA #{}: unfaulted but chain={}", v->id, len));
        continue;
      }
      if (!live_.count(AV(v->anon_vma))) {
        bad.push_back(fmt::format("VMA #{}: anon_vma is not live", v->id));
        continue;
      }
      std::set<const AnonVma*> seen;
      bool has_own = false;
      for (const Avc* avc : *chain) {
        if (avc->vma != v) bad.push_back(fmt::format("VMA #{}: AVC of another VMA", v->id));
        if (!live_.count(avc->anon_vma)) {
          bad.push_back(fmt::format("VMA #{}: AVC to a freed anon_vma", v->id));
          continue;
        }
        if (!seen.insert(avc->anon_vma).second)
          bad.push_back(fmt::format("VMA #{}: two AVCs to av{}", v->id, avc->anon_vma->id));
        if (avc->anon_vma == v->anon_vma) has_own = true;
        const Avc* p = avc->same_anon_vma.prev;
        if (p ? p->same_anon_vma.next != avc : avc->anon_vma->head.front() != avc)
          bad.push_back(fmt::format("VMA #{}: AVC not on av{}'s list", v->id, avc->anon_vma->id));
      }
      if (!has_own) bad.push_back(fmt::format("VMA #{}: no AVC to its own anon_vma", v->id));
      auto [it, fresh] = first_user.emplace(AV(v->anon_vma), v);
      if (!fresh) {
        const auto* other = Chain(*it->second);
        bool same =
            other->size() == chain->size() &&
            std::equal(chain->begin(), chain->end(), other->begin(),
                       [](const Avc* a, const Avc* b) { return a->anon_vma == b->anon_vma; });
        if (!same)
          bad.push_back(fmt::format("VMAs #{} and #{} share av{} but not their chains", v->id,
                                    it->second->id, AV(v->anon_vma)->id));
      }
    }
  }
  int64_t listed = 0;
  for (const AnonVma* av : live_) {
    if (av->head.empty()) bad.push_back(fmt::format("av{}: live with an empty list", av->id));
    for (const Avc* avc : av->head) {
      if (avc->anon_vma != av) bad.push_back(fmt::format("av{}: foreign AVC on list", av->id));
      ++listed;
    }
  }
  if (listed != avcs || avc_stats_.live != avcs)
    bad.push_back(
        fmt::format("AVCs: {} on chains, {} on lists, {} live", avcs, listed, avc_stats_.live));
  if (av_stats_.live != static_cast<int64_t>(live_.size()))
    bad.push_back(
        fmt::format("anon_vmas: {} live by count, {} in the set", av_stats_.live, live_.size()));
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind == FolioKind::kAnon && !live_.count(AV(f.mapping)))
      bad.push_back(fmt::format("folio {}: mapping is not a live anon_vma", f.pfn));
  });
  return bad;
}

}  // namespace rmaplab::avc_2010
