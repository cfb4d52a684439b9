//! Facts about the current request that server functions need.

use std::net::{IpAddr, SocketAddr};

/// The peer address of the connection, when the server was started with
/// connect info (tests driving the router in-process have none).
pub fn client_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client IP of the request a server function is handling.
pub fn current_client_ip() -> Option<IpAddr> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| client_ip(&parts.extensions))
}
