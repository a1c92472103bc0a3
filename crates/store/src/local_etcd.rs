//! Starts a real etcd cluster on loopback: for tests, the benchmark and a
//! classroom machine (`kubelab etcd --members 3`).
//!
//! Each member is Debian's `etcd` binary (3.4) with its own data directory,
//! client port and peer port, all on 127.0.0.1; the members find each other
//! through `--initial-cluster`, exactly as three machines would. Dropping a
//! [`LocalEtcd`] kills its members and removes their data.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, EtcdStore, Store};

pub struct LocalEtcd {
    dir: PathBuf,
    members: Vec<Member>,
    /// Keep the data directory when dropped (a cluster started by a command).
    keep_data: bool,
}

struct Member {
    name: String,
    client: u16,
    peer: u16,
    child: Option<Child>,
}

impl LocalEtcd {
    /// Starts `members` members with their data under `dir` and waits until
    /// the cluster answers.
    pub fn start(dir: &Path, members: usize) -> Result<LocalEtcd, Error> {
        LocalEtcd::start_on(dir, members, 0)
    }

    /// Like [`LocalEtcd::start`], member `i` serving clients on
    /// `port + 2i` and peers on `port + 2i + 1` (`port` 0: free ports).
    /// Fixed ports let a cluster restart on the data it left.
    pub fn start_on(dir: &Path, members: usize, port: u16) -> Result<LocalEtcd, Error> {
        // Port k of member i: PORT + 2i + k, or any free one.
        let port_of = |i: usize, k: usize| match port {
            0 => free_port(),
            _ => Ok(port.checked_add((2 * i + k) as u16).unwrap_or(0)),
        };
        let members = (0..members)
            .map(|i| {
                Ok(Member {
                    name: format!("kubelab-etcd-{i}"),
                    client: port_of(i, 0)?,
                    peer: port_of(i, 1)?,
                    child: None,
                })
            })
            .collect::<Result<_, Error>>()?;
        std::fs::create_dir_all(dir).map_err(|e| backend("creating", dir, e))?;
        let mut cluster = LocalEtcd {
            dir: dir.to_path_buf(),
            members,
            keep_data: false,
        };
        for i in 0..cluster.members.len() {
            cluster.spawn(i)?;
        }
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// Stops the members but leaves their data in place when dropped.
    pub fn keep_data(&mut self) {
        self.keep_data = true;
    }

    /// `etcd://127.0.0.1:A,127.0.0.1:B,…` with `prefix` appended.
    pub fn url(&self, prefix: &str) -> String {
        let hosts: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client))
            .collect();
        format!("etcd://{}{prefix}", hosts.join(","))
    }

    /// `http://127.0.0.1:A,…`, as `etcdctl --endpoints` wants it.
    pub fn endpoints(&self) -> String {
        let urls: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client))
            .collect();
        urls.join(",")
    }

    /// The process ids of the running members.
    pub fn pids(&self) -> Vec<u32> {
        self.members
            .iter()
            .filter_map(|m| m.child.as_ref().map(Child::id))
            .collect()
    }

    /// kill -9 of member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts member `i` again on its data.
    pub fn restart(&mut self, i: usize) -> Result<(), Error> {
        self.kill(i);
        self.spawn(i)
    }

    fn spawn(&mut self, i: usize) -> Result<(), Error> {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect();
        let m = &self.members[i];
        let data = self.dir.join(&m.name);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name)))
            .map_err(|e| backend("creating the log of", &data, e))?;
        let child = Command::new("etcd")
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&data)
            .arg(format!(
                "--listen-client-urls=http://127.0.0.1:{}",
                m.client
            ))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{}",
                m.client
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{}", m.peer))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                m.peer
            ))
            .arg(format!("--initial-cluster={}", initial.join(",")))
            .arg("--initial-cluster-token=kubelab")
            .arg("--initial-cluster-state=new")
            // Loopback is quick: elect a new leader within a second.
            .args(["--heartbeat-interval=50", "--election-timeout=500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                Error::Backend(format!(
                    "starting etcd: {e} (install Debian's etcd-server; tests/run.sh does)"
                ))
            })?;
        self.members[i].child = Some(child);
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // A write needs a leader and a quorum: then the cluster is up.
            let probe = EtcdStore::connect(&self.url("/kubelab-probe")).and_then(|s| {
                s.update(b"/up", vec![], None)
                    .or_else(|_| s.create(b"/up", vec![]))
                    .map(drop)
            });
            match probe {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(Error::Backend(format!(
                        "etcd did not start within 30 s ({e}); see {}/*.log",
                        self.dir.display()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> Result<u16, Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::Backend(format!("finding a free port: {e}")))
}

fn backend(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Backend(format!("{what} {}: {e}", path.display()))
}
