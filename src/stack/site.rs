//! The site that ships with the lessons (`scenarios/site/`): the files the
//! default stack serves from `/static/`, held in the binary so a lesson
//! runs from any directory, and mounted at `/srv/www` (the default
//! `root`). `serve --root DIR` mounts a real directory there instead.
//!
//! Book: "The web server" (book/src/web-server.md), "Static files".

use crate::server::files::Files;
use crate::server::location::SITE_ROOT;

/// (path below the site's root, contents).
pub const SITE: &[(&str, &[u8])] = &[
    (
        "static/app.js",
        include_bytes!("../../scenarios/site/static/app.js"),
    ),
    (
        "static/css/site.css",
        include_bytes!("../../scenarios/site/static/css/site.css"),
    ),
    (
        "static/docs/index.html",
        include_bytes!("../../scenarios/site/static/docs/index.html"),
    ),
    (
        // A download larger than a connection's buffers hold (the
        // send_timeout lesson's client stops reading it).
        "static/downloads/notes-2025.txt",
        include_bytes!("../../scenarios/site/static/downloads/notes-2025.txt"),
    ),
    (
        "static/img/logo.svg",
        include_bytes!("../../scenarios/site/static/img/logo.svg"),
    ),
];

/// The lessons' site, mounted where the default `root` points.
pub fn bundled() -> Files {
    Files::bundled(SITE_ROOT, SITE)
}
