// The seed's MyHook(a, b) in Go: MMCV's example custom hook, implementing before_run,
// after_run, before_epoch, after_epoch, before_iter and after_iter. It does exactly what the
// Rust example does, so the two give the same trace of calls and requests.
//
// Build: guest-sdk/go/build.sh guest-examples/go/my_hook guest-examples/go/my_hook/my_hook.wasm
package main

import (
	"fmt"

	"wit_component/weft"
)

type MyHook struct {
	A         int64  `json:"a"`
	B         string `json:"b"`
	itersSeen uint64 // not from the config: unexported fields are invisible to encoding/json
}

func (*MyHook) TypeName() string { return "MyHook" }

// Only the generic points: the host calls BeforeEpoch for train and val epochs alike, as
// MMCV's Hook does for a subclass that overrides before_epoch.

func (h *MyHook) BeforeRun(s *weft.RunState) error {
	weft.Infof("MyHook(a=%d, b=%s) before_run: %d iterations planned", h.A, h.B, s.MaxIters())
	return nil
}

func (h *MyHook) AfterRun(s *weft.RunState) error {
	weft.Infof("after_run at iter %d after %d iterations seen", s.Iter(), h.itersSeen)
	return nil
}

func (h *MyHook) BeforeEpoch(s *weft.RunState) error {
	weft.Infof("before_epoch %d (%s)", s.Epoch()+1, mode(s))
	return nil
}

func (h *MyHook) AfterEpoch(s *weft.RunState) error {
	weft.Infof("after_epoch %d (%s)", s.Epoch()+1, mode(s))
	return nil
}

func (h *MyHook) BeforeIter(*weft.RunState) error {
	h.itersSeen++
	return nil
}

func (h *MyHook) AfterIter(s *weft.RunState) error {
	// `a` scales a value that shows up in the logs next to the loss, under a name from `b`.
	if loss, ok := s.Output("loss"); ok {
		weft.LogScalar(fmt.Sprintf("%s_scaled_loss", h.B), loss*float64(h.A))
	}
	return nil
}

func mode(s *weft.RunState) string {
	switch s.Mode() {
	case weft.PhaseTrain:
		return "train"
	case weft.PhaseVal:
		return "val"
	}
	return "none"
}

func init() {
	weft.Register(func(config []byte) (*MyHook, error) {
		h := &MyHook{}
		return h, weft.DecodeConfig(config, h, "a", "b")
	})
}
