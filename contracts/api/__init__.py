"""What the services' HTTP routes answer, as pydantic models both sides import: a service's
contract test checks its answers against them, and the gateway validates what it reads, so a
renamed or retyped field fails a test instead of a dashboard."""
