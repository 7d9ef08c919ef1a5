//! HTTP/1.1 as we speak it: building the request ([`request`]), reading the
//! response head ([`head`]) and a body prefix for body expectations
//! ([`body`]), and the whole exchange on a connected stream, proxy tunnels
//! included ([`exchange`]). Another protocol would sit beside this module,
//! with an exchange of its own.

mod body;
mod exchange;
mod head;
mod request;

pub use exchange::{exchange, exchange_content, is_redirect, location_cut, open_tunnel, Reading};
pub use head::*;
pub use request::*;
