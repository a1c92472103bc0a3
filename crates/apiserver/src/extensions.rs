//! What later chapters add to the request path besides kinds: who may
//! call (authenticators) and extra subresources (handlers).
//!
//! Chapter 01's server knows one identity, the admin's bearer token.
//! Chapter 05 adds ServiceAccount tokens — JWTs the server signs and then
//! accepts as `system:serviceaccount:<ns>:<name>` — and the `token`
//! subresource of ServiceAccounts that issues them (upstream's
//! TokenRequest API). Neither belongs to the generic server, so a chapter
//! registers them in the [`ApiExtensions`] slot of the cluster builder,
//! as it registers a kind's [`crate::strategy::Strategy`]:
//!
//! ```text
//! Authorization: Bearer … ─▶ the admin token? ─▶ each Authenticator ─▶ 401
//! POST …/serviceaccounts/x/token ─▶ the handler registered for (ServiceAccount, token)
//! ```

use std::sync::Arc;

use serde_json::Value;

use crate::objects::Objects;
use crate::server::User;
use crate::status::ApiError;

/// Recognises a bearer token (upstream: an authenticator of the
/// `--authentication-*` chain, e.g. the ServiceAccount token authenticator).
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `Some(user)` if the token is one of ours and still valid.
    async fn authenticate(&self, objects: &Objects, token: &str) -> Option<User>;
}

/// Serves `POST <object>/<subresource>` for one kind.
#[async_trait::async_trait]
pub trait SubresourceHandler: Send + Sync + 'static {
    /// `parent` is the stored object the URL names; `body` the request's.
    /// Returns the response object (sent with 201 Created).
    async fn create(
        &self,
        objects: &Objects,
        parent: &Value,
        body: Value,
    ) -> Result<Value, ApiError>;
}

/// A whole API group served by a chapter's code instead of the store:
/// upstream's *aggregated API* (an `APIService` that sends the group's
/// requests to an extension server, as metrics-server serves
/// `metrics.k8s.io`). Read-only: `get` and `list`.
#[async_trait::async_trait]
pub trait AggregatedApi: Send + Sync + 'static {
    fn group(&self) -> &'static str;
    fn version(&self) -> &'static str;
    fn resources(&self) -> &'static [kubelab_api::registry::ResourceInfo];
    /// `name` is `None` for a list; `label_selector` as given in the query.
    async fn get(
        &self,
        resource: &'static kubelab_api::registry::ResourceInfo,
        namespace: Option<&str>,
        name: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Value, ApiError>;
}

/// `(group, kind, subresource)`, e.g. `("", "ServiceAccount", "token")`.
pub type Subresource = (&'static str, &'static str, &'static str);

/// The slot later chapters fill (see the module documentation).
#[derive(Default, Clone)]
pub struct ApiExtensions {
    pub authenticators: Vec<Arc<dyn Authenticator>>,
    /// `(group, kind, subresource)` → its handler.
    pub subresources: Vec<(Subresource, Arc<dyn SubresourceHandler>)>,
    /// API groups served by code (chapter 06: `metrics.k8s.io`).
    pub aggregated: Vec<Arc<dyn AggregatedApi>>,
}

impl ApiExtensions {
    pub fn authenticator(&mut self, a: impl Authenticator) -> &mut Self {
        self.authenticators.push(Arc::new(a));
        self
    }

    pub fn subresource(
        &mut self,
        group: &'static str,
        kind: &'static str,
        subresource: &'static str,
        handler: impl SubresourceHandler,
    ) -> &mut Self {
        self.subresources
            .push(((group, kind, subresource), Arc::new(handler)));
        self
    }

    pub fn aggregated_api(&mut self, api: impl AggregatedApi) -> &mut Self {
        self.aggregated.push(Arc::new(api));
        self
    }

    pub(crate) fn aggregated_group(&self, group: &str) -> Option<&Arc<dyn AggregatedApi>> {
        self.aggregated.iter().find(|a| a.group() == group)
    }

    pub(crate) fn handler(
        &self,
        group: &str,
        kind: &str,
        subresource: &str,
    ) -> Option<&Arc<dyn SubresourceHandler>> {
        self.subresources
            .iter()
            .find(|((g, k, s), _)| *g == group && *k == kind && *s == subresource)
            .map(|(_, h)| h)
    }
}
