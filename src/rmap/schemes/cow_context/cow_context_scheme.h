// The `cow-context` scheme: Lorenzo Stoakes' "scalable CoW" / CoW context (LSF/MM/BPF
// 2026, PoC branch project/cow-context of ljs/linux, mm/cow_context.c), the proposed
// replacement of anon_vma. See README.md for the design, its sources and its costs.
//
// One cow_context per mm, linked as the fork tree. An anon folio points at the context
// of the mm that created it (or that reused it last, folio_move_anon_rmap) and keeps
// the kernel's linear index. A VMA's offset is vm_start - vm_pgoff; the folio with index
// i is mapped in VMA v at i + offset(v), offset = vm_start - virtual pgoff (vm_pgoff for
// anonymous VMAs, the address at first fault for MAP_PRIVATE file VMAs). Offset-0 VMAs
// are found by looking i up in the mm's VMA tree; every faulted VMA with a non-zero
// offset (one that mremap moved) has one cow_remap record in its mm's context, keyed by
// its virtual pgoff range, so that the walk knows which other offsets to look up.
//
// Invariants (CowContextScheme::CheckInvariants):
//  1. Every mm has a live context whose mm is that mm while alive, null after exit; a
//     live context is in its parent's children list, or a root, exactly once.
//  2. refcount = (mm alive ? 1 : 0) + children + folios whose mapping it is; > 0.
//  3. With reparenting (the default) no context is dead with no folio: it is spliced
//     out of the tree at once, its children going to its parent.
//  4. A VMA has a remap record iff it is faulted (anon_vma set) and its offset is not 0;
//     the record is in its mm's context's tree with the VMA's current key and offset.
//     An anonymous VMA's virtual pgoff delta is 0.
//  5. vma.anon_vma, when set, is the VMA's own mm's context (the faulted marker).
//  6. Every anon folio's mapping is a live context; every mm that maps it has a context
//     in that context's subtree; a PageAnonExclusive folio is mapped only by the mm of
//     its context; every mapping lies at index + offset of its VMA (checked per PTE).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/mm.h"
#include "rmap/interval_tree.h"
#include "rmap/scheme.h"

namespace rmaplab::cow_context {

struct CowContext;

// One record per faulted VMA with a non-zero offset: "pgoff range [start, last] is
// mapped at start + offset in this mm". struct cow_remap, 64 bytes (SLAB_TYPESAFE_BY_RCU
// cache): rb_node 24 + subtree_last 8 + start 8 + last 8 + offset 8 + vma 8.
struct CowRemap {
  uint64_t start = 0;  // virtual pgoff of the VMA
  uint64_t last = 0;   // start + pages - 1
  int64_t offset = 0;  // vm_start - start (in pages)
  Vma* vma = nullptr;
  CowContext* context = nullptr;  // model convenience (the kernel has vma->vm_mm)
  uint64_t id = 0;
  IntervalNode<CowRemap> node;
};

// struct cow_context, 96 bytes (kmalloc-96): mm 8, parent 8, children 16, siblings 16,
// refcnt 4, list_write_lock 4, remap_lock 4 (+4), remaps (rb_root_cached) 16, rcu 16.
// It doubles as the VMA's "faulted" marker (vma->anon_vma) and as folio->mapping.
struct CowContext : AnonVmaBase {
  Mm* mm = nullptr;  // null once the mm has exited
  CowContext* parent = nullptr;
  std::list<CowContext*> children;  // newest first (list_add_rcu at the head)
  int64_t refcount = 0;
  int64_t nr_folios = 0;  // part of refcount, kept apart for invariants and splicing
  IntervalTree<CowRemap> remaps;
  uint64_t id = 0;
};

// Per-VMA state. `vpgoff_delta` models the June 2026 RFC's per-VMA virtual page offset
// (vm_vpgoff = vm_pgoff + delta; it fits in existing holes of vm_area_struct): 0 for
// anonymous VMAs, whose vm_pgoff already is the virtual page at first fault; for a
// MAP_PRIVATE file VMA, vm_start - vm_pgoff at its first fault. Valid while faulted.
// `remap` is a model convenience: the kernel finds the record by (pgoff, offset).
struct CowVmaState : SchemeVmaState {
  CowRemap* remap = nullptr;
  int64_t vpgoff_delta = 0;
};

// Variants, for measuring the PoC snapshot against the design as specified.
struct CowContextOptions {
  // Splice a dead context with no folio out of the fork tree (its children go to its
  // parent). The PoC instead keeps it while any child lives (each child pins its parent).
  bool reparent_dead_contexts = true;
  // The PoC snapshot's shortcut: when the folio is not maybe-mapped-shared (mapcount 1
  // for a small folio), stop after the offset-0 lookup in the first live mm. Misses a
  // folio mapped only by a descendant, and an exclusive folio in a moved VMA.
  bool poc_exclusive_shortcut = false;
};

class CowContextScheme : public Scheme {
 public:
  static constexpr int64_t kContextBytes = 96;
  static constexpr int64_t kRemapBytes = 64;

  CowContextScheme() = default;
  explicit CowContextScheme(CowContextOptions opts) : opts_(opts) {}
  ~CowContextScheme() override;
  const char* name() const override { return "cow-context"; }
  const char* description() const override {
    return "CoW context (Lorenzo Stoakes 2026): one context per mm in a fork tree, folios "
           "point at their mm's context, walks look the address up in descendant mms; "
           "per-VMA remap records for moved faulted VMAs";
  }

  int anon_vma_prepare(Vma& vma) override;
  int anon_vma_clone(Vma& dst, const Vma& src) override;
  int anon_vma_fork(Vma& dst, const Vma& src) override;
  void unlink_anon_vmas(Vma& vma) override;
  void vm_area_free(Vma& vma) override;
  bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon, const Vma* src,
                             const Vma* copied_from) const override;
  void vma_post_update(Vma& vma) override;
  void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) override;
  void folio_move_anon_rmap(Folio& folio, Vma& vma) override;
  void pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                 Vpn new_addr) override;
  void folio_freed(Folio& folio) override;
  void mm_created(Mm& mm) override;
  void mm_forked(Mm& parent, Mm& child) override;
  void mm_exited(Mm& mm) override;
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override;
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;

  // For tests and pictures.
  static CowContext* ContextOf(const Mm& mm) { return static_cast<CowContext*>(mm.rmap); }
  static const CowRemap* RemapOf(const Vma& vma);
  // The VMA's virtual page offset (vma_vpgoff(): vm_pgoff + delta) and its offset, the
  // distance from a folio's index to its address in this VMA (vm_start - vpgoff).
  static int64_t DeltaOf(const Vma& vma);
  static uint64_t VirtualPgoff(const Vma& vma) { return vma.vm_pgoff + DeltaOf(vma); }
  static int64_t OffsetOf(const Vma& vma) {
    return static_cast<int64_t>(vma.vm_start) - static_cast<int64_t>(VirtualPgoff(vma));
  }
  const std::set<CowContext*>& contexts() const { return live_; }

 private:
  static CowVmaState& State(Vma& vma);
  CowContext* context_alloc(Mm* mm);
  void get_context(CowContext* ctx) { ++ctx->refcount; }
  void put_context(CowContext* ctx);
  void maybe_splice_out(CowContext* ctx);
  void unlink_child(CowContext* ctx);
  void sync_remap(Vma& vma);
  void remap_erase(Vma& vma);
  // walk_context(): the lookups in one live mm; returns the number of candidates.
  int64_t walk_context(const CowContext* ctx, const Folio& folio, bool zero_offset_only,
                       std::vector<WalkCandidate>* out, WalkCost* cost) const;

  CowContextOptions opts_;
  std::set<CowContext*> live_;
  std::list<CowContext*> roots_;
  ObjectStats ctx_stats_, remap_stats_;
  uint64_t next_ctx_id_ = 1, next_remap_id_ = 1;
  std::map<std::string, int64_t> counters_;
  mutable std::map<std::string, int64_t> walk_counters_;  // walks and merge checks
  std::vector<std::string> pte_moved_violations_;
};

}  // namespace rmaplab::cow_context
