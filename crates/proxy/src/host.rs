//! Node ports and load balancers on the host's `127.0.0.1`.
//!
//! The cluster's addresses live inside kubelab's network namespaces, so
//! the host cannot reach a node IP. As Docker Desktop and kind's port
//! mappings do, kubelab publishes on the host's loopback:
//! * every `NodePort` Service port at `127.0.0.1:<nodePort>`;
//! * every `LoadBalancer` Service port at `127.0.0.1:<port>`, and writes
//!   `status.loadBalancer.ingress: [{ip: 127.0.0.1}]` (the job of a cloud
//!   controller upstream).
//!
//! Each accepted connection goes to a ready endpoint chosen at random —
//! the original, userspace kube-proxy — dialled from inside a node's
//! network namespace where pod IPs are routable (or from the host, on the
//! `process` runtime, where pods listen on the host's loopback).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand::Rng;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// Where a published port sends its connections.
pub type Backends = Arc<Mutex<Vec<(Ipv4Addr, u16)>>>;

struct Published {
    /// The Service port that holds it (`namespace/name:port`).
    owner: String,
    backends: Backends,
    task: JoinHandle<()>,
}

/// The host listeners, by host port.
pub struct HostPorts {
    /// A node namespace to dial from (`None`: dial from the host).
    dial_netns: Option<PathBuf>,
    published: Mutex<HashMap<u16, Published>>,
}

impl HostPorts {
    pub fn new(dial_netns: Option<PathBuf>) -> HostPorts {
        HostPorts {
            dial_netns,
            published: Mutex::default(),
        }
    }

    /// Opens a TCP connection to `to` from inside the dialling namespace.
    pub async fn dial(&self, to: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = match &self.dial_netns {
            // A socket belongs to the namespace it was created in.
            Some(ns) => kubelab_network::linux::in_netns(ns, socket_fd)
                .map_err(|e| std::io::Error::other(e.to_string()))??,
            None => socket_fd()?,
        };
        let std_stream = std::net::TcpStream::from(socket);
        std_stream.set_nonblocking(true)?;
        TcpSocket::from_std_stream(std_stream).connect(to).await
    }

    /// Makes `127.0.0.1:port` forward to `backends` (kept up to date by
    /// the caller) for `owner`, a Service port (`namespace/name:port`). An
    /// error means the port is taken: on the host, or by another Service.
    pub async fn publish(
        self: &Arc<Self>,
        port: u16,
        owner: &str,
        backends: Vec<(Ipv4Addr, u16)>,
    ) -> std::io::Result<()> {
        if let Some(p) = self.published.lock().unwrap().get(&port) {
            if p.owner != owner {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("already published for {}", p.owner),
                ));
            }
            *p.backends.lock().unwrap() = backends;
            return Ok(());
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let shared: Backends = Arc::new(Mutex::new(backends));
        let (me, b) = (self.clone(), shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let to = {
                    let list = b.lock().unwrap();
                    if list.is_empty() {
                        None
                    } else {
                        Some(list[rand::rng().random_range(0..list.len())])
                    }
                };
                let me = me.clone();
                tokio::spawn(async move {
                    // No ready endpoint: the connection is closed at once.
                    let Some((ip, p)) = to else { return };
                    if let Ok(mut server) = me.dial(SocketAddr::from((ip, p))).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.published.lock().unwrap().insert(
            port,
            Published {
                owner: owner.to_string(),
                backends: shared,
                task,
            },
        );
        Ok(())
    }

    /// Closes every host port not in `keep`.
    pub fn retain(&self, keep: &[u16]) {
        self.published.lock().unwrap().retain(|port, p| {
            let k = keep.contains(port);
            if !k {
                p.task.abort();
            }
            k
        });
    }
}

impl Drop for HostPorts {
    fn drop(&mut self) {
        self.retain(&[]);
    }
}

/// Listens on `listen` inside the network namespace `netns` and forwards
/// every connection to `to`, dialled from kubelab's own namespace: how pods
/// reach the API server on the host's loopback (the `kubernetes` Service's
/// endpoints are these listeners).
pub async fn forward_from_netns(
    netns: &std::path::Path,
    listen: SocketAddr,
    to: SocketAddr,
) -> std::io::Result<JoinHandle<()>> {
    let listener = kubelab_network::linux::in_netns(netns, move || {
        let l = std::net::TcpListener::bind(listen)?;
        l.set_nonblocking(true)?;
        Ok::<_, std::io::Error>(l)
    })
    .map_err(|e| std::io::Error::other(e.to_string()))??;
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    }))
}

/// A fresh TCP socket (not yet connected), in the caller's namespace.
pub fn socket_fd() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) has no memory arguments; a non-negative result is a
    // new descriptor that nothing else owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}
