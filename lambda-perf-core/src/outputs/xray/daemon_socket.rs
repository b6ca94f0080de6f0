//! The socket to the X-Ray daemon, shared by the outputs that send to it: subsegments (the
//! X-Ray output) and OpenTelemetry spans (`xray-otlp`).

use std::io;
use std::net::{SocketAddr, UdpSocket};

use super::address::parse_udp_address;

/// A non-blocking UDP socket connected to the daemon at `setting` (an
/// `AWS_XRAY_DAEMON_ADDRESS`): connected, so that a missing daemon is noticed from the ICMP
/// error of an earlier send.
pub(crate) fn connect(setting: &str) -> io::Result<UdpSocket> {
    let address: SocketAddr = parse_udp_address(setting)
        .map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
    let local: SocketAddr = if address.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.set_nonblocking(true)?;
    socket.connect(address)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_the_daemon_and_an_unusable_setting_says_why() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect(&daemon.local_addr().unwrap().to_string()).unwrap();
        socket.send(b"hello").unwrap();
        let mut received = [0; 16];
        let length = daemon.recv(&mut received).unwrap();
        assert_eq!(&received[..length], b"hello");
        let error = connect("not an address").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("not an address"), "{error}");
    }
}
