//! One informer per resource, shared by everyone who asks.
//!
//! Ten controllers that each watched pods on their own would hold ten
//! copies of every pod and put ten watches on the API server. client-go's
//! `SharedInformerFactory` hands out one informer per resource instead,
//! created the first time someone asks for it; every later caller gets the
//! same cache. This is that factory. It knows no kinds: a chapter that
//! adds a controller for a new kind asks for its informer by kind, and the
//! informer comes to life then — nothing is started for chapters that are
//! not installed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kubelab_api::ResourceInfo;

use crate::informer::Informer;
use crate::rest::{self, Client};

#[derive(Clone)]
pub struct InformerFactory {
    client: Client,
    /// Keyed by `group/version/plural`.
    informers: Arc<Mutex<HashMap<String, Informer>>>,
}

impl InformerFactory {
    pub fn new(client: &Client) -> InformerFactory {
        InformerFactory {
            client: client.named("shared-informers"),
            informers: Arc::default(),
        }
    }

    /// The shared informer of `info`'s resource, started on first use.
    pub fn informer(&self, info: &'static ResourceInfo) -> Informer {
        self.shared("", info, |client| Informer::start(client, info, None))
    }

    /// The shared metadata-only informer of `info`'s resource (for the
    /// garbage collector), started on first use.
    pub fn metadata(&self, info: &'static ResourceInfo) -> Informer {
        self.shared("metadata:", info, |client| {
            Informer::start_metadata(client, info)
        })
    }

    /// The informer under `kind` + the resource, started by `start` the
    /// first time.
    fn shared(
        &self,
        kind: &str,
        info: &'static ResourceInfo,
        start: impl FnOnce(&Client) -> Informer,
    ) -> Informer {
        let key = format!("{kind}{}/{}/{}", info.group, info.version, info.plural);
        self.informers
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| start(&self.client))
            .clone()
    }

    /// The shared informer of a kind: `of("apps/v1", "ReplicaSet")`.
    pub fn of(&self, api_version: &str, kind: &str) -> Informer {
        self.informer(rest::resource(api_version, kind))
    }
}
