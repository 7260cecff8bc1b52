// The row layout of a sequence (kernels::SequenceLayout) together with the storage it points to.
#pragma once

#include "kernels/sequence.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace torch_ext::ops {

class SequenceRows {
 public:
  // A padded [steps, batch, ·] sequence: every step holds every row.
  static SequenceRows padded(int64_t steps, int64_t batch) {
    return SequenceRows(std::vector<int64_t>(static_cast<size_t>(steps), batch), true);
  }
  // A PackedSequence's rows (batch_sizes already checked).
  static SequenceRows packed(std::vector<int64_t> batch_sizes) {
    return SequenceRows(std::move(batch_sizes), false);
  }

  kernels::SequenceLayout layout() const {
    kernels::SequenceLayout layout;
    layout.steps = static_cast<int64_t>(batch_sizes_.size());
    layout.batch = batch_sizes_.empty() ? 0 : batch_sizes_.front();
    layout.rows = rows_;
    layout.batch_sizes = batch_sizes_.data();
    layout.offsets = offsets_.data();
    layout.uniform = uniform_;
    return layout;
  }

 private:
  SequenceRows(std::vector<int64_t> batch_sizes, bool uniform)
      : batch_sizes_(std::move(batch_sizes)), offsets_(batch_sizes_.size()), uniform_(uniform) {
    for (size_t t = 0; t < batch_sizes_.size(); ++t) {
      offsets_[t] = rows_;
      rows_ += batch_sizes_[t];
    }
  }

  std::vector<int64_t> batch_sizes_;
  std::vector<int64_t> offsets_;
  int64_t rows_ = 0;
  bool uniform_ = true;
};

}  // namespace torch_ext::ops
