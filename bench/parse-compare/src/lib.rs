//! Empty: this package only holds the `parse` benchmark under `benches/`.
