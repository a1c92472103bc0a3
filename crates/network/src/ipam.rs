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
    dir: PathBuf,
    range: Cidr,
}

impl Ipam {
    /// Keeps its records in `dir` (created if missing).
    pub fn open(dir: PathBuf, range: Cidr) -> std::io::Result<Ipam> {
        std::fs::create_dir_all(&dir)?;
        Ok(Ipam { dir, range })
    }

    /// The gateway: the range's first address, on the node's bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        self.range.nth(1)
    }

    pub fn range(&self) -> Cidr {
        self.range
    }

    /// An address for `owner` (a sandbox id); the same one if it has one.
    pub fn allocate(&self, owner: &str) -> std::io::Result<Ipv4Addr> {
        if let Some(ip) = self.lookup(owner) {
            return Ok(ip);
        }
        // Start after the last address handed out, as host-local does, so a
        // freed address is not reused at once (a stale client would reach
        // the wrong pod).
        let last = std::fs::read_to_string(self.dir.join("last"))
            .ok()
            .and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
            .and_then(|ip| self.range.offset(ip))
            .unwrap_or(1);
        let usable = self.range.size() - 3; // network, gateway, broadcast
        for step in 1..=usable {
            let offset = 2 + (last - 1 + step - 1) % usable;
            let ip = self.range.nth(offset);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.dir.join(ip.to_string()));
            match file {
                Ok(mut f) => {
                    f.write_all(owner.as_bytes())?;
                    std::fs::write(self.dir.join("last"), ip.to_string())?;
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!(
            "no free address left in {}",
            self.range
        )))
    }

    /// The address `owner` holds.
    pub fn lookup(&self, owner: &str) -> Option<Ipv4Addr> {
        self.records().find(|(_, o)| o == owner).map(|(ip, _)| ip)
    }

    /// Gives `owner`'s address back.
    pub fn release(&self, owner: &str) {
        for (ip, o) in self.records() {
            if o == owner {
                let _ = std::fs::remove_file(self.dir.join(ip.to_string()));
            }
        }
    }

    /// Every address held, with its owner.
    pub fn records(&self) -> impl Iterator<Item = (Ipv4Addr, String)> + '_ {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let ip = e.file_name().to_str()?.parse::<Ipv4Addr>().ok()?;
                let owner = std::fs::read_to_string(e.path()).ok()?;
                Some((ip, owner))
            })
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
        assert_eq!(again.records().count(), 253);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
