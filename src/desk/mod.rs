//! The review desk's pure cores, used by the review server: which
//! contacts humans review ([`sampling`]: plans from `rules/sampling.toml`,
//! deterministic with a seed, assigned under a workload cap) and how far
//! reviewers agree with each other and with the machine ([`agreement`]:
//! percent agreement and Cohen's kappa per rule) and how far each plan's
//! tasks have got ([`progress`]). No I/O beyond reading
//! the plan file; the store and the HTTP API do the rest.

pub mod agreement;
pub mod progress;
pub mod sampling;
