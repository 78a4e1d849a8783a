"""A traveler's own data: download it (:mod:`.export`), delete the account (:mod:`.deletion`).

No Reflex here, and no re-exports: import the module that holds the name.

**Export** (:func:`travelsim.services.privacy.export.export_user_data`): one JSON document
with everything the portal holds about the person: the account, linked provider identities,
sessions (browser, times), eSIMs (ICCID, EID, name, destination, statuses, add-ons with
volumes and dates, daily usage), replacement requests, purchase attempts, orders and
payments (amounts, card's last 4 digits and country), saved cards (brand and last 4 digits),
notifications and the emails sent (kind, subject, dates). Never included: password hashes,
session or email token hashes, the TOTP secret, ID tokens, Stripe ids, and eSIM
**activation codes**: an activation code installs the eSIM on any phone, so it stays behind
the owner's signed-in install page instead of lying in a download folder.
Email bodies are left out for the same reason (they carry single-use links); their subjects
and dates are included.

**Deletion** (:func:`travelsim.services.privacy.deletion.delete_account`), after the
warning page:

1. An order still being paid or provisioned blocks deletion (``delete_pending``).
2. Every eSIM of the person with a live add-on (waiting, active, or not yet mirrored) is
   **suspended first** on SFT (``EndPointLifeCycleChange`` ``S``, reason ``3`` CSR, provisioning
   priority; docs/sft-platform.md#endpointlifecyclechange). The endpoint is re-read before the
   change and after an unknown outcome (never a blind resend). If any suspension fails, nothing is
   deleted (``delete_failed``) and the person can try again.
   Then the saved cards are removed from the person's Stripe Customer, best effort (a card
   Stripe could not remove is logged; it stays on a Customer no account points to any more;
   docs/payments.md#saved-cards).
3. In one transaction: orders are kept for accounting but detached (``user_id`` NULL);
   open checkouts are cancelled; the person's eSIMs are retired and detached (nickname and
   activation code erased); sessions, provider links, TOTP, tokens, notifications,
   replacement requests, emails, saved cards and failed-attempt records are deleted; the
   ``app_user`` row becomes an anonymous tombstone (``deleted-<id>@deleted.invalid``,
   unusable password, not staff, no Stripe Customer reference) because purchase attempts
   and payments kept for accounting still reference it; an ``account_deletion`` row
   records the deletion.
"""
