"""Staff roles are Django groups, created (and their permissions granted) after every migrate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission

# Which model permissions each role holds, as "app_label.model": actions. Later issues add rows.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "organiser": {
        # "add" only ever applies once: the organisation admin refuses a second row.
        "core.organisation": ("add", "view", "change"),
        "program.edition": ("add", "change", "delete", "view"),
        "program.room": ("add", "change", "delete", "view"),
        "program.track": ("add", "change", "delete", "view"),
        "program.session": ("add", "change", "delete", "view"),
        "program.sessionspeaker": ("add", "change", "delete", "view"),
        "program.speaker": ("add", "change", "delete", "view"),
        "auth.user": ("add", "change", "view"),
        "auth.group": ("view",),
        "registration.category": ("add", "change", "delete", "view"),
        "registration.question": ("add", "change", "delete", "view"),
        # print_badges: badges of press, guests and volunteers; lookup: the desk's page;
        # press: the press officer's pages.
        "registration.registration": ("change", "view", "print_badges", "lookup", "press"),
        "registration.delegation": ("change", "view"),
        "registration.ticket": ("view",),
        "checkin.gate": ("add", "change", "delete", "view"),
        "checkin.gatedevice": ("add", "change", "view"),
        "checkin.scan": ("add", "view"),
        "voices.campaign": ("add", "change", "delete", "view"),
        "voices.endorsement": ("add", "change", "delete", "view"),
        "voices.signature": ("view", "moderate"),
        "voices.invalidation": ("add", "view"),
        "live.announcement": ("add", "change", "view"),
        # Sites are added through the application form (with its consent), decided with
        # the back office's actions or the staff page; coordinate: their staff pages.
        "satellites.site": ("change", "delete", "view", "coordinate"),
        "satellites.streamchannel": ("add", "change", "delete", "view"),
        "satellites.attendancereport": ("change", "view"),
        # The audit trail: read only, for organisers alone (audit/).
        "audit.auditevent": ("view",),
        # Resetting another staff member's second factors (accounts/, each reset recorded).
        "accounts.totpdevice": ("reset",),
        # Data-subject requests: look a person up by email, export or erase (privacy/).
        "privacy.datasubjectrequest": ("handle",),
        # Bulk exports of personal data: one organiser asks, another approves (audit/exports).
        "audit.exportrequest": ("approve",),
    },
    "program_editor": {
        "program.edition": ("view", "change"),
        "program.room": ("add", "change", "delete", "view"),
        "program.track": ("add", "change", "delete", "view"),
        "program.session": ("add", "change", "delete", "view"),
        # The speakers of a session are edited inline on the session's form.
        "program.sessionspeaker": ("add", "change", "delete", "view"),
        "program.speaker": ("add", "change", "delete", "view"),
        # Stage managers post what the hall, the sites and viewers must know now.
        "live.announcement": ("add", "change", "view"),
    },
    # Helps one registrant at a time: looks them up by ticket code, registration number, email
    # or exact name on the desk page (each look-up recorded), never a list of people; assigns
    # coaches and arrival slots to delegations (cities and counts, no names).
    "registration_desk": {
        "registration.category": ("view",),
        "registration.question": ("view",),
        "registration.registration": ("lookup",),
        "registration.delegation": ("change", "view"),
        "registration.ticket": ("view",),
    },
    # Checks tickets in: ticket ids, categories and revocations, never names or emails.
    "gate": {
        "registration.ticket": ("view",),
        "checkin.gate": ("view",),
        "checkin.scan": ("add", "view"),
    },
    # Moderates messages and flagged signatures; sees email domains and network hashes for
    # bulk decisions, never an email address or a name that was not meant to be shown.
    "moderator": {
        "voices.campaign": ("view",),
        "voices.signature": ("moderate",),
        "voices.invalidation": ("add", "view"),
    },
    # Coordinates their own satellite site on its staff pages (reports, stream, tickets); no
    # back-office access to sites: the views check that the site is theirs.
    "site_coordinator": {
        "satellites.site": ("coordinate",),
    },
    # Press accreditations only: the registrations of press categories on the press pages
    # (the views refuse any other registration), and their badges; nothing in the back office.
    "press_officer": {
        "registration.registration": ("press", "print_badges"),
    },
}


def ensure_roles(**_kwargs: Any) -> None:
    """Create every staff group and give it exactly the permissions listed above.

    Runs after every app's migrations (post_migrate is sent once per app), so it reads every
    permission in one query rather than one query per role and action.
    """
    permissions = {
        (app_label, codename): pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for name, _description in settings.GATHERING_STAFF_ROLES:
        group, _created = Group.objects.get_or_create(name=name)
        wanted = []
        for model_key, actions in ROLE_PERMISSIONS.get(name, {}).items():
            app_label, model = model_key.split(".")
            for action in actions:
                permission = permissions.get((app_label, f"{action}_{model}"))
                if permission is not None:
                    wanted.append(permission)
        if set(group.permissions.values_list("pk", flat=True)) != set(wanted):
            group.permissions.set(wanted)
