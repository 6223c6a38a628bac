"""The account, instance and per-department settings routes of the client API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.accounts import credentials, follow_requests, follows, images, instance, lookup, markers, preferences

routes: list[BaseRoute] = [
    Route("/api/v1/accounts/verify_credentials", credentials.verify_credentials, methods=["GET"]),
    Route("/api/v1/accounts/update_credentials", credentials.update_credentials, methods=["PATCH"]),
    Route("/api/v1/accounts/relationships", follows.relationships, methods=["GET"]),
    Route("/api/v1/accounts/lookup", lookup.lookup_account, methods=["GET"]),
    Route("/api/v1/accounts/{id}", lookup.get_account, methods=["GET"]),
    Route("/api/v1/accounts/{id}/followers", follows.followers, methods=["GET"]),
    Route("/api/v1/accounts/{id}/following", follows.following, methods=["GET"]),
    Route("/api/v1/follow_requests", follow_requests.list_requests, methods=["GET"]),
    Route("/api/v1/follow_requests/{id}/authorize", follow_requests.authorize_request, methods=["POST"]),
    Route("/api/v1/follow_requests/{id}/reject", follow_requests.reject_request, methods=["POST"]),
    Route("/api/v1/instance", instance.instance_v1, methods=["GET"]),
    Route("/api/v2/instance", instance.instance_v2, methods=["GET"]),
    Route("/api/v1/custom_emojis", preferences.custom_emojis, methods=["GET"]),
    Route("/api/v1/preferences", preferences.preferences, methods=["GET"]),
    Route("/api/v1/filters", preferences.filters, methods=["GET"]),
    Route("/api/v2/filters", preferences.filters, methods=["GET"]),
    Route("/api/v1/markers", markers.get_markers, methods=["GET"]),
    Route("/api/v1/markers", markers.save_markers, methods=["POST"]),
    Route("/avatars/original/missing.png", images.missing_avatar, methods=["GET"]),
    Route("/headers/original/missing.png", images.missing_header, methods=["GET"]),
]
