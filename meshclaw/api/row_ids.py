"""Row ids in request paths and bodies: positive and within BIGINT, checked before a handler runs.

FastAPI and pydantic take any decimal for an `int`, and an id no row can have (`/agents/99999999999999999999`,
`{"team_id": 18446744073709551616}`) reached the database, whose driver refused it (SQLite: OverflowError;
PostgreSQL: out of range): a 500, and on the webhook path one any caller could provoke. Validated here, it
is a 422 that names the parameter or field. tests/web/test_out_of_range_ids.py and tests/api/
test_id_bounds.py walk every route and request body, so a new one cannot miss it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from meshclaw.db.row_ids import MAX_ROW_ID, row_id_of
from meshclaw.errors import InvalidInputError

_DESCRIPTION = "A row id: a positive 64-bit integer"

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description=_DESCRIPTION)]
"""A path parameter."""
RowIdField = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""A request body's field (`RowIdField | None` where it is optional)."""
RowIdQuery = Annotated[int, Query(ge=1, le=MAX_ROW_ID, description=_DESCRIPTION)]
"""A query parameter (`RowIdQuery | None = None` where it is optional)."""


def parse_row_id(text: str, field: str) -> int:
    """An id typed into a form or given as text (a kill switch's target): the same bounds as `RowId`, as
    an InvalidInputError naming `field`."""
    value = row_id_of(text.strip())
    if value is None:
        raise InvalidInputError(f"{field} must be an id: a whole number from 1 to {MAX_ROW_ID}", field=field)
    return value
