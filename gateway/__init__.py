"""GraphQL gateway composing the services; ingestion endpoint; dashboard page."""
