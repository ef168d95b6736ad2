"""Writes of satellite sites: apply, decide, report attendance, review reports, choose a channel,
check tickets or not, erase contacts after the edition.

Each function checks its input again (whatever form called it), writes in one transaction and
schedules what follows the commit: the email to the coordinator through the outbox (queued in
the same transaction, sent by the worker), the live publisher's wake-up
(:func:`gathering.live.notify.changed`) for any change of a live figure, and a new version of
the public sites' page cache. Logs carry ids only, never a name or an address.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.checkin.models import Gate
from gathering.core.cache import bump_version
from gathering.core.crypto import blind_indexes
from gathering.core.dates import localize_digits
from gathering.core.translated import Translated
from gathering.live.notify import changed as notify_changed
from gathering.outbox.services import queue_email
from gathering.program.models import Edition
from gathering.satellites import consent, validation
from gathering.satellites.errors import (
    ChannelError,
    ConsentRequiredError,
    InvalidReportError,
    InvalidSiteDataError,
    ReportDecisionError,
    SiteDecisionError,
    SiteError,
    SiteNotApprovedError,
)
from gathering.satellites.models import AttendanceReport, Site, StreamChannel

logger = logging.getLogger(__name__)

Status = Site.Status
ReportStatus = AttendanceReport.Status

COORDINATOR_ROLE = "site_coordinator"
# The public sites' pages are cached under this namespace (``core.cache``).
PAGE_CACHE = "satellites"
# Scanners' and phones' clocks run a little fast: a count "from the future" by less than this
# is taken as counted now.
CLOCK_SKEW = dt.timedelta(minutes=5)
SLUG_MAX_LENGTH = 50


def _on_commit_changed(edition: Edition) -> None:
    year = edition.year
    transaction.on_commit(lambda: notify_changed(year=year))


# --- applying --------------------------------------------------------------------------------


def _clean_application(data: dict[str, Any]) -> dict[str, Any]:
    """The application's fields, checked; raises InvalidSiteDataError with every problem."""
    checks: dict[str, Callable[[Any], Any]] = {
        "name": validation.clean_site_name,
        "city": validation.clean_city,
        "country": validation.clean_country,
        "venue": validation.clean_venue,
        "expected_attendance": validation.clean_expected_attendance,
        "timezone": validation.clean_timezone,
        "contact_name": validation.clean_contact_name,
        "contact_email": validation.clean_email,
        "language": validation.clean_language,
    }
    cleaned: dict[str, Any] = {"is_online": bool(data.get("is_online"))}
    errors: dict[str, list[str]] = {}
    for key, check in checks.items():
        try:
            cleaned[key] = check(data.get(key))
        except ValidationError as error:
            errors[key] = [str(message) for message in error.messages]
    if not errors.get("venue") and not cleaned["is_online"] and not cleaned.get("venue"):
        errors["venue"] = [str(_("Enter the venue, or tick “online”."))]
    if errors:
        raise InvalidSiteDataError(errors)
    if not cleaned["name"]:
        cleaned["name"] = cleaned["city"]
    if cleaned["is_online"]:
        cleaned["venue"] = ""
    return cleaned


def _free_slug(edition: Edition, base: str) -> str:
    taken = set(
        Site.objects.filter(edition=edition, slug__startswith=base).values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


# Slugs that name pages rather than sites (``<year>/sites/apply/``).
RESERVED_SLUGS = frozenset({"apply"})


def _slug_base(city: str) -> str:
    base = slugify(city)[: SLUG_MAX_LENGTH - 6].strip("-") or "site"
    return f"{base}-site" if base in RESERVED_SLUGS else base


def applications_open(edition: Edition, *, at: dt.datetime | None = None) -> bool:
    """Sites may apply until the edition's last day (in its time zone)."""
    moment = at or now()
    return (
        edition.status != Edition.Status.PAST
        and moment.astimezone(edition.tzinfo).date() <= edition.end_date
    )


def apply_for_site(
    *,
    edition: Edition,
    name: str,
    city: str,
    country: str,
    is_online: bool,
    venue: str,
    expected_attendance: int,
    timezone_name: str,
    contact_name: str,
    contact_email: str,
    language: str,
    consent_given: bool,
    at: dt.datetime | None = None,
) -> Site:
    """Record an application to host a site of ``edition`` (status pending).

    A second application with the same contact email and city for the same edition returns
    the first one, unchanged, instead of creating a duplicate. Raises ConsentRequiredError,
    InvalidSiteDataError (with every field's problem) and SiteError when the edition is over.
    """
    if not consent_given:
        raise ConsentRequiredError
    data = _clean_application(
        {
            "name": name,
            "city": city,
            "country": country,
            "is_online": is_online,
            "venue": venue,
            "expected_attendance": expected_attendance,
            "timezone": timezone_name,
            "contact_name": contact_name,
            "contact_email": contact_email,
            "language": language,
        }
    )
    moment = at or now()
    if not applications_open(edition, at=moment):
        raise SiteError(_("This edition is over: it takes no more sites."))
    # Under every keyed-hash key held: an application made before a key rotation is found too.
    indexes = blind_indexes(data["contact_email"], purpose="email")

    def existing() -> Site | None:
        return Site.objects.filter(
            edition=edition, contact_email_index__in=indexes, city__iexact=data["city"]
        ).first()

    for _attempt in range(3):
        found = existing()
        if found is not None:
            logger.info("satellites application repeated site_id=%s", found.pk)
            return found
        try:
            with transaction.atomic():
                site = Site.objects.create(
                    edition=edition,
                    slug=_free_slug(edition, _slug_base(data["city"])),
                    name=data["name"],
                    city=data["city"],
                    country=data["country"],
                    is_online=data["is_online"],
                    venue=data["venue"],
                    expected_attendance=data["expected_attendance"],
                    timezone=data["timezone"],
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"],
                    contact_email_index=indexes[0],
                    language=data["language"],
                    consent_version=consent.VERSION,
                    created_at=moment,
                )
        except IntegrityError:
            # A twin request took the slug or the same application committed meanwhile.
            continue
        logger.info("satellites application received site_id=%s edition=%s", site.pk, edition.year)
        return site
    found = existing()
    if found is None:
        raise SiteError(_("Your application could not be recorded. Please try again."))
    return found


# --- deciding --------------------------------------------------------------------------------


def _lock_site(site: Site) -> Site:
    return Site.objects.select_for_update(of=("self",)).select_related("edition").get(pk=site.pk)


def _free_username(base: str, year: int) -> str:
    for candidate in (base, f"{base}-{year}"):
        if not User.objects.filter(username=candidate).exists():
            return candidate
    number = 2
    while User.objects.filter(username=f"{base}-{year}-{number}").exists():
        number += 1
    return f"{base}-{year}-{number}"


def _coordinator_for(site: Site) -> User:
    """The site's coordinator account: the one it has, else the account of the same contact
    at another site, else a new one (username from the slug, no usable password: the email
    gives a link to choose one)."""
    if site.coordinator_id is not None:
        return User.objects.get(pk=site.coordinator_id)
    if site.contact_email_index:
        # The same person's other sites, whichever keyed-hash key indexed them.
        indexes = (
            blind_indexes(site.contact_email, purpose="email")
            if site.contact_email
            else [site.contact_email_index]
        )
        other = (
            Site.objects.filter(contact_email_index__in=indexes, coordinator__isnull=False)
            .exclude(pk=site.pk)
            .select_related("coordinator")
            .order_by("-created_at")
            .first()
        )
        if other is not None and other.coordinator is not None:
            return other.coordinator
    user = User(username=_free_username(f"site-{site.slug}", site.edition.year), is_staff=True)
    user.set_unusable_password()
    user.save()
    return user


def approve_site(*, site: Site, by: Any) -> Site:
    """Approve a pending site: its coordinator gets a staff account limited to their own site
    (the ``site_coordinator`` role) and an email with a link to choose a password and sign
    in. Raises SiteDecisionError when the site is not pending."""
    with transaction.atomic():
        locked = _lock_site(site)
        if locked.status != Status.PENDING:
            raise SiteDecisionError
        user = _coordinator_for(locked)
        if not user.is_staff:
            user.is_staff = True  # the staff sign-in admits staff accounts only
            user.save(update_fields=["is_staff"])
        user.groups.add(Group.objects.get(name=COORDINATOR_ROLE))
        locked.status = Status.APPROVED
        locked.coordinator = user
        locked.decided_at = now()
        locked.decided_by = by if getattr(by, "pk", None) else None
        locked.save(update_fields=["status", "coordinator", "decided_at", "decided_by"])
        if locked.contact_email:
            queue_email(
                kind="satellites.approved",
                to=locked.contact_email,
                language=locked.language,
                context={"site_id": locked.pk, "user_id": user.pk},
            )
        bump_version(PAGE_CACHE)
        _on_commit_changed(locked.edition)
    logger.info(
        "satellites site approved site_id=%s coordinator_id=%s by=%s",
        locked.pk,
        user.pk,
        getattr(by, "pk", None),
    )
    return locked


def reject_site(*, site: Site, by: Any) -> Site:
    """Reject a pending site (its contact is told by email). Raises SiteDecisionError when the
    site is not pending."""
    with transaction.atomic():
        locked = _lock_site(site)
        if locked.status != Status.PENDING:
            raise SiteDecisionError
        locked.status = Status.REJECTED
        locked.decided_at = now()
        locked.decided_by = by if getattr(by, "pk", None) else None
        locked.save(update_fields=["status", "decided_at", "decided_by"])
        if locked.contact_email:
            queue_email(
                kind="satellites.rejected",
                to=locked.contact_email,
                language=locked.language,
                context={"site_id": locked.pk},
            )
    logger.info("satellites site rejected site_id=%s by=%s", locked.pk, getattr(by, "pk", None))
    return locked


# --- attendance ------------------------------------------------------------------------------


def _day_text(day: dt.date) -> str:
    from django.utils.dateformat import format as format_date
    from django.utils.translation import get_language

    return localize_digits(format_date(day, "j F Y"), get_language())


def _check_moment(site: Site, reported_at: dt.datetime, moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(reported_at):
        # A time typed at the site is the site's local time.
        reported_at = timezone.make_aware(reported_at, site.tzinfo)
    if reported_at > moment + CLOCK_SKEW:
        raise InvalidReportError(
            _("This time is in the future. Enter the time at which you counted."),
            field="reported_at",
        )
    reported_at = min(reported_at, moment)
    edition = site.edition
    # A day of the edition where the site is, or where the main venue is (a site far east or
    # west is a day apart from the venue in the evening).
    days = {
        reported_at.astimezone(site.tzinfo).date(),
        reported_at.astimezone(edition.tzinfo).date(),
    }
    if not any(edition.start_date <= day <= edition.end_date for day in days):
        raise InvalidReportError(
            _(
                "Counts can be reported only during the days of the gathering, from "
                "%(first)s to %(last)s."
            )
            % {"first": _day_text(edition.start_date), "last": _day_text(edition.end_date)},
            field="reported_at",
        )
    return reported_at


def report_attendance(
    *,
    site: Site,
    count: int,
    reported_at: dt.datetime,
    note: str,
    by: Any,
    at: dt.datetime | None = None,
) -> AttendanceReport:
    """Record that ``count`` people were at ``site`` at ``reported_at`` (site's local time
    when naive).

    Refused (InvalidReportError, whose ``field`` names the form field): a count that is no
    whole number, negative or beyond any site (``validation.COUNT_MAX``); a time in the future
    or outside the edition's days; a note with control characters. A count above ten times
    the site's expected attendance is saved as ``held``: it counts only once staff accept it.
    Raises SiteNotApprovedError for a site that is not approved.
    """
    try:
        count = validation.clean_count(count)
    except ValidationError as error:
        raise InvalidReportError(error.messages[0], field="count") from None
    try:
        note = validation.clean_note(note)
    except ValidationError as error:
        raise InvalidReportError(error.messages[0], field="note") from None
    moment = at or now()
    with transaction.atomic():
        current = Site.objects.select_related("edition").get(pk=site.pk)
        if current.status != Status.APPROVED:
            raise SiteNotApprovedError
        reported_at = _check_moment(current, reported_at, moment)
        held = count > validation.ABSURD_FACTOR * current.expected_attendance
        report = AttendanceReport.objects.create(
            site=current,
            count=count,
            reported_at=reported_at,
            note=note,
            status=ReportStatus.HELD if held else ReportStatus.ACCEPTED,
            reported_by=by if getattr(by, "pk", None) else None,
            created_at=moment,
        )
        if not held:
            bump_version(PAGE_CACHE)
            _on_commit_changed(current.edition)
    logger.info(
        "satellites attendance reported site_id=%s report_id=%s status=%s",
        current.pk,
        report.pk,
        report.status,
    )
    return report


def review_report(*, report: AttendanceReport, accept: bool, by: Any) -> AttendanceReport:
    """Accept (it counts) or reject a held report. Raises ReportDecisionError when the report
    is not held."""
    with transaction.atomic():
        locked = (
            AttendanceReport.objects.select_for_update(of=("self",))
            .select_related("site", "site__edition")
            .get(pk=report.pk)
        )
        if locked.status != ReportStatus.HELD:
            raise ReportDecisionError
        locked.status = ReportStatus.ACCEPTED if accept else ReportStatus.REJECTED
        locked.save(update_fields=["status"])
        if accept:
            bump_version(PAGE_CACHE)
            _on_commit_changed(locked.site.edition)
    logger.info(
        "satellites report reviewed report_id=%s status=%s by=%s",
        locked.pk,
        locked.status,
        getattr(by, "pk", None),
    )
    return locked


# --- settings of a site ----------------------------------------------------------------------


def choose_channel(*, site: Site, channel: StreamChannel | None, by: Any) -> Site:
    """Set the stream ``site`` shows (None: the main stream). Raises ChannelError for a channel
    of another edition."""
    if channel is not None and channel.edition_id != site.edition_id:
        raise ChannelError
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(channel=channel)
        bump_version(PAGE_CACHE)
    site.channel = channel
    logger.info(
        "satellites channel chosen site_id=%s channel_id=%s by=%s",
        site.pk,
        getattr(channel, "pk", None),
        getattr(by, "pk", None),
    )
    return site


def _site_gate_slug(site: Site) -> str:
    base = f"site-{site.slug}"[:SLUG_MAX_LENGTH]
    taken = set(
        Gate.objects.filter(edition_id=site.edition_id, slug__startswith=base).values_list(
            "slug", flat=True
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base[: SLUG_MAX_LENGTH - 4]}-{number}" in taken:
        number += 1
    return f"{base[: SLUG_MAX_LENGTH - 4]}-{number}"


def set_uses_tickets(*, site: Site, uses_tickets: bool, by: Any) -> Site:
    """Count the site's attendance by ticket scans at its gates (True) or by reports (False).

    Turning tickets on gives a site without a gate its first gate (organisers add devices to it
    in the back office, as for the main venue's gates). Changes the live figures."""
    with transaction.atomic():
        locked = _lock_site(site)
        if locked.status != Status.APPROVED:
            raise SiteNotApprovedError
        locked.uses_tickets = uses_tickets
        locked.save(update_fields=["uses_tickets"])
        if uses_tickets and not Gate.objects.filter(site=locked).exists():
            Gate.objects.create(
                edition_id=locked.edition_id,
                site=locked,
                slug=_site_gate_slug(locked),
                name=Translated({"en": locked.name}),
                position=1000,
            )
        bump_version(PAGE_CACHE)
        _on_commit_changed(locked.edition)
    logger.info(
        "satellites tickets %s site_id=%s by=%s",
        "on" if uses_tickets else "off",
        locked.pk,
        getattr(by, "pk", None),
    )
    site.uses_tickets = uses_tickets
    return locked


# --- retention -------------------------------------------------------------------------------


def erase_expired_contacts(*, at: dt.datetime | None = None) -> int:
    """Erase the contact name and email of sites whose edition ended more than
    ``consent.RETENTION_DAYS_AFTER_EDITION`` days ago; returns how many sites were erased.
    Running it twice changes nothing."""
    moment = at or now()
    last_day = moment.date() - dt.timedelta(days=consent.RETENTION_DAYS_AFTER_EDITION)
    erased = (
        Site.objects.filter(edition__end_date__lt=last_day)
        .exclude(contact_email__isnull=True, contact_name__isnull=True)
        .update(contact_name=None, contact_email=None, contact_email_index=None)
    )
    if erased:
        logger.info("satellites contacts erased sites=%s", erased)
    return erased
