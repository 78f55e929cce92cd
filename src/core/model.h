// The model of Linux 6.18's anonymous memory management: processes, VMAs, page tables,
// folios and the system calls and faults that change them. No OS calls, no scheme code:
// every anonymous-rmap decision is delegated to the Scheme at the kernel's call sites.
//
// Each operation returns what the kernel returns: 0 or a negative errno; touches return
// a Touch (ok, SIGSEGV, SIGBUS). Operations never throw on a kernel refusal.
//
// Invariants (Model::CheckInvariants):
//  1. Every mm's VMA tree is sorted, non-overlapping, non-empty VMAs (vma.h).
//  2. Every present PTE lies inside a VMA of its mm.
//  3. Each folio's mapcount equals the number of PTEs that map it (PTE census).
//  4. Anon folios have mapcount >= 1 and a mapping; file folios are in their page cache.
//  5. Every anon PTE lies in a VMA that has an anon_vma (it was prepared).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/folio.h"
#include "core/mm.h"
#include "core/types.h"

namespace rmaplab {

class Scheme;

// mmap(2) parameters, already in pages.
struct MmapArgs {
  Vpn addr = 0;
  uint64_t len = 0;
  bool read = false, write = false, exec = false;
  bool shared = false;
  File* file = nullptr;  // nullptr: anonymous
  Pgoff pgoff = 0;       // file mappings
  bool fixed = false;    // MAP_FIXED; otherwise MAP_FIXED_NOREPLACE
  bool populate = false;
  bool noreserve = false;
  // Beyond the scenario language (trace replay), calc_vm_flag_bits():
  bool stack = false;      // MAP_STACK: VM_NOHUGEPAGE (THP kernels, 6.7+)
  bool growsdown = false;  // MAP_GROWSDOWN: VM_GROWSDOWN
  bool locked = false;     // MAP_LOCKED: VM_LOCKED, and populated
};

enum class MadviseBehavior {
  kDontneed, kFree, kCold, kPageout, kDontfork, kDofork,
  kWipeonfork, kKeeponfork, kHugepage, kNohugepage,
  // Beyond the scenario language (trace replay): flag changes and hints.
  kNormal, kRandom, kSequential, kWillneed, kDontdump, kDodump,
};

// Counts the core keeps itself (not the scheme's objects).
struct CoreStats {
  int64_t vma_alloc = 0, vma_free = 0;
  int64_t faults = 0, cow_copies = 0, cow_reuses = 0, zero_maps = 0;
  int64_t vma_updates = 0;  // vma_set_range() calls (moves, expansions, trims)
  int64_t folio_alloc = 0, folio_free = 0;
};

// What the model core (not the scheme) holds in memory, in bytes: folio frames, page
// tables, VMAs with their tree nodes, mms. For docs/performance.md's per-page budget.
struct CoreBytes {
  uint64_t folios = 0, page_tables = 0, vmas = 0, mms = 0;
  uint64_t total() const { return folios + page_tables + vmas + mms; }
};

class Model {
 public:
  explicit Model(Scheme* scheme);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  Scheme& scheme() { return *scheme_; }
  const Scheme& scheme() const { return *scheme_; }

  // --- processes -------------------------------------------------------------------
  Mm* NewMm(const std::string& name);
  // fork(): dup_mmap() of parent into a new mm.
  Mm* Fork(Mm& parent, const std::string& child_name);
  // exit(): exit_mmap(); the mm stays (alive = false, no VMAs).
  void Exit(Mm& mm);

  // --- files -----------------------------------------------------------------------
  // A file of `pages` pages, each page present in the page cache with distinct content.
  File* NewFile(const std::string& name, uint64_t pages);

  // --- system calls (0 or -errno) ----------------------------------------------------
  int Mmap(Mm& mm, const MmapArgs& args);
  int Munmap(Mm& mm, Vpn addr, uint64_t len);
  int Mprotect(Mm& mm, Vpn addr, uint64_t len, bool r, bool w, bool x);
  // flags: MREMAP_MAYMOVE 1, MREMAP_FIXED 2, MREMAP_DONTUNMAP 4 (linux/mman.h).
  int Mremap(Mm& mm, Vpn addr, uint64_t old_len, uint64_t new_len, int flags, Vpn new_addr);
  int Madvise(Mm& mm, Vpn addr, uint64_t len, MadviseBehavior behavior);

  // brk(): the heap of mm moves from old_brk to new_brk (both page-aligned vpns, as the
  // kernel rounds them). 0 or -errno.
  int Brk(Mm& mm, Vpn old_brk, Vpn new_brk);

  // --- exec layouts (trace replay) ---------------------------------------------------
  // Installs a VMA exactly as execve left it (no merge): what the ELF loader and
  // setup_arg_pages() built. The caller faults its pages in afterwards.
  Vma* InstallVma(Mm& mm, Vpn start, Vpn end, VmFlags flags, File* file, Pgoff pgoff);
  // A file known by its path (or any name), `pages` long, fully cached.
  File* FileByName(const std::string& name, uint64_t pages);

  // --- memory accesses ---------------------------------------------------------------
  Touch Access(Mm& mm, Vpn addr, bool write);

  // Does a read fault on private anonymous memory map the shared zero page (the
  // kernel's default), or allocate a folio as a kernel without a usable zero page does
  // (mm_forbids_zeropage(), or this machine's pvm_no_zero_page=1)? Set before any
  // access. See docs/zero-page.md.
  void set_zero_page(bool on) { zero_page_ = on; }
  bool zero_page() const { return zero_page_; }

  // --- the change log (for IncrementalOracle, rmap/oracle.h) -------------------------
  // From now on: every PTE frame change of every mm, every folio whose rmap state changed
  // without a PTE change (folio_move_anon_rmap), and the set of live VMAs are recorded.
  void EnableChangeLog();
  bool change_log_enabled() const { return logging_; }
  std::vector<PteChange>& pte_log() { return pte_log_; }
  std::vector<Pfn>& folio_log() { return folio_log_; }
  const std::unordered_set<const Vma*>& live_vmas() const { return live_vmas_; }

  // --- state -------------------------------------------------------------------------
  const std::vector<std::unique_ptr<Mm>>& mms() const { return mms_; }
  FolioPool& folios() { return folios_; }
  const FolioPool& folios() const { return folios_; }
  const CoreStats& stats() const { return stats_; }
  CoreBytes MemoryBytes() const;
  std::vector<std::string> CheckInvariants() const;

  // --- services for schemes (what kernel rmap code may look at) ----------------------
  Vma* vma_prev(const Vma& vma) const;  // previous VMA in vma's mm (any gap)
  Vma* vma_next(const Vma& vma) const;  // next VMA in vma's mm (any gap)
  // Does the PTE at (mm, addr) map folio? (page_vma_mapped_walk, order-0)
  bool PteMapsFolio(const Mm& mm, Vpn addr, const Folio& folio) const;

  static constexpr int kMremapMaymove = 1;
  static constexpr int kMremapFixed = 2;
  static constexpr int kMremapDontunmap = 4;

 private:
  friend class Kernel;  // core/kernel.h: the kernel functions behind the operations
  Scheme* scheme_;
  std::vector<std::unique_ptr<Mm>> mms_;
  std::vector<std::unique_ptr<File>> files_;
  FolioPool folios_;
  CoreStats stats_;
  uint64_t next_vma_id_ = 1;
  bool zero_page_ = true;
  bool logging_ = false;
  std::vector<PteChange> pte_log_;
  std::vector<Pfn> folio_log_;
  std::unordered_set<const Vma*> live_vmas_;
};

}  // namespace rmaplab
