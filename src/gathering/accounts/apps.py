from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff sign-in: the second factor (security keys and passkeys through WebAuthn, an
    authenticator app through TOTP, single-use recovery codes), lock-out after failed attempts,
    session time-outs, and the end of every session of a disabled account."""

    name = "gathering.accounts"
    label = "accounts"
    verbose_name = _("Staff accounts")

    def ready(self) -> None:
        # Signals: sessions are recorded at sign-in and ended when an account is disabled,
        # wherever that happens (the back office, a service, the shell).
        from gathering.accounts import receivers  # noqa: F401
