"""The platform's `Accounts`: a connector's tool asks for an account by name, and gets it only if the
agent making the call may act through it.

The policy gate has already checked that one of the agent's grants names the account; this is the second
lock, against a grant written before the account changed hands: the account must exist, be enabled, be of
the tool's connector and belong to the agent's owner or to the organization.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from meshclaw.accounts.store import find_account, open_account, usable_by
from meshclaw.connectors.contract import Account, AccountError, ConfigT
from meshclaw.db.engine import Database
from meshclaw.db.models.identity import User
from meshclaw.tools import caller as callers
from meshclaw.vault.store import Vault


@dataclass(kw_only=True)
class DatabaseAccounts:
    db: Database
    data_dir: Path

    async def get(self, connector: str, name: str, config: type[ConfigT]) -> Account[ConfigT]:
        caller = callers.current()
        if caller is None:
            raise AccountError(f"the {connector} account '{name}' can only be used inside an agent's run")
        account = await asyncio.to_thread(self._open, connector, name, caller.owner_user_id)
        if not isinstance(account.config, config):
            raise AccountError(f"account '{name}' is not configured as {config.__name__}")
        return cast(Account[ConfigT], account)

    def _open(self, connector: str, name: str, owner_user_id: int) -> Account[Any]:
        with self.db.session() as session:
            owner = session.get(User, owner_user_id)
            row = find_account(session, owner.org_id, name) if owner is not None else None
            if row is None or row.connector != connector:
                raise AccountError(f"no {connector} account named '{name}'")
            if not usable_by(row, owner_user_id):
                state = "is switched off" if not row.enabled else "belongs to someone else"
                raise AccountError(f"the {connector} account '{name}' {state}")
            return open_account(session, Vault.for_data_dir(self.data_dir), row)
