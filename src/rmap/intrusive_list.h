// An intrusive doubly linked list: models the kernel's struct list_head embedded in
// the listed object (list_add, list_add_tail, list_del), so linking costs no allocation.
// Differs: the list knows its size, and iteration is by the element, not the link.
#pragma once

#include <cassert>
#include <cstddef>
#include <iterator>

namespace rmaplab {

template <typename T>
struct ListLink {
  T* next = nullptr;  // towards the tail
  T* prev = nullptr;  // towards the head
};

template <typename T, ListLink<T> T::*kLink>
class IntrusiveList {
 public:
  template <bool kForward>
  class Iter {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T*;
    using difference_type = std::ptrdiff_t;
    using pointer = T**;
    using reference = T*;
    Iter() = default;
    explicit Iter(T* e) : e_(e) {}
    T* operator*() const { return e_; }
    Iter& operator++() {
      e_ = kForward ? (e_->*kLink).next : (e_->*kLink).prev;
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++*this;
      return old;
    }
    bool operator==(const Iter& o) const { return e_ == o.e_; }
    bool operator!=(const Iter& o) const { return e_ != o.e_; }

   private:
    T* e_ = nullptr;
  };

  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  Iter<true> begin() const { return Iter<true>(head_); }  // head to tail
  Iter<true> end() const { return Iter<true>(); }
  Iter<false> rbegin() const { return Iter<false>(tail_); }  // tail to head
  Iter<false> rend() const { return Iter<false>(); }
  T* front() const { return head_; }
  T* back() const { return tail_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // list_add(): at the head.
  void push_front(T* e) {
    ListLink<T>& l = e->*kLink;
    l.prev = nullptr;
    l.next = head_;
    (head_ ? (head_->*kLink).prev : tail_) = e;
    head_ = e;
    ++size_;
  }
  // list_add_tail(): at the tail.
  void push_back(T* e) {
    ListLink<T>& l = e->*kLink;
    l.next = nullptr;
    l.prev = tail_;
    (tail_ ? (tail_->*kLink).next : head_) = e;
    tail_ = e;
    ++size_;
  }
  // list_del(): e must be on this list.
  void erase(T* e) {
    assert(size_ > 0);
    ListLink<T>& l = e->*kLink;
    (l.prev ? (l.prev->*kLink).next : head_) = l.next;
    (l.next ? (l.next->*kLink).prev : tail_) = l.prev;
    l.next = l.prev = nullptr;
    --size_;
  }
  // Forgets every element (they are the caller's; their links are left as they were).
  void clear() {
    head_ = tail_ = nullptr;
    size_ = 0;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rmaplab
