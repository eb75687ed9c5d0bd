//! Filtered collection subscriptions, sans-IO: PocketBase's filter language parsed, compiled
//! once per subscription, indexed, and evaluated against record changes.
//!
//! The pieces, in the order a subscription meets them: [`parse`] (text → [`Expr`], with byte
//! positions in every [`FilterError`] and the 2,500-character / 64-node limits), [`CompiledFilter`]
//! (a collection's list rule ANDed with the client's filter, `@request.auth.*` bound to the
//! connection's claims), [`FilterIndex`] (subscribers by one equality conjunct, so a change
//! touches only candidates), [`PathTable`] (the paths of a collection's scanned filters,
//! resolved once per change for all of them), and [`delivery`] (`created` / `updated` /
//! `deleted` for an update that enters or leaves a filter). The type semantics of each operator are documented in
//! `compare`, the LIKE rules in `like`.
//!
//! Nothing here does I/O, reads a clock or logs: the shard passes text, claims and records.

mod ast;
mod buckets;
mod compare;
mod compile;
mod delivery;
mod error;
mod eval;
mod index;
mod lexer;
mod like;
mod number_test;
mod parser;
mod slots;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
pub(crate) mod index_tests;
#[cfg(test)]
mod parser_tests;
#[cfg(test)]
mod slots_tests;

pub use ast::{CmpOp, Comparison, Expr, Operand};
pub use compile::CompiledFilter;
pub use delivery::{delivery, Action, Change, Delivery};
pub use error::{FilterError, MAX_FILTER_LEN, MAX_FILTER_NODES};
pub use index::{FilterIndex, IndexKey};
pub use like::LikePattern;
pub use number_test::NumberTest;
pub use parser::parse;
pub use slots::{delivery_resolved, PathTable, Resolved, ResolvedChange};
