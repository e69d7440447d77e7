// The patrol page's service worker: keeps the page and its scripts so the guard's phone can
// open (or reload) the round with no network. Network first, the kept copy when offline;
// the API is never cached here (the page keeps its last answers and its queue in IndexedDB).
"use strict";
const CACHE = "lintel-patrol-v1";
const PAGE = "/guard/patrol";
const FILES = [PAGE, "/console/static/console.css", "/console/static/console.js",
  "/console/static/patrol.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin
      || !FILES.includes(url.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok && !fresh.redirected) await cache.put(url.pathname, fresh.clone());
      return fresh;
    } catch (error) {
      const kept = await cache.match(url.pathname);
      if (kept) return kept;
      throw error;
    }
  })());
});
