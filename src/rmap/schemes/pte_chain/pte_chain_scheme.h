// The `pte-chain` scheme: the 2.5-era per-page reverse map (Rik van Riel's pte_chains,
// in Andrew Morton's final cache-line form; removed in 2.6.7). Every anonymous page
// lists the PTEs that map it: a direct pointer while it is mapped once (PG_direct),
// otherwise a chain of 64-byte blocks of NRPTE = 7 PTE addresses. FreeBSD's pv entries
// have the same shape. See README.md and ../shared/research/rmap-schemes.md §1.
//
// Invariants (PteChainScheme::CheckInvariants):
//  1. Every live anon folio has a page record and every page record a live anon folio.
//  2. PG_direct <=> one PTE in the direct slot and no chain; !PG_direct => a chain.
//  3. Chain shape (the list policy of mm/rmap.c): only the head block has free slots,
//     they are its leading slots [0, idx) and the head keeps at least one entry; every
//     later block is full (idx == 0).
//  4. The entries of a page are exactly the PTEs that map it (no duplicates, no stale
//     entries, none missing); their number is the folio's mapcount.
//  5. Every entry lies inside a VMA of its mm (find_vma() of the walk succeeds).
//  6. live pte_chain blocks = blocks on all chains; live page words = page records.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "rmap/scheme.h"

namespace rmaplab::pte_chain {

// pte_addr_t: the address of one PTE. The kernel got (mm, address) back from the
// struct page of the page-table page (ptep_to_mm / ptep_to_address); the model keeps
// both. An empty slot is {nullptr, 0} (the kernel's 0).
struct PteAddr {
  const Mm* mm = nullptr;
  Vpn addr = 0;
  bool empty() const { return mm == nullptr; }
  bool operator==(const PteAddr&) const = default;
};

// NRPTE = (L1_CACHE_BYTES - sizeof(unsigned long)) / sizeof(pte_addr_t) = 7 on 64-byte
// lines with 8-byte PTE addresses.
inline constexpr int kNrpte = 7;

// struct pte_chain: one cache line. `next` and `idx` are the kernel's next_and_idx word
// (the next block, and the first used slot: ptes[idx..NRPTE-1] are used).
struct PteChain {
  PteChain* next = nullptr;
  int idx = kNrpte;
  std::array<PteAddr, kNrpte> ptes{};
};

// The struct page union `pte` (direct PTE or chain head) with the PG_direct bit.
struct PageRmap {
  bool direct = false;        // PG_direct
  PteAddr pte_direct;         // page->pte.direct (valid iff direct)
  PteChain* chain = nullptr;  // page->pte.chain (valid iff !direct)
  bool empty() const { return !direct && !chain; }  // page->pte.direct == 0
};

// What stands in vma->anon_vma: pte_chain has no anon_vma. One marker per scheme
// instance, shared by every faulted VMA (see README: why not one per VMA).
struct FaultedMarker : AnonVmaBase {};

class PteChainScheme : public Scheme {
 public:
  static constexpr int64_t kPteChainBytes = 64;  // one L1 line, ____cacheline_aligned
  static constexpr int64_t kPageWordBytes = 8;   // the pte union in struct page

  ~PteChainScheme() override;
  const char* name() const override { return "pte-chain"; }
  const char* description() const override {
    return "Linux 2.5 pte_chains (Rik van Riel 2002, Andrew Morton's cache-line "
           "blocks): per-page lists of PTE addresses, PG_direct for single mappings";
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
  void pte_unmapped(Folio& folio, const Vma& vma, Vpn addr) override;
  void pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                 Vpn new_addr) override;
  void folio_freed(Folio& folio) override;
  void mm_forked(Mm& parent, Mm& child) override;
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override;
  std::map<std::string, ObjectStats> Objects() const override;
  std::map<std::string, int64_t> Counters() const override;
  std::vector<std::string> CheckInvariants() const override;
  std::string DescribeVma(const Vma& vma) const override;

  // For tests and pictures: the page record of a live anon folio (nullptr if none), and
  // its entries in walk order.
  const PageRmap* Page(const Folio& folio) const;
  static std::vector<PteAddr> Entries(const PageRmap& page);
  static int ChainBlocks(const PageRmap& page);
  const FaultedMarker* marker() const { return &marker_; }

 private:
  // page_add_rmap(): returns nothing; allocates a block when the page goes from direct
  // to chain or the head block is full.
  void page_add_rmap(PageRmap& page, PteAddr pte);
  // page_remove_rmap(): returns the number of entries compared in the search.
  int64_t page_remove_rmap(PageRmap& page, PteAddr pte);
  PteChain* pte_chain_alloc();
  void pte_chain_free(PteChain* pc);
  PageRmap& PageOf(const Folio& folio);

  FaultedMarker marker_;
  std::unordered_map<Pfn, PageRmap> pages_;
  ObjectStats chain_stats_, page_stats_;
  const Mm* forking_ = nullptr;  // the child dup_mmap() is filling (mm_forked)
  std::map<std::string, int64_t> counters_;
};

}  // namespace rmaplab::pte_chain
