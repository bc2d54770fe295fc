//! The request path: routing, validation, faults, throttling, TLS, the error envelope and
//! the request log.

mod alarm;
pub mod error;
pub mod faults;
pub mod request_log;
pub mod routes;
pub mod throttle;
pub mod tls;
pub mod validate;
