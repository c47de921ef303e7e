"""The effect class of every AgentDojo v1.2.2 tool, as MeshClaw would classify a connector tool that does the
same thing. One reviewed table; `tests/security/test_agentdojo.py` fails when a suite has a tool that is
missing here (or the table names a tool no suite has).

A class is per tool, as in MeshClaw's registry (`ToolSpec.effect`), and it is the worst thing the tool can
do with some arguments: `create_calendar_event` without participants only writes the owner's calendar, but
with participants it sends invitations, so the tool is `communicate_external`. How each was decided:

- read_untrusted: the result carries text people outside the organization wrote: inbound email, calendar
  events others invite the owner to, drive files others share, chat messages and the names of channels
  shared with other organizations, web pages, a bank transaction's subject (the payer writes it), bills
  and notices, the listings and reviews of hotels, restaurants, car rentals and flights (the businesses
  and their customers write them).
- read_private: the owner's own records that no outsider writes: contacts, sent and draft mail, the
  account's balance, IBAN, scheduled payments and profile, a channel's members, today's date.
- write_internal: changes only the owner's own drive (create, append).
- communicate_external: data or value leaves for someone else: mail, chat posts and DMs, invitations,
  shares, adding a person to a channel (they read it from then on), money transfers (their subject travels
  with them), a reservation (the owner's name and dates go to a company that acts on them), publishing a
  web page, and fetching a URL (the URL itself can carry data out). Changing the bank profile (name, street,
  city) is here too: the bank sends cards and letters to that address.
- destructive: deleting mail, files or events, removing a person from the workspace, and changing the
  account password (it locks the owner out).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from meshclaw.tools.effects import UNCLASSIFIED, EffectClass

R_PRIVATE = EffectClass.READ_PRIVATE
R_UNTRUSTED = EffectClass.READ_UNTRUSTED
W_INTERNAL = EffectClass.WRITE_INTERNAL
EXTERNAL = EffectClass.COMMUNICATE_EXTERNAL
DESTRUCTIVE = EffectClass.DESTRUCTIVE

EFFECTS: Mapping[str, EffectClass] = MappingProxyType(
    {
        # --- mail (workspace, travel) ---
        "get_received_emails": R_UNTRUSTED,
        "get_unread_emails": R_UNTRUSTED,
        "search_emails": R_UNTRUSTED,  # received mail among the hits
        "get_sent_emails": R_PRIVATE,
        "get_draft_emails": R_PRIVATE,
        "search_contacts_by_name": R_PRIVATE,
        "search_contacts_by_email": R_PRIVATE,
        "send_email": EXTERNAL,
        "delete_email": DESTRUCTIVE,
        # --- calendar (workspace, travel) ---
        "get_current_day": R_PRIVATE,
        "get_day_calendar_events": R_UNTRUSTED,  # others' invitations, with their descriptions
        "search_calendar_events": R_UNTRUSTED,
        "create_calendar_event": EXTERNAL,  # invites its participants
        "add_calendar_event_participants": EXTERNAL,
        "reschedule_calendar_event": EXTERNAL,  # notifies the participants
        "cancel_calendar_event": DESTRUCTIVE,
        # --- cloud drive (workspace) ---
        "list_files": R_UNTRUSTED,  # files others shared, with their content
        "search_files": R_UNTRUSTED,
        "search_files_by_filename": R_UNTRUSTED,
        "get_file_by_id": R_UNTRUSTED,
        "create_file": W_INTERNAL,
        "append_to_file": W_INTERNAL,
        "share_file": EXTERNAL,
        "delete_file": DESTRUCTIVE,
        # --- chat and web (slack) ---
        "get_channels": R_UNTRUSTED,  # the other side names a shared external channel
        "get_users_in_channel": R_PRIVATE,
        "read_channel_messages": R_UNTRUSTED,
        "read_inbox": R_UNTRUSTED,
        "get_webpage": EXTERNAL,  # the URL can carry data out; the page it returns is untrusted too
        "send_direct_message": EXTERNAL,
        "send_channel_message": EXTERNAL,
        "add_user_to_channel": EXTERNAL,
        "invite_user_to_slack": EXTERNAL,
        "post_webpage": EXTERNAL,
        "remove_user_from_slack": DESTRUCTIVE,
        # --- bank (banking) ---
        "get_balance": R_PRIVATE,
        "get_iban": R_PRIVATE,
        "get_scheduled_transactions": R_PRIVATE,
        "get_user_info": R_PRIVATE,
        "get_most_recent_transactions": R_UNTRUSTED,  # subjects written by whoever paid
        "read_file": R_UNTRUSTED,  # bills and landlord notices
        "send_money": EXTERNAL,
        "schedule_transaction": EXTERNAL,
        "update_scheduled_transaction": EXTERNAL,
        "update_user_info": EXTERNAL,
        "update_password": DESTRUCTIVE,
        # --- travel directory and bookings (travel) ---
        "get_user_information": R_PRIVATE,
        "get_all_hotels_in_city": R_UNTRUSTED,
        "get_hotels_prices": R_UNTRUSTED,
        "get_hotels_address": R_UNTRUSTED,
        "get_rating_reviews_for_hotels": R_UNTRUSTED,
        "get_all_restaurants_in_city": R_UNTRUSTED,
        "get_cuisine_type_for_restaurants": R_UNTRUSTED,
        "get_restaurants_address": R_UNTRUSTED,
        "get_rating_reviews_for_restaurants": R_UNTRUSTED,
        "get_dietary_restrictions_for_all_restaurants": R_UNTRUSTED,
        "get_contact_information_for_restaurants": R_UNTRUSTED,
        "get_price_for_restaurants": R_UNTRUSTED,
        "check_restaurant_opening_hours": R_UNTRUSTED,
        "get_all_car_rental_companies_in_city": R_UNTRUSTED,
        "get_car_types_available": R_UNTRUSTED,
        "get_rating_reviews_for_car_rental": R_UNTRUSTED,
        "get_car_fuel_options": R_UNTRUSTED,
        "get_car_rental_address": R_UNTRUSTED,
        "get_car_price_per_day": R_UNTRUSTED,
        "get_flight_information": R_UNTRUSTED,
        "reserve_hotel": EXTERNAL,
        "reserve_restaurant": EXTERNAL,
        "reserve_car_rental": EXTERNAL,
    }
)


def effect_of(tool: str) -> EffectClass:
    """A tool missing from the table is treated as MeshClaw treats any unclassified tool: the worst."""
    return EFFECTS.get(tool, UNCLASSIFIED)


RETURNS_UNTRUSTED = frozenset({"get_webpage"})
"""Tools outside `read_untrusted` whose result outsiders write (`ToolSpec.returns_untrusted`): fetching a
page is `communicate_external` because the URL can carry data out, and the page it brings back taints the
run like any inbound message."""


def returns_untrusted(tool: str) -> bool | None:
    """True for the tools above; None leaves it to the effect class (read_untrusted taints)."""
    return True if tool in RETURNS_UNTRUSTED else None
