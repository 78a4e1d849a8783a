"""The install page's "Print or keep offline" card: print the install card, download it as a
PDF, or keep it in this browser for the day there is no network
(docs/esim.md#offline-install-card).

The install card is the server-rendered page ``GET /esims/{id}/card`` (a Reflex page cannot
work offline: its data comes over the websocket). "Keep for offline use" is the traveler's
explicit choice and the only thing that stores it: the browser-side component registers the
service worker (``/sw.js``) and puts the card's HTML (QR inline) and its print script in the
Cache Storage cache :data:`CACHE_NAME`; the service worker serves that copy when the network
fails. The component then says exactly what is stored and offers "Open offline card" and
"Remove from this device". Nothing of the card passes through Reflex state: the component only
receives the two addresses and its texts.
"""

from __future__ import annotations

import reflex as rx
from reflex.vars.base import Var
from reflex_base.utils.imports import ImportDict, ImportVar

from travelsim.i18n import N_, _

__all__ = ["CACHE_NAME", "STORED_TEXT", "OfflineCard", "offline_card"]

_RADIX = "@radix-ui/themes@3.3.0"
_LUCIDE = "lucide-react@1.26.0"
_SONNER = "sonner@2.0.8"

#: The Cache Storage cache of kept cards (the same name in ``assets/sw.js``).
CACHE_NAME = "travelsim-offline-cards-v1"
#: What a kept card leaves on the device, said on the page once it is kept.
STORED_TEXT = N_(
    "The QR code and activation code of this eSIM are saved in this browser until you sign "
    "out or remove them."
)

#: The component's texts (msgids), passed translated as the ``texts`` prop.
TEXTS: dict[str, str] = {
    "heading": N_("Print or keep offline"),
    "lead": N_(
        "Airport Wi-Fi often blocks every page until you sign in to it. Print the install "
        "card, save the PDF, or keep the card in this browser before you travel."
    ),
    "print": N_("Print install card"),
    "pdf": N_("Download PDF"),
    "keep": N_("Keep for offline use"),
    "keep_lead": N_(
        "Keeping it saves the QR code and activation code of this eSIM in this browser, "
        "nowhere else."
    ),
    "stored": STORED_TEXT,
    "open": N_("Open offline card"),
    "remove": N_("Remove from this device"),
    "kept": N_("Saved in this browser"),
    "removed": N_("Removed from this device"),
    "failed": N_("This browser could not save the card. Print it or download the PDF instead."),
    "unsupported": N_(
        "This browser cannot keep pages for offline use. Print the card or download the PDF "
        "instead."
    ),
}

_JS = """
const OFFLINE_CARDS = "__CACHE_NAME__";
const OFFLINE_SCRIPT = "/install-card.js";

function offlineCardSupported() {
  return typeof window !== "undefined" && window.isSecureContext
    && "caches" in window && "serviceWorker" in navigator;
}

async function offlineCardKept(url) {
  if (!offlineCardSupported() || !(await caches.has(OFFLINE_CARDS))) { return false; }
  return Boolean(await caches.match(url, { cacheName: OFFLINE_CARDS }));
}

async function offlineCardKeep(url) {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  const cache = await caches.open(OFFLINE_CARDS);
  await cache.addAll([url, OFFLINE_SCRIPT]);
}

async function offlineCardRemove(url) {
  if (!(await caches.has(OFFLINE_CARDS))) { return; }
  const cache = await caches.open(OFFLINE_CARDS);
  await cache.delete(url);
  const cards = (await cache.keys())
    .filter((request) => new URL(request.url).pathname !== OFFLINE_SCRIPT);
  if (cards.length === 0) { await caches.delete(OFFLINE_CARDS); }
}

function OfflineCard({ url, pdf_url, texts }) {
  const t = texts;
  const supported = offlineCardSupported();
  const [kept, setKept] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!url) { return undefined; }
    let live = true;
    offlineCardKept(url).then((found) => { if (live) { setKept(found); } },
      () => { if (live) { setKept(false); } });
    return () => { live = false; };
  }, [url]);
  const act = (work, done, then) => {
    setBusy(true);
    setError("");
    work(url).then(() => { setKept(then); toast.success(done); },
      () => setError(t.failed)).finally(() => setBusy(false));
  };
  return (
    <Card style={{ width: "100%" }} data-testid="offline-card">
      <Flex direction="column" gap="3">
        <Heading as="h2" size="4">{t.heading}</Heading>
        <Text size="2">{t.lead}</Text>
        <Flex gap="3" wrap="wrap">
          <Link href={`${url}#print`} target="_blank" rel="noopener" data-testid="print-card">
            <Button variant="soft"><OfflineCardPrintIcon size={16} aria-hidden="true" />
              {t.print}</Button>
          </Link>
          <Link href={pdf_url} data-testid="card-pdf">
            <Button variant="soft"><OfflineCardPdfIcon size={16} aria-hidden="true" />
              {t.pdf}</Button>
          </Link>
          {kept ? null : (
            <Button disabled={!supported || busy || kept === null}
              onClick={() => act(offlineCardKeep, t.kept, true)} data-testid="keep-offline">
              <OfflineCardKeepIcon size={16} aria-hidden="true" />{t.keep}
            </Button>
          )}
        </Flex>
        {kept ? (
          <>
            <Callout.Root color="green" data-testid="offline-stored">
              <Callout.Icon><OfflineCardOfflineIcon size={16} aria-hidden="true" /></Callout.Icon>
              <Callout.Text>{t.stored}</Callout.Text>
            </Callout.Root>
            <Flex gap="3" wrap="wrap">
              <Link href={url} data-testid="open-offline-card">
                <Button variant="outline">{t.open}</Button>
              </Link>
              <Button variant="outline" color="red" disabled={busy}
                onClick={() => act(offlineCardRemove, t.removed, false)}
                data-testid="remove-offline-card">
                <OfflineCardRemoveIcon size={16} aria-hidden="true" />{t.remove}
              </Button>
            </Flex>
          </>
        ) : (
          <Text size="1" color="gray">{supported ? t.keep_lead : t.unsupported}</Text>
        )}
        {error ? (
          <Callout.Root color="red" role="alert"><Callout.Text>{error}</Callout.Text></Callout.Root>
        ) : null}
      </Flex>
    </Card>
  );
}
""".replace("__CACHE_NAME__", CACHE_NAME)


class OfflineCard(rx.Component):
    """``<OfflineCard url=… pdf_url=…/>``: print, PDF, keep/open/remove the offline copy."""

    tag = "OfflineCard"

    #: The HTML card (``/esims/{id}/card?lang=…``): printed, kept and opened offline.
    url: Var[str]
    #: The PDF card as a download (``/esims/{id}/card.pdf?lang=…&download=1``).
    pdf_url: Var[str]
    #: :data:`TEXTS` in the page's language.
    texts: Var[dict[str, str]]

    def add_imports(self) -> ImportDict:
        """React hooks, the Radix Themes parts, five Lucide icons and the toast."""
        icons = {
            "OfflineCardPrintIcon": "printer",
            "OfflineCardPdfIcon": "file-down",
            "OfflineCardKeepIcon": "hard-drive-download",
            "OfflineCardOfflineIcon": "wifi-off",
            "OfflineCardRemoveIcon": "trash-2",
        }
        return {
            "react": [ImportVar(tag="useEffect"), ImportVar(tag="useState")],
            _RADIX: [
                ImportVar(tag=name)
                for name in ("Button", "Callout", "Card", "Flex", "Heading", "Link", "Text")
            ],
            _LUCIDE: [
                ImportVar(tag=alias, is_default=True, package_path=f"/dist/esm/icons/{icon}.mjs")
                for alias, icon in icons.items()
            ],
            _SONNER: [ImportVar(tag="toast")],
        }

    def add_custom_code(self) -> list[str]:
        """The component's JavaScript (module level, once per page)."""
        return [_JS]


def offline_card(url: Var[str] | str, pdf_url: Var[str] | str) -> rx.Component:
    """The install page's print/PDF/offline card for the card at ``url`` and the PDF at
    ``pdf_url``, its texts in the active language (docs/i18n.md#routes)."""
    return OfflineCard.create(url=url, pdf_url=pdf_url, texts={k: _(v) for k, v in TEXTS.items()})
