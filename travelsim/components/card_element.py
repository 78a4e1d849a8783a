"""Card entry with Stripe.js: the card number, expiry and CVC never reach the portal.

:func:`card_element` renders a small React function component. On its first mount it adds
one ``<script src=js_url>`` tag (Stripe.js: the real ``https://js.stripe.com/v3/`` or
localstripe's fake at ``<base>/js.stripe.com/v3/``; the URL is a runtime value from state,
never baked into the compiled page), waits for ``window.Stripe``, then mounts
``Stripe(publishable_key).elements().create("card")`` into a host ``<div>`` that React never
re-renders (a memoised child whose props never change, held by a ref): Reflex re-renders the
page on every state delta, and a re-render must not wipe the inputs Stripe.js drew
(https://docs.stripe.com/js/element/mount). What the traveler types stays inside Stripe.js
(an iframe on real Stripe): the portal's websocket only ever carries the token id.

The page drives it through a tiny API on ``window`` (defined once, at module level, so a call
never fails with a ReferenceError even before the card is mounted)::

    travelsimCard.createToken()
        → {token: "tok_…", last4: "4242", brand: "Visa"}  |  {error: {code, message}}
    travelsimCard.confirmCardPayment(clientSecret)
        → {status: "requires_capture" | "succeeded" | …}  |  {error: {code, message}}

(https://docs.stripe.com/js/tokens/create_token, https://docs.stripe.com/js/payment_intents/confirm_card_payment).
Both always resolve, never reject: Stripe.js errors keep their ``code`` (``incomplete_number``,
``card_declined``, ``payment_intent_authentication_failure``…); the wrapper adds
``not_ready`` (Stripe.js still loading / no card mounted), ``unavailable`` (Stripe.js could
not be loaded), ``incomplete`` (localstripe's fake
throws or answers a bare ``invalid_request_error`` when fields are empty or short) and
``network`` (Stripe unreachable). Messages are Stripe's; the page shows its own words per
code (``travelsim.state.buy``).

The page calls them with ``rx.call_script(…, callback=…)``. Reflex 0.10's client
(``reflex_base/.templates/web/utils/state.js``, ``applyEvent`` for ``_call_script``) awaits a
returned Promise (``typeof eval_result.then === "function"``) before calling the callback, so
the callback receives the resolved object: no second event or hidden trigger is needed.

Accessibility and theme: the box has a visible label ("Card details", clicking it focuses the
card where Stripe.js supports ``element.focus()``), the host is a ``role="group"`` named by
it; loading is announced (``role="status"``), a form that cannot load and Stripe.js's live
validation errors are ``role="alert"``. The box is drawn with Radix Themes tokens
(``--color-surface``, ``--gray-a7``, ``--accent-8`` focus ring), so light and dark follow the
theme; the iframe's text colours (which cannot read the page's CSS) are the matching Radix
gray-12 / gray-9 / red-11 values, switched when the ``dark`` class of ``<html>`` changes
(``element.update``, https://docs.stripe.com/js/element/other_methods/update).
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.vars.base import Var
from reflex_base.utils.imports import ImportDict, ImportVar

from travelsim import i18n
from travelsim.i18n import N_, _

__all__ = [
    "FAILED_TEXT",
    "LABEL_TEXT",
    "LOADING_TEXT",
    "CardElement",
    "card_element",
    "confirm_card_payment_js",
    "create_token_js",
]

_RADIX = "@radix-ui/themes@3.3.0"

#: The visible label of the card box.
LABEL_TEXT = N_("Card details")
#: What the component says while Stripe.js loads, or when it could not load.
LOADING_TEXT = N_("Loading the secure card form…")
FAILED_TEXT = N_(
    "The card form could not be loaded. Check your connection and reload the page. "
    "Nothing was charged."
)

#: What the page's callbacks receive: every field a string ("" when absent), so the event
#: handlers take plain ``str`` arguments (state/validation.py refuses anything else).
_AS_STRINGS = (
    ".then((r) => ({token: (r && r.token) || '', status: (r && r.status) || '', "
    "error: {code: (r && r.error && r.error.code) || ''}}))"
)
#: The JavaScript the page evaluates (``rx.call_script``) to tokenise the card; resolves to
#: ``{token, status: "", error: {code}}`` (``token`` or ``code`` empty; module docstring).
create_token_js = "window.travelsimCard.createToken()" + _AS_STRINGS


def confirm_card_payment_js(client_secret: str) -> str:
    """The JavaScript that runs 3-D Secure for ``client_secret`` (a PaymentIntent's secret,
    passed only inside this call, never through a state var); resolves to ``{status}`` or
    ``{error: {code, message}}``, handed to the callback as ``{token: "", status, error:
    {code}}`` (strings, "" when absent)."""
    return f"window.travelsimCard.confirmCardPayment({json.dumps(client_secret)})" + _AS_STRINGS


_JS = r"""
const travelsimCardLoads = {};
let travelsimCardCurrent = null;
let travelsimCardFailed = false;  // Stripe.js could not be loaded (last attempt)

function travelsimCardMissing() {
  return { error: { code: travelsimCardFailed ? "unavailable" : "not_ready", message: "" } };
}

function travelsimCardError(reason, fallback) {
  if (reason && typeof reason === "object" && !(reason instanceof Error)) {
    const type = reason.type || "";
    const code = reason.code || reason.decline_code
      || (type === "api_connection_error" ? "network"
        : type === "invalid_request_error" || type === "validation_error" ? "incomplete"
        : fallback);
    return { code: String(code), message: String(reason.message || "") };
  }
  // A thrown/returned Error: a failed fetch (TypeError) means Stripe was unreachable.
  return { code: reason instanceof TypeError ? "network" : fallback,
    message: reason && reason.message ? String(reason.message) : "" };
}

if (typeof window !== "undefined" && !window.travelsimCard) {
  window.travelsimCard = {
    createToken: async () => {
      const current = travelsimCardCurrent;
      if (!current) { return travelsimCardMissing(); }
      try {
        const result = await current.stripe.createToken(current.card);
        if (result && result.token && result.token.id) {
          const card = result.token.card || {};
          return { token: result.token.id, last4: card.last4 || "", brand: card.brand || "" };
        }
        return { error: travelsimCardError(result && result.error, "incomplete") };
      } catch (reason) {
        // localstripe's fake reads element.value, unset until something was typed.
        return { error: travelsimCardError(reason, "incomplete") };
      }
    },
    confirmCardPayment: async (clientSecret) => {
      const current = travelsimCardCurrent;
      if (!current) { return travelsimCardMissing(); }
      try {
        const result = await current.stripe.confirmCardPayment(clientSecret);
        if (result && result.paymentIntent) {
          return { status: String(result.paymentIntent.status || "") };
        }
        return { error: travelsimCardError(result && result.error, "authentication_failed") };
      } catch (reason) {
        return { error: travelsimCardError(reason, "network") };
      }
    },
  };
}

function travelsimLoadStripe(jsUrl) {
  if (window.Stripe) { return Promise.resolve(window.Stripe); }
  if (!travelsimCardLoads[jsUrl]) {
    travelsimCardLoads[jsUrl] = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = jsUrl;
      script.async = true;
      script.dataset.travelsimStripe = "1";
      const timer = setTimeout(() => fail(new Error("timeout")), 20000);
      function fail(reason) {
        clearTimeout(timer);
        delete travelsimCardLoads[jsUrl];  // a later mount may try again
        script.remove();
        reject(reason);
      }
      script.onload = () => {
        clearTimeout(timer);
        if (window.Stripe) { resolve(window.Stripe); } else { fail(new Error("no Stripe")); }
      };
      script.onerror = () => fail(new Error("load failed"));
      document.head.appendChild(script);
    });
  }
  return travelsimCardLoads[jsUrl];
}

function travelsimCardStyle() {
  const dark = document.documentElement.classList.contains("dark");
  // Radix Themes gray-12 / gray-9 / red-11 (light | dark): the iframe cannot read CSS vars.
  return {
    base: {
      color: dark ? "#edeef0" : "#1c2024",
      fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      fontSize: "16px",
      "::placeholder": { color: dark ? "#696e77" : "#8b8d98" },
    },
    invalid: { color: dark ? "#ff9592" : "#ce2c31" },
  };
}

const TravelsimCardHost = memo(
  forwardRef(function TravelsimCardHost({ labelId }, ref) {
    // No children: React never touches what Stripe.js mounts in here.
    return <div ref={ref} className="travelsim-card-host" data-testid="card-element"
      role="group" aria-labelledby={labelId} />;
  }),
  () => true,
);

const TRAVELSIM_CARD_CSS = `
.travelsim-card-box { border: 1px solid var(--gray-a7); border-radius: var(--radius-2);
  background: var(--color-surface); padding: var(--space-3); color: var(--gray-12); }
.travelsim-card-box:focus-within { outline: 2px solid var(--accent-8); outline-offset: -1px; }
.travelsim-card-host { display: flex; flex-wrap: wrap; align-items: center;
  gap: var(--space-2); min-height: 24px; }
.travelsim-card-host > span { font-size: var(--font-size-1); color: var(--gray-11); width: 100%; }
.travelsim-card-host input { font: inherit; font-size: 16px; color: var(--gray-12);
  background: var(--color-surface); border: 1px solid var(--gray-a7);
  border-radius: var(--radius-1); padding: var(--space-1) var(--space-2);
  min-width: 0; box-sizing: border-box; }
.travelsim-card-host input::placeholder { color: var(--gray-9); }
.travelsim-card-host input:focus-visible { outline: 2px solid var(--focus-8);
  outline-offset: 1px; }
.travelsim-card-host input[placeholder="number"] { flex: 1 1 100%; }
.travelsim-card-host input:not([placeholder="number"]) { flex: 1 1 4.5em; width: 4.5em; }
.travelsim-card-host > div, .travelsim-card-host iframe { flex: 1 1 100%; }
`;

function TravelsimCardElement({ publishableKey, jsUrl, id, label, loadingText, failedText,
  locale }) {
  const hostRef = useRef(null);
  const cardRef = useRef(null);
  const [phase, setPhase] = useState("loading");
  const [problem, setProblem] = useState("");
  const labelId = `${id}-label`;
  useEffect(() => {
    if (!publishableKey || !jsUrl) { return undefined; }
    let cancelled = false;
    let observer = null;
    let mine = null;
    setPhase("loading");
    travelsimCardFailed = false;
    travelsimLoadStripe(jsUrl).then((StripeCtor) => {
      if (cancelled || !hostRef.current) { return; }
      const stripe = StripeCtor(publishableKey, { locale: locale || "auto" });
      const card = stripe.elements().create("card", {
        style: travelsimCardStyle(), hidePostalCode: true,
      });
      card.mount(hostRef.current);
      if (typeof card.on === "function") {
        card.on("change", (event) => {
          setProblem(event && event.error ? String(event.error.message || "") : "");
        });
      }
      if (typeof card.update === "function") {
        observer = new MutationObserver(() => card.update({ style: travelsimCardStyle() }));
        observer.observe(document.documentElement, { attributes: true,
          attributeFilter: ["class"] });
      }
      cardRef.current = card;
      mine = { stripe, card };
      travelsimCardCurrent = mine;
      setPhase("ready");
    }).catch(() => {
      if (!cancelled) { travelsimCardFailed = true; setPhase("failed"); }
    });
    return () => {
      cancelled = true;
      if (observer) { observer.disconnect(); }
      if (travelsimCardCurrent === mine) { travelsimCardCurrent = null; }
      if (cardRef.current) {
        try { cardRef.current.destroy(); } catch (ignored) { /* already gone */ }
        cardRef.current = null;
      }
    };
  }, [publishableKey, jsUrl, locale]);
  const focusCard = () => {
    const card = cardRef.current;
    if (card && typeof card.focus === "function") { card.focus(); return; }
    const first = hostRef.current && hostRef.current.querySelector("input");
    if (first) { first.focus(); }
  };
  return (
    <Flex direction="column" gap="1" width="100%" data-testid="card-entry"
      data-phase={phase}>
      <style>{TRAVELSIM_CARD_CSS}</style>
      <Text as="div" size="2" weight="medium" id={labelId} onClick={focusCard}
        style={{ cursor: "default" }}>{label}</Text>
      <div className="travelsim-card-box" id={id}>
        <TravelsimCardHost ref={hostRef} labelId={labelId} />
        {phase === "loading" ? (
          <Text as="div" size="2" color="gray" role="status" aria-live="polite"
            data-testid="card-loading">{loadingText}</Text>
        ) : null}
      </div>
      {phase === "failed" ? (
        <Callout.Root color="red" role="alert" size="1" data-testid="card-failed">
          <Callout.Text>{failedText}</Callout.Text>
        </Callout.Root>
      ) : null}
      {problem ? (
        <Text as="div" size="2" color="red" role="alert" data-testid="card-problem">
          {problem}</Text>
      ) : null}
    </Flex>
  );
}
"""


class CardElement(rx.Component):
    """``<TravelsimCardElement publishableKey=… jsUrl=… id=…/>``: the Stripe.js card box.
    Its props are public values (the publishable key and the Stripe.js URL); no prop, no
    state var and no event ever carries card data."""

    tag = "TravelsimCardElement"

    #: ``pk_test_…`` / ``pk_live_…`` ("" renders the box without loading anything).
    publishable_key: Var[str]
    #: Where Stripe.js is loaded from (a runtime value: real or local Stripe).
    js_url: Var[str]
    #: The box's visible label, its loading and its failure texts, translated into the
    #: page's language when the page is built (docs/i18n.md): the JS holds no English.
    label: Var[str]
    loading_text: Var[str]
    failed_text: Var[str]
    #: The page's language (``fr``...) for Stripe.js's own messages (the card box's
    #: placeholders and its validation texts).
    locale: Var[str]

    def add_imports(self) -> ImportDict:
        """React hooks and the Radix Themes parts the component draws with."""
        return {
            "react": [
                ImportVar(tag=name)
                for name in ("forwardRef", "memo", "useEffect", "useRef", "useState")
            ],
            _RADIX: [ImportVar(tag=name) for name in ("Callout", "Flex", "Text")],
        }

    def add_custom_code(self) -> list[str]:
        """The component's JavaScript (module level, once per page)."""
        return [_JS]


def card_element(
    publishable_key: Var[str] | str, js_url: Var[str] | str, *, id: str = "card-element"
) -> rx.Component:
    """The labelled card box, loading Stripe.js from ``js_url`` with ``publishable_key``;
    ``id`` names the box (its label is ``<id>-label``). One per page: ``window.travelsimCard``
    drives the card mounted last. Call it while the page is built (its language active):
    the visible texts are translated then."""
    return CardElement.create(
        publishable_key=publishable_key,
        js_url=js_url,
        id=id,
        label=_(LABEL_TEXT),
        loading_text=_(LOADING_TEXT),
        failed_text=_(FAILED_TEXT),
        locale=i18n.current(),
    )
