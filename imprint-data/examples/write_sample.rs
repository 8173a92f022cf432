//! Writes a small embedding file, for checking interoperability with other readers:
//! `cargo run -p imprint-data --example write_sample -- out.h5`, then
//! `python scripts/check_written.py out.h5`.

use imprint_data::{Embeddings, WriteOptions, write_embeddings};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: write_sample OUT.h5")?;
    // x[i, j] = i + j / 10, y[i] = i % 3: the values scripts/check_written.py expects.
    let x = Array2::from_shape_fn((130, 7), |(i, j)| i as f32 + j as f32 / 10.0);
    let y = (0..130).map(|i| i % 3).collect();
    let data = Embeddings::new(x, y)?;
    let options = WriteOptions::new()
        .overwrite(true)
        .attribute("backbone", "sample")
        .attribute("seed", 7_i64)
        .attribute("scale", 0.5);
    write_embeddings(&path, &data, &options)?;
    println!("wrote {path}");
    Ok(())
}
