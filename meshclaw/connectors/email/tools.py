"""The email tools. Each asks for its account at call time and does its work through imap.py, or
sending.py for what goes out (once per idempotency key)."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, AccountError, Accounts
from meshclaw.connectors.email import imap, mime, sending
from meshclaw.connectors.email.args import (
    FLAGS,
    ArchiveArgs,
    DeleteArgs,
    DraftArgs,
    FlagArgs,
    ListFoldersArgs,
    MoveArgs,
    NotifyArgs,
    ReadArgs,
    ReplyArgs,
    SearchArgs,
    SendArgs,
)
from meshclaw.connectors.email.config import EmailConfig
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.idempotency import current_key
from meshclaw.tools.registry import ToolError, ToolSpec
from meshclaw.tools.result_view import ResultView

FOLDERS = ("folders",)
RECIPIENTS = ("recipient_domains",)


# What of a message the mail server or the parser writes: the sender's parsed address, never a header's
# free text (a display name, a subject, a date line are the sender's words).
EMAIL_VIEW = ResultView(fields=frozenset({"uid", "folder", "flags", "size", "sender", "content_type"}))


def tools(accounts: Accounts) -> list[ToolSpec]:
    async def account(name: str) -> Account[EmailConfig]:
        try:
            return await accounts.get("email", name, EmailConfig)
        except AccountError as error:
            # The model named an account it cannot use: a message it can act on, not a broken tool.
            raise ToolError(str(error)) from error

    async def list_folders(args: ListFoldersArgs) -> dict[str, Any]:
        config = (await account(args.account)).config
        folders = await imap.run(config, imap.list_folders, what="listing folders", retry=True)
        return {"folders": folders}

    async def search_messages(args: SearchArgs) -> dict[str, Any]:
        config = (await account(args.account)).config

        def job(client: Any) -> dict[str, Any]:
            total, uids = imap.search(client, args.folder, _criteria(args), limit=args.limit)
            found = imap.fetch_headers(client, uids)
            return {
                "folder": args.folder,
                "total": total,
                "messages": [mime.summary(uid, *found[uid]) for uid in uids if uid in found],
            }

        return await imap.run(config, job, what=f"searching '{args.folder}'", retry=True)

    async def read_message(args: ReadArgs) -> dict[str, Any]:
        config = (await account(args.account)).config

        def job(client: Any) -> imap.Fetched:
            return imap.fetch_message(client, args.folder, args.uid, max_bytes=config.max_fetch_bytes)

        fetched = await imap.run(config, job, what=f"reading UID {args.uid} in '{args.folder}'", retry=True)
        result = {"folder": args.folder, "uid": fetched.uid, "flags": list(fetched.flags)}
        result.update(mime.read(fetched.raw, size=fetched.size, max_chars=config.max_body_chars))
        return result

    async def flag_messages(args: FlagArgs) -> dict[str, Any]:
        if not (args.add or args.remove or args.add_keywords or args.remove_keywords):
            raise ToolError("give flags to add or to remove (seen, flagged, answered, draft) or keywords")
        config = (await account(args.account)).config

        def job(client: Any) -> dict[int, tuple[str, ...]]:
            return imap.change_flags(
                client,
                args.folder,
                args.uids,
                add=[FLAGS[flag] for flag in args.add] + args.add_keywords,
                remove=[FLAGS[flag] for flag in args.remove] + args.remove_keywords,
            )

        # Setting a flag twice is harmless, so a dropped connection may be retried.
        flags = await imap.run(config, job, what=f"flagging in '{args.folder}'", retry=True)
        return {"folder": args.folder, "flags": {str(uid): list(value) for uid, value in flags.items()}}

    async def move_messages(args: MoveArgs) -> dict[str, Any]:
        config = (await account(args.account)).config

        def job(client: Any) -> int:
            return imap.move(client, args.source_folder, args.target_folder, args.uids)

        # Not retried: after a cut MOVE the UIDs may already be gone from the source.
        moved = await imap.run(
            config, job, what=f"moving from '{args.source_folder}' to '{args.target_folder}'", retry=False
        )
        return {"moved": moved, "source_folder": args.source_folder, "target_folder": args.target_folder}

    async def archive_message(args: ArchiveArgs) -> dict[str, Any]:
        config = (await account(args.account)).config
        target = config.archive_folder

        def job(client: Any) -> int:
            return imap.move(client, args.folder, target, args.uids)

        moved = await imap.run(config, job, what=f"archiving from '{args.folder}' to '{target}'", retry=False)
        return {"archived": moved, "folder": args.folder, "archive_folder": target}

    async def delete_messages(args: DeleteArgs) -> dict[str, Any]:
        config = (await account(args.account)).config

        def job(client: Any) -> int:
            return imap.delete(client, args.folder, args.uids)

        deleted = await imap.run(config, job, what=f"deleting in '{args.folder}'", retry=False)
        return {"deleted": deleted, "folder": args.folder}

    async def save_draft(args: DraftArgs) -> dict[str, Any]:
        config = (await account(args.account)).config
        folder = args.folder
        key = current_key()
        message_id = mime.message_id_for(key, config.address)
        message = sending.build(
            config, to=args.to, cc=args.cc, bcc=args.bcc, subject=args.subject, body=args.body,
            message_id=message_id, keep_bcc=True, in_reply_to=args.in_reply_to, references=args.in_reply_to,
        )  # fmt: skip

        def job(client: Any) -> dict[str, Any]:
            # With a key, a repeat of the call finds the draft the first one saved.
            existing = imap.find_message_id(client, folder, message_id) if key is not None else []
            if existing:
                return {
                    "folder": folder,
                    "uid": existing[0],
                    "message_id": message_id,
                    "status": "already_saved",
                }
            uid = imap.append(client, folder, bytes(message), flags=["\\Draft", "\\Seen"])
            return {"folder": folder, "uid": uid, "message_id": message_id, "status": "saved"}

        # With a key the job looks before it appends, so repeating it after a dropped connection is safe.
        return await imap.run(config, job, what=f"saving a draft to '{folder}'", retry=key is not None)

    async def send_message(args: SendArgs) -> dict[str, Any]:
        config = (await account(args.account)).config
        return await sending.send_once(
            config, to=args.to, cc=args.cc, bcc=args.bcc, subject=args.subject, body=args.body
        )

    async def notify_owner(args: NotifyArgs) -> dict[str, Any]:
        config = (await account(args.account)).config
        # Always to the account's own address: there is no destination for a model or an email to choose.
        return await sending.send_once(
            config, to=[config.address], cc=[], bcc=[], subject=args.subject, body=args.body, automated=True
        )

    async def send_reply(args: ReplyArgs) -> dict[str, Any]:
        config = (await account(args.account)).config

        def job(client: Any) -> imap.Fetched:
            return imap.fetch_message(client, args.folder, args.uid, max_bytes=64_000)

        original = await imap.run(config, job, what=f"reading UID {args.uid} in '{args.folder}'", retry=True)
        thread = mime.reply_fields(mime.parse(original.raw))
        result = await sending.send_once(
            config, to=args.to, cc=args.cc, bcc=args.bcc, subject=str(thread["subject"]), body=args.body,
            in_reply_to=thread["in_reply_to"], references=thread["references"],
        )  # fmt: skip

        def mark_answered(client: Any) -> None:
            imap.change_flags(client, args.folder, [args.uid], add=["\\Answered"], remove=[])

        try:
            await imap.run(config, mark_answered, what="flagging the original as answered", retry=True)
        except ToolError as error:
            result["note"] = f"sent, but the original was not flagged as answered: {error}"
        return result

    return [
        ToolSpec(
            name="email_list_folders",
            description="List the mailbox's folders with their message and unseen counts.",
            effect=EffectClass.READ_PRIVATE,
            args=ListFoldersArgs,
            function=list_folders,
            origin="email",
        ),
        ToolSpec(
            name="email_search_messages",
            description=(
                "Search a folder by sender, subject, text, dates and flags; returns the newest matches' UIDs, "
                "senders, subjects and dates (written by outsiders)."
            ),
            effect=EffectClass.READ_UNTRUSTED,
            view=EMAIL_VIEW,
            args=SearchArgs,
            function=search_messages,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_read_message",
            description=(
                "Read one message by UID: headers, plain-text body (cut at a limit, with a note), and its "
                "attachments listed by name, type and size. The content is written by outsiders."
            ),
            effect=EffectClass.READ_UNTRUSTED,
            view=EMAIL_VIEW,
            args=ReadArgs,
            function=read_message,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_flag_messages",
            description="Set or clear flags (seen, flagged, answered, draft) on messages in a folder.",
            effect=EffectClass.WRITE_INTERNAL,
            args=FlagArgs,
            function=flag_messages,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_move_messages",
            description="Move messages from one folder to another existing folder (e.g. INBOX to Archive).",
            effect=EffectClass.WRITE_INTERNAL,
            args=MoveArgs,
            function=move_messages,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_archive_message",
            description=(
                "Move messages from a folder to the account's archive folder (a grant scoped to the source "
                "folder allows archiving without allowing moves anywhere)."
            ),
            effect=EffectClass.WRITE_INTERNAL,
            args=ArchiveArgs,
            function=archive_message,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_delete_messages",
            description="Delete messages from a folder for good (not to Trash); it cannot be undone.",
            effect=EffectClass.DESTRUCTIVE,
            args=DeleteArgs,
            function=delete_messages,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_save_draft",
            description="Save a plain-text message as a draft in the drafts folder, without sending it.",
            effect=EffectClass.WRITE_INTERNAL,
            args=DraftArgs,
            function=save_draft,
            scopes=FOLDERS,
            origin="email",
        ),
        ToolSpec(
            name="email_notify_owner",
            description=(
                "Send a plain-text note to the account's own address (a digest, a status): it reaches no one "
                "else, so it is not external communication."
            ),
            effect=EffectClass.WRITE_INTERNAL,
            args=NotifyArgs,
            function=notify_owner,
            origin="email",
        ),
        ToolSpec(
            name="email_send_message",
            description="Send a new plain-text email to `to`, `cc` and `bcc`; a copy is kept in Sent.",
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=SendArgs,
            function=send_message,
            scopes=RECIPIENTS,
            origin="email",
        ),
        ToolSpec(
            name="email_send_reply",
            description=(
                "Reply to a message by UID: 'Re:' subject and threading headers (In-Reply-To, References) "
                "are set from the original, which is flagged answered; a copy is kept in Sent."
            ),
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=ReplyArgs,
            function=send_reply,
            scopes=(*FOLDERS, *RECIPIENTS),
            origin="email",
            # The answer quotes the reply's subject, "Re:" and the original's subject as its sender wrote
            # it: replying taints the run like reading the message would.
            returns_untrusted=True,
            view=EMAIL_VIEW,
        ),
    ]


def _criteria(args: SearchArgs) -> list[Any]:
    criteria: list[Any] = []
    for name, value in (("FROM", args.sender), ("SUBJECT", args.subject), ("TEXT", args.text)):
        if value:
            criteria += [name, value]
    if args.since:
        criteria += ["SINCE", args.since]
    if args.before:
        criteria += ["BEFORE", args.before]
    if args.keyword:
        criteria += ["KEYWORD", args.keyword]
    if args.without_keyword:
        criteria += ["UNKEYWORD", args.without_keyword]
    if args.unseen_only:
        criteria.append("UNSEEN")
    if args.flagged_only:
        criteria.append("FLAGGED")
    return criteria
