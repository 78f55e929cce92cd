// Tests of PageTable (core/page_table.h): the sparse vpn -> pfn map in 512-entry leaves,
// with the per-PTE dirty bit.
#include "core/page_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace rmaplab {
namespace {

using Entries = std::vector<std::pair<Vpn, Pfn>>;
constexpr Vpn kLeaf = PageTable::kEntries;  // 512
constexpr Vpn kBase = 0x100000000ULL;       // leaf-aligned

TEST(PageTableTest, EmptyTable) {
  PageTable pt;
  EXPECT_EQ(pt.present(), 0u);
  EXPECT_EQ(pt.Get(0), kNoPfn);
  EXPECT_EQ(pt.Get(kBase), kNoPfn);
  EXPECT_EQ(pt.Get(~0ULL), kNoPfn);
  EXPECT_TRUE(pt.Collect(0, ~0ULL).empty());
  int calls = 0;
  pt.ForEach(0, ~0ULL, [&](Vpn, Pfn) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(PageTableTest, SetReturnsTheOldValue) {
  PageTable pt;
  EXPECT_EQ(pt.Set(kBase + 5, 7), kNoPfn);
  EXPECT_EQ(pt.Get(kBase + 5), 7u);
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_EQ(pt.Set(kBase + 5, 9), 7u);  // overwrite: still one present PTE
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_EQ(pt.Get(kBase + 5), 9u);
  EXPECT_EQ(pt.Set(kBase + 5, kNoPfn), 9u);
  EXPECT_EQ(pt.present(), 0u);
  EXPECT_EQ(pt.Get(kBase + 5), kNoPfn);
}

TEST(PageTableTest, ClearingAnAbsentEntryIsANoOp) {
  PageTable pt;
  EXPECT_EQ(pt.Set(kBase, kNoPfn), kNoPfn);
  EXPECT_EQ(pt.present(), 0u);
  pt.Set(kBase + 1, 3);
  EXPECT_EQ(pt.Set(kBase, kNoPfn), kNoPfn);  // absent entry in an existing leaf
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_EQ(pt.Get(kBase + 1), 3u);
}

TEST(PageTableTest, TheZeroPageIsAPresentEntry) {
  PageTable pt;
  pt.Set(kBase, kZeroPfn);
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_EQ(pt.Collect(kBase, kBase + 1), (Entries{{kBase, kZeroPfn}}));
}

TEST(PageTableTest, DirtyBitTravelsWithTheEntryButNeverInThePfn) {
  PageTable pt;
  EXPECT_EQ(pt.Set(kBase + 1, 7, /*dirty=*/true), kNoPfn);
  EXPECT_TRUE(pt.Dirty(kBase + 1));
  EXPECT_EQ(pt.Get(kBase + 1), 7u);  // the pfn without the bit
  EXPECT_EQ(pt.Collect(kBase, kBase + 2), (Entries{{kBase + 1, 7}}));
  pt.ForEach(kBase, kBase + 2, [](Vpn, Pfn p) { EXPECT_EQ(p, 7u); });
  // Set() returns the old pfn without the bit, and a plain Set() is clean.
  EXPECT_EQ(pt.Set(kBase + 1, 9), 7u);
  EXPECT_FALSE(pt.Dirty(kBase + 1));
  EXPECT_EQ(pt.present(), 1u);
  // pte_mkdirty / pte_mkclean.
  pt.SetDirty(kBase + 1, true);
  EXPECT_TRUE(pt.Dirty(kBase + 1));
  EXPECT_EQ(pt.Get(kBase + 1), 9u);
  pt.SetDirty(kBase + 1, true);  // idempotent
  EXPECT_TRUE(pt.Dirty(kBase + 1));
  pt.SetDirty(kBase + 1, false);
  EXPECT_FALSE(pt.Dirty(kBase + 1));
  EXPECT_EQ(pt.Get(kBase + 1), 9u);
  // Clearing a dirty entry clears the bit too.
  pt.SetDirty(kBase + 1, true);
  EXPECT_EQ(pt.Set(kBase + 1, kNoPfn), 9u);
  EXPECT_FALSE(pt.Dirty(kBase + 1));
  EXPECT_EQ(pt.present(), 0u);
}

TEST(PageTableTest, SetDirtyOnAnAbsentEntryIsANoOp) {
  PageTable pt;
  pt.SetDirty(kBase, true);  // no leaf at all
  EXPECT_EQ(pt.present(), 0u);
  EXPECT_FALSE(pt.Dirty(kBase));
  EXPECT_EQ(pt.Get(kBase), kNoPfn);
  pt.Set(kBase + 5, 3);
  pt.SetDirty(kBase + 6, true);  // absent entry in an existing leaf
  EXPECT_FALSE(pt.Dirty(kBase + 6));
  EXPECT_EQ(pt.Get(kBase + 6), kNoPfn);
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_EQ(pt.Collect(kBase, kBase + kLeaf), (Entries{{kBase + 5, 3}}));
}

TEST(PageTableTest, ADirtyEntryKeepsItsLeafAlive) {
  PageTable pt;
  pt.Set(kBase + 2, 4, true);
  pt.Set(kBase + 3, 5);
  pt.Set(kBase + 3, kNoPfn);  // the leaf still holds the dirty entry
  EXPECT_EQ(pt.present(), 1u);
  EXPECT_TRUE(pt.Dirty(kBase + 2));
  pt.Set(kBase + 2, kNoPfn);
  EXPECT_EQ(pt.present(), 0u);
  pt.Set(kBase + 2, 6);  // a fresh leaf: clean
  EXPECT_FALSE(pt.Dirty(kBase + 2));
}

TEST(PageTableTest, CollectAcrossLeafBoundaries) {
  PageTable pt;
  // Last entry of one leaf, first of the next, one in a leaf further away.
  pt.Set(kBase + kLeaf - 1, 11);
  pt.Set(kBase + kLeaf, 12);
  pt.Set(kBase + 3 * kLeaf + 7, 13);
  pt.Set(kBase - 1, 10);  // the leaf before the base
  EXPECT_EQ(pt.present(), 4u);
  EXPECT_EQ(pt.Collect(0, ~0ULL), (Entries{{kBase - 1, 10},
                                           {kBase + kLeaf - 1, 11},
                                           {kBase + kLeaf, 12},
                                           {kBase + 3 * kLeaf + 7, 13}}));
  // Half-open ranges ending and starting exactly on the boundary.
  EXPECT_EQ(pt.Collect(kBase, kBase + kLeaf), (Entries{{kBase + kLeaf - 1, 11}}));
  EXPECT_EQ(pt.Collect(kBase + kLeaf, kBase + 2 * kLeaf), (Entries{{kBase + kLeaf, 12}}));
  EXPECT_EQ(pt.Collect(kBase + kLeaf - 1, kBase + kLeaf + 1),
            (Entries{{kBase + kLeaf - 1, 11}, {kBase + kLeaf, 12}}));
  EXPECT_TRUE(pt.Collect(kBase + kLeaf + 1, kBase + 3 * kLeaf + 7).empty());
  EXPECT_EQ(pt.Collect(kBase + 3 * kLeaf + 7, kBase + 3 * kLeaf + 8),
            (Entries{{kBase + 3 * kLeaf + 7, 13}}));
  // Empty and inverted ranges.
  EXPECT_TRUE(pt.Collect(kBase + kLeaf, kBase + kLeaf).empty());
  EXPECT_TRUE(pt.Collect(kBase + 2 * kLeaf, kBase).empty());
}

TEST(PageTableTest, ForEachVisitsInAscendingOrderWithinTheRange) {
  PageTable pt;
  for (Vpn v : {kBase + 1000, kBase + 3, kBase + 511, kBase + 512, kBase + 2048})
    pt.Set(v, static_cast<Pfn>(v - kBase + 2));
  std::vector<Vpn> seen;
  pt.ForEach(kBase + 3, kBase + 2048, [&](Vpn v, Pfn p) {
    EXPECT_EQ(p, static_cast<Pfn>(v - kBase + 2));
    seen.push_back(v);
  });
  EXPECT_EQ(seen, (std::vector<Vpn>{kBase + 3, kBase + 511, kBase + 512, kBase + 1000}));
}

TEST(PageTableTest, ForEachNearTheTopOfTheAddressSpace) {
  PageTable pt;
  const Vpn top = ~0ULL - 1;  // last leaf of the 64-bit space
  pt.Set(top, 5);
  pt.Set(top - kLeaf, 6);
  EXPECT_EQ(pt.Collect(top - kLeaf, ~0ULL), (Entries{{top - kLeaf, 6}, {top, 5}}));
  EXPECT_EQ(pt.Collect(0, ~0ULL).size(), 2u);
}

TEST(PageTableTest, EmptyLeavesAreFreed) {
  // Leaves are not observable directly; a freed leaf must behave exactly like a
  // never-allocated one, and refilling it must work.
  PageTable pt;
  for (Vpn i = 0; i < kLeaf; ++i) pt.Set(kBase + i, 2 + static_cast<Pfn>(i));
  EXPECT_EQ(pt.present(), kLeaf);
  for (Vpn i = 0; i < kLeaf; ++i) pt.Set(kBase + i, kNoPfn);
  EXPECT_EQ(pt.present(), 0u);
  EXPECT_TRUE(pt.Collect(kBase, kBase + kLeaf).empty());
  EXPECT_EQ(pt.Get(kBase + 17), kNoPfn);
  // A new entry in the freed leaf starts from a clean (all-absent) leaf.
  pt.Set(kBase + 17, 99);
  EXPECT_EQ(pt.Collect(kBase, kBase + kLeaf), (Entries{{kBase + 17, 99}}));
  EXPECT_EQ(pt.present(), 1u);
}

// Random Set()s and SetDirty()s against std::maps, checking Get, Dirty, present,
// Collect, ForEach.
TEST(PageTableTest, MatchesAMapUnderRandomUpdates) {
  std::mt19937_64 rng(12345);
  PageTable pt;
  std::map<Vpn, Pfn> ref;
  // Three leaves plus their borders, so that boundaries and leaf frees are hit often.
  auto addr = [&] { return kBase - 4 + rng() % (3 * kLeaf + 8); };
  std::map<Vpn, bool> dirty;
  for (int step = 0; step < 20000; ++step) {
    Vpn v = addr();
    if (rng() % 5 == 0) {  // pte_mkdirty / pte_mkclean, present or not
      bool d = rng() % 2;
      pt.SetDirty(v, d);
      if (ref.count(v)) dirty[v] = d;
      ASSERT_EQ(pt.Dirty(v), ref.count(v) ? d : false) << "step " << step;
      ASSERT_EQ(pt.present(), ref.size());
      continue;
    }
    Pfn p = (rng() % 3 == 0) ? kNoPfn : static_cast<Pfn>(1 + rng() % 50);
    bool d = p != kNoPfn && rng() % 2;
    Pfn want_old = ref.count(v) ? ref[v] : kNoPfn;
    ASSERT_EQ(pt.Set(v, p, d), want_old) << "step " << step;
    if (p == kNoPfn) {
      ref.erase(v);
      dirty.erase(v);
    } else {
      ref[v] = p;
      dirty[v] = d;
    }
    ASSERT_EQ(pt.present(), ref.size());
    ASSERT_EQ(pt.Dirty(v), d);
    if (step % 97 == 0) {
      Vpn s = addr(), e = addr();
      if (s > e) std::swap(s, e);
      Entries want;
      for (auto it = ref.lower_bound(s); it != ref.end() && it->first < e; ++it)
        want.emplace_back(it->first, it->second);
      ASSERT_EQ(pt.Collect(s, e), want);
      Entries via_foreach;
      pt.ForEach(s, e, [&](Vpn a, Pfn b) { via_foreach.emplace_back(a, b); });
      ASSERT_EQ(via_foreach, want);
      for (Vpn a = s; a < s + 40; ++a) {
        ASSERT_EQ(pt.Get(a), ref.count(a) ? ref[a] : kNoPfn);
        ASSERT_EQ(pt.Dirty(a), ref.count(a) ? dirty[a] : false);
      }
    }
  }
  // Drain everything: every leaf must go.
  for (auto [v, p] : std::map<Vpn, Pfn>(ref)) pt.Set(v, kNoPfn);
  EXPECT_EQ(pt.present(), 0u);
  EXPECT_TRUE(pt.Collect(0, ~0ULL).empty());
}

}  // namespace
}  // namespace rmaplab
