//! The values a plugin hands back across the WIT boundary, decoded from the fuzz input: hook
//! requests (checked as the host checks them when made), an optimizer constructor's groups
//! (checked and built as a config's constructor's are), and elementwise programs of a custom
//! optimizer (checked before they run).

use std::cell::RefCell;
use std::path::PathBuf;

use weft_core::dry::DryEngine;
use weft_core::paramwise::GroupSpec;
use weft_core::plugin::{Instr, OpCode, check_program};
use weft_core::{Action, Momentum, ParamGroup, RunContext, RunLog, RunnerKind, SaveRequest, Stage};
use weft_nn::store::ParamStore;

/// Reads values off the input; past its end every read is zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Any f64 bit pattern: NaNs, infinities, subnormals, negative zero.
    fn f64(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        f64::from_le_bytes(b)
    }

    fn string(&mut self) -> String {
        let n = self.byte() as usize * 4;
        let take = n.min(self.0.len());
        let (s, rest) = self.0.split_at(take);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn context() -> RunContext {
    let group = |momentum| ParamGroup {
        lr: 0.1,
        momentum,
        ..ParamGroup::default()
    };
    let engine = DryEngine::new(
        10,
        2,
        vec![group(Momentum::Momentum(0.9)), group(Momentum::None)],
    );
    RunContext::new(
        Box::new(engine),
        RunnerKind::EpochBased,
        PathBuf::from("/nonexistent"),
        RunLog::capturing(),
    )
}

fn action(input: &mut Input<'_>) -> Action {
    match input.byte() % 8 {
        0 => Action::LogScalar {
            name: input.string().into(),
            value: input.f64().into(),
        },
        1 => Action::SetLr {
            group: input.u32() as usize,
            lr: input.f64(),
        },
        2 => Action::SetMomentum {
            group: input.u32() as usize,
            momentum: input.f64(),
        },
        3 => Action::Stop {
            reason: input.string(),
        },
        4 => Action::Checkpoint(SaveRequest::requested()),
        5 => Action::Evaluate,
        6 => Action::ScaleGrads {
            factor: input.f64(),
        },
        _ => Action::SkipStep,
    }
}

fn program(input: &mut Input<'_>) -> Vec<Instr> {
    let len = input.byte() as usize;
    (0..len)
        .map(|_| Instr {
            op: match input.byte() % 14 {
                0 => OpCode::Load,
                1 => OpCode::Store,
                2 => OpCode::Const,
                3 => OpCode::Add,
                4 => OpCode::Sub,
                5 => OpCode::Mul,
                6 => OpCode::Div,
                7 => OpCode::MulAdd,
                8 => OpCode::Neg,
                9 => OpCode::Abs,
                10 => OpCode::Sqrt,
                11 => OpCode::Max,
                12 => OpCode::Min,
                _ => OpCode::Sign,
            },
            dst: input.byte(),
            a: input.byte(),
            b: input.byte(),
            c: input.byte(),
            imm: input.f64(),
        })
        .collect()
}

thread_local! {
    // A LeNet-5's parameters, built once: what constructor groups index.
    static MODEL: RefCell<Option<ParamStore>> = const { RefCell::new(None) };
}

fn groups(input: &mut Input<'_>) {
    MODEL.with(|m| {
        let mut m = m.borrow_mut();
        let store = m.get_or_insert_with(|| {
            let cfg_path = crate::scratch("model.toml", b"model = { type = \"LeNet5\" }\n");
            let cfg = weft_config::Config::from_file(&cfg_path).expect("a valid model table");
            let node = cfg.get("model").expect("model").clone();
            weft_nn::models::build_model(&node, &cfg, tch::Device::Cpu)
                .expect("LeNet-5 builds")
                .store
        });
        let (table, _) = weft_nn::optim::model_table(store);
        let n = input.byte() as usize % 80;
        let specs: Vec<GroupSpec> = (0..n)
            .map(|_| {
                let params = (0..input.byte() % 12)
                    .map(|_| (input.u32() % 24) as usize)
                    .collect();
                let options = (0..input.byte() % 4)
                    .map(|_| {
                        let name = match input.byte() % 5 {
                            0 => "lr".to_string(),
                            1 => "momentum".to_string(),
                            2 => "weight_decay".to_string(),
                            3 => "nesterov".to_string(),
                            _ => input.string(),
                        };
                        (name, input.f64())
                    })
                    .collect();
                GroupSpec { params, options }
            })
            .collect();
        if let Ok(specs) = weft_nn::optim::check_constructor_groups(&table, specs) {
            let kind = weft_nn::optim::kind("SGD").expect("SGD exists");
            let defaults = weft_nn::optim::options::defaults(kind.spec);
            let _ = weft_nn::optim::build_with_groups(kind, &defaults, specs, store);
        }
    });
}

/// Requests at arbitrary points with arbitrary values, constructor groups and programs.
pub fn guest_values(data: &[u8]) {
    let mut input = Input(data);
    let mut ctx = context();
    while !input.is_empty() {
        match input.byte() % 3 {
            0 => {
                let stage = Stage::ALL[input.byte() as usize % Stage::ALL.len()];
                let _ = action(&mut input).check(stage, &ctx);
                ctx.set_stage(stage);
            }
            1 => groups(&mut input),
            _ => {
                let operands = input.byte() as usize % 20;
                let _ = check_program(&program(&mut input), operands);
            }
        }
    }
}
