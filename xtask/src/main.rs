//! `cargo xtask`: project automation.

fn main() {
    println!("placeholder");
}
