"""RankProbePython: the Python SDK's rank(), world_size() and local_rank() (weft:plugin
0.2.0), said before the run: rank 0 at INFO, the other ranks at WARNING (which they print).
Built by the tests with guest-sdk/python/build.sh."""

import weft_plugin as weft


class RankProbePython(weft.Hook):
    TYPE_NAME = "RankProbePython"

    def before_run(self, s):
        rank = weft.rank()
        line = f"Python: rank {rank} of {weft.world_size()} (local rank {weft.local_rank()})"
        if rank == 0:
            weft.info(line)
        else:
            weft.warn(line)


Hooks = weft.export_hook(RankProbePython)
