//! Presampling: the shots a class keeps before GEN (the reference's
//! `prefilter_data`: a statistical filter, then a few-shot draw).

use crate::{Result, RngCore, Shots};

/// Selects the rows of one class's shots that GEN sees (after NORMpre).
///
/// An [`crate::Imprinter`] with a presampler applies it to every class right
/// before GEN, drawing from the class's random stream, or in
/// [`crate::RngMode::Reference`] from the torch generator shared by the
/// classes, exactly where the reference draws (`imprint-data`'s
/// `Presampling` is the reference's `weibull` filter and
/// `torch.randperm(n)[:fewshot]`).
pub trait Presampler: Send + Sync + std::fmt::Debug {
    /// The rows to keep, in the order GEN receives them (at least one).
    fn select(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Vec<usize>>;
}
