"""Owns Clarity: what AI use achieves, read from metering's rollups and events. Adoption against a goal,
usage and cost (effective tokens, month-end forecast), outcomes and value per token, privacy-aware
leaderboards ranked by outcomes (never by tokens), and weekly tokenmaxxing detection with reviews.

A services layer: it sits above the core packages (it reads `metering`'s tables and asks `identity` who
may see what) and below the interfaces (`api`, `web`, `cli` shape its answers).

The detector, for the organization simulator and benchmarks::

    from meshclaw.clarity.detector import detect_flags
    from meshclaw.clarity.flags import Flag, Signal

    flags: list[Flag] = detect_flags(session, week_start)

`week_start` is a `date` (any day: it is moved back to that week's Monday, weeks run Monday 00:00 UTC to
the next Monday). The function only reads: it scores every person and every agent with usage in the week
and returns the flags (subject, kind `person|agent`, score, signals with value and peer baseline,
explanation, evidence links), most suspicious first. It leaves out subjects whose same pattern a
reviewer dismissed before; storing them for review, and reviews, are `meshclaw.clarity.flag_store`.

Modules: `measures` (effective tokens and value units, the shared yardsticks), `adoption`, `costs`,
`forecast`, `outcomes`, `leaderboard`, `reactivity` (team level), `features`/`signals`/`scoring`/`detector`
(tokenmaxxing), `flag_store` (stored flags and reviews), `config`/`settings_store` (settings), `access`
(who sees what, through `identity.authorize`), `views` (reader input in, checked; shared by API, CLI, web),
`people` (roster and the 5-person bar), `ranges` and `weeks` (dates).
"""
