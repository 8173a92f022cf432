//! T5 (low-data regime) and T6 (accuracy vs number of proxies, NC1).

use std::collections::{BTreeMap, BTreeSet};

use crate::stats;

use super::figures::{self, Figure, Series, Style};
use super::select::{DataKey, MethodKey, Summary};
use super::table::{Table, fmt_opt};
use super::{Block, Section, TaskCollapse};

fn shot_label(f: i64) -> String {
    if f == -1 { "all".to_owned() } else { f.to_string() }
}

/// Shots in plotting order: ascending, with -1 (all) last.
fn shot_order(f: i64) -> (bool, i64) {
    (f == -1, f)
}

fn push_figure(
    s: &mut Section,
    figs: &mut Vec<Figure>,
    file_name: &str,
    title: &str,
    svg: Result<String, String>,
) {
    match svg {
        Ok(svg) => {
            figs.push(Figure { file_name: file_name.to_owned(), title: title.to_owned(), svg });
            s.blocks.push(Block::Figure { file_name: file_name.to_owned(), title: title.to_owned() });
        }
        Err(e) => s.note(format!("Figure {file_name} not drawn: {e}.")),
    }
}

/// T5: accuracy vs shots per class for mean and k-means (L2 norms, max).
pub(super) fn low_data(summary: &Summary, figs: &mut Vec<Figure>) -> Section {
    let mut s = Section::new("T5", "Low-data regime: accuracy vs shots per class");
    let mean = MethodKey::l2_max("mean", 1);
    let is_kmeans = |m: &MethodKey| *m == MethodKey::l2_max("kmeans", m.k);
    // (data, shot) -> method -> accuracy
    let mut cells: BTreeMap<DataKey, BTreeMap<i64, BTreeMap<MethodKey, f64>>> = BTreeMap::new();
    let mut uncapped = BTreeSet::new();
    let mut all_k = BTreeSet::new();
    for (task, m, c) in summary.cells() {
        if *m != mean && !is_kmeans(m) {
            continue;
        }
        let f = task.presampling_fewshot_value;
        // Series are the k of the few-shot runs: k < shots is a k asked for,
        // k = shots may be a larger k capped by the grid.
        if is_kmeans(m) && f != -1 {
            all_k.insert(m.k);
            if m.k < f {
                uncapped.insert(m.k);
            }
        }
        cells.entry(task.data.clone()).or_default().entry(f).or_default().insert(*m, c.median_acc);
    }
    let shots: BTreeSet<i64> = cells.values().flat_map(|m| m.keys().copied()).collect();
    if !shots.iter().any(|&f| f != -1) {
        s.note(
            "Low-data table omitted: no records with presampling_fewshot_value != -1 for GEN mean or \
             kmeans (NORM l2, AGG max).",
        );
        return s;
    }
    let mut shots: Vec<i64> = shots.into_iter().collect();
    shots.sort_by_key(|&f| shot_order(f));
    let ks = if uncapped.is_empty() { all_k } else { uncapped };
    // Series: (name, method at shot f).
    // Series: (name, k-means k or None for the mean); the method at shot f is `method(k, f)`.
    let mut series: Vec<(String, Option<i64>)> = vec![("mean".into(), None)];
    series.extend(ks.iter().map(|&k| (format!("kmeans k={k}"), Some(k))));
    let method = |k: &Option<i64>, f: i64| match *k {
        None => mean,
        Some(k) => MethodKey::l2_max("kmeans", if f == -1 { k } else { k.min(f) }),
    };
    let mut header = vec!["GEN".to_owned()];
    header.extend(shots.iter().map(|&f| shot_label(f)));
    let mut t = Table::with_header("Average accuracy % (n tasks) per shots per class", header);
    let mut chart = Vec::new();
    for (name, k) in &series {
        let mut row = vec![name.clone()];
        let mut points = Vec::new();
        for &f in &shots {
            let v: Vec<f64> =
                cells.values().filter_map(|by| by.get(&f)?.get(&method(k, f)).copied()).collect();
            match stats::mean(&v) {
                Ok(a) => {
                    row.push(format!("{a:.2} ({})", v.len()));
                    if f != -1 {
                        points.push((f as f64, a));
                    }
                }
                Err(_) => row.push("-".into()),
            }
        }
        t.push(row);
        chart.push(Series { name: name.clone(), points });
    }
    s.blocks.push(Block::Table(t));
    s.note(
        "NORM l2, AGG max. k-means with k > shots uses k = shots (the grid caps k), i.e. every sample \
         becomes a proxy. Each cell averages the per-task medians over the tasks that have it.",
    );
    // Where k-means overtakes the mean, per task.
    let mut over =
        Table::new("Shots from which k-means stays above mean", &["task", "GEN", "overtakes from"])
            .left_columns(2);
    for (data, by_shot) in &cells {
        for (name, k) in series.iter().skip(1) {
            let pairs: Vec<(i64, bool)> = shots
                .iter()
                .filter_map(|&f| {
                    let by = by_shot.get(&f)?;
                    Some((f, by.get(&method(k, f))? > by.get(&mean)?))
                })
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let from = pairs
                .iter()
                .rposition(|(_, above)| !above)
                .map_or(Some(0), |i| if i + 1 < pairs.len() { Some(i + 1) } else { None });
            let text = match from {
                Some(i) => format!("{} shots", shot_label(pairs[i].0)),
                None => "never (not above at the most shots)".to_owned(),
            };
            over.push(vec![data.to_string(), name.clone(), text]);
        }
    }
    if !over.rows.is_empty() {
        s.blocks.push(Block::Table(over));
        s.note("Paper: k-means beats mean from ~50 shots per class (MNIST, FashionMNIST), ~200 (CIFAR-10).");
    }
    push_figure(
        &mut s,
        figs,
        "low_data.svg",
        "Low-data regime: average accuracy vs shots per class",
        figures::chart(
            "Accuracy vs shots per class",
            "shots per class (log)",
            "average accuracy (%)",
            &chart,
            Style::Lines,
            true,
        ),
    );
    s
}

/// The m of an "m in 1" mapping name: `2in1`, `5 in 1`, `m_in_1`, or the
/// reference's ImageNet remappings `map{m}-{r}`.
pub(super) fn m_in_1(name: &str) -> Option<i64> {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("map")
        && let Some((m, r)) = rest.split_once('-')
        && !m.is_empty()
        && m.bytes().all(|b| b.is_ascii_digit())
        && !r.is_empty()
        && r.bytes().all(|b| b.is_ascii_digit())
    {
        return m.parse().ok();
    }
    let squeezed: String = lower.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).collect();
    let pos = squeezed.find("in1")?;
    if squeezed[pos + 3..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = squeezed[..pos]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok().filter(|&m| m > 0)
}

/// T6: k-means accuracy vs k per task, and the gain over k = 1 vs NC1.
pub(super) fn proxies(
    summary: &Summary,
    collapse: &BTreeMap<DataKey, &TaskCollapse>,
    figs: &mut Vec<Figure>,
) -> Section {
    let mut s = Section::new("T6", "Accuracy vs number of proxies (k-means) and neural collapse");
    let mean = MethodKey::l2_max("mean", 1);
    let mut by_task: BTreeMap<DataKey, BTreeMap<i64, f64>> = BTreeMap::new();
    let mut used_mean = false;
    for (task, m, c) in summary.cells() {
        if !task.is_full_data() || m.k < 1 || *m != MethodKey::l2_max("kmeans", m.k) {
            continue;
        }
        by_task.entry(task.data.clone()).or_default().insert(m.k, c.median_acc);
    }
    if by_task.is_empty() {
        s.note("Accuracy vs k omitted: no records of GEN kmeans with l2 norms and AGG max on all samples.");
        return s;
    }
    for (data, ks) in by_task.iter_mut() {
        if let std::collections::btree_map::Entry::Vacant(slot) = ks.entry(1) {
            let task = super::select::TaskKey { data: data.clone(), presampling_fewshot_value: -1 };
            if let Some(a) = summary.acc(&task, &mean) {
                slot.insert(a);
                used_mean = true;
            }
        }
    }
    let all_k: BTreeSet<i64> = by_task.values().flat_map(|m| m.keys().copied()).collect();
    let mut header = vec!["task".to_owned()];
    header.extend(all_k.iter().map(|k| format!("k={k}")));
    header.push("NC1".into());
    let mut t = Table::with_header("k-means accuracy % per task and k", header);
    let mut lines = Vec::new();
    for (data, ks) in &by_task {
        let mut row = vec![data.to_string()];
        row.extend(all_k.iter().map(|k| fmt_opt(ks.get(k).copied())));
        row.push(collapse.get(data).map_or_else(|| "-".into(), |c| format!("{:.4}", c.nc1)));
        t.push(row);
        lines.push(Series {
            name: data.to_string(),
            points: ks.iter().map(|(&k, &a)| (k as f64, a)).collect(),
        });
    }
    s.blocks.push(Block::Table(t));
    s.note(format!(
        "NORM l2, AGG max, all training samples.{}",
        if used_mean {
            " Where kmeans k = 1 has no records, k = 1 is GEN mean (equal by definition)."
        } else {
            ""
        }
    ));
    push_figure(
        &mut s,
        figs,
        "accuracy_vs_k.svg",
        "k-means accuracy vs number of proxies per class, one line per task",
        figures::chart(
            "Accuracy vs number of proxies",
            "k (proxies per class)",
            "accuracy (%)",
            &lines,
            Style::Lines,
            false,
        ),
    );

    // Gain of the best k > 1 over k = 1, vs NC1.
    let mut g = Table::new(
        "Gain of the best k > 1 over k = 1",
        &["task", "NC1", "acc k=1", "best k", "acc best k", "gain"],
    );
    let mut by_backbone: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut peaks: Vec<(String, i64, i64)> = Vec::new();
    for (data, ks) in &by_task {
        let nc1 = collapse.get(data).map(|c| c.nc1);
        if let Some(m) = m_in_1(&data.mapping_name)
            && let Some((&k, _)) = ks.iter().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        {
            peaks.push((data.to_string(), m, k));
        }
        let (Some(&base), Some((&best_k, &best))) = (
            ks.get(&1),
            ks.iter().filter(|(k, _)| **k > 1).max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0))),
        ) else {
            continue;
        };
        let gain = best - base;
        g.push(vec![
            data.to_string(),
            nc1.map_or_else(|| "-".into(), |v| format!("{v:.4}")),
            format!("{base:.2}"),
            best_k.to_string(),
            format!("{best:.2}"),
            format!("{gain:+.2}"),
        ]);
        if let Some(nc1) = nc1.filter(|v| v.is_finite() && *v > 0.0) {
            by_backbone.entry(data.backbone_name.clone()).or_default().push((nc1, gain));
        }
    }
    if g.rows.is_empty() {
        s.note("Gain table omitted: no task has records for both k = 1 and some k > 1.");
    } else {
        s.blocks.push(Block::Table(g));
        if by_backbone.is_empty() {
            s.note("Gain vs NC1 figure omitted: no neural-collapse values (positive NC1) for these tasks.");
        } else {
            let series: Vec<Series> =
                by_backbone.into_iter().map(|(name, points)| Series { name, points }).collect();
            push_figure(
                &mut s,
                figs,
                "gain_vs_nc1.svg",
                "Accuracy gain of the best k > 1 over k = 1 vs NC1 (log x), per backbone",
                figures::chart(
                    "Gain over k = 1 vs NC1",
                    "NC1 (log)",
                    "gain (accuracy points)",
                    &series,
                    Style::Points,
                    true,
                ),
            );
            s.note("Paper: the gain grows about log-linearly with NC1.");
        }
    }
    if !peaks.is_empty() {
        let at_m = peaks.iter().filter(|(_, m, k)| m == k).count();
        let others: Vec<String> = peaks
            .iter()
            .filter(|(_, m, k)| m != k)
            .map(|(d, m, k)| format!("{d} (m = {m}, peak k = {k})"))
            .collect();
        s.note(format!(
            "\"m in 1\" tasks: {at_m} of {} peak at k = m (paper: they do){}",
            peaks.len(),
            if others.is_empty() { ".".to_owned() } else { format!("; elsewhere: {}.", others.join("; ")) }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_in_1_names() {
        assert_eq!(m_in_1("2in1"), Some(2));
        assert_eq!(m_in_1("5 in 1"), Some(5));
        assert_eq!(m_in_1("combi_10_in_1"), Some(10));
        assert_eq!(m_in_1("map3-7"), Some(3));
        assert_eq!(m_in_1("map10-0"), Some(10));
        assert_eq!(m_in_1("none"), None);
        assert_eq!(m_in_1("in1"), None);
        assert_eq!(m_in_1("2in10"), None);
        assert_eq!(m_in_1("mapx-1"), None);
    }
}
