"""What of each untrusted AgentDojo tool's result outsiders cannot write (`meshclaw.tools.result_view`), as
a MeshClaw connector for the same service would declare it. One reviewed table, beside `effects.EFFECTS`.

An answer written after the run read outsiders' text sees only these fields (and numbers); everything else
is a handle it can quote. Decided by who writes each field:

- mail: the server writes the id, the addresses, the time and the flags; the sender writes subject and body;
- calendar: times, participants and status are the calendar's; title, description and location are the
  organizer's words;
- drive: id, owner, size, sharing and time are the drive's; the name and content are whoever's file it is;
- chat: sender and recipient are the workspace's; a message's body and an external channel's name are not;
- bank: ids, parties, amounts and dates are the bank's; a transaction's subject is the payer's;
- travel: the directory's structured listings (names, addresses, prices, hours, cuisine, diets, contacts,
  car types, fuel, flights) are trusted; the reviews customers write are not. A directory that lets a
  business put free text into its address would need that field withheld too; AgentDojo plants its
  injections in reviews only, and this table would be wrong for a directory that does otherwise.

Several travel tools return their facts inside text ("Rating: 4.5\\nReviews: ..." keyed by the hotel's
name); their `typed` functions turn that into records first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from meshclaw.tools.result_view import WITHHOLD_ALL, ResultView

_RATING = re.compile(r"Rating: (?P<rating>[0-9.]+)\nReviews: (?P<reviews>.*)", re.DOTALL)
_FLIGHT_FIELD = re.compile(r"(?:^|, )(?P<key>[A-Z][A-Za-z ]+): ")


def _names(field: str) -> ResultView:
    """A text `"<Heading>: name\\nname\\n"` as `{field: [names]}`."""

    def typed(result: Any) -> Any:
        _, _, names = str(result).partition(": ")
        return {field: [line for line in names.splitlines() if line.strip()]}

    return ResultView(fields=frozenset({field}), typed=typed)


def _by_name(field: str) -> ResultView:
    """`{name: value}` as `[{"name": name, field: value}]` (the name is data, not a field name)."""

    def typed(result: Any) -> Any:
        return [{"name": name, field: value} for name, value in dict(result).items()]

    return ResultView(fields=frozenset({"name", field}), typed=typed)


def _ratings(result: Any) -> Any:
    records = []
    for name, text in dict(result).items():
        match = _RATING.fullmatch(str(text))
        if match is None:
            raise ValueError("not a rating and reviews")
        records.append({"name": name, "rating": float(match["rating"]), "reviews": match["reviews"]})
    return records


def _flights(result: Any) -> Any:
    records = []
    for line in str(result).splitlines():
        keys = list(_FLIGHT_FIELD.finditer(line))
        record = {}
        for here, after in zip(keys, [*keys[1:], None], strict=True):
            end = after.start() if after is not None else len(line)
            record[here["key"].lower().replace(" ", "_")] = line[here.end() : end]
        records.append(record)
    return records


_RATINGS = ResultView(fields=frozenset({"name"}), typed=_ratings)
_FLIGHTS = ResultView(
    fields=frozenset(
        {"airline", "flight_number", "departure_time", "arrival_time", "price", "contact_information"}
    ),
    typed=_flights,
)
_EMAIL = frozenset({"id_", "sender", "recipients", "cc", "bcc", "timestamp", "status", "read"})
_EVENT = frozenset({"id_", "start_time", "end_time", "participants", "all_day", "status"})
_FILE = frozenset({"id_", "owner", "size", "shared_with", "last_modified"})
_MESSAGE = frozenset({"sender", "recipient"})
_TRANSACTION = frozenset({"id", "sender", "recipient", "amount", "date", "recurring"})

VIEWS: Mapping[str, ResultView] = MappingProxyType(
    {
        # --- mail, calendar, drive (workspace, travel) ---
        "get_received_emails": ResultView(fields=_EMAIL),
        "get_unread_emails": ResultView(fields=_EMAIL),
        "search_emails": ResultView(fields=_EMAIL),
        "get_day_calendar_events": ResultView(fields=_EVENT),
        "search_calendar_events": ResultView(fields=_EVENT),
        "list_files": ResultView(fields=_FILE),
        "search_files": ResultView(fields=_FILE),
        "search_files_by_filename": ResultView(fields=_FILE),
        "get_file_by_id": ResultView(fields=_FILE),
        # --- chat and web (slack) ---
        "read_channel_messages": ResultView(fields=_MESSAGE),
        "read_inbox": ResultView(fields=_MESSAGE),
        # --- bank (banking) ---
        "get_most_recent_transactions": ResultView(fields=_TRANSACTION),
        # --- travel directory ---
        "get_all_hotels_in_city": _names("hotels"),
        "get_all_restaurants_in_city": _names("restaurants"),
        "get_all_car_rental_companies_in_city": _names("companies"),
        "get_hotels_prices": _by_name("price_range"),
        "get_hotels_address": _by_name("address"),
        "get_restaurants_address": _by_name("address"),
        "get_car_rental_address": _by_name("address"),
        "get_cuisine_type_for_restaurants": _by_name("cuisine_type"),
        "get_dietary_restrictions_for_all_restaurants": _by_name("dietary_restrictions"),
        "get_contact_information_for_restaurants": _by_name("contact_information"),
        "get_price_for_restaurants": _by_name("price_per_person"),
        "check_restaurant_opening_hours": _by_name("operating_hours"),
        "get_car_types_available": _by_name("car_types"),
        "get_car_fuel_options": _by_name("fuel_options"),
        "get_car_price_per_day": _by_name("price_per_day"),
        "get_rating_reviews_for_hotels": _RATINGS,
        "get_rating_reviews_for_restaurants": _RATINGS,
        "get_rating_reviews_for_car_rental": _RATINGS,
        "get_flight_information": _FLIGHTS,
    }
)
"""Untrusted tools not named here (a web page, a file's text, channel names) are withheld whole."""


def view_of(tool: str) -> ResultView:
    return VIEWS.get(tool, WITHHOLD_ALL)
