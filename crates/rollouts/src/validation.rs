//! The rules for the update fields (placeholder, filled below).
use kubelab_apiserver::strategy::Strategy;
pub struct DeploymentRules;
impl Strategy for DeploymentRules {}
pub struct StatefulSetRules;
impl Strategy for StatefulSetRules {}
pub struct DaemonSetRules;
impl Strategy for DaemonSetRules {}
