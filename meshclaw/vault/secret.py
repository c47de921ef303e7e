"""`SecretValue`: a decrypted secret that does not print.

`repr`, `str` and f-strings show asterisks, so a secret that ends up in a log call, an exception message,
a template or a debugger's variable view shows nothing. `reveal()` is the one way to the value; grep for
it to find every place a secret is used (the connector layer, when it authenticates to a remote system).
"""

from __future__ import annotations

from typing import Final

MASK: Final = "**********"


class SecretValue:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plaintext. Only the connector layer calls this, right where it authenticates."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str:
        # Pickling would write the plaintext into a cache, a queue or a crash dump.
        raise TypeError("a SecretValue cannot be pickled")
