//! The HTTP listener. Accepted connections send without delay
//! (`TCP_NODELAY`): with Nagle's algorithm on, the last small segment of a
//! response written in more than one piece (a static file after its
//! headers) waited for the client's delayed ACK, about 40 ms per asset on a
//! reused keep-alive connection. Measured with a Node.js keep-alive client
//! (`bench/page-weight.mjs`) on the stylesheet and the console script:
//! 28-42 ms per request before, under 1 ms after.

use axum::serve::{ListenerExt, TapIo};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose accepted connections have `TCP_NODELAY` set (a
/// named type: axum's connect info is implemented for it, not for an
/// opaque `impl Listener`).
pub type NoDelayListener = TapIo<TcpListener, fn(&mut TcpStream)>;

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<NoDelayListener> {
    Ok(TcpListener::bind(addr)
        .await?
        .tap_io(no_delay as fn(&mut TcpStream)))
}

fn no_delay(stream: &mut TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY on an accepted connection");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_connections_send_without_delay() {
        let mut listener = bind(([127, 0, 0, 1], 0).into()).await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (accepted, peer) = listener.accept().await;
        assert_eq!(peer, client.local_addr().expect("client address"));
        assert!(
            accepted.nodelay().expect("read TCP_NODELAY"),
            "TCP_NODELAY is off on an accepted connection"
        );
    }
}
