// The service worker, served at /app/sw.js (scope /app/) by web/views.py, which puts two constants above
// this file: RELEASE (a digest of the app's files) and SHELL (the URLs of the app shell to keep).
//
// The shell comes from the cache, so the app opens with no network and loads at once on a second visit; a
// new release is a new sw.js (it is never cached by the browser without asking), which fetches the new shell
// into a cache of its own and drops the old one. The API is never cached here: its answers are no-store
// patient data, and logs made offline wait in IndexedDB, not in this worker.

/* global RELEASE, SHELL */
const CACHE = `tacro-shell-${RELEASE}`;
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("tacro-shell-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  // The app shell for any navigation within the scope (the route is after the #, never sent).
  const path = request.mode === "navigate" && url.pathname === "/app/" ? "/app/" : url.pathname;
  if (!SHELL_PATHS.has(path)) return;
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(path).then((cached) => cached || fetch(request).then((response) => {
        if (response.ok) cache.put(path, response.clone());
        return response;
      })),
    ),
  );
});
