"""Reporting: live impact projections against the programme's targets."""
