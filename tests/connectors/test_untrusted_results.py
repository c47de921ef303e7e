"""Every tool the platform registers, and whether what it returns taints the run (`ToolSpec.untrusted_result`).

A tool taints when its answer can carry text that an outsider, or any person other than the owner, wrote:
a message, a subject, a topic, a calendar name, a line of build output. The table names every tool with
the reason for its answer, so a new tool fails here until someone has made that decision and written down
why.
"""

from __future__ import annotations

from meshclaw.accounts.tools import catalog_registry

TAINTS: dict[str, tuple[bool, str]] = {
    # calendar
    "calendar_list_calendars": (True, "a calendar shared with the owner keeps the name its sharer gave it"),
    "calendar_list_events": (True, "anyone can send an invite: title, description, location, attendees"),
    "calendar_get_freebusy": (False, "busy intervals and a count of unreadable events, no event text"),
    "calendar_create_event": (False, "the uid, and the arguments the call itself gave"),
    "calendar_create_meeting": (False, "the uid, and the arguments the call itself gave"),
    # deploy
    # Not tainting, a judgement call: a command target's `detail` ends with the output of the deploy
    # command an admin configured (the organization's own script), which could echo commit messages.
    # Tainting it would hold every status post of a deployment watch after a rollback for a person.
    "deploy_start_release": (False, "ours: a status, the target's id and the admin's deploy command output"),
    "deploy_rollback_release": (False, "as deploy_start_release"),
    "deploy_watch_release": (False, "numbers the watch measured and notes it wrote"),
    "deploy_get_status": (False, "an id, a checked version and one of three states"),
    # email
    "email_list_folders": (False, "folder names and counts of the owner's own mailbox"),
    "email_search_messages": (True, "senders and subjects of inbound mail"),
    "email_read_message": (True, "inbound mail: headers and body"),
    "email_flag_messages": (False, "uids and flags"),
    "email_move_messages": (False, "a count and the folders the call named"),
    "email_archive_message": (False, "a count and folder names"),
    "email_delete_messages": (False, "a count and the folder the call named"),
    "email_save_draft": (False, "the folder, a uid and our own Message-ID"),
    "email_notify_owner": (False, "our own Message-ID and the subject the call gave"),
    "email_send_message": (False, "our own Message-ID and the subject the call gave"),
    "email_send_reply": (True, "the reply's subject is the original's, as its sender wrote it"),
    # matrix
    "matrix_list_rooms": (True, "room names and topics are set by any member"),
    "matrix_read_messages": (True, "messages others wrote"),
    "matrix_post_message": (False, "the room id and our event id"),
    "matrix_add_reaction": (False, "the room id and an event id"),
    "matrix_open_dm": (False, "a room id and whether it was created"),
    "matrix_notify_owner": (False, "the room id and our event id"),
    # slack
    "slack_list_channels": (True, "channel topics are set by any member, a shared channel's guests too"),
    "slack_read_channel_history": (True, "messages others wrote"),
    "slack_read_thread_replies": (True, "messages others wrote"),
    "slack_read_direct_messages": (True, "messages others wrote"),
    "slack_read_bot_mentions": (True, "messages others wrote"),
    "slack_post_message": (False, "the channel id and our message's ts"),
    "slack_reply_thread": (False, "the channel id and our message's ts"),
    "slack_notify_owner": (False, "the channel id and our message's ts"),
    "slack_add_reaction": (False, "the channel, the message's ts and the reaction the call gave"),
    # webhook
    "webhook_send_request": (True, "the start of the response body, which the receiving server wrote"),
    # built-in
    "time_get_now": (False, "the clock"),
}


def test_every_registered_tool_has_a_recorded_taint_decision() -> None:
    registered = {tool.name for tool in catalog_registry()}
    assert sorted(registered - TAINTS.keys()) == [], "decide whether these tools' answers taint a run"
    assert sorted(TAINTS.keys() - registered) == [], "these tools are gone: drop them from the table"


def test_each_tool_taints_as_the_table_says() -> None:
    actual = {tool.name: tool.untrusted_result for tool in catalog_registry()}
    expected = {name: taints for name, (taints, _) in TAINTS.items()}
    assert actual == expected
