"""The install page's activation data, fetched by the browser and never held in Reflex state
(docs/esim.md#security-installation-data-never-in-page-state).

Anything a Reflex page renders from its state travels in the websocket's state deltas and sits
in the state store (Redis with several workers), so the SM-DP+ address, the matching ID and
the one-tap links are not state. :func:`install_details` renders a small React function
component instead: when shown it fetches the owner-only JSON route
``GET /esims/{id}/install.json`` (:mod:`travelsim.routes.esim`; ``credentials:
"same-origin"``, ``cache: "no-store"``), keeps the answer in the component's own React state
only (dropped when the component unmounts) and draws the two cards the page always had: "Install
with one tap" (iPhone and Android links, the Windows ``LPA:`` link) and "Or enter it manually"
(SM-DP+ address and activation code, each with a copy button). Loading and error texts are
announced to screen readers (``role="status"`` / ``role="alert"``); the cards are Radix Themes
components, so light and dark follow the page's theme.
"""

from __future__ import annotations

import reflex as rx
from reflex.vars.base import Var
from reflex_base.utils.imports import ImportDict, ImportVar

from travelsim.i18n import N_, _

__all__ = ["InstallDetails", "install_details"]

_RADIX = "@radix-ui/themes@3.3.0"
_LUCIDE = "lucide-react@1.26.0"
_SONNER = "sonner@2.0.8"

#: Every text the component shows, in English (msgids); :func:`install_details` passes them
#: translated into the page's language as the ``texts`` prop, so the JavaScript holds none.
TEXTS: dict[str, str] = {
    "loading": N_("Loading your installation details…"),
    "signed_out": N_("You are signed out. Sign in again to see your installation details."),
    "not_found": N_("The installation details of this eSIM were not found."),
    "failed": N_("The installation details could not be loaded. Reload the page to try again."),
    "copied": N_("{label} copied"),
    "copy_failed": N_("Could not copy: select the {label} and copy it by hand."),
    "copy": N_("Copy {label}"),
    "one_tap": N_("Install with one tap"),
    "one_tap_lead": N_("On the phone itself (iOS 17.4+ or a recent Android):"),
    "ios": N_("Install on iPhone"),
    "android": N_("Install on Android"),
    "windows": N_("On Windows 11:"),
    "windows_link": N_("open the activation code"),
    "manual": N_("Or enter it manually"),
    "manual_lead": N_("Choose “Enter details manually” when adding an eSIM."),
    "smdp": N_("SM-DP+ address"),
    "code": N_("Activation code"),
}
LOADING_TEXT = TEXTS["loading"]
SIGNED_OUT_TEXT = TEXTS["signed_out"]
NOT_FOUND_TEXT = TEXTS["not_found"]
FAILED_TEXT = TEXTS["failed"]

_JS = """
function installDetailsCopy(text, label, t) {
  const done = () => toast.success(t.copied.replace("{label}", label));
  const failed = () => toast.error(t.copy_failed.replace("{label}", label));
  if (!navigator.clipboard) { failed(); return; }
  navigator.clipboard.writeText(text).then(done, failed);
}

function InstallDetailsField({ label, value, testid, t }) {
  const labelId = `${testid}-label`;
  return (
    <Flex direction="column" gap="1" width="100%">
      <Text size="2" weight="medium" id={labelId}>{label}</Text>
      <Flex align="center" gap="3" width="100%">
        <Code size="3" data-testid={testid} aria-labelledby={labelId}
          style={{ wordBreak: "break-all" }}>{value}</Code>
        <IconButton variant="soft" aria-label={t.copy.replace("{label}", label)}
          onClick={() => installDetailsCopy(value, label, t)}>
          <InstallDetailsCopyIcon size={16} aria-hidden="true" />
        </IconButton>
      </Flex>
    </Flex>
  );
}

function InstallDetailsMessage({ error, t }) {
  if (error) {
    return (
      <Callout.Root color="red" role="alert" data-testid="install-details-error">
        <Callout.Text>{error}</Callout.Text>
      </Callout.Root>
    );
  }
  return (
    <Text size="2" color="gray" role="status" aria-live="polite"
      data-testid="install-details-loading">{t.loading}</Text>
  );
}

function InstallDetails({ url, texts }) {
  const t = texts;
  const [details, setDetails] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!url) { return undefined; }
    const controller = new AbortController();
    setDetails(null);
    setError("");
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
      signal: controller.signal,
    }).then(async (response) => {
      if (response.ok) { setDetails(await response.json()); return; }
      setError(response.status === 401 ? t.signed_out
        : response.status === 404 ? t.not_found : t.failed);
    }).catch((reason) => {
      if (reason && reason.name !== "AbortError") { setError(t.failed); }
    });
    // Leaving the page drops the data from memory.
    return () => { controller.abort(); setDetails(null); };
  }, [url, t]);
  return (
    <Flex direction="column" gap="4" width="100%" data-testid="install-details">
      <Card style={{ width: "100%" }}>
        <Flex direction="column" gap="3">
          <Heading as="h2" size="4">{t.one_tap}</Heading>
          <Text size="2">{t.one_tap_lead}</Text>
          {details ? (
            <>
              <Flex gap="3" wrap="wrap">
                <Link href={details.ios_link} data-testid="ios-link">
                  <Button size="3">
                    <InstallDetailsAppleIcon size={16} aria-hidden="true" />{t.ios}
                  </Button>
                </Link>
                <Link href={details.android_link} data-testid="android-link">
                  <Button size="3" variant="outline">
                    <InstallDetailsPhoneIcon size={16} aria-hidden="true" />{t.android}
                  </Button>
                </Link>
              </Flex>
              <Text size="2">
                {t.windows} <Link href={details.activation_code}
                  data-testid="lpa-link">{t.windows_link}</Link>
              </Text>
            </>
          ) : <InstallDetailsMessage error={error} t={t} />}
        </Flex>
      </Card>
      <Card style={{ width: "100%" }}>
        <Flex direction="column" gap="3" width="100%">
          <Heading as="h2" size="4">{t.manual}</Heading>
          <Text size="2">{t.manual_lead}</Text>
          {details ? (
            <>
              <InstallDetailsField label={t.smdp} value={details.smdp_address}
                testid="smdp" t={t} />
              <InstallDetailsField label={t.code} value={details.matching_id}
                testid="matching-id" t={t} />
            </>
          ) : <InstallDetailsMessage error={error} t={t} />}
        </Flex>
      </Card>
    </Flex>
  );
}
"""


class InstallDetails(rx.Component):
    """``<InstallDetails url=…/>``: the one-tap and manual-entry cards, filled in the browser
    from the JSON at ``url`` (the owner-only ``/esims/{id}/install.json``). No prop and no
    state var holds the activation data."""

    tag = "InstallDetails"

    #: The JSON route to fetch ("" renders nothing and fetches nothing).
    url: Var[str]
    #: :data:`TEXTS` in the page's language (keys as there).
    texts: Var[dict[str, str]]

    def add_imports(self) -> ImportDict:
        """React hooks, the Radix Themes parts, three Lucide icons and the toast."""
        icons = {
            "InstallDetailsCopyIcon": "copy",
            "InstallDetailsAppleIcon": "apple",
            "InstallDetailsPhoneIcon": "smartphone",
        }
        return {
            "react": [ImportVar(tag="useEffect"), ImportVar(tag="useState")],
            _RADIX: [
                ImportVar(tag=name)
                for name in (
                    "Button",
                    "Callout",
                    "Card",
                    "Code",
                    "Flex",
                    "Heading",
                    "IconButton",
                    "Link",
                    "Text",
                )
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


def install_details(url: Var[str] | str) -> rx.Component:
    """The install page's one-tap and manual-entry cards for the JSON route ``url``, with
    their texts in the active language (the page is built once per language,
    docs/i18n.md#routes)."""
    return InstallDetails.create(url=url, texts={k: _(v) for k, v in TEXTS.items()})
