//! `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port` in either order.

use std::net::{SocketAddr, ToSocketAddrs};

/// Where the daemon listens when nothing says otherwise.
pub(crate) const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// The UDP address of the daemon, or why the setting cannot be used.
pub(crate) fn parse_udp_address(setting: &str) -> Result<SocketAddr, String> {
    let setting = setting.trim();
    let parts: Vec<&str> = setting.split_whitespace().collect();
    let udp = match parts.as_slice() {
        [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => *single,
        [first, second] => {
            let pick = |prefix: &str| {
                [first, second]
                    .into_iter()
                    .find_map(|part| part.strip_prefix(prefix))
            };
            match (pick("udp:"), pick("tcp:")) {
                (Some(udp), Some(_)) => udp,
                _ => {
                    return Err(format!(
                        "{setting:?} must be host:port or \"tcp:host:port udp:host:port\""
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "{setting:?} must be host:port or \"tcp:host:port udp:host:port\""
            ));
        }
    };
    if let Ok(address) = udp.parse::<SocketAddr>() {
        return Ok(address);
    }
    // A host name (e.g. `localhost:2000`, `xray-daemon:2000`) resolves once, when the sink is
    // built with the configuration.
    let resolved = udp
        .to_socket_addrs()
        .map_err(|error| format!("{udp:?} cannot be resolved: {error}"))?;
    preferred(resolved).ok_or_else(|| format!("{udp:?} resolves to no address"))
}

/// The address to send to of those a host name resolves to: the first IPv4 one, where the
/// daemon listens by default and where the X-Ray SDKs send, else the first.
/// (`localhost` often resolves to `::1` first, where a daemon on `127.0.0.1` does not hear.)
fn preferred(addresses: impl IntoIterator<Item = SocketAddr>) -> Option<SocketAddr> {
    let mut first = None;
    for address in addresses {
        if address.is_ipv4() {
            return Some(address);
        }
        first.get_or_insert(address);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_forms() {
        let expected: SocketAddr = "169.254.79.129:2000".parse().unwrap();
        assert_eq!(parse_udp_address("169.254.79.129:2000"), Ok(expected));
        assert_eq!(
            parse_udp_address("tcp:127.0.0.1:2001 udp:169.254.79.129:2000"),
            Ok(expected)
        );
        assert_eq!(
            parse_udp_address("udp:169.254.79.129:2000 tcp:127.0.0.1:2001"),
            Ok(expected)
        );
        assert_eq!(
            parse_udp_address(DEFAULT_DAEMON_ADDRESS),
            Ok("127.0.0.1:2000".parse().unwrap())
        );
        assert!(
            parse_udp_address("localhost:2000")
                .unwrap()
                .ip()
                .is_loopback()
        );
    }

    #[test]
    fn a_host_name_resolved_to_both_families_is_sent_to_over_ipv4() {
        let address = |text: &str| text.parse::<SocketAddr>().unwrap();
        let (v6, v4) = (address("[::1]:2000"), address("127.0.0.1:2000"));
        let other_v4 = address("10.0.0.1:2000");
        assert_eq!(preferred([v6, v4, other_v4]), Some(v4));
        assert_eq!(preferred([v4, v6]), Some(v4));
        assert_eq!(preferred([v6, address("[::2]:2000")]), Some(v6));
        assert_eq!(preferred([]), None);
    }

    #[test]
    fn refuses_malformed_settings() {
        for bad in [
            "",
            "127.0.0.1",
            "udp:127.0.0.1:2000",
            "tcp:127.0.0.1:2000 tcp:127.0.0.1:2001",
            "a b c",
            "127.0.0.1:notaport",
        ] {
            assert!(parse_udp_address(bad).is_err(), "{bad:?}");
        }
    }
}
