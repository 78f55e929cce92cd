// The `anon-vma-2004` scheme: Andrea Arcangeli's anon_vma as merged in Linux 2.6.7
// (Hugh Dickins' "rmap 39 add anon_vma rmap" and "rmap 40 better anon_vma sharing",
// May 2004; mm/rmap.c and mm/mmap.c of 2.6.7). See README.md.
//
// One anon_vma {lock, list of VMAs} is shared by a VMA, its splits, its mremap copies,
// the neighbours that adopted it in find_mergeable_anon_vma() and every fork
// descendant of all of those: fork adds the child's VMA to the parent's list and
// allocates nothing. A page records the anon_vma and its linear index; a walk scans the
// whole list.
//
// Invariants (AnonVma2004Scheme::CheckInvariants):
//  1. A VMA is on an anon_vma's list iff its vma->anon_vma is that anon_vma, and it is
//     on that list once.
//  2. Every live anon_vma has a non-empty list (it is freed when its list empties:
//     there is no reference count in 2004).
//  3. Every anon folio's mapping is a live anon_vma.
//  4. A folio reused by a write fault is already on the reusing VMA's anon_vma (every
//     VMA that can map a page of an anon_vma is on that anon_vma's list).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rmap/scheme.h"

namespace rmaplab::anon_vma_2004 {

// struct anon_vma (2.6.7): spinlock_t lock; struct list_head head. 4 + 4 (padding) + 16
// = 24 bytes on a 64-bit kernel without lock debugging.
struct AnonVma : AnonVmaBase {
  std::list<Vma*> head;  // list_add(): the newest VMA first
  uint64_t id = 0;
};

// The fields rmap 39 added to vm_area_struct: struct list_head anon_vma_node and
// struct anon_vma *anon_vma (the pointer itself is Vma::anon_vma).
struct AnonVmaNode : SchemeVmaState {
  AnonVma* on = nullptr;              // the anon_vma whose list holds this VMA
  std::list<Vma*>::iterator node;     // position in on->head
};

class AnonVma2004Scheme : public Scheme {
 public:
  static constexpr int64_t kAnonVmaBytes = 24;      // spinlock_t + list_head, padded
  static constexpr int64_t kAnonVmaNodeBytes = 24;  // list_head + pointer, per VMA

  ~AnonVma2004Scheme() override;
  const char* name() const override { return "anon-vma-2004"; }
  const char* description() const override {
    return "Linux 2.6.7 anon_vma (Andrea Arcangeli's design, Hugh Dickins' rmap 39/40, "
           "2004): one VMA list per fork family, walked whole";
  }

  int anon_vma_prepare(Vma& vma) override;
  int anon_vma_clone(Vma& dst, const Vma& src) override;
  int anon_vma_fork(Vma& dst, const Vma& src) override;
  void unlink_anon_vmas(Vma& vma) override;
  void vm_area_free(Vma& vma) override;
  bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon, const Vma* src,
                             const Vma* copied_from) const override;
  void vma_pre_update(Vma& vma) override;
  void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) override;
  void folio_move_anon_rmap(Folio& folio, Vma& vma) override;
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override;
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;
  void DescribeGraph(SchemeGraph* graph) const override;
  std::string FolioMappingNode(const Folio& folio) const override;

  // For tests: the anon_vmas alive, and the list length of vma's anon_vma (0 if none).
  const std::set<AnonVma*>& anon_vmas() const { return live_; }
  static size_t ListLength(const Vma& vma);

 private:
  static constexpr const char* kLock = "anon_vma->lock";
  AnonVma* anon_vma_alloc();
  void anon_vma_free(AnonVma* av);
  // __anon_vma_link(): list_add() at the head of av's list.
  void anon_vma_link(Vma& vma, AnonVma* av);
  AnonVma* find_mergeable_anon_vma(const Vma& vma);
  void Lock(const char* where) { counters_[std::string("lock.") + kLock + "." + where]++; }

  ObjectStats av_stats_, node_stats_;
  std::set<AnonVma*> live_;
  std::map<std::string, int64_t> counters_;
  uint64_t next_av_id_ = 1;
  int64_t move_mismatches_ = 0;
};

}  // namespace rmaplab::anon_vma_2004
