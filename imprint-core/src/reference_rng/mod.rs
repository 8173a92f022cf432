//! The random draws of the reference implementation, bit for bit.
//!
//! The reference (DATEXIS/IMPRINT) draws from two generators: PyTorch's global
//! CPU generator, seeded once per combination by `torch.manual_seed(seed)` and
//! consumed class after class (few-shot presampling `torch.randperm`, GEN
//! `random` = `torch.randperm`, `fps` = `torch.randint`, `none` =
//! `xavier_uniform_`), and a fresh NumPy `RandomState(seed)` for each
//! scikit-learn `KMeans(random_state=seed)`. Both are MT19937 ([`Mt19937`]);
//! [`TorchGenerator`] and [`RandomState`] reproduce their seeding and outputs,
//! and the free functions reproduce torch 2.2.2's algorithms on top of any
//! [`rand::RngCore`].
//!
//! [`RngMode::Reference`] selects these algorithms in the generators of
//! `imprint-gen` and in presampling; [`RngMode::Portable`] (the default) keeps
//! the faster, stream-per-class ChaCha8 draws.

mod mt19937;
mod numpy;
mod torch;

pub use mt19937::Mt19937;
pub use numpy::RandomState;
pub use torch::{RANDPERM_MAX, TorchGenerator, randint, randperm, uniform_f32, xavier_bound, xavier_uniform};

/// Which random-number algorithms a stage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RngMode {
    /// imprint-rs's own draws (`rand`'s sampling on the RNG passed in, ChaCha8
    /// streams per class): independent of class order and thread count.
    #[default]
    Portable,
    /// The reference's algorithms (torch's `randperm`, `randint`,
    /// `uniform_`; scikit-learn's k-means++ on a NumPy `RandomState`), so that
    /// a [`TorchGenerator`] passed in gives the reference's numbers.
    Reference,
}
