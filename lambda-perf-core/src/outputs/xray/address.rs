//! `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port` in either order.
//!
//! Read as the X-Ray SDKs (Python, Go, Java) read it: the prefixes are `tcp:` and `udp:`, in
//! lowercase (all three refuse `UDP:`), and both addresses of the two-address form are
//! `host:port`, the TCP one too, although only the UDP one is used here (the daemon serves
//! sampling rules on the TCP one). A port is 1 to 65535: the SDKs take port 0, but no daemon
//! can be reached there, so it is refused rather than sent to in vain. A refused setting is
//! not replaced by the default address: the sink (and `xray-otlp`'s sender) says once why it
//! is unusable and what is expected, and sends nothing, counting each subsegment (or span) it
//! does not send. An address given in code
//! ([`xray_daemon_address`](crate::PerfLayerBuilder::xray_daemon_address)) that is malformed
//! is a [`ConfigError`](crate::ConfigError) of `build()`, as every invalid setting given in
//! code is (its host is looked up later, when the sink is made).

use std::net::{SocketAddr, ToSocketAddrs};

/// Where the daemon listens when nothing says otherwise.
pub(crate) const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// What a setting must look like, as a refusal says it.
const EXPECTED: &str = "expected host:port or \"tcp:host:port udp:host:port\", with lowercase \
                        prefixes and ports from 1 to 65535";

/// The UDP address of the daemon, or why the setting cannot be used: what is wrong with it
/// (quoting the part at fault: the warnings that quote the refusal name the whole setting),
/// and, when it is malformed, what is expected.
pub(crate) fn parse_udp_address(setting: &str) -> Result<SocketAddr, String> {
    let udp = udp_part(setting)?;
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

/// Whether `setting` is well formed, without looking its host up: the refusal of
/// [`parse_udp_address`] for a malformed one. What `build()` checks of an address given in
/// code.
pub(crate) fn check_address_setting(setting: &str) -> Result<(), String> {
    udp_part(setting).map(|_| ())
}

/// The UDP `host:port` of a well-formed `setting`, or why it is malformed.
fn udp_part(setting: &str) -> Result<&str, String> {
    let setting = setting.trim();
    let refused = |reason: String| format!("{reason}; {EXPECTED}");
    let udp = match setting.split_whitespace().collect::<Vec<_>>().as_slice() {
        [single] if prefixed(single).is_none() => *single,
        [single] => {
            return Err(refused(format!(
                "{single:?}: a prefixed address comes in pairs, `tcp:` and `udp:`"
            )));
        }
        [first, second] => {
            let (udp, tcp) = match (prefixed(first), prefixed(second)) {
                (Some(("udp", udp)), Some(("tcp", tcp)))
                | (Some(("tcp", tcp)), Some(("udp", udp))) => (udp, tcp),
                (Some((first, _)), Some((second, _))) if has_capitals(first, second) => {
                    return Err(refused(format!(
                        "prefixes {first:?} and {second:?}: the prefixes are `tcp:` and `udp:`, \
                         in lowercase"
                    )));
                }
                _ => {
                    return Err(refused(format!(
                        "{first:?} and {second:?}: one address must be `tcp:`, the other `udp:`"
                    )));
                }
            };
            check_host_and_port(tcp)
                .map_err(|reason| refused(format!("its tcp address {reason}")))?;
            udp
        }
        [] => return Err(refused("the setting is empty".to_owned())),
        _ => return Err(refused(format!("{setting:?} has more than two addresses"))),
    };
    check_host_and_port(udp).map_err(|reason| refused(format!("its address {reason}")))?;
    Ok(udp)
}

/// The prefix of `part` (`tcp` or `udp` in any case, as written) and the address after it.
fn prefixed(part: &str) -> Option<(&str, &str)> {
    let (prefix, address) = part.split_once(':')?;
    ["tcp", "udp"]
        .iter()
        .any(|known| prefix.eq_ignore_ascii_case(known))
        .then_some((prefix, address))
}

/// Whether either prefix is written with a capital (`UDP:`, `Tcp:`).
fn has_capitals(first: &str, second: &str) -> bool {
    first
        .bytes()
        .chain(second.bytes())
        .any(|byte| byte.is_ascii_uppercase())
}

/// Checks that `address` is `host:port`, a host and a port from 1 to 65535 (the host is not
/// looked up here); else says what is wrong with it, after its name.
fn check_host_and_port(address: &str) -> Result<(), String> {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} has no port"));
    };
    if host.is_empty() {
        return Err(format!("{address:?} has no host"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(format!(
            "{address:?} has port 0, where no daemon can be reached"
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{address:?} has no port: {port:?} is not a number from 1 to 65535"
        )),
    }
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
            ":2000",
            "127.0.0.1:65536",
        ] {
            assert!(parse_udp_address(bad).is_err(), "{bad:?}");
        }
    }

    /// The refusal, which the sink's one warning quotes after the setting: what is wrong with
    /// it, and what is expected.
    fn refusal(setting: &str) -> String {
        let refusal = parse_udp_address(setting).expect_err(setting);
        assert!(
            refusal.ends_with(EXPECTED),
            "says what is expected: {refusal}"
        );
        refusal
    }

    /// Only the UDP address is used, but a malformed TCP one is refused, as the X-Ray SDKs
    /// refuse it: a setting they cannot read is not half taken.
    #[test]
    fn a_malformed_tcp_address_is_refused_though_only_the_udp_one_is_used() {
        for (setting, reason) in [
            (
                "tcp:garbage udp:127.0.0.1:2000",
                "its tcp address \"garbage\" has no port",
            ),
            (
                "udp:127.0.0.1:2000 tcp:garbage",
                "its tcp address \"garbage\" has no port",
            ),
            (
                "tcp: udp:127.0.0.1:2000",
                "its tcp address \"\" has no port",
            ),
            (
                "tcp::2000 udp:127.0.0.1:2000",
                "its tcp address \":2000\" has no host",
            ),
            (
                "tcp:127.0.0.1:http udp:127.0.0.1:2000",
                "its tcp address \"127.0.0.1:http\" has no port: \"http\" is not a number",
            ),
        ] {
            let refusal = refusal(setting);
            assert!(refusal.contains(reason), "{setting:?}: {refusal}");
        }
        assert!(parse_udp_address("tcp:xray-daemon:2000 udp:127.0.0.1:2000").is_ok());
    }

    /// Port 0 parses, and the SDKs take it, but no daemon can be reached there.
    #[test]
    fn port_0_is_refused() {
        for (setting, reason) in [
            ("127.0.0.1:0", "its address \"127.0.0.1:0\" has port 0"),
            ("[::1]:0", "its address \"[::1]:0\" has port 0"),
            // Refused before any lookup.
            ("localhost:0", "its address \"localhost:0\" has port 0"),
            (
                "tcp:127.0.0.1:2000 udp:127.0.0.1:0",
                "its address \"127.0.0.1:0\" has port 0",
            ),
            (
                "tcp:127.0.0.1:0 udp:127.0.0.1:2000",
                "its tcp address \"127.0.0.1:0\" has port 0",
            ),
        ] {
            let refusal = refusal(setting);
            assert!(refusal.contains(reason), "{setting:?}: {refusal}");
            assert!(refusal.contains("no daemon can be reached"), "{refusal}");
        }
    }

    /// The Python, Go and Java SDKs all look the prefixes up as `tcp` and `udp`: in capitals,
    /// they refuse the setting, and so does this one, saying why.
    #[test]
    fn prefixes_in_capitals_are_refused_as_the_sdks_refuse_them() {
        for setting in [
            "TCP:127.0.0.1:2000 UDP:127.0.0.1:2000",
            "UDP:127.0.0.1:2000 tcp:127.0.0.1:2000",
            "tcp:127.0.0.1:2000 Udp:127.0.0.1:2000",
        ] {
            let refusal = refusal(setting);
            assert!(
                refusal.contains("the prefixes are `tcp:` and `udp:`, in lowercase"),
                "{refusal}"
            );
        }
        // Alone, a prefixed address is refused whatever its case.
        let refusal = refusal("UDP:127.0.0.1:2000");
        assert!(refusal.contains("comes in pairs"), "{refusal}");
    }
}
