// Package weft writes weft hook plugins in Go.
//
// A plugin is a WebAssembly component for the `hook` world of weft's WIT package
// (wit/since_v0.2.0; Rank, WorldSize and LocalRank, in weft_ranks.go, are what 0.2.0 adds). This package hides the bindings that `wit-bindgen go` generates: a hook
// is a Go type with a TypeName method plus whichever hook-point methods it needs (the
// BeforeRunner, AfterIterer, ... interfaces below). Points it does not implement are never
// called, so they cost nothing; weft makes the specific points fall back to the generic ones
// as in MMCV's Hook (it calls BeforeEpoch before each epoch of a hook without
// BeforeTrainEpoch); returned errors and panics become the WIT err(string) result, which weft
// reports as "plugin X (file) failed in <point>: <message>" instead of a wasm trap.
//
//	package main
//
//	import "wit_component/weft"
//
//	type MyHook struct {
//		A int64 `json:"a"`
//	}
//
//	func (*MyHook) TypeName() string { return "MyHook" }
//
//	func (h *MyHook) BeforeRun(s *weft.RunState) error {
//		weft.Infof("a = %d, %d iterations planned", h.A, s.MaxIters())
//		return nil
//	}
//
//	func init() {
//		weft.Register(func(config []byte) (*MyHook, error) {
//			h := &MyHook{}
//			return h, weft.DecodeConfig(config, h, "a")
//		})
//	}
//
// The plugin is package main (with no main function: the bindings bring one) and imports
// this package as "wit_component/weft", because wit-bindgen names the Go module it generates
// wit_component.
//
// Build (go, wit-bindgen and weft on hand; see build.sh for where it looks):
//
//	guest-sdk/go/build.sh path/to/my_hook path/to/my_hook/my_hook.wasm
//
// build.sh generates the bindings into a temporary module, replaces the generated export
// stubs with weft_exports.go (which forwards to Exports below), copies in this package and
// the plugin's .go files, compiles a wasip1 reactor and turns it into a component with
// `weft plugin componentize`.
package weft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"wit_component/weft_plugin_runner"
	"wit_component/weft_plugin_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// HookPoint is a point of the training loop (the WIT enum hook-point).
type HookPoint = weft_plugin_types.HookPoint

// Phase is the runner's phase: PhaseNone (before the first phase), PhaseTrain or PhaseVal.
type Phase = weft_plugin_types.Phase

const (
	PhaseNone  = weft_plugin_types.Phase_None
	PhaseTrain = weft_plugin_types.Phase_Train
	PhaseVal   = weft_plugin_types.Phase_Val
)

// LogLevel is the severity of a line in the run log.
type LogLevel = weft_plugin_types.LogLevel

const (
	LevelDebug   = weft_plugin_types.LogLevel_Debug
	LevelInfo    = weft_plugin_types.LogLevel_Info
	LevelWarning = weft_plugin_types.LogLevel_Warning
	LevelError   = weft_plugin_types.LogLevel_Error
)

// RunState is what a hook can read about the run, valid only during the call it is passed
// to. The generated methods (Epoch, Iter, MaxIters, Lr, Mode, ...) are promoted; the ones
// returning a WIT option are shadowed below by Go's comma-ok form.
type RunState struct {
	*weft_plugin_runner.RunState
}

// Output returns a scalar output of the last train or val step ("loss"), if present.
func (s *RunState) Output(name string) (float64, bool) {
	return unpack(s.RunState.Output(name))
}

// Metric returns a metric of the latest evaluation ("top1_acc"), if any.
func (s *RunState) Metric(name string) (float64, bool) {
	return unpack(s.RunState.Metric(name))
}

// GradNorm returns the joint norm of all gradients; only at AfterBackward.
func (s *RunState) GradNorm(normType float64) (float64, bool) {
	return unpack(s.RunState.GradNorm(normType))
}

// MaxEpochs returns the epochs to train, for the epoch-based runner.
func (s *RunState) MaxEpochs() (uint64, bool) {
	return unpack(s.RunState.MaxEpochs())
}

func unpack[T any](o witTypes.Option[T]) (T, bool) {
	var zero T
	return o.SomeOr(zero), o.IsSome()
}

// Log writes a line to the run log under the plugin's name.
func Log(level LogLevel, message string) { weft_plugin_runner.Log(level, message) }

// Info logs at INFO.
func Info(message string) { Log(LevelInfo, message) }

// Infof logs at INFO, formatted as by fmt.Sprintf.
func Infof(format string, args ...any) { Log(LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf logs at WARNING, formatted as by fmt.Sprintf.
func Warnf(format string, args ...any) { Log(LevelWarning, fmt.Sprintf(format, args...)) }

// The runner's requests. They are queued and applied when the hook returns; an invalid one
// (a non-finite value, a group out of range, a point that does not allow it) fails the call.

// LogScalar records a named value for the loggers (averaged over the log interval).
func LogScalar(name string, value float64) { weft_plugin_runner.LogScalar(name, value) }

// SetLr sets the learning rate of a parameter group.
func SetLr(group uint32, lr float64) { weft_plugin_runner.SetLr(group, lr) }

// SetMomentum sets the momentum (or Adam's betas[0]) of a parameter group.
func SetMomentum(group uint32, momentum float64) {
	weft_plugin_runner.SetMomentum(group, momentum)
}

// RequestStop stops training after the current iteration; AfterRun still runs.
func RequestStop(reason string) { weft_plugin_runner.RequestStop(reason) }

// RequestCheckpoint saves a checkpoint when the hook returns.
func RequestCheckpoint() { weft_plugin_runner.RequestCheckpoint() }

// RequestEval runs the evaluation hook's evaluation when the hook returns.
func RequestEval() { weft_plugin_runner.RequestEval() }

// ScaleGrads multiplies every gradient by factor (only at AfterBackward).
func ScaleGrads(factor float64) { weft_plugin_runner.ScaleGrads(factor) }

// SkipStep skips this iteration's optimizer step (only at AfterBackward).
func SkipStep() { weft_plugin_runner.SkipStep() }

// Hook is a training hook. TypeName is the name configs use (`type = "MyHook"`); it is
// called on the zero value of the registered type (a nil pointer for *MyHook) before any
// config exists, so it must return a constant.
type Hook interface {
	TypeName() string
}

// One interface per hook point; a hook implements those it needs.
// @generated interfaces: from wit/ by `make sdk-tables`; do not edit
type (
	BeforeRunner       interface{ BeforeRun(*RunState) error }
	AfterRunner        interface{ AfterRun(*RunState) error }
	BeforeTrainEpocher interface{ BeforeTrainEpoch(*RunState) error }
	AfterTrainEpocher  interface{ AfterTrainEpoch(*RunState) error }
	BeforeValEpocher   interface{ BeforeValEpoch(*RunState) error }
	AfterValEpocher    interface{ AfterValEpoch(*RunState) error }
	BeforeTrainIterer  interface{ BeforeTrainIter(*RunState) error }
	AfterTrainIterer   interface{ AfterTrainIter(*RunState) error }
	BeforeValIterer    interface{ BeforeValIter(*RunState) error }
	AfterValIterer     interface{ AfterValIter(*RunState) error }
	BeforeEpocher      interface{ BeforeEpoch(*RunState) error }
	AfterEpocher       interface{ AfterEpoch(*RunState) error }
	AfterBackwarder    interface{ AfterBackward(*RunState) error }
	BeforeIterer       interface{ BeforeIter(*RunState) error }
	AfterIterer        interface{ AfterIter(*RunState) error }
)

// @end interfaces

// StateSaver keeps state (counters, best scores) in checkpoints. A nil slice means "nothing
// to keep"; JSON is the usual encoding.
type StateSaver interface {
	SaveState() ([]byte, error)
}

// StateLoader restores what SaveState returned when a run resumes.
type StateLoader interface {
	LoadState(state []byte) error
}

type hookFunc = func(*RunState) error

// @generated own: from wit/ by `make sdk-tables`; do not edit
// own returns h's own method for point, nil when h does not implement it.
func own(h Hook, point HookPoint) hookFunc {
	switch point {
	case weft_plugin_types.HookPoint_BeforeRun:
		if x, ok := h.(BeforeRunner); ok {
			return x.BeforeRun
		}
	case weft_plugin_types.HookPoint_AfterRun:
		if x, ok := h.(AfterRunner); ok {
			return x.AfterRun
		}
	case weft_plugin_types.HookPoint_BeforeTrainEpoch:
		if x, ok := h.(BeforeTrainEpocher); ok {
			return x.BeforeTrainEpoch
		}
	case weft_plugin_types.HookPoint_AfterTrainEpoch:
		if x, ok := h.(AfterTrainEpocher); ok {
			return x.AfterTrainEpoch
		}
	case weft_plugin_types.HookPoint_BeforeValEpoch:
		if x, ok := h.(BeforeValEpocher); ok {
			return x.BeforeValEpoch
		}
	case weft_plugin_types.HookPoint_AfterValEpoch:
		if x, ok := h.(AfterValEpocher); ok {
			return x.AfterValEpoch
		}
	case weft_plugin_types.HookPoint_BeforeTrainIter:
		if x, ok := h.(BeforeTrainIterer); ok {
			return x.BeforeTrainIter
		}
	case weft_plugin_types.HookPoint_AfterTrainIter:
		if x, ok := h.(AfterTrainIterer); ok {
			return x.AfterTrainIter
		}
	case weft_plugin_types.HookPoint_BeforeValIter:
		if x, ok := h.(BeforeValIterer); ok {
			return x.BeforeValIter
		}
	case weft_plugin_types.HookPoint_AfterValIter:
		if x, ok := h.(AfterValIterer); ok {
			return x.AfterValIter
		}
	case weft_plugin_types.HookPoint_BeforeEpoch:
		if x, ok := h.(BeforeEpocher); ok {
			return x.BeforeEpoch
		}
	case weft_plugin_types.HookPoint_AfterEpoch:
		if x, ok := h.(AfterEpocher); ok {
			return x.AfterEpoch
		}
	case weft_plugin_types.HookPoint_AfterBackward:
		if x, ok := h.(AfterBackwarder); ok {
			return x.AfterBackward
		}
	case weft_plugin_types.HookPoint_BeforeIter:
		if x, ok := h.(BeforeIterer); ok {
			return x.BeforeIter
		}
	case weft_plugin_types.HookPoint_AfterIter:
		if x, ok := h.(AfterIterer); ok {
			return x.AfterIter
		}
	}
	return nil
}

// @end own

// numPoints is the size of the WIT enum hook-point (after-iter is its last case).
const numPoints = int(weft_plugin_types.HookPoint_AfterIter) + 1

// points lists the points h implements itself, in the enum's order. Fallbacks are left out:
// the host calls a listed generic point in place of the unlisted specific ones, and listing
// only what exists saves a call per point the hook ignores.
func points(h Hook) []HookPoint {
	out := []HookPoint{}
	for p := range numPoints {
		if own(h, HookPoint(p)) != nil {
			out = append(out, HookPoint(p))
		}
	}
	return out
}

// DecodeConfig decodes the hook's JSON config into v (a pointer, usually to the hook or a
// config struct with `json` tags). Unknown keys are errors, as are missing required keys, so a
// typo in a config fails the run at init instead of being silently ignored. Fields absent from
// the config keep the values v already had: set defaults before calling.
func DecodeConfig(config []byte, v any, required ...string) error {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configError(err)
	}
	if dec.More() {
		return errors.New("bad plugin config: trailing data after the JSON object")
	}
	if len(required) > 0 {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(config, &keys); err != nil {
			return configError(err)
		}
		for _, k := range required {
			if _, ok := keys[k]; !ok {
				return fmt.Errorf("bad plugin config: missing field %q", k)
			}
		}
	}
	return nil
}

func configError(err error) error {
	return fmt.Errorf("bad plugin config: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// registration is what Register recorded; the component serves one hook type.
var registration struct {
	typeName string
	newHook  func(config []byte) (Hook, error)
	err      error
}

// instance is the hook Init built (a component instance serves one custom_hooks entry).
var instance Hook

// Register makes H the component's hook; call it from the plugin's init function. newHook
// builds the hook from its config (the custom_hooks table without type and priority, as a
// JSON object) and returns an error for a bad config.
func Register[H Hook](newHook func(config []byte) (H, error)) {
	var zero H
	if any(zero) == nil {
		// H is an interface type: there is no value to ask for the type name.
		registration.err = errors.New("weft.Register needs a concrete hook type, not an interface")
		return
	}
	if registration.newHook != nil {
		registration.err = errors.New("weft.Register called twice: a component serves one hook type")
		return
	}
	// A panic here would happen while the component is instantiated (package init), where it
	// can only trap: keep it for Init to report instead.
	defer func() {
		if r := recover(); r != nil {
			registration.err = fmt.Errorf("weft.Register: TypeName panicked on the zero value (it must return a constant): %v", r)
		}
	}()
	registration.typeName = zero.TypeName()
	registration.newHook = func(config []byte) (Hook, error) {
		h, err := newHook(config)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}

// Exports is what the generated bindings call (through weft_exports.go, which build.sh puts in
// place of the generated stubs). Plugins never use it.
var Exports exports

type exports struct{}

type unitResult = witTypes.Result[witTypes.Unit, string]

func (exports) TypeName() string { return registration.typeName }

func (exports) Init(config string) (result witTypes.Result[[]HookPoint, string]) {
	defer recoverInto(&result)
	switch {
	case registration.err != nil:
		return witTypes.Err[[]HookPoint](registration.err.Error())
	case registration.newHook == nil:
		return witTypes.Err[[]HookPoint]("no hook registered: call weft.Register from the plugin's init function")
	}
	h, err := registration.newHook([]byte(config))
	if err != nil {
		return witTypes.Err[[]HookPoint](err.Error())
	}
	instance = h
	return witTypes.Ok[[]HookPoint, string](points(h))
}

// Call runs the hook's method for point (nothing if it has none: weft calls only the points
// init listed, and applies MMCV's generic fallbacks itself).
func (exports) Call(point HookPoint, state *weft_plugin_runner.RunState) (result unitResult) {
	defer recoverInto(&result)
	// The canonical ABI makes the callee drop the borrowed handles it receives before it
	// returns (else the host traps: "borrow handles still remain at the end of the call"), and
	// the generated Go bindings leave that to us. Deferred, so it happens on a panic too.
	defer state.Drop()
	if instance == nil {
		return witTypes.Err[witTypes.Unit]("the hook is called before init")
	}
	if f := own(instance, point); f != nil {
		if err := f(&RunState{state}); err != nil {
			return witTypes.Err[witTypes.Unit](err.Error())
		}
	}
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

func (exports) SaveState() (result witTypes.Result[witTypes.Option[string], string]) {
	defer recoverInto(&result)
	saver, ok := instance.(StateSaver)
	if !ok {
		return witTypes.Ok[witTypes.Option[string], string](witTypes.None[string]())
	}
	data, err := saver.SaveState()
	switch {
	case err != nil:
		return witTypes.Err[witTypes.Option[string]](err.Error())
	case data == nil:
		return witTypes.Ok[witTypes.Option[string], string](witTypes.None[string]())
	}
	return witTypes.Ok[witTypes.Option[string], string](witTypes.Some(string(data)))
}

func (exports) LoadState(state string) (result unitResult) {
	defer recoverInto(&result)
	// A hook without state has nothing to restore (it saved none either).
	if loader, ok := instance.(StateLoader); ok {
		if err := loader.LoadState([]byte(state)); err != nil {
			return witTypes.Err[witTypes.Unit](err.Error())
		}
	}
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// recoverInto turns a panic in the plugin into the call's err result, so that weft reports
// the message (and where it happened) instead of a bare wasm trap. Deferred directly by each
// export, as recover only works there.
func recoverInto[T any](result *witTypes.Result[T, string]) {
	if r := recover(); r != nil {
		msg := fmt.Sprintf("panic: %v", r)
		if at := panicSite(); at != "" {
			msg += " (at " + at + ")"
		}
		*result = witTypes.Err[T](msg)
	}
}

// panicSite finds where the plugin panicked: the first frame below the panic machinery that
// is not in Go's runtime, the bindings or this package (a "nil handle" panic from a RunState
// kept past its call should point at the plugin's line, not at the bindings').
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if f.Function != "" && !isPlumbing(f.Function) {
			return fmt.Sprintf("%s:%d", trimPath(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

func isPlumbing(function string) bool {
	for _, prefix := range []string{
		"runtime.", "go.bytecodealliance.org/", "wit_component/weft.", "wit_component/weft_plugin_",
	} {
		if strings.HasPrefix(function, prefix) {
			return true
		}
	}
	return false
}

// trimPath keeps the file name: the directory is build.sh's temporary one.
func trimPath(file string) string {
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		return file[i+1:]
	}
	return file
}
