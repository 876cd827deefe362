//! IPv4 subnets for the networks clubhost creates: the arithmetic of `[docker] subnet_pool`,
//! `subnet_size` and `gateway_subnet`, and the host's routes.
//!
//! Why clubhost picks subnets itself: Docker's default address pools hold about 30 bridge
//! networks, and clubhost makes at least one per project, so the 29th project would fail. Each
//! network instead gets a small block of the club's own pool, recorded in the registry (see
//! `control::subnets`), never overlapping another Docker network or a route of the host (a VPN, a
//! LAN the host must still reach). Pure: only [`host_routes`] reads anything.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network in CIDR form, its address bits below the prefix always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn new(addr: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        if prefix > 32 {
            return None;
        }
        Some(Cidr {
            base: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    pub(crate) fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses it spans.
    pub(crate) fn len(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    fn last(&self) -> u32 {
        self.base | !mask(self.prefix)
    }

    pub(crate) fn overlaps(&self, other: &Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    pub(crate) fn contains(&self, other: &Cidr) -> bool {
        self.base <= other.base && other.last() <= self.last()
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.213.0.0/16`. Host bits must be zero: `10.213.5.0/16` is refused rather than silently
    /// read as `10.213.0.0/16`, since the operator surely meant something else.
    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not an IPv4 network like \"10.213.0.0/16\"");
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let cidr = Cidr::new(addr, prefix).ok_or_else(bad)?;
        if cidr.base != u32::from(addr) {
            return Err(format!(
                "{s:?} has host bits set; the network is {cidr} (write that)"
            ));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// The addresses a network of this prefix gives containers: Docker takes the network address,
/// the broadcast address and the gateway (the bridge's own address).
pub(crate) fn usable_hosts(prefix: u8) -> u64 {
    (1u64 << (32 - u32::from(prefix))).saturating_sub(3)
}

/// Where project networks' blocks come from: `pool` cut into blocks of `/size`, minus
/// `reserved` (the gateway's subnet when it lies inside the pool).
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub(crate) pool: Cidr,
    pub(crate) size: u8,
    pub(crate) reserved: Vec<Cidr>,
}

/// How much of a pool is taken, for `clubhost doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Blocks in the pool.
    pub(crate) total: u64,
    /// Blocks holding one of clubhost's recorded networks.
    pub(crate) used: u64,
    /// Blocks nobody uses and nothing overlaps: what later deploys can have.
    pub(crate) free: u64,
}

impl Usage {
    /// The share of the pool no later deploy can have (clubhost's blocks and blocked ones), in
    /// percent.
    pub(crate) fn percent_taken(&self) -> u64 {
        (self.total - self.free) * 100 / self.total.max(1)
    }
}

impl Pool {
    fn blocks(&self) -> impl Iterator<Item = Cidr> + '_ {
        let step = 1u64 << (32 - u32::from(self.size));
        let count = self.pool.len() / step;
        (0..count).map(move |i| Cidr {
            // Fits in u32: the block lies inside the pool.
            base: self.pool.base + (i * step) as u32,
            prefix: self.size,
        })
    }

    fn is_free(&self, block: &Cidr, taken: &[Cidr]) -> bool {
        !self.reserved.iter().chain(taken).any(|t| t.overlaps(block))
    }

    /// Whether `subnet` is one of this pool's blocks (a recorded subnet from an older pool or a
    /// network made before clubhost chose subnets is not).
    pub(crate) fn holds(&self, subnet: &Cidr) -> bool {
        subnet.prefix == self.size
            && self.pool.contains(subnet)
            && !self.reserved.iter().any(|r| r.overlaps(subnet))
    }

    /// The lowest block that overlaps none of `taken` (allocations, other networks, routes).
    /// Lowest first, so a freed block is reused before fresh ones and the pool fills from the
    /// bottom, which keeps the used part of the range easy to see in `ip route`.
    pub(crate) fn first_free(&self, taken: &[Cidr]) -> Option<Cidr> {
        // Sorted so most candidates are rejected without scanning everything taken.
        let mut taken: Vec<Cidr> = taken
            .iter()
            .filter(|t| t.overlaps(&self.pool))
            .copied()
            .collect();
        taken.sort();
        self.blocks().find(|b| self.is_free(b, &taken))
    }

    /// Counts `ours` (clubhost's recorded subnets) and the blocks `taken` (every subnet or route
    /// in the way, ours included) leaves free.
    pub(crate) fn usage(&self, ours: &[Cidr], taken: &[Cidr]) -> Usage {
        let taken: Vec<Cidr> = taken
            .iter()
            .filter(|t| t.overlaps(&self.pool))
            .copied()
            .collect();
        let mut usage = Usage {
            total: 0,
            used: 0,
            free: 0,
        };
        for block in self.blocks() {
            if self.reserved.iter().any(|r| r.overlaps(&block)) {
                continue;
            }
            usage.total += 1;
            if ours.iter().any(|o| o.overlaps(&block)) {
                usage.used += 1;
            } else if self.is_free(&block, &taken) {
                usage.free += 1;
            }
        }
        usage
    }
}

/// The host's IPv4 routes from `/proc/net/route`, default routes left out (they cover every
/// address, and a subnet of ours is more specific than them by design). Empty where the file does
/// not exist (not Linux): Docker's own overlap checks still apply.
pub(crate) fn host_routes() -> Vec<Cidr> {
    std::fs::read_to_string("/proc/net/route")
        .map(|text| parse_routes(&text))
        .unwrap_or_default()
}

/// Reads `/proc/net/route`: a header line, then one route a line with the destination and mask
/// as hexadecimal: the kernel prints the address's bytes (network order) as a native integer, so
/// its native bytes are the address.
pub(crate) fn parse_routes(text: &str) -> Vec<Cidr> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| u32::from(Ipv4Addr::from(v.to_ne_bytes())))
    };
    let mut routes: Vec<Cidr> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (dest, mask) = (hex(fields.get(1)?)?, hex(fields.get(7)?)?);
            let prefix = u8::try_from(mask.count_ones()).ok()?;
            (prefix > 0).then(|| Cidr::new(Ipv4Addr::from(dest), prefix))?
        })
        .collect();
    routes.sort();
    routes.dedup();
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_networks() {
        assert_eq!(c("10.213.0.0/16").to_string(), "10.213.0.0/16");
        assert_eq!(c("10.213.0.0/16").len(), 65536);
        for bad in [
            "10.213.0.0",
            "10.213.0.0/33",
            "x/16",
            "10.213.0/16",
            "",
            "::1/64",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        let err = "10.213.5.0/16".parse::<Cidr>().unwrap_err();
        assert!(err.contains("10.213.0.0/16"), "{err}");
    }

    #[test]
    fn overlap_and_containment() {
        let pool = c("10.213.0.0/16");
        assert!(pool.contains(&c("10.213.4.32/27")));
        assert!(pool.overlaps(&c("10.0.0.0/8")) && !pool.contains(&c("10.0.0.0/8")));
        assert!(!pool.overlaps(&c("10.214.0.0/27")));
        assert!(!c("10.213.0.0/27").overlaps(&c("10.213.0.32/27")));
        assert!(c("10.213.0.0/27").overlaps(&c("10.213.0.31/32")));
    }

    #[test]
    fn first_free_skips_reserved_taken_and_routes() {
        let pool = Pool {
            pool: c("10.213.0.0/16"),
            size: 27,
            reserved: vec![c("10.213.0.0/22")],
        };
        assert_eq!(pool.first_free(&[]), Some(c("10.213.4.0/27")));
        // A /24 route (say a VPN) blocks all eight /27s in it; a single-host route one block.
        let taken = [c("10.213.4.0/24"), c("10.213.5.1/32"), c("192.168.0.0/16")];
        assert_eq!(pool.first_free(&taken), Some(c("10.213.5.32/27")));
        // A block freed below the highest used one is handed out again first.
        let taken = [c("10.213.4.32/27"), c("10.213.4.64/27")];
        assert_eq!(pool.first_free(&taken), Some(c("10.213.4.0/27")));
        // A route covering the whole pool leaves nothing.
        assert_eq!(pool.first_free(&[c("10.0.0.0/8")]), None);
    }

    #[test]
    fn a_full_pool_has_no_block_and_usage_counts() {
        let pool = Pool {
            pool: c("10.213.0.0/24"),
            size: 26,
            reserved: vec![],
        };
        let ours = [c("10.213.0.0/26"), c("10.213.0.64/26")];
        let foreign = c("10.213.0.128/26");
        let taken = [ours[0], ours[1], foreign];
        assert_eq!(pool.first_free(&taken), Some(c("10.213.0.192/26")));
        let u = pool.usage(&ours, &taken);
        assert_eq!(
            u,
            Usage {
                total: 4,
                used: 2,
                free: 1
            }
        );
        assert_eq!(u.percent_taken(), 75);
        let all = [taken[0], taken[1], taken[2], c("10.213.0.192/26")];
        assert_eq!(pool.first_free(&all), None);
        assert!(pool.holds(&ours[0]) && !pool.holds(&c("10.213.0.0/27")));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn reads_proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            wg0\t0000D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            garbage line\n";
        assert_eq!(
            parse_routes(text),
            vec![c("10.213.0.0/24"), c("172.17.0.0/16")]
        );
    }

    #[test]
    fn usable_hosts_leave_out_docker_addresses() {
        assert_eq!(usable_hosts(27), 29);
        assert_eq!(usable_hosts(28), 13);
        assert_eq!(usable_hosts(30), 1);
    }
}
