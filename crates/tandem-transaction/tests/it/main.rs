#![allow(unreachable_pub)]
//! Transaction tests on virtual time: two transaction layers joined by a
//! simulated network that can lose chosen messages.

mod cancel;
mod harness;
mod loss;
mod strays;
mod timers;
