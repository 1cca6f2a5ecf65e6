// The component's exports: build.sh writes this file over the stubs that
// `wit-bindgen go --generate-stubs` generates (export_weft_plugin_hooks/wit_bindings.go), so
// every function of the WIT interface `hooks` forwards to the weft package. If the WIT grows a
// function, the build fails with "undefined: export_weft_plugin_hooks.X" until it is added
// here. Not part of the plugin: do not edit per plugin.

package export_weft_plugin_hooks

import (
	"wit_component/weft"
	"wit_component/weft_plugin_runner"
	"wit_component/weft_plugin_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

type (
	state  = *weft_plugin_runner.RunState
	result = witTypes.Result[witTypes.Unit, string]
)

func TypeName() string { return weft.Exports.TypeName() }

func Init(configJson string) witTypes.Result[[]weft_plugin_types.HookPoint, string] {
	return weft.Exports.Init(configJson)
}

// @generated exports: from wit/ by `make sdk-tables`; do not edit
func BeforeRun(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeRun, s)
}

func AfterRun(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterRun, s)
}

func BeforeTrainEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeTrainEpoch, s)
}

func AfterTrainEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterTrainEpoch, s)
}

func BeforeValEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeValEpoch, s)
}

func AfterValEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterValEpoch, s)
}

func BeforeTrainIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeTrainIter, s)
}

func AfterTrainIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterTrainIter, s)
}

func BeforeValIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeValIter, s)
}

func AfterValIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterValIter, s)
}

func BeforeEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeEpoch, s)
}

func AfterEpoch(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterEpoch, s)
}

func AfterBackward(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterBackward, s)
}

func BeforeIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_BeforeIter, s)
}

func AfterIter(s state) result {
	return weft.Exports.Call(weft_plugin_types.HookPoint_AfterIter, s)
}

// @end exports

func SaveState() witTypes.Result[witTypes.Option[string], string] {
	return weft.Exports.SaveState()
}

func LoadState(s string) result { return weft.Exports.LoadState(s) }
