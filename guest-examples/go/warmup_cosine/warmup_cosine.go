// A custom LR policy as a hook: linear warmup, then cosine annealing, per iteration. It
// computes what MMCV's CosineAnnealingLrUpdaterHook with warmup = "linear" and
// by_epoch = false computes, term by term, and the same bits as the Rust example.
//
// Build: guest-sdk/go/build.sh guest-examples/go/warmup_cosine guest-examples/go/warmup_cosine/warmup_cosine.wasm
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"wit_component/weft"
)

type config struct {
	// Iterations of linear warmup (0: none).
	WarmupIters uint64 `json:"warmup_iters"`
	// The warmup starts at WarmupRatio * lr.
	WarmupRatio float64 `json:"warmup_ratio"`
	// The final lr as a fraction of the base lr (MMCV's min_lr_ratio) ...
	MinLrRatio *float64 `json:"min_lr_ratio"`
	// ... or as a value (min_lr).
	MinLr *float64 `json:"min_lr"`
}

// saved is the state that must survive a resume: the base lr of every group (MMCV keeps it
// in the optimizer as initial_lr).
type saved struct {
	BaseLr []float64 `json:"base_lr"`
}

type WarmupCosine struct {
	cfg   config
	saved saved
}

func (*WarmupCosine) TypeName() string { return "WarmupCosineLrHook" }

func newWarmupCosine(raw []byte) (*WarmupCosine, error) {
	cfg := config{WarmupRatio: 0.1}
	if err := weft.DecodeConfig(raw, &cfg); err != nil {
		return nil, err
	}
	if cfg.MinLr != nil && cfg.MinLrRatio != nil {
		return nil, errors.New("set only one of min_lr and min_lr_ratio")
	}
	if !(cfg.WarmupRatio > 0 && cfg.WarmupRatio <= 1) {
		return nil, fmt.Errorf("warmup_ratio must be in (0, 1], got %v", cfg.WarmupRatio)
	}
	// An empty, non-nil list saves as [] (not null), like the Rust plugin's state.
	return &WarmupCosine{cfg: cfg, saved: saved{BaseLr: []float64{}}}, nil
}

func (h *WarmupCosine) target(base float64) float64 {
	switch {
	case h.cfg.MinLr != nil:
		return *h.cfg.MinLr
	case h.cfg.MinLrRatio != nil:
		return base * *h.cfg.MinLrRatio
	}
	return 0
}

func (h *WarmupCosine) BeforeRun(s *weft.RunState) error {
	// A resumed run already has its base lr from the checkpoint.
	if len(h.saved.BaseLr) == 0 {
		h.saved.BaseLr = s.Lr()
	}
	return nil
}

func (h *WarmupCosine) BeforeTrainIter(s *weft.RunState) error {
	iter, maxIters := s.Iter(), s.MaxIters()
	for g, base := range h.saved.BaseLr {
		regular := annealingCos(base, h.target(base), float64(iter)/float64(maxIters))
		lr := regular
		if iter < h.cfg.WarmupIters {
			k := (1 - float64(iter)/float64(h.cfg.WarmupIters)) * (1 - h.cfg.WarmupRatio)
			lr = regular * (1 - k)
		}
		weft.SetLr(uint32(g), lr)
	}
	return nil
}

func (h *WarmupCosine) SaveState() ([]byte, error) {
	return json.Marshal(h.saved)
}

func (h *WarmupCosine) LoadState(state []byte) error {
	var s saved
	if err := json.Unmarshal(state, &s); err != nil {
		return fmt.Errorf("bad saved state: %w", err)
	}
	h.saved = s
	return nil
}

// The f64 nearest pi, typed so that every use is a float64 operation at run time.
const pi float64 = 3.141592653589793

// annealingCos is MMCV's annealing_cos(start, end, factor), with its operations in its order.
// The float64() conversion forbids Go from fusing the product into a multiply-add (the spec
// allows fusing x*y + z otherwise), which would round differently from the other languages.
func annealingCos(start, end, factor float64) float64 {
	cosOut := portableCos(pi*factor) + 1.0
	return end + float64(0.5*(start-end)*cosOut)
}

// portableCos is cosine on [0, pi] from basic IEEE operations only, so that this plugin in
// any language computes the same bits: libm cos (Go's math.Cos included) differs between
// languages in the last place. Reflect into [0, pi/2] (cos x = -cos(pi - x)), then the Taylor
// series in x^2 to the x^22 term by Horner's rule, its coefficients (-1)^k / (2k)! built by
// division.
func portableCos(x float64) float64 {
	y, sign := x, 1.0
	if x > pi/2 {
		y, sign = pi-x, -1.0
	}
	var coef [12]float64
	coef[0] = 1
	for k := 1; k < 12; k++ {
		coef[k] = -coef[k-1] / (float64(2*k-1) * float64(2*k))
	}
	y2 := y * y
	r := coef[11]
	for k := 10; k >= 0; k-- {
		r = float64(r*y2) + coef[k]
	}
	return sign * r
}

func init() { weft.Register(newWarmupCosine) }
