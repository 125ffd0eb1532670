//! Order statistics over a handful of samples.

use serde_json::{Value, json};

/// Summary of samples in milliseconds. Percentiles interpolate linearly
/// between the closest ranks (numpy's default), so the median of an even
/// count is the mean of the two middle samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        Some(Summary {
            n,
            min: sorted[0],
            median: percentile(&sorted, 50.0),
            p90: percentile(&sorted, 90.0),
            max: sorted[n - 1],
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "n": self.n,
            "min_ms": self.min,
            "median_ms": self.median,
            "p90_ms": self.p90,
            "max_ms": self.max,
            "mean_ms": self.mean,
        })
    }
}

/// `sorted` must be sorted and non-empty.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let weight = rank - low as f64;
    sorted[low] + (sorted[high] - sorted[low]) * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises() {
        assert_eq!(Summary::of(&[]), None);
        let one = Summary::of(&[3.0]);
        assert_eq!(
            one.map(|s| (s.min, s.median, s.p90, s.max)),
            Some((3.0, 3.0, 3.0, 3.0))
        );
        let samples: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let summary = Summary::of(&samples);
        assert_eq!(summary.as_ref().map(|s| s.median), Some(5.5));
        assert_eq!(
            summary.as_ref().map(|s| (s.p90 * 10.0).round() / 10.0),
            Some(9.1)
        );
        assert_eq!(
            summary.as_ref().map(|s| (s.min, s.max, s.mean)),
            Some((1.0, 10.0, 5.5))
        );
    }
}
