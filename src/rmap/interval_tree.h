// An intrusive augmented interval tree: the model of the kernel's interval_tree
// (include/linux/interval_tree_generic.h, mm/interval_tree.c) used for
// anon_vma->rb_root and address_space->i_mmap.
//
// Items are closed intervals [start, last] of uint64_t with a unique id that breaks ties
// between equal starts. The tree is intrusive: each item embeds an IntervalNode<T> (as
// struct anon_vma_chain embeds its `rb` node), so the tree allocates nothing and never
// owns its items. The balancing scheme is AVL rather than red-black (the query cost is
// the same O(log n + k); only the constant in the height bound differs: AVL height is
// at most 1.44 log2(n + 2), red-black 2 log2(n + 1)).
//
// Invariants (checked by Validate()):
//  1. BST order: in-order traversal is strictly ascending in (start, id).
//  2. Balance: node.height = 1 + max(height(left), height(right)) (empty = 0) and the
//     two child heights differ by at most one.
//  3. Augmentation: node.subtree_last = max(last of the node, subtree_last of each
//     child), i.e. the largest `last` in the node's subtree (the kernel's __subtree_last).
//  4. start <= last for every item; size() = number of items in the tree.
//
// An item's key (start, last, id) must not change while it is in the tree: Erase() it,
// change the key, Insert() it again (anon_vma_interval_tree_pre/post_update_vma()).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace rmaplab {

// The tree's links, embedded in each item as a member (by default named `node`).
// Meaningless while the item is not in a tree.
template <typename T>
struct IntervalNode {
  T* left = nullptr;
  T* right = nullptr;
  uint64_t subtree_last = 0;  // max `last` over this node's subtree
  int32_t height = 0;         // 1 for a leaf
};

// How the tree reads an item. The default expects members `start`, `last`, `id` and
// `IntervalNode<T> node`; specialize, or pass another traits type, for other layouts.
template <typename T>
struct IntervalTraits {
  static uint64_t Start(const T& t) { return t.start; }
  static uint64_t Last(const T& t) { return t.last; }
  static uint64_t Id(const T& t) { return t.id; }
  static IntervalNode<T>& Node(T& t) { return t.node; }
  static const IntervalNode<T>& Node(const T& t) { return t.node; }
};

template <typename T, typename Traits = IntervalTraits<T>>
class IntervalTree {
 public:
  IntervalTree() = default;
  // Intrusive: the nodes live in the items, so a copy could not own them.
  IntervalTree(const IntervalTree&) = delete;
  IntervalTree& operator=(const IntervalTree&) = delete;

  bool empty() const { return root_ == nullptr; }
  size_t size() const { return size_; }

  // Adds `item`, which must not be in any tree and must have a (start, id) key not
  // already present. O(log n).
  void Insert(T* item) {
    assert(Traits::Start(*item) <= Traits::Last(*item));
    root_ = InsertAt(root_, item);
    ++size_;
  }

  // Removes `item`, which must be in this tree. O(log n).
  void Erase(T* item) {
    bool found = false;
    root_ = EraseAt(root_, item, &found);
    assert(found && "IntervalTree::Erase: item not in the tree");
    if (found) --size_;
  }

  // Whether `item` itself (not merely an item with its key) is in the tree. O(log n).
  bool Contains(const T* item) const {
    const T* n = root_;
    while (n && n != item) n = Less(item, n) ? Node(n).left : Node(n).right;
    return n != nullptr;
  }

  // Calls fn(T*) for every item with start <= last_q && last >= first_q, in ascending
  // (start, id) order (the order of the kernel's interval_tree_iter_first/next).
  // Returns the number of tree nodes touched: O(log n + k) for k results. fn must not
  // modify the tree.
  template <class Fn>
  size_t ForEachOverlapping(uint64_t first_q, uint64_t last_q, Fn&& fn) const {
    size_t touched = 0;
    if (first_q <= last_q) Overlapping(root_, first_q, last_q, fn, &touched);
    return touched;
  }

  // Calls fn(T*) for every item in ascending (start, id) order. fn must not modify the
  // tree.
  template <class Fn>
  void ForEach(Fn&& fn) const {
    InOrder(root_, fn);
  }

  // Forgets every item (their nodes are left as they are). O(1).
  void Clear() {
    root_ = nullptr;
    size_ = 0;
  }

  // Checks invariants 1-4 (O(n)); for tests and debug checks.
  bool Validate() const {
    size_t count = 0;
    const T* prev = nullptr;
    return ValidateAt(root_, &prev, &count) >= 0 && count == size_;
  }

 private:
  static IntervalNode<T>& Node(T* t) { return Traits::Node(*t); }
  static const IntervalNode<T>& Node(const T* t) { return Traits::Node(*t); }
  static int32_t Height(const T* t) { return t ? Node(t).height : 0; }
  static int32_t Max(int32_t a, int32_t b) { return a < b ? b : a; }
  static uint64_t Max(uint64_t a, uint64_t b) { return a < b ? b : a; }

  // (start, id) order.
  static bool Less(const T* a, const T* b) {
    uint64_t sa = Traits::Start(*a), sb = Traits::Start(*b);
    return sa != sb ? sa < sb : Traits::Id(*a) < Traits::Id(*b);
  }

  // Recomputes n's height and subtree_last from its children (invariants 2 and 3 at n,
  // given that they hold in both subtrees).
  static void Update(T* n) {
    IntervalNode<T>& x = Node(n);
    x.height = 1 + Max(Height(x.left), Height(x.right));
    uint64_t m = Traits::Last(*n);
    if (x.left) m = Max(m, Node(x.left).subtree_last);
    if (x.right) m = Max(m, Node(x.right).subtree_last);
    x.subtree_last = m;
  }

  static T* RotateRight(T* n) {
    T* l = Node(n).left;
    Node(n).left = Node(l).right;
    Node(l).right = n;
    Update(n);
    Update(l);
    return l;
  }

  static T* RotateLeft(T* n) {
    T* r = Node(n).right;
    Node(n).right = Node(r).left;
    Node(r).left = n;
    Update(n);
    Update(r);
    return r;
  }

  // Restores invariants 2 and 3 at n, whose subtrees are valid AVL trees with heights
  // differing by at most two. Returns the subtree's new root.
  static T* Rebalance(T* n) {
    Update(n);
    IntervalNode<T>& x = Node(n);
    int32_t balance = Height(x.left) - Height(x.right);
    if (balance > 1) {
      if (Height(Node(x.left).left) < Height(Node(x.left).right))
        x.left = RotateLeft(x.left);
      return RotateRight(n);
    }
    if (balance < -1) {
      if (Height(Node(x.right).right) < Height(Node(x.right).left))
        x.right = RotateRight(x.right);
      return RotateLeft(n);
    }
    return n;
  }

  static T* InsertAt(T* n, T* item) {
    if (!n) {
      Node(item) = IntervalNode<T>{nullptr, nullptr, Traits::Last(*item), 1};
      return item;
    }
    assert(n != item && (Less(item, n) || Less(n, item)) && "duplicate (start, id)");
    if (Less(item, n)) {
      Node(n).left = InsertAt(Node(n).left, item);
    } else {
      Node(n).right = InsertAt(Node(n).right, item);
    }
    return Rebalance(n);
  }

  // Unlinks the leftmost node of n's subtree into *min; returns the new subtree root.
  static T* RemoveMin(T* n, T** min) {
    if (!Node(n).left) {
      *min = n;
      return Node(n).right;
    }
    Node(n).left = RemoveMin(Node(n).left, min);
    return Rebalance(n);
  }

  static T* EraseAt(T* n, T* item, bool* found) {
    if (!n) return nullptr;
    if (n == item) {
      *found = true;
      T* l = Node(n).left;
      T* r = Node(n).right;
      if (!l) return r;
      if (!r) return l;
      T* successor = nullptr;
      r = RemoveMin(r, &successor);
      Node(successor).left = l;
      Node(successor).right = r;
      return Rebalance(successor);
    }
    if (Less(item, n)) {
      Node(n).left = EraseAt(Node(n).left, item, found);
    } else {
      Node(n).right = EraseAt(Node(n).right, item, found);
    }
    return Rebalance(n);
  }

  // The kernel's interval_tree_subtree_search, written recursively: a subtree whose
  // subtree_last < first_q holds no overlap; once a node starts after last_q, so does
  // everything to its right.
  template <class Fn>
  static void Overlapping(const T* n, uint64_t first_q, uint64_t last_q, Fn& fn,
                          size_t* touched) {
    if (!n) return;
    ++*touched;
    const IntervalNode<T>& x = Node(n);
    if (x.subtree_last < first_q) return;
    Overlapping(x.left, first_q, last_q, fn, touched);
    if (Traits::Start(*n) > last_q) return;
    if (Traits::Last(*n) >= first_q) fn(const_cast<T*>(n));
    Overlapping(x.right, first_q, last_q, fn, touched);
  }

  template <class Fn>
  static void InOrder(const T* n, Fn& fn) {
    if (!n) return;
    InOrder(Node(n).left, fn);
    fn(const_cast<T*>(n));
    InOrder(Node(n).right, fn);
  }

  // Returns n's height if its subtree satisfies invariants 1-3 (*prev: the in-order
  // predecessor so far; *count: nodes seen), or -1.
  static int32_t ValidateAt(const T* n, const T** prev, size_t* count) {
    if (!n) return 0;
    const IntervalNode<T>& x = Node(n);
    int32_t hl = ValidateAt(x.left, prev, count);
    if (hl < 0) return -1;
    if (*prev && !Less(*prev, n)) return -1;
    if (Traits::Start(*n) > Traits::Last(*n)) return -1;
    *prev = n;
    ++*count;
    int32_t hr = ValidateAt(x.right, prev, count);
    if (hr < 0) return -1;
    if (hl - hr > 1 || hr - hl > 1 || x.height != 1 + Max(hl, hr)) return -1;
    uint64_t m = Traits::Last(*n);
    if (x.left) m = Max(m, Node(x.left).subtree_last);
    if (x.right) m = Max(m, Node(x.right).subtree_last);
    return x.subtree_last == m ? x.height : -1;
  }

  T* root_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rmaplab
