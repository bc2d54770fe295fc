//! The request path: routing, validation, faults, throttling, TLS and the error envelope.

pub mod error;
pub mod faults;
pub mod routes;
pub mod throttle;
pub mod tls;
pub mod validate;
