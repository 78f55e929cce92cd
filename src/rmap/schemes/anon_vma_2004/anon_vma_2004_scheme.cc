#include "rmap/schemes/anon_vma_2004/anon_vma_2004_scheme.h"

#include <algorithm>
#include <fmt/format.h>

#include <cassert>
#include <unordered_map>
#include <unordered_set>

#include "core/mm.h"
#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::anon_vma_2004 {

RMAPLAB_REGISTER_SCHEME(AnonVma2004Scheme, "anon-vma-2004");

namespace {
AnonVma* AV(AnonVmaBase* b) { return static_cast<AnonVma*>(b); }
AnonVmaNode* Node(const Vma& vma) { return static_cast<AnonVmaNode*>(vma.rmap); }

// is_mergeable_vma() of 2.6.7: equal flags and file (no vm_ops->close in the model).
// VM_SOFTDIRTY did not exist in 2004; it is ignored as 6.18's merges ignore it.
bool is_mergeable_vma(const Vma& vma, const File* file, VmFlags vm_flags) {
  return !((vma.vm_flags ^ vm_flags) & ~VM_IGNORE_MERGE) && vma.vm_file == file;
}

// find_mergeable_anon_vma()'s flags: vma's, but with near's protections, "since only
// mprotect tries to remerge vmas".
VmFlags FlagsAsIfMprotected(const Vma& vma, const Vma& near) {
  return (vma.vm_flags & ~VM_ACCESS_FLAGS) | (near.vm_flags & VM_ACCESS_FLAGS);
}
}  // namespace

AnonVma2004Scheme::~AnonVma2004Scheme() {
  for (AnonVma* av : live_) delete av;  // processes still alive at teardown
}

size_t AnonVma2004Scheme::ListLength(const Vma& vma) {
  return vma.anon_vma ? AV(vma.anon_vma)->head.size() : 0;
}

// anon_vma_alloc(): kmem_cache_alloc(anon_vma_cachep); the slab ctor set lock and list.
AnonVma* AnonVma2004Scheme::anon_vma_alloc() {
  auto* av = new AnonVma();
  av->id = next_av_id_++;
  av_stats_.OnAlloc();
  live_.insert(av);
  return av;
}

void AnonVma2004Scheme::anon_vma_free(AnonVma* av) {
  assert(av->head.empty());
  live_.erase(av);
  av_stats_.OnFree();
  delete av;
}

// __anon_vma_link() / anon_vma_link(): list_add(&vma->anon_vma_node, &anon_vma->head).
void AnonVma2004Scheme::anon_vma_link(Vma& vma, AnonVma* av) {
  if (!vma.rmap) vma.rmap = new AnonVmaNode();
  AnonVmaNode* n = Node(vma);
  assert(!n->on);
  av->head.push_front(&vma);
  n->on = av;
  n->node = av->head.begin();
  node_stats_.OnAlloc();
}

// find_mergeable_anon_vma() (2.6.7 mm/mmap.c, rmap 40): the next VMA, then the previous
// one (find_vma_prev), if it touches vma and could be mprotected into merging with it:
// same flags but the protections, same file, contiguous vm_pgoff. Unlike 6.18's
// reusable_anon_vma() there is no list_is_singular() test: a fork child's neighbour's
// anon_vma (which is the whole family's) is shared as readily as any other.
AnonVma* AnonVma2004Scheme::find_mergeable_anon_vma(const Vma& vma) {
  counters_["find_mergeable_anon_vma.calls"]++;
  if (const Vma* near = model_->vma_next(vma)) {
    if (near->anon_vma && vma.vm_end == near->vm_start &&
        is_mergeable_vma(*near, vma.vm_file, FlagsAsIfMprotected(vma, *near)) &&
        near->vm_pgoff == vma.vm_pgoff + vma.pages()) {  // can_vma_merge_before()
      counters_["find_mergeable_anon_vma.shared_next"]++;
      return AV(near->anon_vma);
    }
  }
  counters_["find_vma_prev"]++;  // the extra lookup rmap 40 pays on a first write fault
  if (const Vma* near = model_->vma_prev(vma)) {
    if (near->anon_vma && near->vm_end == vma.vm_start &&
        is_mergeable_vma(*near, vma.vm_file, FlagsAsIfMprotected(vma, *near)) &&
        near->vm_pgoff + near->pages() == vma.vm_pgoff) {  // can_vma_merge_after()
      counters_["find_mergeable_anon_vma.shared_prev"]++;
      return AV(near->anon_vma);
    }
  }
  return nullptr;
}

// anon_vma_prepare() (2.6.7): a neighbour's anon_vma (linked under its lock) or a new
// one (no lock needed: nobody else can see it yet).
int AnonVma2004Scheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  AnonVma* av = find_mergeable_anon_vma(vma);
  if (av) {
    Lock("prepare");
  } else {
    av = anon_vma_alloc();
  }
  vma.anon_vma = av;
  anon_vma_link(vma, av);
  return 0;
}

// The 2.6.7 equivalents of 6.18's anon_vma_clone(): __split_vma -> vma_adjust(insert)
// -> __insert_vm_struct -> __anon_vma_link; copy_vma -> vma_link; and the merges that
// give an unfaulted VMA its neighbour's anon_vma (__anon_vma_merge when the neighbour
// goes; the "importer" of "mprotect propagate anon_vma" when the boundary moves, a fix
// of June 2004 that 2.6.7 itself lacked, see README). All under anon_vma->lock.
int AnonVma2004Scheme::anon_vma_clone(Vma& dst, const Vma& src) {
  if (!dst.anon_vma) return 0;
  assert(dst.anon_vma == src.anon_vma);
  Lock("clone");
  anon_vma_link(dst, AV(dst.anon_vma));
  return 0;
}

// dup_mmap() of 2.6.7: the child's VMA keeps the parent's anon_vma (vm_area copy) and
// anon_vma_link() puts it on the same list. Nothing is allocated.
int AnonVma2004Scheme::anon_vma_fork(Vma& dst, const Vma& src) {
  dst.anon_vma = src.anon_vma;
  if (!dst.anon_vma) return 0;
  Lock("fork");
  counters_["fork.vmas_linked"]++;
  anon_vma_link(dst, AV(dst.anon_vma));
  return 0;
}

// anon_vma_unlink(): list_del under the lock; the anon_vma is freed when its list is
// empty (there is no reference count).
void AnonVma2004Scheme::unlink_anon_vmas(Vma& vma) {
  AnonVmaNode* n = Node(vma);
  vma.anon_vma = nullptr;
  if (!n || !n->on) return;
  AnonVma* av = n->on;
  Lock("unlink");
  av->head.erase(n->node);
  n->on = nullptr;
  node_stats_.OnFree();
  if (av->head.empty()) anon_vma_free(av);
}

void AnonVma2004Scheme::vm_area_free(Vma& vma) {
  AnonVmaNode* n = Node(vma);
  assert(!n || !n->on);
  delete n;
  vma.rmap = nullptr;
}

// is_mergeable_anon_vma() of 2.6.7: !anon_vma1 || !anon_vma2 || anon_vma1 == anon_vma2.
// None of 6.18's fork-child or copied_from conditions: see README.
bool AnonVma2004Scheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                              const Vma* /*src*/,
                                              const Vma* /*copied_from*/) const {
  return !tgt.anon_vma || !src_anon || tgt.anon_vma == src_anon;
}

// vma_adjust() takes vma->anon_vma->lock around every change of a linked VMA's range.
// The list is not keyed by range, so nothing else changes.
void AnonVma2004Scheme::vma_pre_update(Vma& vma) {
  if (vma.anon_vma) Lock("adjust");
}

// page_add_anon_rmap() on the first mapping: page->mapping = anon_vma, page->index =
// the linear index in the VMA.
void AnonVma2004Scheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  folio.mapping = vma.anon_vma;
  folio.index = vma.linear_page_index(addr);
}

// 2004 had no page_move_anon_rmap(): the page stays on the family's anon_vma, which is
// the reusing VMA's anon_vma anyway.
void AnonVma2004Scheme::folio_move_anon_rmap(Folio& folio, Vma& vma) {
  if (folio.mapping != vma.anon_vma) move_mismatches_++;  // reported by CheckInvariants
  counters_["folio_move_anon_rmap.noop"]++;
}

// page_referenced_anon() / try_to_unmap_anon(): spin_lock(&anon_vma->lock), then every
// VMA on the list: vma_address() skips a VMA whose range does not hold page->index
// (visited, not probed); the others are probed. Differs: the 2004 loops stop once
// mapcount PTEs were found and skip mms with rss 0; this walk is always the full list.
void AnonVma2004Scheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                                  WalkCost* cost) const {
  const AnonVma* av = AV(folio.mapping);
  if (cost) cost->locks[kLock]++;
  const Pgoff first = folio.index;
  const Pgoff last = first + folio.nr_pages - 1;
  for (const Vma* vma : av->head) {
    if (cost) cost->objects_visited++;
    const Pgoff vstart = vma->vm_pgoff, vlast = vma->vm_pgoff + vma->pages() - 1;
    if (last < vstart || first > vlast) continue;  // vma_address() == -EFAULT
    Vpn addr = first >= vstart ? vma->vm_start + (first - vstart) : vma->vm_start;
    out->push_back({vma, addr});
  }
}

std::map<std::string, ObjectStats> AnonVma2004Scheme::Objects() const {
  ObjectStats av = av_stats_, node = node_stats_;
  av.object_bytes = kAnonVmaBytes;
  node.object_bytes = kAnonVmaNodeBytes;
  return {{"anon_vma", av}, {"anon_vma_node", node}};
}

std::map<std::string, int64_t> AnonVma2004Scheme::Counters() const {
  auto c = counters_;
  c["fork.pages_touched"] += 0;    // fork links VMAs; pages only gain a mapcount
  c["mremap.pages_touched"] += 0;  // page->index stays valid: vm_pgoff moves with the VMA
  int64_t locks = 0;
  for (const auto& [k, v] : counters_)
    if (k.rfind("lock.", 0) == 0) locks += v;
  c[std::string("lock.") + kLock] = locks;
  return c;
}

// 2.6.7's picture: each anon_vma and the VMAs on its list (one list per family).
void AnonVma2004Scheme::DescribeGraph(SchemeGraph* g) const {
  std::vector<const AnonVma*> avs(live_.begin(), live_.end());
  std::sort(avs.begin(), avs.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const AnonVma* av : avs) {
    std::string id = fmt::format("av{}", av->id);
    g->nodes.push_back({id, fmt::format("anon_vma av{}\n{} VMAs on its list", av->id, av->head.size()),
                        "ellipse", ""});
    for (const Vma* v : av->head)
      g->edges.push_back({fmt::format("vma:{}", v->id), id, "anon_vma_node", "solid", ""});
  }
}

std::string AnonVma2004Scheme::FolioMappingNode(const Folio& folio) const {
  for (const AnonVma* av : live_)
    if (static_cast<const AnonVmaBase*>(av) == folio.mapping) return fmt::format("av{}", av->id);
  return {};
}

std::string AnonVma2004Scheme::DescribeVma(const Vma& vma) const {
  if (!vma.anon_vma) return "anon_vma=-";
  return fmt::format("anon_vma=av{} list={}", AV(vma.anon_vma)->id, ListLength(vma));
}

std::vector<std::string> AnonVma2004Scheme::CheckInvariants() const {
  std::vector<std::string> bad;
  if (move_mismatches_)
    bad.push_back(fmt::format("{} reused folios were not on the reusing VMA's anon_vma",
                              move_mismatches_));
  std::unordered_map<const AnonVma*, size_t> users;
  std::unordered_set<const Vma*> in_trees;
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, v] : mm->vmas) {
      in_trees.insert(v);
      const AnonVmaNode* n = Node(*v);
      if (!v->anon_vma) {
        if (n && n->on) bad.push_back(fmt::format("VMA #{}: on av{}'s list without anon_vma",
                                                  v->id, n->on->id));
        continue;
      }
      const AnonVma* av = AV(v->anon_vma);
      if (!live_.count(const_cast<AnonVma*>(av))) {
        bad.push_back(fmt::format("VMA #{}: anon_vma is not live", v->id));
        continue;
      }
      users[av]++;
      if (!n || n->on != av || *n->node != v)
        bad.push_back(fmt::format("VMA #{}: not on its anon_vma av{}'s list", v->id, av->id));
    }
  }
  for (const AnonVma* av : live_) {
    if (av->head.empty()) bad.push_back(fmt::format("av{}: live with an empty list", av->id));
    if (av->head.size() != users[av])
      bad.push_back(fmt::format("av{}: {} VMAs on its list but {} VMAs use it", av->id,
                                av->head.size(), users[av]));
    for (const Vma* v : av->head) {
      if (!in_trees.count(v))
        bad.push_back(fmt::format("av{}: its list holds a VMA no mm has", av->id));
      else if (v->anon_vma != av)
        bad.push_back(fmt::format("av{}: VMA #{} on its list has another anon_vma", av->id,
                                  v->id));
    }
  }
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind == FolioKind::kAnon && !live_.count(AV(f.mapping)))
      bad.push_back(fmt::format("folio {}: mapping is not a live anon_vma", f.pfn));
  });
  return bad;
}

}  // namespace rmaplab::anon_vma_2004
