//! Examples live in this package's `[[example]]` targets; run one with
//! `cargo run -p imprint-examples --example custom_generator` (from the
//! repository root for `practitioner`, which reads the bundled data).

#[cfg(test)]
mod tests {
    /// The README's "Using the library" block is `practitioner.rs` without its
    /// header comment, so the example users copy is the one CI compiles and runs.
    #[test]
    fn readme_shows_the_practitioner_example() {
        let readme = include_str!("../README.md");
        let example = include_str!("practitioner.rs");
        let (_, body) = example.split_once("\n\n").expect("a header comment, then the code");
        assert!(
            readme.contains(&format!("```rust\n{body}```")),
            "README.md and examples/practitioner.rs differ"
        );
    }
}
