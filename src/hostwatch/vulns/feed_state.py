"""What `hostwatch feeds update` remembers of each download location between runs.

The HTTP validators (ETag, Last-Modified) make the next request conditional, so an
unchanged file costs a 304 and nothing else; NVD's mark is the end of the last window of
changes read from its API, where the next run starts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hostwatch.db.base import Base


class FeedSource(Base):
    __tablename__ = "vuln_feed_sources"

    # "osv:PyPI", "nvd", "kev", "debian:DSA", "debian:DLA", "msrc" (the month list),
    # "msrc:2024-Jan" (one month's document)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Validators are sent back only to the URL that gave them.
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text, default=None)
    # The Last-Modified header as the server sent it, for If-Modified-Since.
    last_modified: Mapped[str | None] = mapped_column(String(64), default=None)
    # NVD: changes up to this time are in the knowledge base. An MSRC month: the revision
    # (CurrentReleaseDate) in the knowledge base. (One column for both: no schema change.)
    nvd_mark: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt: Mapped[datetime | None] = mapped_column(default=None)
    last_success: Mapped[datetime | None] = mapped_column(default=None)
    # updated, not modified, failed
    last_status: Mapped[str | None] = mapped_column(String(16), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
