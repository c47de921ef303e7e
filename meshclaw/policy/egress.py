"""The organization's egress allowlist: which domains and URLs data may go to without a person's approval.

Internal domains (the organization's own, by default the mail domains of its people) and the domains an
admin added are allowed for every agent; URL prefixes narrow a domain to some paths
(`https://hooks.example.com/ci/`). A subdomain of an allowed domain is allowed (`mail.example.com` under
`example.com`); a look-alike is not (`example.com.evil.io`, `evilexample.com`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshclaw.policy.destinations import Destination


@dataclass(frozen=True, kw_only=True)
class EgressAllowlist:
    internal_domains: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    allowed_url_prefixes: tuple[str, ...] = field(default=())

    def allows(self, destination: Destination) -> bool:
        domain = destination.domain
        if domain is None:
            return False
        if destination.kind == "url":
            if any(destination.value.startswith(prefix) for prefix in self.allowed_url_prefixes):
                return True
            if not destination.value.lower().startswith(("https://", "http://")):
                return False
        return _under(domain, self.internal_domains) or _under(domain, self.allowed_domains)

    def is_internal(self, destination: Destination) -> bool:
        return destination.domain is not None and _under(destination.domain, self.internal_domains)


def _under(domain: str, allowed: frozenset[str]) -> bool:
    return any(domain == base or domain.endswith("." + base) for base in allowed)
