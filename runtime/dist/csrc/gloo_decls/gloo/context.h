// weft: declarations only (see algorithm.h). The one member an inline function of
// ProcessGroupGloo.hpp calls; libtorch defines it.
#pragma once
#include <chrono>
namespace gloo {
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
}  // namespace gloo
