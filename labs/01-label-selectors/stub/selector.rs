//! Your code for lab 01. `kubelab lab reset 01` puts this file back as it was.

use std::collections::BTreeMap;

use kubelab_api::selector::Requirement;

/// Does an object with these `labels` satisfy `requirement`?
///
/// The six operators, as `kubectl get -l` writes them:
///
/// | requirement             | string form        | true when                                  |
/// |-------------------------|--------------------|--------------------------------------------|
/// | `Equals(k, v)`          | `k=v` or `k==v`    | the label `k` exists and equals `v`        |
/// | `NotEquals(k, v)`       | `k!=v`             | the label `k` is missing or differs from `v` |
/// | `In(k, vs)`             | `k in (a,b)`       | the label `k` exists and is one of `vs`    |
/// | `NotIn(k, vs)`          | `k notin (a,b)`    | the label `k` is missing or is none of `vs` |
/// | `Exists(k)`             | `k`                | the label `k` exists (any value)           |
/// | `DoesNotExist(k)`       | `!k`               | the label `k` is missing                   |
pub fn matches(requirement: &Requirement, labels: &BTreeMap<String, String>) -> bool {
    let _ = (requirement, labels);
    todo!("lab 01: decide whether the labels satisfy the requirement")
}
