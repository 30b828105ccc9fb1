//! # tandem-cluster: the cluster agent
//!
//! A pure state machine, in the manner of quinn-proto: the runtime feeds it
//! what the store said ([`Input`]) and the time, and carries out what it
//! asks for ([`Command`]): grant and renew the node's lease, publish the
//! node's presence, campaign for leadership, take or drop the floating IP,
//! start or stop the leader's duties, adopt the calls of a node that died.
//!
//! The safety rule it exists for: **a node acts as leader only while it is
//! sure its lease is alive**. The lease's life is counted from when the last
//! acknowledged keep-alive was *sent*, minus a margin; past that instant the
//! node drops the floating IP and stops every leader duty on its own, before
//! the store could let anyone else win. So there are never two holders of
//! the floating IP, and every leader-only action carries the fencing epoch
//! of the leadership it was decided under.

mod agent;
mod ownership;

pub use agent::{
    Agent, AgentConfig, ClusterEvent, Command, Input, LeaderInfo, Member, Role, Status,
};
pub use ownership::{owner_of, rendezvous_score};
