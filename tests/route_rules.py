"""Who may call each route: the rule table of the security route × role matrix
(``tests/test_route_matrix.py``, described in docs/security.md).

EVERY route the app has needs a rule here — HTTP routes per method, WebSocket routes, mounts.
The matrix reads the app's routing table, so a new route without a rule fails the suite with
a message pointing here. Add your route next to similar ones with one of the rules below.

Roles the matrix tries on every route: anonymous, kiosk (its device token), agent (a print
agent's token), tablet (counter 2's rating tablet token), other_clerk (signed on at counter
3), clerk (signed on at counter 2, the ``{n}`` of every path), admin.

Denied roles must get exactly the status the rule says (401: no credential it accepts;
403: signed in, not allowed). Allowed roles must get past the check: any answer but 401/403,
and never a 5xx. State-changing requests are sent with the JSON body ``[]``, which every
handler refuses with 400 *after* checking who asks, so the matrix changes nothing.
"""

from __future__ import annotations

ROLES = ("anonymous", "kiosk", "agent", "tablet", "other_clerk", "clerk", "admin")
_NONE = {"anonymous": 401, "kiosk": 401, "agent": 401, "tablet": 401}

# rule -> {role: expected status when denied}; roles not listed are allowed.
PUBLIC: dict[str, int] = {}
KIOSK = {role: 401 for role in ROLES if role != "kiosk"}  # a session is no device token
TABLET = {role: 401 for role in ROLES if role != "tablet"}  # counter {n}'s tablet only
STAFF = dict(_NONE)
COUNTER = {**_NONE, "other_clerk": 403}  # the clerk signed on at {n}, or an admin
ADMIN = {**_NONE, "other_clerk": 403, "clerk": 403}
NOBODY = {role: 401 for role in ROLES}  # a token none of these roles has (the central's sync token)

# WebSocket routes: who gets the staff view of /ws, who may connect to /ws/printer.
WS_LIVE = "ws-live"  # everyone connects; only clerks and admins get the staff view
WS_AGENT = "ws-agent"  # only the print agent; everyone else is refused at the handshake

# Logging out ends the session the request rides on: the matrix uses a throwaway one.
FRESH_SESSION = {("POST", "/api/logout")}

RULES: dict[tuple[str, str], object] = {
    # --- screens and public reads
    ("GET", "/"): PUBLIC,
    ("GET", "/kiosk"): PUBLIC,
    ("GET", "/display"): PUBLIC,
    ("GET", "/display/counter/{n}"): PUBLIC,
    ("GET", "/counter/{n}"): PUBLIC,
    ("GET", "/rate/{n}"): PUBLIC,
    ("GET", "/t/{token}"): PUBLIC,
    ("GET", "/admin"): PUBLIC,  # the page itself; everything it loads needs an admin
    ("GET", "/book"): PUBLIC,
    ("GET", "/book/{code}"): PUBLIC,
    ("GET", "/appointments"): PUBLIC,
    ("GET", "/admin/whatif"): PUBLIC,
    ("GET", "/admin/dossiers"): PUBLIC,
    ("GET", "/admin/voice"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/audio/clips/{name}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/state"): PUBLIC,  # staff see more (checked in test_security.py)
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/tickets/{token}"): PUBLIC,
    ("GET", "/api/tickets/{token}/dossiers"): PUBLIC,
    ("GET", "/api/procedures"): PUBLIC,
    ("GET", "/api/dossiers/{code}"): PUBLIC,  # by the dossier's code on the receipt
    ("GET", "/api/appointments/services"): PUBLIC,
    ("GET", "/api/appointments/slots"): PUBLIC,
    ("GET", "/api/appointments/{code}"): PUBLIC,
    ("GET", "/api/appointments/{code}/ics"): PUBLIC,
    # --- sign-in
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/logout"): PUBLIC,
    ("GET", "/api/me"): STAFF,
    # --- devices
    ("POST", "/api/tickets"): KIOSK,
    ("GET", "/api/kiosk"): KIOSK,
    ("POST", "/api/appointments/{code}/check-in"): KIOSK,
    ("POST", "/api/dossiers/{code}/check-in"): KIOSK,
    ("POST", "/api/counters/{n}/rating"): TABLET,
    ("GET", "/api/sync/events"): NOBODY,
    # --- citizens' own bookings (by code and the phone's last digits)
    ("POST", "/api/appointments"): PUBLIC,
    ("POST", "/api/appointments/{code}/cancel"): PUBLIC,
    ("POST", "/api/appointments/{code}/move"): PUBLIC,
    # --- a clerk's counter
    **{
        ("POST", f"/api/counters/{{n}}/{action}"): COUNTER
        for action in (
            "open",
            "next",
            "recall",
            "start",
            "done",
            "no-show",
            "transfer",
            "call",
            "pause",
            "resume",
            "close",
        )
    },
    ("GET", "/api/counters/{n}/dossiers"): COUNTER,
    ("POST", "/api/counters/{n}/dossiers"): COUNTER,
    # --- any staff
    ("POST", "/api/tickets/{id}/requeue"): STAFF,
    ("GET", "/api/print-jobs"): STAFF,
    ("POST", "/api/print-jobs/{ticket_id}/reprint"): STAFF,
    ("GET", "/api/printers"): STAFF,
    ("GET", "/api/staff/appointments"): STAFF,
    ("POST", "/api/staff/appointments"): STAFF,
    ("POST", "/api/staff/appointments/slots"): ADMIN,  # closing a slot for everyone
    ("POST", "/api/staff/appointments/{code}/cancel"): STAFF,
    ("GET", "/api/dossiers"): STAFF,
    ("GET", "/api/dossiers/alerts"): STAFF,
    ("POST", "/api/dossiers/ready"): STAFF,
    ("POST", "/api/dossiers/import"): ADMIN,
    ("POST", "/api/dossiers/{code}/ready"): STAFF,
    ("POST", "/api/dossiers/{code}/extend"): STAFF,
    ("POST", "/api/dossiers/{code}/withdraw"): STAFF,
    ("POST", "/api/dossiers/{code}/apology/print"): STAFF,
    ("GET", "/dossiers/{code}/apology"): STAFF,
    # --- administrators
    ("POST", "/api/tickets/{id}/cancel"): ADMIN,
    ("POST", "/api/services/{code}"): ADMIN,
    ("GET", "/api/admin/monitor"): ADMIN,
    ("GET", "/api/admin/config"): ADMIN,
    ("POST", "/api/admin/config"): ADMIN,
    ("POST", "/api/admin/config/text"): ADMIN,
    ("GET", "/api/admin/users"): ADMIN,
    ("POST", "/api/admin/users"): ADMIN,
    ("POST", "/api/admin/users/{name}/disabled"): ADMIN,
    ("POST", "/api/admin/users/{name}/password"): ADMIN,
    ("GET", "/api/admin/tickets"): ADMIN,
    ("GET", "/api/admin/audit"): ADMIN,
    ("GET", "/api/reports"): ADMIN,
    ("GET", "/api/reports/export"): ADMIN,
    ("GET", "/api/reports/appointments"): ADMIN,
    ("GET", "/api/reports/appointments/export"): ADMIN,
    ("GET", "/api/reports/dossiers"): ADMIN,
    ("GET", "/api/reports/dossiers/export"): ADMIN,
    ("GET", "/api/reports/satisfaction"): ADMIN,
    ("GET", "/api/reports/satisfaction/export"): ADMIN,
    ("GET", "/api/whatif/plan"): ADMIN,
    ("POST", "/api/whatif/runs"): ADMIN,
    ("GET", "/api/whatif/runs/{id}"): ADMIN,
    ("GET", "/api/whatif/runs/{id}/export"): ADMIN,
    ("GET", "/api/voice/pack"): ADMIN,
    ("POST", "/api/voice/pack"): ADMIN,
    ("GET", "/api/voice/clips"): ADMIN,
    ("GET", "/api/voice/sample"): ADMIN,
    ("POST", "/api/voice/clips/{name}"): ADMIN,
    ("DELETE", "/api/voice/clips/{name}"): ADMIN,
    # --- WebSockets
    ("WS", "/ws"): WS_LIVE,
    ("WS", "/ws/printer"): WS_AGENT,
}

# Values for path parameters: {n} is the clerk's counter (2); the rest name nothing that
# exists, so an allowed request ends in a 4xx of its own.
PATH_VALUES = {
    "n": "2",
    "id": "999999",
    "ticket_id": "999999",
    "code": "ZZ-NONE",
    "token": "A" * 22,
    "name": "nobody-here",
}
# A real file for routes that serve files.
PATH_OVERRIDES = {"/static": "/static/js/live.js", "/audio/clips/{name}": "/audio/clips/chime.wav"}
