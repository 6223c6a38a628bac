"""Which IP addresses outgoing requests may reach.

A remote server chooses the URLs fedi fetches (actor ids, inboxes, media, redirects), so every
address is judged before connecting: only public unicast addresses are reached, plus the networks
an operator lists in ``FEDI_ALLOW_PRIVATE_NETWORKS`` (tests and local development allow 127.0.0.0/8).
IPv6 forms that carry an IPv4 address (``::ffff:10.0.0.1``, NAT64, 6to4, Teredo) are judged by the
IPv4 address inside them too. An allowlisted network must contain the address exactly as resolved:
allowing 127.0.0.0/8 does not allow ``::ffff:127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# Not global, though Python's ``ipaddress`` (3.11) reports them so: deprecated site-local addresses
# (RFC 3879, still routed inside some sites) and the second documentation prefix (RFC 9637).
NOT_GLOBAL = (ipaddress.IPv6Network("fec0::/10"), ipaddress.IPv6Network("3fff::/20"))


def parse_address(text: str) -> IPAddress | None:
    """The IP address written in ``text``, or None if it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address, judging any IPv4 address embedded in an IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64_PREFIX:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = [address.sixtofour, *(address.teredo or ())]
        if not all(is_public(inner) for inner in embedded if inner is not None):
            return False
        if any(address in network for network in NOT_GLOBAL):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses over https; the allowlisted networks over https or plain http."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    def is_allowlisted(self, address: IPAddress) -> bool:
        """True if an operator explicitly allowed the network this address is in."""
        return any(address.version == net.version and address in net for net in self.allowed_networks)

    def permits(self, address: IPAddress, *, plain_http: bool) -> bool:
        """True if a request (plain http or https) may connect to ``address``."""
        if self.is_allowlisted(address):
            return True
        return not plain_http and is_public(address)
