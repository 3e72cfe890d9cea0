//! Byte relay between two stream sockets (the session's connection and the upstream one).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

pub trait Duplex: Read + Write + Send + Sized + 'static {
    fn try_clone(&self) -> io::Result<Self>;
    fn shutdown_write(&self);
}

impl Duplex for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Copies both ways until each side has closed its half (one extra thread).
pub fn relay<A: Duplex, B: Duplex>(a: A, b: B) -> io::Result<()> {
    let (mut a_r, mut b_w) = (a.try_clone()?, b.try_clone()?);
    let forward = std::thread::spawn(move || {
        let _ = io::copy(&mut a_r, &mut b_w);
        b_w.shutdown_write();
    });
    let (mut b_r, mut a_w) = (b, a);
    let _ = io::copy(&mut b_r, &mut a_w);
    a_w.shutdown_write();
    let _ = forward.join();
    Ok(())
}
