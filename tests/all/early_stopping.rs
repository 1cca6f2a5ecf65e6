//! The built-in `EarlyStoppingHook` (MMEngine's rules): patience with `min_delta`,
//! non-finite scores, a stopping threshold, a missing metric, and a real run it stops.

use serde_json::json;
use weft_core::hooks::{
    EarlyStoppingConfig, EarlyStoppingHook, EvalHook, EvalSettings, Evaluation, Metric,
};
use weft_core::{Hook, Priority, RunContext, RunOutcome, Split};

use crate::eval_hook_oracle::runner;
use crate::support::temp_dir;

fn config(v: serde_json::Value) -> EarlyStoppingConfig {
    serde_json::from_value(v).unwrap()
}

/// Runs `scores.len()` epochs, evaluating `top1_acc` = each score in turn after each epoch.
fn run_with(
    name: &str,
    scores: Vec<f64>,
    stopper: EarlyStoppingConfig,
) -> (Result<RunOutcome, String>, usize, Vec<String>) {
    let dir = temp_dir(&format!("early-stop-{name}"));
    let epochs = scores.len() as u64;
    let mut queue = scores.into_iter();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let evaluator = Box::new(move |_: &mut RunContext| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Evaluation {
            results: vec![("top1_acc".into(), queue.next().unwrap())],
            batches: 1,
        })
    });
    let settings = EvalSettings {
        metrics: vec![Metric::MeanClass],
        split: Split::Val,
        interval: 1,
        start: None,
        by_epoch: true,
        save_best: None,
        rule: None,
        greater_keys: None,
        less_keys: None,
    };
    let stop = EarlyStoppingHook::new(stopper).unwrap();
    assert_eq!(stop.default_priority(), Priority::LOWEST);
    let (mut r, log) = runner(
        &dir,
        "EpochBasedRunner",
        epochs,
        vec![
            (
                Box::new(EvalHook::with_evaluator(settings, evaluator).unwrap()),
                Priority::LOW,
            ),
            (Box::new(stop), Priority::LOWEST),
        ],
    );
    let result = r.run().map_err(|e| e.to_string());
    (
        result,
        count.load(std::sync::atomic::Ordering::SeqCst),
        log.captured(),
    )
}

#[test]
fn patience_counts_evaluations_without_an_improvement_of_min_delta() {
    let (result, evaluations, _) = run_with(
        "patience",
        vec![0.5, 0.6, 0.65, 0.64, 0.9, 0.95],
        config(json!({ "monitor": "top1_acc", "patience": 2, "min_delta": 0.1 })),
    );
    // 0.5 and 0.6 improve (by at least 0.1), 0.65 and 0.64 do not: stop after epoch 4.
    let Ok(RunOutcome::Stopped(reason)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(evaluations, 4);
    assert!(
        reason.contains("did not improve in the last 2 evaluations; best score: 0.600"),
        "{reason}"
    );
}

#[test]
fn a_non_finite_score_or_a_reached_threshold_stops_at_once() {
    let (result, evaluations, _) = run_with(
        "nan",
        vec![0.5, f64::NAN, 0.7],
        config(json!({ "monitor": "top1_acc" })),
    );
    assert!(
        matches!(result, Ok(RunOutcome::Stopped(ref r)) if r.contains("is infinite")),
        "{result:?}"
    );
    assert_eq!(evaluations, 2);
    let (result, evaluations, _) = run_with(
        "threshold",
        vec![0.5, 0.9, 0.95],
        config(json!({ "monitor": "top1_acc", "stopping_threshold": 0.85 })),
    );
    assert!(
        matches!(result, Ok(RunOutcome::Stopped(ref r)) if r.contains("stopping threshold reached")),
        "{result:?}"
    );
    assert_eq!(evaluations, 2);
}

#[test]
fn a_missing_metric_warns_or_fails_when_strict() {
    let (result, _, log) = run_with(
        "missing",
        vec![0.5, 0.6],
        config(json!({ "monitor": "mean_class_accuracy", "rule": "greater" })),
    );
    assert_eq!(result, Ok(RunOutcome::Completed));
    assert!(
        log.iter()
            .any(|l| l.contains("has no `mean_class_accuracy`; it has top1_acc")),
        "{log:#?}"
    );
    let (result, _, _) = run_with(
        "strict",
        vec![0.5],
        config(json!({ "monitor": "mean_class_accuracy", "rule": "greater", "strict": true })),
    );
    assert!(result.unwrap_err().contains("has no `mean_class_accuracy`"));
    assert!(
        EarlyStoppingHook::new(config(json!({ "monitor": "f1_score" })))
            .err()
            .unwrap()
            .contains("cannot infer the rule")
    );
}

#[test]
fn early_stopping_from_config_ends_a_real_run() {
    let dir = temp_dir("early-stop-train");
    let cfg = crate::training::small_config(
        &dir,
        &[],
        "custom_hooks = [{ type = \"EarlyStoppingHook\", monitor = \"top1_acc\", patience = 1, min_delta = 1.0 }]",
    );
    let outcome = crate::training::train(
        &cfg,
        &dir.join("work"),
        &["total_epochs=5", "data.train.num_samples=320"],
        None,
    );
    // The first evaluation sets the best; no later one can beat it by 1.0.
    let RunOutcome::Stopped(reason) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.starts_with("EarlyStoppingHook: "), "{reason}");
    let evals = crate::training::json_lines(&dir.join("work"))
        .iter()
        .filter(|l| l.get("mean_class_accuracy").is_some())
        .count();
    assert_eq!(evals, 2);
}
