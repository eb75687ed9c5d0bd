//! `ringcast-load`: the end-to-end fan-out load generator for any Pusher-compatible server.
//!
//! Holds N WebSocket subscribers (protocol 7) in one process, publishes stamped events through the
//! signed REST API and reports delivery latency (per delivery and to the last subscriber of each
//! event), loss and duplication, with the server's RSS and CPU when `--server-pid` is given.
//! Exit status: 0 clean, 1 if anything was lost, duplicated or failed, 2 if the run could not
//! happen.
//!
//! Module map: `args` (flags), `ws` (WebSocket client codec), `client` (one Pusher subscriber),
//! `pusher` (protocol helpers: socket id, private-channel auth, subscribe frames), `sign` +
//! `publisher` (signed REST publishing), `modes/` (workloads; `pingpong` and `soak` run their
//! own engines), `run` (phases), `stats` (accounting and report), `latency` (bounded per-thread
//! histograms), `ranges` (received-sequence sets), `slices` (latency per slice of time),
//! `procstat` (/proc sampling).

mod args;
mod client;
mod latency;
mod modes;
mod procstat;
mod publisher;
mod pusher;
mod ranges;
mod run;
mod sign;
mod slices;
mod stats;
mod ws;

use std::process::ExitCode;

use clap::Parser;

/// Raises the open-file soft limit to the hard limit: 10,000 connections need it.
fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit on a valid, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() -> ExitCode {
    let args = args::Args::parse().resolve();
    if let Err(e) = args.validate() {
        eprintln!("ringcast-load: {e}");
        return ExitCode::from(2);
    }
    raise_nofile_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcast-load: runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let json_path = args.json.clone();
    let outcome = match args.mode() {
        args::ModeKind::Fanout | args::ModeKind::Channels | args::ModeKind::Records => {
            runtime.block_on(run::run(args))
        }
        args::ModeKind::Ramp => runtime.block_on(modes::ramp::run(args)),
        args::ModeKind::Pingpong => runtime.block_on(modes::pingpong::run(args)),
        args::ModeKind::Soak => runtime.block_on(modes::soak::run(args)),
    };
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcast-load: {e}");
            return ExitCode::from(2);
        }
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    match json_path {
        Some(p) => {
            if let Err(e) = std::fs::write(&p, json + "\n") {
                eprintln!("ringcast-load: write {}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
        None => println!("{json}"),
    }
    eprintln!("{}", report.summary());
    for e in &report.errors {
        eprintln!("  {e}");
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
