// Tests of the intrusive augmented interval tree (rmap/interval_tree.h), against a
// brute-force vector of items.
#include "rmap/interval_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#ifdef RMAPLAB_HAVE_RAPIDCHECK
#include <rapidcheck/gtest.h>
#endif

namespace rmaplab {
namespace {

struct Item {
  Item() = default;
  Item(uint64_t s, uint64_t l, uint64_t i) : start(s), last(l), id(i) {}
  uint64_t start = 0;
  uint64_t last = 0;
  uint64_t id = 0;
  IntervalNode<Item> node;
};

using Tree = IntervalTree<Item>;

bool Before(const Item* a, const Item* b) {
  return a->start != b->start ? a->start < b->start : a->id < b->id;
}

// The items of `tree` overlapping [first, last], in the order the tree yields them.
std::vector<Item*> Query(const Tree& tree, uint64_t first, uint64_t last,
                         size_t* touched = nullptr) {
  std::vector<Item*> out;
  size_t n = tree.ForEachOverlapping(first, last, [&](Item* it) { out.push_back(it); });
  if (touched) *touched = n;
  return out;
}

// What Query() must return: the overlapping items of `all`, sorted by (start, id).
std::vector<Item*> BruteQuery(const std::vector<Item*>& all, uint64_t first, uint64_t last) {
  std::vector<Item*> out;
  for (Item* it : all)
    if (it->start <= last && it->last >= first) out.push_back(it);
  std::sort(out.begin(), out.end(), Before);
  return out;
}

std::vector<Item*> All(const Tree& tree) {
  std::vector<Item*> out;
  tree.ForEach([&](Item* it) { out.push_back(it); });
  return out;
}

std::vector<uint64_t> Ids(const std::vector<Item*>& items) {
  std::vector<uint64_t> ids;
  for (const Item* it : items) ids.push_back(it->id);
  return ids;
}

TEST(IntervalTree, EmptyTree) {
  Tree tree;
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_TRUE(tree.Validate());
  size_t touched = 99;
  EXPECT_TRUE(Query(tree, 0, std::numeric_limits<uint64_t>::max(), &touched).empty());
  EXPECT_EQ(touched, 0u);
  Item a{1, 2, 1};
  EXPECT_FALSE(tree.Contains(&a));
}

TEST(IntervalTree, BoundsAreInclusive) {
  Tree tree;
  Item a{5, 10, 1};
  tree.Insert(&a);
  EXPECT_FALSE(tree.empty());
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(Ids(Query(tree, 10, 10)), std::vector<uint64_t>{1});
  EXPECT_EQ(Ids(Query(tree, 5, 5)), std::vector<uint64_t>{1});
  EXPECT_EQ(Ids(Query(tree, 0, 5)), std::vector<uint64_t>{1});
  EXPECT_EQ(Ids(Query(tree, 10, 20)), std::vector<uint64_t>{1});
  EXPECT_EQ(Ids(Query(tree, 0, 100)), std::vector<uint64_t>{1});
  EXPECT_TRUE(Query(tree, 0, 4).empty());
  EXPECT_TRUE(Query(tree, 11, 20).empty());
  EXPECT_TRUE(Query(tree, 7, 6).empty());  // an empty query range
}

TEST(IntervalTree, OrdersByStartThenId) {
  Tree tree;
  std::deque<Item> items = {{3, 9, 7}, {3, 4, 2}, {1, 20, 9}, {3, 3, 5}, {0, 0, 8}, {8, 9, 1}};
  for (Item& it : items) tree.Insert(&it);
  EXPECT_TRUE(tree.Validate());
  EXPECT_EQ(Ids(All(tree)), (std::vector<uint64_t>{8, 9, 2, 5, 7, 1}));
  EXPECT_EQ(Ids(Query(tree, 3, 3)), (std::vector<uint64_t>{9, 2, 5, 7}));
  EXPECT_EQ(Ids(Query(tree, 9, 9)), (std::vector<uint64_t>{9, 7, 1}));
  EXPECT_EQ(Ids(Query(tree, 21, 30)), std::vector<uint64_t>{});
}

TEST(IntervalTree, EraseAndContains) {
  Tree tree;
  std::deque<Item> items;
  for (uint64_t i = 0; i < 32; ++i) items.push_back({i, i + 3, i + 1});
  for (Item& it : items) tree.Insert(&it);
  for (size_t i = 0; i < items.size(); i += 3) {
    ASSERT_TRUE(tree.Contains(&items[i]));
    tree.Erase(&items[i]);
    EXPECT_FALSE(tree.Contains(&items[i]));
    EXPECT_TRUE(tree.Validate());
  }
  EXPECT_EQ(tree.size(), 32u - 11u);
  // [10, 10] overlaps items starting at 7..10; 9 (index 9) was erased.
  EXPECT_EQ(Ids(Query(tree, 10, 10)), (std::vector<uint64_t>{8, 9, 11}));
  for (Item& it : items)
    if (tree.Contains(&it)) tree.Erase(&it);
  EXPECT_TRUE(tree.empty());
  EXPECT_TRUE(tree.Validate());
}

// anon_vma_interval_tree_pre_update_vma / post_update_vma: erase, rekey, reinsert.
TEST(IntervalTree, RekeyByEraseAndInsert) {
  Tree tree;
  Item a{0, 9, 1}, b{10, 19, 2}, c{20, 29, 3};
  tree.Insert(&a);
  tree.Insert(&b);
  tree.Insert(&c);
  tree.Erase(&b);
  b.start = 0;
  b.last = 100;
  tree.Insert(&b);
  EXPECT_TRUE(tree.Validate());
  EXPECT_EQ(Ids(Query(tree, 50, 50)), std::vector<uint64_t>{2});
  EXPECT_EQ(Ids(Query(tree, 5, 25)), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(IntervalTree, ExtremeKeys) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  Tree tree;
  Item a{kMax - 1, kMax, 1}, b{0, 0, 2}, c{0, kMax, 3};
  tree.Insert(&a);
  tree.Insert(&b);
  tree.Insert(&c);
  EXPECT_TRUE(tree.Validate());
  EXPECT_EQ(Ids(Query(tree, 0, kMax)), (std::vector<uint64_t>{2, 3, 1}));
  EXPECT_EQ(Ids(Query(tree, kMax, kMax)), (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(Ids(Query(tree, 1, kMax - 2)), std::vector<uint64_t>{3});
}

// Random operations with a fixed seed (also runs without rapidcheck).
TEST(IntervalTree, RandomAgainstBruteForce) {
  std::mt19937_64 rng(12345);
  std::deque<Item> storage;
  std::vector<Item*> in;
  Tree tree;
  uint64_t next_id = 1;
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(rng() % 4);
    if (op == 0 || in.size() < 8) {
      uint64_t start = rng() % 1000;
      storage.emplace_back(start, start + rng() % 50, next_id++);
      tree.Insert(&storage.back());
      in.push_back(&storage.back());
    } else if (op == 1) {
      size_t i = rng() % in.size();
      tree.Erase(in[i]);
      std::swap(in[i], in.back());
      in.pop_back();
    } else {
      uint64_t first = rng() % 1100;
      uint64_t last = first + (op == 2 ? 0 : rng() % 100);
      ASSERT_EQ(Query(tree, first, last), BruteQuery(in, first, last)) << "step " << step;
    }
    ASSERT_EQ(tree.size(), in.size());
    if (step % 97 == 0) {
      ASSERT_TRUE(tree.Validate()) << "step " << step;
    }
  }
  EXPECT_TRUE(tree.Validate());
  std::sort(in.begin(), in.end(), Before);
  EXPECT_EQ(All(tree), in);
}

// 100k disjoint intervals inserted in ascending order (the worst case for an unbalanced
// tree): a point query touches O(log n) nodes, a range query O(log n + k).
TEST(IntervalTree, LargeTreeQueriesAreLogarithmic) {
  constexpr uint64_t kN = 100000;
  std::vector<Item> items(kN);
  Tree tree;
  for (uint64_t i = 0; i < kN; ++i) {
    items[i] = Item(10 * i, 10 * i + 4, i + 1);
    tree.Insert(&items[i]);
  }
  ASSERT_TRUE(tree.Validate());
  ASSERT_EQ(tree.size(), kN);

  size_t max_hit = 0, max_miss = 0, sum_hit = 0, queries = 0;
  std::mt19937_64 rng(7);
  for (int q = 0; q < 10000; ++q) {
    uint64_t i = rng() % kN;
    size_t touched = 0;
    std::vector<Item*> hit = Query(tree, 10 * i + 2, 10 * i + 2, &touched);  // inside item i
    ASSERT_EQ(hit.size(), 1u);
    ASSERT_EQ(hit[0], &items[i]);
    max_hit = std::max(max_hit, touched);
    sum_hit += touched;
    ++queries;
    std::vector<Item*> miss = Query(tree, 10 * i + 7, 10 * i + 8, &touched);  // in a gap
    ASSERT_TRUE(miss.empty());
    max_miss = std::max(max_miss, touched);
  }
  // Range queries returning k items.
  size_t max_range_excess = 0;
  for (uint64_t k : {10u, 100u, 1000u}) {
    uint64_t i = rng() % (kN - k);
    size_t touched = 0;
    std::vector<Item*> hit = Query(tree, 10 * i, 10 * (i + k - 1) + 4, &touched);
    ASSERT_EQ(hit.size(), k);
    EXPECT_LE(touched, k + 100) << "k=" << k;
    max_range_excess = std::max(max_range_excess, touched - k);
    std::cout << "[ info ] range query, k=" << k << ": " << touched << " nodes touched\n";
  }
  std::cout << "[ info ] point query over " << kN << " disjoint intervals: max "
            << max_hit << ", mean " << static_cast<double>(sum_hit) / queries
            << " nodes touched (hit); max " << max_miss << " (miss in a gap); log2(n) = "
            << std::log2(static_cast<double>(kN)) << "\n";
  EXPECT_LT(max_hit, 100u);
  EXPECT_LT(max_miss, 100u);
  RecordProperty("point_query_max_nodes", static_cast<int>(max_hit));
  RecordProperty("gap_query_max_nodes", static_cast<int>(max_miss));
  RecordProperty("range_query_max_excess_nodes", static_cast<int>(max_range_excess));

  // Erase every other item; the tree stays balanced and correct.
  for (uint64_t i = 0; i < kN; i += 2) tree.Erase(&items[i]);
  ASSERT_TRUE(tree.Validate());
  size_t touched = 0;
  EXPECT_EQ(Query(tree, 10 * 501 + 1, 10 * 501 + 1, &touched),
            std::vector<Item*>{&items[501]});
  EXPECT_LT(touched, 100u);
}

#ifdef RMAPLAB_HAVE_RAPIDCHECK
// Random inserts, erases, rekeys and queries against a brute-force vector; after every
// step the structure is valid and the size matches, and every query yields exactly the
// overlapping items in (start, id) order.
RC_GTEST_PROP(IntervalTreeProperty, MatchesBruteForce, ()) {
  std::deque<Item> storage;  // stable addresses
  std::vector<Item*> in;
  Tree tree;
  uint64_t next_id = 1;
  const int steps = *rc::gen::inRange(1, 200);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 4);
    if (op == 0 || in.empty()) {  // insert
      uint64_t start = *rc::gen::inRange<uint64_t>(0, 64);
      uint64_t len = *rc::gen::inRange<uint64_t>(0, 16);
      storage.emplace_back(start, start + len, next_id++);
      tree.Insert(&storage.back());
      in.push_back(&storage.back());
    } else if (op == 1) {  // erase
      size_t i = *rc::gen::inRange<size_t>(0, in.size());
      RC_ASSERT(tree.Contains(in[i]));
      tree.Erase(in[i]);
      RC_ASSERT(!tree.Contains(in[i]));
      std::swap(in[i], in.back());
      in.pop_back();
    } else if (op == 2) {  // rekey (vma_pre_update / vma_post_update)
      Item* it = in[*rc::gen::inRange<size_t>(0, in.size())];
      tree.Erase(it);
      it->start = *rc::gen::inRange<uint64_t>(0, 64);
      it->last = it->start + *rc::gen::inRange<uint64_t>(0, 16);
      tree.Insert(it);
    } else {  // query
      uint64_t first = *rc::gen::inRange<uint64_t>(0, 90);
      uint64_t last = first + *rc::gen::inRange<uint64_t>(0, 20);
      RC_ASSERT(Query(tree, first, last) == BruteQuery(in, first, last));
    }
    RC_ASSERT(tree.Validate());
    RC_ASSERT(tree.size() == in.size());
    RC_ASSERT(tree.empty() == in.empty());
  }
  std::sort(in.begin(), in.end(), Before);
  RC_ASSERT(All(tree) == in);
  for (const Item& it : storage)
    RC_ASSERT(tree.Contains(&it) == std::binary_search(in.begin(), in.end(), &it, Before));
}
#endif

}  // namespace
}  // namespace rmaplab
