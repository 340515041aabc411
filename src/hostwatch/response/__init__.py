"""Response actions: what users ask devices to do, and what the devices report back."""
