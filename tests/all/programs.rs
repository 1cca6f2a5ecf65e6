//! The elementwise program evaluator behind custom optimizers (`tensors.run-program`): every
//! operation against libtorch's, the fast CPU path against the whole-tensor fallback, and the
//! planner's rewrites (bound loads, direct stores, folded constants) against the
//! element-by-element meaning of a program.

use tch::{Device, Kind, Tensor};
use weft_core::plugin::{Instr, OpCode, TensorRef, check_program};
use weft_nn::optim::plugin::NnTensor;

fn ins(op: OpCode, dst: u8, a: u8, b: u8, c: u8, imm: f64) -> Instr {
    Instr {
        op,
        dst,
        a,
        b,
        c,
        imm,
    }
}

fn run(program: &[Instr], operands: &[&[Tensor]]) {
    check_program(program, operands.len()).unwrap();
    let handles: Vec<Vec<NnTensor>> = operands
        .iter()
        .map(|l| l.iter().map(|t| NnTensor(t.shallow_clone())).collect())
        .collect();
    let lists: Vec<Vec<&dyn TensorRef>> = handles
        .iter()
        .map(|l| l.iter().map(|t| t as &dyn TensorRef).collect())
        .collect();
    lists[0][0].run_program(program, &lists).unwrap();
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Operands of several sizes (one smaller than a block, one spanning many blocks and a
/// ragged end), in `kind`; `transposed` makes them non-contiguous (the fallback path).
fn operands(kind: Kind, transposed: bool, seed: i64) -> Vec<Tensor> {
    tch::manual_seed(seed);
    [vec![7, 3], vec![300, 257], vec![64, 1000]]
        .into_iter()
        .map(|shape| {
            let t = Tensor::randn(shape.as_slice(), (kind, Device::Cpu));
            if transposed { t.tr().copy().tr() } else { t }
        })
        .collect()
}

/// What an operation computes, in libtorch ops.
type Reference = fn(&Tensor, &Tensor, &Tensor) -> Tensor;

#[test]
fn every_operation_matches_libtorch_on_both_paths() {
    use OpCode::*;
    // out = f(x, y, z) for each op, with y kept away from 0 for the division.
    let cases: Vec<(OpCode, Reference)> = vec![
        (Add, |x, y, _| x + y),
        (Sub, |x, y, _| x - y),
        (Mul, |x, y, _| x * y),
        (Div, |x, y, _| x / y),
        (MulAdd, |x, y, z| x * y + z),
        (Neg, |x, _, _| -x),
        (Abs, |x, _, _| x.abs()),
        (Sqrt, |x, _, _| x.abs().sqrt()),
        (Max, |x, y, _| x.maximum(y)),
        (Min, |x, y, _| x.minimum(y)),
        (Sign, |x, _, _| x.sign()),
    ];
    for kind in [Kind::Float, Kind::Double] {
        for transposed in [false, true] {
            for (op, reference) in &cases {
                let x = operands(kind, transposed, 1);
                let y: Vec<Tensor> = operands(kind, transposed, 2)
                    .iter()
                    .map(|t| t.abs() + 0.5)
                    .collect();
                let z = operands(kind, transposed, 3);
                let out: Vec<Tensor> = x.iter().map(Tensor::zeros_like).collect();
                let mut program = vec![
                    ins(Load, 0, 0, 0, 0, 0.0),
                    ins(Load, 1, 1, 0, 0, 0.0),
                    ins(Load, 2, 2, 0, 0, 0.0),
                ];
                if *op == Sqrt {
                    program.push(ins(Abs, 0, 0, 0, 0, 0.0));
                }
                program.push(ins(*op, 3, 0, 1, 2, 0.0));
                program.push(ins(Store, 0, 3, 3, 0, 0.0));
                run(&program, &[&x, &y, &z, &out]);
                for j in 0..x.len() {
                    let want = reference(&x[j], &y[j], &z[j]);
                    let d = max_diff(&out[j], &want);
                    assert!(
                        d <= 1e-6 * (1.0 + want.abs().max().double_value(&[])),
                        "{op:?} {kind:?} transposed={transposed} tensor {j}: {d}"
                    );
                }
            }
        }
    }
}

/// SGD with momentum and weight decay, as `guest-examples/rust/my_optimizer` writes it.
fn sgd_program() -> Vec<Instr> {
    use OpCode::*;
    vec![
        ins(Load, 0, 0, 0, 0, 0.0),
        ins(Load, 1, 1, 0, 0, 0.0),
        ins(Const, 2, 0, 0, 0, 5e-4),
        ins(MulAdd, 3, 1, 2, 0, 0.0),
        ins(Load, 4, 2, 0, 0, 0.0),
        ins(Const, 5, 0, 0, 0, 0.9),
        ins(MulAdd, 6, 4, 5, 3, 0.0),
        ins(Store, 0, 2, 6, 0, 0.0),
        ins(Const, 7, 0, 0, 0, -0.01),
        ins(MulAdd, 8, 6, 7, 1, 0.0),
        ins(Store, 0, 1, 8, 0, 0.0),
    ]
}

#[test]
fn an_sgd_program_equals_the_same_update_in_libtorch_ops() {
    for transposed in [false, true] {
        let (g, p, b) = (
            operands(Kind::Float, transposed, 4),
            operands(Kind::Float, transposed, 5),
            operands(Kind::Float, transposed, 6),
        );
        let want: Vec<(Tensor, Tensor)> = g
            .iter()
            .zip(&p)
            .zip(&b)
            .map(|((g, p), b)| {
                let d = p * 5e-4 + g;
                let b2 = b * 0.9 + d;
                let p2 = &b2 * -0.01 + p;
                (p2, b2)
            })
            .collect();
        run(&sgd_program(), &[&g, &p, &b]);
        for (j, (p2, b2)) in want.iter().enumerate() {
            assert!(
                max_diff(&p[j], p2) < 1e-6,
                "params {j} transposed={transposed}"
            );
            assert!(
                max_diff(&b[j], b2) < 1e-6,
                "buffers {j} transposed={transposed}"
            );
        }
    }
}

#[test]
fn values_are_read_and_written_in_program_order_for_every_element() {
    use OpCode::*;
    for transposed in [false, true] {
        let (x, y) = (
            operands(Kind::Double, transposed, 7),
            operands(Kind::Double, transposed, 8),
        );
        let (x0, y0): (Vec<Tensor>, Vec<Tensor>) = (
            x.iter().map(Tensor::copy).collect(),
            y.iter().map(Tensor::copy).collect(),
        );
        // r0 = x; x <- 2 * y; r3 = x (the new value); y <- r0 + r3 (old x + 2 y);
        // then a stored constant.
        let program = vec![
            ins(Load, 0, 0, 0, 0, 0.0),
            ins(Load, 1, 1, 0, 0, 0.0),
            ins(Const, 2, 0, 0, 0, 2.0),
            ins(Mul, 4, 1, 2, 0, 0.0),
            ins(Store, 0, 0, 4, 0, 0.0),
            ins(Load, 3, 0, 0, 0, 0.0),
            ins(Add, 5, 0, 3, 0, 0.0),
            ins(Store, 0, 1, 5, 0, 0.0),
        ];
        run(&program, &[&x, &y]);
        for j in 0..x.len() {
            assert!(
                max_diff(&x[j], &(&y0[j] * 2.0)) < 1e-12,
                "x {j} transposed={transposed}"
            );
            assert!(
                max_diff(&y[j], &(&x0[j] + &y0[j] * 2.0)) < 1e-12,
                "y {j} transposed={transposed}"
            );
        }
        let fill = vec![
            ins(Const, 0, 0, 0, 0, 3.0),
            ins(Const, 1, 0, 0, 0, 4.0),
            ins(Add, 2, 0, 1, 0, 0.0),
            ins(Store, 0, 0, 2, 0, 0.0),
        ];
        run(&fill, &[&x]);
        assert!(x.iter().all(|t| max_diff(t, &t.full_like(7.0)) == 0.0));
    }
}

#[test]
fn bad_programs_are_refused_with_the_reason() {
    use OpCode::*;
    let read_before_write = [ins(Add, 0, 1, 2, 0, 0.0), ins(Store, 0, 0, 0, 0, 0.0)];
    assert!(
        check_program(&read_before_write, 1)
            .unwrap_err()
            .contains("reads register 1 before any write")
    );
    let bad_operand = [ins(Load, 0, 3, 0, 0, 0.0), ins(Store, 0, 0, 0, 0, 0.0)];
    assert!(
        check_program(&bad_operand, 2)
            .unwrap_err()
            .contains("operand 3")
    );
    let no_store = [ins(Load, 0, 0, 0, 0, 0.0)];
    assert!(
        check_program(&no_store, 1)
            .unwrap_err()
            .contains("stores nothing")
    );
    let bad_register = [ins(Load, 16, 0, 0, 0, 0.0), ins(Store, 0, 0, 16, 0, 0.0)];
    assert!(
        check_program(&bad_register, 1)
            .unwrap_err()
            .contains("register 16")
    );
    let nan = [
        ins(Const, 0, 0, 0, 0, f64::NAN),
        ins(Store, 0, 0, 0, 0, 0.0),
    ];
    assert!(check_program(&nan, 1).unwrap_err().contains("not finite"));
}
