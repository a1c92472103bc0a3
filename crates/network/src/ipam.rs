//! IP address management for one node's pod range, in the style of the
//! CNI `host-local` plugin: one file per address handed out, named by the
//! address and holding the sandbox id. Creating the file with `O_EXCL` is
//! the allocation, so an address is never given twice — not by two pods
//! starting at once, and not after kubelab restarts (the files stay).

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use kubelab_api::network::Cidr;

#[derive(Debug, Clone)]
pub struct Ipam {
    /// `None`: records kept in memory only (the fake runtime, whose
    /// sandboxes do not outlive kubelab either).
    dir: Option<PathBuf>,
    range: Cidr,
    memory: std::sync::Arc<std::sync::Mutex<Memory>>,
}

/// The in-memory records: address → owner, and the last one handed out.
#[derive(Debug, Default)]
struct Memory {
    owners: std::collections::BTreeMap<Ipv4Addr, String>,
    last: Option<Ipv4Addr>,
}

impl Ipam {
    /// Keeps its records in `dir` (created if missing).
    pub fn open(dir: PathBuf, range: Cidr) -> std::io::Result<Ipam> {
        std::fs::create_dir_all(&dir)?;
        Ok(Ipam {
            dir: Some(dir),
            range,
            memory: Default::default(),
        })
    }

    /// Records in memory only.
    pub fn in_memory(range: Cidr) -> Ipam {
        Ipam {
            dir: None,
            range,
            memory: Default::default(),
        }
    }

    /// The gateway: the range's first address, on the node's bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        self.range.nth(1)
    }

    /// An address for `owner` (a sandbox id); the same one if it has one.
    pub fn allocate(&self, owner: &str) -> std::io::Result<Ipv4Addr> {
        if let Some(ip) = self.lookup(owner) {
            return Ok(ip);
        }
        // Start after the last address handed out, as host-local does, so a
        // freed address is not reused at once (a stale client would reach
        // the wrong pod).
        let last = match &self.dir {
            Some(dir) => std::fs::read_to_string(dir.join("last"))
                .ok()
                .and_then(|s| s.trim().parse::<Ipv4Addr>().ok()),
            None => self.memory.lock().unwrap().last,
        }
        .and_then(|ip| self.range.offset(ip))
        .unwrap_or(1);
        let usable = self.range.size() - 3; // network, gateway, broadcast
        for step in 1..=usable {
            let offset = 2 + (last - 1 + step - 1) % usable;
            let ip = self.range.nth(offset);
            if self.claim(ip, owner)? {
                return Ok(ip);
            }
        }
        Err(std::io::Error::other(format!(
            "no free address left in {}",
            self.range
        )))
    }

    /// Takes `ip` for `owner` if it is free; creating the record file with
    /// O_EXCL is what makes two claims of one address impossible.
    fn claim(&self, ip: Ipv4Addr, owner: &str) -> std::io::Result<bool> {
        let Some(dir) = &self.dir else {
            let mut m = self.memory.lock().unwrap();
            if m.owners.contains_key(&ip) {
                return Ok(false);
            }
            m.owners.insert(ip, owner.to_string());
            m.last = Some(ip);
            return Ok(true);
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(ip.to_string()));
        match file {
            Ok(mut f) => {
                f.write_all(owner.as_bytes())?;
                std::fs::write(dir.join("last"), ip.to_string())?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The address `owner` holds.
    pub fn lookup(&self, owner: &str) -> Option<Ipv4Addr> {
        self.records()
            .into_iter()
            .find(|(_, o)| o == owner)
            .map(|(ip, _)| ip)
    }

    /// Gives `owner`'s address back.
    pub fn release(&self, owner: &str) {
        let Some(dir) = &self.dir else {
            self.memory.lock().unwrap().owners.retain(|_, o| o != owner);
            return;
        };
        for (ip, o) in self.records() {
            if o == owner {
                let _ = std::fs::remove_file(dir.join(ip.to_string()));
            }
        }
    }

    /// Every address held, with its owner.
    pub fn records(&self) -> Vec<(Ipv4Addr, String)> {
        let Some(dir) = &self.dir else {
            let m = self.memory.lock().unwrap();
            return m.owners.iter().map(|(ip, o)| (*ip, o.clone())).collect();
        };
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let ip = e.file_name().to_str()?.parse::<Ipv4Addr>().ok()?;
                let owner = std::fs::read_to_string(e.path()).ok()?;
                Some((ip, owner))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_twice_and_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("kubelab-ipam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let range: Cidr = "10.244.1.0/24".parse().unwrap();
        let ipam = Ipam::open(dir.clone(), range).unwrap();
        let a = ipam.allocate("a").unwrap();
        let b = ipam.allocate("b").unwrap();
        assert_eq!(a, "10.244.1.2".parse::<Ipv4Addr>().unwrap());
        assert_ne!(a, b);
        assert_eq!(ipam.allocate("a").unwrap(), a, "same owner, same address");
        // A new Ipam on the same folder (kubelab restarted) knows both.
        let again = Ipam::open(dir.clone(), range).unwrap();
        assert_eq!(again.lookup("b"), Some(b));
        let c = again.allocate("c").unwrap();
        assert!(c != a && c != b);
        again.release("a");
        assert_eq!(again.lookup("a"), None);
        // The freed address is not the next one handed out.
        assert_ne!(again.allocate("d").unwrap(), a);
        // 253 usable addresses in a /24: the range runs out, with an error.
        let mut n = 0;
        while again.allocate(&format!("x{n}")).is_ok() {
            n += 1;
        }
        assert_eq!(again.records().len(), 253);
        // In memory: the same rules, no files.
        let mem = Ipam::in_memory(range);
        let (x, y) = (mem.allocate("x").unwrap(), mem.allocate("y").unwrap());
        assert!(x != y && mem.allocate("x").unwrap() == x);
        mem.release("x");
        assert_ne!(mem.allocate("z").unwrap(), x);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
