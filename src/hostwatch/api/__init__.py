"""The HTTP API: composes the domain routers into one FastAPI app."""
