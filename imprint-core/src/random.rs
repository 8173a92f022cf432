//! Random streams: the one place where a seed and a purpose become a random
//! number generator.
//!
//! Every random draw of the framework (a class's proxy generation, few-shot
//! presampling, proxies generated for shots appended to a class) comes from
//! [`stream_rng`]: a ChaCha8 generator seeded with the user's seed, on a
//! stream chosen by the purpose. Streams are independent, so a class's draws
//! do not depend on which other classes are imprinted, in what order or on
//! how many threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{ImprintError, Result};

/// The generator behind every stream: seedable, portable, with 2^64
/// independent streams per seed.
pub type StreamRng = ChaCha8Rng;

/// What a random stream is used for; each purpose has its own stream number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream(u64);

/// Classes and updates per class that [`Stream::append`] can number.
const APPEND_LIMIT: u64 = 1 << 31;

impl Stream {
    /// Proxy generation of the class imprinted at position `0`, `1`, ... of a
    /// head (it keeps its stream when earlier classes are removed). Stream
    /// number: the position.
    pub fn class(position: usize) -> Self {
        Self(position as u64)
    }

    /// Few-shot presampling of the class with this label (`imprint-data`).
    /// Stream number: the label. It shares its numbers with [`Stream::class`]
    /// (class `c` and label `c` draw the same numbers under one seed), as every
    /// published record of this project was computed that way; changing it
    /// would change the few-shot records that also draw proxies at random.
    pub fn presample(label: usize) -> Self {
        Self(label as u64)
    }

    /// Proxies generated from shots appended to the class at `class` (heads
    /// that do not refit), the `update`-th such addition to that class.
    /// Stream number: `2^63 + class * 2^32 + update`, disjoint from every
    /// [`Stream::class`] and from every other append.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] for a class at position `2^31` or
    /// beyond, or after `2^31` earlier appends, which would reuse a stream.
    pub fn append(class: usize, update: u64) -> Result<Self> {
        let class = class as u64;
        if class >= APPEND_LIMIT {
            return Err(ImprintError::invalid(
                "class",
                class,
                "appended proxies are numbered for the first 2^31 classes",
            ));
        }
        if update >= APPEND_LIMIT {
            return Err(ImprintError::invalid(
                "update",
                update,
                "a class can receive at most 2^31 appended batches",
            ));
        }
        Ok(Self((1 << 63) | (class << 32) | update))
    }

    /// The ChaCha8 stream number.
    pub fn number(self) -> u64 {
        self.0
    }
}

/// The random generator for `stream` under `seed`.
pub fn stream_rng(seed: u64, stream: Stream) -> StreamRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream.number());
    rng
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;

    fn first(seed: u64, stream: Stream) -> u64 {
        stream_rng(seed, stream).next_u64()
    }

    #[test]
    fn append_streams_never_meet_class_streams() {
        // The collision this module removed: an addition to class 0 after one
        // proxy drew the stream of the class imprinted at position 1.
        let append = |class, update| Stream::append(class, update).unwrap();
        assert_ne!(first(7, append(0, 1)), first(7, Stream::class(1)));
        for class in [0usize, 1, 5, (1 << 31) - 1] {
            for update in [0u64, 1, 2, (1 << 31) - 1] {
                let n = append(class, update).number();
                assert!(n >= 1 << 63, "append streams live above every class position");
                assert_ne!(n, append(class ^ 1, update).number());
                assert_ne!(n, append(class, update ^ 1).number());
            }
        }
        assert_ne!(first(7, append(0, 0)), first(7, append(0, 1)));
    }

    #[test]
    fn streams_are_reproducible_and_out_of_range_appends_are_errors() {
        assert_eq!(first(3, Stream::class(2)), first(3, Stream::class(2)));
        assert_ne!(first(3, Stream::class(2)), first(4, Stream::class(2)));
        assert_eq!(Stream::presample(4), Stream::class(4));
        assert!(Stream::append(1 << 31, 0).is_err());
        assert!(Stream::append(0, 1 << 31).is_err());
    }
}
