"""Owns notifications to people: short messages about their own things (a run of theirs went over budget,
a kill switch stopped their agents, later an approval waiting for them), listed on /notifications with an
unread count in the navigation and under GET /api/v1/notifications.

- `store`: `notify` (written in the caller's transaction, so a notification exists exactly when the thing
  it reports committed), the reads, and marking read.

Deliberately small: no channels (email, chat) yet; a sink can read the table later.
"""
