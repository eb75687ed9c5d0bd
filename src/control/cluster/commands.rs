//! Commands between nodes, carried as relayed events on reserved channels: the receiving
//! node runs them instead of publishing them.
//!
//! `#` is refused in every channel a client or the REST API names (`#server-to-user-` aside),
//! so only a node can send on these channels. Each carries its argument, the user id, in the
//! channel name, so the frame itself is a fixed placeholder.

use super::super::relay::Relayed;
use crate::proto::pusher::{channel_event, text_frame};

const TERMINATE: &str = "#ringcast-terminate-";
const ONLINE: &str = "#ringcast-online-";
const OFFLINE: &str = "#ringcast-offline-";

/// What another node asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Close every connection of the user (`terminate_connections`).
    Terminate(&'a str),
    /// The user came online (true) or went offline cluster-wide: tell the watchers.
    Status(&'a str, bool),
}

impl Command<'_> {
    /// The relayed event that carries the command for app `app`.
    pub fn relayed(&self, app: usize) -> Relayed {
        let channel = match self {
            Command::Terminate(user) => format!("{TERMINATE}{user}"),
            Command::Status(user, true) => format!("{ONLINE}{user}"),
            Command::Status(user, false) => format!("{OFFLINE}{user}"),
        };
        let frame = text_frame(&channel_event("ringcast:command", &channel, "{}", None));
        Relayed {
            app,
            channel,
            frame,
            except: None,
            internal: true,
        }
    }

    /// The command a relayed event's channel carries; `None` for a plain event.
    pub fn parse(channel: &str) -> Option<Command<'_>> {
        if let Some(user) = channel.strip_prefix(TERMINATE) {
            return Some(Command::Terminate(user));
        }
        if let Some(user) = channel.strip_prefix(ONLINE) {
            return Some(Command::Status(user, true));
        }
        channel
            .strip_prefix(OFFLINE)
            .map(|user| Command::Status(user, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_their_channel() {
        for cmd in [
            Command::Terminate("u-1"),
            Command::Status("u-1", true),
            Command::Status("u-1", false),
        ] {
            let relayed = cmd.relayed(3);
            assert_eq!(relayed.app, 3);
            assert_eq!(Command::parse(&relayed.channel), Some(cmd));
        }
        assert_eq!(Command::parse("private-x"), None);
        assert_eq!(Command::parse("#server-to-user-1"), None);
    }
}
