//! # Lab 03 — which endpoints get traffic
//!
//! kube-proxy turns a Service port into packet-filter rules that spread
//! connections over the Service's endpoints. Which endpoints? Those the
//! EndpointSlices list for that port, and only the ready ones. Write the
//! function that decides; it has the proxy's own signature
//! ([`kubelab_proxy::rules::EndpointsFn`]), and the tests run the proxy's
//! real rule generation with it.
//!
//! **Edit only `src/endpoints.rs`.** See README.md for the task.

#[cfg(not(feature = "solution"))]
mod endpoints;
#[cfg(feature = "solution")]
#[path = "../solution/endpoints.rs"]
mod endpoints;

pub use endpoints::ready_endpoints;

/// Your function as the proxy takes it.
pub const READY_ENDPOINTS: kubelab_proxy::rules::EndpointsFn = ready_endpoints;
