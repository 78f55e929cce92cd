// Tests of VmaTree (core/vma.h): the ordered VMA set of one mm. Unit tests of each
// lookup, then a rapidcheck property that checks every lookup against a brute-force
// std::vector model after random inserts, erases and re-keys.
#include "core/vma.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#ifdef RMAPLAB_HAVE_RAPIDCHECK
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#endif

namespace rmaplab {
namespace {

// Owns the Vma structs a tree points to (the tree never owns them).
class Vmas {
 public:
  Vma* Add(VmaTree& tree, Vpn start, Vpn end) {
    auto v = std::make_unique<Vma>();
    v->vm_start = start;
    v->vm_end = end;
    v->vm_pgoff = start;
    v->id = owned_.size() + 1;
    tree.Insert(v.get());
    owned_.push_back(std::move(v));
    return owned_.back().get();
  }

 private:
  std::vector<std::unique_ptr<Vma>> owned_;
};

// Ruler for the fixture below:
//   10   20      30  35      50  60
//   |-A--|       |-B-|-C-----|   |-D-> 70
class VmaTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = vmas_.Add(tree_, 10, 20);
    b_ = vmas_.Add(tree_, 30, 35);
    c_ = vmas_.Add(tree_, 35, 50);
    d_ = vmas_.Add(tree_, 60, 70);
  }
  VmaTree tree_;
  Vmas vmas_;
  Vma *a_ = nullptr, *b_ = nullptr, *c_ = nullptr, *d_ = nullptr;
};

TEST(VmaTreeEmpty, EveryLookupIsNull) {
  VmaTree tree;
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_EQ(tree.Find(0), nullptr);
  EXPECT_EQ(tree.Find(~0ULL), nullptr);
  EXPECT_EQ(tree.FindFrom(0), nullptr);
  EXPECT_EQ(tree.FindIntersection(0, ~0ULL), nullptr);
  EXPECT_EQ(tree.PrevOf(0), nullptr);
  EXPECT_EQ(tree.PrevOf(~0ULL), nullptr);
  EXPECT_EQ(tree.begin(), tree.end());
}

TEST_F(VmaTreeTest, FindReturnsTheContainingVmaOnly) {
  EXPECT_EQ(tree_.Find(9), nullptr);
  EXPECT_EQ(tree_.Find(10), a_);  // vm_start is inside
  EXPECT_EQ(tree_.Find(19), a_);
  EXPECT_EQ(tree_.Find(20), nullptr);  // vm_end is not
  EXPECT_EQ(tree_.Find(29), nullptr);
  EXPECT_EQ(tree_.Find(34), b_);
  EXPECT_EQ(tree_.Find(35), c_);  // adjacent VMAs: the upper one owns the boundary
  EXPECT_EQ(tree_.Find(49), c_);
  EXPECT_EQ(tree_.Find(50), nullptr);
  EXPECT_EQ(tree_.Find(69), d_);
  EXPECT_EQ(tree_.Find(70), nullptr);
  EXPECT_EQ(tree_.Find(0), nullptr);
}

TEST_F(VmaTreeTest, FindFromIsTheKernelsFindVma) {
  EXPECT_EQ(tree_.FindFrom(0), a_);
  EXPECT_EQ(tree_.FindFrom(10), a_);
  EXPECT_EQ(tree_.FindFrom(15), a_);   // inside: the VMA itself
  EXPECT_EQ(tree_.FindFrom(20), b_);   // at vm_end: the next one
  EXPECT_EQ(tree_.FindFrom(25), b_);   // in a gap: the next one
  EXPECT_EQ(tree_.FindFrom(35), c_);
  EXPECT_EQ(tree_.FindFrom(50), d_);
  EXPECT_EQ(tree_.FindFrom(69), d_);
  EXPECT_EQ(tree_.FindFrom(70), nullptr);
}

TEST_F(VmaTreeTest, FindIntersectionIsHalfOpen) {
  EXPECT_EQ(tree_.FindIntersection(0, 10), nullptr);  // ends where A starts
  EXPECT_EQ(tree_.FindIntersection(0, 11), a_);
  EXPECT_EQ(tree_.FindIntersection(20, 30), nullptr);  // exactly the gap
  EXPECT_EQ(tree_.FindIntersection(19, 30), a_);
  EXPECT_EQ(tree_.FindIntersection(20, 31), b_);
  EXPECT_EQ(tree_.FindIntersection(36, 100), c_);  // the first one intersecting
  EXPECT_EQ(tree_.FindIntersection(50, 60), nullptr);
  EXPECT_EQ(tree_.FindIntersection(70, 1000), nullptr);
  EXPECT_EQ(tree_.FindIntersection(0, ~0ULL), a_);
}

TEST_F(VmaTreeTest, PrevAndNextIgnoreGaps) {
  EXPECT_EQ(tree_.Prev(a_), nullptr);
  EXPECT_EQ(tree_.Next(a_), b_);
  EXPECT_EQ(tree_.Prev(b_), a_);
  EXPECT_EQ(tree_.Next(b_), c_);
  EXPECT_EQ(tree_.Prev(c_), b_);
  EXPECT_EQ(tree_.Next(c_), d_);
  EXPECT_EQ(tree_.Prev(d_), c_);
  EXPECT_EQ(tree_.Next(d_), nullptr);
}

TEST_F(VmaTreeTest, PrevOfFromAGapOrAVmaStart) {
  // The contract: addr is in a gap or at a vm_start (vma_prev from a gap).
  EXPECT_EQ(tree_.PrevOf(0), nullptr);
  EXPECT_EQ(tree_.PrevOf(10), nullptr);  // nothing before A
  EXPECT_EQ(tree_.PrevOf(20), a_);       // at A's end
  EXPECT_EQ(tree_.PrevOf(25), a_);
  EXPECT_EQ(tree_.PrevOf(30), a_);
  EXPECT_EQ(tree_.PrevOf(35), b_);  // C's start: B ends there
  EXPECT_EQ(tree_.PrevOf(50), c_);
  EXPECT_EQ(tree_.PrevOf(60), c_);
  EXPECT_EQ(tree_.PrevOf(70), d_);
  EXPECT_EQ(tree_.PrevOf(~0ULL), d_);
}

TEST_F(VmaTreeTest, EraseAndReinsert) {
  tree_.Erase(b_);
  EXPECT_EQ(tree_.size(), 3u);
  EXPECT_EQ(tree_.Find(30), nullptr);
  EXPECT_EQ(tree_.FindFrom(20), c_);
  EXPECT_EQ(tree_.Next(a_), c_);
  EXPECT_EQ(tree_.Prev(c_), a_);
  tree_.Insert(b_);
  EXPECT_EQ(tree_.size(), 4u);
  EXPECT_EQ(tree_.Next(a_), b_);
}

TEST_F(VmaTreeTest, RekeyAfterStartMoves) {
  // Grow C down over B's range after B is gone (what a right merge does).
  tree_.Erase(b_);
  Vpn old = c_->vm_start;
  c_->vm_start = 25;
  tree_.Rekey(c_, old);
  EXPECT_EQ(tree_.Find(25), c_);
  EXPECT_EQ(tree_.Find(24), nullptr);
  EXPECT_EQ(tree_.Next(a_), c_);
  EXPECT_EQ(tree_.map().count(35), 0u);
  EXPECT_EQ(tree_.map().at(25), c_);
  // Re-keying to the same start is a no-op.
  tree_.Rekey(c_, 25);
  EXPECT_EQ(tree_.map().at(25), c_);
  // Shrink A from below.
  old = a_->vm_start;
  a_->vm_start = 15;
  tree_.Rekey(a_, old);
  EXPECT_EQ(tree_.Find(12), nullptr);
  EXPECT_EQ(tree_.FindFrom(0), a_);
}

TEST_F(VmaTreeTest, IterationIsInAddressOrder) {
  std::vector<Vma*> seen;
  for (const auto& [key, v] : tree_) {
    EXPECT_EQ(key, v->vm_start);
    seen.push_back(v);
  }
  EXPECT_EQ(seen, (std::vector<Vma*>{a_, b_, c_, d_}));
}

#ifdef RMAPLAB_HAVE_RAPIDCHECK

// The brute-force model: the same VMAs in a vector, every query a linear scan.
struct Brute {
  std::vector<Vma*> v;

  std::vector<Vma*> Sorted() const {
    auto s = v;
    std::sort(s.begin(), s.end(), [](Vma* a, Vma* b) { return a->vm_start < b->vm_start; });
    return s;
  }
  Vma* Find(Vpn addr) const {
    for (Vma* x : v)
      if (x->vm_start <= addr && addr < x->vm_end) return x;
    return nullptr;
  }
  Vma* FindFrom(Vpn addr) const {
    Vma* best = nullptr;
    for (Vma* x : v)
      if (x->vm_end > addr && (!best || x->vm_start < best->vm_start)) best = x;
    return best;
  }
  Vma* FindIntersection(Vpn s, Vpn e) const {
    Vma* best = nullptr;
    for (Vma* x : v)
      if (x->vm_start < e && x->vm_end > s && (!best || x->vm_start < best->vm_start))
        best = x;
    return best;
  }
  Vma* Prev(const Vma* vma) const {
    Vma* best = nullptr;
    for (Vma* x : v)
      if (x->vm_start < vma->vm_start && (!best || x->vm_start > best->vm_start)) best = x;
    return best;
  }
  Vma* Next(const Vma* vma) const {
    Vma* best = nullptr;
    for (Vma* x : v)
      if (x->vm_start > vma->vm_start && (!best || x->vm_start < best->vm_start)) best = x;
    return best;
  }
  // From a gap or a vm_start: the last VMA ending at or before addr.
  Vma* PrevOf(Vpn addr) const {
    Vma* best = nullptr;
    for (Vma* x : v)
      if (x->vm_end <= addr && (!best || x->vm_start > best->vm_start)) best = x;
    return best;
  }
  bool Free(Vpn s, Vpn e, const Vma* except = nullptr) const {
    for (Vma* x : v)
      if (x != except && x->vm_start < e && x->vm_end > s) return false;
    return true;
  }
};

constexpr Vpn kSpace = 200;  // addresses 0..kSpace-1, so that VMAs collide often

RC_GTEST_PROP(VmaTreeProperty, MatchesBruteForceAfterRandomEdits, ()) {
  VmaTree tree;
  Brute brute;
  std::vector<std::unique_ptr<Vma>> owned;
  const int steps = *rc::gen::inRange(1, 120);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 10);
    if (op < 5 || brute.v.empty()) {
      // Insert a random non-overlapping VMA (skip if the slot is taken).
      Vpn s = *rc::gen::inRange<Vpn>(0, kSpace - 1);
      Vpn len = *rc::gen::inRange<Vpn>(1, 12);
      Vpn e = std::min<Vpn>(s + len, kSpace);
      if (!brute.Free(s, e)) continue;
      auto v = std::make_unique<Vma>();
      v->vm_start = s;
      v->vm_end = e;
      v->id = owned.size() + 1;
      tree.Insert(v.get());
      brute.v.push_back(v.get());
      owned.push_back(std::move(v));
    } else if (op < 7) {
      // Erase one.
      size_t i = *rc::gen::inRange<size_t>(0, brute.v.size());
      tree.Erase(brute.v[i]);
      brute.v.erase(brute.v.begin() + i);
    } else {
      // Re-key one: move/resize it into free space, as vma_set_range() does.
      size_t i = *rc::gen::inRange<size_t>(0, brute.v.size());
      Vma* x = brute.v[i];
      Vpn s = *rc::gen::inRange<Vpn>(0, kSpace - 1);
      Vpn len = *rc::gen::inRange<Vpn>(1, 12);
      Vpn e = std::min<Vpn>(s + len, kSpace);
      if (!brute.Free(s, e, x)) continue;
      Vpn old = x->vm_start;
      x->vm_start = s;
      x->vm_end = e;
      tree.Rekey(x, old);
    }

    // Structure: same set, sorted, keyed by vm_start.
    RC_ASSERT(tree.size() == brute.v.size());
    std::vector<Vma*> in_tree;
    for (const auto& [key, v] : tree) {
      RC_ASSERT(key == v->vm_start);
      in_tree.push_back(v);
    }
    RC_ASSERT(in_tree == brute.Sorted());
    // Every lookup at every address.
    for (Vpn a = 0; a <= kSpace; ++a) {
      RC_ASSERT(tree.Find(a) == brute.Find(a));
      RC_ASSERT(tree.FindFrom(a) == brute.FindFrom(a));
      if (!brute.Find(a) || brute.Find(a)->vm_start == a)
        RC_ASSERT(tree.PrevOf(a) == brute.PrevOf(a));
      for (Vpn len : {Vpn{1}, Vpn{3}, Vpn{17}})
        RC_ASSERT(tree.FindIntersection(a, a + len) == brute.FindIntersection(a, a + len));
    }
    for (Vma* x : brute.v) {
      RC_ASSERT(tree.Prev(x) == brute.Prev(x));
      RC_ASSERT(tree.Next(x) == brute.Next(x));
    }
  }
}

#endif  // RMAPLAB_HAVE_RAPIDCHECK

}  // namespace
}  // namespace rmaplab
