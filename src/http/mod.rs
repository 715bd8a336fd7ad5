//! The review server (`callqa serve`): a JSON API over stored results,
//! flags, disputes, agents, reports and calibration, and the review page
//! for compliance officers, served from files embedded in the binary. This
//! module owns axum; the rest of callqa never sees it.
//!
//! - [`api`]: routes, input checks and handlers;
//! - [`auth`]: bearer tokens, roles, signed media links;
//! - [`guard`]: failed sign-ins limited per address, idle connections closed;
//! - [`import`]: late metadata from the CRM (`POST /api/metadata`);
//! - [`media`]: recordings with range requests;
//! - [`review`]: the page (HTML, JS, CSS in `assets/`);
//! - [`server`]: binding, serving, graceful shutdown;
//! - [`ops`]: the queue worker's metrics and health endpoint.

pub mod api;
pub mod auth;
pub mod guard;
pub mod import;
pub mod media;
pub mod ops;
pub mod review;
pub mod server;
