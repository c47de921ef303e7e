"""A comparable picture of the identity tables, to prove that a refused request changed nothing.

`last_used_at` on API keys is left out on purpose: authenticating a request stamps the caller's key even
when the request is then refused, and that is bookkeeping, not a change the caller asked for.
"""

from __future__ import annotations

from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import (
    ApiKey,
    Budget,
    ClarityFlag,
    ClaritySettings,
    ModelPrice,
    Organization,
    Provider,
    Team,
    User,
)

State = dict[str, list[tuple[object, ...]]]


def identity_state(context: AppContext) -> State:
    with context.db.session() as session:
        return {
            "organizations": [
                tuple(row) for row in session.execute(select(Organization.id, Organization.name))
            ],
            "teams": [
                tuple(row)
                for row in session.execute(select(Team.id, Team.name, Team.parent_id).order_by(Team.id))
            ],
            "users": [
                tuple(row)
                for row in session.execute(
                    select(
                        User.id,
                        User.email,
                        User.name,
                        User.role,
                        User.team_id,
                        User.manager_id,
                        User.active,
                        User.password_hash,
                    ).order_by(User.id)
                )
            ],
            "api_keys": [
                tuple(row)
                for row in session.execute(
                    select(
                        ApiKey.id,
                        ApiKey.name,
                        ApiKey.owner_user_id,
                        ApiKey.scopes,
                        ApiKey.expires_at,
                        ApiKey.revoked_at,
                    ).order_by(ApiKey.id)
                )
            ],
            # Not identity, but an admin-only table the authorization matrix changes (POST /prices).
            "model_prices": [
                tuple(row)
                for row in session.execute(select(ModelPrice.id, ModelPrice.model).order_by(ModelPrice.id))
            ],
            # Admin-only too (POST, PATCH, DELETE /providers).
            "providers": [
                tuple(row)
                for row in session.execute(
                    select(
                        Provider.id,
                        Provider.name,
                        Provider.base_url,
                        Provider.api_key_env,
                        Provider.models,
                        Provider.enabled,
                    ).order_by(Provider.id)
                )
            ],
            # Changed by admins (PUT /clarity/settings) and reviewers (POST /clarity/flags/{id}/review).
            "clarity_settings": [
                tuple(row)
                for row in session.execute(
                    select(ClaritySettings.org_id, ClaritySettings.weekly_goal).order_by(ClaritySettings.id)
                )
            ],
            "clarity_flags": [
                tuple(row)
                for row in session.execute(
                    select(ClarityFlag.id, ClarityFlag.status, ClarityFlag.review_note).order_by(
                        ClarityFlag.id
                    )
                )
            ],
            # Admin-only too (POST, DELETE /budgets).
            "budgets": [
                tuple(row)
                for row in session.execute(
                    select(
                        Budget.id, Budget.subject_type, Budget.subject_id, Budget.unit, Budget.amount
                    ).order_by(Budget.id)
                )
            ],
        }


def counts(context: AppContext) -> tuple[int, int]:
    """(users, teams): what an all-or-nothing import must leave alone when it rejects a file."""
    state = identity_state(context)
    return len(state["users"]), len(state["teams"])
