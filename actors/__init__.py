"""Departments, staff, memberships, actor documents and discovery (WebFinger, NodeInfo)."""
