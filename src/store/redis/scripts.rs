//! The store's Lua scripts: each is the shared prelude plus its own body, sent by SHA-1 with
//! EVALSHA and, when Redis answers NOSCRIPT (a restart, a flush, a fresh server), once in full
//! with EVAL, which also caches it for the next call.

use std::sync::LazyLock;

use redis_protocol::resp2::types::OwnedFrame;
use sha1::{Digest, Sha1};

use crate::broker::{BrokerError, Connection};

/// One script, ready to run.
pub struct Script {
    source: String,
    sha: String,
}

impl Script {
    fn new(body: &str) -> Script {
        let source = format!("{}\n{body}", include_str!("lua/prelude.lua"));
        let sha = hex::encode(Sha1::digest(source.as_bytes()));
        Script { source, sha }
    }

    /// Runs the script with no keys and `prefix` then `args` as ARGV.
    pub async fn run(
        &self,
        conn: &mut Connection,
        prefix: &[u8],
        args: &[Vec<u8>],
    ) -> Result<OwnedFrame, BrokerError> {
        let frame = conn
            .call(&self.argv(b"EVALSHA", &self.sha, prefix, args))
            .await?;
        match frame {
            OwnedFrame::Error(line) if line.starts_with("NOSCRIPT") => {
                conn.call(&self.argv(b"EVAL", &self.source, prefix, args))
                    .await
            }
            other => Ok(other),
        }
    }

    fn argv<'a>(
        &'a self,
        verb: &'a [u8],
        script: &'a str,
        prefix: &'a [u8],
        args: &'a [Vec<u8>],
    ) -> Vec<&'a [u8]> {
        let mut argv: Vec<&[u8]> = vec![verb, script.as_bytes(), b"0", prefix];
        argv.extend(args.iter().map(Vec::as_slice));
        argv
    }
}

macro_rules! scripts {
    ($($name:ident = $file:literal;)+) => {
        $(
            pub static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
        )+
    };
}

scripts! {
    EP_CREATE = "ep_create.lua";
    EP_LIST = "ep_list.lua";
    EP_UPDATE = "ep_update.lua";
    EP_DELETE = "ep_delete.lua";
    EP_STATS = "ep_stats.lua";
    BREAKER_PUT = "breaker_put.lua";
    GAUGES = "gauges.lua";
    D_INSERT = "d_insert.lua";
    D_CLAIM = "d_claim.lua";
    D_FINISH = "d_finish.lua";
    D_LOG = "d_log.lua";
    D_REQUEUE = "d_requeue.lua";
    D_PRUNE = "d_prune.lua";
    N_INSERT = "n_insert.lua";
    N_CANCEL = "n_cancel.lua";
    N_LIST = "n_list.lua";
    N_CLAIM = "n_claim.lua";
    N_SETTLE = "n_settle.lua";
    N_SETTLE_MANY = "n_settle_many.lua";
    N_PENDING = "n_pending.lua";
    N_PRUNE = "n_prune.lua";
}
