"""The web console under /ui: server-rendered pages (Jinja2, htmx, Pico.css; all vendored under
static/vendor/) for the same people and the same operations as the JSON API, through the same
functions (docs/security.md, "Console"). `mount.install` adds it to the API app; this package
imports nothing itself, so the API's settings can take `console.settings` without a cycle."""
