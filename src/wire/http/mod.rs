//! HTTP/1.1 as we speak it: building the request ([`request`]) and reading
//! the response head ([`head`]).

mod head;
mod request;

pub use head::*;
pub use request::*;
