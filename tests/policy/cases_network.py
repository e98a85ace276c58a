"""Cases for the firewall policy: VPC firewall rules and firewall policy rules, sources compared as
address sets."""

from __future__ import annotations

import guardrail

from tests.policy.resources import DELETE, Base, Case, with_changes

NETWORK_POLICY_RULE = "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule"
HALVES = ["0.0.0.0/1", "128.0.0.0/1"]

FIREWALL = Base("firewall", guardrail.FIREWALL)
FIREWALL_NO_DIRECTION = Base("firewall, direction unset", guardrail.FIREWALL, derive=with_changes(direction=DELETE))
FIREWALL_BY_TAG = Base(
    "firewall, source tags", guardrail.FIREWALL, derive=with_changes(sourceRanges=DELETE, sourceTags=["bastion"])
)
FIREWALL_BY_SERVICE_ACCOUNT = Base(
    "firewall, source service accounts",
    guardrail.FIREWALL,
    derive=with_changes(
        sourceRanges=DELETE, sourceServiceAccounts=["bastion@mlops-course-123.iam.gserviceaccount.com"]
    ),
)
FIREWALL_EGRESS = Base(
    "firewall, egress",
    guardrail.FIREWALL,
    derive=with_changes(sourceRanges=DELETE, direction="EGRESS", destinationRanges=["10.0.0.0/8"]),
)
FIREWALL_DENY = Base(
    "firewall, deny rule",
    guardrail.FIREWALL,
    derive=lambda rule: {("denies" if k == "allows" else k): v for k, v in rule.items()},
)
POLICY_RULE = Base("network firewall policy rule", NETWORK_POLICY_RULE)
POLICY_RULE_BY_FQDN = Base(
    "network firewall policy rule, FQDN source",
    NETWORK_POLICY_RULE,
    derive=with_changes(match__srcIpRanges=DELETE, match__srcFqdns=["github.com"]),
)
POLICY_RULE_INTRA_VPC = Base(
    "network firewall policy rule, intra-VPC",
    NETWORK_POLICY_RULE,
    derive=with_changes(match__srcIpRanges=DELETE, match__srcNetworkScope="INTRA_VPC"),
)
POLICY_RULE_WORLD_DENY = Base(
    "network firewall policy rule, world deny",
    NETWORK_POLICY_RULE,
    derive=with_changes(action="deny", match__srcIpRanges=["0.0.0.0/0"]),
)
REGION_POLICY_RULE = Base(
    "regional firewall policy rule", "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule"
)
HIERARCHICAL_POLICY_RULE = Base(
    "hierarchical firewall policy rule", "gcp:compute/firewallPolicyRule:FirewallPolicyRule"
)
POLICY_WITH_RULES = Base(
    "network firewall policy with rules", "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules"
)

NEGATIVE_CASES: list[Case] = [
    # World: 0.0.0.0/0, ::/0, pieces that add up to it, more than a /8 (/32) of public addresses,
    # or no source at all; an unset direction is ingress.
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["::/0"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", HALVES),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["::/1", "8000::/1"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["0.0.0.0/7"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["11.0.0.0/8", "12.0.0.0/8"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["2001:db8::/31"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["35.235.240.0/20", "not-a-range"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", DELETE),
    ("firewall-no-world-ingress", FIREWALL_NO_DIRECTION, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL_BY_TAG, "sourceTags", DELETE),
    ("firewall-no-world-ingress", FIREWALL_BY_SERVICE_ACCOUNT, "sourceServiceAccounts", DELETE),
    ("firewall-no-world-ingress", FIREWALL_BY_TAG, "sourceRanges", HALVES),  # tags and ranges: either matches
    ("firewall-no-world-ingress", POLICY_RULE, "match.srcIpRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", POLICY_RULE, "match.srcIpRanges", ["::/0"]),
    ("firewall-no-world-ingress", POLICY_RULE, "match.srcIpRanges", HALVES),
    ("firewall-no-world-ingress", POLICY_RULE, "match.srcIpRanges", DELETE),
    ("firewall-no-world-ingress", POLICY_RULE_BY_FQDN, "match.srcFqdns", DELETE),
    ("firewall-no-world-ingress", POLICY_RULE_INTRA_VPC, "match.srcNetworkScope", "INTERNET"),
    ("firewall-no-world-ingress", POLICY_RULE_WORLD_DENY, "action", "allow"),
    ("firewall-no-world-ingress", POLICY_RULE_WORLD_DENY, "action", "apply_security_profile_group"),
    ("firewall-no-world-ingress", REGION_POLICY_RULE, "match.srcIpRanges", HALVES),
    ("firewall-no-world-ingress", HIERARCHICAL_POLICY_RULE, "match.srcIpRanges", HALVES),
    ("firewall-no-world-ingress", POLICY_WITH_RULES, "rules.0.match.srcIpRanges", HALVES),
]

ALLOWED_CASES: list[Case] = [
    ("firewall-no-world-ingress", FIREWALL_EGRESS, "destinationRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL_DENY, "sourceRanges", ["0.0.0.0/0"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["35.235.240.0/20", "35.191.0.0/16", "130.211.0.0/22"]),
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["11.0.0.0/8"]),  # exactly the bound
    ("firewall-no-world-ingress", FIREWALL, "sourceRanges", ["2600:2d00:1:7::/64"]),
    ("firewall-no-world-ingress", POLICY_RULE_WORLD_DENY, "action", "goto_next"),
    ("firewall-no-world-ingress", POLICY_RULE_WORLD_DENY, "direction", "EGRESS"),
    ("firewall-no-world-ingress", POLICY_RULE_INTRA_VPC, "match.srcNetworkScope", "NON_INTERNET"),
    ("firewall-no-world-ingress", POLICY_RULE, "match.srcIpRanges", ["10.10.0.0/24"]),
]
