// The scanner's service worker (rendered by checkin.views.ServiceWorkerView): keeps the
// scanner pages and their scripts so that a phone can reload the scanner without network.
// Pages: network first, the stored copy when offline. Scripts and styles: stored copy first.
// The API is never intercepted: scans and the gate bundle always reach the server (or fail,
// and the page queues them).
const CACHE = "gathering-scanner-{{ version }}";
const ASSETS = {{ assets_json|safe }};
const SCOPE = {{ scope_json|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(ASSETS))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("gathering-scanner-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function isScannerPage(url) {
  return url.origin === self.location.origin && url.pathname.startsWith(SCOPE) && !url.pathname.endsWith(".js");
}

async function storePage(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  // Only a real page: never a sign-in redirect or an error.
  if (!response.ok || response.redirected) throw new Error(`not stored: ${response.status}`);
  const cache = await caches.open(CACHE);
  await cache.put(url, response);
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "cache-page" && typeof data.url === "string") {
    const url = new URL(data.url);
    if (!isScannerPage(url)) return;
    const reply = (stored) => event.ports[0] && event.ports[0].postMessage({ stored });
    event.waitUntil(
      storePage(url.href).then(
        () => reply(true),
        () => reply(false),
      ),
    );
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && isScannerPage(url)) {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && !response.redirected) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() =>
          // ignoreVary: the page varies on the cookie and language, which a stored copy
          // of this phone's own page may ignore.
          caches.match(request, { ignoreVary: true }).then((stored) => stored || Response.error()),
        ),
    );
    return;
  }
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(
      caches
        .match(request, { ignoreSearch: true, ignoreVary: true })
        .then((stored) => stored || fetch(request)),
    );
  }
});
