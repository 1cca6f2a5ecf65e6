// RankProbeGo: the Go SDK's weft.Rank(), weft.WorldSize() and weft.LocalRank() (weft:plugin
// 0.2.0), said before the run: rank 0 at INFO, the other ranks at WARNING (which they print).
// Built by the tests with guest-sdk/go/build.sh.
package main

import "wit_component/weft"

type RankProbeGo struct{}

func (*RankProbeGo) TypeName() string { return "RankProbeGo" }

func (*RankProbeGo) BeforeRun(*weft.RunState) error {
	say := weft.Infof
	if weft.Rank() != 0 {
		say = weft.Warnf
	}
	say("Go: rank %d of %d (local rank %d)", weft.Rank(), weft.WorldSize(), weft.LocalRank())
	return nil
}

func init() {
	weft.Register(func(config []byte) (*RankProbeGo, error) {
		h := &RankProbeGo{}
		return h, weft.DecodeConfig(config, h)
	})
}
