// The `linux` scheme: Linux 6.18's anon_vma + anon_vma_chain (mm/rmap.c).
//
// Invariants (LinuxScheme::CheckInvariants):
//  1. Every AVC is on its VMA's chain and in its anon_vma's interval tree, keyed by the
//     VMA's current [vm_pgoff, vm_pgoff + pages - 1]; one AVC per (vma, anon_vma).
//  2. num_active_vmas = the number of VMAs whose anon_vma it is.
//  3. num_children = the number of live anon_vmas whose parent it is (a root counts
//     itself while its tree is non-empty or it has children).
//  4. refcount = (tree non-empty ? 1 : 0) + (root ? live non-root family members : 0),
//     and every live anon_vma has refcount > 0.
//  5. Every anon folio's mapping is a live anon_vma.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <unordered_set>
#include <string>
#include <vector>

#include "rmap/interval_tree.h"
#include "rmap/intrusive_list.h"
#include "rmap/scheme.h"

namespace rmaplab::linux_rmap {

struct AnonVma;

// struct anon_vma_chain: links one VMA to one anon_vma. 64 bytes in 6.18.
struct Avc {
  Vma* vma = nullptr;
  AnonVma* anon_vma = nullptr;
  Pgoff start = 0;  // interval tree key: first pgoff of vma
  Pgoff last = 0;   // last pgoff of vma (inclusive)
  uint64_t id = 0;  // breaks ties between equal starts in the tree
  IntervalNode<Avc> node;  // the kernel's avc->rb (+ rb_subtree_last)
  ListLink<Avc> same_vma;  // the kernel's avc->same_vma, on vma->anon_vma_chain
};

// vma->anon_vma_chain: newest first (head = front), as list_add() builds it.
using AvcList = IntrusiveList<Avc, &Avc::same_vma>;

// struct anon_vma. 96 bytes in 6.18.
struct AnonVma : AnonVmaBase {
  AnonVma* root = nullptr;
  AnonVma* parent = nullptr;
  int refcount = 0;
  int64_t num_children = 0;
  int64_t num_active_vmas = 0;
  // rb_root: the interval tree of AVCs, ordered by (start, id), augmented with each
  // subtree's largest `last` so that a stabbing query touches O(log n + k) nodes.
  IntervalTree<Avc> rb_root;
  uint64_t id = 0;
};

struct LinuxVmaState : SchemeVmaState {
  AvcList chain;
};

class LinuxScheme : public Scheme {
 public:
  static constexpr int64_t kAnonVmaBytes = 96;
  static constexpr int64_t kAvcBytes = 64;

  ~LinuxScheme() override;
  const char* name() const override { return "linux"; }
  const char* description() const override {
    return "Linux 6.18 anon_vma + anon_vma_chain (Rik van Riel 2010, with the 2019 "
           "reuse heuristic and 6.16 merge rules)";
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
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override { return counters_; }
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;
  void DescribeGraph(SchemeGraph* graph) const override;
  std::string FolioMappingNode(const Folio& folio) const override;

  // For pictures and tests.
  const std::unordered_set<AnonVma*>& anon_vmas() const { return live_; }
  static const AvcList* Chain(const Vma& vma);

 private:
  static LinuxVmaState& State(Vma& vma);
  static size_t chain_len(const Vma* vma);
  // vma_is_fork_child(): faulted, and its chain has more than one AVC.
  static bool vma_is_fork_child(const Vma* vma);
  AnonVma* anon_vma_alloc();
  void anon_vma_free(AnonVma* av);
  void put_anon_vma(AnonVma* av);
  Avc* anon_vma_chain_alloc();
  void anon_vma_chain_free(Avc* avc);
  void anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av);
  AnonVma* find_mergeable_anon_vma(const Vma& vma) const;
  AnonVma* reusable_anon_vma(const Vma& old, const Vma& a, const Vma& b) const;

  ObjectStats av_stats_, avc_stats_;
  std::map<std::string, int64_t> counters_;
  std::unordered_set<AnonVma*> live_;  // O(1) insert and erase: forks of big mms stay linear
  uint64_t next_av_id_ = 1, next_avc_id_ = 1;
};

}  // namespace rmaplab::linux_rmap
