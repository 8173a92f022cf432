//! The reference's fixed random ImageNet class remappings
//! (`RANDOM_CLASS_REMAPPINGS` of `src/experiments/imagenet/prep.py`).
//!
//! Semantics, reproduced bit for bit with [`PyRandom`]:
//! `random.seed(42)`, 50 classes sampled from `range(1000)` (the random tasks;
//! drawn first only because it moves no state that is used later), then
//! `random.seed(420)` and 100 classes sampled from `range(1000)`. Ten times:
//! shuffle the 100 classes in place, then for every `i` in 1..=10 build the
//! "i in 1" mapping `{classes[10 j + t]: j for j in 0..10, t in 0..i}`.
//! A config's placeholder `RANDOM_CLASS_REMAPPINGS` expands to the mappings
//! named `map{i}-{r}` (`i` = classes per label, `r` = repetition 0..10),
//! ordered by `i`, then `r`, appended after the config's other mappings.

use crate::pyrandom::PyRandom;
use imprint_data::LabelMapping;

/// The 50 fixed random ImageNet classes (`fifty_fixed_random_ints`).
pub fn fifty_fixed_random_classes() -> Vec<u32> {
    PyRandom::new(42).sample_range(1000, 50)
}

/// The 100 fixed random ImageNet classes (`hundred_fixed_random_ints`,
/// before any shuffling).
pub fn hundred_fixed_random_classes() -> Vec<u32> {
    PyRandom::new(420).sample_range(1000, 100)
}

/// All 100 random remappings as `(name, mapping)`, in the reference's order
/// (`map1-0`, `map1-1`, ..., `map10-9`).
pub fn random_class_remappings() -> Vec<(String, LabelMapping)> {
    let mut rng = PyRandom::new(420);
    let mut classes = rng.sample_range(1000, 100);
    // by_i[i - 1][r] = mapping for "i in 1", repetition r
    let mut by_i: Vec<Vec<LabelMapping>> = (0..10).map(|_| Vec::with_capacity(10)).collect();
    for _ in 0..10 {
        rng.shuffle(&mut classes);
        for (i_minus_1, slot) in by_i.iter_mut().enumerate() {
            let i = i_minus_1 + 1;
            let entries: Vec<(i64, i64)> = (0..10)
                .flat_map(|j| (0..i).map(move |t| (j, t)))
                .map(|(j, t)| (i64::from(classes[j * 10 + t]), j as i64))
                .collect();
            // The 100 classes are distinct, so keys are unique.
            slot.push(LabelMapping::from_reference(entries).unwrap_or_default());
        }
    }
    by_i.into_iter()
        .enumerate()
        .flat_map(|(i0, maps)| {
            maps.into_iter().enumerate().map(move |(r, m)| (format!("map{}-{r}", i0 + 1), m))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed with CPython 3.11 from prep.py's semantics:
    /// ```text
    /// random.seed(420); h = random.sample(range(1000), 100)
    /// R = {i: [] for i in range(1, 11)}
    /// for _ in range(10):
    ///     random.shuffle(h)
    ///     for i in range(1, 11):
    ///         R[i].append({h[j*10+k]: j for j in range(10) for k in range(i)})
    /// s = "\n".join(f"map{i}-{j}:" + ",".join(f"{k}:{v}" for k, v in R[i][j].items())
    ///               for i in range(1, 11) for j in range(10))
    /// hashlib.md5(s.encode()).hexdigest()  # 799e276b3068e1b8db6dec0964818fd4
    /// ```
    #[test]
    fn matches_the_reference() {
        use md5::{Digest, Md5};
        let maps = random_class_remappings();
        assert_eq!(maps.len(), 100);
        assert_eq!(maps[0].0, "map1-0");
        assert_eq!(
            maps[0]
                .1
                .entries()
                .iter()
                .map(|&(k, v)| (k, v.unwrap_or(usize::MAX)))
                .collect::<Vec<_>>()
                .as_slice(),
            &[
                (214, 0),
                (47, 1),
                (528, 2),
                (496, 3),
                (723, 4),
                (97, 5),
                (532, 6),
                (782, 7),
                (412, 8),
                (992, 9)
            ]
        );
        let (name, m) = &maps[2 * 10 + 2];
        assert_eq!(name, "map3-2");
        assert_eq!(
            &m.entries()[..6],
            &[(507, Some(0)), (333, Some(0)), (151, Some(0)), (757, Some(1)), (694, Some(1)), (274, Some(1))]
        );
        let text = maps
            .iter()
            .map(|(n, m)| {
                let body = m
                    .entries()
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.unwrap_or(usize::MAX)))
                    .collect::<Vec<_>>()
                    .join(",");
                format!("{n}:{body}")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let digest: String = Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "799e276b3068e1b8db6dec0964818fd4");
        assert_eq!(&fifty_fixed_random_classes()[..3], &[654, 114, 25]);
        assert_eq!(hundred_fixed_random_classes().len(), 100);
    }
}
