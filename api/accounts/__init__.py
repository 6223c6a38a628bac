"""The client API's accounts: the acting department, other accounts, follows, the instance and settings.

A token acts as one department: ``verify_credentials`` is that department, relationships and follow
requests are its own, and markers belong to the staff member within it.
"""
