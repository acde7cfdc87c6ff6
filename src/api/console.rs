//! `/console`: the approver console, a static single-page app compiled into the binary. It
//! holds no authority of its own: the page signs in through `/v1/auth/login` and then calls
//! the same `/v1` API (and `/v1/events`) with the session cookie, so every rule — roles,
//! CSRF, tenancy — is the API's.

use std::sync::OnceLock;

use poem::{
    handler,
    http::{header, StatusCode},
    web::Path,
    Endpoint, Request, Response, Route,
};

use crate::canonical::sha256_hex;

/// One embedded file of `console/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $content_type:literal),* $(,)?) => {
        const ASSETS: &[Asset] = &[$(Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }),*];
    };
}

// Every file of `console/` the page loads; a unit test keeps this list and the folder equal.
assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "js/api.js" => "text/javascript; charset=utf-8",
    "js/dom.js" => "text/javascript; charset=utf-8",
    "js/live.js" => "text/javascript; charset=utf-8",
    "js/main.js" => "text/javascript; charset=utf-8",
    "js/session.js" => "text/javascript; charset=utf-8",
    "js/decide.js" => "text/javascript; charset=utf-8",
    "js/pages/queue.js" => "text/javascript; charset=utf-8",
    "js/pages/intent.js" => "text/javascript; charset=utf-8",
    "js/pages/intents.js" => "text/javascript; charset=utf-8",
    "js/pages/agents.js" => "text/javascript; charset=utf-8",
    "js/pages/audit.js" => "text/javascript; charset=utf-8",
    "js/pages/keys.js" => "text/javascript; charset=utf-8",
    "js/pages/webhooks.js" => "text/javascript; charset=utf-8",
    "js/pages/users.js" => "text/javascript; charset=utf-8",
    "js/pages/policy.js" => "text/javascript; charset=utf-8",
    "js/pages/usage.js" => "text/javascript; charset=utf-8",
}

/// The page may load only its own files and talk only to this origin; nothing may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The console's routes, to nest at `/console`: the page at the root (`/console` and
/// `/console/`, where the catch-all matches an empty path), its files below it.
pub fn routes() -> impl Endpoint {
    Route::new().at("/*path", file)
}

#[handler]
fn file(req: &Request, Path(path): Path<String>) -> Response {
    serve(req, if path.is_empty() { "index.html" } else { &path })
}

/// The asset at `path` with its validator: revalidated on every load (`no-cache`), so a new
/// binary's console is picked up at once, and answered 304 while unchanged.
fn serve(req: &Request, path: &str) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.path == path) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no such console file");
    };
    let etag = &etags()[index];
    let builder = Response::builder()
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::ETAG, etag.as_str())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    if req.header(header::IF_NONE_MATCH) == Some(etag.as_str()) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(asset.content_type).body(asset.body)
}

/// A strong validator per asset, in [`ASSETS`] order, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| format!("\"{}\"", &sha256_hex(asset.body)[..24]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::ASSETS;

    fn files_under(dir: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, root, found);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                let relative = path.strip_prefix(root).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_console_file_is_embedded_and_nothing_else() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    /// The page listens for, and offers webhook subscriptions to, exactly the server's events.
    #[test]
    fn the_pages_event_list_is_the_servers() {
        let live = ASSETS.iter().find(|a| a.path == "js/live.js").unwrap();
        let text = std::str::from_utf8(live.body).unwrap();
        let list = text
            .split_once("export const EVENTS = [")
            .and_then(|(_, rest)| rest.split_once("];"))
            .map(|(list, _)| list)
            .expect("live.js declares EVENTS");
        let listed: Vec<&str> = list
            .split(',')
            .map(|item| item.trim().trim_matches('"'))
            .filter(|item| !item.is_empty())
            .collect();
        assert_eq!(listed, crate::webhooks::EVENTS);
    }
}
