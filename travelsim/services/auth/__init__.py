"""Traveler and staff authentication: accounts, passwords, sessions, second factor.

No Reflex here, and no re-exports: import the module that holds the name.

======================  ==============================================================
``errors``              :class:`AccountError`, its codes and their user-facing messages
``passwords``           Argon2id hashing and verification, the password length bounds
``credentials``         what a valid email address and password are; account by email
``tokens``              random secret tokens and their stored SHA-256
``email_tokens``        single-use emailed links (verification, password reset)
``sessions``            browser sessions: start, resolve, end, list, cookie name
``throttling``          failed sign-in and second-factor attempts
``totp``                the TOTP second factor and who must pass it
``signup``              sign-up, email verification, resend, existing-account notice
``signin``              password sign-in and where it lands
``reset``               password reset by emailed link
``staff``               :func:`~travelsim.services.auth.staff.require_staff`
======================  ==============================================================

Every function that takes an ``AsyncSession`` works inside the caller's transaction and
**does not commit**: the caller commits (so a sign-up and its verification email are one
transaction). Functions that only read may still write small bookkeeping
(``last_seen_at``, a password rehash) that the caller's commit persists.

Secrets: passwords are hashed with Argon2id (rehashed on sign-in when the parameters
change); email and session tokens are 256-bit random strings of which only the SHA-256 is
stored. None of them, nor passwords, are ever logged; logs name users by id.
"""
