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

/// What a warning of a failed send to the daemon suggests, by the error: a full send buffer
/// (the daemon is there, the datagrams go out faster than they are taken), or a daemon that is
/// not there (the refusal an earlier datagram's ICMP error leaves, or another failure).
pub(crate) fn send_failure_hint(error: &io::Error) -> &'static str {
    if error.kind() == io::ErrorKind::WouldBlock || error.raw_os_error() == Some(libc::ENOBUFS) {
        "the socket's send buffer is full: datagrams are sent faster than they leave"
    } else {
        "is the daemon running? (Running locally without one, e.g. under `cargo lambda watch`? \
         Set POWERTOOLS_TRACE_DISABLED=true to turn tracing off.)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_send_buffer_is_not_blamed_on_a_missing_daemon() {
        let full = send_failure_hint(&io::Error::from(io::ErrorKind::WouldBlock));
        assert!(full.contains("send buffer is full"), "{full}");
        let no_buffers = send_failure_hint(&io::Error::from_raw_os_error(libc::ENOBUFS));
        assert_eq!(no_buffers, full);
        // A daemon that is not there: the next send on the connected socket is refused.
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect(&daemon.local_addr().unwrap().to_string()).unwrap();
        drop(daemon);
        let refused = (0..100)
            .find_map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                socket.send(b"hello").err()
            })
            .expect("a send to a closed port is refused");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert!(send_failure_hint(&refused).contains("is the daemon running?"));
    }

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
