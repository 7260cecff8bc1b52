// Where a layer call's threads keep their packed weight panels (packed_matrix.h PackedMatrix).
//
// A team thread that allocated its own panels did so from its own malloc arena, and glibc keeps a
// freed block's pages resident until the heap around it is trimmed: a bfloat16 GRU at H=1024
// (T=50, B=32) kept its forward's panels (3.75 MiB a thread) resident through the backward,
// beside the backward's own (3 MiB a thread), 14 MiB above its live bytes at its peak (54–58 MiB
// against 39). So a forward call sets out one block for every thread's panels from the calling
// thread before its parallel region, and its matrices take their ranges from it as they are built,
// from any thread in any order: freed, the block is one hole in the calling thread's heap, which
// its next allocations (the backward's workspaces and gradients) fill. And a backward in one
// window packs its W_hh into the storage of ∂L/∂W_hh, allocated already and written only by the
// products after the loop. A request a pool cannot meet gets storage of its own.
//
// Capability-free: no per-CPU code (tests/cpp/kernels/test_panel_pool.cpp).
#pragma once

#include "kernels/aligned_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace torch_ext::kernels {

class PanelPool {
 public:
  // Every take is rounded up to this, so that each range starts on a cache line.
  static constexpr size_t kAlignment = 64;

  PanelPool() = default;  // lends nothing
  // A block of `bytes` of its own (64-byte aligned: AlignedBuffer).
  explicit PanelPool(size_t bytes) : owned_(bytes), block_(owned_.data()), capacity_(bytes) {
    if (block_ == nullptr) {
      capacity_ = 0;
    }
  }
  // `bytes` of memory it does not own, from its first 64-byte boundary on (null lends nothing).
  PanelPool(void* block, size_t bytes) {
    if (block == nullptr) {
      return;
    }
    const auto address = reinterpret_cast<uintptr_t>(block);
    const size_t skip = (kAlignment - address % kAlignment) % kAlignment;
    if (skip < bytes) {
      block_ = static_cast<unsigned char*>(block) + skip;
      capacity_ = bytes - skip;
    }
  }
  PanelPool(const PanelPool&) = delete;
  PanelPool& operator=(const PanelPool&) = delete;

  // `bytes` (> 0) from the block, 64-byte aligned, or null when it has not that many left (every
  // later take may still be met if smaller; a take that fails uses nothing up).
  void* take(size_t bytes) {
    if (bytes == 0 || block_ == nullptr) {
      return nullptr;
    }
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (rounded > capacity_ - used) {
        return nullptr;
      }
    } while (!used_.compare_exchange_weak(used, used + rounded, std::memory_order_relaxed));
    return block_ + used;
  }

  size_t capacity() const { return capacity_; }

 private:
  AlignedBuffer<unsigned char> owned_;
  unsigned char* block_ = nullptr;
  size_t capacity_ = 0;
  std::atomic<size_t> used_{0};
};

// The bytes of a forward call's pool: the panels of the matrices one direction packs, whole
// (`matrix_bytes`, one entry a matrix: PackedMatrix::whole_bytes), for each team of a direction
// (its threads hold shares of them) or each batch slice (its thread holds them whole), and one
// alignment margin for each take (a matrix of no bytes takes nothing). 0 (no pool: each thread
// allocates its own) where there is nothing to pack (double keeps its weights as they are) and
// above kMaxForwardPoolBytes: glibc maps every block above its largest mmap threshold (32 MiB)
// anew at each call, faulting its pages in again, where per-thread blocks of a team's shares stay
// smaller.
constexpr size_t kMaxForwardPoolBytes = size_t(16) << 20;

inline size_t forward_pool_bytes(std::initializer_list<size_t> matrix_bytes, int64_t directions,
                                 int64_t slices, int64_t team_size) {
  size_t copy_bytes = 0;
  int64_t matrices = 0;
  for (const size_t bytes : matrix_bytes) {
    copy_bytes += bytes;
    matrices += bytes > 0 ? 1 : 0;
  }
  if (copy_bytes == 0) {
    return 0;
  }
  const int64_t copies = directions * std::max<int64_t>(1, slices);
  const int64_t holders = directions * (slices > 1 ? slices : std::max<int64_t>(1, team_size));
  const size_t bytes = static_cast<size_t>(copies) * copy_bytes +
                       static_cast<size_t>(holders * matrices) * PanelPool::kAlignment;
  return bytes <= kMaxForwardPoolBytes ? bytes : 0;
}

}  // namespace torch_ext::kernels
