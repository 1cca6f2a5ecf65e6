// TorchScript modules for weft: what tch's CModule does not expose. Loading on a device, the
// module tree with each module's class (for paramwise_cfg and the optimizer constructors),
// parameters and buffers as handles sharing the module's own tensors (so weft's optimizer
// steps the module in place and checkpoints hold its buffers), train/eval mode, the forward
// pass (or any method: a module may compute its own losses) and saving. Every entry point returns NULL or a malloc'd message (freed with
// weft_free) when libtorch throws.

#include <torch/script.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

char* message(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, text.c_str(), text.size() + 1);
  }
  return out;
}

// `__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d` -> `Conv2d`.
std::string class_name(const torch::jit::Module& m) {
  auto type = m.type();
  if (!type->name()) {
    return "Module";
  }
  std::string name = type->name()->name();
  return name;
}

int64_t int_attr(const torch::jit::Module& m, const char* name) {
  if (!m.hasattr(name)) {
    return -1;
  }
  auto v = m.attr(name);
  return v.isInt() ? v.toInt() : -1;
}

}  // namespace

struct WeftScript {
  torch::jit::Module module;
};

using weft_module_cb = void (*)(void* ctx, const char* path, const char* kind, int64_t in_channels,
                                int64_t groups);
using weft_tensor_cb = void (*)(void* ctx, const char* name, torch::Tensor* tensor, int buffer);

extern "C" char* weft_script_load(const char* path, int device_type, int device_index,
                                  WeftScript** out) {
  try {
    c10::Device device(static_cast<c10::DeviceType>(device_type),
                       static_cast<c10::DeviceIndex>(device_index));
    auto module = torch::jit::load(path, device);
    *out = new WeftScript{std::move(module)};
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

extern "C" void weft_script_free(WeftScript* s) { delete s; }

extern "C" char* weft_script_walk(WeftScript* s, weft_module_cb on_module, weft_tensor_cb on_tensor,
                                  void* ctx) {
  try {
    for (const auto& item : s->module.named_modules()) {
      on_module(ctx, item.name.c_str(), class_name(item.value).c_str(),
                int_attr(item.value, "in_channels"), int_attr(item.value, "groups"));
    }
    for (const auto& item : s->module.named_parameters(true)) {
      on_tensor(ctx, item.name.c_str(), new torch::Tensor(item.value), 0);
    }
    for (const auto& item : s->module.named_buffers(true)) {
      on_tensor(ctx, item.name.c_str(), new torch::Tensor(item.value), 1);
    }
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

extern "C" char* weft_script_train(WeftScript* s, int on) {
  try {
    s->module.train(on != 0);
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

using weft_entry_cb = void (*)(void* ctx, const char* key, torch::Tensor* tensor);

// Calls `method` with `n` tensors. A tensor result goes to `*out`; a dict of tensors (a
// model's losses) goes entry by entry to `on_entry`. Anything else is an error.
extern "C" char* weft_script_call(WeftScript* s, const char* method, torch::Tensor** inputs,
                                  int64_t n, torch::Tensor** out, weft_entry_cb on_entry,
                                  void* ctx) {
  try {
    auto m = s->module.find_method(method);
    if (!m) {
      return message(std::string("the module has no method `") + method + "`");
    }
    std::vector<c10::IValue> args;
    for (int64_t i = 0; i < n; ++i) {
      args.emplace_back(*inputs[i]);
    }
    auto result = (*m)(std::move(args));
    if (result.isTensor()) {
      *out = new torch::Tensor(result.toTensor());
      return nullptr;
    }
    if (result.isGenericDict()) {
      for (const auto& entry : result.toGenericDict()) {
        if (!entry.key().isString() || !entry.value().isTensor()) {
          return message(std::string("`") + method +
                         "` returned a dict that is not str -> Tensor");
        }
        on_entry(ctx, entry.key().toStringRef().c_str(), new torch::Tensor(entry.value().toTensor()));
      }
      return nullptr;
    }
    return message(std::string("`") + method + "` returned a " + result.tagKind() +
                   ", not a tensor or a dict of tensors");
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

extern "C" char* weft_script_save(WeftScript* s, const char* path) {
  try {
    s->module.save(path);
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}
