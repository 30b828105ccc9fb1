//! End-to-end tests of the `tandem` binary: real processes on loopback,
//! real peers (SIPp), real TLS and WebSocket clients.
#![allow(unreachable_pub)]
// End-to-end tests measure real time.
#![allow(clippy::disallowed_methods)]

mod baresip;
mod browser;
mod cluster;
mod dashboard;
mod dns;
mod node;
mod pbx;
mod run_options;
mod shutdown;
mod status_cli;
mod tls_ws;
mod trunks;
mod wire;
