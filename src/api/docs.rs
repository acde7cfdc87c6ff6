//! `/docs`: Swagger UI over both faces' documents, with a selector between them. The page uses
//! the Swagger UI assets poem-openapi embeds (no CDN), and the browser fetches each document
//! from this server, so it works offline and always shows the documents being served.

use poem::{endpoint::make_sync, web::Html, Endpoint, Route};
use poem_openapi::{OpenApi, OpenApiService, Webhook};
use serde_json::json;

/// The documents `/docs` offers, first one shown by default: (selector label, URL).
pub const DOCUMENTS: [(&str, &str); 2] = [
    ("IntendedOps /v1", "/openapi.json"),
    ("OpenIntent /api/v1", "/api/v1/openapi.json"),
];

/// Where poem-openapi's Swagger UI page puts the UI; the page is cut there, keeping its head
/// (the inlined Swagger UI script and style) and dropping its single-document body.
const UI_MARKER: &str = "<div id=\"ui\"></div>";

/// The selector and the UI. `urls.primaryName` in the query picks the document, as in the
/// stock Swagger UI; the standalone preset that reads it is not embedded, so this does.
const BODY: &str = r##"<div id="docs-bar" style="font-family: sans-serif; padding: 10px 20px; background: #1b1b1b; color: #fff">
  <label for="docs-document">Document</label>
  <select id="docs-document"></select>
  <a href="/redoc" style="color: #9cf; margin-left: 1em">ReDoc /v1</a>
  <a href="/redoc/openintent" style="color: #9cf; margin-left: 1em">ReDoc /api/v1</a>
</div>
<div id="ui"></div>
<script>
  const documents = {:documents};
  const select = document.getElementById("docs-document");
  for (const doc of documents) {
    select.add(new Option(doc.name, doc.url));
  }
  const wanted = new URLSearchParams(window.location.search).get("urls.primaryName");
  const first = documents.find((doc) => doc.name === wanted) || documents[0];
  select.value = first.url;
  const ui = SwaggerUIBundle({
    dom_id: "#ui",
    url: first.url,
    filter: false,
    deepLinking: true,
    persistAuthorization: true,
  });
  select.addEventListener("change", () => {
    const chosen = documents.find((doc) => doc.url === select.value);
    const query = new URLSearchParams(window.location.search);
    query.set("urls.primaryName", chosen.name);
    window.history.replaceState(null, "", "?" + query.toString());
    ui.specActions.updateUrl(chosen.url);
    ui.specActions.download(chosen.url);
  });
</script>
</body>
</html>
"##;

/// The `/docs` page, built from `service`'s Swagger UI page (only its assets are kept).
pub fn page<T: OpenApi, W: Webhook>(service: &OpenApiService<T, W>) -> String {
    let stock = service.swagger_ui_html();
    let Some((head, _)) = stock.split_once(UI_MARKER) else {
        // A poem-openapi whose page has no marker: its own page, one document, still works.
        tracing::warn!("Swagger UI page without its UI element; /docs shows /openapi.json only");
        return stock;
    };
    let documents: Vec<_> = DOCUMENTS
        .iter()
        .map(|(name, url)| json!({ "name": name, "url": url }))
        .collect();
    let head = head.replacen(
        "<title>Swagger UI</title>",
        "<title>IntendedOps API</title>",
        1,
    );
    head + &BODY.replace(
        "{:documents}",
        &serde_json::Value::from(documents).to_string(),
    )
}

/// Serves [`page`] at the nesting point.
pub fn swagger_ui<T: OpenApi, W: Webhook>(service: &OpenApiService<T, W>) -> impl Endpoint {
    let html = page(service);
    Route::new().at("/", make_sync(move |_| Html(html.clone())))
}
