#include "rmap/schemes/lazy/lazy_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::lazy_rmap {

RMAPLAB_REGISTER_SCHEME(LazyScheme, "lazy");

namespace {
const RmapObject* Obj(const AnonVmaBase* b) { return static_cast<const RmapObject*>(b); }
AnonVma* AV(AnonVmaBase* b) { return static_cast<AnonVma*>(b); }
const LazyRoot* Root(const AnonVmaBase* b) { return static_cast<const LazyRoot*>(b); }
}  // namespace

LazyScheme::LazyScheme() {
  for (const char* c : {"fork.pages_touched", "mremap.pages_touched", "upgrade.fork",
                        "upgrade.mremap", "upgrade.adopted", "upgrade.reused", "lazy.prepares",
                        "walk.lazy", "walk.anon_vma"})
    counters_[c] = 0;
}

LazyScheme::~LazyScheme() {
  for (AnonVma* av : live_) {
    std::vector<Avc*> avcs;
    av->rb_root.ForEach([&](Avc* avc) { avcs.push_back(avc); });
    av->rb_root.Clear();
    for (Avc* avc : avcs) delete avc;
    delete av;
  }
}

LazyVmaState& LazyScheme::MutState(Vma& vma) {
  if (!vma.rmap) vma.rmap = new LazyVmaState();
  return *static_cast<LazyVmaState*>(vma.rmap);
}

const LazyVmaState* LazyScheme::State(const Vma& vma) {
  return static_cast<const LazyVmaState*>(vma.rmap);
}

bool LazyScheme::IsLazy(const Vma& vma) {
  const LazyVmaState* st = State(vma);
  return st && st->lazy;
}

bool LazyScheme::IsTreeParent(const Vma& vma) {
  return IsLazy(vma) && State(vma)->lazy->type == TreeType::kParent;
}

size_t LazyScheme::chain_len(const Vma* vma) {
  const LazyVmaState* st = State(*vma);
  return st ? st->chain.size() : 0;
}

// vma_had_uncowed_parents(): a TREE_PARENT VMA hangs in its parent's tree (Linux: its
// chain has 2+ AVCs); a TREE_VMA has none; a regular VMA as in Linux (chain != 1).
bool LazyScheme::vma_is_fork_child(const Vma* vma) {
  if (!vma || !vma->anon_vma) return false;
  if (IsLazy(*vma)) return IsTreeParent(*vma);
  return chain_len(vma) != 1;
}

// anon_vma_alloc(): refcount 1, root = parent = self.
AnonVma* LazyScheme::anon_vma_alloc() {
  auto* av = new AnonVma();
  av->refcount = 1;
  av->root = av;
  av->parent = av;
  av->id = next_av_id_++;
  av_stats_.OnAlloc();
  live_.insert(av);
  return av;
}

void LazyScheme::anon_vma_free(AnonVma* av) {
  assert(av->rb_root.empty());
  for (LazyRoot* r : av->upgraded_roots) r->upgraded = nullptr;
  live_.erase(av);
  av_stats_.OnFree();
  delete av;
}

// put_anon_vma() / __put_anon_vma(): a freed non-root drops its root reference.
void LazyScheme::put_anon_vma(AnonVma* av) {
  if (--av->refcount > 0) return;
  AnonVma* root = av->root;
  anon_vma_free(av);
  if (root != av && --root->refcount == 0) anon_vma_free(root);
}

Avc* LazyScheme::anon_vma_chain_alloc() {
  auto* avc = new Avc();
  avc->id = next_avc_id_++;
  avc_stats_.OnAlloc();
  return avc;
}

void LazyScheme::anon_vma_chain_free(Avc* avc) {
  avc_stats_.OnFree();
  delete avc;
}

// anon_vma_chain_link(): head of the VMA's chain, into the anon_vma's interval tree.
void LazyScheme::anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av) {
  avc->vma = &vma;
  avc->anon_vma = av;
  avc->start = vma.vm_pgoff;
  avc->last = vma.vm_pgoff + vma.pages() - 1;
  MutState(vma).chain.push_front(avc);
  av->rb_root.Insert(avc);
}

// The copy loop of anon_vma_clone(): one AVC per AVC of src, oldest first, no reuse.
void LazyScheme::clone_chain(Vma& dst, const Vma& src) {
  const LazyVmaState* st = State(src);
  if (!st) return;
  for (auto it = st->chain.rbegin(); it != st->chain.rend(); ++it)
    anon_vma_chain_link(dst, anon_vma_chain_alloc(), (*it)->anon_vma);
}

// The root VMA becomes what lazy folios name; vma_mapping_base() is taken from it.
LazyRoot* LazyScheme::lazy_root_alloc(Vma& vma, TreeType type, AnonVma* parent_av) {
  auto r = std::make_unique<LazyRoot>();
  r->lazy = true;
  r->type = type;
  r->mm = vma.vm_mm;
  r->base = vma_mapping_base(vma);
  r->parent_av = parent_av;
  r->vmas = 1;
  r->root_vma_id = vma.id;
  r->id = roots_.size() + 1;
  LazyRoot* raw = r.get();
  roots_.push_back(std::move(r));
  root_ptrs_.insert(raw);
  root_by_vma_id_[vma.id] = raw;
  return raw;
}

// vma_put() of the root VMA by a VMA that stops naming it; the last one frees it.
void LazyScheme::lazy_root_put(LazyRoot* r) {
  assert(r->vmas > 0);
  if (--r->vmas > 0) return;
  r->dead = true;
  if (r->upgraded) r->upgraded->upgraded_roots.erase(r);
  r->upgraded = nullptr;
  if (r->root_vma_freed) pinned_stats_.OnFree();
  else root_by_vma_id_.erase(r->root_vma_id);
}

// vma_prepare_anon_vma_lazy() (patch 10, from anon_vma_prepare/__vmf_anon_prepare):
// marks the VMA ANON_VMA_TREE_VMA with itself as root. Nothing is allocated and, unlike
// __anon_vma_prepare(), no neighbour's anon_vma is looked for (find_mergeable_anon_vma).
int LazyScheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  LazyRoot* r = lazy_root_alloc(vma, TreeType::kVma, nullptr);
  MutState(vma).lazy = r;
  vma.anon_vma = r;
  counters_["lazy.prepares"]++;
  return 0;
}

// The lazy -> regular upgrade (patch 10; called from anon_vma_fork() for the parent and,
// per this model, from anon_vma_clone(VMA_OP_REMAP) for an mremap source). A TREE_VMA
// gets a new root anon_vma as __anon_vma_prepare() would; a TREE_PARENT gets the
// anon_vma that anon_vma_fork() would have given it (an idle one of its chain, else a
// new child of parent_av). Pieces of one lazy root share the first piece's anon_vma.
// Fork re-points folios as their PTEs are copied (pte_mapped); mremap walks the VMA.
void LazyScheme::anon_vma_lazy_upgrade(Vma& vma, Upgrade why) {
  LazyVmaState& st = MutState(vma);
  LazyRoot* r = st.lazy;
  assert(r);
  AnonVma* av = nullptr;
  if (r->upgraded && is_live(r->upgraded)) {
    av = r->upgraded;
    bool linked = std::any_of(st.chain.begin(), st.chain.end(),
                              [&](const Avc* a) { return a->anon_vma == av; });
    if (!linked) anon_vma_chain_link(vma, anon_vma_chain_alloc(), av);
    counters_["upgrade.adopted"]++;
  } else if (r->type == TreeType::kVma) {
    av = anon_vma_alloc();
    av->num_children++;  // self-parent link for a new root
    anon_vma_chain_link(vma, anon_vma_chain_alloc(), av);
  } else {
    for (auto it = st.chain.rbegin(); it != st.chain.rend() && !av; ++it) {
      AnonVma* cand = (*it)->anon_vma;
      if (cand->num_children < 2 && cand->num_active_vmas == 0) av = cand;
    }
    if (av) {
      counters_["upgrade.reused"]++;
    } else {
      av = anon_vma_alloc();
      av->root = r->parent_av->root;
      av->parent = r->parent_av;
      av->root->refcount++;  // get_anon_vma(root)
      anon_vma_chain_link(vma, anon_vma_chain_alloc(), av);
      av->parent->num_children++;
    }
  }
  av->num_active_vmas++;
  if (!r->upgraded) {
    r->upgraded = av;
    av->upgraded_roots.insert(r);
  }
  vma.anon_vma = av;
  st.lazy = nullptr;
  counters_[why == Upgrade::kFork ? "upgrade.fork" : "upgrade.mremap"]++;
  if (why == Upgrade::kMremap) {
    for (auto [addr, pfn] : vma.vm_mm->pt.Collect(vma.vm_start, vma.vm_end)) {
      if (pfn == kZeroPfn) continue;
      Folio& f = model_->folios().Get(pfn);
      if (f.kind != FolioKind::kAnon || f.mapping != r) continue;
      f.mapping = av;
      counters_["mremap.pages_touched"]++;
    }
  }
  lazy_root_put(r);
}

// anon_vma_clone() (with the series' vma_operation, inferred here from the ranges): a
// split or merge piece of a lazy VMA names the same root (same vma_mapping_base); an
// mremap copy (different base) upgrades the source first, then clones as Linux does.
int LazyScheme::anon_vma_clone(Vma& dst, const Vma& src) {
  const LazyVmaState* sst = State(src);
  if (!sst) return 0;
  if (sst->lazy) {
    if (dst.vm_mm == src.vm_mm && vma_mapping_base(dst) == vma_mapping_base(src)) {
      LazyRoot* r = sst->lazy;
      r->vmas++;
      MutState(dst).lazy = r;
      dst.anon_vma = r;
      clone_chain(dst, src);
      return 0;
    }
    anon_vma_lazy_upgrade(const_cast<Vma&>(src), Upgrade::kMremap);
    dst.anon_vma = src.anon_vma;
  }
  clone_chain(dst, src);
  if (dst.anon_vma) AV(dst.anon_vma)->num_active_vmas++;
  return 0;
}

// anon_vma_fork() (patch 10): the parent's lazy VMA is upgraded first; the child's VMA
// is ANON_VMA_TREE_PARENT: the parent's chain cloned, no anon_vma of its own, and it is
// the lazy root of the folios it creates itself.
int LazyScheme::anon_vma_fork(Vma& dst, const Vma& src) {
  if (!src.anon_vma) return 0;
  Vma& pvma = const_cast<Vma&>(src);  // the design mutates the parent (see README)
  if (IsLazy(pvma)) anon_vma_lazy_upgrade(pvma, Upgrade::kFork);
  dst.anon_vma = nullptr;
  clone_chain(dst, pvma);
  LazyRoot* r = lazy_root_alloc(dst, TreeType::kParent, AV(pvma.anon_vma));
  MutState(dst).lazy = r;
  dst.anon_vma = r;
  return 0;
}

// try_dup_anon_rmap() from copy_present_pte(): a lazy folio whose PTE is copied into
// a child gets the parent's (just upgraded) anon_vma. Other new PTEs change nothing.
void LazyScheme::pte_mapped(Folio& folio, const Vma& vma, Vpn addr) {
  (void)addr;
  if (folio.kind != FolioKind::kAnon || !Obj(folio.mapping)->lazy) return;
  const LazyRoot* r = Root(folio.mapping);
  if (r->mm == vma.vm_mm) return;
  if (!IsTreeParent(vma)) return;  // cannot happen: left for the oracle to catch
  folio.mapping = State(vma)->lazy->parent_av;
  counters_["fork.pages_touched"]++;
}

// unlink_anon_vmas(): the chain as in Linux, newest to oldest; a lazy VMA drops its
// reference on the root VMA.
void LazyScheme::unlink_anon_vmas(Vma& vma) {
  if (!vma.rmap) {
    assert(!vma.anon_vma);
    return;
  }
  LazyVmaState& st = MutState(vma);
  std::deque<Avc*> kept;
  for (Avc* avc : st.chain) {
    AnonVma* av = avc->anon_vma;
    av->rb_root.Erase(avc);
    if (av->rb_root.empty()) {
      av->parent->num_children--;
      kept.push_back(avc);
      continue;
    }
    anon_vma_chain_free(avc);
  }
  st.chain.clear();
  if (st.lazy) {
    lazy_root_put(st.lazy);
    st.lazy = nullptr;
  } else if (vma.anon_vma) {
    AV(vma.anon_vma)->num_active_vmas--;
  }
  vma.anon_vma = nullptr;
  for (Avc* avc : kept) {
    put_anon_vma(avc->anon_vma);
    anon_vma_chain_free(avc);
  }
}

// vm_area_free() with CONFIG_VMA_REF: a root VMA that other pieces still name is not
// freed but pinned (vma_put() frees it with the last of them).
void LazyScheme::vm_area_free(Vma& vma) {
  auto* st = static_cast<LazyVmaState*>(vma.rmap);
  assert(!st || (st->chain.empty() && !st->lazy));
  delete st;
  vma.rmap = nullptr;
  auto it = root_by_vma_id_.find(vma.id);
  if (it == root_by_vma_id_.end()) return;
  it->second->root_vma_freed = true;
  pinned_stats_.OnAlloc();
  root_by_vma_id_.erase(it);
}

// is_mergeable_anon_vma() (6.18 three cases) on the series' tagged words: equal words
// merge (pieces of one lazy root, or one anon_vma); see vma_is_fork_child().
bool LazyScheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                       const Vma* src, const Vma* copied_from) const {
  const AnonVmaBase* tgt_anon = tgt.anon_vma;
  if (!tgt_anon && src_anon)
    return !vma_is_fork_child(src) && !vma_is_fork_child(copied_from);
  if (tgt_anon && !src_anon) return !vma_is_fork_child(&tgt);
  return src_anon == tgt_anon;
}

// anon_vma_interval_tree_pre_update_vma(): only chained VMAs are in any tree.
void LazyScheme::vma_pre_update(Vma& vma) {
  if (!vma.rmap) return;
  for (Avc* avc : MutState(vma).chain) avc->anon_vma->rb_root.Erase(avc);
}

void LazyScheme::vma_post_update(Vma& vma) {
  if (!vma.rmap) return;
  for (Avc* avc : MutState(vma).chain) {
    avc->start = vma.vm_pgoff;
    avc->last = vma.vm_pgoff + vma.pages() - 1;
    avc->anon_vma->rb_root.Insert(avc);
  }
}

// folio_add_new_anon_rmap() / __folio_set_anon(): mapping = the VMA's word: its
// anon_vma, or its lazy root (FOLIO_MAPPING_ANON_VMA_LAZY); index as in Linux.
void LazyScheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  folio.mapping = vma.anon_vma;
  folio.index = vma.linear_page_index(addr);
}

// folio_move_anon_rmap(): an exclusive folio goes to the reusing VMA's word (its lazy
// root for a lazy or TREE_PARENT VMA; the series' choice here is not public).
void LazyScheme::folio_move_anon_rmap(Folio& folio, Vma& vma) { folio.mapping = vma.anon_vma; }

// rmap_walk_anon() through anon_rmap_for_each_vma(): a lazy folio takes a reference on
// the root VMA (no anon_vma lock) and looks up, in the root's mm, the VMA(s) covering
// vma_mapping_base(root) + index; a regular folio walks its anon_vma as Linux does.
void LazyScheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                           WalkCost* cost) const {
  if (root_ptrs_.count(folio.mapping)) {
    const LazyRoot* r = Root(folio.mapping);
    counters_["walk.lazy"]++;
    if (cost) {
      cost->locks["root_vma->vm_refcnt(get)"]++;
      cost->locks["rcu_read_lock(mm_mt)"]++;
      cost->objects_visited++;  // the root VMA
    }
    if (r->dead) return;  // a use-after-free in the kernel; a miss here
    Vpn start = r->base + folio.index, end = start + folio.nr_pages;
    for (Vma* v = r->mm->vmas.FindIntersection(start, end); v && v->vm_start < end;
         v = r->mm->vmas.Next(v)) {
      out->push_back({v, std::max(start, v->vm_start)});
      if (cost) cost->objects_visited++;
    }
    return;
  }
  const AnonVma* av = AV(folio.mapping);
  if (!is_live(av)) return;
  counters_["walk.anon_vma"]++;
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

std::map<std::string, ObjectStats> LazyScheme::Objects() const {
  ObjectStats av = av_stats_, avc = avc_stats_, pinned = pinned_stats_;
  av.object_bytes = kAnonVmaBytes;
  avc.object_bytes = kAvcBytes;
  pinned.object_bytes = kVmaBytes;
  // The rcuref that CONFIG_VMA_REF adds to every vm_area_struct (patch 06).
  const CoreStats& core = model_->stats();
  vma_ref_stats_.alloc = core.vma_alloc;
  vma_ref_stats_.free = core.vma_free;
  vma_ref_stats_.live = core.vma_alloc - core.vma_free;
  vma_ref_stats_.peak = std::max(vma_ref_stats_.peak, vma_ref_stats_.live);
  vma_ref_stats_.object_bytes = kVmaRefBytes;
  return {{"anon_vma", av},
          {"anon_vma_chain", avc},
          {"vm_area_struct(pinned root)", pinned},
          {"vm_area_struct.vm_ref", vma_ref_stats_}};
}

// Regular anon_vmas as in linux, plus the lazy roots (a box per root: TREE_VMA or
// TREE_PARENT, what it upgraded to, its parent anon_vma at fork) and each VMA's word.
void LazyScheme::DescribeGraph(SchemeGraph* g) const {
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
  }
  for (const auto& r : roots_) {
    if (r->dead) continue;
    std::string id = fmt::format("lazy{}", r->id);
    g->nodes.push_back({id,
                        fmt::format("lazy root {}\n{}  base {:#x}\n{} VMA(s){}", r->id,
                                    r->type == TreeType::kVma ? "TREE_VMA" : "TREE_PARENT",
                                    r->base, r->vmas, r->root_vma_freed ? "  (root VMA pinned)" : ""),
                        "box", "#e4d7f5"});
    if (r->parent_av)
      g->edges.push_back({id, fmt::format("av{}", r->parent_av->id), "fork parent", "dashed", "#7050a0"});
    if (r->upgraded)
      g->edges.push_back({id, fmt::format("av{}", r->upgraded->id), "upgraded to", "dotted", "#7050a0"});
  }
  for (const auto& mm : model_->mms())
    for (const auto& [start, v] : mm->vmas) {
      const LazyVmaState* st = State(*v);
      if (st && st->lazy && v->anon_vma)
        g->edges.push_back({fmt::format("vma:{}", v->id), fmt::format("lazy{}", st->lazy->id),
                            "word (lazy)", "bold", "#7050a0"});
      if (!st) continue;
      for (const Avc* avc : st->chain) {
        bool own = v->anon_vma == avc->anon_vma;
        g->edges.push_back({fmt::format("vma:{}", v->id), fmt::format("av{}", avc->anon_vma->id),
                            own ? "avc (own)" : "avc", own ? "bold" : "solid",
                            own ? "#2060a0" : "#6080a0"});
      }
    }
}

std::string LazyScheme::FolioMappingNode(const Folio& folio) const {
  for (const AnonVma* av : live_)
    if (static_cast<const AnonVmaBase*>(av) == folio.mapping) return fmt::format("av{}", av->id);
  for (const auto& r : roots_)
    if (static_cast<const AnonVmaBase*>(r.get()) == folio.mapping) return fmt::format("lazy{}", r->id);
  return {};
}

std::string LazyScheme::DescribeVma(const Vma& vma) const {
  const LazyVmaState* st = State(vma);
  size_t chain = st ? st->chain.size() : 0;
  if (!vma.anon_vma) return fmt::format("anon_vma=- chain={}", chain);
  if (st && st->lazy) {
    const LazyRoot* r = st->lazy;
    if (r->type == TreeType::kVma) return fmt::format("TREE_VMA root={}", r->id);
    return fmt::format("TREE_PARENT root={} parent=av{} chain={}", r->id, r->parent_av->id,
                       chain);
  }
  return fmt::format("anon_vma=av{} chain={}", AV(vma.anon_vma)->id, chain);
}

std::vector<std::string> LazyScheme::CheckInvariants() const {
  std::vector<std::string> bad;
  std::unordered_map<const AnonVma*, int64_t> active, children, members;
  std::unordered_map<const LazyRoot*, int64_t> naming;
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, vp] : mm->vmas) {
      const Vma* v = vp;  // not a structured binding: clang 14 cannot capture those
      const LazyVmaState* st = State(*v);
      const LazyRoot* r = st ? st->lazy : nullptr;
      if (r) {
        naming[r]++;
        if (v->anon_vma != r) bad.push_back(fmt::format("VMA #{}: word is not its root", v->id));
        if (r->dead) bad.push_back(fmt::format("VMA #{}: names dead root {}", v->id, r->id));
        if (r->mm != v->vm_mm || r->base != vma_mapping_base(*v))
          bad.push_back(fmt::format("VMA #{}: mm or vma_mapping_base differs from root {}",
                                    v->id, r->id));
        bool in_chain = st && std::any_of(st->chain.begin(), st->chain.end(), [&](Avc* a) {
          return a->anon_vma == r->parent_av;
        });
        if (r->type == TreeType::kVma && !st->chain.empty())
          bad.push_back(fmt::format("VMA #{}: TREE_VMA with a chain", v->id));
        if (r->type == TreeType::kParent && !in_chain)
          bad.push_back(fmt::format("VMA #{}: TREE_PARENT not linked to its parent", v->id));
      } else if (v->anon_vma) {
        if (!live_.count(AV(v->anon_vma))) {
          bad.push_back(fmt::format("VMA #{}: anon_vma is not live", v->id));
          continue;
        }
        active[AV(v->anon_vma)]++;
        bool has_own = st && std::any_of(st->chain.begin(), st->chain.end(), [&](Avc* a) {
          return a->anon_vma == v->anon_vma;
        });
        if (!has_own) bad.push_back(fmt::format("VMA #{}: no AVC to its own anon_vma", v->id));
      }
      if (!st) continue;
      std::set<const AnonVma*> seen;
      for (const Avc* avc : st->chain) {
        if (avc->vma != v) bad.push_back(fmt::format("VMA #{}: AVC of another VMA", v->id));
        if (!seen.insert(avc->anon_vma).second)
          bad.push_back(fmt::format("VMA #{}: two AVCs to av{}", v->id, avc->anon_vma->id));
        if (avc->start != v->vm_pgoff || avc->last != v->vm_pgoff + v->pages() - 1)
          bad.push_back(fmt::format("VMA #{}: AVC key stale", v->id));
        if (!avc->anon_vma->rb_root.Contains(avc))
          bad.push_back(fmt::format("VMA #{}: AVC missing from av{}'s tree", v->id,
                                    avc->anon_vma->id));
      }
    }
  }
  for (const auto& r : roots_) {
    if (!r->dead && r->vmas != naming[r.get()])
      bad.push_back(fmt::format("root {}: vmas {} but {} VMAs name it", r->id, r->vmas,
                                naming[r.get()]));
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
  }
  // Folios: mapping live; a lazy folio's PTEs lie in VMAs naming its root, at base+index.
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind != FolioKind::kAnon) return;
    if (root_ptrs_.count(f.mapping)) {
      if (Root(f.mapping)->dead)
        bad.push_back(fmt::format("folio {}: names dead lazy root {}", f.pfn,
                                  Root(f.mapping)->id));
    } else if (!live_.count(const_cast<AnonVma*>(AV(f.mapping)))) {
      bad.push_back(fmt::format("folio {}: mapping is not a live anon_vma", f.pfn));
    }
  });
  for (const auto& mm : model_->mms()) {
    for (const auto& [start, vp] : mm->vmas) {
      const Vma* v = vp;  // not a structured binding: clang 14 cannot capture those
      mm->pt.ForEach(v->vm_start, v->vm_end, [&](Vpn addr, Pfn pfn) {
        if (pfn == kZeroPfn) return;
        const Folio& f = model_->folios().Get(pfn);
        if (f.kind != FolioKind::kAnon || !root_ptrs_.count(f.mapping)) return;
        const LazyRoot* r = Root(f.mapping);
        if (!IsLazy(*v) || State(*v)->lazy != r || r->base + f.index != addr)
          bad.push_back(fmt::format("folio {}: lazy (root {}) but mapped at {:#x} by VMA #{} "
                                    "({})", f.pfn, r->id, addr, v->id, DescribeVma(*v)));
      });
    }
  }
  return bad;
}

}  // namespace rmaplab::lazy_rmap
