//! The TLS sessions of a run, so a host checked again resumes instead of
//! paying a full handshake. rustls' own in-memory store remembers 32 servers
//! (256 sessions, 8 per server) by default, fewer than a list cycles through;
//! this one remembers [`SERVERS`] servers with at most [`TICKETS`] TLS 1.3
//! tickets each, and forgets everything at the start of a `--watch` round so
//! that each round verifies every server's certificate afresh.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;

use super::fifo::Fifo;
use crate::wire::sync::lock;

/// How many servers are remembered. Every session holds a copy of the
/// server's certificate chain (a few KB for a public site), so this bounds
/// the store at some tens of MB in the worst case, whatever the list's length.
pub const SERVERS: usize = 2048;

/// TLS 1.3 tickets kept per server: a resumption uses one up and the server
/// sends new ones (rustls and OpenSSL send two after a full handshake), so
/// two cover checks of one host that overlap in pairs.
pub const TICKETS: usize = 2;

/// What is remembered of one server.
#[derive(Default)]
struct Server {
    /// The key exchange group it chose, so the next hello offers it first.
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    /// Oldest first.
    tls13: VecDeque<Tls13ClientSessionValue>,
}

/// A bounded in-memory [`ClientSessionStore`] that can be emptied.
pub struct Sessions {
    servers: Mutex<Fifo<ServerName<'static>, Server>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sessions hold secrets: only how many there are.
        f.debug_struct("Sessions").field("servers", &self.servers().len()).finish()
    }
}

impl Sessions {
    pub fn new(servers: usize) -> Sessions {
        Sessions { servers: Mutex::new(Fifo::new(servers)) }
    }

    /// Forgets every session: the next handshake with each server is a full one.
    pub fn clear(&self) {
        self.servers().clear();
    }

    fn servers(&self) -> MutexGuard<'_, Fifo<ServerName<'static>, Server>> {
        lock(&self.servers)
    }

    fn edit(&self, name: ServerName<'static>, change: impl FnOnce(&mut Server)) {
        if let Some(server) = self.servers().get_or_insert_with(name, Server::default) {
            change(server);
        }
    }
}

impl ClientSessionStore for Sessions {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.edit(name, |server| server.kx_hint = Some(group));
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.servers().get(&name.to_owned()).and_then(|server| server.kx_hint)
    }

    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.edit(name, |server| server.tls12 = Some(value));
    }

    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.servers().get(&name.to_owned()).and_then(|server| server.tls12.clone())
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        if let Some(server) = self.servers().get_mut(name) {
            server.tls12 = None;
        }
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.edit(name, |server| {
            if server.tls13.len() >= TICKETS {
                server.tls13.pop_front();
            }
            server.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        // The newest: it has the most of its lifetime left.
        self.servers().get_mut(name).and_then(|server| server.tls13.pop_back())
    }
}
