// The rmap scheme plug-in contract.
//
// The model core (src/core) implements Linux 6.18's VMA, page-table and fault logic and
// calls a Scheme at each of the kernel's anonymous-rmap call sites. Each hook is named
// after the kernel function it stands for; a scheme decides what objects exist and how
// an rmap walk finds the (vma, address) candidates for a folio. The core (the oracle)
// checks every candidate against the page tables, as page_vma_mapped_walk() does.
//
// A scheme lives in src/rmap/schemes/<name>/ and registers itself with
// RMAPLAB_REGISTER_SCHEME (rmap/registry.h). It never touches core internals beyond
// the Vma/Folio/Mm fields documented in core/.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/folio.h"
#include "core/vma.h"

namespace rmaplab {

class Model;
struct Mm;

// Base of a scheme's per-anon-memory object (vma->anon_vma, folio->mapping).
struct AnonVmaBase {};
// Base of a scheme's per-VMA state (for linux: the anon_vma_chain list head).
struct SchemeVmaState {};

// Objects of one kind a scheme allocates, with their modelled size in bytes.
struct ObjectStats {
  int64_t alloc = 0;
  int64_t free = 0;
  int64_t live = 0;
  int64_t peak = 0;
  int64_t object_bytes = 0;  // sizeof on a 64-bit kernel of the design's time
  void OnAlloc() { ++alloc; if (++live > peak) peak = live; }
  void OnFree() { ++free; --live; }
};

// A flaw of the original design that the oracle is expected to catch: the scheme
// misses mappings in the named scenario (tests/regress/<scenario>) on purpose.
struct KnownFlaw {
  std::string scenario;     // base name of the regression scenario that shows it
  std::string description;  // one line: what the design gets wrong, and who said so
};

// One candidate produced by an rmap walk: "look at this VMA at this address".
struct WalkCandidate {
  const Vma* vma = nullptr;
  Vpn addr = 0;
};

// What one walk cost, beyond the candidates themselves.
struct WalkCost {
  int64_t objects_visited = 0;  // tree nodes / chain entries / list entries examined
  std::map<std::string, int64_t> locks;  // lock class -> acquisitions
};

// A picture of a scheme's own objects (rmaplab graph): nodes for the design's objects
// (anon_vmas, chains, roots, ...) and edges among them and to VMAs, which are named
// "vma:<id>" (Vma::id). Drawn by src/report/graph.cc.
struct SchemeGraph {
  struct Node {
    std::string id, label;
    std::string shape;  // Graphviz shape ("ellipse" if empty)
    std::string color;  // fill colour ("" : the default)
  };
  struct Edge {
    std::string from, to, label;
    std::string style;  // "solid", "dashed", "dotted", "bold"
    std::string color;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
};

class Scheme {
 public:
  virtual ~Scheme() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;

  // Called once before any other hook.
  virtual void Attach(Model* model) { model_ = model; }

  // --- VMA lifecycle -----------------------------------------------------------------
  // __anon_vma_prepare(): vma->anon_vma is null; give it one. 0 or -ENOMEM.
  virtual int anon_vma_prepare(Vma& vma) = 0;
  // anon_vma_clone() from __split_vma / dup_anon_vma / copy_vma: the core has already set
  // dst.anon_vma = src.anon_vma (non-null). Link dst to everything src links.
  virtual int anon_vma_clone(Vma& dst, const Vma& src) = 0;
  // anon_vma_fork() from dup_mmap: dst is the child's copy of src (dst.anon_vma ==
  // src.anon_vma on entry, as after vm_area_dup). Sets dst.anon_vma.
  virtual int anon_vma_fork(Vma& dst, const Vma& src) = 0;
  // unlink_anon_vmas(): drop all of vma's links; sets vma.anon_vma = nullptr.
  virtual void unlink_anon_vmas(Vma& vma) = 0;
  // vm_area_free(): the VMA struct goes away (after unlink_anon_vmas if it was linked).
  virtual void vm_area_free(Vma& vma) {}
  // is_mergeable_anon_vma() (mm/vma.c, 6.18): may `tgt` (prev or next) merge with the
  // proposed range whose anon_vma is src_anon, that is (part of) VMA `src` (null for a
  // new range) and, for an mremap copy, comes from `copied_from`?
  virtual bool is_mergeable_anon_vma(const Vma& tgt, const AnonVmaBase* src_anon,
                                     const Vma* src, const Vma* copied_from) const = 0;
  // can_vma_merge_right()'s last test: may prev and next both be merged with a range
  // between them (Linux: either has no anon_vma, or they share it)?
  virtual bool anon_vmas_compatible(const Vma& prev, const Vma& next) const {
    return !prev.anon_vma || !next.anon_vma || prev.anon_vma == next.anon_vma;
  }
  // anon_vma_interval_tree_pre_update_vma / post_update: vm_start, vm_end or vm_pgoff
  // of a linked VMA is about to change / has changed.
  virtual void vma_pre_update(Vma& vma) {}
  virtual void vma_post_update(Vma& vma) {}

  // --- folios ------------------------------------------------------------------------
  // folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE): a new anon folio is
  // mapped at addr. The scheme sets folio.mapping / folio.index.
  virtual void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) = 0;
  // folio_move_anon_rmap(): an exclusive folio is reused by vma on a write fault.
  virtual void folio_move_anon_rmap(Folio& folio, Vma& vma) = 0;
  // Every PTE that starts or stops mapping an anon folio (fault, fork copy, zap, COW),
  // and every PTE moved by mremap (move_ptes). Per-mapping schemes (pte_chain) need
  // these; object-based schemes ignore them.
  virtual void pte_mapped(Folio& folio, const Vma& vma, Vpn addr) {}
  virtual void pte_unmapped(Folio& folio, const Vma& vma, Vpn addr) {}
  virtual void pte_moved(Folio& folio, const Vma& from, Vpn old_addr, const Vma& to,
                         Vpn new_addr) {}
  // The anon folio is freed (last mapping gone).
  virtual void folio_freed(Folio& folio) {}

  // --- mm lifecycle ------------------------------------------------------------------
  virtual void mm_created(Mm& mm) {}
  // dup_mmap() is about to copy parent into child (before any anon_vma_fork).
  virtual void mm_forked(Mm& parent, Mm& child) {}
  // exit_mmap() finished: mm has no VMAs left.
  virtual void mm_exited(Mm& mm) {}

  // --- the walk ----------------------------------------------------------------------
  // rmap_walk_anon(): every (vma, addr) the design would examine for `folio`, in the
  // order it examines them. Candidates that do not map the folio are false positives.
  virtual void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                         WalkCost* cost) const = 0;

  // --- accounting and self-checks ----------------------------------------------------
  // Objects by kind. The `linux` scheme reports "anon_vma" and "anon_vma_chain", the
  // names the kernel's slab caches have; other schemes use their own names.
  virtual std::map<std::string, ObjectStats> Objects() const = 0;
  // Counters of work the design does outside walks, by name (e.g. "fork.pages_touched",
  // "mremap.pages_touched", "chain_entries_scanned"). Cumulative.
  virtual std::map<std::string, int64_t> Counters() const { return {}; }
  // Flaws of the original design that `check` reports as such instead of failing.
  virtual std::vector<KnownFlaw> KnownFlaws() const { return {}; }
  // The scheme's own invariants; each violation is one message.
  virtual std::vector<std::string> CheckInvariants() const { return {}; }
  // A one-line description of vma's rmap state, for dumps ("av#3 chain=2").
  virtual std::string DescribeVma(const Vma& vma) const { return {}; }
  // The scheme's objects as a graph (deterministic order), and the node a folio's
  // mapping names ("" if none). Defaults draw nothing: VMAs then show DescribeVma().
  virtual void DescribeGraph(SchemeGraph* graph) const {}
  virtual std::string FolioMappingNode(const Folio& folio) const { return {}; }

 protected:
  Model* model_ = nullptr;
};

}  // namespace rmaplab
