/* TravelSIM service worker (docs/esim.md#offline-install-card).
 *
 * It caches NOTHING by itself. The one cache it reads, "travelsim-offline-cards-v1", is
 * filled only when the traveler presses "Keep for offline use" on an install page (the page
 * stores that eSIM's install card, /esims/<id>/card?lang=.., and /install-card.js). For those
 * addresses only, and only once kept, it asks the network first and answers with the kept
 * copy when the network fails, times out or answers something that is not the card (a
 * captive portal's redirect, a server error). A 401/404 from the server (signed out, not the
 * owner) removes the kept copy (and the cache with its last card). Every other request is
 * left to the browser, untouched.
 * Signing out sends Clear-Site-Data: "cache", "storage", which removes this worker's
 * registration and the cache.
 */
const CARDS = "travelsim-offline-cards-v1";
const KEPT_PATH = /^\/esims\/\d+\/card$|^\/install-card\.js$/;
const NETWORK_TIMEOUT_MS = 8000;

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

async function keptCopy(request) {
  if (!(await caches.has(CARDS))) {
    return undefined; // never create the cache just to look into it
  }
  return caches.match(request, { cacheName: CARDS });
}

async function fromNetwork(request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    return await fetch(request, { signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function forget(request) {
  const cache = await caches.open(CARDS);
  await cache.delete(request);
  const cards = (await cache.keys())
    .filter((kept) => new URL(kept.url).pathname !== "/install-card.js");
  if (cards.length === 0) {
    await caches.delete(CARDS); // no card left: nothing of the portal stays cached
  }
}

async function cardOrKeptCopy(request) {
  const kept = await keptCopy(request);
  if (kept === undefined) {
    return fetch(request); // not kept: exactly what the network says
  }
  let response;
  try {
    response = await fromNetwork(request);
  } catch (error) {
    return kept; // offline, or the network never answered
  }
  if (response.status === 401 || response.status === 404) {
    await forget(request); // this browser may no longer see the card
    return response;
  }
  if (response.ok && response.type === "basic" && !response.redirected) {
    return response;
  }
  return kept;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !KEPT_PATH.test(url.pathname)) {
    return;
  }
  event.respondWith(cardOrKeptCopy(request));
});
