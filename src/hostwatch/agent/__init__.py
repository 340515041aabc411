"""The endpoint agent: collectors, spool and server client."""
