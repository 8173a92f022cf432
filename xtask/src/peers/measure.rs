//! Wall-clock timing and peak memory of one piece of work.

use std::time::Instant;

/// Runs `f` `reps` times and returns every duration in seconds and the last result.
///
/// # Panics
/// If `reps` is 0 (an internal invariant: plans always repeat at least once).
pub fn time_reps<T>(reps: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    assert!(reps > 0, "internal: at least one repetition");
    let mut seconds = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps {
        let start = Instant::now();
        let out = std::hint::black_box(f());
        seconds.push(start.elapsed().as_secs_f64());
        last = Some(out);
    }
    (seconds, last.expect("reps > 0"))
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// Runs `f` and returns its result with the growth of this process's
/// resident memory while it ran, in MiB: the peak (`VmHWM`, reset before by
/// writing 5 to `/proc/self/clear_refs`) minus the resident size before.
/// `None` where `/proc` does not offer this (not Linux).
pub fn peak_rss_growth<T>(f: impl FnOnce() -> T) -> (T, Option<f64>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let out = f();
    let peak = status_kib("VmHWM:");
    let growth = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b) as f64 / 1024.0),
        _ => None,
    };
    (out, growth)
}

/// Runs `f` and returns its result with this process's peak resident memory
/// while it ran, in MiB (`VmHWM`, reset before by writing 5 to
/// `/proc/self/clear_refs`): what a user of the work would see. `None` where
/// `/proc` does not offer this (not Linux).
pub fn peak_rss<T>(f: impl FnOnce() -> T) -> (T, Option<f64>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let out = f();
    let peak = status_kib("VmHWM:").filter(|_| reset).map(|kib| kib as f64 / 1024.0);
    (out, peak)
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn timing_repeats_and_peak_memory_sees_an_allocation() {
        let (seconds, out) = time_reps(3, || 21 * 2);
        assert_eq!((seconds.len(), out), (3, 42));
        let (len, growth) = peak_rss_growth(|| {
            let v = vec![1u8; 64 << 20];
            std::hint::black_box(&v).iter().map(|&b| b as usize).sum::<usize>()
        });
        assert_eq!(len, 64 << 20);
        if let Some(growth) = growth {
            assert!(growth >= 60.0, "64 MiB touched, growth {growth} MiB");
        }
    }
}
