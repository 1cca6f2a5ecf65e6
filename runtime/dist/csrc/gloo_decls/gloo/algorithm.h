// weft: declarations only. libtorch_cpu contains Gloo compiled in, but the torch wheel ships
// none of Gloo's headers, and c10d's ProcessGroupGloo.hpp names a few Gloo types. It only
// holds them behind shared_ptr/unique_ptr (so their size never enters its layout) and derives
// one store adapter whose methods live in libtorch. These files declare just enough for that
// header to compile; weft never creates or touches a Gloo object itself.
#pragma once
#include "gloo/context.h"
