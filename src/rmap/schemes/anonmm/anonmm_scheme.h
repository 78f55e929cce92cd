// The `anonmm` scheme: Hugh Dickins' object-based anonymous rmap with the mm as the
// object ("anobjrmap" 4/6 anonmm + 5/6 rechained, 2.5.65-mm2, March 2003; anonmm reposted
// as anobjrmap 5/6 for 2.6.4, March 2004). See README.md in this folder for sources.
//
// A page records the anonmm of the mm that first mapped it (folio.mapping) and the
// virtual page it was mapped at (folio.index). Every mm forked from one exec'd ancestor
// has an anonmm on the family head's list; a walk probes that address in every mm of
// the family. A page moved by mremap while it is shared (or already chained) keeps its
// index and gets the new address appended to a per-page rmap_chain (2003 5/6).
//
// Invariants (AnonmmScheme::CheckInvariants):
//  1. Every live mm has its own anonmm (mm->anonmm->mm == mm); exited mms have none.
//  2. A head is its own head and first on its family list; every non-head anonmm is on
//     its head's list exactly once, and every anonmm on a list has that list's head.
//  3. count = (mm ? 1 : 0) + pages tagged with it + (head ? 1 + members on its list : 0),
//     and every live anonmm has count > 0.
//  4. vma.anon_vma is null or the anonmm of vma's mm (the per-mm marker, see README).
//  5. Every anon folio's mapping is a live anonmm; a chain holds no duplicate and not
//     folio.index, and only chained folios have one (PG_chained).
//  6. Every PTE that maps an anon folio lies in an mm of the folio's family, at
//     folio.index or at an address of its chain (what makes the walk complete).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/mm.h"
#include "rmap/scheme.h"

namespace rmaplab::anonmm {

// struct anonmm, 2003/2004: atomic_t count, spinlock_t lock, mm, head, list_head list.
// 4 + 4 + 8 + 8 + 16 = 40 bytes on 64-bit (the slab was SLAB_HWCACHE_ALIGN: 64 B each).
struct Anonmm : AnonVmaBase {
  int count = 0;         // 1 per tagged page, 1 for the mm; head: +1 self, +1 per member
  Mm* mm = nullptr;      // NULL once the mm has exited
  Anonmm* head = nullptr;
  // The head's circular list, head first (list_add_tail appends): members in fork order.
  std::list<Anonmm*> family;             // used in the head only
  std::list<Anonmm*>::iterator pos;      // this anonmm's place on its head's list
  uint64_t id = 0;
};

class AnonmmScheme : public Scheme {
 public:
  static constexpr int64_t kAnonmmBytes = 40;      // sizeof(struct anonmm), 64-bit
  static constexpr int64_t kRmapChainBytes = 64;   // 7 slots + next, kmalloc(64)
  static constexpr int kNrSlot = 7;                // NRSLOT: slot[0] holds the count

  // chains = false models the March 2004 repost instead: no rmap_chain; mremap and COW
  // reuse only re-tag a page whose mapcount is 1 (page_update_anon_rmap), which Hugh
  // called "grossly inadequate for the general case". Not registered: for tests.
  explicit AnonmmScheme(bool chains = true);
  ~AnonmmScheme() override;
  const char* name() const override { return chains_ ? "anonmm" : "anonmm-2004"; }
  const char* description() const override {
    return "Hugh Dickins' anonmm (anobjrmap 2003/2004): one anonmm per mm on a fork-family "
           "list, page->index = virtual address, per-page address chains after mremap";
  }

  int anon_vma_prepare(Vma& vma) override;
  int anon_vma_clone(Vma& dst, const Vma& src) override;
  int anon_vma_fork(Vma& dst, const Vma& src) override;
  void unlink_anon_vmas(Vma& vma) override;
  bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon, const Vma* src,
                             const Vma* copied_from) const override;
  void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) override;
  void folio_move_anon_rmap(Folio& folio, Vma& vma) override;
  void pte_mapped(Folio& folio, const Vma& vma, Vpn addr) override;
  void pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                 Vpn new_addr) override;
  void folio_freed(Folio& folio) override;
  void mm_created(Mm& mm) override;
  void mm_forked(Mm& parent, Mm& child) override;
  void mm_exited(Mm& mm) override;
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override { return counters_; }
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;
  void DescribeGraph(SchemeGraph* graph) const override;
  std::string FolioMappingNode(const Folio& folio) const override;

  // For tests and pictures.
  static Anonmm* MmAnonmm(const Mm& mm) { return static_cast<Anonmm*>(mm.rmap); }
  // The page's chained addresses (empty when not PG_chained).
  const std::vector<Vpn>& Chain(const Folio& folio) const;
  const std::set<Anonmm*>& anonmms() const { return live_; }
  // rmap_chain blocks needed for n chained addresses (slot[0] of the first is the count).
  static int64_t ChainBlocks(size_t n);

 private:
  Anonmm* anonmm_alloc();
  void anonmm_free(Anonmm* a);
  void exec_rmap(Mm& mm, Anonmm* a);
  void free_anonmm(Anonmm* a);
  // clear_page_anon(): drops the page's reference on its anonmm.
  void clear_page_anon(Folio& folio);
  void set_page_anon(Folio& folio, Anonmm* a);
  void add_rmap_address(Folio& folio, Vpn addr);
  void clear_page_chained(Folio& folio);
  void page_update_anon_rmap(Folio& folio, Mm& mm, Vpn addr);
  // find_vma(mm, addr), or the last VMA: the VMA a probe of (mm, addr) reports.
  static const Vma* ProbeVma(const Mm& mm, Vpn addr);

  const bool chains_;
  ObjectStats anonmm_stats_, chain_stats_;
  std::set<Anonmm*> live_;
  std::unordered_map<Pfn, std::vector<Vpn>> chains_by_pfn_;  // PG_chained pages
  std::map<std::string, int64_t> counters_;
  uint64_t next_id_ = 1;
};

}  // namespace rmaplab::anonmm
