//! The host side of the `runner` interface, written once for every version: the run-state
//! reads (methods of the borrowed `run-state` resource in 0.1 and 0.2, free functions of the
//! interface since 0.3, valid only during a hook call either way) and the requests (checked
//! when made, applied when the hook returns). A version module expands them inside its own
//! `impl` blocks, with its own bindings' types in scope (`HookPoint`, `LogLevel`, `ParamStat`,
//! `Phase`, `point_of`, `level_of`), so the versions cannot drift apart.

/// The reads, as methods taking the borrowed handle (`run_state_reads!(_state:
/// Resource<RunState>)`) or as free functions (`run_state_reads!()`).
macro_rules! run_state_reads {
    ($($handle:ident: $ty:ty)?) => {
        fn point(&mut self $(, $handle: $ty)?) -> wasmtime::Result<HookPoint> {
            Ok(point_of(self.call()?.stage))
        }

        fn mode(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Phase> {
            Ok(match self.call()?.ctx().mode {
                None => Phase::None,
                Some(weft_config::schema::Phase::Train) => Phase::Train,
                Some(weft_config::schema::Phase::Val) => Phase::Val,
            })
        }

        fn epoch(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u64> {
            Ok(self.call()?.ctx().epoch)
        }

        fn iter(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u64> {
            Ok(self.call()?.ctx().iter)
        }

        fn inner_iter(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u64> {
            Ok(self.call()?.ctx().inner_iter)
        }

        fn max_epochs(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Option<u64>> {
            Ok(self.call()?.ctx().max_epochs)
        }

        fn max_iters(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u64> {
            Ok(self.call()?.ctx().max_iters)
        }

        fn data_loader_len(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u64> {
            Ok(self.call()?.ctx().data_loader_len as u64)
        }

        fn num_groups(&mut self $(, $handle: $ty)?) -> wasmtime::Result<u32> {
            Ok(self.call()?.ctx().engine.param_groups().len() as u32)
        }

        fn lr(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Vec<f64>> {
            Ok(self.call()?.ctx().current_lr())
        }

        fn momentum(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Vec<f64>> {
            Ok(self.call()?.ctx().current_momentum())
        }

        fn output(&mut self $(, $handle: $ty)?, name: String) -> wasmtime::Result<Option<f64>> {
            let ctx = self.call()?.ctx();
            Ok(ctx
                .outputs
                .as_ref()
                .and_then(|o| o.log_vars.iter().find(|(k, _)| *k == name))
                .map(|(_, v)| v.get()))
        }

        fn outputs(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Vec<(String, f64)>> {
            let ctx = self.call()?.ctx();
            Ok(ctx
                .outputs
                .as_ref()
                .map(|o| {
                    o.log_vars
                        .iter()
                        .map(|(k, v)| (k.clone(), v.get()))
                        .collect()
                })
                .unwrap_or_default())
        }

        fn metric(&mut self $(, $handle: $ty)?, name: String) -> wasmtime::Result<Option<f64>> {
            let ctx = self.call()?.ctx();
            Ok(ctx
                .last_eval
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v))
        }

        fn metrics(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Vec<(String, f64)>> {
            Ok(self.call()?.ctx().last_eval.clone())
        }

        fn grad_norm(&mut self $(, $handle: $ty)?, norm_type: f64) -> wasmtime::Result<Option<f64>> {
            if !(norm_type.is_infinite() || norm_type > 0.0) {
                wasmtime::bail!("grad-norm: norm type must be positive or infinity, got {norm_type}");
            }
            match self.call()?.grads() {
                Some(g) => g
                    .norm(norm_type)
                    .map_err(|e| wasmtime::format_err!("grad-norm: {}", e.message)),
                None => Ok(None),
            }
        }

        fn param_stats(&mut self $(, $handle: $ty)?) -> wasmtime::Result<Vec<ParamStat>> {
            let stats = match self.call()?.grads() {
                Some(g) => g
                    .stats()
                    .map_err(|e| wasmtime::format_err!("param-stats: {}", e.message))?,
                None => Vec::new(),
            };
            Ok(stats
                .into_iter()
                .map(|s| ParamStat {
                    name: s.name,
                    numel: s.numel,
                    norm: s.norm,
                    abs_max: s.abs_max,
                    finite: s.finite,
                })
                .collect())
        }
    };
}

/// The logging and request functions of `runner`.
macro_rules! runner_requests {
    () => {
        fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
            let (level, debug) = level_of(level);
            self.log_line(level, debug, &message);
            Ok(())
        }

        fn log_scalar(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
            // Every new name is a new column of every logger: a bounded set per plugin.
            if !self.scalar_names.contains(&name) {
                if self.scalar_names.len() >= crate::budget::MAX_SCALAR_NAMES {
                    if let Some(call) = self.call.as_mut() {
                        call.reject(format!(
                            "log-scalar: more than {} distinct names (new: {})",
                            crate::budget::MAX_SCALAR_NAMES,
                            crate::budget::clip(&name, 64)
                        ));
                    }
                    return Ok(());
                }
                if name.len() <= weft_core::action::MAX_NAME_LEN {
                    self.scalar_names.insert(name.clone());
                }
            }
            self.queue(weft_core::Action::LogScalar {
                name: name.into(),
                value: weft_core::Scalar::Host(value),
            })
        }

        fn set_lr(&mut self, group: u32, lr: f64) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::SetLr {
                group: group as usize,
                lr,
            })
        }

        fn set_momentum(&mut self, group: u32, momentum: f64) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::SetMomentum {
                group: group as usize,
                momentum,
            })
        }

        fn request_stop(&mut self, reason: String) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::Stop {
                reason: crate::budget::clip(&reason, crate::budget::MESSAGE_MAX),
            })
        }

        fn request_checkpoint(&mut self) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::Checkpoint(
                weft_core::SaveRequest::requested(),
            ))
        }

        fn request_eval(&mut self) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::Evaluate)
        }

        fn scale_grads(&mut self, factor: f64) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::ScaleGrads { factor })
        }

        fn skip_step(&mut self) -> wasmtime::Result<()> {
            self.queue(weft_core::Action::SkipStep)
        }
    };
}
