//! Sans-IO protocol logic: everything that turns bytes into meaning and back.
//!
//! Nothing under `proto` imports monoio, opens a socket or reads a clock: callers pass bytes and
//! `now`. That keeps every codec deterministic, fuzzable and testable in microseconds.

pub mod api;
pub mod auth;
pub mod filter;
pub mod http;
pub mod pusher;
pub mod ws;
