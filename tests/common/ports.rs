//! Ports for test servers under parallel nextest, where many processes start servers at once.
//!
//! A probed free port is only a guess: between the probe and the server's bind another test
//! (or an outgoing connection's ephemeral port) may take it, and two ringcast servers started
//! at the same instant could even share it through `SO_REUSEPORT`. So a start is retried when
//! the server reports the port taken ([`worth_retrying`]), and a server counts as up only once
//! every listening socket on its port belongs to its own process ([`listens_alone`]).
//! Linux only (it reads `/proc`), like the server.

use std::collections::HashSet;
use std::fs;
use std::net::TcpListener;

/// How many ports a start tries before giving up.
pub const ATTEMPTS: usize = 20;

/// A port that was free a moment ago (bind :0, read it, drop the listener): a candidate only.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Whether a server's startup failure (its stderr or error text) is worth trying again on
/// another port: the port was taken, or the kernel could not give a shard its io_uring ring
/// for a moment (rings count against the locked-memory limit, which many servers starting at
/// once under parallel tests can exhaust).
pub fn worth_retrying(error: &str) -> bool {
    (error.contains("cannot listen on") && error.contains("in use"))
        || (error.contains("cannot build the shard runtime")
            && error.contains("Cannot allocate memory"))
}

/// True when at least one TCP socket listens on `port` and every one that does belongs to
/// process `pid`.
pub fn listens_alone(pid: u32, port: u16) -> bool {
    let listening = listening_inodes(port);
    if listening.is_empty() {
        return false;
    }
    let own = socket_inodes(pid);
    listening.iter().all(|inode| own.contains(inode))
}

/// Inodes of the sockets in state LISTEN on `port`, from `/proc/net/tcp` and `tcp6`.
fn listening_inodes(port: u16) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode.
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && *state == "0A" {
                if let Ok(inode) = inode.parse() {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

/// Inodes of the sockets process `pid` holds open (`/proc/PID/fd/* -> socket:[inode]`).
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?.to_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}
