//! The lessons shipped inside the binary, in teaching order, so
//! `roundtrip run hello` works from any directory.

/// (name, file contents), in the order `roundtrip list` shows them.
pub const LESSONS: &[(&str, &str)] = &[
    ("hello", include_str!("../../scenarios/hello.toml")),
    ("post-note", include_str!("../../scenarios/post-note.toml")),
    (
        "keep-alive",
        include_str!("../../scenarios/keep-alive.toml"),
    ),
    ("not-found", include_str!("../../scenarios/not-found.toml")),
    (
        "method-not-allowed",
        include_str!("../../scenarios/method-not-allowed.toml"),
    ),
    (
        "static-vs-dynamic",
        include_str!("../../scenarios/static-vs-dynamic.toml"),
    ),
    (
        "location-matching",
        include_str!("../../scenarios/location-matching.toml"),
    ),
    (
        "path-traversal",
        include_str!("../../scenarios/path-traversal.toml"),
    ),
    (
        "access-deny",
        include_str!("../../scenarios/access-deny.toml"),
    ),
    (
        "range-request",
        include_str!("../../scenarios/range-request.toml"),
    ),
    ("cache-304", include_str!("../../scenarios/cache-304.toml")),
    ("gzip", include_str!("../../scenarios/gzip.toml")),
    ("brotli", include_str!("../../scenarios/brotli.toml")),
    (
        "tls-handshake",
        include_str!("../../scenarios/tls-handshake.toml"),
    ),
    (
        "https-redirect",
        include_str!("../../scenarios/https-redirect.toml"),
    ),
    ("too-large", include_str!("../../scenarios/too-large.toml")),
    (
        "rate-limit-burst",
        include_str!("../../scenarios/rate-limit-burst.toml"),
    ),
    (
        "limit-conn",
        include_str!("../../scenarios/limit-conn.toml"),
    ),
    (
        "load-balance",
        include_str!("../../scenarios/load-balance.toml"),
    ),
    (
        "least-conn",
        include_str!("../../scenarios/least-conn.toml"),
    ),
    (
        "hash-consistent",
        include_str!("../../scenarios/hash-consistent.toml"),
    ),
    (
        "upstream-down",
        include_str!("../../scenarios/upstream-down.toml"),
    ),
    (
        "bad-request",
        include_str!("../../scenarios/bad-request.toml"),
    ),
    (
        "arrival-order",
        include_str!("../../scenarios/arrival-order.toml"),
    ),
    (
        "many-at-once",
        include_str!("../../scenarios/many-at-once.toml"),
    ),
    (
        "wsgi-vs-asgi",
        include_str!("../../scenarios/wsgi-vs-asgi.toml"),
    ),
    (
        "sync-vs-async",
        include_str!("../../scenarios/sync-vs-async.toml"),
    ),
    (
        "blocking-the-loop",
        include_str!("../../scenarios/blocking-the-loop.toml"),
    ),
    ("gthread", include_str!("../../scenarios/gthread.toml")),
    (
        "worker-timeout",
        include_str!("../../scenarios/worker-timeout.toml"),
    ),
    (
        "backlog-full",
        include_str!("../../scenarios/backlog-full.toml"),
    ),
    (
        "handler-raises",
        include_str!("../../scenarios/handler-raises.toml"),
    ),
    (
        "exception-propagates",
        include_str!("../../scenarios/exception-propagates.toml"),
    ),
    (
        "client-gives-up",
        include_str!("../../scenarios/client-gives-up.toml"),
    ),
    (
        "slow-upload",
        include_str!("../../scenarios/slow-upload.toml"),
    ),
    (
        "upstream-timeout",
        include_str!("../../scenarios/upstream-timeout.toml"),
    ),
    (
        "timeout-ladder",
        include_str!("../../scenarios/timeout-ladder.toml"),
    ),
    (
        "slow-client",
        include_str!("../../scenarios/slow-client.toml"),
    ),
    (
        "send-timeout",
        include_str!("../../scenarios/send-timeout.toml"),
    ),
    (
        "littles-law",
        include_str!("../../scenarios/littles-law.toml"),
    ),
    (
        "login-session",
        include_str!("../../scenarios/login-session.toml"),
    ),
    (
        "401-vs-403",
        include_str!("../../scenarios/401-vs-403.toml"),
    ),
    (
        "token-auth",
        include_str!("../../scenarios/token-auth.toml"),
    ),
    (
        "object-ownership",
        include_str!("../../scenarios/object-ownership.toml"),
    ),
    ("csrf", include_str!("../../scenarios/csrf.toml")),
    (
        "middleware-order",
        include_str!("../../scenarios/middleware-order.toml"),
    ),
    (
        "cors-preflight",
        include_str!("../../scenarios/cors-preflight.toml"),
    ),
    (
        "ws-handshake",
        include_str!("../../scenarios/ws-handshake.toml"),
    ),
    ("ws-chat", include_str!("../../scenarios/ws-chat.toml")),
    (
        "ws-through-wsgi",
        include_str!("../../scenarios/ws-through-wsgi.toml"),
    ),
    (
        "ws-proxy-misconfigured",
        include_str!("../../scenarios/ws-proxy-misconfigured.toml"),
    ),
    (
        "ws-idle-timeout",
        include_str!("../../scenarios/ws-idle-timeout.toml"),
    ),
    (
        "ws-close-codes",
        include_str!("../../scenarios/ws-close-codes.toml"),
    ),
    (
        "ws-app-error",
        include_str!("../../scenarios/ws-app-error.toml"),
    ),
];

/// The source of a bundled lesson.
pub fn source(name: &str) -> Option<&'static str> {
    LESSONS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Names of all bundled lessons.
pub fn names() -> impl Iterator<Item = &'static str> {
    LESSONS.iter().map(|(n, _)| *n)
}
