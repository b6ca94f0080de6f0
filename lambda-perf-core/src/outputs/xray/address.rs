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
    udp.to_socket_addrs()
        .map_err(|error| format!("{udp:?} cannot be resolved: {error}"))?
        .next()
        .ok_or_else(|| format!("{udp:?} resolves to no address"))
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
