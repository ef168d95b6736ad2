"""Who is asking: the client's address, its network, and keyed hashes of both.

The address comes from the connection (``REMOTE_ADDR``). ``X-Forwarded-For`` is read only when
the connection comes from a proxy listed in ``settings.TRUSTED_PROXIES`` (CIDRs, from the
``TRUSTED_PROXIES`` environment variable): anyone can send that header, so trusting it from
anyone else would let a client pick a fresh address, and a fresh rate limit, per request.
Behind trusted proxies the header is read from the right (each proxy appends the address it
saw), skipping trusted proxies; the first untrusted address is the client. A header that does
not parse falls back to the connection's address.

Addresses are never stored: :func:`hash_address` and :func:`hash_prefix` give keyed hashes
(HMAC under the keyed-hash key of ``core/crypto.py``, kept outside the database, each with a
purpose of its own), so a database dump does not reveal them, not even by trying all 2³² IPv4
addresses. A hash carries the id of its key after a rotation (``<key id>:<32 hex>``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

from gathering.core.crypto import blind_index

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where REMOTE_ADDR is missing or not an address (a Unix socket, a misconfigured server):
# such clients share one rate-limit bucket rather than escaping limits.
UNKNOWN = ipaddress.IPv4Address("0.0.0.0")  # noqa: S104  (a value, not a bind address)  # nosec B104 # a placeholder address, never bound
# A trusted proxy chain longer than this is not ours: stop reading.
_MAX_HOPS = 16
HASH_CHARS = 32


def parse_address(value: str | None) -> Address | None:
    """``value`` as an address, or None. Accepts what proxies write: ``1.2.3.4``,
    ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]`` and ``[2001:db8::1]:443``. An
    IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is returned as IPv4, so one client cannot
    count under two addresses."""
    if not value:
        return None
    text = value.strip()
    if len(text) > 64:
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def trusted_proxies() -> tuple[Network, ...]:
    """``settings.TRUSTED_PROXIES`` as networks (parsed once per distinct setting)."""
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> Address:
    """The client's address (see the module docstring): ``REMOTE_ADDR`` unless it is a
    trusted proxy, then the rightmost untrusted address of ``X-Forwarded-For``. Never raises:
    a missing or malformed value gives ``REMOTE_ADDR`` (or :data:`UNKNOWN`)."""
    remote = parse_address(request.META.get("REMOTE_ADDR")) or UNKNOWN
    networks = trusted_proxies()
    if not networks or not _is_trusted(remote, networks):
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = header.split(",")[::-1][:_MAX_HOPS] if header.strip() else []
    found = remote
    for hop in hops:
        address = parse_address(hop)
        if address is None:
            return remote  # a garbled header: trust nothing in it
        if not _is_trusted(address, networks):
            return address
        found = address
    # Every hop is a trusted proxy (a request from our own network): the leftmost one.
    return found


def network_prefix(ip: Address) -> Network:
    """The network ``ip`` belongs to for rate limits: ``/ABUSE_IPV4_PREFIX`` (24) for IPv4,
    ``/ABUSE_IPV6_PREFIX`` (48: one site) for IPv6."""
    length = (
        settings.ABUSE_IPV4_PREFIX
        if isinstance(ip, ipaddress.IPv4Address)
        else settings.ABUSE_IPV6_PREFIX
    )
    return ipaddress.ip_network((ip, length), strict=False)


def hash_address(ip: Address) -> str:
    """A keyed hash of one address (32 hex characters, after ``<key id>:`` under a rotated
    key), stable while the key is."""
    return blind_index(str(ip), purpose="abuse-address", hex_chars=HASH_CHARS)


def hash_prefix(prefix: Network | str) -> str:
    """A keyed hash of a network (as :func:`hash_address`). A string is read as a network first, so
    ``"192.0.2.7/24"`` and ``"192.0.2.0/24"`` give the same hash; raises ValueError if it is
    not one."""
    network = ipaddress.ip_network(prefix, strict=False) if isinstance(prefix, str) else prefix
    return blind_index(str(network), purpose="abuse-prefix", hex_chars=HASH_CHARS)
