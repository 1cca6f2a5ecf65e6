// libtorch's fused optimizer kernels (the ones torch.optim uses with fused=True), which the
// C API that tch wraps does not expose. Each function returns nullptr on success or a
// malloc'd message (freed with weft_free) when libtorch throws.

#include <ATen/ATen.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::vector<at::Tensor> list(at::Tensor** ts, int64_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) out.push_back(*ts[i]);
  return out;
}

char* message(const char* what) {
  char* m = static_cast<char*>(std::malloc(std::strlen(what) + 1));
  if (m) std::strcpy(m, what);
  return m;
}

}  // namespace

extern "C" {

void weft_free(char* m) { std::free(m); }

char* weft_fused_sgd(at::Tensor** params, at::Tensor** grads, at::Tensor** bufs, int64_t n,
                     double weight_decay, double momentum, double lr, double dampening,
                     int nesterov, int maximize, int first_step) {
  try {
    auto p = list(params, n);
    auto g = list(grads, n);
    auto b = momentum != 0.0 ? list(bufs, n) : std::vector<at::Tensor>{};
    at::_fused_sgd_(p, g, b, weight_decay, momentum, lr, dampening, nesterov != 0, maximize != 0,
                    first_step != 0);
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

char* weft_fused_adam(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs,
                      at::Tensor** exp_avg_sqs, at::Tensor** max_exp_avg_sqs,
                      at::Tensor** steps, int64_t n, double lr, double beta1, double beta2,
                      double weight_decay, double eps, int amsgrad, int maximize,
                      int decoupled) {
  try {
    auto p = list(params, n);
    auto g = list(grads, n);
    auto m = list(exp_avgs, n);
    auto v = list(exp_avg_sqs, n);
    auto vmax = amsgrad ? list(max_exp_avg_sqs, n) : std::vector<at::Tensor>{};
    auto s = list(steps, n);
    if (decoupled) {
      at::_fused_adamw_(p, g, m, v, vmax, s, lr, beta1, beta2, weight_decay, eps, amsgrad != 0,
                        maximize != 0);
    } else {
      at::_fused_adam_(p, g, m, v, vmax, s, lr, beta1, beta2, weight_decay, eps, amsgrad != 0,
                       maximize != 0);
    }
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

}  // extern "C"
