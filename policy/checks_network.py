"""Network rules: which sources an ingress rule admits, in VPC firewalls and in firewall policies.

Sources are compared as address sets, not as strings: `0.0.0.0/1` and `128.0.0.0/1` together are
the whole internet. An allowing ingress rule is rejected when the union of its source ranges holds
more public addresses than one IPv4 /8 (2^24) or one IPv6 /32 (2^96, an ISP's allocation). A bound
rather than "not 0.0.0.0/0": splitting the world into pieces must not pass, yet named ranges
(IAP's /20, Google's health checkers, a company's /16s) stay far below it. Private and other
non-internet space is not counted, so "all of RFC 1918" stays allowed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from guardrail import FIREWALL, FIREWALL_POLICIES_WITH_RULES, Config, Props

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NON_INTERNET = tuple(
    ipaddress.ip_network(block)
    for block in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",  # unique local
        "fe80::/10",
        "::1/128",
    )
)
ADVICE = "name the sources (e.g. IAP 35.235.240.0/20) (CIS 3.6, 3.7)"
MOST_PUBLIC_ADDRESSES = {4: 2**24, 6: 2**96}
WHOLE_SPACE = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}
# Firewall policy rule actions that let traffic through (goto_next defers to the next level).
ALLOWING_ACTIONS = frozenset({"allow", "apply_security_profile_group"})
# Sources a firewall policy rule can name besides IP ranges (SDK: compute/_inputs.py, *RuleMatchArgs).
OTHER_POLICY_SOURCES = (
    "srcAddressGroups",
    "srcFqdns",
    "srcRegionCodes",
    "srcThreatIntelligences",
    "srcSecureTags",
    "srcNetworks",
)


def _public_addresses(network: IpNetwork) -> int:
    # Collapsed networks are disjoint and so are the NON_INTERNET blocks: CIDR blocks either nest or
    # do not meet, so the overlap of two is the smaller one or nothing.
    private = 0
    for block in NON_INTERNET:
        if block.version != network.version:
            continue
        if block.subnet_of(network):
            private += block.num_addresses
        elif network.subnet_of(block):
            private += network.num_addresses
    return network.num_addresses - private


def source_range_problems(ranges: Sequence[str]) -> Iterable[str]:
    """What is wrong with admitting the union of `ranges`."""
    parsed: dict[int, list[IpNetwork]] = {4: [], 6: []}
    for text in ranges:
        try:
            network = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            yield f"source range {text!r} is not an IP range"
            continue
        parsed[network.version].append(network)
    for version, networks in parsed.items():
        union = list(ipaddress.collapse_addresses(networks))
        if WHOLE_SPACE[version] in union:
            shown = ", ".join(sorted(str(n) for n in networks))
            yield f"ingress allowed from {shown}: together the whole IPv{version} internet; {ADVICE}"
            continue
        public = sum(_public_addresses(network) for network in union)
        if public > MOST_PUBLIC_ADDRESSES[version]:
            shown = ", ".join(str(n) for n in union)
            bound = "/8" if version == 4 else "/32"
            yield f"ingress allowed from {shown}: {public} public IPv{version} addresses, more than a {bound}; {ADVICE}"


def _firewall_problems(props: Props) -> Iterable[str]:
    if (props.get("direction") or "INGRESS") != "INGRESS" or not props.get("allows"):
        return
    ranges = list(props.get("sourceRanges") or [])
    if not ranges and not props.get("sourceTags") and not props.get("sourceServiceAccounts"):
        ranges = ["0.0.0.0/0"]  # what GCP applies when an ingress rule names no source
    yield from source_range_problems(ranges)


def _policy_rule_problems(rule: Mapping[str, Any]) -> Iterable[str]:
    if (rule.get("direction") or "INGRESS") != "INGRESS" or (rule.get("action") or "").lower() not in ALLOWING_ACTIONS:
        return
    match = rule.get("match") or {}
    ranges = list(match.get("srcIpRanges") or [])
    scope = match.get("srcNetworkScope") or match.get("srcNetworkContext") or ""
    named = any(match.get(key) for key in OTHER_POLICY_SOURCES) or scope not in ("", "INTERNET")
    if not ranges and not named:
        ranges = ["0.0.0.0/0", "::/0"]  # nothing narrows the rule: it matches every source
    yield from source_range_problems(ranges)


def firewall_no_world_ingress(resource_type: str, props: Props, config: Config) -> Iterable[str]:
    if resource_type == FIREWALL:
        yield from _firewall_problems(props)
    elif resource_type in FIREWALL_POLICIES_WITH_RULES:
        for index, rule in enumerate(props.get("rules") or []):
            yield from (f"rules[{index}]: {problem}" for problem in _policy_rule_problems(rule))
    else:
        yield from _policy_rule_problems(props)
