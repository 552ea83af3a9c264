//! Pass: split windows into segments. The trajectory `[0, 1]` is cut at every window edge;
//! each stretch keeps the terms whose window covers it (their windows no longer matter), and
//! neighbouring stretches with the same combination are merged.
//!
//! ```text
//! before: 1 * a AND 0.5 * b @ [0, 0.6]
//! after:  [0, 0.6): 1 * a AND 0.5 * b
//!         [0.6, 1): 1 * a
//! ```
//!
//! Terms that meet in a stretch with the same condition (`a @ [0, 0.6] AND a @ [0.4, 1]`)
//! are merged there, so each condition appears once per branch of a stretch.

use super::{drop_zero::drop_zero, merge_duplicates::merge_duplicates};
use crate::ir::{Conj, Dnf, Stretch, Window};

/// The stretches of `dnf`, in order, covering `[0, 1]` without gaps.
pub fn split_segments(dnf: &Dnf) -> Vec<Stretch> {
    let mut edges = vec![0.0, 1.0];
    for t in dnf.branches.iter().flat_map(|c| &c.terms) {
        edges.push(t.window.from);
        edges.push(t.window.to);
    }
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let mut out: Vec<Stretch> = Vec::new();
    for pair in edges.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let branches = dnf
            .branches
            .iter()
            .map(|c| Conj {
                mix: c.mix,
                terms: c
                    .terms
                    .iter()
                    .filter(|t| t.window.covers(from, to))
                    .map(|t| crate::ir::Term { window: Window::FULL, ..t.clone() })
                    .collect(),
            })
            .collect();
        let dnf = drop_zero(merge_duplicates(Dnf { branches }));
        match out.last_mut() {
            Some(last) if same_combination(&last.dnf, &dnf) => last.to = to,
            _ => out.push(Stretch { from, to, dnf }),
        }
    }
    out
}

/// Whether two stretches combine their conditions the same way.
fn same_combination(a: &Dnf, b: &Dnf) -> bool {
    a.branches.len() == b.branches.len()
        && a.branches.iter().zip(&b.branches).all(|(x, y)| x.mix == y.mix && super::merge_duplicates::same_terms(&x.terms, &y.terms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simplify::distribute::distribute;
    use crate::simplify::test_util::*;

    fn show(s: &[Stretch]) -> Vec<String> {
        s.iter().map(|s| format!("[{}, {}): {}", s.from, s.to, s.dnf)).collect()
    }

    #[test]
    fn windows_cut_the_trajectory() {
        let node = and(vec![cond("a"), window(0.0, 0.6, weight(0.5, cond("b")))]);
        assert_eq!(show(&split_segments(&distribute(&node))), ["[0, 0.6): 1 * a AND 0.5 * b", "[0.6, 1): 1 * a"]);
    }

    #[test]
    fn overlapping_windows_of_one_condition_merge_and_equal_neighbours_join() {
        // a @ [0, 0.6] AND a @ [0.4, 1]: 1·a, then 2·a in [0.4, 0.6), then 1·a.
        let node = and(vec![window(0.0, 0.6, cond("a")), window(0.4, 1.0, cond("a"))]);
        assert_eq!(show(&split_segments(&distribute(&node))), ["[0, 0.4): 1 * a", "[0.4, 0.6): 2 * a", "[0.6, 1): 1 * a"]);
        // a @ [0, 0.5] AND a @ [0.5, 1] is a everywhere: one segment.
        let node = and(vec![window(0.0, 0.5, cond("a")), window(0.5, 1.0, cond("a"))]);
        assert_eq!(show(&split_segments(&distribute(&node))), ["[0, 1): 1 * a"]);
    }

    #[test]
    fn no_window_gives_one_segment() {
        assert_eq!(show(&split_segments(&distribute(&cond("a")))), ["[0, 1): 1 * a"]);
    }
}
