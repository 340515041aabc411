"""The normalized event record and the event store behind it."""
