#include "rmap/schemes/linux/linux_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::linux_rmap {

RMAPLAB_REGISTER_SCHEME(LinuxScheme, "linux");

namespace {
AnonVma* AV(AnonVmaBase* b) { return static_cast<AnonVma*>(b); }
const AnonVma* AV(const AnonVmaBase* b) { return static_cast<const AnonVma*>(b); }
}  // namespace

LinuxScheme::~LinuxScheme() {
  // Objects of processes still alive when the model is destroyed.
  for (AnonVma* av : live_) {
    std::vector<Avc*> avcs;
    avcs.reserve(av->rb_root.size());
    av->rb_root.ForEach([&](Avc* avc) { avcs.push_back(avc); });
    av->rb_root.Clear();
    for (Avc* avc : avcs) delete avc;
    delete av;
  }
}

LinuxVmaState& LinuxScheme::State(Vma& vma) {
  if (!vma.rmap) vma.rmap = new LinuxVmaState();
  return *static_cast<LinuxVmaState*>(vma.rmap);
}

const AvcList* LinuxScheme::Chain(const Vma& vma) {
  return vma.rmap ? &static_cast<const LinuxVmaState*>(vma.rmap)->chain : nullptr;
}

size_t LinuxScheme::chain_len(const Vma* vma) {
  const auto* c = Chain(*vma);
  return c ? c->size() : 0;
}

bool LinuxScheme::vma_is_fork_child(const Vma* vma) {
  return vma && vma->anon_vma && chain_len(vma) != 1;
}

// anon_vma_alloc(): refcount 1, root = self (set by callers), no children yet.
AnonVma* LinuxScheme::anon_vma_alloc() {
  auto* av = new AnonVma();
  av->refcount = 1;
  av->root = av;
  av->parent = av;
  av->id = next_av_id_++;
  av_stats_.OnAlloc();
  live_.insert(av);
  return av;
}

void LinuxScheme::anon_vma_free(AnonVma* av) {
  assert(av->rb_root.empty());
  live_.erase(av);
  av_stats_.OnFree();
  delete av;
}

// put_anon_vma() / __put_anon_vma(): a freed non-root drops its root reference.
void LinuxScheme::put_anon_vma(AnonVma* av) {
  if (--av->refcount > 0) return;
  AnonVma* root = av->root;
  anon_vma_free(av);
  if (root != av && --root->refcount == 0) anon_vma_free(root);
}

Avc* LinuxScheme::anon_vma_chain_alloc() {
  auto* avc = new Avc();
  avc->id = next_avc_id_++;
  avc_stats_.OnAlloc();
  return avc;
}

void LinuxScheme::anon_vma_chain_free(Avc* avc) {
  avc_stats_.OnFree();
  delete avc;
}

// anon_vma_chain_link(): head of the VMA's chain, into the anon_vma's interval tree.
void LinuxScheme::anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av) {
  avc->vma = &vma;
  avc->anon_vma = av;
  avc->start = vma.vm_pgoff;
  avc->last = vma.vm_pgoff + vma.pages() - 1;
  State(vma).chain.push_front(avc);
  av->rb_root.Insert(avc);
}

// anon_vma_compatible() + the list_is_singular() test of reusable_anon_vma().
AnonVma* LinuxScheme::reusable_anon_vma(const Vma& old, const Vma& a, const Vma& b) const {
  bool compatible = a.vm_end == b.vm_start && a.vm_file == b.vm_file &&
                    !((a.vm_flags ^ b.vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) &&
                    b.vm_pgoff == a.vm_pgoff + (b.vm_start - a.vm_start);
  if (compatible && old.anon_vma && chain_len(&old) == 1) return AV(old.anon_vma);
  return nullptr;
}

// find_mergeable_anon_vma() (mm/vma.c): the next VMA first, then the previous one.
AnonVma* LinuxScheme::find_mergeable_anon_vma(const Vma& vma) const {
  if (Vma* next = model_->vma_next(vma); next && next->vm_start == vma.vm_end) {
    if (AnonVma* av = reusable_anon_vma(*next, vma, *next)) return av;
  }
  if (Vma* prev = model_->vma_prev(vma)) return reusable_anon_vma(*prev, *prev, vma);
  return nullptr;
}

// __anon_vma_prepare().
int LinuxScheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  Avc* avc = anon_vma_chain_alloc();
  AnonVma* av = find_mergeable_anon_vma(vma);
  counters_["prepare.calls"]++;
  if (av) counters_["prepare.shared_with_neighbour"]++;
  if (!av) {
    av = anon_vma_alloc();
    av->num_children++;  // self-parent link for a new root
  }
  vma.anon_vma = av;
  anon_vma_chain_link(vma, avc, av);
  av->num_active_vmas++;
  return 0;
}

// anon_vma_clone(): one AVC per AVC of src, oldest first. With dst.anon_vma null and
// src.anon_vma set (only from anon_vma_fork()), the first anon_vma with no active VMA
// and fewer than two children is reused as dst's own.
int LinuxScheme::anon_vma_clone(Vma& dst, const Vma& src) {
  const auto* chain = Chain(src);
  if (!chain) return 0;
  for (auto it = chain->rbegin(); it != chain->rend(); ++it) {
    AnonVma* av = (*it)->anon_vma;
    anon_vma_chain_link(dst, anon_vma_chain_alloc(), av);
    counters_["clone.avc_linked"]++;
    if (!dst.anon_vma && src.anon_vma && av->num_children < 2 && av->num_active_vmas == 0)
      dst.anon_vma = av;
  }
  if (dst.anon_vma) AV(dst.anon_vma)->num_active_vmas++;
  return 0;
}

// anon_vma_fork().
int LinuxScheme::anon_vma_fork(Vma& dst, const Vma& src) {
  if (!src.anon_vma) return 0;
  dst.anon_vma = nullptr;
  anon_vma_clone(dst, src);
  counters_["fork.vmas"]++;
  if (dst.anon_vma) {  // an idle anon_vma was reused
    counters_["fork.anon_vma_reused"]++;
    return 0;
  }
  AnonVma* av = anon_vma_alloc();
  av->num_active_vmas++;
  Avc* avc = anon_vma_chain_alloc();
  AnonVma* pav = AV(src.anon_vma);
  av->root = pav->root;
  av->parent = pav;
  av->root->refcount++;  // get_anon_vma(root)
  dst.anon_vma = av;
  anon_vma_chain_link(dst, avc, av);
  av->parent->num_children++;
  return 0;
}

// unlink_anon_vmas(): newest to oldest; anon_vmas whose tree empties are put after.
void LinuxScheme::unlink_anon_vmas(Vma& vma) {
  if (!vma.rmap) {
    assert(!vma.anon_vma);
    return;
  }
  auto& chain = State(vma).chain;
  Avc* kept = nullptr;  // AVCs whose anon_vma emptied, linked through same_vma.next
  for (Avc* avc = *chain.begin(); avc;) {
    Avc* next = avc->same_vma.next;
    AnonVma* av = avc->anon_vma;
    av->rb_root.Erase(avc);
    if (av->rb_root.empty()) {
      av->parent->num_children--;
      avc->same_vma.next = kept;
      kept = avc;
    } else {
      anon_vma_chain_free(avc);
    }
    avc = next;
  }
  chain.clear();
  if (vma.anon_vma) {
    AV(vma.anon_vma)->num_active_vmas--;
    vma.anon_vma = nullptr;
  }
  // The kernel puts them newest first; `kept` is reversed, so restore that order.
  Avc* order = nullptr;
  while (kept) {
    Avc* next = kept->same_vma.next;
    kept->same_vma.next = order;
    order = kept;
    kept = next;
  }
  while (order) {
    Avc* next = order->same_vma.next;
    put_anon_vma(order->anon_vma);
    anon_vma_chain_free(order);
    order = next;
  }
}

void LinuxScheme::vm_area_free(Vma& vma) {
  auto* st = static_cast<LinuxVmaState*>(vma.rmap);
  assert(!st || st->chain.empty());
  delete st;
  vma.rmap = nullptr;
}

// is_mergeable_anon_vma() with the 6.16 three cases and the 6.18.y copied_from check.
bool LinuxScheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                        const Vma* src, const Vma* copied_from) const {
  const AnonVmaBase* tgt_anon = tgt.anon_vma;
  if (!tgt_anon && src_anon)  // case 1: we will dup_anon_vma() from src into tgt
    return !vma_is_fork_child(src) && !vma_is_fork_child(copied_from);
  if (tgt_anon && !src_anon)  // case 2: we will use tgt's anon_vma
    return !vma_is_fork_child(&tgt);
  return src_anon == tgt_anon;  // case 3: already shared (or both unfaulted)
}

// anon_vma_interval_tree_pre_update_vma(): out of every tree before the range changes.
void LinuxScheme::vma_pre_update(Vma& vma) {
  if (!vma.rmap) return;
  for (Avc* avc : State(vma).chain) avc->anon_vma->rb_root.Erase(avc);
}

void LinuxScheme::vma_post_update(Vma& vma) {
  if (!vma.rmap) return;
  for (Avc* avc : State(vma).chain) {
    avc->start = vma.vm_pgoff;
    avc->last = vma.vm_pgoff + vma.pages() - 1;
    avc->anon_vma->rb_root.Insert(avc);
  }
}

// folio_add_new_anon_rmap(): filed under the VMA's own (newest) anon_vma.
void LinuxScheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  folio.mapping = vma.anon_vma;
  folio.index = vma.linear_page_index(addr);
}

// folio_move_anon_rmap(): narrows future walks to the reusing VMA's own anon_vma.
void LinuxScheme::folio_move_anon_rmap(Folio& folio, Vma& vma) { folio.mapping = vma.anon_vma; }

// rmap_walk_anon(): anon_vma_interval_tree_foreach() over [pgoff_start, pgoff_end], the
// folio's pages, in (start, id) order; the address is vma_address(vma, pgoff_start,
// nr_pages) (a large folio straddling vm_start maps from vm_start). objects_visited
// counts the tree nodes the query touched.
void LinuxScheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                            WalkCost* cost) const {
  const AnonVma* av = AV(folio.mapping);
  if (cost) cost->locks["anon_vma->root->rwsem(read)"]++;
  const Pgoff pgoff_start = folio.index;
  const Pgoff pgoff_end = pgoff_start + folio.nr_pages - 1;
  size_t touched = av->rb_root.ForEachOverlapping(pgoff_start, pgoff_end, [&](Avc* avc) {
    const Vma* vma = avc->vma;
    Vpn addr = pgoff_start >= vma->vm_pgoff ? vma->vm_start + (pgoff_start - vma->vm_pgoff)
                                            : vma->vm_start;
    out->push_back({vma, addr});
  });
  if (cost) cost->objects_visited += static_cast<int64_t>(touched);
}

std::map<std::string, ObjectStats> LinuxScheme::Objects() const {
  ObjectStats av = av_stats_, avc = avc_stats_;
  av.object_bytes = kAnonVmaBytes;
  avc.object_bytes = kAvcBytes;
  return {{"anon_vma", av}, {"anon_vma_chain", avc}};
}

std::string LinuxScheme::DescribeVma(const Vma& vma) const {
  if (!vma.anon_vma) return fmt::format("anon_vma=- chain={}", chain_len(&vma));
  return fmt::format("anon_vma=av{} chain={}", AV(vma.anon_vma)->id, chain_len(&vma));
}

// The picture of the kernel diagrams: anon_vmas with their counters, parent (dashed) and
// root (dotted) links, and one edge per anon_vma_chain from its VMA (bold: the VMA's own
// anon_vma, vma->anon_vma).
void LinuxScheme::DescribeGraph(SchemeGraph* g) const {
  std::vector<const AnonVma*> avs(live_.begin(), live_.end());
  std::sort(avs.begin(), avs.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const AnonVma* av : avs) {
    std::string id = fmt::format("av{}", av->id);
    g->nodes.push_back({id,
                        fmt::format("anon_vma av{}{}\nchildren {}  active VMAs {}\nrefcount {}",
                                    av->id, av->root == av ? " (root)" : "", av->num_children,
                                    av->num_active_vmas, av->refcount),
                        "ellipse", av->root == av ? "#f9d29d" : "#fde9c9"});
    if (av->parent && av->parent != av)
      g->edges.push_back({id, fmt::format("av{}", av->parent->id), "parent", "dashed", "#b07020"});
    if (av->root && av->root != av && av->root != av->parent)
      g->edges.push_back({id, fmt::format("av{}", av->root->id), "root", "dotted", "#b07020"});
  }
  for (const auto& mm : model_->mms())
    for (const auto& [start, v] : mm->vmas) {
      const auto* chain = Chain(*v);
      if (!chain) continue;
      for (const Avc* avc : *chain) {
        bool own = v->anon_vma == avc->anon_vma;
        g->edges.push_back({fmt::format("vma:{}", v->id), fmt::format("av{}", avc->anon_vma->id),
                            own ? "avc (own)" : "avc", own ? "bold" : "solid",
                            own ? "#2060a0" : "#6080a0"});
      }
    }
}

std::string LinuxScheme::FolioMappingNode(const Folio& folio) const {
  for (const AnonVma* av : live_)
    if (static_cast<const AnonVmaBase*>(av) == folio.mapping) return fmt::format("av{}", av->id);
  return {};
}

std::vector<std::string> LinuxScheme::CheckInvariants() const {
  std::vector<std::string> bad;
  std::unordered_map<const AnonVma*, int64_t> active, children, members;
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, v] : mm->vmas) {
      if (v->anon_vma) {
        if (!live_.count(AV(v->anon_vma)))
          bad.push_back(fmt::format("VMA #{}: anon_vma is not live", v->id));
        active[AV(v->anon_vma)]++;
      }
      const auto* chain = Chain(*v);
      if (v->anon_vma && (!chain || chain->empty()))
        bad.push_back(fmt::format("VMA #{}: anon_vma set but the chain is empty", v->id));
      if (!chain) continue;
      std::set<const AnonVma*> seen;
      bool has_own = !v->anon_vma;
      for (const Avc* avc : *chain) {
        if (avc->vma != v) bad.push_back(fmt::format("VMA #{}: AVC of another VMA", v->id));
        if (!seen.insert(avc->anon_vma).second)
          bad.push_back(fmt::format("VMA #{}: two AVCs to av{}", v->id, avc->anon_vma->id));
        if (avc->anon_vma == v->anon_vma) has_own = true;
        if (avc->start != v->vm_pgoff || avc->last != v->vm_pgoff + v->pages() - 1)
          bad.push_back(fmt::format("VMA #{}: AVC key [{:#x},{:#x}] stale", v->id, avc->start,
                                    avc->last));
        if (!avc->anon_vma->rb_root.Contains(avc))
          bad.push_back(fmt::format("VMA #{}: AVC missing from av{}'s tree", v->id,
                                    avc->anon_vma->id));
      }
      if (!has_own) bad.push_back(fmt::format("VMA #{}: no AVC to its own anon_vma", v->id));
    }
  }
  for (const AnonVma* av : live_) {
    if (av->parent != av) children[av->parent]++;
    if (av->root != av) members[av->root]++;
  }
  for (const AnonVma* av : live_) {
    bool is_root = av->root == av;
    if (av->num_active_vmas != active[av])
      bad.push_back(fmt::format("av{}: num_active_vmas {} but {} VMAs use it", av->id,
                                av->num_active_vmas, active[av]));
    int64_t want_children = children[av] + (is_root && !av->rb_root.empty() ? 1 : 0);
    if (av->num_children != want_children)
      bad.push_back(fmt::format("av{}: num_children {} but expected {}", av->id,
                                av->num_children, want_children));
    int64_t want_ref = (av->rb_root.empty() ? 0 : 1) + (is_root ? members[av] : 0);
    if (av->refcount != want_ref || av->refcount <= 0)
      bad.push_back(fmt::format("av{}: refcount {} but expected {}", av->id, av->refcount,
                                want_ref));
    if (!av->rb_root.Validate())
      bad.push_back(fmt::format("av{}: interval tree structure is broken", av->id));
    av->rb_root.ForEach([&](const Avc* avc) {
      if (avc->anon_vma != av) bad.push_back(fmt::format("av{}: foreign AVC in tree", av->id));
    });
  }
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind == FolioKind::kAnon && !live_.count(const_cast<AnonVma*>(AV(f.mapping))))
      bad.push_back(fmt::format("folio {}: mapping is not a live anon_vma", f.pfn));
  });
  return bad;
}

}  // namespace rmaplab::linux_rmap
