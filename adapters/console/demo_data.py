"""The seeded company of ``lodestar demo``: Canvasly, a collaborative design tool."""

from __future__ import annotations

PEOPLE = [
    "Ana Souza",
    "Ben Okafor",
    "Chloé Martin",
    "Dev Patel",
    "Elif Yılmaz",
    "Farah Haddad",
    "Gus Lindqvist",
    "Hana Sato",
    "Ivan Petrov",
    "Jade Wu",
    "Kofi Mensah",
    "Lena Fischer",
    "Marco Rossi",
    "Nia Roberts",
    "Omar Khalil",
    "Priya Nair",
    "Quinn Murphy",
    "Rosa Díaz",
    "Sam Cohen",
    "Tariq Aziz",
    "Uma Iyer",
    "Victor Hugo",
    "Wen Li",
    "Ximena Cruz",
    "Yara Nassar",
    "Zoe Adams",
    "Aiden Brooks",
    "Bea Santos",
    "Caleb Stone",
    "Dara Kim",
    "Eli Novak",
    "Fatima Zahra",
    "Gabe Turner",
    "Hugo Laurent",
]

# (requester index, text). Several say the same thing in other words, as people do.
ITEMS = [
    (0, "Dark mode for the editor, my eyes hurt at night"),
    (1, "Snap shapes to the grid when dragging"),
    (2, "Export frames to PDF with selectable text"),
    (3, "Keyboard shortcut to duplicate a layer"),
    (4, "Comments should notify me by email"),
    (5, "Version history: restore a file to yesterday's state"),
    (6, "SSO login with Okta for our whole company"),
    (7, "Align selected shapes on a grid automatically"),
    (8, "A night theme for the whole app"),
    (9, "Offline mode for flights"),
    (10, "Import Figma files"),
    (11, "Auto-layout for buttons that grow with their label"),
    (12, "Presenter mode that hides the toolbars"),
    (13, "Custom fonts uploaded by the team"),
    (14, "Bulk rename layers"),
    (15, "Export selection as SVG with clean ids"),
    (16, "Let guests comment without an account"),
    (17, "Faster loading of big files, it takes 20 seconds"),
    (18, "Sign in with Google Workspace SAML"),
    (19, "A hotkey for duplicating layers like in Sketch"),
    (20, "Color picker should remember recent colors"),
    (21, "Undo history survives a page reload"),
    (22, "Dark theme please — the white canvas is blinding"),
    (23, "Slack notification when someone mentions me in a comment"),
    (24, "Prototype links between frames"),
    (25, "Measure distances between objects with Alt"),
    (26, "Better zoom with trackpad pinch"),
    (27, "Lock layers so they can't be moved by accident"),
    (28, "Export to PDF for print, with bleed marks"),
    (29, "Templates gallery for common layouts"),
    (30, "Components with variants (hover, pressed, disabled)"),
    (31, "Restore an older version of a file"),
    (32, "Arrange windows side by side to compare designs"),
    (33, "Big files are slow to open"),
    (0, "Pen tool with bezier handles that snap to 45 degrees"),
    (2, "Spell check in text layers"),
    (4, "Share a read-only link that expires"),
    (6, "Audit log of who changed what for admins"),
    (8, "Plugin API for automation"),
    (10, "Tablet support with Apple Pencil pressure"),
    (12, "A minimap for very large canvases"),
    (14, "Copy CSS from a selected layer"),
]

# Votes on the requests everybody talks about (the rest get 0-4 at random).
POPULAR = {1: 9, 3: 14, 7: 12, 2: 6, 18: 10, 6: 8, 17: 7, 23: 5, 9: 4}

# Duplicate pairs the demo's admin merges (the second into the first): item numbers.
MERGES = [(9, 1), (23, 1), (20, 4), (8, 2), (32, 6), (34, 18)]

SHIP = (1, "Dark mode is live for everyone — Settings › Appearance.")
STATUSES = [
    (7, "planned", "Q1: with the new auth service"),
    (3, "in-progress", None),
    (11, "declined", "Figma's format is closed; use SVG import instead"),
]
TAGS = [
    (1, ("ui", "accessibility")),
    (3, ("export",)),
    (7, ("enterprise", "auth")),
    (18, ("performance",)),
    (4, ("shortcuts",)),
]
LINKS = [
    (18, "weekly_active_share"),
    (34, "weekly_active_share"),
    (7, "active_accounts"),
    (17, "editors_per_team"),
    (6, "weekly_active_share"),
]

SCRIPT = """\
:# Monday morning at Canvasly. Everyone uses /feedback; admins keep the board tidy.
:as Kofi
/feedback help
/feedback top 5
/feedback show #1
/feedback who #1
:as Lena
the alignment tools keep fighting me, I want things to line up on a grid
:as Marco
:react 💡 ^
:as Nia
:react 👍 #43
/feedback vote #2
/feedback vote for the pen tool please
/feedback search pdf
/feedback list planned
/feedback list tag:export
:as Omar
/feedback <!channel> the canvas is blinding, @everyone needs a dark theme
/feedback vote #999
/nsm
/nsm why
/nsm tree
/nsm history weekly_active_share 8
/nsm record support_tickets 240
/feedback merge #2 into #7
:as Priya admin
/feedback merge #43 into #2
/feedback show #2
/feedback status #7 in-progress SSO work started
/feedback tag #2 +ui
/feedback ship #2 Snap to grid is here: hold Shift while dragging.
/feedback ship #2
:as Lena
/feedback mute
/feedback list shipped
:as Priya admin
/nsm record support_tickets 240
/nsm alerts
/nsm chart 52
/nsm digest
"""
