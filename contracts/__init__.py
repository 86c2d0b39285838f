"""The event catalogue: CloudEvents envelope, event models, topics."""
