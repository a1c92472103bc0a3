//! The fake runtime: containers that are only records.
//!
//! Like kwok ("Kubernetes WithOut Kubelet"), it lets one machine pretend to
//! be a thousand nodes: every container is "running" the moment it is
//! started and stays so until stopped — except `true` and `false`, which
//! end at once (exit 0 and 1), so Jobs can complete on fake nodes. The
//! kubelet, scheduler and controllers above it are the real ones, which is
//! what scale tests measure. Logs are empty; exec, attach and port-forward
//! are refused.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncWrite;

use crate::{
    ContainerConfig, ContainerState, ContainerStatus, ExecProcess, ImageStore, PodSandbox,
    PodSandboxConfig, PodStream, Result, Runtime, RuntimeError, RuntimeKind,
};

pub struct FakeRuntime {
    images: ImageStore,
    sandboxes: Mutex<HashMap<String, PodSandbox>>,
    containers: Mutex<HashMap<String, ContainerStatus>>,
}

impl FakeRuntime {
    pub fn new(images: ImageStore) -> FakeRuntime {
        FakeRuntime {
            images,
            sandboxes: Mutex::default(),
            containers: Mutex::default(),
        }
    }
}

fn refused(what: &str) -> RuntimeError {
    RuntimeError::Unsupported(format!(
        "{what} needs a real process: this node runs the fake runtime (kubelab up --runtime fake)"
    ))
}

#[async_trait::async_trait]
impl Runtime for FakeRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Fake
    }

    fn images(&self) -> &ImageStore {
        &self.images
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let id = crate::new_id();
        self.sandboxes.lock().unwrap().insert(
            id.clone(),
            PodSandbox {
                id: id.clone(),
                config: config.clone(),
                ready: true,
            },
        );
        Ok(id)
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        self.sandboxes.lock().unwrap().remove(id);
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandbox>> {
        Ok(self.sandboxes.lock().unwrap().values().cloned().collect())
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        // A name that no image has fails, as on a real node.
        let image_id = self.images.resolve(&config.image)?.id;
        let id = crate::new_id();
        self.containers.lock().unwrap().insert(
            id.clone(),
            ContainerStatus {
                id: id.clone(),
                sandbox_id: sandbox_id.into(),
                config: config.clone(),
                image_id,
                state: ContainerState::Created,
                log_path: "/dev/null".into(),
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut c = self.containers.lock().unwrap();
        let s = c
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        // Two commands end at once, as kwok's pod "stages" do: `true`
        // succeeds and `false` fails, so Jobs can finish on fake nodes.
        let code = match s.config.argv.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["true"] => Some(0),
            ["false"] => Some(1),
            _ => None,
        };
        let now = crate::now();
        s.state = match code {
            Some(exit_code) => ContainerState::Exited {
                started_at: Some(now.clone()),
                finished_at: now,
                exit_code,
                reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
                message: None,
            },
            None => ContainerState::Running { started_at: now },
        };
        Ok(())
    }

    async fn stop_container(&self, id: &str, _grace: Duration) -> Result<()> {
        let mut c = self.containers.lock().unwrap();
        let s = c
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        if let ContainerState::Running { started_at } = &s.state {
            s.state = ContainerState::Exited {
                started_at: Some(started_at.clone()),
                finished_at: crate::now(),
                exit_code: 0,
                reason: "Completed".into(),
                message: None,
            };
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.containers.lock().unwrap().remove(id);
        Ok(())
    }

    async fn list_containers(&self) -> Result<Vec<ContainerStatus>> {
        Ok(self.containers.lock().unwrap().values().cloned().collect())
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        self.containers
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(id.into()))
    }

    async fn exec(&self, _: &str, _: &[String], _: bool, _: bool) -> Result<ExecProcess> {
        Err(refused("exec"))
    }

    async fn attach_stdin(&self, _: &str) -> Result<Pin<Box<dyn AsyncWrite + Send>>> {
        Err(refused("attach"))
    }

    async fn port_forward(&self, _: &str, _: u16) -> Result<Box<dyn PodStream>> {
        Err(refused("port-forward"))
    }
}
