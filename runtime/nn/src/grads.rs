//! What a plugin reads of the gradients at `after_backward`: their joint norm and
//! per-parameter statistics, over shallow copies taken at that moment.

use tch::{Kind, TchError, Tensor};
use weft_core::EngineError;
use weft_core::plugin::{GradView, ParamStat};

use crate::clip;

fn engine_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(e.to_string())
}

/// Shallow copies of the gradients at one moment.
pub(crate) struct Grads(pub(crate) Vec<(String, u64, Tensor)>);

impl GradView for Grads {
    fn norm(&self, p: f64) -> Result<Option<f64>, EngineError> {
        let grads: Vec<Tensor> = self
            .0
            .iter()
            .filter(|(_, _, g)| g.defined())
            .map(|(_, _, g)| g.shallow_clone())
            .collect();
        if grads.is_empty() {
            return Ok(None);
        }
        clip::total_norm(&grads, p)
            .and_then(|n| n.f_double_value(&[]))
            .map(Some)
            .map_err(engine_err)
    }

    fn stats(&self) -> Result<Vec<ParamStat>, EngineError> {
        self.0
            .iter()
            .map(|(name, numel, g)| {
                if !g.defined() {
                    return Ok(ParamStat {
                        name: name.clone(),
                        numel: *numel,
                        norm: 0.0,
                        abs_max: 0.0,
                        finite: true,
                    });
                }
                let value = |t: Result<Tensor, TchError>| {
                    t.and_then(|t| t.f_double_value(&[])).map_err(engine_err)
                };
                Ok(ParamStat {
                    name: name.clone(),
                    numel: *numel,
                    norm: value(clip::total_norm(&[g.shallow_clone()], 2.0))?,
                    abs_max: value(g.f_abs().and_then(|a| a.f_max()))?,
                    finite: value(
                        g.f_isfinite()
                            .and_then(|f| f.f_all())
                            .and_then(|f| f.f_to_kind(Kind::Double)),
                    )? == 1.0,
                })
            })
            .collect()
    }
}
