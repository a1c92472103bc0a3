//! Reference solution for lab 01 (`kubelab lab check 01 --solution`).

use std::collections::BTreeMap;

use kubelab_api::selector::Requirement;

pub fn matches(requirement: &Requirement, labels: &BTreeMap<String, String>) -> bool {
    match requirement {
        Requirement::Equals(key, value) => labels.get(key) == Some(value),
        // Objects without the label match `!=` and `notin`: "not prod" is
        // true of something that has no environment at all.
        Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
        Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
        Requirement::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
        Requirement::Exists(key) => labels.contains_key(key),
        Requirement::DoesNotExist(key) => !labels.contains_key(key),
    }
}
