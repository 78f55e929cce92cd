// The `avc-2010` scheme: anon_vma + anon_vma_chain as released in Linux 2.6.34 (May
// 2010, Rik van Riel's 5beb49305251 with Linus' April 2010 fixes), before the 2.6.36
// root anon_vma, the 2012 interval tree, the 2011 merge restriction and the 2015 reuse
// heuristic. See README.md in this folder for the sources.
//
// Invariants (Avc2010Scheme::CheckInvariants):
//  1. Every AVC is on its VMA's same_vma chain and on its anon_vma's same_anon_vma
//     list; one AVC per (vma, anon_vma).
//  2. A faulted VMA's chain holds its own anon_vma; an unfaulted VMA's chain is empty.
//  3. VMAs that share an anon_vma have identical chains (Linus, d0e9fe1758f2).
//  4. Every live anon_vma's list is non-empty: anon_vma_unlink() frees an anon_vma the
//     moment its list empties (no refcount, no root, no parent in 2.6.34).
//  5. Every anon folio's mapping is a live anon_vma; live counts match the objects.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rmap/intrusive_list.h"
#include "rmap/scheme.h"

namespace rmaplab::avc_2010 {

struct AnonVma;

// struct anon_vma_chain (2.6.34): vma, anon_vma, same_vma and same_anon_vma list heads:
// 8 + 8 + 16 + 16 = 48 bytes on x86_64.
struct Avc {
  Vma* vma = nullptr;
  AnonVma* anon_vma = nullptr;
  ListLink<Avc> same_vma;       // on vma->anon_vma_chain
  ListLink<Avc> same_anon_vma;  // on anon_vma->head
};

// struct anon_vma (2.6.34): spinlock_t lock (4), atomic_t ksm_refcount (4, CONFIG_KSM),
// struct list_head head (16) = 24 bytes on x86_64 without spinlock debugging.
struct AnonVma : AnonVmaBase {
  IntrusiveList<Avc, &Avc::same_anon_vma> head;  // same_anon_vma list, in link order
  uint64_t id = 0;       // for dumps and messages only
};

// vma->anon_vma_chain: newest first (list_add()), so the oldest anon_vma is last.
using AvcChain = IntrusiveList<Avc, &Avc::same_vma>;
struct VmaState : SchemeVmaState {
  AvcChain chain;
};

class Avc2010Scheme : public Scheme {
 public:
  static constexpr int64_t kAnonVmaBytes = 24;
  static constexpr int64_t kAvcBytes = 48;
  // Object names: the 2010 slab caches had the kernel's names, but their counts are not
  // 6.18's, so they are reported under names the native observations do not use.
  static constexpr const char* kAnonVmaName = "anon_vma@2.6.34";
  static constexpr const char* kAvcName = "anon_vma_chain@2.6.34";

  ~Avc2010Scheme() override;
  const char* name() const override { return "avc-2010"; }
  const char* description() const override {
    return "Linux 2.6.34 anon_vma_chain (Rik van Riel 2010): same_anon_vma lists, no "
           "root, no reuse on fork, the 2004-2011 merge rule";
  }

  int anon_vma_prepare(Vma& vma) override;
  int anon_vma_clone(Vma& dst, const Vma& src) override;
  int anon_vma_fork(Vma& dst, const Vma& src) override;
  void unlink_anon_vmas(Vma& vma) override;
  void vm_area_free(Vma& vma) override;
  bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon, const Vma* src,
                             const Vma* copied_from) const override;
  bool anon_vmas_compatible(const Vma& prev, const Vma& next) const override;
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

  // For tests and pictures.
  const std::set<AnonVma*>& anon_vmas() const { return live_; }
  static const AvcChain* Chain(const Vma& vma);

 private:
  static VmaState& State(Vma& vma);
  static size_t chain_len(const Vma* vma);
  AnonVma* anon_vma_alloc();
  void anon_vma_free(AnonVma* av);
  Avc* anon_vma_chain_alloc();
  void anon_vma_chain_free(Avc* avc);
  void anon_vma_chain_link(Vma& vma, Avc* avc, AnonVma* av);
  void anon_vma_unlink(Avc* avc);
  AnonVma* reusable_anon_vma(const Vma& old, const Vma& a, const Vma& b) const;
  AnonVma* find_mergeable_anon_vma(const Vma& vma) const;
  void NoteChain(const Vma& vma);

  ObjectStats av_stats_, avc_stats_;
  std::set<AnonVma*> live_;
  uint64_t next_av_id_ = 1;
  bool in_fork_ = false;
  // Counters (cumulative).
  int64_t fork_avcs_ = 0;   // AVCs linked by anon_vma_fork (clone + own)
  int64_t clone_avcs_ = 0;  // AVCs linked by split / merge / mremap clones
  int64_t locks_ = 0;       // anon_vma->lock taken outside walks
  int64_t max_chain_ = 0;   // longest same_vma chain ever built
};

}  // namespace rmaplab::avc_2010
