"""The client's address: from the connection, or X-Forwarded-For behind trusted proxies only."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory

from gathering.abuse.client import (
    UNKNOWN,
    client_ip,
    hash_address,
    hash_prefix,
    network_prefix,
    parse_address,
)

ip = ipaddress.ip_address


def _request(remote: str | None, forwarded: str | None = None):
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    return request


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"]


def test_without_trusted_proxies_the_connection_is_the_client(settings) -> None:
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("198.51.100.7", "203.0.113.9")) == ip("198.51.100.7")


def test_a_forged_header_from_an_untrusted_client_changes_nothing(proxies) -> None:
    for forged in ["203.0.113.9", "203.0.113.9, 10.0.0.1", "1.1.1.1, 2.2.2.2, 3.3.3.3"]:
        assert client_ip(_request("198.51.100.7", forged)) == ip("198.51.100.7")


def test_behind_a_trusted_proxy_the_forwarded_client_is_used(proxies) -> None:
    assert client_ip(_request("10.1.2.3", "203.0.113.9")) == ip("203.0.113.9")


def test_the_header_is_read_from_the_right_skipping_trusted_proxies(proxies) -> None:
    # The client wrote "6.6.6.6" itself; our two proxies appended what they saw.
    request = _request("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2")
    assert client_ip(request) == ip("203.0.113.9")


def test_ipv6_clients_and_proxies(proxies) -> None:
    assert client_ip(_request("2001:db8:ffff::1", "2001:db8:1::5")) == ip("2001:db8:1::5")
    assert client_ip(_request("2001:db8:ffff::1", "[2001:db8:1::5]:443")) == ip("2001:db8:1::5")
    assert client_ip(_request("2001:db8:1::5", "203.0.113.9")) == ip("2001:db8:1::5")


def test_ports_and_mapped_addresses_are_normalised(proxies) -> None:
    assert client_ip(_request("10.0.0.1", "203.0.113.9:51234")) == ip("203.0.113.9")
    assert client_ip(_request("::ffff:198.51.100.7")) == ip("198.51.100.7")
    # A trusted proxy seen through a dual-stack socket is still trusted.
    assert client_ip(_request("::ffff:10.0.0.1", "203.0.113.9")) == ip("203.0.113.9")


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "203.0.113.9, <script>",
        "999.1.1.1",
        "\u202e203.0.113.9",
        "203.0.113\u200b.9",
        "fe80::1%eth0",
        "1" * 10_000,
        ",,,",
    ],
)
def test_a_garbled_header_falls_back_to_the_connection(proxies, header) -> None:
    assert client_ip(_request("10.0.0.1", header)) == ip("10.0.0.1")


def test_an_empty_header_from_a_trusted_proxy_gives_the_proxy(proxies) -> None:
    assert client_ip(_request("10.0.0.1", "")) == ip("10.0.0.1")
    assert client_ip(_request("10.0.0.1")) == ip("10.0.0.1")


def test_a_chain_of_trusted_proxies_only_gives_the_leftmost(proxies) -> None:
    assert client_ip(_request("10.0.0.1", "10.0.0.3, 10.0.0.2")) == ip("10.0.0.3")


def test_garbage_in_a_hop_left_of_the_client_is_never_read(proxies) -> None:
    assert client_ip(_request("10.0.0.1", "junk, 203.0.113.9")) == ip("203.0.113.9")


@pytest.mark.parametrize("remote", [None, "", "unix:/run/sock", "not-an-ip"])
def test_a_missing_or_odd_remote_address_is_unknown(remote) -> None:
    assert client_ip(_request(remote)) == UNKNOWN


def test_network_prefixes(settings) -> None:
    assert str(network_prefix(ip("203.0.113.9"))) == "203.0.113.0/24"
    assert str(network_prefix(ip("2001:db8:1:2:3::5"))) == "2001:db8:1::/48"
    settings.ABUSE_IPV4_PREFIX = 16
    assert str(network_prefix(ip("203.0.113.9"))) == "203.0.0.0/16"


def test_hashes_are_short_keyed_and_stable() -> None:
    one = hash_address(ip("203.0.113.9"))
    assert len(one) == 32
    assert int(one, 16) >= 0
    assert one == hash_address(ip("203.0.113.9"))
    assert one != hash_address(ip("203.0.113.10"))
    assert "203" not in one or one != "203.0.113.9"
    prefix = network_prefix(ip("203.0.113.9"))
    assert hash_prefix(prefix) == hash_prefix("203.0.113.0/24") == hash_prefix("203.0.113.77/24")
    # Domain separation: an address and the network of the same text never share a hash.
    assert hash_prefix("203.0.113.9/32") != hash_address(ip("203.0.113.9"))


def test_hash_prefix_refuses_what_is_not_a_network() -> None:
    with pytest.raises(ValueError):
        hash_prefix("<script>")


def test_parse_address_limits() -> None:
    assert parse_address("  203.0.113.9  ") == ip("203.0.113.9")
    assert parse_address("[::1]") == ip("::1")
    assert parse_address("x" * 65) is None
    assert parse_address(None) is None


def test_invalid_trusted_proxies_fail_the_system_check(settings) -> None:
    from gathering.abuse.checks import check_abuse_settings

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "not-a-network"]
    assert [error.id for error in check_abuse_settings()] == ["abuse.E001"]
    settings.TRUSTED_PROXIES = []
    assert check_abuse_settings() == []
