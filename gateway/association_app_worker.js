// The associations' app's service worker (served at /app/sw.js, scope /app/). It keeps one
// thing: the page itself, so /app/ opens without network. Never GraphQL answers (people's data
// stays off the device; the page's offline queue lives in localStorage and is cleared once sent).
const CACHE = "dn-app-v1";
const PAGE = "/app/";
// A weak Wi-Fi: after this long without an answer, the kept copy opens instead.
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add(PAGE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

async function page(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(PAGE);
  const fresh = fetch(request, { cache: "no-store" }).then((response) => {
    if (response.ok) cache.put(PAGE, response.clone());
    return response;
  });
  if (!kept) return fresh;
  const late = new Promise((resolve) => setTimeout(() => resolve(kept), NETWORK_WAIT_MS));
  return Promise.race([fresh.catch(() => kept), late]);
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method === "GET" && url.origin === self.location.origin
      && (url.pathname === "/app/" || url.pathname === "/app")) {
    event.respondWith(page(event.request));
  }
});
