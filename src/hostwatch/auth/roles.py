"""Roles and what each may do. Roles are ordered: each holds every right of the ones below."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    analyst = "analyst"
    responder = "responder"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.viewer: 0, Role.analyst: 1, Role.responder: 2, Role.admin: 3}
