//! Inside the session: `127.0.0.1:`[`EGRESS_PORT_INSIDE`] bridged to agen's egress proxy,
//! whose Unix socket is reached through a descriptor opened before the namespaces were made
//! (the socket's path is not visible inside). Runs in the reaper, which the command cannot
//! signal or trace.

use std::io;
use std::net::TcpListener;
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;

use super::egress::EGRESS_PORT_INSIDE;
use super::relay::relay;

/// Binds the port now (before the command starts, so its first connection finds it).
pub fn bind() -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", EGRESS_PORT_INSIDE))
}

/// Serves connections on a background thread for the rest of the session.
pub fn serve(listener: TcpListener, proxy_socket: RawFd) -> io::Result<()> {
    let target = format!("/proc/self/fd/{proxy_socket}");
    std::thread::Builder::new()
        .name("egress-bridge".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let target = target.clone();
                let _ = std::thread::Builder::new().spawn(move || {
                    if let Ok(proxy) = UnixStream::connect(&target) {
                        let _ = relay(conn, proxy);
                    }
                });
            }
        })
        .map(drop)
}
