//! Critical-difference diagrams in the style of the reference's
//! `analysis/cd_diag.py` (after Demšar 2006 / Orange / hfawaz's cd-diagram):
//! a rank axis with rank 1 on the right, each method hanging from its
//! average rank with its name on the left (worse half) or right (better
//! half), and thick bars joining the methods of every maximal clique of
//! methods that are pairwise *not* significantly different (Wilcoxon-Holm),
//! drawn from the clique's first to its last member in rank order. No
//! Nemenyi critical difference is drawn (`cd=None` in the reference).
//!
//! Geometry follows the reference in inches (8 x ..., text space 1.5),
//! scaled by 100 px per inch.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::compare::Significance;

const PX: f64 = 100.0;

/// The maximal cliques (Bron–Kerbosch with pivoting) of the graph on
/// `0..n` whose edges are `connected(i, j)`; each clique sorted, the list
/// sorted, singletons included.
pub fn maximal_cliques(n: usize, connected: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let adj: Vec<Vec<bool>> = (0..n).map(|i| (0..n).map(|j| i != j && connected(i, j)).collect()).collect();
    let mut out = Vec::new();
    fn bk(r: &mut Vec<usize>, p: Vec<usize>, x: Vec<usize>, adj: &[Vec<bool>], out: &mut Vec<Vec<usize>>) {
        if p.is_empty() && x.is_empty() {
            let mut c = r.clone();
            c.sort_unstable();
            out.push(c);
            return;
        }
        let pivot = p.iter().chain(&x).copied().max_by_key(|&u| p.iter().filter(|&&v| adj[u][v]).count());
        let candidates: Vec<usize> = match pivot {
            Some(u) => p.iter().copied().filter(|&v| !adj[u][v]).collect(),
            None => p.clone(),
        };
        let (mut p, mut x) = (p, x);
        for v in candidates {
            r.push(v);
            let np = p.iter().copied().filter(|&w| adj[v][w]).collect();
            let nx = x.iter().copied().filter(|&w| adj[v][w]).collect();
            bk(r, np, nx, adj, out);
            r.pop();
            p.retain(|&w| w != v);
            x.push(v);
        }
    }
    bk(&mut Vec::new(), (0..n).collect(), Vec::new(), &adj, &mut out);
    out.sort();
    out
}

/// Draws the diagram of a comparison's tests. Errors (as text) when there
/// are no ranks (no complete task) or fewer than two methods.
pub fn cd_diagram(title: &str, sig: &Significance) -> Result<String, String> {
    let k = sig.labels.len();
    if k < 2 || sig.dense_ranks.len() != k {
        return Err("needs at least two methods with ranks over complete tasks".into());
    }
    // Sorted by average rank, worst (largest) first, as the reference.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sig.dense_ranks[b].total_cmp(&sig.dense_ranks[a]).then(a.cmp(&b)));
    let names: Vec<&str> = order.iter().map(|&i| sig.labels[i].as_str()).collect();
    let ranks: Vec<f64> = order.iter().map(|&i| sig.dense_ranks[i]).collect();
    let not_significant = |i: usize, j: usize| sig.significant(names[i], names[j]) == Some(false);
    let cliques = maximal_cliques(k, not_significant);

    let lowv = ranks.iter().copied().fold(f64::INFINITY, f64::min).floor().min(1.0);
    let highv = ranks.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil().max(k as f64);
    let (width, textspace) = (8.0, 1.5);
    let scalewidth = width - 2.0 * textspace;
    let top = 0.45; // room for the title
    let cline = top + 0.65;
    let minnotsignificant = 0.4;
    let half = k.div_ceil(2);
    let space = 0.24;
    let height = cline + minnotsignificant + half as f64 * space + 0.3;
    let rankpos = |r: f64| textspace + scalewidth / (highv - lowv).max(1e-9) * (highv - r);
    let px = |v: f64| (v * PX).round() as i32;

    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (px(width) as u32, px(height) as u32)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let line = |pts: &[(f64, f64)], w: u32| {
            root.draw(&PathElement::new(
                pts.iter().map(|&(x, y)| (px(x), px(y))).collect::<Vec<_>>(),
                BLACK.stroke_width(w),
            ))
            .map_err(|x| e(&x))
        };
        let text = |s: &str, x: f64, y: f64, size: f64, h: HPos, v: VPos| {
            let style = TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(h, v));
            root.draw(&Text::new(s.to_owned(), (px(x), px(y)), style)).map_err(|x| e(&x))
        };
        text(title, width / 2.0, 0.1, 20.0, HPos::Center, VPos::Top)?;
        line(&[(textspace, cline), (width - textspace, cline)], 2)?;
        let mut a = lowv;
        while a <= highv + 1e-9 {
            let tick = if (a - a.round()).abs() < 1e-9 { 0.3 } else { 0.15 };
            line(&[(rankpos(a), cline - tick / 2.0), (rankpos(a), cline)], 2)?;
            if tick > 0.2 {
                text(&format!("{a:.0}"), rankpos(a), cline - 0.2, 16.0, HPos::Center, VPos::Bottom)?;
            }
            a += 0.5;
        }
        for i in 0..k {
            let left = i < half;
            let row = if left { i } else { k - i - 1 };
            let chei = cline + minnotsignificant + row as f64 * space;
            let end = if left { textspace - 0.1 } else { textspace + scalewidth + 0.1 };
            line(&[(rankpos(ranks[i]), cline), (rankpos(ranks[i]), chei), (end, chei)], 2)?;
            let (rx, rh) = if left {
                (textspace + 0.3, HPos::Right)
            } else {
                (textspace + scalewidth - 0.3, HPos::Left)
            };
            text(&format!("{:.2}", ranks[i]), rx, chei - 0.075, 10.0, rh, VPos::Bottom)?;
            let (nx, nh) = if left {
                (textspace - 0.2, HPos::Right)
            } else {
                (textspace + scalewidth + 0.2, HPos::Left)
            };
            text(names[i], nx, chei, 16.0, nh, VPos::Center)?;
        }
        let mut start = cline + 0.2;
        let mut achieved_half = false;
        for c in cliques.iter().filter(|c| c.len() > 1) {
            let (lo, hi) = (c[0], c[c.len() - 1]);
            if lo as f64 >= k as f64 / 2.0 && !achieved_half {
                start = cline + 0.25;
                achieved_half = true;
            }
            line(&[(rankpos(ranks[lo]) + 0.02, start), (rankpos(ranks[hi]) - 0.02, start)], 4)?;
            start += 0.1;
        }
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::PairTest;

    #[test]
    fn cliques_of_small_graphs() {
        // Path 0-1-2 and isolated 3.
        let edges = [(0, 1), (1, 2)];
        let c = maximal_cliques(4, |i, j| edges.contains(&(i.min(j), i.max(j))));
        assert_eq!(c, vec![vec![0, 1], vec![1, 2], vec![3]]);
        let c = maximal_cliques(3, |_, _| true);
        assert_eq!(c, vec![vec![0, 1, 2]]);
        assert_eq!(maximal_cliques(0, |_, _| true), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn diagram_draws_names_and_bars() {
        let labels: Vec<String> = ["kmeans", "mean", "fps"].iter().map(|s| s.to_string()).collect();
        let pair =
            |a: &str, b: &str, significant| PairTest { a: a.into(), b: b.into(), p_value: 0.1, significant };
        let sig = Significance {
            n_blocks: 6,
            labels,
            friedman: None,
            pairs: vec![
                pair("kmeans", "mean", false),
                pair("kmeans", "fps", true),
                pair("mean", "fps", true),
            ],
            dense_ranks: vec![1.2, 1.8, 3.0],
            notes: vec![],
        };
        let svg = cd_diagram("GEN k = 20", &sig).unwrap();
        assert!(svg.starts_with("<svg"));
        for name in ["kmeans", "mean", "fps", "GEN k = 20", "1.20"] {
            assert!(svg.contains(name), "{name}");
        }
        // One clique bar of width 4 (kmeans-mean).
        assert_eq!(svg.matches("stroke-width=\"4\"").count(), 1);
        let empty = Significance { dense_ranks: vec![], ..sig };
        assert!(cd_diagram("x", &empty).is_err());
    }
}
