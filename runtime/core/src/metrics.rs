//! MMAction2's classification metrics, on host arrays.

/// Fraction of samples whose label is among the `k` highest scores (MMAction2's
/// `top_k_accuracy`: ties go to the higher index, as `argsort(...)[-k:]` does).
pub fn top_k_accuracy(scores: &[f32], num_classes: usize, labels: &[i64], k: usize) -> f64 {
    if labels.is_empty() || num_classes == 0 {
        return 0.0;
    }
    let mut hits = 0usize;
    for (i, &label) in labels.iter().enumerate() {
        let row = &scores[i * num_classes..(i + 1) * num_classes];
        let Some(&own) = usize::try_from(label).ok().and_then(|l| row.get(l)) else {
            continue;
        };
        // The label is in the top k when fewer than k classes beat it. With a stable
        // ascending argsort, a class with an equal score beats it if its index is higher.
        let beaten_by = row
            .iter()
            .enumerate()
            .filter(|&(c, &s)| s > own || (s == own && c as i64 > label))
            .count();
        if beaten_by < k {
            hits += 1;
        }
    }
    hits as f64 / labels.len() as f64
}

/// MMAction2's `mean_class_accuracy`: mean over the classes present in predictions or labels
/// of `correct / count`, where a class that is predicted but never the label counts as 0.
pub fn mean_class_accuracy(scores: &[f32], num_classes: usize, labels: &[i64]) -> f64 {
    if labels.is_empty() || num_classes == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; num_classes];
    let mut correct = vec![0usize; num_classes];
    let mut present = vec![false; num_classes];
    for (i, &label) in labels.iter().enumerate() {
        let row = &scores[i * num_classes..(i + 1) * num_classes];
        let pred = argmax(row);
        present[pred] = true;
        if let Ok(l) = usize::try_from(label)
            && l < num_classes
        {
            present[l] = true;
            count[l] += 1;
            if pred == l {
                correct[l] += 1;
            }
        }
    }
    let classes: Vec<usize> = (0..num_classes).filter(|c| present[*c]).collect();
    let sum: f64 = classes
        .iter()
        .map(|&c| {
            if count[c] == 0 {
                0.0
            } else {
                correct[c] as f64 / count[c] as f64
            }
        })
        .sum();
    sum / classes.len() as f64
}

/// Index of the largest score; the first one on ties (numpy's `argmax`).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts_label_among_best_k() {
        let scores = [0.1, 0.7, 0.2, 0.5, 0.3, 0.2];
        let labels = [2, 0];
        assert_eq!(top_k_accuracy(&scores, 3, &labels, 1), 0.5);
        assert_eq!(top_k_accuracy(&scores, 3, &labels, 2), 1.0);
    }

    #[test]
    fn mean_class_counts_predicted_only_classes_as_zero() {
        // Sample 0: label 0, predicted 1; sample 1: label 0, predicted 0.
        let scores = [0.1, 0.9, 0.8, 0.2];
        let labels = [0, 0];
        // Classes present: 0 (1/2 correct) and 1 (predicted, never a label: 0).
        assert_eq!(mean_class_accuracy(&scores, 2, &labels), 0.25);
    }
}
