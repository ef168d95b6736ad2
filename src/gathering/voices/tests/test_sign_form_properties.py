"""Property tests of the public sign form: whatever is posted, the answer is a redirect (signed)
or a 400 page with the form again, never a server error and never a half-written signature."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gathering.outbox.models import OutboxEmail
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

# Any Unicode, including controls, bidi overrides, zero-width characters and surrogates'
# neighbours; plus a few shapes that look like the real thing.
TEXT = st.text(max_size=600)
HOSTILE = st.sampled_from(
    ["", " ", "\u202e", "\u200b", "<script>", "=cmd|' /C calc'!A0", "a" * 5000, "\x00", "علی"]
)
EMAILS = st.one_of(
    TEXT,
    st.emails().map(str),
    st.builds(
        lambda local, tag: f"{local}+{tag}@Example.ORG",
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        TEXT,
    ),
)
FIELDS = st.fixed_dictionaries(
    {
        "name": st.one_of(TEXT, HOSTILE),
        "show_name": st.sampled_from(["", "on", "yes", "\u0000"]),
        "email": EMAILS,
        "country": st.one_of(st.sampled_from(["FR", "IR", "fr", "XX", "", "ZZZ"]), TEXT),
        "city": st.one_of(TEXT, HOSTILE),
        "message": st.one_of(TEXT, HOSTILE),
        "language": st.sampled_from(["en", "fa", "fr", "de", "", "EN"]),
        "consent": st.sampled_from(["on", "", "false"]),
        "website": st.sampled_from(["", "", "", "http://spam.example"]),
        "altcha": st.one_of(st.just(""), TEXT),
    }
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=FIELDS)
def test_any_post_is_signed_or_refused_cleanly(client: Client, data: dict[str, str]) -> None:
    campaign = _campaign()
    before = (Signature.objects.count(), OutboxEmail.objects.count())
    # The test client refuses NUL in form values as a real browser never sends them raw.
    payload = {key: value.replace("\x00", "") for key, value in data.items()}
    response = client.post(f"/en/{campaign.edition.year}/voices/{campaign.slug}/", payload)
    after = (Signature.objects.count(), OutboxEmail.objects.count())
    assert response.status_code in {302, 400}, response.status_code
    if response.status_code == 400:
        assert after == before  # nothing half-written
    else:
        # A new signature with its email, or (same address again) only an email.
        assert after[1] == before[1] + 1
        assert after[0] in {before[0], before[0] + 1}


def _campaign():
    from gathering.voices.models import Campaign

    campaign = Campaign.objects.filter(slug="properties").first()
    return campaign or CampaignFactory(slug="properties")
