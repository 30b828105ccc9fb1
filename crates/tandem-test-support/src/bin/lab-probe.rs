//! `lab-probe`: the failover lab's measuring instruments (`lab/failover.sh`).
//!
//! ```text
//! lab-probe options --target IP:PORT --bind IP [--interval-ms 10] [--duration-s 600] --out FILE
//! lab-probe wait-up --target IP:PORT --bind IP [--timeout-s 30]
//! lab-probe gaps --file FILE --after EPOCH_MS [--window-ms 5000] [--until EPOCH_MS]
//!                [--threshold-ms 100]
//! lab-probe holders --ns NS1,NS2,... --addr IP [--interval-ms 10] [--duration-s 600] --out FILE
//! lab-probe holders-max --file FILE
//! lab-probe etcd-health --endpoints http://IP:PORT,... [--timeout-s 20]
//! lab-probe etcd-leader --endpoints http://IP:PORT,...
//! ```
//!
//! - `options` sends an OPTIONS for the target itself (`sip:IP:PORT`) every
//!   interval from `--bind` and appends one line per 200 received to
//!   `--out`: `recv_ms send_ms seq` (Unix milliseconds). Each line is
//!   flushed at once, so the file is complete when the probe is killed.
//! - `wait-up` exits 0 at the first 200, 1 when the timeout passes.
//! - `gaps` reads an `options` file and prints one JSON object about the
//!   fault at `--after` (T). It works on answered probes by send time: an
//!   answer in flight at T proves nothing about service after T. An outage
//!   is a run of unanswered probes longer than `--threshold-ms` (from the
//!   send time of the last answered probe before it to that of the first
//!   after it; it ends when that answer arrives), or the time from the last
//!   answered probe to `--until` (the end of the run) when answers had
//!   stopped. The fault's outage is the longest of: the gap under way at T
//!   (whatever its length: it is the takeover when that is quick) and the
//!   outages that start within `--window-ms` after T (a drain hands over
//!   later). `takeover_ms` is from T to its end (0 when there is none, null
//!   when service never came back: `resumed` false), `outage_ms` its
//!   length. `longest_outage_after_ms` covers every outage ending after T,
//!   so a stall outside the window still shows.
//! - `holders` checks every interval whether each named network namespace
//!   (`/run/netns/NAME`) has `--addr` configured (the kernel's view: see
//!   `ns_has`); it writes `ms count names` whenever the set of namespaces holding `--addr`
//!   changes. A sample that finds two or more holders is taken again at
//!   once and only namespaces present in both count (two reads a few
//!   microseconds apart, so a move between namespaces during one sampling
//!   round is not mistaken for two holders); the raw figure is kept as
//!   `raw=N`. It runs in the namespace it was started in (the root one).
//! - `holders-max` prints the largest count in a `holders` file.
//! - `etcd-health` waits until every endpoint answers `GET /health` with
//!   `"health":"true"`; `etcd-leader` prints the endpoint (URL) of the raft
//!   leader, from `POST /v3/maintenance/status` (member_id == leader).
//!
//! Only std and nix (setns): the lab needs bash and this binary, nothing else.

// A measuring instrument reads the real clock by definition: timestamps are
// Unix milliseconds so that they line up with `date +%s%3N` in the script.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!(
            "usage: lab-probe options|wait-up|gaps|holders|holders-max|etcd-health|etcd-leader ..."
        );
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lab-probe {cmd}: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "options" => options(&opts),
        "wait-up" => wait_up(&opts),
        "gaps" => gaps(&opts),
        "holders" => holders(&opts),
        "holders-max" => holders_max(&opts),
        "etcd-health" => etcd_health(&opts),
        "etcd-leader" => etcd_leader(&opts),
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lab-probe {cmd}: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--key value` pairs.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {k:?}"))?;
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), v.clone());
        }
        Ok(Opts(map))
    }

    fn get(&self, key: &str) -> Result<&str, String> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("--{key} is required"))
    }

    fn num(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key} {v:?}: not a number")),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---------------------------------------------------------------- OPTIONS

struct Prober {
    sock: UdpSocket,
    target: SocketAddr,
    local: SocketAddr,
    pid: u32,
    seq: u64,
}

impl Prober {
    fn new(opts: &Opts) -> Result<Prober, String> {
        let target: SocketAddr = opts
            .get("target")?
            .parse()
            .map_err(|e| format!("--target: {e}"))?;
        let bind = opts.get("bind")?;
        let sock = UdpSocket::bind((bind, 0)).map_err(|e| format!("bind {bind}: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        Ok(Prober {
            sock,
            target,
            local,
            pid: std::process::id(),
            seq: 0,
        })
    }

    /// Sends the next OPTIONS; returns its sequence number.
    fn send(&mut self) -> u64 {
        self.seq += 1;
        let (seq, pid, local, target) = (self.seq, self.pid, self.local, self.target);
        let msg = format!(
            "OPTIONS sip:{target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-lp{pid}-{seq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:lab-probe@{local}>;tag=lp{pid}\r\n\
             To: <sip:{target}>\r\n\
             Call-ID: lp{pid}-{seq}@{local}\r\n\
             CSeq: {seq} OPTIONS\r\n\
             User-Agent: tandem lab-probe\r\n\
             Content-Length: 0\r\n\r\n"
        );
        // A send can fail while no neighbour answers ARP; that is an
        // unanswered probe like any other.
        let _ = self.sock.send_to(msg.as_bytes(), self.target);
        seq
    }

    /// Waits until `deadline` for a response; returns the sequence number
    /// of a 200 to one of our probes.
    fn recv_until(&self, deadline: Instant) -> Option<u64> {
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).ok()?;
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                return None;
            };
            if let Some(seq) = parse_200(&buf[..n], self.pid) {
                return Some(seq);
            }
        }
    }
}

/// The sequence number of a `200` response to one of our OPTIONS.
fn parse_200(msg: &[u8], pid: u32) -> Option<u64> {
    let text = std::str::from_utf8(msg).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    if !status.starts_with("SIP/2.0 200") {
        return None;
    }
    let prefix = format!("lp{pid}-");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("call-id") || name == "i" {
            let v = value.trim().strip_prefix(&prefix)?;
            return v.split('@').next()?.parse().ok();
        }
    }
    None
}

fn options(opts: &Opts) -> Result<ExitCode, String> {
    let mut p = Prober::new(opts)?;
    let interval = Duration::from_millis(opts.num("interval-ms", 10)?.max(1));
    let duration = Duration::from_secs(opts.num("duration-s", 600)?);
    let out_path = opts.get("out")?;
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_path)
        .map_err(|e| format!("{out_path}: {e}"))?;
    let start = Instant::now();
    let mut sent_at: HashMap<u64, u64> = HashMap::new();
    let mut next = Instant::now();
    while start.elapsed() < duration {
        let seq = p.send();
        sent_at.insert(seq, now_ms());
        // Forget probes older than 10 s: they will not be answered now.
        if seq % 1000 == 0 {
            sent_at.retain(|s, _| *s + 1000 > seq);
        }
        next += interval;
        if next < Instant::now() {
            next = Instant::now();
        }
        while let Some(s) = p.recv_until(next) {
            if let Some(sent) = sent_at.remove(&s) {
                writeln!(out, "{} {sent} {s}", now_ms()).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn wait_up(opts: &Opts) -> Result<ExitCode, String> {
    let mut p = Prober::new(opts)?;
    let timeout = Duration::from_secs(opts.num("timeout-s", 30)?);
    let start = Instant::now();
    while start.elapsed() < timeout {
        let seq = p.send();
        let deadline = Instant::now() + Duration::from_millis(100);
        while let Some(s) = p.recv_until(deadline) {
            if s <= seq {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    Ok(ExitCode::from(1))
}

fn gaps(opts: &Opts) -> Result<ExitCode, String> {
    let path = opts.get("file")?;
    let after = opts.num("after", 0)?;
    let threshold = opts.num("threshold-ms", 100)?;
    let window = opts.num("window-ms", 5000)?;
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    // (send, recv) of every answered probe, in sending order: a probe
    // sent after T and answered proves service after T; an answer that
    // was merely in flight at T does not.
    let mut answered: Vec<(u64, u64)> = BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let recv = f.next()?.parse().ok()?;
            let send = f.next()?.parse().ok()?;
            Some((send, recv))
        })
        .collect();
    answered.sort_unstable();
    let until = opts.num("until", answered.iter().map(|a| a.1).max().unwrap_or(after))?;
    answered.retain(|a| a.0 <= until);
    // Outages: (start = send time of the last answered probe before the
    // gap, end = receive time of the first answer after it, or None when
    // answers had stopped by `until`). Their length is counted from send
    // times: how long probes went unanswered.
    let mut outages: Vec<(u64, Option<u64>, u64)> = answered
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 > threshold)
        .map(|w| (w[0].0, Some(w[1].1), w[1].0 - w[0].0))
        .collect();
    match answered.last() {
        Some(&(last, _)) if until.saturating_sub(last) > threshold => {
            outages.push((last, None, until - last))
        }
        None => outages.push((after, None, until.saturating_sub(after))),
        _ => {}
    }
    // The gap under way at T counts whatever its length (a takeover
    // faster than the threshold is still a takeover); with it, every
    // outage that starts within the window after T. The longest is the
    // fault's.
    let first_after = answered.iter().find(|a| a.0 >= after).copied();
    let last_before = answered.iter().rev().find(|a| a.0 < after).copied();
    let spanning = match (last_before, first_after) {
        (Some(b), Some(a)) => Some((b.0, Some(a.1), a.0 - b.0)),
        (Some(b), None) => Some((b.0, None, until.saturating_sub(b.0))),
        (None, _) => None,
    };
    let ends_after = |o: &(u64, Option<u64>, u64)| o.1.is_none_or(|e| e > after);
    let fault_outage = outages
        .iter()
        .filter(|o| o.0 <= after + window && ends_after(o))
        .copied()
        .chain(spanning)
        .max_by_key(|o| o.2);
    let longest_after = outages
        .iter()
        .filter(|o| ends_after(o))
        .map(|o| o.2)
        .max()
        .unwrap_or(0);
    let outages_after = outages.iter().filter(|o| ends_after(o)).count();
    let resumed = fault_outage.is_none_or(|o| o.1.is_some());
    let (takeover, outage_ms, outage_start) = match fault_outage {
        Some((s, e, len)) => (
            e.map_or("null".into(), |e| e.saturating_sub(after).to_string()),
            len.to_string(),
            (s as i64 - after as i64).to_string(),
        ),
        None => ("0".into(), "0".into(), "null".into()),
    };
    let json_opt = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
    println!(
        "{{\"takeover_ms\":{takeover},\"outage_ms\":{outage_ms},\"outage_start_rel_ms\":{outage_start},\
         \"resumed\":{resumed},\"outages_after\":{outages_after},\"longest_outage_after_ms\":{longest_after},\
         \"answers_total\":{},\"answers_after\":{},\"last_answered_sent_before_ms\":{},\
         \"first_answered_sent_after_ms\":{},\"threshold_ms\":{threshold}}}",
        answered.len(),
        answered.iter().filter(|a| a.0 >= after).count(),
        json_opt(last_before.map(|a| after - a.0)),
        json_opt(first_after.map(|a| a.0 - after)),
    );
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- holders

/// A network namespace to look into, by its `/run/netns/NAME` handle.
struct Ns {
    name: String,
    file: File,
}

/// Whether `addr` is configured in the namespace `ns` (the calling
/// thread is moved there and back): binding a UDP socket to an address
/// succeeds exactly when the address is local in the namespace, whatever
/// the state of its interface (a `link set down` keeps it configured, and
/// the kernel keeps its local route), and fails with EADDRNOTAVAIL once it
/// is removed.
fn ns_has(home: &File, ns: &Ns, addr: std::net::Ipv4Addr) -> Result<bool, String> {
    use nix::sched::{setns, CloneFlags};
    setns(&ns.file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {}: {e}", ns.name))?;
    let bound = UdpSocket::bind((addr, 0));
    setns(home, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns back: {e}"))?;
    match bound {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) => Ok(false),
        Err(e) => Err(format!("bind {addr} in {}: {e}", ns.name)),
    }
}

fn holders(opts: &Opts) -> Result<ExitCode, String> {
    let addr: std::net::Ipv4Addr = opts
        .get("addr")?
        .parse()
        .map_err(|e| format!("--addr: {e}"))?;
    let interval = Duration::from_millis(opts.num("interval-ms", 10)?.max(1));
    let duration = Duration::from_secs(opts.num("duration-s", 600)?);
    let out_path = opts.get("out")?;
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_path)
        .map_err(|e| format!("{out_path}: {e}"))?;
    let home = File::open("/proc/thread-self/ns/net").map_err(|e| format!("own netns: {e}"))?;
    let socks = opts
        .get("ns")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            File::open(format!("/run/netns/{name}"))
                .map(|file| Ns {
                    name: name.to_owned(),
                    file,
                })
                .map_err(|e| format!("netns {name}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sample = || -> Result<Vec<bool>, String> {
        socks.iter().map(|ns| ns_has(&home, ns, addr)).collect()
    };
    writeln!(out, "{} start samples", now_ms()).map_err(|e| e.to_string())?;
    let names = |v: &[bool]| -> String {
        let n: Vec<&str> = socks
            .iter()
            .zip(v)
            .filter(|(_, h)| **h)
            .map(|(s, _)| s.name.as_str())
            .collect();
        if n.is_empty() {
            "-".into()
        } else {
            n.join(",")
        }
    };
    let start = Instant::now();
    let mut last: Option<Vec<bool>> = None;
    let mut rounds = 0u64;
    let mut next = Instant::now();
    while start.elapsed() < duration {
        let t = now_ms();
        let first = match sample() {
            Ok(v) => v,
            Err(e) => {
                writeln!(out, "{t} error {e}").map_err(|e| e.to_string())?;
                return Ok(ExitCode::from(1));
            }
        };
        let raw = first.iter().filter(|h| **h).count();
        let now = if raw >= 2 {
            let again = sample()?;
            first.iter().zip(&again).map(|(a, b)| *a && *b).collect()
        } else {
            first
        };
        rounds += 1;
        if last.as_ref() != Some(&now) {
            let count = now.iter().filter(|h| **h).count();
            writeln!(out, "{t} {count} {} raw={raw} round={rounds}", names(&now))
                .map_err(|e| e.to_string())?;
            last = Some(now);
        }
        next += interval;
        let now_i = Instant::now();
        if next > now_i {
            std::thread::sleep(next - now_i);
        } else {
            next = now_i;
        }
    }
    writeln!(out, "{} end rounds={rounds}", now_ms()).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

fn holders_max(opts: &Opts) -> Result<ExitCode, String> {
    let path = opts.get("file")?;
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let max = BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    println!("{max}");
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- etcd

/// One HTTP/1.1 request with a short timeout; returns the body.
fn http(endpoint: &str, method: &str, path: &str, body: &str) -> Result<String, String> {
    let hostport = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint}: only http:// endpoints"))?
        .trim_end_matches('/');
    let addr: SocketAddr = hostport.parse().map_err(|e| format!("{endpoint}: {e}"))?;
    let timeout = Duration::from_millis(500);
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{endpoint}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{endpoint}: no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "{endpoint}{path}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_owned())
}

/// The string value of `"key":"value"` or `"key":value` in a flat JSON text.
fn json_field(text: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let i = text.find(&pat)? + pat.len();
    let rest = text[i..].trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}'])?;
    Some(rest[..end].to_owned())
}

fn endpoints(opts: &Opts) -> Result<Vec<String>, String> {
    Ok(opts
        .get("endpoints")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn etcd_health(opts: &Opts) -> Result<ExitCode, String> {
    let eps = endpoints(opts)?;
    let timeout = Duration::from_secs(opts.num("timeout-s", 20)?);
    let start = Instant::now();
    let mut last_err = String::new();
    while start.elapsed() < timeout {
        let mut ok = true;
        for ep in &eps {
            match http(ep, "GET", "/health", "") {
                Ok(body) if json_field(&body, "health").as_deref() == Some("true") => {}
                Ok(body) => {
                    ok = false;
                    last_err = format!("{ep}: {}", body.trim());
                }
                Err(e) => {
                    ok = false;
                    last_err = e;
                }
            }
        }
        if ok {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("lab-probe etcd-health: not healthy after {timeout:?}: {last_err}");
    Ok(ExitCode::from(1))
}

fn etcd_leader(opts: &Opts) -> Result<ExitCode, String> {
    let eps = endpoints(opts)?;
    let mut leader = None;
    let mut members = Vec::new();
    for ep in &eps {
        match http(ep, "POST", "/v3/maintenance/status", "{}") {
            Ok(body) => {
                let id = json_field(&body, "member_id");
                let l = json_field(&body, "leader");
                if id.is_some() && id == l {
                    println!("{ep}");
                    return Ok(ExitCode::SUCCESS);
                }
                leader = leader.or(l);
                members.push((ep.clone(), id));
            }
            Err(e) => eprintln!("lab-probe etcd-leader: {e}"),
        }
    }
    eprintln!("lab-probe etcd-leader: no endpoint is the leader (leader id {leader:?}, members {members:?})");
    Ok(ExitCode::from(1))
}
