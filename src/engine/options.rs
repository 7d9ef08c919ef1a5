//! How every check is made: timeouts, the request, redirects, TLS, proxies,
//! name lookup, what to refuse and what to capture. Built once, builder
//! style; [`Options::default`] is what the command line gives without flags.

use std::path::PathBuf;
use std::time::Duration;

use crate::result::Policy;
use crate::wire::http::RequestSpec;
use crate::wire::proxy::Proxies;
use crate::wire::resolve::{DnsServers, Family, Pin};

/// The `User-Agent` sent unless told otherwise: `statuscheck/VERSION`.
pub fn user_agent() -> String {
    format!("statuscheck/{}", env!("CARGO_PKG_VERSION"))
}

/// The request method: a status check needs no body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`, what a browser sends.
    #[default]
    Get,
    /// `HEAD`, which some servers answer differently.
    Head,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// The settings of an engine ([`crate::Checker`]).
///
/// ```
/// use std::time::Duration;
/// let options = statuscheck::Options::default()
///     .timeout(Duration::from_secs(5))
///     .follow(Some(10))
///     .header("Accept", "text/html");
/// # let _ = options;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The request, deadline and expectations of every target that has no
    /// profile of its own ([`crate::Target::profile`]).
    pub(crate) profile: Profile,
    pub(crate) connect_timeout: Duration,
    pub(crate) follow: Option<usize>,
    pub(crate) cacert: Option<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) proxies: Proxies,
    pub(crate) resolve: Vec<Pin>,
    pub(crate) dns_servers: Option<DnsServers>,
    pub(crate) family: Option<Family>,
    pub(crate) deny_private: bool,
    pub(crate) certificates: bool,
    pub(crate) tls_legacy: bool,
}

/// The settings, with header values left out (they may hold secrets) and
/// proxy credentials masked.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("profile", &self.profile)
            .field("connect_timeout", &self.connect_timeout)
            .field("follow", &self.follow)
            .field("cacert", &self.cacert)
            .field("insecure", &self.insecure)
            .field("proxies", &self.proxies)
            .field("resolve", &self.resolve)
            .field("dns_servers", &self.dns_servers)
            .field("family", &self.family)
            .field("deny_private", &self.deny_private)
            .field("certificates", &self.certificates)
            .field("tls_legacy", &self.tls_legacy)
            .finish()
    }
}

impl Default for Options {
    /// A 10 s deadline per check, 5 s per connection attempt, `GET` with
    /// our `User-Agent`, codes 100-399 accepted and nothing else expected,
    /// no redirects followed, webpki's roots, no proxy, the
    /// system's DNS, both address families, certificates not captured,
    /// TLS 1.2 and 1.3 only.
    fn default() -> Self {
        Options {
            profile: Profile::default(),
            connect_timeout: Duration::from_secs(5),
            follow: None,
            cacert: None,
            insecure: false,
            proxies: Proxies::default(),
            resolve: Vec::new(),
            dns_servers: None,
            family: None,
            deny_private: false,
            certificates: false,
            tls_legacy: false,
        }
    }
}

impl Options {
    /// The deadline of each whole check (lookup, connect, TLS, request,
    /// status line, and every redirect followed).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.profile = self.profile.timeout(timeout);
        self
    }

    /// What counts as healthy ([`Policy`]): accepted codes, latency budgets,
    /// certificate days, headers, body. Header and body expectations make
    /// the engine read more than the status line, for their URLs only.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.profile = self.profile.policy(policy);
        self
    }

    /// The request, deadline and expectations of a target without a profile
    /// of its own: the start from which to build one.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The deadline of each connection attempt (one per address); never
    /// longer than [`Options::timeout`] in effect.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The request method.
    pub fn method(mut self, method: Method) -> Self {
        self.profile = self.profile.method(method);
        self
    }

    /// Adds or replaces a request header (as `-H`). Such headers may hold
    /// secrets, so redirects to other origins do not get them unless
    /// [`Options::location_trusted`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.profile = self.profile.header(name, value);
        self
    }

    /// The `User-Agent` header (default: [`user_agent`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.profile.request.user_agent = user_agent.into();
        self
    }

    /// Follow at most `max` redirects (`None`: report the 3xx itself).
    pub fn follow(mut self, max: Option<usize>) -> Self {
        self.follow = max;
        self
    }

    /// Send the headers to every hop of a redirect chain, except after a
    /// downgrade from https to http.
    pub fn location_trusted(mut self, trusted: bool) -> Self {
        self.profile.request.location_trusted = trusted;
        self
    }

    /// Also trust the CA certificates of this PEM file.
    pub fn cacert(mut self, path: Option<PathBuf>) -> Self {
        self.cacert = path;
        self
    }

    /// Do not verify certificates at all.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Whether certificates go unverified, for a caller that warns about it.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Which proxy each URL goes through (see [`Proxies::new`]).
    pub fn proxies(mut self, proxies: Proxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Addresses to use for some hosts instead of asking DNS (`--resolve`).
    pub fn resolve(mut self, pins: Vec<Pin>) -> Self {
        self.resolve = pins;
        self
    }

    /// Ask these DNS servers instead of the system's.
    pub fn dns_servers(mut self, servers: Option<DnsServers>) -> Self {
        self.dns_servers = servers;
        self
    }

    /// Use addresses of one family only (`None`: both).
    pub fn family(mut self, family: Option<Family>) -> Self {
        self.family = family;
        self
    }

    /// Refuse to connect to loopback, private, link-local and unique-local
    /// addresses of targets (after DNS, on every redirect).
    pub fn deny_private(mut self, deny: bool) -> Self {
        self.deny_private = deny;
        self
    }

    /// Parse the server's certificates into [`crate::TlsSession`] (work on
    /// every https check, so off unless asked for).
    pub fn certificates(mut self, capture: bool) -> Self {
        self.certificates = capture;
        self
    }

    /// Also reach servers that offer only legacy TLS (TLS 1.0 or 1.1, CBC
    /// suites, RSA key exchange, DHE), as curl does with its lowest
    /// TLS version and OpenSSL's cipher list `DEFAULT@SECLEVEL=0`. The
    /// default handshake (rustls: TLS 1.2 and 1.3, AEAD suites, forward
    /// secrecy) is always tried first; when it fails for want of a version
    /// or suite in common, or the server refuses it with an alert, hangs up
    /// or resets, the check is tried once more with OpenSSL, over a new
    /// connection to the same address (through a new tunnel of the same
    /// proxy), under the same [`Options::timeout`] (a deadline that fires
    /// there is a timeout, as anywhere). That retry comes before the probe
    /// that names [`crate::TlsCause::LegacyOnly`]. If it fails too, the
    /// answer is the one without this option (the first error, as the probe
    /// explains it), with OpenSSL's reason added to its message.
    ///
    /// Only versions and suites are widened. Certificates are verified as
    /// on the default path, by the same verifier: the same roots, the same
    /// causes ([`crate::TlsCause::WeakSignature`] for SHA-1 and MD5,
    /// [`crate::TlsCause::WeakKey`] for RSA keys under 2048 bits, the leaf's
    /// included), the same 64 KiB limit on the chain; nothing is checked
    /// with [`Options::insecure`], as on the default path. A chain refused
    /// by these rules is the answer, with its own cause.
    ///
    /// Needs the cargo feature `tls-legacy` (OpenSSL); in a build without
    /// it, [`crate::Checker::new`] refuses options that ask for it.
    pub fn tls_legacy(mut self, legacy: bool) -> Self {
        self.tls_legacy = legacy;
        self
    }
}

/// The settings a target may have of its own: its request (method and
/// headers), its deadline and what is expected of it. [`Options`] holds the
/// one for every target without its own; a target's own
/// ([`crate::Target::profile`]) replaces it whole, so build it from
/// [`Options::profile`] to keep the rest:
///
/// ```
/// use std::time::Duration;
/// use statuscheck::{Options, Policy};
///
/// let options = Options::default().header("X-Team", "web");
/// let health = options
///     .profile()
///     .clone()
///     .timeout(Duration::from_secs(3))
///     .policy(Policy::new("200".parse()?));
/// # let _ = health;
/// # Ok::<(), statuscheck::SetupError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Profile {
    pub(crate) request: RequestSpec,
    pub(crate) timeout: Duration,
    pub(crate) policy: Policy,
}

impl Default for Profile {
    /// `GET` with our `User-Agent`, 10 s, codes 100-399 accepted.
    fn default() -> Self {
        Profile {
            request: RequestSpec::get(&user_agent()),
            timeout: Duration::from_secs(10),
            policy: Policy::default(),
        }
    }
}

/// Header names only: their values may be secrets.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("timeout", &self.timeout)
            .field("method", &self.request.method)
            .field("user_agent", &self.request.user_agent)
            .field("headers", &self.request.headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>())
            .field("location_trusted", &self.request.location_trusted)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Profile {
    /// The deadline of the whole check, redirects included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request method.
    pub fn method(mut self, method: Method) -> Self {
        self.request.method = method.as_str();
        self
    }

    /// Adds or replaces a request header (see [`Options::header`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.push((name.into(), value.into()));
        self
    }

    /// What counts as healthy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The deadline in effect.
    pub fn timeout_limit(&self) -> Duration {
        self.timeout
    }

    /// The policy in effect.
    pub fn policy_ref(&self) -> &Policy {
        &self.policy
    }
}
