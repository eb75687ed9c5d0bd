//! Heartbeats and sweeps over a [`Connection`]: the monoio side of [`super::heartbeat`].
//!
//! Thin: it sends the bytes [`Membership`] builds and reads the answers. The caller owns the
//! timing (a beat every [`Membership::beat_every`], a sweep every
//! [`Membership::sweep_every`]) and what to do with the nodes a sweep claims.

use super::heartbeat::Membership;
use super::link::Connection;
use super::{resp, BrokerError};

/// Refreshes this node's key and (re)joins the set.
pub async fn beat(conn: &mut Connection, membership: &Membership) -> Result<(), BrokerError> {
    conn.write(membership.beat()).await?;
    resp::expect_ok(&conn.read_frame().await?).map_err(BrokerError::Command)?;
    resp::integer(conn.read_frame().await?)?;
    Ok(())
}

/// Finds the listed nodes whose key expired and claims them; returns the ones this node
/// claimed (another sweeper may have claimed the rest). The caller cleans up after them.
pub async fn sweep(
    conn: &mut Connection,
    membership: &Membership,
) -> Result<Vec<String>, BrokerError> {
    let mut claimed = Vec::new();
    for id in dead(conn, membership).await? {
        conn.write(membership.claim(&id)).await?;
        if resp::integer(conn.read_frame().await?)? == 1 {
            tracing::warn!(node = %id, "node stopped beating; this node cleans up after it");
            claimed.push(id);
        }
    }
    Ok(claimed)
}

/// The listed nodes whose key expired (this node excepted), not yet claimed: for a caller
/// that claims and cleans up in one atomic step of its own.
pub async fn dead(
    conn: &mut Connection,
    membership: &Membership,
) -> Result<Vec<String>, BrokerError> {
    conn.write(membership.list()).await?;
    let members = resp::strings(conn.read_frame().await?)?;
    let Some(probe) = membership.probe(&members) else {
        return Ok(Vec::new());
    };
    conn.write(probe).await?;
    let alive = resp::presence(conn.read_frame().await?)?;
    if alive.len() != members.len() {
        return Err(BrokerError::Protocol(format!(
            "MGET answered {} values for {} keys",
            alive.len(),
            members.len()
        )));
    }
    Ok(membership.dead(&members, &alive))
}

/// Leaves the cluster at a clean shutdown: deletes the key and leaves the set.
pub async fn leave(conn: &mut Connection, membership: &Membership) -> Result<(), BrokerError> {
    conn.write(membership.leave()).await?;
    resp::integer(conn.read_frame().await?)?;
    resp::integer(conn.read_frame().await?)?;
    Ok(())
}
