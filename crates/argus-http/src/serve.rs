//! Serving until the process is told to stop, the same way in every
//! service.

use std::time::Duration;

use crate::health::Readiness;

/// How long an idle keep-alive connection is held open. Longer than the
/// idle timeouts of the proxies and client pools in front of us (ingress-nginx
/// keeps upstream connections 60 s), so the client side always closes first:
/// a server that closes first races the client's next request on that
/// connection, which then fails with a truncated response (actix's default
/// is 5 s, short enough for a client pausing between calls to hit it).
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// Binds `addr`, and says which port it got (`:0` picks one, for tests).
pub fn listen(addr: &str) -> std::io::Result<(std::net::TcpListener, u16)> {
    let listener = std::net::TcpListener::bind(addr)?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// [`serve_until_signal`] with the service's admin server (`crate::admin`)
/// beside it: the admin server keeps answering (metrics, readiness failing)
/// while the public one drains, and stops once it has.
pub async fn serve_with_admin(
    server: actix_web::dev::Server,
    admin: actix_web::dev::Server,
    readiness: Readiness,
    drain_delay: Duration,
) -> std::io::Result<()> {
    let admin_handle = admin.handle();
    let admin = tokio::spawn(admin);
    let served = serve_until_signal(server, readiness, drain_delay).await;
    admin_handle.stop(true).await;
    let _stopped = admin.await;
    served
}

/// Serves until SIGTERM/SIGINT, then drains: `/readyz` fails at once, and
/// after `drain_delay` (time for load balancers to notice) the server stops
/// accepting and finishes in-flight requests within its shutdown timeout.
/// The server must be built with `disable_signals()`.
pub async fn serve_until_signal(
    server: actix_web::dev::Server,
    readiness: Readiness,
    drain_delay: Duration,
) -> std::io::Result<()> {
    let handle = server.handle();
    let mut running = tokio::spawn(server);
    tokio::select! {
        // Stopped through its handle (tests, embedding): nothing to drain.
        ended = &mut running => return ended.map_err(std::io::Error::other)?,
        () = shutdown_signal() => {}
    }
    tracing::info!("shutting down: failing readiness, finishing in-flight requests");
    readiness.start_draining();
    tokio::time::sleep(drain_delay).await;
    handle.stop(true).await;
    running.await.map_err(std::io::Error::other)?
}
