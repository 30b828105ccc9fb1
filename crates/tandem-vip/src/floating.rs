//! [`FloatingIp`]: one virtual address on one interface, and the operations
//! the cluster leader (and its guard) perform on it.
//!
//! Adding and removing go through rtnetlink (`RTM_NEWADDR` /
//! `RTM_DELADDR`, `rtnetlink(7)`), the same messages `ip addr add/del`
//! (`ip-address(8)`) sends, so the kernel is the only source of truth:
//! [`FloatingIp::is_present`] dumps the interface's addresses
//! (`RTM_GETADDR`) rather than remembering what this process did — a
//! process killed with SIGKILL leaves its addresses configured, and the
//! failover lab counts holders from the kernel's view.
//!
//! All operations are idempotent, because a leader re-asserting its
//! address after a flap and a guard withdrawing it after a crash must not
//! fail on "already done".

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::str::FromStr;

use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};

use crate::announce::{self, AnnounceSchedule};
use crate::error::{Error, Operation};
use crate::netlink::{self, errno, Target};

/// Whether an idempotent operation changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel's state was changed (address added / removed).
    Changed,
    /// The kernel was already in the requested state.
    Unchanged,
}

/// A floating ("virtual") IP address: `address/prefix_len` on `interface`,
/// held by at most one node of the cluster — the leader.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FloatingIp {
    /// Interface name in the caller's network namespace (e.g. `eth0`).
    pub interface: String,
    /// The floating address.
    pub address: IpAddr,
    /// Prefix length it is configured with (e.g. 24, or 32 for a host route).
    pub prefix_len: u8,
}

impl FloatingIp {
    /// A validated floating address.
    pub fn new(
        interface: impl Into<String>,
        address: IpAddr,
        prefix_len: u8,
    ) -> Result<Self, Error> {
        let vip = FloatingIp {
            interface: interface.into(),
            address,
            prefix_len,
        };
        vip.validate()?;
        Ok(vip)
    }

    /// Checks the interface name and prefix length (the fields are public,
    /// so every operation re-checks before talking to the kernel).
    pub fn validate(&self) -> Result<(), Error> {
        let name = &self.interface;
        // IFNAMSIZ is 16 including the NUL; `dev_valid_name()` in
        // net/core/dev.c also refuses '/', ':' and whitespace.
        if name.is_empty()
            || name.len() > 15
            || name == "."
            || name == ".."
            || name
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
        {
            return Err(Error::InvalidInterfaceName {
                interface: name.clone(),
            });
        }
        let max = match self.address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if self.prefix_len > max {
            return Err(Error::InvalidPrefix {
                address: self.address,
                prefix_len: self.prefix_len,
                max,
            });
        }
        Ok(())
    }

    fn target(&self, op: Operation) -> Target<'_> {
        Target {
            op,
            interface: &self.interface,
            address: self.address,
        }
    }

    /// Configures the address on the interface (`RTM_NEWADDR`, like
    /// `ip addr add`). Already present (`EEXIST`) is success.
    ///
    /// IPv6 addresses are added with `IFA_F_NODAD`: duplicate address
    /// detection would keep the address tentative (unusable, and not
    /// announceable) for at least a second, and would fail it outright if
    /// the old holder still answers — deciding who holds the VIP is the
    /// cluster's job, not DAD's (keepalived does the same).
    ///
    /// Needs `CAP_NET_ADMIN`.
    pub async fn add(&self) -> Result<Outcome, Error> {
        self.validate()?;
        let target = self.target(Operation::Add);
        netlink::with_handle(&target, |handle| async move {
            let link = netlink::link(&handle, &target).await?;
            let mut request = handle
                .address()
                .add(link.index, self.address, self.prefix_len);
            if self.address.is_ipv6() {
                request
                    .message_mut()
                    .attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            match request.execute().await {
                Ok(()) => Ok(Outcome::Changed),
                Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(Outcome::Unchanged),
                Err(e) => Err(target.netlink_error(e)),
            }
        })
        .await
    }

    /// Withdraws the address from the interface (`RTM_DELADDR`, like
    /// `ip addr del`), whatever prefix length it was configured with.
    /// Absent is success; so is a missing interface, since an address
    /// cannot be held on an interface that no longer exists.
    ///
    /// Needs `CAP_NET_ADMIN`.
    pub async fn remove(&self) -> Result<Outcome, Error> {
        self.validate()?;
        let target = self.target(Operation::Remove);
        netlink::with_handle(&target, |handle| async move {
            let link = match netlink::link(&handle, &target).await {
                Ok(link) => link,
                Err(Error::InterfaceNotFound { .. }) => return Ok(Outcome::Unchanged),
                Err(e) => return Err(e),
            };
            let mut outcome = Outcome::Unchanged;
            for held in netlink::matching_addresses(&handle, &target, link.index).await? {
                let msg = netlink::deletion_message(&held);
                match handle.address().del(msg).execute().await {
                    Ok(()) => outcome = Outcome::Changed,
                    // Someone else removed it between the dump and now.
                    Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                    Err(e) => return Err(target.netlink_error(e)),
                }
            }
            Ok(outcome)
        })
        .await
    }

    /// Whether the kernel has the address configured on the interface
    /// (`RTM_GETADDR` dump; any prefix length counts). A missing interface
    /// is an error, not `false`: a typo must not read as "not holding".
    pub async fn is_present(&self) -> Result<bool, Error> {
        self.validate()?;
        let target = self.target(Operation::Query);
        netlink::with_handle(&target, |handle| async move {
            let link = netlink::link(&handle, &target).await?;
            let held = netlink::matching_addresses(&handle, &target, link.index).await?;
            Ok(!held.is_empty())
        })
        .await
    }

    /// Announces the address with the default [`AnnounceSchedule`] (three
    /// rounds 50 ms apart): gratuitous ARP request + reply for IPv4, an
    /// unsolicited Neighbor Advertisement with the Override flag to ff02::1
    /// for IPv6. Refuses ([`Error::NotHeld`]) if the address is not
    /// configured on the interface. Returns after the last round.
    ///
    /// Needs `CAP_NET_RAW`.
    pub async fn announce(&self) -> Result<(), Error> {
        self.announce_with(&AnnounceSchedule::default()).await
    }

    /// [`FloatingIp::announce`] with a chosen schedule.
    pub async fn announce_with(&self, schedule: &AnnounceSchedule) -> Result<(), Error> {
        self.validate()?;
        announce::announce(self, schedule).await
    }

    /// Blocking [`FloatingIp::add`], on a private single-threaded runtime.
    pub fn add_blocking(&self) -> Result<Outcome, Error> {
        self.block_on(Operation::Add, self.add())
    }

    /// Blocking [`FloatingIp::remove`], on a private single-threaded runtime:
    /// the entry point for a guard process that has no runtime of its own.
    pub fn remove_blocking(&self) -> Result<Outcome, Error> {
        self.block_on(Operation::Remove, self.remove())
    }

    /// Blocking [`FloatingIp::is_present`].
    pub fn is_present_blocking(&self) -> Result<bool, Error> {
        self.block_on(Operation::Query, self.is_present())
    }

    /// Blocking [`FloatingIp::announce`].
    pub fn announce_blocking(&self) -> Result<(), Error> {
        self.block_on(Operation::Announce, self.announce())
    }

    /// Runs `fut` to completion on a current-thread runtime built on the
    /// calling thread — so sockets are opened in the calling thread's
    /// network namespace.
    fn block_on<T>(
        &self,
        op: Operation,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInsideRuntime {
                op,
                interface: self.interface.clone(),
                address: self.address,
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| Error::Runtime {
                op,
                interface: self.interface.clone(),
                address: self.address,
                source,
            })?;
        runtime.block_on(fut)
    }
}

/// `ADDRESS/PREFIX dev INTERFACE`, the `ip-address(8)` spelling.
impl fmt::Display for FloatingIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} dev {}",
            self.address, self.prefix_len, self.interface
        )
    }
}

/// Parses what [`Display`](fmt::Display) prints, e.g.
/// `198.18.0.100/24 dev eth0` — convenient for handing a VIP to a guard
/// process on its command line.
impl FromStr for FloatingIp {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem| Error::InvalidSpec {
            input: s.to_owned(),
            problem,
        };
        let mut words = s.split_whitespace();
        let cidr = words.next().ok_or_else(|| bad("empty"))?;
        if words.next() != Some("dev") {
            return Err(bad("missing \"dev\""));
        }
        let interface = words.next().ok_or_else(|| bad("missing interface name"))?;
        if words.next().is_some() {
            return Err(bad("trailing words"));
        }
        let (address, prefix) = cidr.split_once('/').ok_or_else(|| bad("missing /PREFIX"))?;
        let address: IpAddr = address.parse().map_err(|_| bad("not an IP address"))?;
        let prefix_len: u8 = prefix.parse().map_err(|_| bad("prefix is not a number"))?;
        FloatingIp::new(interface, address, prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips() {
        for text in ["198.18.0.100/24 dev eth0", "2001:db8::1/64 dev bond0.12"] {
            let vip: FloatingIp = text.parse().unwrap();
            assert_eq!(vip.to_string(), text);
        }
    }

    #[test]
    fn spec_errors_are_specific() {
        let cases = [
            ("", "empty"),
            ("198.18.0.100/24", "missing \"dev\""),
            ("198.18.0.100/24 dev", "missing interface name"),
            ("198.18.0.100 dev eth0", "missing /PREFIX"),
            ("nope/24 dev eth0", "not an IP address"),
            ("198.18.0.100/x dev eth0", "prefix is not a number"),
            ("198.18.0.100/24 dev eth0 up", "trailing words"),
        ];
        for (text, want) in cases {
            match text.parse::<FloatingIp>() {
                Err(Error::InvalidSpec { problem, .. }) => assert_eq!(problem, want, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn validation() {
        let v4: IpAddr = "198.18.0.100".parse().unwrap();
        assert!(matches!(
            FloatingIp::new("eth0", v4, 33),
            Err(Error::InvalidPrefix { max: 32, .. })
        ));
        assert!(FloatingIp::new("eth0", "::1".parse().unwrap(), 128).is_ok());
        for name in ["", "a-name-that-is-too-long", "eth0:1", "a b", "a/b", ".."] {
            assert!(
                matches!(
                    FloatingIp::new(name, v4, 24),
                    Err(Error::InvalidInterfaceName { .. })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn blocking_inside_a_runtime_is_refused() {
        let vip = FloatingIp::new("eth0", "198.18.0.100".parse().unwrap(), 24).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt.block_on(async { vip.remove_blocking() }).unwrap_err();
        assert!(matches!(
            err,
            Error::BlockingInsideRuntime {
                op: Operation::Remove,
                ..
            }
        ));
    }
}
