// Scratch for packed operands: uninitialised memory from ATen's CPU allocator, 64-byte aligned,
// so a panel (a multiple of 64 bytes) starts on a cache line and a vector load of it never splits
// one. The users write every element they read; a zero-filled std::vector cost a pass over the
// memory and, above glibc's mmap threshold, was only 16-byte aligned.
#pragma once

#include <c10/core/impl/alloc_cpu.h>

#include <cstddef>
#include <memory>

namespace torch_ext::kernels {

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { allocate(count); }

  // Replaces the buffer with `count` uninitialised elements.
  void allocate(size_t count) {
    data_.reset(count > 0 ? static_cast<T*>(c10::alloc_cpu(count * sizeof(T))) : nullptr);
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(T* pointer) const { c10::free_cpu(pointer); }
  };
  std::unique_ptr<T[], Free> data_;
};

}  // namespace torch_ext::kernels
