//! The case library: Autobahn's fuzzingclient sections 1–7, 9 and 10, one module per section,
//! rebuilt from the published case descriptions (ids, payloads and expectations match).

use super::case::Case;

mod s10_autofragment;
mod s1_framing;
mod s2_pings;
mod s3_reserved_bits;
mod s4_opcodes;
mod s5_fragmentation;
mod s6_utf8;
mod s7_close;
mod s9_limits;
mod utf8_vectors;

/// Every case, in Autobahn's order.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(s1_framing::cases());
    cases.extend(s2_pings::cases());
    cases.extend(s3_reserved_bits::cases());
    cases.extend(s4_opcodes::cases());
    cases.extend(s5_fragmentation::cases());
    cases.extend(s6_utf8::cases());
    cases.extend(s7_close::cases());
    cases.extend(s9_limits::cases());
    cases.extend(s10_autofragment::cases());
    cases
}
