//! The notification scheduler's pure parts: quiet hours, the timing wheel and the delivery plan.
//!
//! Everything here is sans-IO like `proto`: no monoio, no sockets, no store, and no clock reads
//! (`now` is always a parameter), so the control core's shell can drive it and tests can replay
//! any day, DST nights included, in microseconds.

pub mod error;
pub mod payload;
pub mod plan;
pub mod quiet_hours;
pub mod wheel;

pub use error::SchedulerError;
pub use payload::Payload;
pub use plan::{plan_claims, AfterFailure, Claim, Plan, RetryPolicy};
pub use quiet_hours::{time_zone, QuietHours, QuietPolicy};
pub use wheel::{TimerId, TooFar, Wheel, HORIZON_MS};
