//! The cluster's address plan (chapter 03), shared by the API server
//! (which allocates Service IPs and node ports), the network plugin, the
//! service proxy and the DNS server.
//!
//! | range | what | upstream flag |
//! |---|---|---|
//! | `10.244.0.0/16` | pod IPs; node *n* gets `10.244.n.0/24` | `--cluster-cidr`, `--node-cidr-mask-size` |
//! | `10.96.0.0/12` | Service cluster IPs | `--service-cluster-ip-range` |
//! | `10.96.0.1` | the `kubernetes` Service (first address) | |
//! | `10.96.0.10` | the cluster DNS Service, `kube-dns` | kubelet `--cluster-dns` |
//! | `172.18.0.0/24` | node IPs on the cluster bridge | (the nodes' own network) |
//! | `30000-32767` | node ports | `--service-node-port-range` |
//!
//! These addresses exist only inside the network namespaces kubelab
//! creates; nothing is added to the host's own network.

use std::net::Ipv4Addr;

/// A v4 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub const fn new(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            base: Ipv4Addr::new(a, b, c, d),
            prefix,
        }
    }

    /// How many addresses the range holds.
    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix as u32)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix as u32)
        };
        u32::from(ip) & mask == u32::from(self.base) & mask
    }

    /// The `i`-th address of the range (0 is the network address).
    pub fn nth(&self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + i)
    }

    /// The position of `ip` in the range.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        self.contains(ip)
            .then(|| u32::from(ip) - u32::from(self.base))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR"))?;
        let base: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{prefix:?} is not a prefix length"))?;
        Ok(Cidr { base, prefix })
    }
}

// ANCHOR: plan
pub const CLUSTER_CIDR: Cidr = Cidr::new(10, 244, 0, 0, 16);
pub const SERVICE_CIDR: Cidr = Cidr::new(10, 96, 0, 0, 12);
pub const NODE_NETWORK: Cidr = Cidr::new(172, 18, 0, 0, 24);
pub const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
pub const DNS_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
pub const CLUSTER_DOMAIN: &str = "cluster.local";
pub const NODE_PORT_RANGE: std::ops::RangeInclusive<u16> = 30000..=32767;

/// Node *n*'s (1-based) pod range: `10.244.n.0/24`.
pub fn node_pod_cidr(n: usize) -> Cidr {
    Cidr::new(10, 244, n as u8, 0, 24)
}

/// Node *n*'s address on the cluster bridge: `172.18.0.(n+1)`.
pub fn node_ip(n: usize) -> Ipv4Addr {
    NODE_NETWORK.nth(n as u32 + 1)
}
// ANCHOR_END: plan

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_arithmetic() {
        assert!(SERVICE_CIDR.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!SERVICE_CIDR.contains(Ipv4Addr::new(10, 112, 0, 0)));
        assert_eq!(SERVICE_CIDR.size(), 1 << 20);
        assert_eq!(SERVICE_CIDR.nth(10), DNS_SERVICE_IP);
        assert_eq!(node_pod_cidr(3).to_string(), "10.244.3.0/24");
        assert_eq!(
            node_pod_cidr(3).offset(Ipv4Addr::new(10, 244, 3, 7)),
            Some(7)
        );
        assert_eq!("10.244.0.0/16".parse::<Cidr>(), Ok(CLUSTER_CIDR));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }
}
