#include "rmap/intrusive_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace rmaplab {
namespace {

struct Item {
  int v = 0;
  ListLink<Item> link;
};
using List = IntrusiveList<Item, &Item::link>;

std::vector<int> Forward(const List& l) {
  std::vector<int> out;
  for (Item* i : l) out.push_back(i->v);
  return out;
}
std::vector<int> Backward(const List& l) {
  std::vector<int> out;
  for (auto it = l.rbegin(); it != l.rend(); ++it) out.push_back((*it)->v);
  return out;
}

TEST(IntrusiveList, PushFrontIsNewestFirstAndReverseIsOldestFirst) {
  Item a{1}, b{2}, c{3};
  List l;
  EXPECT_TRUE(l.empty());
  l.push_front(&a);
  l.push_front(&b);
  l.push_front(&c);
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(Forward(l), (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(Backward(l), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(l.front(), &c);
  EXPECT_EQ(l.back(), &a);
}

TEST(IntrusiveList, EraseHeadMiddleTailKeepsBothDirectionsConsistent) {
  Item it[5];
  List l;
  for (int i = 0; i < 5; ++i) {
    it[i].v = i;
    l.push_back(&it[i]);
  }
  l.erase(&it[2]);
  EXPECT_EQ(Forward(l), (std::vector<int>{0, 1, 3, 4}));
  l.erase(&it[0]);
  EXPECT_EQ(Forward(l), (std::vector<int>{1, 3, 4}));
  l.erase(&it[4]);
  EXPECT_EQ(Forward(l), (std::vector<int>{1, 3}));
  EXPECT_EQ(Backward(l), (std::vector<int>{3, 1}));
  l.erase(&it[1]);
  l.erase(&it[3]);
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  EXPECT_EQ(l.back(), nullptr);
  l.push_front(&it[4]);  // reusable after emptying
  EXPECT_EQ(Backward(l), (std::vector<int>{4}));
}

TEST(IntrusiveList, OneElementOnTwoListsThroughTwoLinks) {
  struct Two {
    int v;
    ListLink<Two> a, b;
  };
  Two x{1, {}, {}}, y{2, {}, {}};
  IntrusiveList<Two, &Two::a> la;
  IntrusiveList<Two, &Two::b> lb;
  la.push_back(&x);
  la.push_back(&y);
  lb.push_front(&x);
  lb.push_front(&y);
  EXPECT_EQ((*la.begin())->v, 1);
  EXPECT_EQ((*lb.begin())->v, 2);
  la.erase(&x);
  EXPECT_EQ(la.size(), 1u);
  EXPECT_EQ(lb.size(), 2u);
  EXPECT_EQ((*++lb.begin())->v, 1);
}

}  // namespace
}  // namespace rmaplab
