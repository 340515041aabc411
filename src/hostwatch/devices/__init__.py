"""Device registry: identity, enrollment, inventory, tags and health."""
