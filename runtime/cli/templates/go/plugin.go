// {{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
// `custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`.
package main

import (
	"errors"

	"wit_component/weft"
)

type {{type}} struct {
	// Report the loss every Interval training iterations.
	Interval uint64 `json:"interval"`
}

func (*{{type}}) TypeName() string { return "{{type}}" }

// weft calls only the points a hook implements.

func (h *{{type}}) BeforeRun(s *weft.RunState) error {
	weft.Infof("{{type}} ready: %d iterations planned", s.MaxIters())
	return nil
}

func (h *{{type}}) AfterTrainIter(s *weft.RunState) error {
	iter := s.Iter() + 1
	if loss, ok := s.Output("loss"); ok && iter%h.Interval == 0 {
		weft.Infof("iteration %d: loss %.4f", iter, loss)
	}
	return nil
}

func init() {
	weft.Register(func(config []byte) (*{{type}}, error) {
		h := &{{type}}{Interval: 50}
		if err := weft.DecodeConfig(config, h); err != nil {
			return nil, err
		}
		if h.Interval == 0 {
			return nil, errors.New("interval must be at least 1")
		}
		return h, nil
	})
}
