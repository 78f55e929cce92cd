#include "rmap/schemes/cow_context/cow_context_scheme.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <unordered_map>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::cow_context {

RMAPLAB_REGISTER_SCHEME(CowContextScheme, "cow-context");

namespace {
CowContext* Ctx(AnonVmaBase* b) { return static_cast<CowContext*>(b); }
}  // namespace

CowContextScheme::~CowContextScheme() {
  // Contexts of processes still alive when the model is destroyed.
  for (CowContext* ctx : live_) {
    std::vector<CowRemap*> recs;
    ctx->remaps.ForEach([&](CowRemap* r) { recs.push_back(r); });
    ctx->remaps.Clear();
    for (CowRemap* r : recs) delete r;
    delete ctx;
  }
}

CowVmaState& CowContextScheme::State(Vma& vma) {
  if (!vma.rmap) vma.rmap = new CowVmaState();
  return *static_cast<CowVmaState*>(vma.rmap);
}

const CowRemap* CowContextScheme::RemapOf(const Vma& vma) {
  return vma.rmap ? static_cast<const CowVmaState*>(vma.rmap)->remap : nullptr;
}

int64_t CowContextScheme::DeltaOf(const Vma& vma) {
  return vma.rmap ? static_cast<const CowVmaState*>(vma.rmap)->vpgoff_delta : 0;
}

// mm_init_cow_context(): refcount 1, held by the mm.
CowContext* CowContextScheme::context_alloc(Mm* mm) {
  auto* ctx = new CowContext();
  ctx->mm = mm;
  ctx->refcount = 1;
  ctx->id = next_ctx_id_++;
  ctx_stats_.OnAlloc();
  live_.insert(ctx);
  return ctx;
}

// delete_child_from_parent(): off the parent's children list (or the root list); the
// parent loses the reference the child held.
void CowContextScheme::unlink_child(CowContext* ctx) {
  CowContext* parent = ctx->parent;
  auto& list = parent ? parent->children : roots_;
  auto it = std::find(list.begin(), list.end(), ctx);
  assert(it != list.end());
  list.erase(it);
  ctx->parent = nullptr;
  if (parent) {
    ++counters_["lock.list_write_lock"];
    put_context(parent);
  }
}

// put_cow_context() / __put_cow_context(): the last reference frees the context and
// drops the one it held on its parent (which may cascade up the chain). Differs: a
// dead context left with no folio is spliced out at once when reparenting is on.
void CowContextScheme::put_context(CowContext* ctx) {
  assert(ctx->refcount > 0);
  if (--ctx->refcount > 0) {
    maybe_splice_out(ctx);
    return;
  }
  assert(ctx->children.empty() && ctx->nr_folios == 0 && !ctx->mm);
  assert(ctx->remaps.empty());
  unlink_child(ctx);
  live_.erase(ctx);
  ctx_stats_.OnFree();
  delete ctx;
}

// Not in the PoC (which keeps a dead context while any child lives): a context whose mm
// has exited and that no folio points at can never start a walk, so it is removed from
// the fork tree and its children are re-parented to its parent (or become roots), in
// its place in the sibling order. Walks from its ancestors still reach every descendant.
void CowContextScheme::maybe_splice_out(CowContext* ctx) {
  if (!opts_.reparent_dead_contexts || ctx->mm || ctx->nr_folios > 0) return;
  CowContext* parent = ctx->parent;
  auto& list = parent ? parent->children : roots_;
  auto pos = std::find(list.begin(), list.end(), ctx);
  assert(pos != list.end());
  int64_t moved = static_cast<int64_t>(ctx->children.size());
  for (CowContext* child : ctx->children) {
    child->parent = parent;
    list.insert(pos, child);
  }
  ctx->children.clear();
  if (parent) parent->refcount += moved;
  ctx->refcount -= moved;
  counters_["exit.contexts_spliced"]++;
  counters_["exit.children_reparented"] += moved;
  counters_["lock.list_write_lock"] += 1 + moved;
  assert(ctx->refcount == 0);
  ctx->refcount = 1;  // the final put below frees it and unlinks it from parent
  put_context(ctx);
}

// Adds, re-keys or removes vma's remap record so that it exists iff the VMA is faulted
// and its offset (vm_start - virtual pgoff) is not 0. Models cow_context_do_remap(),
// cow_context_vma_adjust() and cow_context_do_map_private_cow(); differs: one record
// per VMA in an interval tree instead of pgoff ranges holding offset sets in a maple
// tree (README "Remap records").
void CowContextScheme::sync_remap(Vma& vma) {
  int64_t offset = OffsetOf(vma);
  bool want = vma.anon_vma && offset != 0;
  CowRemap* r = vma.rmap ? static_cast<CowVmaState*>(vma.rmap)->remap : nullptr;
  if (!want) {
    if (r) remap_erase(vma);
    return;
  }
  CowContext* ctx = ContextOf(*vma.vm_mm);
  uint64_t start = VirtualPgoff(vma), last = start + vma.pages() - 1;
  if (r && r->start == start && r->last == last && r->offset == offset) return;
  ++counters_["lock.remap_lock"];
  if (r) {
    ctx->remaps.Erase(r);
    ++counters_["remap.records_rekeyed"];
  } else {
    r = new CowRemap();
    r->id = next_remap_id_++;
    r->vma = &vma;
    r->context = ctx;
    remap_stats_.OnAlloc();
    State(vma).remap = r;
    ++counters_["remap.records_inserted"];
  }
  r->start = start;
  r->last = last;
  r->offset = offset;
  ctx->remaps.Insert(r);
}

// cow_context_vma_unmap() / find_and_unmap_existing(): the VMA's record goes.
void CowContextScheme::remap_erase(Vma& vma) {
  auto& st = State(vma);
  CowRemap* r = st.remap;
  if (!r) return;
  r->context->remaps.Erase(r);
  st.remap = nullptr;
  delete r;
  remap_stats_.OnFree();
  ++counters_["remap.records_erased"];
  ++counters_["lock.remap_lock"];
}

// __anon_vma_prepare() stands for "faulted": vma->anon_vma = the mm's context (a marker
// that allocates nothing). A MAP_PRIVATE file VMA takes its virtual pgoff from its
// address (offset 0); an anonymous VMA keeps vm_pgoff, so one that was moved while
// faulted and then emptied (a MREMAP_DONTUNMAP source) gets a remap record.
int CowContextScheme::anon_vma_prepare(Vma& vma) {
  assert(!vma.anon_vma);
  vma.anon_vma = ContextOf(*vma.vm_mm);
  State(vma).vpgoff_delta = vma.is_anonymous() ? 0
                                               : static_cast<int64_t>(vma.vm_start) -
                                                     static_cast<int64_t>(vma.vm_pgoff);
  sync_remap(vma);
  return 0;
}

// anon_vma_clone() (split, dup_anon_vma, copy_vma): same mm, same marker; the new VMA
// gets its own record if its offset is not 0 (copy_vma: the mremap destination).
int CowContextScheme::anon_vma_clone(Vma& dst, const Vma& src) {
  assert(dst.vm_mm == src.vm_mm && dst.anon_vma == src.anon_vma);
  State(dst).vpgoff_delta = DeltaOf(src);
  sync_remap(dst);
  return 0;
}

// anon_vma_fork() / cow_context_do_fork(): no per-VMA object; the child's copy of a
// faulted VMA is marked with the child's context and a moved one gets its record.
int CowContextScheme::anon_vma_fork(Vma& dst, const Vma& src) {
  if (!src.anon_vma) return 0;
  dst.anon_vma = ContextOf(*dst.vm_mm);
  State(dst).vpgoff_delta = DeltaOf(src);
  if (OffsetOf(dst) != 0) ++counters_["fork.remap_records_copied"];
  sync_remap(dst);
  return 0;
}

// unlink_anon_vmas(): drops the record (cow_context_vma_unmap) and the marker.
void CowContextScheme::unlink_anon_vmas(Vma& vma) {
  if (vma.rmap) {
    remap_erase(vma);
    State(vma).vpgoff_delta = 0;
  }
  vma.anon_vma = nullptr;
}

void CowContextScheme::vm_area_free(Vma& vma) {
  auto* st = static_cast<CowVmaState*>(vma.rmap);
  assert(!st || !st->remap);
  delete st;
  vma.rmap = nullptr;
}

// is_mergeable_anon_vma(): the merged VMA must have one virtual pgoff, that is one
// delta. Anonymous VMAs (delta 0) therefore always merge; faulted MAP_PRIVATE file VMAs
// merge when their deltas agree. When tgt keeps its delta over an unfaulted range, a
// faulted VMA of the same file, pgoff-linear with tgt, on either side of that range
// must agree too (it may merge as well). Differs from Linux 6.18 (README "Merges").
bool CowContextScheme::is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                             const Vma* src, const Vma* copied_from) const {
  if (!tgt.anon_vma) return true;  // case 1 (tgt inherits src's delta) or both unfaulted
  const Vma* s = src ? src : copied_from;
  if (src_anon) {  // case 3
    bool ok = !s || !s->anon_vma || DeltaOf(tgt) == DeltaOf(*s);
    if (!ok) ++walk_counters_["merge.refused_vpgoff"];
    return ok;
  }
  const Vma* around = src ? src : &tgt;  // case 2
  for (const Vma* x : {model_->vma_prev(*around), model_->vma_next(*around)}) {
    if (!x || x == &tgt || !x->anon_vma || x->vm_file != tgt.vm_file) continue;
    bool linear = static_cast<int64_t>(x->vm_pgoff) - static_cast<int64_t>(tgt.vm_pgoff) ==
                  static_cast<int64_t>(x->vm_start) - static_cast<int64_t>(tgt.vm_start);
    if (linear && DeltaOf(*x) != DeltaOf(tgt)) {
      ++walk_counters_["merge.refused_vpgoff"];
      return false;
    }
  }
  return true;
}

// anon_vma_interval_tree_post_update_vma() / cow_context_vma_adjust(): re-key the record.
void CowContextScheme::vma_post_update(Vma& vma) { sync_remap(vma); }

// __folio_set_anon() + __folio_set_anon_cow(): the folio pins its mm's context; index
// is the virtual linear index (the RFC's; Linux uses the file pgoff in file VMAs).
void CowContextScheme::folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) {
  CowContext* ctx = ContextOf(*vma.vm_mm);
  get_context(ctx);
  ++ctx->nr_folios;
  folio.mapping = ctx;
  assert(VirtualPgoff(vma) + (addr - vma.vm_start) <= Folio::kMaxIndex);
  folio.index = VirtualPgoff(vma) + (addr - vma.vm_start);
}

// folio_move_anon_rmap(): a reused (exclusive) folio moves to the reusing mm's context
// (get new, put old), so later walks start, and with PageAnonExclusive stop, there.
void CowContextScheme::folio_move_anon_rmap(Folio& folio, Vma& vma) {
  CowContext* now = ContextOf(*vma.vm_mm);
  CowContext* old = Ctx(folio.mapping);
  if (old == now) return;
  get_context(now);
  ++now->nr_folios;
  folio.mapping = now;
  ++counters_["folio.context_moves"];
  --old->nr_folios;
  put_context(old);
}

// move_ptes(): nothing to do (the folio keeps index and context; the destination VMA's
// record translates it). Checks that translation for every moved PTE.
void CowContextScheme::pte_moved(Folio& folio, const Vma&, Vpn old_addr, const Vma& to,
                                 Vpn new_addr) {
  ++counters_["mremap.ptes_moved_checked"];
  int64_t want = static_cast<int64_t>(folio.index) + OffsetOf(to);
  if (want != static_cast<int64_t>(new_addr) && pte_moved_violations_.size() < 10)
    pte_moved_violations_.push_back(fmt::format(
        "folio {} moved {:#x} -> {:#x} but index {:#x} + offset {} = {:#x}", Pfn{folio.pfn},
        old_addr, new_addr, Pgoff{folio.index}, OffsetOf(to), want));
}

// The folio is freed: it drops its context reference.
void CowContextScheme::folio_freed(Folio& folio) {
  CowContext* ctx = Ctx(folio.mapping);
  --ctx->nr_folios;
  put_context(ctx);
}

// mm_init_cow_context(): from mm_alloc(); a fresh mm's context is a root.
void CowContextScheme::mm_created(Mm& mm) {
  CowContext* ctx = context_alloc(&mm);
  mm.rmap = ctx;
  roots_.push_front(ctx);
}

// dup_cow_context(): the child's context goes at the head of the parent's children and
// pins the parent.
void CowContextScheme::mm_forked(Mm& parent, Mm& child) {
  CowContext* ctx = ContextOf(child);
  CowContext* pctx = ContextOf(parent);
  roots_.remove(ctx);
  ctx->parent = pctx;
  pctx->children.push_front(ctx);
  get_context(pctx);
  ++counters_["lock.list_write_lock"];
  ++counters_["fork.contexts_linked"];
}

// drop_cow_context(): from exit_mmap(); the mm pointer is cleared and the mm's
// reference dropped. Every VMA is already unlinked, so the context has no record left.
void CowContextScheme::mm_exited(Mm& mm) {
  CowContext* ctx = ContextOf(mm);
  assert(ctx->remaps.empty());
  ctx->mm = nullptr;
  mm.rmap = nullptr;
  put_context(ctx);
}

// walk_context() + walk_context_remap(): in one live mm, look the folio's pages up at
// offset 0 and at each offset recorded for its pgoff range; a VMA found there is a
// candidate if its own offset is the one looked for. Differs: a VMA that is not faulted
// (vma->anon_vma null) is skipped; the PoC checks the offset only.
int64_t CowContextScheme::walk_context(const CowContext* ctx, const Folio& folio,
                                       bool zero_offset_only, std::vector<WalkCandidate>* out,
                                       WalkCost* cost) const {
  const Pgoff first = folio.index, last = folio.index + folio.nr_pages - 1;
  std::vector<int64_t> offsets{0};
  if (!zero_offset_only) {
    size_t touched = ctx->remaps.ForEachOverlapping(
        first, last, [&](CowRemap* r) { offsets.push_back(r->offset); });
    walk_counters_["walk.remap_nodes_touched"] += static_cast<int64_t>(touched);
    if (cost) cost->objects_visited += static_cast<int64_t>(touched);
  }
  std::sort(offsets.begin() + 1, offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  int64_t found = 0;
  for (int64_t off : offsets) {
    int64_t lo = static_cast<int64_t>(first) + off;
    if (lo < 0) continue;
    Vpn start = static_cast<Vpn>(lo), end = start + folio.nr_pages;
    ++walk_counters_["walk.vma_lookups"];
    if (cost) cost->objects_visited++;
    for (Vma* v = ctx->mm->vmas.FindIntersection(start, end); v && v->vm_start < end;
         v = ctx->mm->vmas.Next(v)) {
      if (OffsetOf(*v) != off) continue;
      if (!v->anon_vma) {  // never faulted (or emptied by MREMAP_DONTUNMAP): no anon page
        ++walk_counters_["walk.unfaulted_vmas_skipped"];
        continue;
      }
      out->push_back({v, std::max(v->vm_start, start)});
      ++found;
    }
  }
  return found;
}

// cow_context_walk() / traverse_contexts(): depth first from the folio's context over
// its whole subtree, under RCU, taking a reference on each live mm. Stops after the
// first context when the folio is PageAnonExclusive (it is then mapped only there).
// Differs: pre-order (the PoC visits the root first, then post-order), and the stop
// rule is PageAnonExclusive, not the PoC's !folio_maybe_mapped_shared() (see options).
void CowContextScheme::rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                                 WalkCost* cost) const {
  const CowContext* root = Ctx(folio.mapping);
  if (cost) cost->locks["rcu_read_lock"]++;
  ++walk_counters_["walk.walks"];
  const bool poc_exclusive = opts_.poc_exclusive_shortcut && folio.mapcount == 1;
  std::vector<const CowContext*> stack{root};
  bool first = true;
  while (!stack.empty()) {
    const CowContext* c = stack.back();
    stack.pop_back();
    ++walk_counters_["walk.contexts_visited"];
    if (cost) cost->objects_visited++;
    if (c->mm) {
      if (cost) cost->locks["mm->mm_users (mmget_not_zero)"]++;
      if (poc_exclusive) {  // the PoC: offset 0 only, then abort the whole walk
        walk_context(c, folio, /*zero_offset_only=*/true, out, cost);
        return;
      }
      walk_context(c, folio, /*zero_offset_only=*/false, out, cost);
      if (first && folio.anon_exclusive) return;
    } else {
      ++walk_counters_["walk.dead_contexts_visited"];
    }
    first = false;
    for (auto it = c->children.rbegin(); it != c->children.rend(); ++it) stack.push_back(*it);
  }
}

std::map<std::string, ObjectStats> CowContextScheme::Objects() const {
  ObjectStats ctx = ctx_stats_, rec = remap_stats_;
  ctx.object_bytes = kContextBytes;
  rec.object_bytes = kRemapBytes;
  return {{"cow_context", ctx}, {"cow_remap", rec}};
}

std::map<std::string, int64_t> CowContextScheme::Counters() const {
  std::map<std::string, int64_t> c = counters_;
  c["fork.pages_touched"] += 0;    // fork touches no page
  c["mremap.pages_touched"] += 0;  // nor does mremap: folios keep context and index
  for (const auto& [k, v] : walk_counters_) c[k] += v;
  return c;
}

std::string CowContextScheme::DescribeVma(const Vma& vma) const {
  const CowRemap* r = RemapOf(vma);
  std::string s = vma.anon_vma ? fmt::format("ctx{}", Ctx(vma.anon_vma)->id) : "ctx=-";
  s += fmt::format(" off={:+d}", OffsetOf(vma));
  if (DeltaOf(vma)) s += fmt::format(" vpgoff={:#x}", VirtualPgoff(vma));
  if (r) s += fmt::format(" remap[{:#x},{:#x}]", r->start, r->last);
  return s;
}

std::vector<std::string> CowContextScheme::CheckInvariants() const {
  std::vector<std::string> bad;
  auto is_live = [&](const CowContext* c) { return live_.count(const_cast<CowContext*>(c)); };
  // 1. mm <-> context.
  for (const auto& mm : model_->mms()) {
    const CowContext* ctx = ContextOf(*mm);
    if (!mm->alive) {
      if (ctx) bad.push_back(fmt::format("mm {}: exited but still has a context", mm->name));
      continue;
    }
    if (!ctx || !is_live(ctx) || ctx->mm != mm.get())
      bad.push_back(fmt::format("mm {}: no live context of its own", mm->name));
  }
  // 1. tree shape; 2. refcounts; 3. no dead folio-free context.
  std::unordered_map<const CowContext*, int64_t> folios;
  model_->folios().ForEachLive([&](const Folio& f) {
    if (f.kind != FolioKind::kAnon) return;
    if (!is_live(Ctx(f.mapping)))
      bad.push_back(fmt::format("folio {}: mapping is not a live context", f.pfn));
    else
      folios[Ctx(f.mapping)]++;
  });
  for (const CowContext* c : live_) {
    const auto& list = c->parent ? c->parent->children : roots_;
    if (c->parent && !is_live(c->parent))
      bad.push_back(fmt::format("ctx{}: parent is not live", c->id));
    else if (std::count(list.begin(), list.end(), c) != 1)
      bad.push_back(fmt::format("ctx{}: not exactly once in its parent's list", c->id));
    for (const CowContext* ch : c->children)
      if (ch->parent != c) bad.push_back(fmt::format("ctx{}: child with another parent", c->id));
    if (c->mm && (!c->mm->alive || ContextOf(*c->mm) != c))
      bad.push_back(fmt::format("ctx{}: mm pointer is stale", c->id));
    int64_t want = (c->mm ? 1 : 0) + static_cast<int64_t>(c->children.size()) + folios[c];
    if (c->refcount != want || c->nr_folios != folios[c] || c->refcount <= 0)
      bad.push_back(fmt::format("ctx{}: refcount {} nr_folios {} but expected {} and {}", c->id,
                                c->refcount, c->nr_folios, want, folios[c]));
    if (opts_.reparent_dead_contexts && !c->mm && folios[c] == 0)
      bad.push_back(fmt::format("ctx{}: dead with no folio but not spliced out", c->id));
    if (!c->mm && !c->remaps.empty())
      bad.push_back(fmt::format("ctx{}: dead with remap records", c->id));
    if (!c->remaps.Validate())
      bad.push_back(fmt::format("ctx{}: remap tree structure is broken", c->id));
  }
  for (const CowContext* c : roots_)
    if (!is_live(c) || c->parent) bad.push_back(fmt::format("ctx{}: bad root", c->id));
  // 4, 5. markers and remap records.
  std::unordered_map<const CowContext*, size_t> records;
  for (const auto& mm : model_->mms()) {
    const CowContext* ctx = ContextOf(*mm);
    for (const auto& [start, v] : mm->vmas) {
      if (v->anon_vma && v->anon_vma != ctx)
        bad.push_back(fmt::format("VMA #{}: marker is not its mm's context", v->id));
      if (v->is_anonymous() && DeltaOf(*v) != 0)
        bad.push_back(fmt::format("VMA #{}: anonymous with virtual pgoff delta", v->id));
      const CowRemap* r = RemapOf(*v);
      bool want = v->anon_vma && OffsetOf(*v) != 0;
      if (want != (r != nullptr)) {
        bad.push_back(fmt::format("VMA #{}: offset {} faulted {} but {} remap record", v->id,
                                  OffsetOf(*v), v->anon_vma != nullptr, r ? "a" : "no"));
        continue;
      }
      if (!r) continue;
      records[ctx]++;
      if (r->vma != v || r->context != ctx || !ctx->remaps.Contains(r) ||
          r->start != VirtualPgoff(*v) || r->last != VirtualPgoff(*v) + v->pages() - 1 ||
          r->offset != OffsetOf(*v))
        bad.push_back(fmt::format("VMA #{}: remap record stale or misplaced", v->id));
    }
  }
  for (const CowContext* c : live_)
    if (c->remaps.size() != records[c])
      bad.push_back(fmt::format("ctx{}: {} remap records for {} moved faulted VMAs", c->id,
                                c->remaps.size(), records[c]));
  // 6. every anon PTE is reachable by the design's rule.
  for (const auto& mm : model_->mms()) {
    const CowContext* ctx = ContextOf(*mm);
    mm->pt.ForEach(0, ~0ULL, [&](Vpn addr, Pfn pfn) {
      if (pfn == kZeroPfn) return;
      const Folio& f = model_->folios().Get(pfn);
      if (f.kind != FolioKind::kAnon || !is_live(Ctx(f.mapping))) return;
      const CowContext* a = ctx;
      while (a && a != Ctx(f.mapping)) a = a->parent;
      if (!a)
        bad.push_back(fmt::format("folio {}: mapped by {} outside its context's subtree", f.pfn,
                                  mm->name));
      if (f.anon_exclusive && Ctx(f.mapping) != ctx)
        bad.push_back(fmt::format("folio {}: exclusive in {} but its context is ctx{}", f.pfn,
                                  mm->name, Ctx(f.mapping)->id));
      const Vma* v = mm->vmas.Find(addr);
      if (v && static_cast<int64_t>(addr) != static_cast<int64_t>(f.index) + OffsetOf(*v))
        bad.push_back(fmt::format("folio {}: mapped at {:#x} in {}, not at index + offset",
                                  f.pfn, addr, mm->name));
    });
  }
  bad.insert(bad.end(), pte_moved_violations_.begin(), pte_moved_violations_.end());
  return bad;
}

}  // namespace rmaplab::cow_context
