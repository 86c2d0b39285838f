"""Orientation: career-discovery workshops, referrals, placements, follow-ups."""
