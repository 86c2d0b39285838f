"""Training: modules, sessions, attendance, skill assessments, completion."""
