/* Registers the TravelSIM service worker (/sw.js, scope "/") on every page: it makes the
 * portal an installable web app and serves an install card kept for offline use. The worker
 * caches nothing by itself (docs/esim.md#offline-install-card). */
if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
  });
}
