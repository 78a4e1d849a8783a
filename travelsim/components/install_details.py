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

__all__ = ["InstallDetails", "install_details"]

_RADIX = "@radix-ui/themes@3.3.0"
_LUCIDE = "lucide-react@1.26.0"
_SONNER = "sonner@2.0.8"

#: What the component says while it loads or when the route refuses (the traveler's words).
LOADING_TEXT = "Loading your installation details…"
SIGNED_OUT_TEXT = "You are signed out. Sign in again to see your installation details."
NOT_FOUND_TEXT = "The installation details of this eSIM were not found."
FAILED_TEXT = "The installation details could not be loaded. Reload the page to try again."

_JS = """
function installDetailsCopy(text, label) {
  const done = () => toast.success(`${label} copied`);
  const failed = () => toast.error(`Could not copy: select the ${label} and copy it by hand.`);
  if (!navigator.clipboard) { failed(); return; }
  navigator.clipboard.writeText(text).then(done, failed);
}

function InstallDetailsField({ label, value, testid }) {
  const labelId = `${testid}-label`;
  return (
    <Flex direction="column" gap="1" width="100%">
      <Text size="2" weight="medium" id={labelId}>{label}</Text>
      <Flex align="center" gap="3" width="100%">
        <Code size="3" data-testid={testid} aria-labelledby={labelId}
          style={{ wordBreak: "break-all" }}>{value}</Code>
        <IconButton variant="soft" aria-label={`Copy ${label}`}
          onClick={() => installDetailsCopy(value, label)}>
          <InstallDetailsCopyIcon size={16} aria-hidden="true" />
        </IconButton>
      </Flex>
    </Flex>
  );
}

function InstallDetailsMessage({ error }) {
  if (error) {
    return (
      <Callout.Root color="red" role="alert" data-testid="install-details-error">
        <Callout.Text>{error}</Callout.Text>
      </Callout.Root>
    );
  }
  return (
    <Text size="2" color="gray" role="status" aria-live="polite"
      data-testid="install-details-loading">@LOADING@</Text>
  );
}

function InstallDetails({ url }) {
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
      setError(response.status === 401 ? @SIGNED_OUT@
        : response.status === 404 ? @NOT_FOUND@ : @FAILED@);
    }).catch((reason) => {
      if (reason && reason.name !== "AbortError") { setError(@FAILED@); }
    });
    // Leaving the page drops the data from memory.
    return () => { controller.abort(); setDetails(null); };
  }, [url]);
  return (
    <Flex direction="column" gap="4" width="100%" data-testid="install-details">
      <Card style={{ width: "100%" }}>
        <Flex direction="column" gap="3">
          <Heading as="h2" size="4">Install with one tap</Heading>
          <Text size="2">On the phone itself (iOS 17.4+ or a recent Android):</Text>
          {details ? (
            <>
              <Flex gap="3" wrap="wrap">
                <Link href={details.ios_link} data-testid="ios-link">
                  <Button size="3">
                    <InstallDetailsAppleIcon size={16} aria-hidden="true" />Install on iPhone
                  </Button>
                </Link>
                <Link href={details.android_link} data-testid="android-link">
                  <Button size="3" variant="outline">
                    <InstallDetailsPhoneIcon size={16} aria-hidden="true" />Install on Android
                  </Button>
                </Link>
              </Flex>
              <Text size="2">
                On Windows 11: <Link href={details.activation_code}
                  data-testid="lpa-link">open the activation code</Link>
              </Text>
            </>
          ) : <InstallDetailsMessage error={error} />}
        </Flex>
      </Card>
      <Card style={{ width: "100%" }}>
        <Flex direction="column" gap="3" width="100%">
          <Heading as="h2" size="4">Or enter it manually</Heading>
          <Text size="2">Choose “Enter details manually” when adding an eSIM.</Text>
          {details ? (
            <>
              <InstallDetailsField label="SM-DP+ address" value={details.smdp_address}
                testid="smdp" />
              <InstallDetailsField label="Activation code" value={details.matching_id}
                testid="matching-id" />
            </>
          ) : <InstallDetailsMessage error={error} />}
        </Flex>
      </Card>
    </Flex>
  );
}
"""


def _js_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


class InstallDetails(rx.Component):
    """``<InstallDetails url=…/>``: the one-tap and manual-entry cards, filled in the browser
    from the JSON at ``url`` (the owner-only ``/esims/{id}/install.json``). No prop and no
    state var holds the activation data."""

    tag = "InstallDetails"

    #: The JSON route to fetch ("" renders nothing and fetches nothing).
    url: Var[str]

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
        code = _JS.replace("@LOADING@", LOADING_TEXT)
        for mark, text in (
            ("@SIGNED_OUT@", SIGNED_OUT_TEXT),
            ("@NOT_FOUND@", NOT_FOUND_TEXT),
            ("@FAILED@", FAILED_TEXT),
        ):
            code = code.replace(mark, _js_string(text))
        return [code]


def install_details(url: Var[str] | str) -> rx.Component:
    """The install page's one-tap and manual-entry cards for the JSON route ``url``."""
    return InstallDetails.create(url=url)
