//! Examples live in this package's `[[example]]` targets; run one with
//! `cargo run -p imprint-examples --example custom_generator`.
