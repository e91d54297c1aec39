//! The router: a trie of path segments. `/notes/{id}` matches `/notes/7`
//! with `id = "7"`. A path that matches with the wrong method gets 405 and
//! an `Allow` header (RFC 9110 §15.5.6: a 405 MUST carry `Allow`).
//!
//! ```text
//! (root)  GET → home
//!  └── notes            GET → notes_list, POST → notes_create
//!       ├── recent      GET → notes_recent        (static child: tried first)
//!       └── {id}        GET → notes_get           (param child: any one segment)
//! ```
//!
//! Matching walks one segment at a time. At each node the static child with
//! the same text wins; only when there is none does the `{param}` child take
//! the segment and capture it (Werkzeug's "static before dynamic"). Methods
//! live on the node, not on the route string, so "which methods exist for
//! this path?" is one lookup: that list is the `Allow` of a 405. `HEAD` is
//! allowed wherever `GET` is, and runs the `GET` handler (Flask and
//! Werkzeug do the same; the framework drops the body).
//!
//! What we simplify: one param per whole segment (no `/files/{name}.txt`),
//! no catch-all `{*rest}`, no trailing-slash redirects. `/notes/` against
//! the route `/notes` is a 404, as in Flask (Werkzeug's `strict_slashes`
//! redirects with 308 only the other way, when the *rule* ends in `/`);
//! Starlette and FastAPI would redirect it to `/notes` with 307
//! (`redirect_slashes`). Writing the trie *is* the lesson; production Rust
//! uses `matchit`, a compressed radix tree.
//!
//! Book: "The framework" (book/src/framework.md).
//!
//! # Examples
//!
//! ```
//! use roundtrip::framework::router::{Match, Router};
//!
//! let mut router = Router::new();
//! router.route("GET", "/notes", "notes_list").unwrap();
//! router.route("POST", "/notes", "notes_create").unwrap();
//! router.route("GET", "/notes/{id}", "notes_get").unwrap();
//!
//! match router.at("GET", "/notes/7") {
//!     Match::Found { handler, params, pattern } => {
//!         assert_eq!(*handler, "notes_get");
//!         assert_eq!(pattern, "/notes/{id}");
//!         assert_eq!(params, vec![("id".to_string(), "7".to_string())]);
//!     }
//!     other => panic!("expected a match, got {other:?}"),
//! }
//! assert_eq!(
//!     router.at("DELETE", "/notes"),
//!     Match::MethodNotAllowed { allow: vec!["GET".into(), "HEAD".into(), "POST".into()] },
//! );
//! assert_eq!(router.at("GET", "/notes/7/edit"), Match::NotFound);
//! ```

use std::collections::BTreeMap;

/// Why a route could not be added. Each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("route `{pattern}` must start with `/`, e.g. `/{suggestion}`")]
    MissingLeadingSlash { pattern: String, suggestion: String },
    #[error(
        "route `{pattern}`: segment `{segment}` is not a capture; write a whole segment like `{{id}}` with a name of letters, digits and `_`"
    )]
    BadCapture { pattern: String, segment: String },
    #[error("route `{pattern}` captures `{name}` twice; give each capture its own name")]
    DuplicateCapture { pattern: String, name: String },
    #[error(
        "route `{pattern}` captures `{{{new}}}` where an earlier route captures `{{{existing}}}`; use `{{{existing}}}` so one segment has one name"
    )]
    ConflictingCapture {
        pattern: String,
        existing: String,
        new: String,
    },
    #[error("{method} `{pattern}` is already routed; each method and path has one handler")]
    Duplicate { method: String, pattern: String },
    #[error("`{method}` is not a method name; use an upper-case token such as GET or POST")]
    BadMethod { method: String },
}

/// The router's verdict for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'r, T> {
    /// The path and the method matched.
    Found {
        handler: &'r T,
        /// Captured `{param}` values, in path order.
        params: Vec<(String, String)>,
        /// The pattern that matched, e.g. `/notes/{id}`.
        pattern: &'r str,
    },
    /// The path exists, the method does not: answer 405 with `Allow`.
    MethodNotAllowed {
        /// Allowed methods, sorted, `HEAD` included where `GET` is.
        allow: Vec<String>,
    },
    /// No route has this path: answer 404.
    NotFound,
}

/// One node of the trie: one path segment.
#[derive(Debug, Clone)]
struct Node<T> {
    /// Literal segments, e.g. `notes`. Sorted, so dumps are stable.
    statics: BTreeMap<String, Node<T>>,
    /// The `{name}` child, if any: its name and node.
    param: Option<(String, Box<Node<T>>)>,
    /// The pattern that ends here, once any method is routed.
    pattern: Option<String>,
    /// Handlers by method, sorted by method name.
    methods: BTreeMap<String, T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            statics: BTreeMap::new(),
            param: None,
            pattern: None,
            methods: BTreeMap::new(),
        }
    }
}

/// Where a path walk ended: a node with a route, and what was captured.
struct Walk<'r, T> {
    node: &'r Node<T>,
    pattern: &'r str,
    params: Vec<(String, String)>,
}

/// A trie of path segments, mapping (method, path) to a handler `T`.
#[derive(Debug, Clone)]
pub struct Router<T> {
    root: Node<T>,
    /// Every route in the order it was added: (method, pattern).
    routes: Vec<(String, String)>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router {
            root: Node::default(),
            routes: Vec::new(),
        }
    }
}

/// Split a path into segments: `/` has none, `/notes/7` has two, and a
/// trailing slash leaves an empty last segment (`/notes/` ≠ `/notes`).
fn segments(path: &str) -> Vec<&str> {
    match path.strip_prefix('/').unwrap_or(path) {
        "" => Vec::new(),
        rest => rest.split('/').collect(),
    }
}

/// `{name}` → `Some("name")`.
fn capture_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl<T> Router<T> {
    pub fn new() -> Router<T> {
        Router::default()
    }

    /// Route `method` on `pattern` to `handler`.
    pub fn route(&mut self, method: &str, pattern: &str, handler: T) -> Result<(), RouteError> {
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(RouteError::BadMethod {
                method: method.to_string(),
            });
        }
        if !pattern.starts_with('/') {
            return Err(RouteError::MissingLeadingSlash {
                pattern: pattern.to_string(),
                suggestion: pattern.to_string(),
            });
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut node = &mut self.root;
        for segment in segments(pattern) {
            if segment.contains(['{', '}']) {
                let name = capture_name(segment)
                    .filter(|n| valid_name(n))
                    .ok_or_else(|| RouteError::BadCapture {
                        pattern: pattern.to_string(),
                        segment: segment.to_string(),
                    })?;
                if seen.contains(&name) {
                    return Err(RouteError::DuplicateCapture {
                        pattern: pattern.to_string(),
                        name: name.to_string(),
                    });
                }
                seen.push(name);
                let (existing, child) = node
                    .param
                    .get_or_insert_with(|| (name.to_string(), Box::default()));
                if existing != name {
                    return Err(RouteError::ConflictingCapture {
                        pattern: pattern.to_string(),
                        existing: existing.clone(),
                        new: name.to_string(),
                    });
                }
                node = child;
            } else {
                node = node.statics.entry(segment.to_string()).or_default();
            }
        }
        if node.methods.contains_key(method) {
            return Err(RouteError::Duplicate {
                method: method.to_string(),
                pattern: pattern.to_string(),
            });
        }
        node.pattern = Some(pattern.to_string());
        node.methods.insert(method.to_string(), handler);
        self.routes.push((method.to_string(), pattern.to_string()));
        Ok(())
    }

    /// Every route in the order it was added, as (method, pattern).
    pub fn routes(&self) -> &[(String, String)] {
        &self.routes
    }

    /// Find the handler for `method` on `path` (no query string).
    pub fn at(&self, method: &str, path: &str) -> Match<'_, T> {
        let Some(Walk {
            node,
            pattern,
            params,
        }) = self.find(path)
        else {
            return Match::NotFound;
        };
        let handler = node.methods.get(method).or_else(|| {
            (method == "HEAD")
                .then(|| node.methods.get("GET"))
                .flatten()
        });
        match handler {
            Some(handler) => Match::Found {
                handler,
                params,
                pattern,
            },
            None => Match::MethodNotAllowed {
                allow: Self::allow(node),
            },
        }
    }

    /// The methods a path allows, sorted, as `Allow` lists them; empty
    /// when no route has this path.
    pub fn allowed(&self, path: &str) -> Vec<String> {
        self.find(path)
            .map(|walk| Self::allow(walk.node))
            .unwrap_or_default()
    }

    /// Walk the trie: the node a route ends on, its pattern, the captures.
    fn find(&self, path: &str) -> Option<Walk<'_, T>> {
        let mut params = Vec::new();
        let mut node = &self.root;
        for segment in segments(path) {
            if let Some(child) = node.statics.get(segment) {
                node = child;
            } else if let Some((name, child)) = node.param.as_ref().filter(|_| !segment.is_empty())
            {
                params.push((name.clone(), segment.to_string()));
                node = child;
            } else {
                return None;
            }
        }
        let pattern = node.pattern.as_deref()?;
        Some(Walk {
            node,
            pattern,
            params,
        })
    }

    fn allow(node: &Node<T>) -> Vec<String> {
        let mut allow: Vec<String> = node.methods.keys().cloned().collect();
        if node.methods.contains_key("GET") && !node.methods.contains_key("HEAD") {
            allow.push("HEAD".to_string());
        }
        allow.sort();
        allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes_router() -> Router<&'static str> {
        let mut r = Router::new();
        r.route("GET", "/", "home").unwrap();
        r.route("GET", "/notes", "notes_list").unwrap();
        r.route("POST", "/notes", "notes_create").unwrap();
        r.route("GET", "/notes/{id}", "notes_get").unwrap();
        r.route("GET", "/notes/recent", "notes_recent").unwrap();
        r
    }

    fn found(m: Match<'_, &'static str>) -> (&'static str, Vec<(String, String)>) {
        match m {
            Match::Found {
                handler, params, ..
            } => (*handler, params),
            other => panic!("expected Found, got {other:?}"),
        }
    }

    #[test]
    fn static_segment_beats_param() {
        let r = notes_router();
        assert_eq!(
            found(r.at("GET", "/notes/recent")),
            ("notes_recent", vec![])
        );
        assert_eq!(found(r.at("GET", "/notes/7")).0, "notes_get");
    }

    #[test]
    fn param_is_captured_with_its_pattern() {
        let r = notes_router();
        match r.at("GET", "/notes/42") {
            Match::Found {
                params, pattern, ..
            } => {
                assert_eq!(params, vec![("id".to_string(), "42".to_string())]);
                assert_eq!(pattern, "/notes/{id}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_method_gets_405_with_sorted_allow() {
        let r = notes_router();
        assert_eq!(
            r.at("DELETE", "/notes"),
            Match::MethodNotAllowed {
                allow: vec!["GET".into(), "HEAD".into(), "POST".into()]
            }
        );
        assert_eq!(
            r.at("POST", "/notes/7"),
            Match::MethodNotAllowed {
                allow: vec!["GET".into(), "HEAD".into()]
            }
        );
    }

    #[test]
    fn head_is_allowed_where_get_is() {
        let r = notes_router();
        assert_eq!(found(r.at("HEAD", "/notes")).0, "notes_list");
        assert_eq!(found(r.at("HEAD", "/")).0, "home");
    }

    #[test]
    fn trailing_segments_do_not_match() {
        let r = notes_router();
        assert_eq!(r.at("GET", "/notes/7/edit"), Match::NotFound);
        assert_eq!(r.at("GET", "/notes/"), Match::NotFound);
        assert_eq!(r.at("GET", "/nope"), Match::NotFound);
    }

    #[test]
    fn inner_node_without_route_is_not_found() {
        let mut r = Router::new();
        r.route("GET", "/a/b", "ab").unwrap();
        assert_eq!(r.at("GET", "/a"), Match::NotFound);
        assert_eq!(r.allowed("/a"), Vec::<String>::new());
        assert_eq!(
            r.allowed("/a/b"),
            vec!["GET".to_string(), "HEAD".to_string()]
        );
    }

    #[test]
    fn bad_patterns_are_rejected_with_advice() {
        let mut r: Router<()> = Router::new();
        assert!(matches!(
            r.route("GET", "notes", ()),
            Err(RouteError::MissingLeadingSlash { .. })
        ));
        assert!(matches!(
            r.route("GET", "/notes/:id", ()),
            Ok(()) // a literal segment `:id`, not a capture
        ));
        assert!(matches!(
            r.route("GET", "/x/{}", ()),
            Err(RouteError::BadCapture { .. })
        ));
        assert!(matches!(
            r.route("GET", "/x/{a}/{a}", ()),
            Err(RouteError::DuplicateCapture { .. })
        ));
        r.route("GET", "/y/{id}", ()).unwrap();
        assert!(matches!(
            r.route("PUT", "/y/{note_id}", ()),
            Err(RouteError::ConflictingCapture { .. })
        ));
        assert!(matches!(
            r.route("GET", "/y/{id}", ()),
            Err(RouteError::Duplicate { .. })
        ));
        assert!(matches!(
            r.route("get", "/z", ()),
            Err(RouteError::BadMethod { .. })
        ));
    }
}
