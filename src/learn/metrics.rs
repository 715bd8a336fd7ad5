//! Classification figures: a confusion matrix with accuracy and per-class
//! precision, recall and F1, printed as a plain table.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    /// `m[truth][predicted]`.
    pub m: Vec<Vec<usize>>,
}

impl Confusion {
    pub fn new(labels: Vec<String>) -> Self {
        let n = labels.len();
        Confusion {
            labels,
            m: vec![vec![0; n]; n],
        }
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.m[truth][predicted] += 1;
    }

    pub fn total(&self) -> usize {
        self.m.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let ok: usize = (0..self.m.len()).map(|i| self.m[i][i]).sum();
        ok as f64 / self.total().max(1) as f64
    }

    pub fn support(&self, c: usize) -> usize {
        self.m[c].iter().sum()
    }

    pub fn precision(&self, c: usize) -> f64 {
        let predicted: usize = self.m.iter().map(|r| r[c]).sum();
        self.m[c][c] as f64 / predicted.max(1) as f64
    }

    pub fn recall(&self, c: usize) -> f64 {
        self.m[c][c] as f64 / self.support(c).max(1) as f64
    }

    pub fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Mean F1 over the classes that occur in the truth.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..self.m.len()).filter(|&c| self.support(c) > 0).collect();
        present.iter().map(|&c| self.f1(c)).sum::<f64>() / present.len().max(1) as f64
    }
}

impl fmt::Display for Confusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "accuracy {:.1}% ({} examples), macro F1 {:.3}",
            self.accuracy() * 100.0,
            self.total(),
            self.macro_f1()
        )?;
        writeln!(
            f,
            "  {:<22} {:>9} {:>7} {:>7} {:>8}",
            "class", "precision", "recall", "F1", "support"
        )?;
        for c in 0..self.labels.len() {
            if self.support(c) == 0 && self.m.iter().all(|r| r[c] == 0) {
                continue;
            }
            writeln!(
                f,
                "  {:<22} {:>9.3} {:>7.3} {:>7.3} {:>8}",
                self.labels[c],
                self.precision(c),
                self.recall(c),
                self.f1(c),
                self.support(c)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_match_a_hand_computed_matrix() {
        let mut c = Confusion::new(vec!["a".into(), "b".into()]);
        for _ in 0..8 {
            c.add(0, 0);
        }
        for _ in 0..2 {
            c.add(0, 1);
        }
        c.add(1, 0);
        for _ in 0..9 {
            c.add(1, 1);
        }
        assert_eq!(c.total(), 20);
        assert!((c.accuracy() - 0.85).abs() < 1e-12);
        assert!((c.precision(0) - 8.0 / 9.0).abs() < 1e-12);
        assert!((c.recall(0) - 0.8).abs() < 1e-12);
        let f = 2.0 * (8.0 / 9.0) * 0.8 / (8.0 / 9.0 + 0.8);
        assert!((c.f1(0) - f).abs() < 1e-12);
    }
}
