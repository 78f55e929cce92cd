// struct mm_struct: one process's address space.
#pragma once

#include <cstdint>
#include <string>

#include "core/page_table.h"
#include "core/vma.h"

namespace rmaplab {

struct Mm {
  uint64_t id = 0;         // creation order
  std::string name;        // the scenario's process name (for messages only)
  VmaTree vmas;
  PageTable pt;
  bool alive = true;
  Mm* parent = nullptr;    // the mm this one was forked from (null for a fresh process)
  Vpn start_brk = 0;       // the heap (brk) range [start_brk, brk), page-aligned
  Vpn brk = 0;
  void* rmap = nullptr;    // the scheme's per-mm state, if it keeps any

  int map_count() const { return static_cast<int>(vmas.size()); }
};

}  // namespace rmaplab
