#include "ops/checks.h"

#include "ops/precision.h"

#include <c10/util/Exception.h>

#include <sstream>

namespace torch_ext::ops {

std::string format_sizes(c10::SymIntArrayRef sizes) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    out << (i > 0 ? ", " : "") << sizes[i];
  }
  out << "]";
  return out.str();
}

void check_floating_tensor(const char* op, const char* name, const at::Tensor& tensor) {
  TORCH_CHECK(tensor.defined(), op, ": expected ", name, " to be a tensor, got None");
  const auto dtype = tensor.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kBFloat16, op,
              ": expected ", name, " to be float32, float64 or bfloat16, got ", dtype);
}

void check_dim(const char* op, const char* name, const at::Tensor& tensor, int64_t dim,
               const char* layout) {
  TORCH_CHECK(tensor.dim() == dim, op, ": expected ", name, " to be ", dim, "-D ", layout,
              ", got a ", tensor.dim(), "-D tensor of shape ", format_sizes(tensor.sym_sizes()));
}

void check_sizes(const char* op, const char* name, const at::Tensor& tensor,
                 const std::vector<c10::SymInt>& expected) {
  const auto actual = tensor.sym_sizes();
  bool same = actual.size() == expected.size();
  for (size_t i = 0; same && i < expected.size(); ++i) {
    same = actual[i] == expected[i];
  }
  TORCH_CHECK(same, op, ": expected ", name, " of shape ", format_sizes(expected), ", got ",
              format_sizes(actual));
}

void check_like(const char* op, const char* name, const at::Tensor& tensor,
                const char* reference_name, const at::Tensor& reference) {
  TORCH_CHECK(tensor.defined(), op, ": expected ", name, " to be a tensor, got None");
  TORCH_CHECK(tensor.scalar_type() == reference.scalar_type(), op, ": expected ", name,
              " to have the dtype of ", reference_name, " (", reference.scalar_type(), "), got ",
              tensor.scalar_type());
  TORCH_CHECK(tensor.device() == reference.device(), op, ": expected ", name,
              " on the device of ", reference_name, " (", reference.device(), "), got ",
              tensor.device());
}

void check_workspace(const char* op, const char* name, const at::Tensor& tensor,
                     const at::Tensor& input, const std::vector<c10::SymInt>& expected) {
  check_workspace(op, name, tensor, input, expected, compute_type(input.scalar_type()));
}

void check_workspace(const char* op, const char* name, const at::Tensor& tensor,
                     const at::Tensor& input, const std::vector<c10::SymInt>& expected,
                     at::ScalarType dtype) {
  TORCH_CHECK(tensor.defined(), op, ": expected ", name, " to be a tensor, got None");
  TORCH_CHECK(tensor.scalar_type() == dtype, op, ": expected ", name, " to be ", dtype,
              " (what the forward saved for input of ", input.scalar_type(), "), got ",
              tensor.scalar_type());
  TORCH_CHECK(tensor.device() == input.device(), op, ": expected ", name,
              " on the device of input (", input.device(), "), got ", tensor.device());
  check_sizes(op, name, tensor, expected);
}

void check_batch_sizes_tensor(const char* op, const at::Tensor& batch_sizes,
                              const at::Tensor& input) {
  TORCH_CHECK(batch_sizes.dim() == 1, op, ": expected batch_sizes to be 1-D, got ",
              batch_sizes.dim(), "-D");
  TORCH_CHECK(batch_sizes.scalar_type() == at::kLong, op,
              ": expected batch_sizes to be int64, got ", batch_sizes.scalar_type());
  // Under fake tensors (torch.compile, torch.export, opcheck) the Meta kernels see every tensor,
  // batch_sizes too, on the meta device.
  TORCH_CHECK(batch_sizes.device().is_cpu() || batch_sizes.device() == input.device(), op,
              ": expected batch_sizes on the CPU, got ", batch_sizes.device());
}

std::vector<int64_t> checked_batch_sizes(const char* op, const at::Tensor& batch_sizes,
                                         int64_t rows) {
  TORCH_CHECK(batch_sizes.dim() == 1, op, ": expected batch_sizes to be 1-D, got ",
              batch_sizes.dim(), "-D");
  TORCH_CHECK(batch_sizes.scalar_type() == at::kLong, op,
              ": expected batch_sizes to be int64, got ", batch_sizes.scalar_type());
  TORCH_CHECK(batch_sizes.device().is_cpu(), op, ": expected batch_sizes on the CPU, got ",
              batch_sizes.device());
  TORCH_CHECK(batch_sizes.numel() > 0, op,
              ": expected sequence length to be larger than 0 (batch_sizes is empty)");
  const auto contiguous = batch_sizes.contiguous();
  const int64_t* data = contiguous.const_data_ptr<int64_t>();
  std::vector<int64_t> sizes(data, data + contiguous.numel());
  int64_t total = 0;
  for (size_t t = 0; t < sizes.size(); ++t) {
    TORCH_CHECK(sizes[t] > 0, op, ": expected every batch_sizes entry to be positive, got ",
                sizes[t], " at step ", t);
    TORCH_CHECK(t == 0 || sizes[t] <= sizes[t - 1], op,
                ": expected batch_sizes to be non-increasing, got ", sizes[t], " at step ", t,
                " after ", sizes[t - 1]);
    total += sizes[t];
  }
  TORCH_CHECK(total == rows, op, ": batch_sizes sum to ", total, " but the packed data has ",
              rows, " rows");
  return sizes;
}

}  // namespace torch_ext::ops
