// The weft:plugin@0.2.0 surface of the SDK, in its own file: build.sh leaves it out of a build
// against 0.1.0, whose bindings have no `ranks` package, so the rest of the SDK serves both.

package weft

import "wit_component/weft_plugin_ranks"

// Rank is this process's rank in a data-parallel run, 0 to WorldSize()-1; rank 0 writes
// the run's files. A run of one process is rank 0 of 1.
func Rank() uint32 { return weft_plugin_ranks.Rank() }

// WorldSize is the number of ranks.
func WorldSize() uint32 { return weft_plugin_ranks.WorldSize() }

// LocalRank is the rank among this machine's ranks (which GPU it trains on).
func LocalRank() uint32 { return weft_plugin_ranks.LocalRank() }
