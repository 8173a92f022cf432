//! Splitting a grid over independent workers.
//!
//! Combination `i` (its position in [`crate::grid::ExperimentGrid`] order)
//! belongs to shard `i % count`. Because the grid order is deterministic, every
//! worker computes the same assignment without coordination, and the shards
//! partition the grid.

use crate::error::{CompatError, Result};

/// One of `count` disjoint parts of a grid (0-based `index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole grid as a single shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; needs `count >= 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(CompatError::InvalidShard {
                spec: format!("{index}/{count}"),
                reason: "need count >= 1 and 0 <= index < count".into(),
            });
        }
        Ok(Self { index, count })
    }

    /// Parses `"I/N"` (0-based index I of N shards), e.g. `"3/8"`.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad =
            |reason: &str| CompatError::InvalidShard { spec: spec.to_owned(), reason: reason.to_owned() };
        let (i, n) = spec.trim().split_once('/').ok_or_else(|| bad("expected INDEX/COUNT, e.g. 0/4"))?;
        let i = i.trim().parse().map_err(|_| bad("INDEX is not a non-negative integer"))?;
        let n = n.trim().parse().map_err(|_| bad("COUNT is not a positive integer"))?;
        Self::new(i, n).map_err(|_| bad("need COUNT >= 1 and INDEX < COUNT"))
    }

    /// The shard of this process from the environment, for `count` shards:
    /// `JOB_COMPLETION_INDEX` (Kubernetes Indexed Jobs, 0-based) if set, else
    /// `SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN` (0 if unset).
    /// `Ok(None)` when neither is set.
    pub fn from_env(count: usize) -> Result<Option<Self>> {
        Self::from_vars(|name| std::env::var(name).ok(), count)
    }

    /// [`Shard::from_env`] with a custom variable lookup (for tests and embedding).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, count: usize) -> Result<Option<Self>> {
        let parse = |name: &str, value: &str| {
            value.trim().parse::<usize>().map_err(|_| CompatError::InvalidShard {
                spec: format!("{name}={value}"),
                reason: "not a non-negative integer".into(),
            })
        };
        let (name, index) = if let Some(v) = get("JOB_COMPLETION_INDEX") {
            ("JOB_COMPLETION_INDEX", parse("JOB_COMPLETION_INDEX", &v)?)
        } else if let Some(v) = get("SLURM_ARRAY_TASK_ID") {
            let id = parse("SLURM_ARRAY_TASK_ID", &v)?;
            let min = match get("SLURM_ARRAY_TASK_MIN") {
                Some(m) => parse("SLURM_ARRAY_TASK_MIN", &m)?,
                None => 0,
            };
            let index = id.checked_sub(min).ok_or_else(|| CompatError::InvalidShard {
                spec: format!("SLURM_ARRAY_TASK_ID={id}"),
                reason: format!("below SLURM_ARRAY_TASK_MIN={min}"),
            })?;
            ("SLURM_ARRAY_TASK_ID", index)
        } else {
            return Ok(None);
        };
        Self::new(index, count).map(Some).map_err(|_| CompatError::InvalidShard {
            spec: format!("{name} -> {index}/{count}"),
            reason: "index must be below the shard count".into(),
        })
    }

    /// 0-based index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Number of shards.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the item at grid position `position` belongs to this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// The items of this shard, in grid order.
    pub fn select<'a, T>(&self, items: &'a [T]) -> impl Iterator<Item = &'a T> + 'a {
        items.iter().skip(self.index).step_by(self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parsing_and_env() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard::new(3, 8).unwrap());
        for bad in ["8/8", "1/0", "x/2", "-1/2", "3", ""] {
            assert!(matches!(Shard::parse(bad), Err(CompatError::InvalidShard { .. })), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(Shard::from_vars(env(&[]), 4).unwrap(), None);
        assert_eq!(
            Shard::from_vars(env(&[("JOB_COMPLETION_INDEX", "2")]), 4).unwrap(),
            Some(Shard::new(2, 4).unwrap())
        );
        assert_eq!(
            Shard::from_vars(env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "1")]), 8).unwrap(),
            Some(Shard::new(4, 8).unwrap())
        );
        assert!(Shard::from_vars(env(&[("JOB_COMPLETION_INDEX", "4")]), 4).is_err());
        assert!(Shard::from_vars(env(&[("SLURM_ARRAY_TASK_ID", "abc")]), 4).is_err());
    }

    proptest! {
        #[test]
        fn shards_partition_the_grid(len in 0usize..500, count in 1usize..20) {
            let items: Vec<usize> = (0..len).collect();
            let mut seen = vec![0u32; len];
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                for &i in shard.select(&items) {
                    prop_assert!(shard.contains(i));
                    seen[i] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
        }
    }
}
