//! End-to-end tests of the webhook dispatcher against small HTTP(S)
//! servers on 127.0.0.1 that record what they receive and answer from a
//! script.

mod delivery;
mod https;
mod lifecycle;
mod server;
