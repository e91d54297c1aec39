//! The files a web server serves: a directory tree it looks paths up in.
//!
//! Two worlds, as with sockets and pipes ([`crate::net`]): `serve --root
//! DIR` reads a real directory with the same blocking `stat()` and
//! `read()` calls nginx makes (without `aio`, nginx reads files in its
//! worker); a lesson reads a tree held in memory, built from the site that
//! ships with the lessons, whose files all carry one fixed modification
//! time ([`SITE_MTIME_SECS`]) so that `Last-Modified` and `ETag` are the
//! same on every machine (a git checkout gives files the time of the
//! checkout). Both are mounted at the same path, so one configuration
//! serves in both worlds.
//!
//! Book: "The web server" (book/src/web-server.md).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// When every file of a lesson's site was last modified:
/// 2025-12-01T00:00:00Z, a month before the lessons' clock starts.
pub const SITE_MTIME_SECS: u64 = 1_764_547_200;

/// What a `stat()` of a path found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    File {
        len: u64,
        mtime_secs: u64,
    },
    Dir,
    Missing,
    /// It exists but may not be read (a permission error): nginx answers 403.
    Forbidden,
}

/// A tree of files mounted at a path.
#[derive(Debug, Clone)]
pub enum Files {
    /// A real directory.
    Disk { mount: String, dir: PathBuf },
    /// Files held in memory (lessons): path below the mount → contents.
    Memory {
        mount: String,
        files: Arc<BTreeMap<String, &'static [u8]>>,
    },
}

impl Files {
    /// The site that ships with the lessons, mounted at `mount`.
    pub fn bundled(mount: &str, site: &[(&str, &'static [u8])]) -> Files {
        let files = site
            .iter()
            .map(|(path, bytes)| (format!("/{}", path.trim_start_matches('/')), *bytes))
            .collect();
        Files::Memory {
            mount: mount.trim_end_matches('/').to_string(),
            files: Arc::new(files),
        }
    }

    /// A real directory, mounted at `mount`.
    pub fn disk(mount: &str, dir: PathBuf) -> Files {
        Files::Disk {
            mount: mount.trim_end_matches('/').to_string(),
            dir,
        }
    }

    /// The part of `path` below the mount (`/static/a.css`), or `None`
    /// when the path is outside it. The path comes from a normalized URI,
    /// which holds no `.` or `..` segments, so the rest cannot climb out.
    fn below<'a>(&self, path: &'a str) -> Option<&'a str> {
        let mount = match self {
            Files::Disk { mount, .. } | Files::Memory { mount, .. } => mount,
        };
        let rest = path.strip_prefix(mount.as_str())?;
        // A `..` can only come from an alias that swallowed a partial
        // segment (`location /static` + `alias /srv/www/`): never follow
        // it out of the tree.
        let climbs = rest.split('/').any(|s| s == "..");
        ((rest.is_empty() || rest.starts_with('/')) && !climbs).then_some(rest)
    }

    fn disk_path(dir: &std::path::Path, rest: &str) -> PathBuf {
        dir.join(rest.trim_start_matches('/'))
    }

    /// Look a path up (following symbolic links: `disable_symlinks off`).
    pub fn stat(&self, path: &str) -> Stat {
        let Some(rest) = self.below(path) else {
            return Stat::Missing;
        };
        // A NUL cannot be part of a file name; the OS would refuse it.
        if rest.contains('\0') {
            return Stat::Missing;
        }
        match self {
            Files::Disk { dir, .. } => match std::fs::metadata(Self::disk_path(dir, rest)) {
                Ok(m) if m.is_dir() => Stat::Dir,
                Ok(m) => Stat::File {
                    len: m.len(),
                    mtime_secs: m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs()),
                },
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Stat::Forbidden,
                Err(_) => Stat::Missing,
            },
            Files::Memory { files, .. } => {
                let rest = rest.trim_end_matches('/');
                if let Some(bytes) = files.get(rest) {
                    return Stat::File {
                        len: bytes.len() as u64,
                        mtime_secs: SITE_MTIME_SECS,
                    };
                }
                let dir = format!("{rest}/");
                if files
                    .range(dir.clone()..)
                    .next()
                    .is_some_and(|(k, _)| k.starts_with(&dir))
                {
                    Stat::Dir
                } else {
                    Stat::Missing
                }
            }
        }
    }

    /// Read `len` bytes of a file from `offset`.
    pub fn read(&self, path: &str, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let rest = self.below(path).ok_or_else(missing)?;
        match self {
            Files::Disk { dir, .. } => {
                let mut f = std::fs::File::open(Self::disk_path(dir, rest))?;
                f.seek(SeekFrom::Start(offset))?;
                let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                f.take(len).read_to_end(&mut out)?;
                Ok(out)
            }
            Files::Memory { files, .. } => {
                let bytes = files.get(rest).ok_or_else(missing)?;
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = usize::try_from(offset.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(bytes[start..end].to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Files {
        Files::bundled(
            "/srv/www",
            &[
                ("static/a.css", b"body{}"),
                ("static/docs/index.html", b"<p>"),
            ],
        )
    }

    #[test]
    fn a_memory_tree_has_files_and_the_directories_above_them() {
        let f = site();
        assert_eq!(
            f.stat("/srv/www/static/a.css"),
            Stat::File {
                len: 6,
                mtime_secs: SITE_MTIME_SECS
            }
        );
        assert_eq!(f.stat("/srv/www/static/docs"), Stat::Dir);
        assert_eq!(f.stat("/srv/www/static/docs/"), Stat::Dir);
        assert_eq!(f.stat("/srv/www/static/do"), Stat::Missing);
        assert_eq!(f.stat("/srv/wwwx/static/a.css"), Stat::Missing);
        assert_eq!(f.stat("/etc/passwd"), Stat::Missing);
        assert_eq!(f.stat("/srv/www/static/../static/a.css"), Stat::Missing);
        assert_eq!(f.read("/srv/www/static/a.css", 2, 100).unwrap(), b"dy{}");
    }
}
