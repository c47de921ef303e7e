"""The calendar connector: CalDAV calendars (Radicale, Nextcloud, Fastmail, iCloud...) through `caldav`.

It reads events in a time range with recurrences expanded, answers free/busy and "is the owner in a meeting
now?" with one rule for what blocks time (`busy.py`), creates events exactly once (the event's UID comes
from the call's idempotency key), and polls for meetings starting and events appearing (`events.py`).

Files: `config.py` the account, `client.py` the only code that speaks CalDAV, `ical.py` parsing and writing
iCalendar, `agenda.py` the occurrences of an account's calendars in a range, `busy.py` what counts as
busy, `tools.py` the tools, `events.py` the poll, `conditions.py` the `owner_in_meeting` trigger
condition, `manifest.py` the connector.
"""
