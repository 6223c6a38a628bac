"""OAuth 2 for the client API: applications, the staff login and consent pages, codes, tokens.

A token acts for one staff member as one department: the login asks for the staff member's own
password, then which of their departments the application will act as. Registration is open, as on
Mastodon; an application can do nothing until a staff member authorizes it.
"""
