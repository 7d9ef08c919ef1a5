//! The library's messages speak of its options; the command line's name the
//! flags. This puts the flag's name back where the binary prints, so its
//! output is what it was when the library named flags itself.

use statuscheck::{CheckError, SetupError};

/// A setup error in the command line's words (`--cacert`, `--proxy`).
pub fn setup_error(error: SetupError) -> anyhow::Error {
    match error {
        SetupError::CaFileUnreadable { path, source } => {
            anyhow::anyhow!("cannot read --cacert '{}': I/O error: {source}", path.display())
        }
        SetupError::CaFileNotPem { path, reason } => {
            anyhow::anyhow!("--cacert '{}' is not a valid PEM file: {reason}", path.display())
        }
        SetupError::CaFileEmpty { path } => anyhow::anyhow!("--cacert '{}' holds no PEM certificate", path.display()),
        SetupError::CaCertificateUnusable { path, reason } => {
            anyhow::anyhow!("--cacert '{}' holds a certificate that cannot be used: {reason}", path.display())
        }
        SetupError::Proxy { reason } => anyhow::anyhow!("--proxy {reason}"),
        SetupError::TlsLegacy(reason) => anyhow::anyhow!(reason),
        other => other.into(),
    }
}

/// A check's error message as the command line prints it: a refused
/// private address names `--deny-private`, a family asked for `-4` or `-6`,
/// a redirect that cannot be followed `-L`. The last two are found by the
/// library's wording (its tests and these pin it).
pub fn message(error: &CheckError) -> String {
    const NOT_FOLLOWED: &str = ", so it cannot be followed";
    match error {
        CheckError::PrivateAddress { .. } => format!("{error} (--deny-private)"),
        CheckError::Redirect(text) if text.ends_with(NOT_FOLLOWED) => {
            format!("{}, so -L cannot follow it", &text[..text.len() - NOT_FOLLOWED.len()])
        }
        CheckError::Dns { host, reason } => {
            let reason = reason.replace("(only IPv4 asked for)", "(-4)").replace("(only IPv6 asked for)", "(-6)");
            CheckError::Dns { host: host.clone(), reason }.to_string()
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_named_where_the_binary_prints() {
        let refused = CheckError::PrivateAddress { addr: "[::1]:8080".parse().unwrap(), range: "loopback" };
        assert_eq!(message(&refused), "refusing [::1]:8080: loopback address (--deny-private)");
        let proxy = statuscheck::Proxies::new(Some("socks5://a:b@p.test:1080"), |_| None).unwrap_err();
        assert_eq!(setup_error(proxy).to_string(), "--proxy socks5://***@p.test:1080 is not supported (only http://)");
        let cut = CheckError::Redirect(
            "the 302's head ended and no Location came before that, so it cannot be followed".into(),
        );
        assert_eq!(message(&cut), "the 302's head ended and no Location came before that, so -L cannot follow it");
        let v4 = CheckError::Dns { host: "a.test".into(), reason: "no IPv4 address (only IPv4 asked for)".into() };
        assert_eq!(message(&v4), "no IPv4 address (-4) (a.test)");
        let empty = SetupError::CaFileEmpty { path: "ca.pem".into() };
        assert_eq!(setup_error(empty).to_string(), "--cacert 'ca.pem' holds no PEM certificate");
    }
}
