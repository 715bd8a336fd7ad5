//! Wire types: the JSON of jobs and results at the edges (files, queue,
//! store, HTTP). Internal stages never see these.

pub mod job;
pub mod result;

pub use job::JobWire;
pub use result::{FailureWire, ResultWire};
