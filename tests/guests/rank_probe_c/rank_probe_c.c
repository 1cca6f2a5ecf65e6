// RankProbeC: the C SDK's weft_rank(), weft_world_size() and weft_local_rank() (weft:plugin
// 0.2.0), said before the run: rank 0 at INFO, the other ranks at WARNING (which they print).
// Built by the tests with guest-sdk/c/build.sh.

#include <inttypes.h>

#include "weft_plugin.h"

const char *weft_type_name(void) { return "RankProbeC"; }

int weft_init(const char *config) {
  (void)config;
  return 0;
}

int weft_before_run(weft_state_t s) {
  (void)s;
  uint32_t rank = weft_rank();
  if (rank == 0) {
    weft_info("C: rank %" PRIu32 " of %" PRIu32 " (local rank %" PRIu32 ")", rank,
              weft_world_size(), weft_local_rank());
  } else {
    weft_warn("C: rank %" PRIu32 " of %" PRIu32 " (local rank %" PRIu32 ")", rank,
              weft_world_size(), weft_local_rank());
  }
  return 0;
}
