// The `lazy` scheme: ANON_VMA_LAZY (tao / wangtao, Honor, "[PATCH 0/15] mm: introduce
// ANON_VMA_LAZY for deferred anon_vma creation", 27 May 2026), on top of Linux 6.18's
// anon_vma + anon_vma_chain (copied from the `linux` scheme, not shared with it).
//
// No anon_vma until fork or mremap needs one. A faulted, never-forked VMA is
// ANON_VMA_TREE_VMA ("lazy"): its anon folios point at the *root VMA* (folio->mapping =
// root vma | FOLIO_MAPPING_ANON_VMA_LAZY) and a walk finds the mapping in the root's mm
// at vma_mapping_base(root) + folio->index, where vma_mapping_base(vma) = vm_start -
// vm_pgoff stays the same across split, merge and partial munmap. At fork the parent's
// lazy VMA is upgraded to a regular anon_vma (folio->mapping fixed as PTEs are copied,
// try_dup_anon_rmap()); the child's VMA is ANON_VMA_TREE_PARENT: linked into the
// parent's tree (the AVCs of the parent's chain), no anon_vma of its own, and its own
// new folios lazy. An mremap move upgrades the source first (its folios re-pointed).
// See README.md for what is sourced and what is inferred.
//
// Invariants (LazyScheme::CheckInvariants):
//  1. Every AVC is on its VMA's chain and in its anon_vma's interval tree, keyed by the
//     VMA's current [vm_pgoff, vm_pgoff + pages - 1]; one AVC per (vma, anon_vma).
//  2. A VMA is in exactly one state: regular (anon_vma = an AnonVma on its own chain),
//     TREE_VMA (anon_vma = a lazy root, empty chain) or TREE_PARENT (anon_vma = a lazy
//     root whose parent_av is on the VMA's non-empty chain).
//  3. Every VMA naming lazy root R is in R's mm and has vma_mapping_base == R.base;
//     R.vmas counts them; a lazy root is live iff R.vmas > 0.
//  4. num_active_vmas, num_children and refcount of each anon_vma as in `linux`.
//  5. Every anon folio's mapping is a live anon_vma or a live lazy root; a lazy folio
//     is mapped only by VMAs naming its root, at R.base + index (so upgrading a VMA
//     re-points every lazy folio that it maps, and a walk finds every mapping).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "rmap/interval_tree.h"
#include "rmap/scheme.h"

namespace rmaplab::lazy_rmap {

struct AnonVma;
struct LazyRoot;

// What vma->anon_vma and folio->mapping point to: a tagged word in the series
// (anon_vma_tree_t / anon_rmap_t); here the tag is `lazy`.
struct RmapObject : AnonVmaBase {
  bool lazy = false;
};

// struct anon_vma_chain: links one VMA to one anon_vma. 64 bytes in 6.18.
struct Avc {
  Vma* vma = nullptr;
  AnonVma* anon_vma = nullptr;
  Pgoff start = 0;
  Pgoff last = 0;
  uint64_t id = 0;
  IntervalNode<Avc> node;
};

// struct anon_vma. 96 bytes in 6.18.
struct AnonVma : RmapObject {
  AnonVma* root = nullptr;
  AnonVma* parent = nullptr;
  int refcount = 0;
  int64_t num_children = 0;
  int64_t num_active_vmas = 0;
  IntervalTree<Avc> rb_root;
  uint64_t id = 0;
  std::set<LazyRoot*> upgraded_roots;  // lazy roots whose VMAs adopt it on upgrade
};

// anon_vma_tree_t topology of a VMA that has no anon_vma of its own.
enum class TreeType { kVma, kParent };  // ANON_VMA_TREE_VMA, ANON_VMA_TREE_PARENT

// The ANON_VMA_LAZY root: stands for the root vm_area_struct that lazy folios name
// (CONFIG_VMA_REF keeps that struct alive while VMAs still name it). Not an allocation
// of its own while the root VMA lives; a "pinned" vm_area_struct once the core freed it.
struct LazyRoot : RmapObject {
  TreeType type = TreeType::kVma;
  Mm* mm = nullptr;
  Vpn base = 0;                // vma_mapping_base() in pages (wraps for file pgoffs)
  AnonVma* parent_av = nullptr;  // TREE_PARENT: the parent VMA's anon_vma at fork
  AnonVma* upgraded = nullptr;   // the anon_vma the first upgraded piece got
  int64_t vmas = 0;              // VMAs whose anon_vma word names this root
  uint64_t root_vma_id = 0;
  bool root_vma_freed = false;   // the root vm_area_struct is pinned by the others
  bool dead = false;
  uint64_t id = 0;
};

// Per-VMA state: vma->anon_vma_chain (newest first) and the lazy root, if any.
struct LazyVmaState : SchemeVmaState {
  std::deque<Avc*> chain;
  LazyRoot* lazy = nullptr;
};

class LazyScheme : public Scheme {
 public:
  static constexpr int64_t kAnonVmaBytes = 96;
  static constexpr int64_t kAvcBytes = 64;
  static constexpr int64_t kVmaBytes = 192;     // vm_area_struct slab object, 6.18
  static constexpr int64_t kVmaRefBytes = 4;    // CONFIG_VMA_REF rcuref per VMA

  LazyScheme();
  ~LazyScheme() override;
  const char* name() const override { return "lazy"; }
  const char* description() const override {
    return "ANON_VMA_LAZY (tao/Honor, May 2026): no anon_vma until fork or mremap; lazy "
           "folios name the root VMA and are found through the mm's VMA tree";
  }

  int anon_vma_prepare(Vma& vma) override;
  int anon_vma_clone(Vma& dst, const Vma& src) override;
  int anon_vma_fork(Vma& dst, const Vma& src) override;
  void unlink_anon_vmas(Vma& vma) override;
  void vm_area_free(Vma& vma) override;
  bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon, const Vma* src,
                             const Vma* copied_from) const override;
  void vma_pre_update(Vma& vma) override;
  void vma_post_update(Vma& vma) override;
  void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) override;
  void folio_move_anon_rmap(Folio& folio, Vma& vma) override;
  void pte_mapped(Folio& folio, const Vma& vma, Vpn addr) override;
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override { return counters_; }
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;
  void DescribeGraph(SchemeGraph* graph) const override;
  std::string FolioMappingNode(const Folio& folio) const override;

  // For tests.
  static const LazyVmaState* State(const Vma& vma);
  static bool IsLazy(const Vma& vma);        // TREE_VMA or TREE_PARENT
  static bool IsTreeParent(const Vma& vma);  // TREE_PARENT
  static Vpn vma_mapping_base(const Vma& vma) { return vma.vm_start - vma.vm_pgoff; }

 private:
  enum class Upgrade { kFork, kMremap };
  static LazyVmaState& MutState(Vma& vma);
  static size_t chain_len(const Vma* vma);
  // vma_had_uncowed_parents() as the series would have to read it (see README).
  static bool vma_is_fork_child(const Vma* vma);
  AnonVma* anon_vma_alloc();
  void anon_vma_free(AnonVma* av);
  void put_anon_vma(AnonVma* av);
  Avc* anon_vma_chain_alloc();
  void anon_vma_chain_free(Avc* avc);
  void anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av);
  void clone_chain(Vma& dst, const Vma& src);
  LazyRoot* lazy_root_alloc(Vma& vma, TreeType type, AnonVma* parent_av);
  void lazy_root_put(LazyRoot* root);
  // The upgrade of a lazy VMA to a regular anon_vma (fork: parent side; mremap: source).
  void anon_vma_lazy_upgrade(Vma& vma, Upgrade why);
  bool is_live(const AnonVma* av) const { return live_.count(const_cast<AnonVma*>(av)); }

  ObjectStats av_stats_, avc_stats_, pinned_stats_;
  mutable ObjectStats vma_ref_stats_;
  std::set<AnonVma*> live_;
  std::vector<std::unique_ptr<LazyRoot>> roots_;  // every root ever made (never reused)
  std::set<const AnonVmaBase*> root_ptrs_;         // the same, for folio->mapping checks
  std::unordered_map<uint64_t, LazyRoot*> root_by_vma_id_;  // live roots, by root VMA
  mutable std::map<std::string, int64_t> counters_;
  uint64_t next_av_id_ = 1, next_avc_id_ = 1;
};

}  // namespace rmaplab::lazy_rmap
